# tests/e2e/images.sh -- test images for the e2e tests, written without any
# container runtime. Sourced by lib.sh; needs jq, gzip, tar, sha256sum.

# Images are written directly (no container is ever run, nothing is pulled
# from the internet). Layers hold random bytes, so every run has new digests.

# e2e_layer KIB: makes an uncompressed layer tar with one random file of KIB
# KiB; prints its path.
e2e_layer() {
  local kib=$1 d
  d=$(mktemp -d "$E2E_TMP/layer.XXXXXX")
  mkdir -p "$d/root/e2e"
  head -c $((kib * 1024)) /dev/urandom >"$d/root/e2e/$(basename "$d").bin"
  tar --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$d/root" -cf "$d/layer.tar" e2e
  rm -rf "$d/root"
  echo "$d/layer.tar"
}

# _oci_blob LAYOUT FILE: moves FILE into LAYOUT/blobs/sha256; prints its digest.
_oci_blob() {
  local dg; dg=$(sha256 "$2")
  mv -f "$2" "$1/blobs/sha256/${dg#sha256:}"
  echo "$dg"
}
_oci_init() {
  mkdir -p "$1/blobs/sha256"
  [ -f "$1/oci-layout" ] || echo '{"imageLayoutVersion":"1.0.0"}' >"$1/oci-layout"
  [ -f "$1/index.json" ] || echo '{"schemaVersion":2,"manifests":[]}' >"$1/index.json"
}
# _oci_ref LAYOUT MEDIATYPE DIGEST TAG: adds a tagged entry to index.json.
_oci_ref() {
  local size; size=$(stat -c %s "$1/blobs/sha256/${3#sha256:}")
  jq -c --arg mt "$2" --arg d "$3" --argjson s "$size" --arg t "$4" \
    '.manifests += [{mediaType: $mt, digest: $d, size: $s, annotations: {"org.opencontainers.image.ref.name": $t}}]' \
    "$1/index.json" >"$1/index.json.new"
  mv "$1/index.json.new" "$1/index.json"
}

# e2e_oci_image LAYOUT TAG ARCH VARIANT LAYER.tar...: adds an image (gzip'd
# layers, OCI manifest) to the OCI layout LAYOUT as LAYOUT:TAG; prints the
# manifest digest. Layer tars are kept, so they can be shared between images.
e2e_oci_image() {
  local lay=$1 tag=$2 arch=$3 variant=$4; shift 4
  local t l diffs="[]" layers="[]" dg cfg man
  _oci_init "$lay"
  for l in "$@"; do
    t=$(mktemp "$E2E_TMP/blob.XXXXXX")
    gzip -n -1 -c "$l" >"$t"     # -n: no name/time, so the same tar gives the same blob
    diffs=$(jq -c --arg d "$(sha256 "$l")" '. + [$d]' <<<"$diffs")
    dg=$(_oci_blob "$lay" "$t")
    layers=$(jq -c --arg d "$dg" --argjson s "$(stat -c %s "$lay/blobs/sha256/${dg#sha256:}")" \
      '. + [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $d, size: $s}]' <<<"$layers")
  done
  t=$(mktemp "$E2E_TMP/blob.XXXXXX")
  jq -cn --arg a "$arch" --arg v "$variant" --argjson diffs "$diffs" \
    '{architecture: $a, os: "linux", config: {Env: ["E2E=1"]}, rootfs: {type: "layers", diff_ids: $diffs},
      history: [$diffs[] | {created_by: "berth e2e"}]} + (if $v == "" then {} else {variant: $v} end)' >"$t"
  cfg=$(_oci_blob "$lay" "$t")
  t=$(mktemp "$E2E_TMP/blob.XXXXXX")
  jq -cn --arg c "$cfg" --argjson s "$(stat -c %s "$lay/blobs/sha256/${cfg#sha256:}")" --argjson layers "$layers" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $s}, layers: $layers}' >"$t"
  man=$(_oci_blob "$lay" "$t")
  _oci_ref "$lay" application/vnd.oci.image.manifest.v1+json "$man" "$tag"
  echo "$man"
}

# e2e_oci_index LAYOUT TAG MANIFEST-DIGEST...: adds an OCI image index of
# images already in LAYOUT (platforms read from their configs); prints its digest.
e2e_oci_index() {
  local lay=$1 tag=$2 m cfg ents="[]" t idx; shift 2
  for m in "$@"; do
    cfg=$(jq -r .config.digest "$lay/blobs/sha256/${m#sha256:}")
    ents=$(jq -c --arg d "$m" --argjson s "$(stat -c %s "$lay/blobs/sha256/${m#sha256:}")" \
      --slurpfile c "$lay/blobs/sha256/${cfg#sha256:}" \
      '. + [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
             platform: ({architecture: $c[0].architecture, os: $c[0].os}
                        + (if $c[0].variant then {variant: $c[0].variant} else {} end))}]' <<<"$ents")
  done
  t=$(mktemp "$E2E_TMP/blob.XXXXXX")
  jq -cn --argjson m "$ents" '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: $m}' >"$t"
  idx=$(_oci_blob "$lay" "$t")
  _oci_ref "$lay" application/vnd.oci.image.index.v1+json "$idx" "$tag"
  echo "$idx"
}

# e2e_docker_archive OUT.tar REPO:TAG ARCH LAYER.tar...: writes a
# `docker save`-style archive (for `docker load`) of a one-platform image.
e2e_docker_archive() {
  local out=$1 ref=$2 arch=$3 d l n=0 diffs="[]" paths="[]" cfg; shift 3
  d=$(mktemp -d "$E2E_TMP/archive.XXXXXX")
  for l in "$@"; do
    n=$((n + 1)); mkdir "$d/l$n"; cp "$l" "$d/l$n/layer.tar"
    diffs=$(jq -c --arg d "$(sha256 "$l")" '. + [$d]' <<<"$diffs")
    paths=$(jq -c --arg p "l$n/layer.tar" '. + [$p]' <<<"$paths")
  done
  jq -cn --arg a "$arch" --argjson diffs "$diffs" \
    '{architecture: $a, os: "linux", config: {Env: ["E2E=1"]}, rootfs: {type: "layers", diff_ids: $diffs}}' >"$d/config.json"
  cfg=$(sha256sum "$d/config.json" | cut -d' ' -f1)
  mv "$d/config.json" "$d/$cfg.json"
  jq -cn --arg c "$cfg.json" --arg r "$ref" --argjson l "$paths" '[{Config: $c, RepoTags: [$r], Layers: $l}]' >"$d/manifest.json"
  tar -C "$d" -cf "$out" .
  rm -rf "$d"
}
