#!/usr/bin/env bash
# Berth vs registry:2 benchmark: builds Berth and bench/berth_bench (Release),
# measures the machine's limits, runs every scenario against registry:2 and then
# against Berth (never both at once), and writes docs/benchmarks.md.
#
#   bench/run.sh                 full run (1 GiB blobs; about 18 minutes)
#   BENCH_QUICK=1 bench/run.sh   quick run (64 MiB blobs, fewer requests; about 4 minutes)
#   bench/run.sh GROUP...        only these groups of scenarios, against both servers:
#       suite      push, pull, storm, request loads, listing (and the machine's limits)
#       idle       10,000 idle keep-alive connections, then the manifest GET load
#       slow       1,000 trickling headers + 1,000 trickling upload bodies, then the load
#       push-load  the manifest GET load while 4 clients each push a 1 GiB blob
#       remote     pull-through caches: Berth's remote repository vs registry:2's proxy mode, both
#                  in front of one loopback docker-registry (bench/run_remote.sh; about 3 minutes)
#       virtual    virtual repositories: Berth alone, each request through a virtual key beside the same
#                  request on its member (bench/run_virtual.sh; about 3 minutes)
#       lifecycle  issue 10: GC of 100,000 blobs (10% garbage) by Berth online and offline beside
#                  registry:2's garbage-collect, the small-image storm with a GC loop beside it, and
#                  promotion of a 50-layer image (bench/run_lifecycle.sh; about 13 minutes, most
#                  of it writing, importing and removing the 100,000-blob store)
#       crowd      idle slow push-load
#     (no GROUP: all of them). A partial run writes $BUILD_DIR/benchmarks-partial.md unless
#     BENCH_OUT says otherwise, so that docs/benchmarks.md keeps the full run.
#
# Environment (all optional):
#   BENCH_QUICK=1            reduced sizes
#   BENCH_SERVERS="registry berth"   which servers to run (either or both)
#   BENCH_BUILD_DIR=build/release    CMake build directory (Release)
#   BENCH_BERTH_BIN=PATH     use this berth binary instead of building one
#   BENCH_TOOL_BIN=PATH      use this berth_bench binary instead of building one
#   BENCH_OUT=docs/benchmarks.md     report path
#   BENCH_RESULTS_DIR=DIR    also copy the raw JSON results there
#   BENCH_TMP=DIR            parent of the scratch directory (default: /tmp); storage for
#                            both servers and the dd test file live there
#   BENCH_BLOB_SIZE, BENCH_CHUNK, BENCH_SMALL_IMAGES, BENCH_SMALL_WORKERS, BENCH_CONNS,
#   BENCH_LOAD_SECONDS, BENCH_TAGS, BENCH_REPOS, BENCH_LIST_ITERATIONS, BENCH_DD_MIB,
#   BENCH_LOOPBACK_SIZE      override single sizes
#   BENCH_IDLE_CONNS, BENCH_SLOW_HEADERS, BENCH_SLOW_BODIES, BENCH_PUSHES, BENCH_PUSH_SIZE,
#   BENCH_PER_SOURCE         crowd sizes, pushes beside the load, crowd connections per source address
#   BENCH_CROWD_ROUNDS       idle, slow, push-load: rounds of (load alone, load beside the crowd or pushes), the median reported (3; quick 1)
#   BENCH_REMOTE_BLOB, BENCH_REMOTE_SHARED_BLOB, BENCH_REMOTE_REPEAT, BENCH_REMOTE_LOAD_SECONDS
#                            remote suite: cold/warm blob (1 GiB), the blob 16 clients pull at once
#                            (256 MiB), rounds of each measurement (3), manifest load seconds (5)
#   BENCH_VIRTUAL_REPEAT, BENCH_VIRTUAL_LOAD_SECONDS, BENCH_VIRTUAL_LIST_ITERATIONS
#                            virtual suite: rounds (3), seconds of each request load (5), full tags lists
#                            per measurement (50)
#   BENCH_LC_IMAGES, BENCH_LC_LAYERS, BENCH_LC_GARBAGE, BENCH_LC_BLOB_SIZE, BENCH_LC_ROUNDS
#                            lifecycle suite: the GC store's images (4,500) of layers (18) + config +
#                            manifest, garbage blobs (10,000), blob size (1KiB); storm rounds (3)
#
# Only loopback addresses are used; every scenario is bounded in count and time
# (berth_bench's own watchdog plus `timeout`).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

GROUPS_RUN=()
for g in "$@"; do
  case $g in
    suite | idle | slow | push-load | remote | virtual | lifecycle) GROUPS_RUN+=("$g") ;;
    crowd) GROUPS_RUN+=(idle slow push-load) ;;
    all) GROUPS_RUN+=(suite idle slow push-load remote virtual lifecycle) ;;
    -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown group $g (suite idle slow push-load remote virtual lifecycle crowd all)" ;;
  esac
done
PARTIAL=1
if [ ${#GROUPS_RUN[@]} = 0 ]; then GROUPS_RUN=(suite idle slow push-load remote virtual lifecycle); PARTIAL=0; fi
[[ " ${GROUPS_RUN[*]} " == *" suite "* ]] && PARTIAL=0
runs() { [[ " ${GROUPS_RUN[*]} " == *" $1 "* ]]; }

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
  d_blob=64MiB d_chunk=16MiB d_small=100 d_secs=3 d_tags=1000 d_repos=1200 d_iter=10 d_loop=1GiB
  d_idle=2000 d_slow=200 d_crounds=1 d_rblob=64MiB d_rshared=32MiB d_rrep=2 d_rsecs=2
else
  d_blob=1GiB d_chunk=64MiB d_small=500 d_secs=10 d_tags=10000 d_repos=2000 d_iter=20 d_loop=4GiB
  d_idle=10000 d_slow=1000 d_crounds=3 d_rblob=1GiB d_rshared=256MiB d_rrep=3 d_rsecs=5
fi
BLOB=${BENCH_BLOB_SIZE:-$d_blob}
CHUNK=${BENCH_CHUNK:-$d_chunk}
SMALL=${BENCH_SMALL_IMAGES:-$d_small}
SMALL_WORKERS=${BENCH_SMALL_WORKERS:-16}
CONNS=${BENCH_CONNS:-64}
LOAD_SECS=${BENCH_LOAD_SECONDS:-$d_secs}
TAGS=${BENCH_TAGS:-$d_tags}
REPOS=${BENCH_REPOS:-$d_repos}
ITER=${BENCH_LIST_ITERATIONS:-$d_iter}
DD_MIB=${BENCH_DD_MIB:-1024}
LOOP=${BENCH_LOOPBACK_SIZE:-$d_loop}
IDLE_CONNS=${BENCH_IDLE_CONNS:-$d_idle}
SLOW_HEADERS=${BENCH_SLOW_HEADERS:-$d_slow}
SLOW_BODIES=${BENCH_SLOW_BODIES:-$d_slow}
PUSHES=${BENCH_PUSHES:-4}
PUSH_SIZE=${BENCH_PUSH_SIZE:-$BLOB}
PER_SOURCE=${BENCH_PER_SOURCE:-250}
CROWD_ROUNDS=${BENCH_CROWD_ROUNDS:-$d_crounds}
REMOTE_BLOB=${BENCH_REMOTE_BLOB:-$d_rblob}
REMOTE_SHARED=${BENCH_REMOTE_SHARED_BLOB:-$d_rshared}
REMOTE_REPEAT=${BENCH_REMOTE_REPEAT:-$d_rrep}
REMOTE_SECS=${BENCH_REMOTE_LOAD_SECONDS:-$d_rsecs}
SERVERS=${BENCH_SERVERS:-"registry berth"}
BUILD_DIR=${BENCH_BUILD_DIR:-build/release}
if [ $PARTIAL = 1 ]; then OUT=${BENCH_OUT:-$BUILD_DIR/benchmarks-partial.md}; else OUT=${BENCH_OUT:-docs/benchmarks.md}; fi
MAXS=300  # per-scenario watchdog, seconds

# ------------------------------------------------------------------ prerequisites

install_pkgs() {
  [ "$(id -u)" = 0 ] || die "missing packages ($*) and not root: apt-get install $*"
  local guard=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    # Keep packaged services (docker-registry) from starting on install.
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    guard=1
  fi
  log "installing: $*"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
  local rc=$?
  [ $guard = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ $rc = 0 ] || die "apt-get install $* failed"
}

need=()
command -v jq >/dev/null || need+=(jq)
command -v openssl >/dev/null || need+=(openssl)
command -v cmake >/dev/null || need+=(cmake)
command -v g++ >/dev/null || need+=(g++)
[ -e /usr/include/boost/beast.hpp ] || need+=(libboost-dev)
[ -e /usr/include/openssl/evp.h ] || need+=(libssl-dev)
[ -e /usr/include/nlohmann/json.hpp ] || need+=(nlohmann-json3-dev)
case " $SERVERS " in *" registry "*) command -v docker-registry >/dev/null || need+=(docker-registry) ;; esac
[ ${#need[@]} = 0 ] || install_pkgs "${need[@]}"

# ------------------------------------------------------------------ build

JOBS=$(nproc)
want_berth=0
[[ " $SERVERS " == *" berth "* ]] && want_berth=1
if [ -z "${BENCH_TOOL_BIN:-}" ] || { [ $want_berth = 1 ] && [ -z "${BENCH_BERTH_BIN:-}" ]; }; then
  log "configuring $BUILD_DIR (Release)"
  mkdir -p "$BUILD_DIR"
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DBERTH_TESTS=OFF -DBERTH_WERROR=OFF >"$BUILD_DIR/configure.log" 2>&1 ||
    log "cmake configure failed (see $BUILD_DIR/configure.log)"
fi

BERTH=${BENCH_BERTH_BIN:-}
if [ -z "$BERTH" ] && [ $want_berth = 1 ]; then
  log "building berth"
  if cmake --build "$BUILD_DIR" --target berth -j"$JOBS" >&2; then
    BERTH=$BUILD_DIR/berth
  else
    log "berth did not build: running registry:2 only"
  fi
fi
[ -z "$BERTH" ] || [ -x "$BERTH" ] || die "no berth binary at $BERTH"

BB=${BENCH_TOOL_BIN:-}
if [ -z "$BB" ]; then
  log "building berth_bench"
  if cmake --build "$BUILD_DIR" --target berth_bench -j"$JOBS" >&2 && [ -x "$BUILD_DIR/bench/berth_bench" ]; then
    BB=$BUILD_DIR/bench/berth_bench
  else
    # The server's build may be in flux; the tool has no dependency on it.
    log "CMake build of berth_bench failed; building it standalone"
    mkdir -p "$BUILD_DIR/bench"
    # The same sources as bench/CMakeLists.txt.
    g++ -std=c++20 -O2 -DNDEBUG -DBOOST_ASIO_NO_DEPRECATED \
      bench/main.cc bench/args.cc bench/common.cc bench/data.cc bench/net.cc bench/measure.cc \
      bench/registry_api.cc bench/workers.cc bench/scenarios_blobs.cc bench/scenarios_requests.cc \
      bench/scenarios_listing.cc bench/scenarios_crowd.cc bench/scenarios_lifecycle.cc bench/scenarios_gc.cc bench/crowd.cc bench/crowd_peers.cc \
      bench/setup_commands.cc bench/report.cc bench/report_crowd.cc bench/report_remote.cc bench/report_virtual.cc bench/report_lifecycle.cc \
      -o "$BUILD_DIR/bench/berth_bench" -lcrypto -pthread || die "cannot build berth_bench"
    BB=$BUILD_DIR/bench/berth_bench
  fi
fi
[ -x "$BB" ] || die "no berth_bench at $BB"
BB=$(realpath "$BB")
[ -z "$BERTH" ] || BERTH=$(realpath "$BERTH")

# ------------------------------------------------------------------ scratch and cleanup

WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/berth-bench.XXXXXX")
RES=$WORK/results
mkdir -p "$RES"
SERVER_PID=
UPSTREAM_PID=  # the remote suite's upstream registry
# stop_pid PID: TERM, then KILL after 10 s (only processes this script started).
stop_pid() {
  if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
  fi
}
stop_server() {
  stop_pid "$SERVER_PID"
  SERVER_PID=
}
cleanup() {
  stop_server
  stop_pid "$UPSTREAM_PID"
  if [ -n "${BENCH_RESULTS_DIR:-}" ]; then
    mkdir -p "$BENCH_RESULTS_DIR" && cp -r "$RES/." "$BENCH_RESULTS_DIR/" && log "raw results copied to $BENCH_RESULTS_DIR"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

T_START=$(date +%s)

# ------------------------------------------------------------------ machine limits

SHA_MIBS=0 DD_MIBS=0 LOOP_MIBS=0 DD_LINE="not measured (partial run)"
if runs suite; then
  log "measuring machine limits"
  SHA_KBS=$(openssl speed -evp sha256 -seconds 3 2>/dev/null | awk '/^(sha256|SHA256|SHA2-256)/ {v=$NF} END {sub(/k$/,"",v); print v}')
  SHA_MIBS=$(awk -v k="${SHA_KBS:-0}" 'BEGIN {printf "%.1f", k*1000/1048576}')
  DD_LINE=$(dd if=/dev/zero of="$WORK/dd.bin" bs=1M count="$DD_MIB" conv=fsync 2>&1 | tail -1)
  rm -f "$WORK/dd.bin"
  DD_MIBS=$(awk -v l="$DD_LINE" 'BEGIN {n=split(l,a," "); b=a[1]; for(i=1;i<=n;i++) if (a[i] ~ /^s,?$/) s=a[i-1]; printf "%.1f", (s>0 ? b/s/1048576 : 0)}')
  LOOP_MIBS=$("$BB" loopback --size "$LOOP" --max-seconds 120 | jq -r '(.mib_s // 0) * 10 | round / 10')
fi
CPU=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
jq -nc --arg cpu "$CPU" --argjson cores "$(nproc)" --argjson sha "$SHA_MIBS" --argjson dd "$DD_MIBS" \
  --argjson lo "${LOOP_MIBS:-0}" --arg ddline "$DD_LINE" --argjson ddmib "$DD_MIB" \
  '{cpu:$cpu, cores:$cores, sha256_mib_s:$sha, dd_fsync_mib_s:$dd, dd_mib:$ddmib, dd_output:$ddline, loopback_mib_s:$lo}' \
  >"$RES/machine.json"
runs suite && log "sha256 one core: $SHA_MIBS MiB/s; dd fsync: $DD_MIBS MiB/s; loopback: $LOOP_MIBS MiB/s"

# ------------------------------------------------------------------ servers

start_registry() {
  local dir=$WORK/registry port
  mkdir -p "$dir/data"
  port=$("$BB" free-port | jq -r .port)
  # registry:2's stock config (in-memory blob descriptor cache), plus delete, loopback, quiet logs.
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
  launch_registry "$dir" "$port"
}

# launch_registry DIR PORT: docker-registry with DIR/config.yml (listening on PORT) as the server.
launch_registry() {
  docker-registry serve "$1/config.yml" >"$1/server.log" 2>&1 &
  SERVER_PID=$!
  TARGET=127.0.0.1:$2
  "$BB" wait --target "$TARGET" --timeout 30 >/dev/null || { tail -20 "$1/server.log" >&2; return 1; }
}

start_berth() {
  local dir=$WORK/berth
  mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<EOF
server:
  listen: "127.0.0.1:0"
log:
  level: warn
  access_log: false
storage:
  root: "$dir/data"
  # No cap on unfinished uploads (default 100 per user, 1,000 per repository): each of the slow
  # crowd's trickling bodies needs a session of its own, as registry:2 gives them.
  max_uploads_per_user: 0
  max_uploads_per_repository: 0
repositories:
  - key: docker-local
    type: local
EOF
  launch_berth "$dir"
}

# launch_berth DIR: berth with DIR/config.yml as the server; TARGET from its ready file.
launch_berth() {
  local dir=$1
  rm -f "$dir/ready"
  "$BERTH" --config "$dir/config.yml" --ready-file "$dir/ready" >"$dir/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    [ -s "$dir/ready" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -s "$dir/ready" ] || { log "berth did not become ready"; tail -20 "$dir/server.log" >&2; return 1; }
  TARGET=$(head -1 "$dir/ready" | tr -d '[:space:]')
  case "$TARGET" in 127.*:* | "[::1]":*) ;; *) log "berth is not on loopback: $TARGET"; return 1 ;; esac
  "$BB" wait --target "$TARGET" --timeout 30 >/dev/null || { tail -20 "$dir/server.log" >&2; return 1; }
}

# bench NAME SUBCOMMAND ARGS... : one scenario, JSON to $R/NAME.json
bench() {
  local name=$1
  shift
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    jq -nc --arg s "$name" '{scenario:$s, ok:false, error:"server not running"}' >"$R/$name.json"
    log "  $name: server not running"
    return
  fi
  local t0=$SECONDS try rc
  for try in 1 2; do
    timeout --kill-after=5 $((MAXS + 15)) "$BB" "$@" --target "$TARGET" --max-seconds "$MAXS" >"$R/$name.json" 2>"$R/$name.log"
    rc=$?
    # Killed by a signal that was not timeout's (on a shared machine, someone else's kill): once more.
    if [ $try = 1 ] && [ ! -s "$R/$name.json" ] && [ $rc -gt 128 ] && kill -0 "$SERVER_PID" 2>/dev/null; then
      log "  $name: killed (exit $rc; $(grep -h 'signal from' "$R/$name.log" | tail -1)); once more"
      mv "$R/$name.log" "$R/$name.killed.log"
      continue
    fi
    break
  done
  [ -s "$R/$name.json" ] || jq -nc --arg s "$name" '{scenario:$s, ok:false, error:"no output (killed?)"}' >"$R/$name.json"
  local summary
  summary=$(jq -rc 'if .ok then ([("mib_s","images_per_s","rps","p99_ms","items","seconds","open_at_load_start","refused","cut_by_end","rps_pct_of_base","p99_ratio","errors","rss_with_crowd_mib","bytes_per_conn") as $k | select(has($k)) | "\($k)=\(.[$k] | if type=="number" then (.*100|round/100) else . end)"] | join(" ")) else "FAILED: \(.error)" end' "$R/$name.json" 2>/dev/null)
  log "  $name ($((SECONDS - t0))s): $summary"
}

run_suite() {
  local side=$1
  R=$RES/$side
  mkdir -p "$R"
  log "== $side: starting"
  if ! "start_$side"; then
    jq -nc '{ok:false, error:"server did not start"}' >"$R/start.json"
    stop_server
    return
  fi
  log "== $side on $TARGET (pid $SERVER_PID)"
  local P=(--pid "$SERVER_PID")
  sleep 1
  awk '/^VmRSS:/ {print "{\"ok\":true,\"rss_kib\":" $2 "}"}' "/proc/$SERVER_PID/status" >"$R/idle.json"

  local fresh=1 g
  if runs suite; then
    run_main_scenarios
    fresh=0
  fi
  # Each of these on a server process of its own, so that its RSS before the crowd is not what an
  # earlier scenario left (Go returns memory lazily); the storage stays.
  for g in idle slow push-load; do
    runs "$g" || continue
    if [ $fresh = 0 ]; then
      stop_server
      cat "$WORK/$side/server.log" >>"$R/server.log.txt" 2>/dev/null
      "start_$side" || { log "$side did not restart"; break; }
      P=(--pid "$SERVER_PID")
      sleep 1
    fi
    fresh=0
    run_beside "$g"
  done

  stop_server
  cat "$WORK/$side/server.log" >>"$R/server.log.txt" 2>/dev/null
  rm -rf "${WORK:?}/$side/data"
}

# The manifest GET load (as manifest_get_tag) alone and then beside a crowd or large pushes.
run_beside() {
  local L=(--repo docker-local/bench/m --conns "$CONNS" --seconds "$LOAD_SECS" --warmup 1 "${P[@]}")
  case $1 in
    idle) bench crowd_idle crowd --kind idle --idle "$IDLE_CONNS" --per-source "$PER_SOURCE" --rounds "$CROWD_ROUNDS" "${L[@]}" ;;
    slow)
      # One header line every 5 s, bodies at 4 B/s: Berth cuts headers at 30 s and slow bodies after
      # its 60 s window, so the measured part ends well before (about 12 s after the first trickle).
      bench crowd_slow crowd --kind slow --slow-headers "$SLOW_HEADERS" --slow-bodies "$SLOW_BODIES" \
        --per-source "$PER_SOURCE" --rounds "$CROWD_ROUNDS" --header-interval 5 --body-interval 1 --body-bytes 4 "${L[@]}"
      ;;
    push-load)
      local MAXS=600
      bench push_load push-load --pushes "$PUSHES" --size "$PUSH_SIZE" --push-repo docker-local/bench/pushload \
        --rounds "$CROWD_ROUNDS" --max-during 400 "${L[@]}"
      ;;
  esac
}

# The original scenarios: large blobs, the small-image storm, request loads, listing.
run_main_scenarios() {

  bench push_mono push --repo docker-local/bench/big --size "$BLOB" --mode mono --seed 11 "${P[@]}"
  bench push_chunked push --repo docker-local/bench/big --size "$BLOB" --mode chunked --chunk "$CHUNK" --seed 12 "${P[@]}"
  local digest
  digest=$(jq -r 'select(.ok) | .digest' "$R/push_mono.json" 2>/dev/null)
  if [ -n "$digest" ]; then
    bench pull_1 pull --repo docker-local/bench/big --digest "$digest" --size "$BLOB" --parallel 1 "${P[@]}"
    bench pull_4 pull --repo docker-local/bench/big --digest "$digest" --size "$BLOB" --parallel 4 "${P[@]}"
    bench pull_verify pull --repo docker-local/bench/big --digest "$digest" --size "$BLOB" --parallel 1 --verify 1
  fi
  bench small_images small-images --repo docker-local/bench/small --count "$SMALL" --workers "$SMALL_WORKERS" "${P[@]}"
  local L=(--repo docker-local/bench/m --conns "$CONNS" --seconds "$LOAD_SECS" --warmup 1 "${P[@]}")
  bench manifest_get_tag manifest-load --method GET --by tag "${L[@]}"
  bench manifest_head_digest manifest-load --method HEAD --by digest "${L[@]}"
  bench blob_head_present blob-head --present 1 "${L[@]}"
  bench blob_head_absent blob-head --present 0 "${L[@]}"
  bench seed_tags seed-tags --repo docker-local/bench/tags --count "$TAGS" --workers 16
  bench tags_list tags-list --repo docker-local/bench/tags --iterations "$ITER" --seconds 60 --expect-min "$TAGS" "${P[@]}"
  bench tags_list_paged tags-list --repo docker-local/bench/tags --n 100 --iterations 1 --seconds 60 --expect-min "$TAGS"
  bench seed_repos seed-repos --prefix docker-local/bench/cat/r --count "$REPOS" --workers 16
  bench catalog catalog --n 1000 --iterations "$ITER" --seconds 60 --expect-min "$REPOS" "${P[@]}"
}

RUN_SERVERS=()
for s in $SERVERS; do
  case $s in
    registry) RUN_SERVERS+=(registry) ;;
    berth) if [ -n "$BERTH" ]; then RUN_SERVERS+=(berth); else log "skipping berth: no binary"; fi ;;
    *) die "unknown server $s (BENCH_SERVERS: registry berth)" ;;
  esac
done
if runs suite || runs idle || runs slow || runs push-load; then
  for s in "${RUN_SERVERS[@]}"; do run_suite "$s"; done
fi
# shellcheck source=bench/run_remote.sh
source "$ROOT/bench/run_remote.sh"
runs remote && run_remote
# shellcheck source=bench/run_virtual.sh
source "$ROOT/bench/run_virtual.sh"
runs virtual && run_virtual
# shellcheck source=bench/run_lifecycle.sh
source "$ROOT/bench/run_lifecycle.sh"
runs lifecycle && run_lifecycle

# ------------------------------------------------------------------ report

REG_VERSION=$(docker-registry --version 2>/dev/null | awk '{print $NF}')
BERTH_VERSION=$( (cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null) || echo "uncommitted")
[ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null | grep -v '^??' | head -1)" ] && BERTH_VERSION="$BERTH_VERSION with local changes"
BERTH_VERSION="git $BERTH_VERSION"
[ -n "$BERTH" ] && BERTH_VERSION="$("$BERTH" --version 2>/dev/null | head -1) ($BERTH_VERSION)"
jq -nc --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --argjson quick "$([ "$QUICK" = 1 ] && echo true || echo false)" \
  --arg blob "$BLOB" --arg chunk "$CHUNK" --argjson small "$SMALL" --argjson secs "$LOAD_SECS" --argjson conns "$CONNS" \
  --argjson tags "$TAGS" --argjson repos "$REPOS" --arg rv "${REG_VERSION:-?}" --arg bv "$BERTH_VERSION" \
  --argjson elapsed $(($(date +%s) - T_START)) --arg groups "${GROUPS_RUN[*]}" \
  '{date:$date, quick:$quick, blob_size_label:$blob, chunk_label:$chunk, small_images:$small, load_seconds:$secs,
    load_conns:$conns, tags:$tags, repos:$repos, registry_version:$rv, berth_version:$bv, elapsed_s:$elapsed,
    groups:($groups | split(" "))}' \
  >"$RES/meta.json"
mkdir -p "$(dirname "$OUT")"
"$BB" report --dir "$RES" --out "$OUT" | jq -c . >&2
log "wrote $OUT in $(($(date +%s) - T_START))s"
