#!/usr/bin/env bash
# End-to-end test of the image lifecycle (issue 10) with skopeo and curl:
# push a multi-layer image to docker-dev, promote it with curl into
# docker-local under a new tag, pull it from there by that tag and compare it
# byte for byte, delete it from both repositories (the Artifactory route and a
# V2 delete), run garbage collection (grace period 0), and check that its
# layers' bytes left the disk while an image sharing one of its layers still
# pulls whole. Usage: see lib.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init
[ -z "${E2E_REGISTRY:-}" ] && [ "${E2E_REFERENCE:-0}" != 1 ] ||
  skip "the lifecycle test needs the berth it starts itself (it reads its storage root)"
e2e_need_pkgs skopeo curl jq ca-certificates
e2e_client_env

step "start berth with gc.grace_period_minutes: 0 and no periodic runs"
# Grace 0: a blob nothing references goes at the next run (docs/lifecycle.md);
# interval 0: only the run this test asks for, so that the disk usage it
# compares changes only when it says so.
E2E_BERTH_EXTRA_CONFIG="gc:
  grace_period_minutes: 0
  interval_minutes: 0"
e2e_start_registry
BLOBS_DIR=$E2E_TMP/berth/data/blobs/sha256
pass

TLS=--tls-verify=false
SRC_TLS=--src-tls-verify=false
DST_TLS=--dest-tls-verify=false
N=e2e/$E2E_RUN/app
KEEP=e2e/$E2E_RUN/keeper
OCI=$E2E_TMP/src-layout

# blob_file DIGEST: where berth keeps the blob's bytes.
blob_file() { local h=${1#sha256:}; echo "$BLOBS_DIR/${h:0:2}/$h"; }
# usage_blocks, usage_apparent: disk usage (allocated blocks) and apparent size of the blob directory.
usage_blocks() { du -s -B1 "$BLOBS_DIR" | cut -f1; }
usage_apparent() { du -s -b "$BLOBS_DIR" | cut -f1; }
ref_digest() {
  jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$1/index.json"
}
# post_json PATH BODY OUT: POST with a JSON body; prints the status, body in OUT.
post_json() {
  curl -s --max-time 60 -o "$3" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data "$2" "http://$REG$1"
}

# ---------------------------------------------------------------- push
step "build two OCI images sharing one layer: app (2 MiB, 1 MiB, 512 KiB, 64 KiB layers), keeper (the 64 KiB one + 32 KiB)"
SHARED=$(e2e_layer 64)
APP=$(e2e_oci_image "$OCI" app amd64 "" "$(e2e_layer 2048)" "$(e2e_layer 1024)" "$(e2e_layer 512)" "$SHARED")
KEEPER=$(e2e_oci_image "$OCI" keeper amd64 "" "$SHARED" "$(e2e_layer 32)")
APP_M=$OCI/blobs/sha256/${APP#sha256:}
# The app's own blobs (every layer but the shared one, its config, its manifest):
# what GC must free. The shared layer must stay.
SHARED_D=$(jq -r '.layers[-1].digest' "$APP_M")
OWN=$(jq -r '.layers[:-1][].digest, .config.digest' "$APP_M"; echo "$APP")
OWN_LAYER_BYTES=$(jq '[.layers[:-1][].size] | add' "$APP_M")
OWN_COUNT=$(wc -w <<<"$OWN")   # 3 layers, the config, the manifest
OWN_BYTES=$(( OWN_LAYER_BYTES + $(jq '.config.size' "$APP_M") + $(stat -c %s "$APP_M") ))
pass "app $APP: its own layers $OWN_LAYER_BYTES bytes; keeper $KEEPER"

step "skopeo copy app -> docker-dev/$N:1.0, keeper -> docker-local/$KEEP:1"
run skopeo copy --preserve-digests $DST_TLS --digestfile "$E2E_TMP/d1" "oci:$OCI:app" "docker://$REG/docker-dev/$N:1.0"
expect_eq "digest of pushed app" "$(cat "$E2E_TMP/d1")" "$APP"
run skopeo copy --preserve-digests $DST_TLS "oci:$OCI:keeper" "docker://$REG/docker-local/$KEEP:1"
for d in $OWN $SHARED_D; do
  [ -f "$(blob_file "$d")" ] || fail "blob $d is not in berth's blob store after the push"
done
pass

# ---------------------------------------------------------------- promote
step "promote docker-dev/$N:1.0 -> docker-local/$N:release-1 (copy) with curl; no blob bytes move"
BEFORE_PROMOTE=$(usage_apparent)
code=$(post_json /api/docker/docker-dev/v2/promote \
  "{\"targetRepo\":\"docker-local\",\"dockerRepository\":\"$N\",\"tag\":\"1.0\",\"targetTag\":\"release-1\",\"copy\":true}" \
  "$E2E_TMP/promote.json")
[ "$code" = 200 ] || fail "promote answered $code: $(head -c 400 "$E2E_TMP/promote.json")"
expect_eq "promote .tags" "$(jq -c '[.tags[] | [.tag, .digest]]' "$E2E_TMP/promote.json")" "[[\"release-1\",\"$APP\"]]"
expect_eq "promote .targetRepo" "$(jq -r .targetRepo "$E2E_TMP/promote.json")" docker-local
expect_eq "promote .blobs (4 layers + config)" "$(jq -r .blobs "$E2E_TMP/promote.json")" 5
expect_eq "blob directory's size after the promotion" "$(usage_apparent)" "$BEFORE_PROMOTE"
pass

step "pull docker-local/$N:release-1 with skopeo; manifest digest and every blob byte as pushed"
run skopeo copy --preserve-digests $SRC_TLS "docker://$REG/docker-local/$N:release-1" "oci:$E2E_TMP/pulled:release-1"
expect_eq "pulled manifest digest" "$(ref_digest "$E2E_TMP/pulled" release-1)" "$APP"
for d in $(jq -r '.config.digest, .layers[].digest' "$APP_M"); do
  cmp -s "$E2E_TMP/pulled/blobs/sha256/${d#sha256:}" "$OCI/blobs/sha256/${d#sha256:}" ||
    fail "pulled blob $d differs from the pushed one"
done
expect_eq "HEAD of the promoted tag in docker-dev's source (copy keeps it)" \
  "$(http_status HEAD "/v2/docker-dev/$N/manifests/1.0" -H "Accept: $OCI_MT")" 200
pass

# ---------------------------------------------------------------- delete
step "delete: DELETE /artifactory/docker-dev/$N (204), skopeo delete docker-local/$N@digest (V2)"
expect_eq "DELETE /artifactory/docker-dev/$N" "$(http_status DELETE "/artifactory/docker-dev/$N")" 204
run skopeo delete $TLS "docker://$REG/docker-local/$N@$APP"
for repo in docker-dev docker-local; do
  expect_eq "GET $repo/$N manifest after delete" \
    "$(http_status GET "/v2/$repo/$N/manifests/$APP" -H "Accept: $OCI_MT")" 404
done
# Deleting removes references, never bytes: they wait for garbage collection.
for d in $OWN; do
  [ -f "$(blob_file "$d")" ] || fail "blob $d left the disk before garbage collection"
done
pass

# ---------------------------------------------------------------- gc
step "POST /api/system/storage/gc?dryRun=true counts the app's blobs and frees nothing"
BEFORE_GC_BLOCKS=$(usage_blocks)
BEFORE_GC_APPARENT=$(usage_apparent)
code=$(post_json '/api/system/storage/gc?dryRun=true' '' "$E2E_TMP/dry.json")
[ "$code" = 200 ] || fail "dry run answered $code: $(head -c 400 "$E2E_TMP/dry.json")"
expect_eq "dry run .dryRun" "$(jq -r .dryRun "$E2E_TMP/dry.json")" true
[ "$(jq -r .blobs "$E2E_TMP/dry.json")" -ge "$OWN_COUNT" ] ||
  fail "dry run counts $(jq -r .blobs "$E2E_TMP/dry.json") blobs, want >= $OWN_COUNT"
expect_eq "blob directory's size after the dry run" "$(usage_apparent)" "$BEFORE_GC_APPARENT"
pass "$(cat "$E2E_TMP/dry.json")"

step "POST /api/system/storage/gc frees the app's blobs: disk usage down by at least their size"
code=$(post_json /api/system/storage/gc '' "$E2E_TMP/gc.json")
[ "$code" = 200 ] || fail "gc answered $code: $(head -c 400 "$E2E_TMP/gc.json")"
log "    $(cat "$E2E_TMP/gc.json")"
[ "$(jq -r .blobs "$E2E_TMP/gc.json")" -ge "$OWN_COUNT" ] ||
  fail "gc freed $(jq -r .blobs "$E2E_TMP/gc.json") blobs, want >= $OWN_COUNT"
[ "$(jq -r .bytes "$E2E_TMP/gc.json")" -ge "$OWN_BYTES" ] ||
  fail "gc freed $(jq -r .bytes "$E2E_TMP/gc.json") bytes, want >= $OWN_BYTES (the app's own blobs)"
AFTER_GC_BLOCKS=$(usage_blocks)
AFTER_GC_APPARENT=$(usage_apparent)
log "    blob directory: $BEFORE_GC_BLOCKS -> $AFTER_GC_BLOCKS bytes on disk ($BEFORE_GC_APPARENT -> $AFTER_GC_APPARENT apparent); the app's own layers: $OWN_LAYER_BYTES"
[ $((BEFORE_GC_BLOCKS - AFTER_GC_BLOCKS)) -ge "$OWN_LAYER_BYTES" ] ||
  fail "disk usage went down by $((BEFORE_GC_BLOCKS - AFTER_GC_BLOCKS)) bytes, want >= $OWN_LAYER_BYTES"
[ $((BEFORE_GC_APPARENT - AFTER_GC_APPARENT)) -ge "$OWN_BYTES" ] ||
  fail "apparent size went down by $((BEFORE_GC_APPARENT - AFTER_GC_APPARENT)) bytes, want >= $OWN_BYTES"
pass

step "the app's blobs are gone (files, and HEAD 404 in both repositories); the shared layer stays"
for d in $OWN; do
  [ ! -e "$(blob_file "$d")" ] || fail "blob $d is still on disk after gc"
  for repo in docker-dev docker-local; do
    expect_eq "HEAD $repo/$N blob $d" "$(http_status HEAD "/v2/$repo/$N/blobs/$d")" 404
  done
  expect_eq "HEAD docker-local/$KEEP blob $d (never linked there)" "$(http_status HEAD "/v2/docker-local/$KEEP/blobs/$d")" 404
done
[ -f "$(blob_file "$SHARED_D")" ] || fail "the shared layer $SHARED_D left the disk"
expect_eq "HEAD docker-local/$KEEP shared layer" "$(http_status HEAD "/v2/docker-local/$KEEP/blobs/$SHARED_D")" 200
pass

step "keeper (sharing a layer with the collected image) still pulls byte for byte"
run skopeo copy --preserve-digests $SRC_TLS "docker://$REG/docker-local/$KEEP:1" "oci:$E2E_TMP/keeper:1"
expect_eq "keeper manifest digest" "$(ref_digest "$E2E_TMP/keeper" 1)" "$KEEPER"
for d in $(jq -r '.config.digest, .layers[].digest' "$OCI/blobs/sha256/${KEEPER#sha256:}"); do
  cmp -s "$E2E_TMP/keeper/blobs/sha256/${d#sha256:}" "$OCI/blobs/sha256/${d#sha256:}" ||
    fail "keeper blob $d differs from the pushed one"
done
pass

step "a second gc run finds nothing more to free"
code=$(post_json /api/system/storage/gc '' "$E2E_TMP/gc2.json")
[ "$code" = 200 ] || fail "second gc answered $code"
expect_eq "second gc .blobs" "$(jq -r .blobs "$E2E_TMP/gc2.json")" 0
pass
