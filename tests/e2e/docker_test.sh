#!/usr/bin/env bash
# End-to-end test with dockerd + the docker CLI: load/import images, push
# (Docker v2s2), remove, pull back by tag and digest, compare digests; a
# cross-repository push (blob mount) and a multi-arch list via `docker manifest`.
# A private dockerd runs on a unix socket under the temp dir (vfs storage, no
# bridge, no iptables); if it cannot start here, the test is skipped.
# Usage: see lib.sh for the environment.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init
e2e_need_pkgs docker.io containerd curl jq ca-certificates
e2e_client_env

source "$(dirname "${BASH_SOURCE[0]}")/dockerd.sh"

# pushed_digest: the digest `docker push` printed ("<tag>: digest: sha256:... size: N").
pushed_digest() { grep -oE 'digest: sha256:[0-9a-f]{64}' "$E2E_OUT" | tail -n1 | cut -d' ' -f2; }
repo_digests() { docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$1"; }
image_id() { docker image inspect --format '{{.Id}}' "$1"; }

step "start a private dockerd"
start_dockerd
pass "server $(docker version --format '{{.Server.Version}}'), client $(docker version --format '{{.Client.Version}}')"
e2e_start_registry
N=e2e/$E2E_RUN/docker      # image name inside each repository
IMG=$REG/docker-local/$N
DEV=$REG/docker-dev/$N

# ---------------------------------------------------------------- load/push/pull
step "docker load a generated 3-layer image (2 MiB, 128 KiB, 1 KiB)"
e2e_docker_archive "$E2E_TMP/load.tar" "$IMG:load" amd64 "$(e2e_layer 2048)" "$(e2e_layer 128)" "$(e2e_layer 1)"
run docker load -i "$E2E_TMP/load.tar"
LOAD_ID=$(image_id "$IMG:load")
pass "image $LOAD_ID"

step "docker push $IMG:load"
run docker push "$IMG:load"
D_LOAD=$(pushed_digest)
[ -n "$D_LOAD" ] || fail "no digest in the push output: $(tail -n1 "$E2E_OUT")"
# dockerd pulls with HEAD /manifests/<tag> and needs Docker-Content-Digest.
check_manifest "docker-local/$N" load "$V2S2_MT" "$D_LOAD"
pass "digest $D_LOAD"

step "docker manifest inspect --insecure"
run docker manifest inspect --insecure -v "$IMG:load"
expect_eq "Descriptor.digest" "$(jq -r .Descriptor.digest "$E2E_OUT")" "$D_LOAD"
expect_eq "mediaType" "$(jq -r .SchemaV2Manifest.mediaType "$E2E_OUT")" "$V2S2_MT"
expect_eq "layer count" "$(jq -r '.SchemaV2Manifest.layers | length' "$E2E_OUT")" 3
pass

step "docker rmi, pull by tag and by digest; compare digests and image ID"
run docker rmi "$IMG:load"
run docker pull "$IMG:load"
grep -qF "Digest: $D_LOAD" "$E2E_OUT" || fail "pull reported another digest: $(grep Digest: "$E2E_OUT")"
repo_digests "$IMG:load" | grep -xF "$IMG@$D_LOAD" >/dev/null || fail "RepoDigests lack $IMG@$D_LOAD: $(repo_digests "$IMG:load")"
# The image ID is the config digest: it must survive the round trip.
expect_eq "image ID after pull" "$(image_id "$IMG:load")" "$LOAD_ID"
run docker rmi "$IMG:load"
run docker pull "$IMG@$D_LOAD"
expect_eq "image ID after pull by digest" "$(image_id "$IMG@$D_LOAD")" "$LOAD_ID"
pass

step "docker import a tarball, push, rmi, pull back"
run docker import "$(e2e_layer 512)" "$IMG:import"
IMPORT_ID=$(image_id "$IMG:import")
run docker push "$IMG:import"
D_IMPORT=$(pushed_digest)
run docker rmi "$IMG:import"
run docker pull "$IMG:import"
repo_digests "$IMG:import" | grep -xF "$IMG@$D_IMPORT" >/dev/null || fail "RepoDigests lack $IMG@$D_IMPORT"
expect_eq "image ID after pull" "$(image_id "$IMG:import")" "$IMPORT_ID"
pass "digest $D_IMPORT"

# ---------------------------------------------------------------- cross-repo
# dockerd remembers which repository each blob came from and asks the
# registry to mount it (POST .../blobs/uploads/?mount=<digest>&from=<repo>).
step "push the same image to docker-dev: blobs are mounted from docker-local"
run docker tag "$IMG@$D_LOAD" "$DEV:load"
run docker push "$DEV:load"
grep -q "Mounted from docker-local/$N" "$E2E_OUT" ||
  { sed 's/^/    | /' "$E2E_OUT" >&2; fail "no layer was mounted from docker-local/$N"; }
expect_eq "digest in docker-dev" "$(pushed_digest)" "$D_LOAD"
run docker rmi "$DEV:load"
run docker pull "$DEV:load"
expect_eq "image ID pulled from docker-dev" "$(image_id "$DEV:load")" "$LOAD_ID"
pass

# ---------------------------------------------------------------- multi-arch
# `docker manifest` talks to the registry itself (not through dockerd) and
# needs --insecure for plain HTTP even on loopback.
step "docker manifest create/push a 2-platform list (amd64 + arm64)"
e2e_docker_archive "$E2E_TMP/arm64.tar" "$IMG:arm64" arm64 "$(e2e_layer 64)"
run docker load -i "$E2E_TMP/arm64.tar"
ARM64_ID=$(image_id "$IMG:arm64")
run docker push "$IMG:arm64"
D_ARM64=$(pushed_digest)
run docker manifest create --insecure "$IMG:multi" "$IMG:load" "$IMG:arm64"
run docker manifest push --insecure --purge "$IMG:multi"
D_LIST=$(grep -oE 'sha256:[0-9a-f]{64}' "$E2E_OUT" | tail -n1)
[ -n "$D_LIST" ] || fail "no digest in the manifest push output: $(tail -n1 "$E2E_OUT")"
check_manifest "docker-local/$N" multi "$LIST_MT" "$D_LIST"
run docker manifest inspect --insecure "$IMG:multi"
expect_eq "platforms" "$(jq -c '[.manifests[] | .platform.architecture + "=" + .digest] | sort' "$E2E_OUT")" \
  "$(jq -cn --arg a "amd64=$D_LOAD" --arg b "arm64=$D_ARM64" '[$a, $b]')"
pass "list $D_LIST"

step "docker pull --platform linux/arm64 from the list"
run docker rmi "$IMG:arm64"
run docker pull --platform linux/arm64 "$IMG:multi"
expect_eq "pulled image ID" "$(image_id "$IMG:multi")" "$ARM64_ID"
expect_eq "pulled architecture" "$(docker image inspect --format '{{.Architecture}}' "$IMG:multi")" arm64
pass
