#!/usr/bin/env bash
# End-to-end test of a remote repository (issue 8) with skopeo: images pushed
# to Debian's docker-registry (distribution 2.8.2) on loopback are pulled
# through berth's docker-remote repository cold, then again with that
# upstream stopped (served from berth's cache): a multi-layer image into a
# dir: and a multi-arch index with --all. Usage: see lib.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init
[ -z "${E2E_REGISTRY:-}" ] && [ "${E2E_REFERENCE:-0}" != 1 ] ||
  skip "the remote repository test needs the berth it starts itself"
e2e_need_pkgs skopeo curl jq ca-certificates docker-registry
e2e_client_env

# ---------------------------------------------------------------- upstream
step "start the upstream (docker-registry) and berth with docker-remote over it"
e2e_start_upstream
E2E_BERTH_EXTRA_REPOS="  - key: docker-remote
    type: remote
    url: \"http://$UP\""
e2e_start_registry
pass

SRC_TLS=--src-tls-verify=false
DST_TLS=--dest-tls-verify=false
TLS=--tls-verify=false
N=e2e/$E2E_RUN/remote
REMOTE=$REG/docker-remote/$N
OCI=$E2E_TMP/src-layout

# Every blob a pulled layout (oci:) or directory (dir:) holds has the digest it is named by.
check_blobs() {
  local f n=0
  for f in "$@"; do
    case $(basename "$f") in manifest.json | version | index.json | oci-layout) continue ;; esac
    [ "$(sha256 "$f")" = "sha256:$(basename "$f")" ] || fail "pulled blob $f does not match its digest"
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || fail "no blobs pulled"
}
ref_digest() {
  jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$1/index.json"
}
# pull_single DIR: skopeo copy docker-remote/...:1 -> dir:DIR, checked.
pull_single() {
  run skopeo copy --preserve-digests $SRC_TLS "docker://$REMOTE:1" "dir:$1"
  expect_eq "digest of the pulled manifest" "$(sha256 "$1/manifest.json")" "$IMG"
  check_blobs "$1"/*
  expect_eq "blobs pulled (config + 4 layers)" "$(find "$1" -name '[0-9a-f]*' -type f | wc -l)" 5
  cmp -s "$1/${BIG#sha256:}" "$OCI/blobs/sha256/${BIG#sha256:}" || fail "the 4 MiB layer differs from what was pushed"
}
# pull_multi LAYOUT: skopeo copy --all docker-remote/...:multi -> oci:LAYOUT, checked.
pull_multi() {
  run skopeo copy --all --preserve-digests $SRC_TLS "docker://$REMOTE:multi" "oci:$1:multi"
  expect_eq "digest of the pulled index" "$(ref_digest "$1" multi)" "$IDX"
  for m in "$AMD" "$ARM64" "$ARMV7"; do
    [ -f "$1/blobs/sha256/${m#sha256:}" ] || fail "child manifest $m missing after copy --all"
  done
  check_blobs "$1"/blobs/sha256/*
}

step "build a 4-layer image (4 MiB base layer) and a 3-platform index; push them upstream"
BASE=$(e2e_layer 4096)
IMG=$(e2e_oci_image "$OCI" single amd64 "" "$BASE" "$(e2e_layer 512)" "$(e2e_layer 16)" "$(e2e_layer 1)")
BIG=$(jq -r '.layers[0].digest' "$OCI/blobs/sha256/${IMG#sha256:}")
SMALL=$(e2e_layer 256)
AMD=$(e2e_oci_image "$OCI" amd64 amd64 "" "$SMALL" "$(e2e_layer 32)")
ARM64=$(e2e_oci_image "$OCI" arm64 arm64 v8 "$SMALL" "$(e2e_layer 32)")
ARMV7=$(e2e_oci_image "$OCI" armv7 arm v7 "$SMALL" "$(e2e_layer 32)")
IDX=$(e2e_oci_index "$OCI" multi "$AMD" "$ARM64" "$ARMV7")
run skopeo copy --preserve-digests $DST_TLS "oci:$OCI:single" "docker://$UP/$N:1"
run skopeo copy --all --preserve-digests $DST_TLS "oci:$OCI:multi" "docker://$UP/$N:multi"
pass "image $IMG, index $IDX"

step "cold: skopeo copy docker://$REMOTE:1 dir: (fetched from the upstream)"
pull_single "$E2E_TMP/cold-single"
pass

step "cold: skopeo copy --all docker://$REMOTE:multi oci:"
pull_multi "$E2E_TMP/cold-multi"
pass

step "list-tags and inspect through the remote"
run skopeo list-tags $TLS "docker://$REMOTE"
expect_eq "list-tags (the upstream's)" "$(jq -c '.Tags | sort' "$E2E_OUT")" '["1","multi"]'
run skopeo inspect $TLS "docker://$REMOTE:1"
expect_eq "inspect .Digest" "$(jq -r .Digest "$E2E_OUT")" "$IMG"
pass

step "stop the upstream"
e2e_stop_upstream
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$UP/v2/" || true)
[ "$code" = 000 ] || fail "the upstream still answers ($code)"
pass

step "warm: the same copies, served from berth's cache"
pull_single "$E2E_TMP/warm-single"
pull_multi "$E2E_TMP/warm-multi"
run skopeo inspect $TLS "docker://$REMOTE@$IMG"
expect_eq "inspect by digest" "$(jq -r .Digest "$E2E_OUT")" "$IMG"
run skopeo list-tags $TLS "docker://$REMOTE"
expect_eq "list-tags (the cached ones)" "$(jq -c '.Tags | sort' "$E2E_OUT")" '["1","multi"]'
pass

step "a tag never pulled fails: the upstream is unavailable"
run_fails skopeo inspect $TLS "docker://$REMOTE:never-pulled"
grep -q '503' "$E2E_OUT" || fail "unexpected error: $(tail -n1 "$E2E_OUT")"
pass
