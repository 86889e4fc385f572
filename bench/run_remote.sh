# shellcheck shell=bash
# The `remote` group of bench/run.sh (sourced by it; uses its variables and helpers): pull-through
# caches side by side in one run. One upstream, Debian's docker-registry with its access log on,
# holds the content for the whole group; registry:2 in proxy mode (`proxy: remoteurl:`) and a Berth
# remote repository pull through it, one at a time. Every cold measurement runs on a freshly
# started cache with empty storage; the upstream keeps running, its blobs read once beforehand so
# that it serves every cold pull from the page cache.
#
# Why docker-registry as the upstream and not a Berth local repository: it is neither of the two
# caches under test (a Berth upstream would put Berth's server on both ends of Berth's figures),
# its pull of a cached 1 GiB blob was the faster of the two in the suite's runs, and its access
# log is what counts the upstream GETs.
#
# Results go to $RES/remote/NAME_ROUND.json (bench/report_remote.cc reads them):
#   cold_{direct,registry,berth}_N   one pull of the REMOTE_BLOB, cold cache (direct: from the upstream)
#   warm_{registry,berth}_N          the same blob again from the same cache (a cache hit)
#   local_berth_N                    Berth pulling a blob of that size pushed to its local repository
#   one_{registry,berth}_N           one cold pull of the REMOTE_SHARED blob
#   many_{registry,berth}_N          16 clients pulling that blob at once from a cold cache
#   many_warm_{registry,berth}_N     the same 16 again once it is cached (what delivering 16 copies costs)
#   manifest_{registry,berth,local}_N  the manifest GET by tag load through either cache / Berth local
# Cold pulls carry upstream_gets / upstream_heads: the upstream's access-log lines for that blob.

REMOTE_REPO=bench/remote      # upstream image of the large blobs
REMOTE_MANIFEST_REPO=bench/m  # upstream image of the manifest load
UP=
UP_LOG=

start_upstream() {
  local dir=$WORK/upstream port
  mkdir -p "$dir/data"
  port=$("$BB" free-port | jq -r .port)
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: false
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: $dir/data
http:
  addr: 127.0.0.1:$port
EOF
  docker-registry serve "$dir/config.yml" >"$dir/access.log" 2>&1 &
  UPSTREAM_PID=$!
  UP=127.0.0.1:$port
  UP_LOG=$dir/access.log
  "$BB" wait --target "$UP" --timeout 30 >/dev/null || { tail -20 "$UP_LOG" >&2; return 1; }
}

# start_cache registry|berth: a cache in front of the upstream with empty storage, as the server.
start_cache() {
  local dir=$WORK/cache-$1 port
  rm -rf "$dir"
  mkdir -p "$dir/data"
  if [ "$1" = registry ]; then
    port=$("$BB" free-port | jq -r .port)
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
http:
  addr: 127.0.0.1:$port
proxy:
  remoteurl: http://$UP
EOF
    launch_registry "$dir" "$port"
  else
    cat >"$dir/config.yml" <<EOF
server:
  listen: "127.0.0.1:0"
log:
  level: warn
  access_log: false
storage:
  root: "$dir/data"
repositories:
  - key: docker-local
    type: local
  - key: docker-remote
    type: remote
    url: "http://$UP"
EOF
    launch_berth "$dir"
  fi
}

stop_cache() {
  stop_server
  cat "$WORK/cache-$1/server.log" >>"$R/server-$1.log.txt" 2>/dev/null
  rm -rf "${WORK:?}/cache-$1"
}

# The image name of the upstream's `repo` through a cache: registry:2's proxy keeps the name, Berth
# puts its repository key in front.
via() { if [ "$1" = berth ]; then echo "docker-remote/$2"; else echo "$2"; fi; }

# proc_cpu PID: utime + stime in seconds.
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); print ($12 + $13) / hz}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# begin_pull: before a cold pull, the upstream's access-log position and both processes' CPU.
begin_pull() {
  MARK=$(wc -l <"$UP_LOG")
  CACHE_CPU0=$(proc_cpu "$SERVER_PID")
  UP_CPU0=$(proc_cpu "$UPSTREAM_PID")
}

# upstream_count METHOD DIGEST MARK: the upstream's requests for that blob since the mark.
upstream_count() {
  tail -n +"$(($3 + 1))" "$UP_LOG" | grep -c "\"$1 /v2/[^ ]*/blobs/$2 HTTP/"
}

# wait_cached SIDE DIGEST BYTES: until the cache holds the whole blob (at most 60 s). registry:2
# stores what it proxied with a second upstream GET in the background, which may end after the
# client's; Berth's pull ends once the blob is verified and its fetch is done.
wait_cached() {
  local hex=${2#sha256:}
  if [ "$1" = registry ]; then
    local f=$WORK/cache-registry/data/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data
    for _ in $(seq 1 600); do
      [ "$(stat -c %s "$f" 2>/dev/null)" = "$3" ] && break
      sleep 0.1
    done
  fi
  sleep 0.5  # the upstream logs a request once its handler returned
}

# annotate FILE DIGEST (after wait_cached): adds the upstream's GET and HEAD counts for the blob
# since begin_pull, and the CPU time the cache and the upstream spent meanwhile, per GiB pulled:
# all of the cache's work, including what registry:2 does in the background after the client is done.
annotate() {
  local gets heads cache_cpu up_cpu
  gets=$(upstream_count GET "$2" "$MARK")
  heads=$(upstream_count HEAD "$2" "$MARK")
  cache_cpu=$(awk -v a="$CACHE_CPU0" -v b="$(proc_cpu "$SERVER_PID")" 'BEGIN {print b - a}')
  up_cpu=$(awk -v a="$UP_CPU0" -v b="$(proc_cpu "$UPSTREAM_PID")" 'BEGIN {print b - a}')
  jq -c --argjson g "$gets" --argjson h "$heads" --argjson c "$cache_cpu" --argjson u "$up_cpu" \
    '. + {upstream_gets: $g, upstream_heads: $h, cache_cpu_s: $c, upstream_cpu_s: $u}
     | if (.bytes // 0) > 0 then . + {cache_cpu_s_per_gib: ($c * 1073741824 / .bytes),
                                      upstream_cpu_s_per_gib: ($u * 1073741824 / .bytes)} else . end' \
    "$1" >"$1.tmp" && mv "$1.tmp" "$1"
}

# One round of the large blob: direct, registry:2, Berth, in an order that turns each round.
remote_cold_round() {
  local n=$1 order side
  case $((n % 3)) in
    1) order="direct registry berth" ;;
    2) order="registry berth direct" ;;
    0) order="berth direct registry" ;;
  esac
  for side in $order; do
    case $side in
      direct)
        SERVER_PID=$UPSTREAM_PID TARGET=$UP bench "cold_direct_$n" pull --repo "$REMOTE_REPO" --digest "$BIG" \
          --size "$REMOTE_BLOB" --pid "$UPSTREAM_PID"
        ;;
      registry | berth)
        [[ " ${RUN_SERVERS[*]} " == *" $side "* ]] || continue
        start_cache "$side" || { log "  $side cache did not start"; continue; }
        local P=(--pid "$SERVER_PID") repo
        repo=$(via "$side" "$REMOTE_REPO")
        begin_pull
        bench "cold_${side}_$n" pull --repo "$repo" --digest "$BIG" --size "$REMOTE_BLOB" "${P[@]}"
        wait_cached "$side" "$BIG" "$BIG_BYTES"
        annotate "$R/cold_${side}_$n.json" "$BIG"
        bench "warm_${side}_$n" pull --repo "$repo" --digest "$BIG" --size "$REMOTE_BLOB" "${P[@]}"
        if [ "$side" = berth ]; then
          bench "local_push_$n" push --repo docker-local/bench/local --size "$REMOTE_BLOB" --mode mono --seed 43 "${P[@]}"
          local ld
          ld=$(jq -r 'select(.ok) | .digest' "$R/local_push_$n.json" 2>/dev/null)
          [ -n "$ld" ] && bench "local_berth_$n" pull --repo docker-local/bench/local --digest "$ld" \
            --size "$REMOTE_BLOB" "${P[@]}"
        fi
        stop_cache "$side"
        ;;
    esac
  done
}

# One round of the shared blob on one cache: one cold pull; then, on a fresh cache, 16 at once and
# the same 16 again from the cache.
remote_shared_round() {
  local n=$1 side=$2 repo
  repo=$(via "$side" "$REMOTE_REPO")
  start_cache "$side" || { log "  $side cache did not start"; return; }
  begin_pull
  bench "one_${side}_$n" pull --repo "$repo" --digest "$MID" --size "$REMOTE_SHARED" --pid "$SERVER_PID"
  wait_cached "$side" "$MID" "$MID_BYTES"
  annotate "$R/one_${side}_$n.json" "$MID"
  stop_cache "$side"
  start_cache "$side" || { log "  $side cache did not start"; return; }
  begin_pull
  bench "many_${side}_$n" pull --repo "$repo" --digest "$MID" --size "$REMOTE_SHARED" --parallel 16 --pid "$SERVER_PID"
  wait_cached "$side" "$MID" "$MID_BYTES"
  annotate "$R/many_${side}_$n.json" "$MID"
  bench "many_warm_${side}_$n" pull --repo "$repo" --digest "$MID" --size "$REMOTE_SHARED" --parallel 16 \
    --pid "$SERVER_PID"
  stop_cache "$side"
}

# The manifest GET by tag load through a cache whose tag answer is fresh (within Berth's TTL; the
# image is pushed upstream and read once through the cache first), and against Berth's local
# repository on the same process.
remote_manifest_round() {
  local n=$1 side=$2 mark
  local L=(--conns "$CONNS" --seconds "$REMOTE_SECS" --warmup 1)
  start_cache "$side" || { log "  $side cache did not start"; return; }
  mark=$(wc -l <"$UP_LOG")
  bench "manifest_${side}_$n" manifest-load --method GET --by tag --repo "$(via "$side" "$REMOTE_MANIFEST_REPO")" \
    --push-to "$UP" --push-repo "$REMOTE_MANIFEST_REPO" "${L[@]}" --pid "$SERVER_PID"
  local reqs
  reqs=$(tail -n +"$((mark + 1))" "$UP_LOG" | grep -c "\"[A-Z]* /v2/$REMOTE_MANIFEST_REPO/manifests/")
  jq -c --argjson r "$reqs" '. + {upstream_manifest_requests: $r}' "$R/manifest_${side}_$n.json" \
    >"$R/m.tmp" && mv "$R/m.tmp" "$R/manifest_${side}_$n.json"
  if [ "$side" = berth ]; then
    bench "manifest_local_$n" manifest-load --method GET --by tag --repo docker-local/bench/m "${L[@]}" --pid "$SERVER_PID"
  fi
  stop_cache "$side"
}

run_remote() {
  R=$RES/remote
  mkdir -p "$R"
  local t0=$SECONDS
  log "== remote: upstream"
  if ! start_upstream; then
    jq -nc '{ok:false, error:"the upstream did not start"}' >"$R/setup.json"
    return
  fi
  # The content, pushed to the upstream: the large blob and the shared one.
  SERVER_PID=$UPSTREAM_PID TARGET=$UP bench upstream_push_big push --repo "$REMOTE_REPO" --size "$REMOTE_BLOB" \
    --mode mono --seed 41
  SERVER_PID=$UPSTREAM_PID TARGET=$UP bench upstream_push_shared push --repo "$REMOTE_REPO" --size "$REMOTE_SHARED" \
    --mode mono --seed 42
  BIG=$(jq -r 'select(.ok) | .digest' "$R/upstream_push_big.json" 2>/dev/null)
  MID=$(jq -r 'select(.ok) | .digest' "$R/upstream_push_shared.json" 2>/dev/null)
  BIG_BYTES=$(jq -r '.bytes // 0' "$R/upstream_push_big.json" 2>/dev/null)
  MID_BYTES=$(jq -r '.bytes // 0' "$R/upstream_push_shared.json" 2>/dev/null)
  if [ -z "$BIG" ] || [ -z "$MID" ]; then
    log "remote: pushing to the upstream failed"
    jq -nc '{ok:false, error:"pushing to the upstream failed"}' >"$R/setup.json"
    stop_pid "$UPSTREAM_PID"
    UPSTREAM_PID=
    return
  fi
  # Every cold pull below finds the upstream's blobs in the page cache.
  local d
  for d in "$BIG" "$MID"; do
    cat "$WORK/upstream/data/docker/registry/v2/blobs/sha256/${d:7:2}/${d#sha256:}/data" >/dev/null
  done
  jq -nc --arg blob "$REMOTE_BLOB" --arg shared "$REMOTE_SHARED" --argjson rounds "$REMOTE_REPEAT" \
    --argjson secs "$REMOTE_SECS" --argjson conns "$CONNS" --arg up "docker-registry $(docker-registry --version 2>/dev/null | awk '{print $NF}')" \
    --arg servers "${RUN_SERVERS[*]}" \
    '{ok:true, blob_label:$blob, shared_label:$shared, rounds:$rounds, load_seconds:$secs, load_conns:$conns,
      upstream:$up, caches:($servers | split(" "))}' >"$R/setup.json"

  local n side
  for n in $(seq 1 "$REMOTE_REPEAT"); do
    log "== remote: round $n, $REMOTE_BLOB cold and warm"
    remote_cold_round "$n"
  done
  for n in $(seq 1 "$REMOTE_REPEAT"); do
    log "== remote: round $n, 16 clients on one $REMOTE_SHARED blob"
    for side in "${RUN_SERVERS[@]}"; do remote_shared_round "$n" "$side"; done
  done
  for n in $(seq 1 "$REMOTE_REPEAT"); do
    log "== remote: round $n, manifest GET by tag"
    for side in "${RUN_SERVERS[@]}"; do remote_manifest_round "$n" "$side"; done
  done
  stop_pid "$UPSTREAM_PID"
  UPSTREAM_PID=
  cp "$UP_LOG" "$R/upstream-access.log.txt" 2>/dev/null
  log "== remote: done in $((SECONDS - t0))s"
}
