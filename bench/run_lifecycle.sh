# shellcheck shell=bash
# The `lifecycle` group of bench/run.sh (sourced by it; uses its variables and helpers): the image
# lifecycle of issue 10.
#
# 1. Garbage collection of one store, side by side. berth_bench writes a registry:2 filesystem
#    storage directly (seed-registry2): LC_IMAGES images of LC_LAYERS layers + config + manifest,
#    each blob LC_BLOB_SIZE bytes, all referenced; and LC_GARBAGE blobs linked in `_layers` of
#    some images but in no manifest (uploads whose manifest never came, or was deleted): garbage
#    to both registry:2 and Berth. Defaults: 4,500 × 20 = 90,000 referenced + 10,000 garbage.
#    `berth import-registry2` gives Berth the same content (hard links, same filesystem), and a
#    second Berth root is made from the first (blobs hard-linked, metadata copied). Then, each on
#    its own copy: registry:2's `docker-registry garbage-collect` (offline: it has no other way),
#    `berth gc --config` (offline) and POST /api/system/storage/gc to a running Berth (online).
#    Each is checked afterwards: every referenced blob still stored, no garbage left.
# 2. The small-image storm (the suite's scenario) on that Berth (now 90,000 blobs), without and
#    with a loop of POST /api/system/storage/gc beside it, LC_ROUNDS rounds alternating which
#    goes first; with gc.grace_period_minutes 0 (the harshest: a run may take a layer between
#    its upload and the manifest, which is then pushed again) and again after a restart with the
#    default grace period, 60.
# 3. Promotion of an image of 50 layers (berth_bench promote): copies to fresh tags, then moves.
#
# Berth here: gc.grace_period_minutes 0 (an import sets recent times: with the default grace
# period nothing would be collected) and gc.interval_minutes 0 (only the runs asked for).
# Results go to $RES/lifecycle/ (bench/report_lifecycle.cc reads them).

if [ "$QUICK" = 1 ]; then d_lc_images=450 d_lc_garbage=1000 d_lc_rounds=2; else d_lc_images=4500 d_lc_garbage=10000 d_lc_rounds=3; fi
LC_IMAGES=${BENCH_LC_IMAGES:-$d_lc_images}
LC_LAYERS=${BENCH_LC_LAYERS:-18}
LC_GARBAGE=${BENCH_LC_GARBAGE:-$d_lc_garbage}
LC_BLOB_SIZE=${BENCH_LC_BLOB_SIZE:-1KiB}
LC_ROUNDS=${BENCH_LC_ROUNDS:-$d_lc_rounds}

# lc_berth_config ROOT GRACE: a Berth config on ROOT with that grace period.
lc_berth_config() {
  cat <<EOF
server:
  listen: "127.0.0.1:0"
log:
  level: warn
  access_log: false
storage:
  root: "$1"
gc:
  grace_period_minutes: $2
  interval_minutes: 0
repositories:
  - key: docker-local
    type: local
  - key: docker-prod
    type: local
EOF
}

# lc_measured NAME COMMAND: a process of its own, measured (berth_bench run-measured).
lc_measured() {
  local name=$1 cmd=$2
  "$BB" run-measured --cmd "$cmd" --log "$R/$name.log" --max-seconds 1800 >"$R/$name.json" 2>"$R/$name.bench.log" ||
    log "  $name: failed (see $(jq -r .error "$R/$name.json" 2>/dev/null))"
  log "  $name: $(jq -rc 'if .ok then "\(.seconds * 100 | round / 100) s, peak RSS \(.peak_rss_kib / 1024 | round) MiB" else "FAILED: \(.error)" end' "$R/$name.json")"
}

# lc_check NAME BLOBS_DIR LAYOUT: what a collector left.
lc_check() {
  "$BB" check-store --blobs "$2" --layout "$3" --referenced-list "$D/referenced.txt" \
    --garbage-list "$D/garbage.txt" >"$R/$1.json" 2>>"$R/$1.log"
  log "  $1: $(jq -rc '"\(.referenced_present)/\(.referenced) referenced blobs stored, \(.garbage_left) garbage left"' "$R/$1.json")"
}

lc_gc_side_by_side() {
  log "== lifecycle: writing a registry:2 storage ($LC_IMAGES images × $((LC_LAYERS + 2)) blobs + $LC_GARBAGE garbage)"
  bench_plain seed seed-registry2 --root "$D/registry" --images "$LC_IMAGES" --layers "$LC_LAYERS" \
    --garbage "$LC_GARBAGE" --blob-size "$LC_BLOB_SIZE" --referenced-list "$D/referenced.txt" \
    --garbage-list "$D/garbage.txt"
  sync
  lc_berth_config "$D/berth" 0 >"$D/berth.yml"
  lc_berth_config "$D/berth-offline" 0 >"$D/berth-offline.yml"
  log "== lifecycle: berth import-registry2 into docker-local"
  lc_measured import "'$BERTH' import-registry2 --root '$D/registry' --into docker-local --config '$D/berth.yml'"
  # The offline copy: blobs hard-linked (never written in place), everything else copied.
  local e
  mkdir -p "$D/berth-offline"
  for e in "$D/berth"/*; do
    if [ "$(basename "$e")" = blobs ]; then cp -al "$e" "$D/berth-offline/"; else cp -a "$e" "$D/berth-offline/"; fi
  done
  cat >"$D/registry.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $D/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:1
EOF
  sync
  if [[ " ${RUN_SERVERS[*]} " == *" registry "* ]]; then
    log "== lifecycle: registry:2 garbage-collect (offline)"
    sync
    lc_measured registry_gc "docker-registry garbage-collect '$D/registry.yml'"
    lc_check registry_check "$D/registry/docker/registry/v2/blobs" registry2
  else
    jq -nc '{ok:false, error:"registry:2 was not run (BENCH_SERVERS)"}' >"$R/registry_gc.json"
  fi
  log "== lifecycle: berth gc (offline)"
  sync
  lc_measured berth_gc_offline "'$BERTH' gc --config '$D/berth-offline.yml'"
  lc_check berth_offline_check "$D/berth-offline/blobs" berth
  log "== lifecycle: POST /api/system/storage/gc (online)"
  launch_berth_lc 0 || return 1
  awk '/^VmRSS:/ {print "{\"ok\":true,\"rss_kib\":" $2 "}"}' "/proc/$SERVER_PID/status" >"$R/berth_idle.json"
  sync
  bench berth_gc_online gc --pid "$SERVER_PID"
  lc_check berth_online_check "$D/berth/blobs" berth
  # Removed only now: unlinking 100,000 files keeps the disk's journal busy for minutes, which
  # would slow whichever collector ran next.
  rm -rf "${D:?}/berth-offline" "${D:?}/registry"
}

# launch_berth_lc GRACE: Berth on the lifecycle store with that grace period.
launch_berth_lc() {
  lc_berth_config "$D/berth" "$1" >"$D/config.yml"
  launch_berth "$D" || { log "berth did not start"; return 1; }
}

# The storm without and with the GC loop, LC_ROUNDS rounds alternating the order; fresh images each time.
lc_storms() {
  local grace=$1 n
  local S=(--count "$SMALL" --workers "$SMALL_WORKERS" --pid "$SERVER_PID")
  for n in $(seq 1 "$LC_ROUNDS"); do
    local plain=(bench "storm_g${grace}_plain_$n" small-images --repo "docker-local/bench/storm-g$grace-p$n" --seed $((3000 + 10 * n + grace)) "${S[@]}")
    local looped=(bench "storm_g${grace}_gc_$n" small-images --repo "docker-local/bench/storm-g$grace-l$n" --seed $((4000 + 10 * n + grace)) --gc-loop 1 "${S[@]}")
    if [ $((n % 2)) = 1 ]; then "${plain[@]}"; "${looped[@]}"; else "${looped[@]}"; "${plain[@]}"; fi
  done
}

# bench_plain NAME ARGS...: a berth_bench command without --target (seeding, checks).
bench_plain() {
  local name=$1
  shift
  "$BB" "$@" --max-seconds 1800 >"$R/$name.json" 2>"$R/$name.log" || log "  $name: FAILED: $(jq -r .error "$R/$name.json" 2>/dev/null)"
  log "  $name: $(jq -c 'del(.ok, .scenario)' "$R/$name.json" 2>/dev/null)"
}

run_lifecycle() {
  R=$RES/lifecycle
  D=$WORK/lifecycle
  mkdir -p "$R"
  rm -rf "$D"
  mkdir -p "$D"
  local t0=$SECONDS
  local load0
  load0=$(cut -d' ' -f1-3 /proc/loadavg)
  if [[ " ${RUN_SERVERS[*]} " != *" berth "* ]]; then
    jq -nc '{ok:false, error:"Berth was not run (BENCH_SERVERS or no binary)"}' >"$R/setup.json"
    return
  fi
  log "== lifecycle: starting (load average $load0)"
  jq -nc --argjson images "$LC_IMAGES" --argjson layers "$LC_LAYERS" --argjson garbage "$LC_GARBAGE" \
    --arg blob "$LC_BLOB_SIZE" --argjson rounds "$LC_ROUNDS" --argjson small "$SMALL" --argjson workers "$SMALL_WORKERS" \
    --arg load "$load0" --arg fs "$(df --output=fstype "$D" | tail -1)" \
    '{ok:true, images:$images, layers:$layers, garbage:$garbage, blob_size:$blob, rounds:$rounds, storm_images:$small,
      storm_workers:$workers, load_average_start:$load, filesystem:$fs}' >"$R/setup.json"

  if lc_gc_side_by_side; then
    log "== lifecycle: the storm with and without a GC loop (grace period 0; load average $(cut -d' ' -f1-3 /proc/loadavg))"
    lc_storms 0
    stop_server
    cat "$D/server.log" >>"$R/server.log.txt" 2>/dev/null
    log "== lifecycle: the same with the default grace period (60 min)"
    if launch_berth_lc 60; then
      lc_storms 60
      log "== lifecycle: promotion of an image of 50 layers"
      bench promote promote --repo docker-local/bench/promote --to-repo docker-prod --layers 50 --iterations 200 --pid "$SERVER_PID"
    fi
  fi
  jq -c --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" '. + {load_average_end:$load}' "$R/setup.json" >"$R/s.tmp" &&
    mv "$R/s.tmp" "$R/setup.json"
  stop_server
  cat "$D/server.log" >>"$R/server.log.txt" 2>/dev/null
  rm -rf "${D:?}"
  log "== lifecycle: done in $((SECONDS - t0))s"
}
