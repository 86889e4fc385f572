# shellcheck shell=bash
# The `virtual` group of bench/run.sh (sourced by it; uses its variables and helpers): what a
# virtual repository costs over asking its member directly, Berth only, both measured side by side
# on one process. Its storage: three local repositories, docker-local, docker-dev and docker-prod,
# and two virtual ones over them:
#   v2 = [docker-dev, docker-local]               the load's image is in docker-local only, so every
#                                                 hit comes from the second member after a miss in
#                                                 the first (docker-dev has another image of the
#                                                 same name, so the miss is a real lookup)
#   v3 = [docker-local, docker-dev, docker-prod]  TAGS tags of one image name in each member: the
#                                                 same names in all three (bench/tags-same; merged,
#                                                 TAGS), and distinct, interleaving names
#                                                 (bench/tags-distinct; merged, 3 × TAGS)
# `storage.metadata_sync: normal` makes seeding 6 × TAGS tags quick; reads never commit, so it
# changes nothing that is measured.
#
# Results go to $RES/virtual/NAME_ROUND.json (bench/report_virtual.cc reads them):
#   manifest_{member,virtual}_N        manifest GET by tag: docker-local/bench/m, v2/bench/m
#   blob_head_{member,virtual}_N       blob HEAD of the image's present blobs, the same two names
#   tags_same_{member,virtual}_N       full tags/list: docker-local/bench/tags-same, v3/bench/tags-same
#   tags_distinct_{member,virtual}_N   the same for bench/tags-distinct
# Within a round, the member and the virtual key alternate which goes first.

VIRTUAL_REPEAT=${BENCH_VIRTUAL_REPEAT:-$([ "$QUICK" = 1 ] && echo 2 || echo 3)}
VIRTUAL_SECS=${BENCH_VIRTUAL_LOAD_SECONDS:-$([ "$QUICK" = 1 ] && echo 2 || echo 5)}
# Full lists per measurement: more than the suite's, since a merged list takes only tens of ms and
# other processes' bursts on a shared machine would otherwise decide its median.
VIRTUAL_ITER=${BENCH_VIRTUAL_LIST_ITERATIONS:-$([ "$QUICK" = 1 ] && echo 10 || echo 50)}

start_virtual_berth() {
  local dir=$WORK/virtual
  rm -rf "$dir"
  mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<EOF
server:
  listen: "127.0.0.1:0"
log:
  level: warn
  access_log: false
storage:
  root: "$dir/data"
  metadata_sync: normal
repositories:
  - key: docker-local
    type: local
  - key: docker-dev
    type: local
  - key: docker-prod
    type: local
  - key: v2
    type: virtual
    repositories: [docker-dev, docker-local]
  - key: v3
    type: virtual
    repositories: [docker-local, docker-dev, docker-prod]
EOF
  launch_berth "$dir"
}

# virtual_pair ROUND NAME MEMBER_CMD... -- VIRTUAL_CMD...: both, in the round's order.
virtual_pair() {
  local n=$1 name=$2
  shift 2
  local member=() virt=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do member+=("$1"); shift; done
  shift
  virt=("$@")
  if [ $((n % 2)) = 1 ]; then
    bench "${name}_member_$n" "${member[@]}"
    bench "${name}_virtual_$n" "${virt[@]}"
  else
    bench "${name}_virtual_$n" "${virt[@]}"
    bench "${name}_member_$n" "${member[@]}"
  fi
}

virtual_round() {
  local n=$1
  local P=(--pid "$SERVER_PID")
  local L=(--conns "$CONNS" --seconds "$VIRTUAL_SECS" --warmup 1 "${P[@]}")
  # The virtual key's image is pushed to docker-local (v2 takes no pushes) and read back through v2.
  local VIA=(--push-to "$TARGET" --push-repo docker-local/bench/m)
  virtual_pair "$n" manifest manifest-load --method GET --by tag --repo docker-local/bench/m "${L[@]}" -- \
    manifest-load --method GET --by tag --repo v2/bench/m "${VIA[@]}" "${L[@]}"
  virtual_pair "$n" blob_head blob-head --present 1 --repo docker-local/bench/m "${L[@]}" -- \
    blob-head --present 1 --repo v2/bench/m "${VIA[@]}" "${L[@]}"
  local T=(--iterations "$VIRTUAL_ITER" --seconds 60 "${P[@]}")
  virtual_pair "$n" tags_same tags-list --repo docker-local/bench/tags-same --expect-min "$TAGS" "${T[@]}" -- \
    tags-list --repo v3/bench/tags-same --expect-min "$TAGS" "${T[@]}"
  virtual_pair "$n" tags_distinct tags-list --repo docker-local/bench/tags-distinct --expect-min "$TAGS" "${T[@]}" -- \
    tags-list --repo v3/bench/tags-distinct --expect-min $((3 * TAGS)) "${T[@]}"
}

run_virtual() {
  R=$RES/virtual
  mkdir -p "$R"
  local t0=$SECONDS load0
  load0=$(cut -d' ' -f1-3 /proc/loadavg)
  if [[ " ${RUN_SERVERS[*]} " != *" berth "* ]]; then
    jq -nc '{ok:false, error:"Berth was not run (BENCH_SERVERS or no binary)"}' >"$R/setup.json"
    return
  fi
  log "== virtual: starting berth (load average $load0)"
  if ! start_virtual_berth; then
    jq -nc '{ok:false, error:"berth did not start"}' >"$R/setup.json"
    stop_server
    return
  fi
  log "== virtual: berth on $TARGET (pid $SERVER_PID); seeding"
  # docker-dev's image of the same name, so that v2's first member misses on an image it has.
  bench seed_dev_m seed-tags --repo docker-dev/bench/m --count 1 --seed 78 --workers 1
  local m suffix
  for m in docker-local docker-dev docker-prod; do
    bench "seed_same_$m" seed-tags --repo "$m/bench/tags-same" --count "$TAGS" --workers 16
    suffix=${m#docker-}
    bench "seed_distinct_$m" seed-tags --repo "$m/bench/tags-distinct" --count "$TAGS" --workers 16 \
      --tag-suffix "-$suffix"
  done
  jq -nc --argjson rounds "$VIRTUAL_REPEAT" --argjson secs "$VIRTUAL_SECS" --argjson conns "$CONNS" \
    --argjson tags "$TAGS" --argjson iter "$VIRTUAL_ITER" --arg load "$load0" \
    '{ok:true, rounds:$rounds, load_seconds:$secs, load_conns:$conns, tags:$tags, list_iterations:$iter,
      load_average_start:$load}' >"$R/setup.json"

  local n
  for n in $(seq 1 "$VIRTUAL_REPEAT"); do
    log "== virtual: round $n (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    virtual_round "$n"
  done
  jq -c --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" '. + {load_average_end:$load}' "$R/setup.json" >"$R/s.tmp" &&
    mv "$R/s.tmp" "$R/setup.json"
  stop_server
  cp "$WORK/virtual/server.log" "$R/server.log.txt" 2>/dev/null
  rm -rf "${WORK:?}/virtual"
  log "== virtual: done in $((SECONDS - t0))s"
}
