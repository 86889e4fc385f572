#!/usr/bin/env bash
# End-to-end test of a virtual repository (issue 9) with skopeo, podman and
# docker (a private dockerd; its steps are left out, with a note, where
# dockerd cannot start here). berth serves
#   docker: virtual [docker-local, docker-remote] deploying to docker-local
# where docker-remote's upstream is Debian's docker-registry on loopback.
# Open registry: each client pushes through the virtual key (the image lands
# in docker-local and pulls through both keys) and pulls back through it,
# and pulls an image only the upstream has; with the upstream stopped, new
# images are still pushed through the virtual key. "Known bug" steps show
# what fails today without failing the test. Then berth again with security
# on: `podman login` / `docker login` against the virtual key's token realm
# (on the main port, and on the virtual key's own `port:`) as a user with
# deploy on docker-local and read on the virtual key, push and pull through
# it; a reader may not push; the remote member, which that user may not
# read, is skipped. Usage: see lib.sh (E2E_REGISTRY / E2E_REFERENCE are not
# supported: the test needs the berth it starts itself).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init
[ -z "${E2E_REGISTRY:-}" ] && [ "${E2E_REFERENCE:-0}" != 1 ] ||
  skip "the virtual repository test needs the berth it starts itself"
e2e_need_pkgs skopeo podman curl jq ca-certificates docker-registry apache2-utils python3
e2e_client_env
DOCKERD_OPTIONAL=1 source "$(dirname "${BASH_SOURCE[0]}")/dockerd.sh"

TLS=--tls-verify=false   # plain HTTP: containers/image does not trust loopback
N=e2e/$E2E_RUN/virtual
OCI=$E2E_TMP/layout
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pushed_digest() { grep -oE 'digest: sha256:[0-9a-f]{64}' "$E2E_OUT" | tail -n1 | cut -d' ' -f2; }
image_id() { docker image inspect --format '{{.Id}}' "$1"; }
podman_digest() { podman image inspect --format '{{.Digest}}' "$1"; }
# granted USER:PASSWORD HOST:PORT SCOPE: the actions of the token that the
# token endpoint (the challenge's realm) at HOST:PORT issues for SCOPE.
granted() {
  local jwt payload
  jwt=$(curl -s --max-time 60 -u "$1" "http://$2/v2/token?service=$2&scope=$3" | jq -r .token)
  payload=$(cut -d. -f2 <<<"$jwt" | tr '_-' '/+')
  while [ $((${#payload} % 4)) -ne 0 ]; do payload+="="; done
  base64 -d <<<"$payload" | jq -c '[.access[].actions[]]'
}
# tokens_served: Bearer tokens berth has issued so far (its access log).
# Access lines of the token endpoint answered 200 (JSON fields, or text mode).
tokens_served() { grep -cE '"path":"/v2/token","status":200|path=/v2/token status=200' "$E2E_SERVER_LOG" || true; }
# expect_missing KEY/IMAGE REF [curl args]: the manifest is not there (404).
expect_missing() {
  expect_eq "HEAD /v2/$1/manifests/$2" "$(http_status HEAD "/v2/$1/manifests/$2" -H "Accept: $ANY_MT" "${@:3}")" 404
}

# ---------------------------------------------------------------- upstream
step "start the upstream (docker-registry), push an image only it has; start berth"
e2e_start_upstream
R_IMG=$(e2e_oci_image "$OCI" remote amd64 "" "$(e2e_layer 256)" "$(e2e_layer 8)")
run skopeo copy --dest-tls-verify=false --preserve-digests "oci:$OCI:remote" "docker://$UP/$N/remote:1"
run skopeo copy --dest-tls-verify=false --preserve-digests "oci:$OCI:remote" "docker://$UP/$N/base:1"
REPOS="  - key: docker-remote
    type: remote
    url: \"http://$UP\"
  - key: docker
    type: virtual
    repositories: [docker-local, docker-remote]
    default_deployment_repo: docker-local"
E2E_BERTH_EXTRA_REPOS=$REPOS e2e_start_registry
pass "upstream $UP ($R_IMG), berth $REG"

# ---------------------------------------------------------------- skopeo
step "skopeo: push through the virtual key; it lands in docker-local only"
S_IMG=$(e2e_oci_image "$OCI" skopeo amd64 "" "$(e2e_layer 256)" "$(e2e_layer 4)")
run skopeo copy --dest-tls-verify=false --preserve-digests --digestfile "$E2E_TMP/sd" \
  "oci:$OCI:skopeo" "docker://$REG/docker/$N/skopeo:1"
expect_eq "pushed digest" "$(cat "$E2E_TMP/sd")" "$S_IMG"
check_manifest "docker-local/$N/skopeo" 1 "$OCI_MT" "$S_IMG"
check_manifest "docker/$N/skopeo" 1 "$OCI_MT" "$S_IMG"
expect_missing "docker-dev/$N/skopeo" 1
expect_eq "upstream has no $N/skopeo" "$(curl -s -o /dev/null -w '%{http_code}' "http://$UP/v2/$N/skopeo/manifests/1")" 404
pass

step "skopeo: pull back through the virtual key and through docker-local"
for key in docker docker-local; do
  run skopeo copy --src-tls-verify=false --preserve-digests "docker://$REG/$key/$N/skopeo:1" "dir:$E2E_TMP/sk-$key"
  expect_eq "digest pulled through $key" "$(sha256 "$E2E_TMP/sk-$key/manifest.json")" "$S_IMG"
  for f in "$E2E_TMP/sk-$key"/[0-9a-f]*; do
    [ "$(sha256 "$f")" = "sha256:$(basename "$f")" ] || fail "blob $f pulled through $key does not match its digest"
  done
done
pass

step "skopeo: pull the image only the remote member has, through the virtual key"
run skopeo copy --src-tls-verify=false --preserve-digests "docker://$REG/docker/$N/remote:1" "dir:$E2E_TMP/sk-remote"
expect_eq "digest pulled through the virtual key" "$(sha256 "$E2E_TMP/sk-remote/manifest.json")" "$R_IMG"
check_manifest "docker/$N/remote" 1 "$OCI_MT" "$R_IMG"
expect_missing "docker-local/$N/remote" 1
pass

step "skopeo: list-tags through the virtual key merges both members"
# The remote-only image under another tag, pushed to docker-local directly.
run skopeo copy --dest-tls-verify=false --preserve-digests "oci:$OCI:remote" "docker://$REG/docker-local/$N/remote:local"
check_manifest "docker/$N/remote" local "$OCI_MT" "$R_IMG"
run skopeo list-tags $TLS "docker://$REG/docker/$N/remote"
expect_eq "tags through the virtual key" "$(jq -c '.Tags | sort' "$E2E_OUT")" '["1","local"]'
pass

# ---------------------------------------------------------------- podman
step "podman: load, push through the virtual key, rmi, pull back through both keys"
e2e_docker_archive "$E2E_TMP/podman.tar" localhost/e2e/virtual:podman amd64 "$(e2e_layer 256)" "$(e2e_layer 2)"
run podman load -i "$E2E_TMP/podman.tar"
run podman push $TLS --digestfile "$E2E_TMP/pd" localhost/e2e/virtual:podman "docker://$REG/docker/$N/podman:1"
P_IMG=$(cat "$E2E_TMP/pd")
check_manifest "docker-local/$N/podman" 1 "$V2S2_MT" "$P_IMG"
run podman rmi localhost/e2e/virtual:podman
for key in docker docker-local; do
  run podman pull $TLS "$REG/$key/$N/podman:1"
  expect_eq "digest pulled through $key" "$(podman_digest "$REG/$key/$N/podman:1")" "$P_IMG"
  run podman rmi "$REG/$key/$N/podman:1"
done
pass "digest $P_IMG"

step "podman: pull the remote-only image through the virtual key"
run podman pull $TLS "$REG/docker/$N/remote:1"
expect_eq "digest pulled" "$(podman_digest "$REG/docker/$N/remote:1")" "$R_IMG"
run podman rmi "$REG/docker/$N/remote:1"
pass

# ---------------------------------------------------------------- docker
step "docker: start a private dockerd"
if ! command -v dockerd >/dev/null; then
  (e2e_need_pkgs docker.io containerd) || log "docker.io could not be installed"
fi
HAVE_DOCKER=0
if command -v dockerd >/dev/null && start_dockerd; then
  HAVE_DOCKER=1
  pass "dockerd $(docker version --format '{{.Server.Version}}')"
else
  log "NOTE: the docker steps are not run: dockerd cannot start on this machine${DOCKERD_WHY:+ ($DOCKERD_WHY)}"
fi

if [ $HAVE_DOCKER = 1 ]; then
  step "docker: load, push through the virtual key, rmi, pull back through both keys"
  D=$REG/docker/$N/docker
  e2e_docker_archive "$E2E_TMP/docker.tar" "$D:1" amd64 "$(e2e_layer 256)" "$(e2e_layer 2)"
  run docker load -i "$E2E_TMP/docker.tar"
  D_ID=$(image_id "$D:1")
  run docker push "$D:1"
  D_IMG=$(pushed_digest)
  [ -n "$D_IMG" ] || fail "no digest in the push output: $(tail -n1 "$E2E_OUT")"
  check_manifest "docker-local/$N/docker" 1 "$V2S2_MT" "$D_IMG"
  run docker rmi "$D:1"
  for key in docker docker-local; do
    run docker pull "$REG/$key/$N/docker:1"
    grep -qF "Digest: $D_IMG" "$E2E_OUT" || fail "pull through $key reported another digest: $(grep Digest: "$E2E_OUT")"
    expect_eq "image ID pulled through $key" "$(image_id "$REG/$key/$N/docker:1")" "$D_ID"
    run docker rmi "$REG/$key/$N/docker:1"
  done
  pass "digest $D_IMG"

  step "docker: pull the remote-only image through the virtual key"
  run docker pull "$REG/docker/$N/remote:1"
  grep -qF "Digest: $R_IMG" "$E2E_OUT" || fail "pull reported another digest: $(grep Digest: "$E2E_OUT")"
  run docker rmi "$REG/docker/$N/remote:1"
  pass
fi

# ---------------------------------------------------------------- blobs another member has
step "a new tag of a remote member's image, pushed through the virtual key"
# $N/base is only upstream. HEAD of each blob through the virtual key
# answers 200 (docker-remote has it), so the client uploads nothing; the
# manifest PUT takes the blobs into docker-local from docker-remote.
run skopeo copy --dest-tls-verify=false --preserve-digests "oci:$OCI:remote" "docker://$REG/docker/$N/base:skopeo"
run skopeo inspect --raw --tls-verify=false "docker://$REG/docker-local/$N/base:skopeo"
if [ $HAVE_DOCKER = 1 ]; then
  run docker pull "$REG/docker/$N/base:1"
  run docker tag "$REG/docker/$N/base:1" "$REG/docker/$N/base:docker"
  run docker push "$REG/docker/$N/base:docker"
  run skopeo inspect --raw --tls-verify=false "docker://$REG/docker-local/$N/base:docker"
fi
pass

step "with the upstream down, new blobs are still pushed through the virtual key"
# HEAD of a new blob: docker-local says unknown, docker-remote fails (503);
# the virtual key must answer 404, since containers/image and dockerd abort
# a push on anything else (it answered the 503 at first).
e2e_stop_upstream
OFF_IMG=$(e2e_oci_image "$OCI" offline amd64 "" "$(e2e_layer 16)")
run skopeo copy --dest-tls-verify=false --preserve-digests "oci:$OCI:offline" "docker://$REG/docker/$N/offline:1"
check_manifest "docker-local/$N/offline" 1 "$OCI_MT" "$OFF_IMG"
if [ $HAVE_DOCKER = 1 ]; then
  e2e_docker_archive "$E2E_TMP/offline.tar" "$REG/docker/$N/offline:docker" amd64 "$(e2e_layer 16)"
  run docker load -i "$E2E_TMP/offline.tar"
  run docker push "$REG/docker/$N/offline:docker"
  check_manifest "docker-local/$N/offline" docker "$V2S2_MT" "$(pushed_digest)"
fi
pass

# ---------------------------------------------------------------- security
step "restart berth with security on and the virtual key on a port of its own"
e2e_stop_registry
VPORT=$(free_port)
VREG=127.0.0.1:$VPORT
hash() { htpasswd -nbB -C 5 "$1" "$2" | cut -d: -f2; }
# dev: deploy on docker-local, read on the virtual key, nothing on
# docker-remote. ro: read on docker-local and on the virtual key.
E2E_BERTH_EXTRA_CONFIG="security:
  anonymous_access: false
  users:
    - {name: dev, password_hash: \"$(hash dev dev-pass-1)\"}
    - {name: ro, password_hash: \"$(hash ro ro-pass-1)\"}
  permissions:
    - {name: local, repositories: [docker-local], users: {dev: [deploy], ro: [read]}}
    - {name: virtual, repositories: [docker], users: {dev: [read], ro: [read]}}"
E2E_BERTH_EXTRA_REPOS="$REPOS
    port: $VPORT" e2e_start_registry
ADMIN_PW=$(head -n1 "$E2E_TMP/berth/data/initial-admin-password")
ADMIN=(-u "admin:$ADMIN_PW")
http_get HEAD "/v2/docker/$N/podman/manifests/1" "$E2E_TMP/challenge" >/dev/null
expect_eq "challenge on the main port" "$(header_in "$E2E_TMP/challenge.h" WWW-Authenticate)" \
  "Bearer realm=\"http://$REG/v2/token\",service=\"$REG\",scope=\"repository:docker/$N/podman:pull\""
curl -s -I -o /dev/null -D "$E2E_TMP/vchallenge.h" "http://$VREG/v2/$N/podman/manifests/1"
expect_eq "challenge on the virtual key's port" "$(header_in "$E2E_TMP/vchallenge.h" WWW-Authenticate)" \
  "Bearer realm=\"http://$VREG/v2/token\",service=\"$VREG\",scope=\"repository:$N/podman:pull\""
# Push on the virtual key is granted by deploy on docker-local.
expect_eq "dev's grant at the main port" "$(granted dev:dev-pass-1 "$REG" "repository:docker/$N/app:pull,push")" '["pull","push"]'
expect_eq "dev's grant at the port" "$(granted dev:dev-pass-1 "$VREG" "repository:$N/app:pull,push")" '["pull","push"]'
expect_eq "ro's grant at the main port" "$(granted ro:ro-pass-1 "$REG" "repository:docker/$N/app:pull,push")" '["pull"]'
pass "berth $REG, virtual key's port $VREG"

step "podman login (dev) at the main port: push and pull through the virtual key"
run podman login $TLS -u dev -p dev-pass-1 "$REG"
e2e_docker_archive "$E2E_TMP/podman2.tar" localhost/e2e/virtual:podman2 amd64 "$(e2e_layer 128)"
run podman load -i "$E2E_TMP/podman2.tar"
run podman push $TLS --digestfile "$E2E_TMP/pd2" localhost/e2e/virtual:podman2 "docker://$REG/docker/$N/podman-auth:1"
P2_IMG=$(cat "$E2E_TMP/pd2")
check_manifest "docker-local/$N/podman-auth" 1 "$V2S2_MT" "$P2_IMG" "${ADMIN[@]}"
run podman rmi localhost/e2e/virtual:podman2
run podman pull $TLS "$REG/docker/$N/podman-auth:1"
expect_eq "digest pulled" "$(podman_digest "$REG/docker/$N/podman-auth:1")" "$P2_IMG"
# Phase one's images are still in docker-local: dev reads them through the key.
run podman pull $TLS "$REG/docker/$N/podman:1"
expect_eq "digest of the earlier push" "$(podman_digest "$REG/docker/$N/podman:1")" "$P_IMG"
pass

step "the remote member, which dev may not read, is skipped; admin reads it"
run_fails skopeo inspect $TLS --creds dev:dev-pass-1 "docker://$REG/docker/$N/remote:1"
grep -qiE 'manifest unknown' "$E2E_OUT" || fail "unexpected error: $(tail -n1 "$E2E_OUT")"
run skopeo inspect $TLS --creds dev:dev-pass-1 "docker://$REG/docker/$N/remote:local"   # docker-local's tag
expect_eq "dev: digest of remote:local" "$(jq -r .Digest "$E2E_OUT")" "$R_IMG"
run skopeo list-tags $TLS --creds dev:dev-pass-1 "docker://$REG/docker/$N/remote"
expect_eq "dev: tags through the virtual key" "$(jq -c '.Tags' "$E2E_OUT")" '["local"]'
run skopeo list-tags $TLS --creds "admin:$ADMIN_PW" "docker://$REG/docker/$N/remote"
expect_eq "admin: tags through the virtual key" "$(jq -c '.Tags | sort' "$E2E_OUT")" '["1","local"]'
pass

step "podman login (dev) at the virtual key's port: push and pull"
run podman login $TLS -u dev -p dev-pass-1 "$VREG"
run podman push $TLS "$REG/docker/$N/podman-auth:1" "docker://$VREG/$N/podman-port:1"
check_manifest "docker-local/$N/podman-port" 1 "$V2S2_MT" "$P2_IMG" "${ADMIN[@]}"
run podman rmi "$REG/docker/$N/podman-auth:1" "$REG/docker/$N/podman:1"
run podman pull $TLS "$VREG/$N/podman-port:1"
expect_eq "digest pulled at the port" "$(podman_digest "$VREG/$N/podman-port:1")" "$P2_IMG"
pass

step "a reader of the virtual key (ro) may pull through it but not push"
run podman login $TLS -u ro -p ro-pass-1 "$REG"
run podman pull $TLS "$REG/docker/$N/podman-auth:1"
run_fails podman push $TLS "$REG/docker/$N/podman-auth:1" "docker://$REG/docker/$N/podman-ro:1"
grep -qiE 'denied|unauthorized|forbidden' "$E2E_OUT" || fail "refused, but not for authorization: $(tail -n1 "$E2E_OUT")"
run podman logout "$REG"
expect_missing "docker-local/$N/podman-ro" 1 "${ADMIN[@]}"
pass

if [ $HAVE_DOCKER = 1 ]; then
  step "docker login (dev) at the main port: push and pull through the virtual key"
  T0=$(tokens_served)
  run docker login -u dev --password-stdin "$REG" <<<dev-pass-1
  grep -q "Login Succeeded" "$E2E_OUT" || fail "no 'Login Succeeded': $(cat "$E2E_OUT")"
  D2=$REG/docker/$N/docker-auth
  e2e_docker_archive "$E2E_TMP/docker2.tar" "$D2:1" amd64 "$(e2e_layer 128)"
  run docker load -i "$E2E_TMP/docker2.tar"
  D2_ID=$(image_id "$D2:1")
  run docker push "$D2:1"
  D2_IMG=$(pushed_digest)
  [ -n "$D2_IMG" ] || fail "no digest in the push output: $(tail -n1 "$E2E_OUT")"
  check_manifest "docker-local/$N/docker-auth" 1 "$V2S2_MT" "$D2_IMG" "${ADMIN[@]}"
  run docker rmi "$D2:1"
  run docker pull "$D2:1"
  grep -qF "Digest: $D2_IMG" "$E2E_OUT" || fail "pull reported another digest: $(grep Digest: "$E2E_OUT")"
  expect_eq "image ID after pull" "$(image_id "$D2:1")" "$D2_ID"
  [ "$(tokens_served)" -gt "$T0" ] || fail "dockerd fetched no token from the realm"
  pass "digest $D2_IMG"

  step "docker login (dev) at the virtual key's port: push and pull"
  run docker login -u dev --password-stdin "$VREG" <<<dev-pass-1
  run docker tag "$D2:1" "$VREG/$N/docker-port:1"
  run docker push "$VREG/$N/docker-port:1"
  expect_eq "digest pushed at the port" "$(pushed_digest)" "$D2_IMG"
  check_manifest "docker-local/$N/docker-port" 1 "$V2S2_MT" "$D2_IMG" "${ADMIN[@]}"
  run docker rmi "$D2:1" "$VREG/$N/docker-port:1"
  run docker pull "$VREG/$N/docker-port:1"
  grep -qF "Digest: $D2_IMG" "$E2E_OUT" || fail "pull reported another digest: $(grep Digest: "$E2E_OUT")"
  expect_eq "image ID after pull" "$(image_id "$VREG/$N/docker-port:1")" "$D2_ID"
  pass
fi
