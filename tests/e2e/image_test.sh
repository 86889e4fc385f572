#!/usr/bin/env bash
# End-to-end test of the container image (docker/Dockerfile, docs/container.md):
# make the Debian base images offline (docker/make-base-images.sh), build the
# image, run it on a volume with a private dockerd, push and pull with skopeo
# as a user would, restart the container and pull again; then a config mounted
# at /etc/berth/berth.yml, and a root-owned bind mount. Only loopback
# addresses: the container shares the host's network and listens on
# 127.0.0.1 (the image's 0.0.0.0:5000 is never bound).
#
# Two ways to build the image, the test says which it took and why:
#   default          the binary CI has just built (BERTH_BIN, stripped) goes
#                    into docker/Dockerfile's runtime stage: `buildah bud
#                    --isolation chroot --build-arg BERTH_BINARY_FROM=<an image
#                    holding it>`, which skips the unused compile stage, then
#                    `docker load` into the private dockerd. The runtime stage
#                    (packages, user, config, HEALTHCHECK, volume) is the one
#                    users build. About 1-2 min with the base images cached.
#   E2E_IMAGE_FULL=1 `docker build` exactly as users run it: Berth compiles
#                    inside the image, 17-25 min on 2 cores (too long for the
#                    suite's budget, hence not the default).
# Both check what .dockerignore lets into a user's build context.
#
# A step that cannot run on this machine says which and why ("STEP SKIPPED")
# and only that step is left out. Without base images or dockerd nothing can
# run, and the whole test is skipped.
#
# Environment (besides lib.sh's):
#   E2E_BASE_IMAGE_DIR   where make-base-images.sh keeps its tarballs between
#                        runs (default /var/cache/berth/debian-base); the first
#                        run makes them from the Debian mirror (about 5 min)
#   E2E_IMAGE_FULL=1     compile Berth inside the image (see above)
#   E2E_IMAGE_JOBS       that compile's jobs (default 2)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init
FULL=${E2E_IMAGE_FULL:-0}
if [ "$FULL" = 1 ]; then
  e2e_need_pkgs docker.io containerd skopeo curl jq ca-certificates
else
  e2e_need_pkgs docker.io containerd skopeo buildah podman binutils curl jq ca-certificates
fi
e2e_client_env
source "$(dirname "${BASH_SOURCE[0]}")/dockerd.sh"

ROOT=$(cd "$E2E_SRC/../.." && pwd)
IMG=berth-e2e:$E2E_RUN
NAME=berth-e2e-$E2E_RUN
SKIPPED_STEPS=()
TIMINGS=()
skip_step() { log "STEP SKIPPED: $*"; SKIPPED_STEPS+=("$E2E_STEP: $*"); }
timed() { TIMINGS+=("$1: $2 s"); log "  $1 took $2 s"; }

# A loopback port nothing answers on (the container binds it itself).
free_port() {
  local p i
  for i in $(seq 1 50); do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  fail "no free loopback port found"
}
# wait_status URL CODE [SECONDS]: until GET URL answers CODE.
wait_status() {
  local i code=""
  for i in $(seq 1 $((${3:-60} * 4))); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1") || true
    [ "$code" = "$2" ] && return 0
    sleep 0.25
  done
  return 1
}
# wait_health CONTAINER STATE: docker's health status, at most 90 s.
wait_health() {
  local i s=""
  for i in $(seq 1 360); do
    s=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1" 2>/dev/null) || true
    [ "$s" = "$2" ] && return 0
    sleep 0.25
  done
  docker inspect -f '{{json .State.Health}}' "$1" >&2 || true
  fail "container $1: health '$s', want '$2'"
}
container_logs() { docker logs "$1" 2>&1 | tail -n "${2:-20}" | cut -c1-300 | sed 's/^/    | /' >&2; }
cleanup_containers() {
  docker ps -aq --filter "name=$NAME" | xargs -r docker rm -f >/dev/null 2>&1
  docker volume ls -q --filter "name=$NAME" | xargs -r docker volume rm >/dev/null 2>&1
  return 0
}

# ---------------------------------------------------------------- engine, base images
if [ "$FULL" = 1 ]; then
  log "build path: the full one (E2E_IMAGE_FULL=1): docker build compiles Berth inside the image"
else
  BIN=${BERTH_BIN:-$ROOT/build/berth}
  [ -x "$BIN" ] || fail "berth binary not found or not executable: $BIN (set BERTH_BIN)"
  log "build path: the binary CI built ($BIN) in docker/Dockerfile's runtime stage, built by buildah;" \
      "compiling it inside the image takes 17-25 min on 2 cores, beyond the suite's budget (E2E_IMAGE_FULL=1 does that)"
fi

step "start a private dockerd"
if dockerd_overlay_works; then
  DOCKERD_STORAGE_DRIVER=overlay2
else
  DOCKERD_STORAGE_DRIVER=vfs   # every layer a full copy: the build takes longer
fi
start_dockerd
e2e_on_exit cleanup_containers
pass "dockerd $(docker version --format '{{.Server.Version}}'), storage driver $DOCKERD_STORAGE_DRIVER"

# The full build runs in dockerd; the default one in buildah's storage
# (vfs, under the temp dir: e2e_client_env), which podman imports into.
IMPORT=docker
[ "$FULL" = 1 ] || IMPORT=podman
step "debian:bookworm and debian:bookworm-slim from the Debian mirror (docker/make-base-images.sh --import $IMPORT)"
t0=$SECONDS
if ! "$ROOT/docker/make-base-images.sh" --dir "${E2E_BASE_IMAGE_DIR:-/var/cache/berth/debian-base}" --import "$IMPORT" \
     >"$E2E_TMP/base-images.log" 2>&1; then
  tail -n 15 "$E2E_TMP/base-images.log" | sed 's/^/    | /' >&2
  # Every later step needs the base images.
  skip "the base images cannot be made here: $(grep -m1 'ERROR' "$E2E_TMP/base-images.log" | cut -c1-200)"
fi
timed "base images" $((SECONDS - t0))
if grep -q 'mmdebstrap bookworm' "$E2E_TMP/base-images.log"; then
  pass "made from the mirror: $(grep -oE '[^/ ]+\.tar: [0-9]+ MB in [0-9]+ s' "$E2E_TMP/base-images.log" | tr '\n' ' ')"
else
  pass "the tarballs of an earlier run, imported"
fi

# ---------------------------------------------------------------- build context
step "the build context of a user's docker build: .dockerignore keeps build output and data/ out"
# The classic builder reads .dockerignore as a user's build does; this image
# holds exactly the context it was sent.
run env DOCKER_BUILDKIT=0 docker build -q -t "berth-e2e-context:$E2E_RUN" -f - "$ROOT" <<<$'FROM scratch\nCOPY . /context/'
run docker create --name "$NAME-context" "berth-e2e-context:$E2E_RUN" /none
docker export "$NAME-context" | tar -t | sed -n 's|^context/||p' | grep -v '^$' | sort >"$E2E_TMP/context.list"
docker rm "$NAME-context" >/dev/null
docker rmi "berth-e2e-context:$E2E_RUN" >/dev/null
top=$(cut -d/ -f1 "$E2E_TMP/context.list" | sort -u | tr '\n' ' ')
if grep -E '^(build|build-[^/]*|data|\.git)(/|$)|(^|/)CMakeCache\.txt$' "$E2E_TMP/context.list" | head -n 5 >&2; then
  fail "the build context holds build output, data or .git (above); its top level: $top"
fi
grep -qx 'CMakeLists.txt' "$E2E_TMP/context.list" || fail "no CMakeLists.txt in the build context: $top"
grep -qx 'LICENSE' "$E2E_TMP/context.list" || fail "no LICENSE in the build context: $top"
pass "$(wc -l <"$E2E_TMP/context.list") files: $top"

# ---------------------------------------------------------------- build
if [ "$FULL" = 1 ]; then
  step "docker build --network host -f docker/Dockerfile (compiles Berth, -j${E2E_IMAGE_JOBS:-2})"
  t0=$SECONDS
  # The classic builder: dockerd 20.10 here has no buildx. The Dockerfile needs
  # nothing BuildKit alone offers.
  run env DOCKER_BUILDKIT=0 docker build --network host --build-arg "BUILD_JOBS=${E2E_IMAGE_JOBS:-2}" \
    -f "$ROOT/docker/Dockerfile" -t "$IMG" "$ROOT"
  timed "image build" $((SECONDS - t0))
  # The sources are about 1 MB; a host build/ directory alone is hundreds.
  ctx=$(grep -m1 -oE 'Sending build context to Docker daemon +[0-9.]+[kMG]?B' "$E2E_OUT" | awk '{print $NF}')
  case $ctx in
    *kB) ;;
    *MB) [ "${ctx%%.*}" -lt 20 ] || fail "build context $ctx: .dockerignore lets build output or data in" ;;
    *) fail "build context '${ctx:-unknown}': .dockerignore lets build output or data in" ;;
  esac
  pass "build context $ctx"
else
  step "the binary CI built, stripped, in an image at /build/berth (BERTH_BINARY_FROM)"
  mkdir -p "$E2E_TMP/binary"
  strip -o "$E2E_TMP/binary/berth" "$BIN"
  BINIMG=localhost/berth-e2e-binary:$E2E_RUN
  ctr=$(buildah from scratch)
  run buildah copy --chmod 755 "$ctr" "$E2E_TMP/binary/berth" /build/berth
  run buildah commit --rm "$ctr" "$BINIMG"
  pass "$BINIMG: $(( $(stat -c %s "$E2E_TMP/binary/berth") / 1000000 )) MB, from $BIN"

  step "buildah bud --isolation chroot --build-arg BERTH_BINARY_FROM=$BINIMG -f docker/Dockerfile"
  t0=$SECONDS
  # --format docker: OCI image configs have no HEALTHCHECK.
  run buildah bud --isolation chroot --network host --format docker --build-arg "BERTH_BINARY_FROM=$BINIMG" \
    -f "$ROOT/docker/Dockerfile" -t "$IMG" "$ROOT"
  # Only the runtime stage ran: the compile stage would take 17-25 min.
  if grep -E 'cmake|AS compile' "$E2E_OUT" | head -n 3 >&2; then fail "buildah ran the compile stage (above)"; fi
  grep -E 'STEP [0-9]+/[0-9]+: FROM' "$E2E_OUT" | sed 's/^/    | /' >&2 || true
  run buildah push "$IMG" "docker-archive:$E2E_TMP/image.tar:$IMG"
  run docker load -i "$E2E_TMP/image.tar"
  rm -f "$E2E_TMP/image.tar"
  timed "image build" $((SECONDS - t0))
  pass "built by buildah, loaded into dockerd"
fi

step "the image: uid 999, HEALTHCHECK, BERTH_CONFIG only, the volume"
inspect() { docker image inspect -f "$1" "$IMG"; }
expect_eq "User" "$(inspect '{{.Config.User}}')" "999:999"
expect_eq "Healthcheck" "$(inspect '{{join .Config.Healthcheck.Test " "}}')" "CMD /usr/local/bin/berth healthcheck"
# The rest of the runtime stage's settings: whichever builder made the image,
# they must be the Dockerfile's.
expect_eq "Healthcheck timing" "$(inspect '{{.Config.Healthcheck.Interval}} {{.Config.Healthcheck.Timeout}} {{.Config.Healthcheck.StartPeriod}} {{.Config.Healthcheck.Retries}}')" "30s 10s 10s 3"
expect_eq "Entrypoint" "$(inspect '{{json .Config.Entrypoint}}')" '["/usr/local/bin/berth"]'
expect_eq "WorkingDir" "$(inspect '{{.Config.WorkingDir}}')" /var/lib/berth
expect_eq "StopSignal" "$(inspect '{{.Config.StopSignal}}')" SIGTERM
expect_eq "ExposedPorts" "$(inspect '{{json .Config.ExposedPorts}}')" '{"5000/tcp":{}}'
env_vars=$(inspect '{{range .Config.Env}}{{println .}}{{end}}')
grep -qx 'BERTH_CONFIG=/etc/berth/berth.yml' <<<"$env_vars" || fail "BERTH_CONFIG not set: $env_vars"
if grep -E '^BERTH_(LISTEN|STORAGE_ROOT)=' <<<"$env_vars"; then fail "the image overrides the config: $env_vars"; fi
inspect '{{json .Config.Volumes}}' | grep -qF '"/var/lib/berth"' || fail "no volume /var/lib/berth"
run docker run --rm --network none --entrypoint id "$IMG" -u
expect_eq "uid in the container" "$(cat "$E2E_OUT")" 999
# Every library the binary needs is in the image (the default path brings a
# binary built outside it).
run docker run --rm --network none --entrypoint ldd "$IMG" /usr/local/bin/berth
if grep 'not found' "$E2E_OUT" >&2; then fail "libraries missing in the image (above)"; fi
run docker run --rm --network none --entrypoint ls "$IMG" -A /var/lib/berth
expect_eq "files in the image's /var/lib/berth" "$(cat "$E2E_OUT")" ""
SIZE_MB=$(( $(inspect '{{.Size}}') / 1000000 ))
pass "size ${SIZE_MB} MB"

# ---------------------------------------------------------------- the README command
step "docker run -d -p 127.0.0.1:PORT:5000 -v VOLUME:/var/lib/berth (the documented command)"
P=$(free_port)
published=""
if out=$(docker run -d --name "$NAME-published" -p "127.0.0.1:$P:5000" -v "$NAME-pub:/var/lib/berth" "$IMG" 2>&1); then
  # Without a bridge network dockerd starts the container unreachable, with no port bound.
  published=$(docker inspect -f '{{range $p, $b := .NetworkSettings.Ports}}{{$p}}{{end}}' "$NAME-published")
  out="the container started, with no port bound"
fi
if [ -n "$published" ]; then
  wait_status "http://127.0.0.1:$P/health/ready" 200 60 || { container_logs "$NAME-published"; fail "nothing on 127.0.0.1:$P"; }
  pass "registry on 127.0.0.1:$P through the published port"
else
  # dockerd.sh runs dockerd without a bridge, iptables or userland proxy.
  skip_step "publishing a port needs a bridge network, and the private dockerd has none on this machine ($(tr '\n' ' ' <<<"$out" | cut -c1-160)); the same image runs with --network host below"
fi
docker rm -f "$NAME-published" >/dev/null 2>&1 || true

# ---------------------------------------------------------------- run on a volume
step "docker run -d --network host --read-only -v VOLUME:/var/lib/berth -e BERTH_LISTEN=127.0.0.1:PORT"
PORT=$(free_port)
REG=127.0.0.1:$PORT
# The image's own config (security on, root on the volume); only the address
# is moved to loopback. A short health interval, so the HEALTHCHECK is seen.
run docker run -d --name "$NAME" --network host --read-only -v "$NAME-data:/var/lib/berth" \
  -e "BERTH_LISTEN=$REG" --health-interval 1s --health-start-period 30s "$IMG"
wait_status "http://$REG/health/ready" 200 60 || { container_logs "$NAME"; fail "no 200 from /health/ready"; }
wait_health "$NAME" healthy
pass "ready and healthy on $REG"

step "the initial admin password: in docker logs and on the volume, the same"
PW_LOG=$(docker logs "$NAME" 2>&1 | grep -oE "initial administrator 'admin' with password [A-Za-z0-9]+" | awk '{print $NF}' | head -n1)
[ -n "$PW_LOG" ] || { container_logs "$NAME"; fail "no initial admin password in docker logs"; }
run docker exec "$NAME" cat /var/lib/berth/data/initial-admin-password
PW=$(tr -d '\n' <"$E2E_OUT")
expect_eq "password file vs log" "$PW" "$PW_LOG"
run docker exec "$NAME" stat -c '%u:%g' /var/lib/berth/data/metadata.db /var/lib/berth/data/initial-admin-password
expect_eq "owner of the files on the volume" "$(sort -u "$E2E_OUT")" "999:999"
pass

step "skopeo: an anonymous push is refused, the admin's is accepted"
LAY=$E2E_TMP/image-oci
DIGEST=$(e2e_oci_image "$LAY" v1 amd64 "" "$(e2e_layer 1024)" "$(e2e_layer 64)")
DEST=docker://$REG/docker-local/e2e/$E2E_RUN/app:v1
run_fails skopeo copy --dest-tls-verify=false "oci:$LAY:v1" "$DEST"
run skopeo copy --dest-tls-verify=false --dest-creds "admin:$PW" "oci:$LAY:v1" "$DEST"
pass "pushed $DIGEST"

pull_and_compare() {
  local out=$E2E_TMP/pulled-$1
  rm -rf "$out"
  run skopeo inspect --tls-verify=false --raw "$DEST"
  expect_eq "manifest digest" "$(sha256 "$E2E_OUT")" "$DIGEST"
  run skopeo copy --src-tls-verify=false "docker://$REG/docker-local/e2e/$E2E_RUN/app@$DIGEST" "oci:$out:v1"
  expect_eq "pulled manifest digest" "$(jq -r '.manifests[0].digest' "$out/index.json")" "$DIGEST"
}

step "skopeo: pull anonymously, by tag and by digest"
pull_and_compare 1
pass

step "docker restart: the data, the password and the health survive"
t0=$SECONDS
run docker restart -t 10 "$NAME"
timed "docker restart" $((SECONDS - t0))
wait_status "http://$REG/health/ready" 200 60 || { container_logs "$NAME"; fail "not ready after the restart"; }
pull_and_compare 2
run docker exec "$NAME" cat /var/lib/berth/data/initial-admin-password
expect_eq "password after the restart" "$(tr -d '\n' <"$E2E_OUT")" "$PW"
n=$(docker logs "$NAME" 2>&1 | grep -c "created the initial administrator" || true)
expect_eq "initial administrators created" "$n" 1
wait_health "$NAME" healthy
pass

step "docker stop: SIGTERM, exit 0"
t0=$(date +%s%N)
run docker stop -t 10 "$NAME"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "exit code" "$(docker inspect -f '{{.State.ExitCode}}' "$NAME")" 0
TIMINGS+=("docker stop: $ms ms")
pass "stopped in $ms ms"

# ---------------------------------------------------------------- a mounted config
step "a config mounted at /etc/berth/berth.yml: its listen and storage.root hold, the HEALTHCHECK reads it"
P2=$(free_port)
cat >"$E2E_TMP/mounted.yml" <<EOF
server: {listen: "127.0.0.1:$P2"}
storage: {root: /var/lib/berth/elsewhere}
log: {format: text}
repositories: [{key: docker-local, type: local}]
EOF
chmod 644 "$E2E_TMP/mounted.yml"
run docker run -d --name "$NAME-mounted" --network host -v "$E2E_TMP/mounted.yml:/etc/berth/berth.yml:ro" \
  -v "$NAME-mounted:/var/lib/berth" --health-interval 1s "$IMG"
wait_status "http://127.0.0.1:$P2/v2/" 200 60 || { container_logs "$NAME-mounted"; fail "nothing on the mounted config's address"; }
run docker exec "$NAME-mounted" stat -c %U /var/lib/berth/elsewhere/metadata.db
expect_eq "owner of the mounted config's storage" "$(cat "$E2E_OUT")" berth
wait_health "$NAME-mounted" healthy
run docker rm -f "$NAME-mounted"
pass

# ---------------------------------------------------------------- a root-owned bind mount
step "a root-owned bind mount: a clear error at start; after chown 999:999 it starts"
HOSTDIR=$E2E_TMP/host-volume
mkdir -p "$HOSTDIR" && chmod 755 "$HOSTDIR"
P3=$(free_port)
run docker run --name "$NAME-bind" --network host -v "$HOSTDIR:/var/lib/berth" -e "BERTH_LISTEN=127.0.0.1:$P3" -d "$IMG"
for i in $(seq 1 120); do
  [ "$(docker inspect -f '{{.State.Running}}' "$NAME-bind")" = false ] && break
  sleep 0.25
done
expect_eq "exit code with a root-owned bind mount" "$(docker inspect -f '{{.State.ExitCode}}' "$NAME-bind")" 1
docker logs "$NAME-bind" >"$E2E_TMP/bind.log" 2>&1
grep -q 'chown -R 999:999' "$E2E_TMP/bind.log" || { sed 's/^/    | /' "$E2E_TMP/bind.log" >&2; fail "no advice to chown 999:999"; }
log "  the error: $(grep -m1 -oE "storage root[^\"]*" "$E2E_TMP/bind.log" | cut -c1-300)"
docker rm -f "$NAME-bind" >/dev/null
chown 999:999 "$HOSTDIR"
run docker run -d --name "$NAME-bind" --network host -v "$HOSTDIR:/var/lib/berth" -e "BERTH_LISTEN=127.0.0.1:$P3" "$IMG"
wait_status "http://127.0.0.1:$P3/health/ready" 200 60 || { container_logs "$NAME-bind"; fail "not ready after chown"; }
[ -s "$HOSTDIR/data/initial-admin-password" ] || fail "no password file in the bind mount"
run docker rm -f "$NAME-bind"
pass

log "timings: $(IFS=';'; echo "${TIMINGS[*]}"); image ${SIZE_MB} MB"
if [ ${#SKIPPED_STEPS[@]} -gt 0 ]; then
  for s in "${SKIPPED_STEPS[@]}"; do log "skipped step: $s"; done
fi
