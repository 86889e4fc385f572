# tests/e2e/lib.sh -- shared helpers for Berth's end-to-end tests with real clients.
# Sourced (not executed) by tests/e2e/*_test.sh, which run as root on Debian 12.
#
# Environment understood by every script:
#   BERTH_BIN=path        berth binary (default: <repo>/build/berth)
#   E2E_REGISTRY=h:port   use this already-running registry instead of starting berth
#                         (loopback only; plain HTTP; it must have delete enabled)
#   E2E_REFERENCE=1       start the reference registry (Debian's docker-registry)
#                         instead of berth: to check the tests themselves
#   E2E_NO_APT=1          never run apt-get; fail if a client is missing
#   E2E_KEEP=1            keep the temp dir (logs, client state) after the run
#
# Set by a test script before e2e_start_registry (not by the caller):
#   E2E_BERTH_EXTRA_REPOS more `repositories:` entries (YAML lines indented by
#                         two spaces) for the berth it starts
#   E2E_BERTH_EXTRA_CONFIG more top-level YAML (e.g. a `security:` section); with
#                         a `security:` section GET /v2/ must answer 401, not 200
# A script may stop its berth (e2e_stop_registry) and start another one on
# the same storage, e.g. with other settings.
#
# Nothing here listens on, or talks to, a non-loopback address.
# With pipefail, never end a pipeline in `grep -q`: it exits at the first
# match and the writer's SIGPIPE then fails the pipeline at random.
set -Eeuo pipefail

E2E_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_NAME=$(basename "$0" .sh)
E2E_STEP="(setup)"
E2E_NSTEP=0
E2E_TMP=""
E2E_SERVER_PID=""     # berth or reference registry we started
E2E_SERVER_LOG=""
E2E_EXIT_HOOKS=()     # functions run at exit, last registered first
REG=""                # host:port of the registry under test

# ---------------------------------------------------------------- reporting
log()  { printf '[%s] %s\n' "$E2E_NAME" "$*" >&2; }
step() { E2E_STEP=$*; E2E_NSTEP=$((E2E_NSTEP + 1)); log "STEP $E2E_NSTEP: $*"; }
pass() { log "  ok: ${1:-$E2E_STEP}"; }
fail() { log "FAIL in step '$E2E_STEP': $*"; exit 1; }
skip() { log "SKIP: $*"; echo "SKIP: $*"; E2E_SKIPPED=1; exit 0; }

# Any command failing outside run() (set -e) still names the step it broke.
_e2e_on_err() {
  local rc=$1 cmd=$2
  # Only report from the main shell: command substitutions inherit the trap.
  [ "$BASHPID" = "$$" ] || return 0
  log "FAIL in step '$E2E_STEP': command exited $rc: $cmd"
}

# run CMD...: run a client command with its output in $E2E_OUT. On failure the
# output's tail and the failing command are printed and the script exits.
run() {
  local rc=0
  log "  + $*"
  "$@" >"$E2E_OUT" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    tail -n 40 "$E2E_OUT" | sed 's/^/    | /' >&2
    fail "exit $rc: $*"
  fi
}

# run_fails CMD...: the command must fail (e.g. reading a deleted manifest).
run_fails() {
  log "  + (must fail) $*"
  if "$@" >"$E2E_OUT" 2>&1; then
    tail -n 20 "$E2E_OUT" | sed 's/^/    | /' >&2
    fail "succeeded but should have failed: $*"
  fi
  log "    failed as expected: $(grep -m1 -iE 'error|fatal|unknown|not found' "$E2E_OUT" || tail -n1 "$E2E_OUT")"
}

# expect_eq WHAT GOT WANT
expect_eq() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; }

# ---------------------------------------------------------------- lifecycle
# e2e_init: temp dir, exit/err traps. Call first.
e2e_init() {
  E2E_TMP=$(mktemp -d "/tmp/berth-e2e-$E2E_NAME.XXXXXX")
  E2E_OUT=$E2E_TMP/last-command.log
  # Image names carry a per-run id, so runs against a shared E2E_REGISTRY do
  # not see each other's tags.
  E2E_RUN=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
  trap '_e2e_on_err $? "$BASH_COMMAND"' ERR
  trap _e2e_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  SECONDS=0
  log "temp dir $E2E_TMP, image names under e2e/$E2E_RUN/"
}

_e2e_exit() {
  local rc=$? i
  trap - ERR
  trap '' PIPE   # clean up even if whoever read our output is gone
  set +e
  for ((i = ${#E2E_EXIT_HOOKS[@]} - 1; i >= 0; i--)); do "${E2E_EXIT_HOOKS[$i]}"; done
  _e2e_stop_server || rc=1
  if [ "$rc" -ne 0 ] && [ -n "$E2E_SERVER_LOG" ] && [ -s "$E2E_SERVER_LOG" ]; then
    log "last lines of the registry log ($E2E_SERVER_LOG):"
    tail -n 20 "$E2E_SERVER_LOG" | cut -c1-400 | sed 's/^/    | /' >&2
  fi
  if [ "${E2E_KEEP:-0}" = 1 ]; then
    log "kept $E2E_TMP"
  elif [ -n "$E2E_TMP" ]; then
    # --one-file-system: never follow a mount a client may have left behind.
    rm -rf --one-file-system "$E2E_TMP"
  fi
  if [ "$rc" -eq 0 ]; then
    [ -n "${E2E_SKIPPED:-}" ] || log "PASSED ($E2E_NSTEP steps, ${SECONDS}s)"
  else
    log "FAILED (exit $rc, ${SECONDS}s)"
  fi
  exit "$rc"
}

e2e_on_exit() { E2E_EXIT_HOOKS+=("$1"); }

# stop_pid PID NAME: SIGTERM, wait up to 10 s, then SIGKILL.
stop_pid() {
  local pid=$1 name=$2 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
  log "$name (pid $pid) ignored SIGTERM for 10 s; SIGKILL"
  kill -KILL "$pid" 2>/dev/null
  return 1
}

# ---------------------------------------------------------------- packages
# e2e_need_pkgs PKG...: apt-get install the missing ones.
e2e_need_pkgs() {
  local missing=() p rc=0 made_policy=0
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "${E2E_NO_APT:-0}" = 1 ] && fail "missing packages (E2E_NO_APT=1): ${missing[*]}"
  [ "$(id -u)" = 0 ] || fail "missing packages ${missing[*]}; run as root to install them"
  # docker.io, containerd and docker-registry start system services from their
  # maintainer scripts (dockerd with a docker0 bridge and iptables rules, a
  # registry on 0.0.0.0:5000). policy-rc.d answering 101 forbids that.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  log "apt-get install ${missing[*]}"
  if [ "$(apt-cache policy "${missing[@]}" 2>/dev/null | grep -c 'Candidate: [0-9]')" -lt ${#missing[@]} ]; then
    apt-get update -qq >&2 || rc=$?
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >"$E2E_TMP/apt.log" 2>&1 || rc=$?
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  if [ $rc -ne 0 ]; then tail -n 20 "$E2E_TMP/apt.log" >&2; fail "apt-get install ${missing[*]} failed"; fi
}

# ---------------------------------------------------------------- clients
# e2e_client_env: private configs for podman/buildah/skopeo and the docker CLI,
# so the host's own settings (mirrors, logins, storage) play no part.
e2e_client_env() {
  local d=$E2E_TMP/clients
  mkdir -p "$d"/{storage,run,libpod-tmp,tmp,cni,docker-config}
  # vfs: plain directories, no overlay mounts needed inside a container.
  cat >"$d/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$d/storage"
runroot = "$d/run"
EOF
  cat >"$d/containers.conf" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "none"
tmp_dir = "$d/libpod-tmp"
image_copy_tmp_dir = "$d/tmp"
[network]
network_config_dir = "$d/cni"
EOF
  # No search registries, no mirrors: every name in the tests is fully qualified.
  echo 'unqualified-search-registries = []' >"$d/registries.conf"
  # podman/buildah refuse a REGISTRY_AUTH_FILE that does not exist.
  echo '{"auths":{}}' >"$d/auth.json"
  echo '{"auths":{}}' >"$d/docker-config/config.json"
  export CONTAINERS_STORAGE_CONF=$d/storage.conf CONTAINERS_CONF=$d/containers.conf
  export CONTAINERS_REGISTRIES_CONF=$d/registries.conf REGISTRY_AUTH_FILE=$d/auth.json
  export DOCKER_CONFIG=$d/docker-config TMPDIR=$d/tmp
  # Note: containers/image's blob-info cache stays in /var/lib/containers/cache
  # (no knob moves it); cross-repo mounts rely on it knowing our earlier pushes.
}

# ---------------------------------------------------------------- registry
_is_loopback() { case "${1%:*}" in 127.*|localhost|'[::1]') return 0 ;; *) return 1 ;; esac; }

# e2e_start_upstream: Debian's docker-registry on a free loopback port, as the
# upstream of a remote repository; sets UP=127.0.0.1:port and UP_PID. A test
# may stop it mid-way with e2e_stop_upstream (also run on exit).
UP="" UP_PID=""
e2e_stop_upstream() {
  [ -n "$UP_PID" ] || return 0
  stop_pid "$UP_PID" docker-registry || true
  wait "$UP_PID" 2>/dev/null || true
  UP_PID=""
}
e2e_start_upstream() {
  E2E_REFERENCE=1 e2e_start_registry
  UP=$REG UP_PID=$E2E_SERVER_PID
  E2E_SERVER_PID=""
  e2e_on_exit e2e_stop_upstream
}

# e2e_start_registry: sets REG=host:port of the registry under test and waits
# until GET /v2/ answers 200.
e2e_start_registry() {
  if [ -n "${E2E_REGISTRY:-}" ]; then
    REG=$E2E_REGISTRY
    log "using already-running registry $REG"
  elif [ "${E2E_REFERENCE:-0}" = 1 ]; then
    _e2e_start_reference
  else
    _e2e_start_berth
  fi
  _is_loopback "$REG" || fail "refusing non-loopback registry address '$REG'"
  local i code="" want=200
  # With security on, /v2/ always challenges a caller without credentials.
  case "${E2E_BERTH_EXTRA_CONFIG:-}" in *security:*) want=401 ;; esac
  for i in $(seq 1 40); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/") || true
    [ "$code" = "$want" ] && return 0
    sleep 0.25
  done
  fail "GET http://$REG/v2/ answered '$code', want $want"
}

# e2e_stop_registry: stops the registry e2e_start_registry started (a server
# that died meanwhile is a failure), so that another one can be started.
e2e_stop_registry() { _e2e_stop_server || fail "the registry did not stop cleanly"; }

_e2e_start_berth() {
  local bin=${BERTH_BIN:-$E2E_SRC/../../build/berth} d=$E2E_TMP/berth i
  [ -x "$bin" ] || fail "berth binary not found or not executable: $bin (set BERTH_BIN)"
  mkdir -p "$d/data"
  cat >"$d/config.yml" <<EOF
server:
  listen: "127.0.0.1:0"
storage:
  root: "$d/data"
repositories:
  - key: docker-local
    type: local
  - key: docker-dev
    type: local
${E2E_BERTH_EXTRA_REPOS:-}
${E2E_BERTH_EXTRA_CONFIG:-}
EOF
  E2E_SERVER_LOG=$d/berth.log
  rm -f "$d/ready"   # a berth started earlier in this script left its address there
  # Appended: a second berth of the same script keeps the first one's log.
  "$bin" --config "$d/config.yml" --ready-file "$d/ready" </dev/null 2>>"$E2E_SERVER_LOG" >&2 &
  E2E_SERVER_PID=$!
  for i in $(seq 1 120); do   # 30 s
    if [ -s "$d/ready" ] && grep -qE '^[^ ]+:[0-9]+$' "$d/ready"; then
      REG=$(head -n1 "$d/ready")
      log "berth (pid $E2E_SERVER_PID) listening on $REG"
      return 0
    fi
    kill -0 "$E2E_SERVER_PID" 2>/dev/null || fail "berth exited before it was ready (see its log below)"
    sleep 0.25
  done
  fail "berth wrote no address to $d/ready within 30 s"
}

# The reference registry needs a fixed port: try random free-looking ones.
_e2e_start_reference() {
  local d=$E2E_TMP/refreg port i j
  mkdir -p "$d/data"
  E2E_SERVER_LOG=$d/registry.log
  for i in $(seq 1 10); do
    port=$((20000 + RANDOM % 20000))
    # A successful connect means the port is taken.
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
    cat >"$d/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $d/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
    # It reads REGISTRY_* variables as config overrides: hide REGISTRY_AUTH_FILE.
    env -u REGISTRY_AUTH_FILE docker-registry serve "$d/config.yml" </dev/null >"$E2E_SERVER_LOG" 2>&1 &
    E2E_SERVER_PID=$!
    for j in $(seq 1 40); do
      if curl -fs -o /dev/null "http://127.0.0.1:$port/v2/"; then
        REG=127.0.0.1:$port
        log "reference registry (pid $E2E_SERVER_PID) on $REG"
        return 0
      fi
      kill -0 "$E2E_SERVER_PID" 2>/dev/null || break
      sleep 0.25
    done
    stop_pid "$E2E_SERVER_PID" docker-registry || true
    wait "$E2E_SERVER_PID" 2>/dev/null || true
    E2E_SERVER_PID=""
  done
  fail "could not start the reference registry (docker-registry)"
}

# Stops the server we started; a server that died during the test is a failure.
_e2e_stop_server() {
  [ -n "$E2E_SERVER_PID" ] || return 0
  local pid=$E2E_SERVER_PID rc=0
  E2E_SERVER_PID=""
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null || rc=$?
    log "ERROR: the registry (pid $pid) died during the test (exit status $rc)"
    return 1
  fi
  stop_pid "$pid" registry || { log "ERROR: the registry did not stop on SIGTERM"; return 1; }
  wait "$pid" 2>/dev/null || rc=$?
  # 143 = killed by the SIGTERM we sent, also a clean stop for our purpose.
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 143 ]; then
    log "ERROR: the registry exited with status $rc after SIGTERM"; return 1
  fi
  return 0
}

# ---------------------------------------------------------------- HTTP
OCI_MT=application/vnd.oci.image.manifest.v1+json
INDEX_MT=application/vnd.oci.image.index.v1+json
V2S2_MT=application/vnd.docker.distribution.manifest.v2+json
LIST_MT=application/vnd.docker.distribution.manifest.list.v2+json
ANY_MT="$OCI_MT, $INDEX_MT, $V2S2_MT, $LIST_MT"

# http_status METHOD PATH [curl args...]: prints the status code only.
http_status() {
  local m=$1 p=$2; shift 2
  # HEAD needs -I: with -X HEAD curl would wait for a body that never comes.
  if [ "$m" = HEAD ]; then set -- -I "$@"; else set -- -X "$m" "$@"; fi
  curl -s -o /dev/null -w '%{http_code}' --max-time 60 "$@" "http://$REG$p"
}
# http_get METHOD PATH OUT [curl args...]: body to OUT, headers to OUT.h;
# prints the status code.
http_get() {
  local m=$1 p=$2 o=$3; shift 3
  if [ "$m" = HEAD ]; then set -- -I "$@"; fi
  curl -s --max-time 60 -o "$o" -D "$o.h" -w '%{http_code}' "$@" "http://$REG$p"
}
# header_in FILE NAME: the value of header NAME in a saved header block.
header_in() {
  tr -d '\r' <"$1" | awk -v h="$2" 'tolower($1) == tolower(h) ":" { sub(/^[^:]*:[ \t]*/, ""); print }'
}
sha256() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }

# check_manifest NAME REF MEDIATYPE DIGEST [curl args...]: HEAD and GET of
# /v2/NAME/manifests/REF answer 200 with this Content-Type and
# Docker-Content-Digest, and the body hashes to DIGEST. The body is left in
# $E2E_TMP/manifest. (Checked on the server, not trusted from a client's exit
# status: buildah 1.28 `manifest push --all` can exit 0 without pushing the list.)
check_manifest() {
  local path=/v2/$1/manifests/$2 m=$E2E_TMP/manifest code
  code=$(http_get HEAD "$path" "$m" -H "Accept: $ANY_MT" "${@:5}")
  [ "$code" = 200 ] || fail "HEAD $path: status $code, want 200"
  expect_eq "HEAD $path Content-Type" "$(header_in "$m.h" Content-Type)" "$3"
  expect_eq "HEAD $path Docker-Content-Digest" "$(header_in "$m.h" Docker-Content-Digest)" "$4"
  code=$(http_get GET "$path" "$m" -H "Accept: $ANY_MT" "${@:5}")
  [ "$code" = 200 ] || fail "GET $path: status $code, want 200: $(head -c 300 "$m")"
  expect_eq "GET $path Content-Type" "$(header_in "$m.h" Content-Type)" "$3"
  expect_eq "GET $path Docker-Content-Digest" "$(header_in "$m.h" Docker-Content-Digest)" "$4"
  expect_eq "sha256 of GET $path body" "$(sha256 "$m")" "$4"
}

# Test image generators (OCI layouts, docker-archive tarballs).
source "$E2E_SRC/images.sh"
