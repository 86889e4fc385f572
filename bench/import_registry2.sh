#!/usr/bin/env bash
# Import rate of `berth import-registry2` (docs/benchmarks.md, "Migrating from
# registry:2"). Writes a registry:2 filesystem storage in its own layout:
# SMALL_IMAGES images of 20 blobs each (config, 18 layers of 1-64 KiB,
# manifest; 100 images = 2,000 blobs) and one image of LARGE layers of
# LARGE_MIB MiB, then imports it three times into fresh Berth storages:
#   link:  source and Berth on one filesystem (/tmp): hard links, source pages evicted first
#   again: the same import once more (idempotent: nothing new)
#   link-normal: as link, with storage.metadata_sync: normal (no WAL fsync per commit)
#   copy:  source on another filesystem (COPY_FROM, default /dev/shm): copies, fsynced to disk
# Usage: bench/import_registry2.sh   (BERTH=build/berth SMALL_IMAGES=100 LARGE=4 LARGE_MIB=256)
set -euo pipefail
BERTH=${BERTH:-build/berth}
SMALL_IMAGES=${SMALL_IMAGES:-100}
LARGE=${LARGE:-4}
LARGE_MIB=${LARGE_MIB:-256}
COPY_FROM=${COPY_FROM:-/dev/shm}
WORK=$(mktemp -d /tmp/berth-import-bench.XXXXXX)
COPY_DIR=$(mktemp -d "$COPY_FROM/berth-import-bench.XXXXXX")
trap 'rm -rf "$WORK" "$COPY_DIR"' EXIT
SRC=$WORK/registry
V2=$SRC/docker/registry/v2

# blob FILE: moves FILE into the registry:2 blob store; prints its hex digest.
blob() {
  local hex
  hex=$(sha256sum "$1" | cut -c1-64)
  mkdir -p "$V2/blobs/sha256/${hex:0:2}/$hex"
  mv "$1" "$V2/blobs/sha256/${hex:0:2}/$hex/data"
  echo "$hex"
}
link() {  # link REPO WHERE HEX
  mkdir -p "$V2/repositories/$1/$2/sha256/$3"
  printf 'sha256:%s' "$3" > "$V2/repositories/$1/$2/sha256/$3/link"
}
# image REPO SIZE...: config, one layer per size (bytes), manifest tagged v1.
image() {
  local repo=$1 layers="" hex size
  shift
  printf '{"architecture":"amd64","os":"linux","repo":"%s"}' "$repo" > "$WORK/f"
  local config_size config
  config_size=$(stat -c %s "$WORK/f"); config=$(blob "$WORK/f"); link "$repo" _layers "$config"
  for size in "$@"; do
    head -c "$size" /dev/urandom > "$WORK/f"
    hex=$(blob "$WORK/f"); link "$repo" _layers "$hex"
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$hex\",\"size\":$size}"
  done
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
    "$config" "$config_size" "$layers" > "$WORK/f"
  hex=$(blob "$WORK/f"); link "$repo" _manifests/revisions "$hex"
  mkdir -p "$V2/repositories/$repo/_manifests/tags/v1/current"
  printf 'sha256:%s' "$hex" > "$V2/repositories/$repo/_manifests/tags/v1/current/link"
}

echo "writing the registry:2 storage ($SMALL_IMAGES x 20 small blobs, $LARGE x $LARGE_MIB MiB) ..." >&2
for i in $(seq -w 1 "$SMALL_IMAGES"); do
  sizes=()
  for _ in $(seq 18); do sizes+=($((1024 + RANDOM * 2))); done
  image "bench/app-$i" "${sizes[@]}"
done
image bench/big $(for _ in $(seq "$LARGE"); do echo $((LARGE_MIB << 20)); done)
sync

run() {  # run NAME SOURCE_ROOT BERTH_ROOT [METADATA_SYNC]
  printf 'server: {listen: "127.0.0.1:0"}\nstorage: {root: "%s", metadata_sync: %s}\nrepositories:\n  - {key: docker-local, type: local}\n' \
    "$3" "${4:-full}" > "$WORK/berth.yml"
  # Cold source: its pages dropped, file by file (nothing else on the machine is touched).
  find "$2" -type f -name data -exec dd if={} iflag=nocache count=0 status=none \;
  echo "== $1"
  "$BERTH" import-registry2 --root "$2" --into docker-local --config "$WORK/berth.yml" </dev/null | sed -n '1,8p'
}
run link "$SRC" "$WORK/berth-link"
run again "$SRC" "$WORK/berth-link"
run link-normal "$SRC" "$WORK/berth-link-normal" normal
cp -a "$SRC/." "$COPY_DIR/"
run copy "$COPY_DIR" "$WORK/berth-copy"
