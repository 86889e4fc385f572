#!/usr/bin/env bash
# End-to-end test with podman and buildah (vfs storage, plain HTTP): push in
# OCI and Docker v2s2 formats, remove locally, pull back, compare digests; push
# manifest lists with `manifest push --all` and pull one platform back.
# Usage: see lib.sh for the environment.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init
e2e_need_pkgs podman buildah curl jq ca-certificates
e2e_client_env
e2e_start_registry

TLS=--tls-verify=false   # plain HTTP: containers/image does not trust loopback
P=docker-local/e2e/$E2E_RUN/podman
B=docker-local/e2e/$E2E_RUN/buildah
local_digest() { podman image inspect --format '{{.Digest}}' "$1"; }
# has_repo_digest IMAGE NAME@DIGEST: a pull from a list records the list's
# digest as .Digest and the instance's among RepoDigests (podman and buildah
# share the storage, so podman can tell for both).
has_repo_digest() {
  podman image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$1" | grep -xF "$2" >/dev/null ||
    fail "$2 not among RepoDigests of $1: $(podman image inspect --format '{{.RepoDigests}}' "$1")"
}

# ---------------------------------------------------------------- podman
step "podman load a 3-layer image (2 MiB, 256 KiB, 4 KiB) from a generated docker-archive"
e2e_docker_archive "$E2E_TMP/podman.tar" localhost/e2e/podman:amd64 amd64 \
  "$(e2e_layer 2048)" "$(e2e_layer 256)" "$(e2e_layer 4)"
run podman load -i "$E2E_TMP/podman.tar"
expect_eq "layers of the loaded image" \
  "$(podman image inspect --format '{{len .RootFS.Layers}}' localhost/e2e/podman:amd64)" 3
pass

for fmt in oci v2s2; do
  step "podman push --format $fmt -> $REG/$P:$fmt"
  run podman push $TLS --format $fmt --digestfile "$E2E_TMP/pd-$fmt" localhost/e2e/podman:amd64 "docker://$REG/$P:$fmt"
  mt=$OCI_MT; [ $fmt = v2s2 ] && mt=$V2S2_MT
  check_manifest "$P" "$fmt" "$mt" "$(cat "$E2E_TMP/pd-$fmt")"
  pass "$fmt manifest $(cat "$E2E_TMP/pd-$fmt")"
done
[ "$(cat "$E2E_TMP/pd-oci")" != "$(cat "$E2E_TMP/pd-v2s2")" ] || fail "OCI and v2s2 pushes gave the same digest"

# Both formats share one config, hence one local image ID: remove the image
# between pulls so the digest read back is the one just pulled.
step "podman rmi, then pull each format back by tag and by digest"
run podman rmi localhost/e2e/podman:amd64
for fmt in oci v2s2; do
  dg=$(cat "$E2E_TMP/pd-$fmt")
  run podman pull $TLS "$REG/$P:$fmt"
  expect_eq "digest of pulled $P:$fmt" "$(local_digest "$REG/$P:$fmt")" "$dg"
  expect_eq "layers of pulled $P:$fmt" "$(podman image inspect --format '{{len .RootFS.Layers}}' "$REG/$P:$fmt")" 3
  run podman rmi "$REG/$P:$fmt"
  run podman pull $TLS "$REG/$P@$dg"
  expect_eq "digest of pulled $P@$dg" "$(local_digest "$REG/$P@$dg")" "$dg"
  if [ $fmt = oci ]; then run podman rmi "$REG/$P@$dg"; fi
done
pass

step "podman search --list-tags"
run podman search $TLS --list-tags "$REG/$P"
for t in oci v2s2; do grep -qE "[[:space:]]$t\$" "$E2E_OUT" || fail "tag $t missing from: $(tr '\n' ' ' <"$E2E_OUT")"; done
pass

# ---------------------------------------------------------------- buildah
step "buildah from scratch + add + commit (2 layers)"
ctr=$(buildah from scratch)
run buildah add "$ctr" "$(e2e_layer 1024)" /    # a local tar is extracted, like ADD
run buildah config --arch amd64 --os linux --label e2e=buildah "$ctr"
run buildah commit -q "$ctr" localhost/e2e/buildah:base
run buildah rm "$ctr"
ctr=$(buildah from localhost/e2e/buildah:base)
run buildah add "$ctr" "$(e2e_layer 128)" /
run buildah commit -q "$ctr" localhost/e2e/buildah:amd64
run buildah rm "$ctr"
pass

for fmt in oci docker; do
  step "buildah push --format $fmt -> $REG/$B:$fmt"
  run buildah push $TLS --format $fmt --digestfile "$E2E_TMP/bd-$fmt" localhost/e2e/buildah:amd64 "docker://$REG/$B:$fmt"
  mt=$OCI_MT; [ $fmt = docker ] && mt=$V2S2_MT
  check_manifest "$B" "$fmt" "$mt" "$(cat "$E2E_TMP/bd-$fmt")"
  pass "$fmt manifest $(cat "$E2E_TMP/bd-$fmt")"
done

# Both formats share one config, hence one local image ID: remove the image
# between pulls so the digest read back is the one just pulled.
step "buildah rmi, then pull each format back; compare digests"
run buildah rmi localhost/e2e/buildah:amd64 localhost/e2e/buildah:base
for fmt in oci docker; do
  run buildah pull $TLS "$REG/$B:$fmt"
  expect_eq "digest of pulled $B:$fmt" \
    "$(buildah images --format '{{.Digest}}' "$REG/$B:$fmt")" "$(cat "$E2E_TMP/bd-$fmt")"
  expect_eq "label of pulled $B:$fmt" \
    "$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "e2e"}}' "$REG/$B:$fmt")" buildah
  if [ $fmt = oci ]; then run buildah rmi "$REG/$B:$fmt"; fi
done
pass

# ---------------------------------------------------------------- lists
step "podman manifest create/add (amd64 + arm64 images), push --all (OCI index)"
run podman import --arch arm64 "$(e2e_layer 64)" localhost/e2e/podman:arm64
run podman manifest create localhost/e2e/podman-list:1
# Local images need the containers-storage: transport (the default is docker://).
run podman manifest add localhost/e2e/podman-list:1 "containers-storage:$REG/$P@$(cat "$E2E_TMP/pd-v2s2")"
run podman manifest add localhost/e2e/podman-list:1 containers-storage:localhost/e2e/podman:arm64
run podman manifest push $TLS --all --digestfile "$E2E_TMP/pl" localhost/e2e/podman-list:1 "docker://$REG/$P-list:1"
check_manifest "$P-list" 1 "$INDEX_MT" "$(cat "$E2E_TMP/pl")"
expect_eq "platforms in the index" \
  "$(jq -c '[.manifests[].platform.architecture] | sort' "$E2E_TMP/manifest")" '["amd64","arm64"]'
ARM64=$(jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest' "$E2E_TMP/manifest")
# Children are pushed by digest before the list: each must be there on its own.
for d in $(jq -r '.manifests[].digest' "$E2E_TMP/manifest"); do
  expect_eq "HEAD child $d" "$(http_status HEAD "/v2/$P-list/manifests/$d" -H "Accept: $ANY_MT")" 200
done
pass

# The local arm64 image has the same config (same image ID): remove it, or the
# pull would just add a name to it and keep its old digest.
step "podman pull --arch arm64 from the list"
run podman manifest rm localhost/e2e/podman-list:1
run podman rmi localhost/e2e/podman:arm64
run podman pull $TLS --arch arm64 "$REG/$P-list:1"
expect_eq "architecture" "$(podman image inspect --format '{{.Architecture}}' "$REG/$P-list:1")" arm64
expect_eq "digest of the pulled list" "$(local_digest "$REG/$P-list:1")" "$(cat "$E2E_TMP/pl")"
has_repo_digest "$REG/$P-list:1" "$REG/$P-list@$ARM64"
pass

step "buildah manifest create/add (amd64 + arm/v7), push --all --format v2s2 (Docker list)"
ctr=$(buildah from scratch)
run buildah add "$ctr" "$(e2e_layer 64)" /
run buildah config --arch arm --variant v7 --os linux "$ctr"
run buildah commit -q "$ctr" localhost/e2e/buildah:armv7
run buildah rm "$ctr"
run buildah manifest create localhost/e2e/buildah-list:1
run buildah manifest add localhost/e2e/buildah-list:1 "containers-storage:$REG/$B:docker"
run buildah manifest add localhost/e2e/buildah-list:1 containers-storage:localhost/e2e/buildah:armv7
run buildah manifest push $TLS --all --format v2s2 --digestfile "$E2E_TMP/bl" \
  localhost/e2e/buildah-list:1 "docker://$REG/$B-list:1"
check_manifest "$B-list" 1 "$LIST_MT" "$(cat "$E2E_TMP/bl")"
expect_eq "platforms in the list" \
  "$(jq -c '[.manifests[].platform | .architecture + (.variant // "" | if . == "" then "" else "/" + . end)] | sort' "$E2E_TMP/manifest")" \
  '["amd64","arm/v7"]'
ARMV7=$(jq -r '.manifests[] | select(.platform.architecture == "arm") | .digest' "$E2E_TMP/manifest")
for d in $(jq -r '.manifests[].digest' "$E2E_TMP/manifest"); do
  expect_eq "HEAD child $d" "$(http_status HEAD "/v2/$B-list/manifests/$d" -H "Accept: $ANY_MT")" 200
done
pass

step "buildah pull --arch arm --variant v7 from the list"
run buildah manifest rm localhost/e2e/buildah-list:1
run buildah rmi localhost/e2e/buildah:armv7
run buildah pull $TLS --arch arm --variant v7 "$REG/$B-list:1"
expect_eq "digest of the pulled list" "$(buildah images --format '{{.Digest}}' "$REG/$B-list:1")" "$(cat "$E2E_TMP/bl")"
has_repo_digest "$REG/$B-list:1" "$REG/$B-list@$ARMV7"
expect_eq "architecture/variant" \
  "$(buildah inspect --type image --format '{{.OCIv1.Architecture}}/{{.OCIv1.Variant}}' "$REG/$B-list:1")" arm/v7
pass
