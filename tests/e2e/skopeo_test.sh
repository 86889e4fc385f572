#!/usr/bin/env bash
# End-to-end test with skopeo (containers/image): push and pull a multi-layer
# OCI image and a multi-arch index, inspect, list tags, copy between
# repositories (blob mount), delete. Usage: see lib.sh for the environment.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init
e2e_need_pkgs skopeo curl jq ca-certificates
e2e_client_env
e2e_start_registry

# Plain HTTP on loopback: containers/image does not trust loopback by itself.
SRC_TLS=--src-tls-verify=false
DST_TLS=--dest-tls-verify=false
TLS=--tls-verify=false
N=e2e/$E2E_RUN/skopeo      # image name inside each repository
LOCAL=$REG/docker-local/$N
DEV=$REG/docker-dev/$N
OCI=$E2E_TMP/src-layout

# Checks that every blob a pulled OCI layout holds has the digest it is named by.
check_layout_blobs() {
  local f
  for f in "$1"/blobs/sha256/*; do
    [ "$(sha256 "$f")" = "sha256:$(basename "$f")" ] || fail "pulled blob $f does not match its digest"
  done
}
# ref_digest LAYOUT TAG: the digest index.json gives for TAG.
ref_digest() {
  jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$1/index.json"
}

# ---------------------------------------------------------------- single image
step "build a 4-layer OCI image (3 MiB, 512 KiB, 16 KiB, 1 KiB layers)"
BASE_LAYER=$(e2e_layer 3072)
IMG=$(e2e_oci_image "$OCI" single amd64 "" "$BASE_LAYER" "$(e2e_layer 512)" "$(e2e_layer 16)" "$(e2e_layer 1)")
IMG_CFG=$(jq -r .config.digest "$OCI/blobs/sha256/${IMG#sha256:}")
pass "manifest $IMG"

step "skopeo copy oci: -> docker://$LOCAL:1"
run skopeo copy --preserve-digests $DST_TLS --digestfile "$E2E_TMP/d1" "oci:$OCI:single" "docker://$LOCAL:1"
expect_eq "digest of pushed manifest" "$(cat "$E2E_TMP/d1")" "$IMG"
pass

step "registry serves the manifest and blobs under the pushed digests (curl)"
check_manifest "docker-local/$N" 1 "$OCI_MT" "$IMG"
cp "$E2E_TMP/manifest" "$E2E_TMP/m1"
jq -r '.config, .layers[] | "\(.digest) \(.size)"' "$E2E_TMP/m1" >"$E2E_TMP/descs"
while read -r d size; do
  expect_eq "HEAD blob $d" "$(http_get HEAD "/v2/docker-local/$N/blobs/$d" "$E2E_TMP/blob")" 200
  expect_eq "HEAD blob $d Content-Length" "$(header_in "$E2E_TMP/blob.h" Content-Length)" "$size"
  expect_eq "HEAD blob $d Docker-Content-Digest" "$(header_in "$E2E_TMP/blob.h" Docker-Content-Digest)" "$d"
done <"$E2E_TMP/descs"
curl -fsS -o "$E2E_TMP/b1" "http://$REG/v2/docker-local/$N/blobs/$(jq -r '.layers[0].digest' "$E2E_TMP/m1")" ||
  fail "GET of the 3 MiB layer failed"
cmp -s "$E2E_TMP/b1" "$OCI/blobs/sha256/$(jq -r '.layers[0].digest' "$E2E_TMP/m1" | cut -d: -f2)" ||
  fail "3 MiB layer bytes differ from what was pushed"
pass

step "pull back by tag and by digest into OCI layouts; compare digests"
run skopeo copy --preserve-digests $SRC_TLS "docker://$LOCAL:1" "oci:$E2E_TMP/pull1:1"
expect_eq "pulled manifest digest (by tag)" "$(ref_digest "$E2E_TMP/pull1" 1)" "$IMG"
check_layout_blobs "$E2E_TMP/pull1"
run skopeo copy --preserve-digests $SRC_TLS "docker://$LOCAL@$IMG" "oci:$E2E_TMP/pull2:bydigest"
expect_eq "pulled manifest digest (by digest)" "$(ref_digest "$E2E_TMP/pull2" bydigest)" "$IMG"
check_layout_blobs "$E2E_TMP/pull2"
pass

step "skopeo inspect, --raw, --config"
run skopeo inspect $TLS "docker://$LOCAL:1"
expect_eq "inspect .Digest" "$(jq -r .Digest "$E2E_OUT")" "$IMG"
expect_eq "inspect .Architecture" "$(jq -r .Architecture "$E2E_OUT")" amd64
expect_eq "inspect layer count" "$(jq -r '.Layers | length' "$E2E_OUT")" 4
skopeo inspect $TLS --raw "docker://$LOCAL:1" >"$E2E_TMP/raw" || fail "skopeo inspect --raw failed"
expect_eq "sha256 of inspect --raw" "$(sha256 "$E2E_TMP/raw")" "$IMG"
skopeo inspect $TLS --config --raw "docker://$LOCAL:1" >"$E2E_TMP/cfg" || fail "skopeo inspect --config failed"
expect_eq "sha256 of inspect --config --raw" "$(sha256 "$E2E_TMP/cfg")" "$IMG_CFG"
expect_eq "config diff_ids" "$(jq -c .rootfs.diff_ids "$E2E_TMP/cfg")" \
  "$(jq -c .rootfs.diff_ids "$OCI/blobs/sha256/${IMG_CFG#sha256:}")"
pass

step "more tags (registry-to-registry copy), skopeo list-tags"
run skopeo copy --preserve-digests $SRC_TLS $DST_TLS "docker://$LOCAL:1" "docker://$LOCAL:2"
run skopeo copy --preserve-digests $SRC_TLS $DST_TLS "docker://$LOCAL:1" "docker://$LOCAL:latest"
run skopeo list-tags $TLS "docker://$LOCAL"
expect_eq "list-tags .Repository" "$(jq -r .Repository "$E2E_OUT")" "$LOCAL"
expect_eq "list-tags .Tags (sorted)" "$(jq -c '.Tags | sort' "$E2E_OUT")" '["1","2","latest"]'
expect_eq "digest of tag 2" "$(skopeo inspect $TLS --format '{{.Digest}}' "docker://$LOCAL:2")" "$IMG"
pass

# ---------------------------------------------------------------- multi-arch
step "build a 3-platform OCI index (amd64, arm64, arm/v7) sharing a base layer"
SMALL_BASE=$(e2e_layer 256)
AMD=$(e2e_oci_image "$OCI" amd64 amd64 "" "$SMALL_BASE" "$(e2e_layer 32)")
ARM64=$(e2e_oci_image "$OCI" arm64 arm64 v8 "$SMALL_BASE" "$(e2e_layer 32)")
ARMV7=$(e2e_oci_image "$OCI" armv7 arm v7 "$SMALL_BASE" "$(e2e_layer 32)")
IDX=$(e2e_oci_index "$OCI" multi "$AMD" "$ARM64" "$ARMV7")
pass "index $IDX"

step "skopeo copy --all oci: -> docker://$LOCAL:multi"
run skopeo copy --all --preserve-digests $DST_TLS --digestfile "$E2E_TMP/d2" "oci:$OCI:multi" "docker://$LOCAL:multi"
expect_eq "digest of pushed index" "$(cat "$E2E_TMP/d2")" "$IDX"
skopeo inspect $TLS --raw "docker://$LOCAL:multi" >"$E2E_TMP/rawidx" || fail "skopeo inspect --raw of the index failed"
expect_eq "sha256 of index from registry" "$(sha256 "$E2E_TMP/rawidx")" "$IDX"
check_manifest "docker-local/$N" multi "$INDEX_MT" "$IDX"
for m in "$AMD" "$ARM64" "$ARMV7"; do
  expect_eq "HEAD child manifest $m" \
    "$(http_status HEAD "/v2/docker-local/$N/manifests/$m" -H "Accept: $OCI_MT")" 200
done
pass

step "pull the index back with --all; compare digests"
run skopeo copy --all --preserve-digests $SRC_TLS "docker://$LOCAL:multi" "oci:$E2E_TMP/pull3:multi"
expect_eq "pulled index digest" "$(ref_digest "$E2E_TMP/pull3" multi)" "$IDX"
for m in "$AMD" "$ARM64" "$ARMV7"; do
  [ -f "$E2E_TMP/pull3/blobs/sha256/${m#sha256:}" ] || fail "child manifest $m missing after copy --all"
done
check_layout_blobs "$E2E_TMP/pull3"
pass

step "pick one platform: --override-arch/--override-variant"
run skopeo copy --preserve-digests $SRC_TLS --override-arch arm64 "docker://$LOCAL:multi" "oci:$E2E_TMP/pull4:arm64"
expect_eq "arm64 manifest digest" "$(ref_digest "$E2E_TMP/pull4" arm64)" "$ARM64"
run skopeo copy --preserve-digests $SRC_TLS --override-arch arm --override-variant v7 \
  "docker://$LOCAL:multi" "oci:$E2E_TMP/pull4:armv7"
expect_eq "arm/v7 manifest digest" "$(ref_digest "$E2E_TMP/pull4" armv7)" "$ARMV7"
run skopeo inspect $TLS --override-arch arm --override-variant v7 "docker://$LOCAL:multi"
expect_eq "inspect .Architecture (arm/v7)" "$(jq -r .Architecture "$E2E_OUT")" arm
pass

# ---------------------------------------------------------------- cross-repo
# The earlier pushes put the blobs in containers/image's blob-info cache, so
# copying to another repository of the same registry asks for a mount
# (POST /v2/<dev>/blobs/uploads/?mount=<digest>&from=<local>).
step "cross-repo copy docker-local -> docker-dev mounts blobs"
run skopeo --debug copy --preserve-digests $SRC_TLS $DST_TLS "docker://$LOCAL:1" "docker://$DEV:1"
mounts=$(grep -c 'mount OK' "$E2E_OUT" || true)
attempts=$(grep -c 'Trying to mount' "$E2E_OUT" || true)
log "    mount attempts: $attempts, mounted: $mounts"
[ "$attempts" -ge 1 ] || fail "skopeo did not try to mount any blob (is the blob-info cache unusable?)"
[ "$mounts" -ge 1 ] || { grep -i mount "$E2E_OUT" | tail -n 10 | sed 's/^/    | /' >&2; fail "no blob was mounted"; }
expect_eq "digest in docker-dev" "$(skopeo inspect $TLS --format '{{.Digest}}' "docker://$DEV:1")" "$IMG"
for d in $(jq -r '.config.digest, .layers[].digest' "$E2E_TMP/m1"); do
  expect_eq "HEAD blob $d in docker-dev" "$(http_status HEAD "/v2/docker-dev/$N/blobs/$d")" 200
done
pass

# ---------------------------------------------------------------- delete
step "skopeo delete the single image; its tags are gone, docker-dev is intact"
run skopeo delete $TLS "docker://$LOCAL:1"
run_fails skopeo inspect $TLS "docker://$LOCAL:1"
grep -qiE 'manifest unknown|not found' "$E2E_OUT" || fail "unexpected error after delete: $(tail -n1 "$E2E_OUT")"
run_fails skopeo inspect $TLS --raw "docker://$LOCAL@$IMG"
expect_eq "GET deleted manifest by digest" \
  "$(http_status GET "/v2/docker-local/$N/manifests/$IMG" -H "Accept: $OCI_MT")" 404
expect_eq "GET deleted tag 2" "$(http_status GET /v2/docker-local/$N/manifests/2 -H "Accept: $OCI_MT")" 404
run skopeo list-tags $TLS "docker://$LOCAL"
expect_eq "tags left" "$(jq -c '.Tags | sort' "$E2E_OUT")" '["multi"]'
# Blobs are content-addressed and shared: deleting in one repository must not
# break the copy in the other.
run skopeo copy --preserve-digests $SRC_TLS "docker://$DEV:1" "oci:$E2E_TMP/pull5:1"
expect_eq "docker-dev copy after delete" "$(ref_digest "$E2E_TMP/pull5" 1)" "$IMG"
check_layout_blobs "$E2E_TMP/pull5"
pass

step "skopeo delete the index by digest"
run skopeo delete $TLS "docker://$LOCAL@$IDX"
run_fails skopeo inspect $TLS --raw "docker://$LOCAL:multi"
pass
