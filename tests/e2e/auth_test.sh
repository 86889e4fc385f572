#!/usr/bin/env bash
# End-to-end test of access control with real clients against a berth with a
# `security:` section, serving HTTPS with a self-signed certificate made here:
# skopeo and podman log in with a password and with an access token (created
# through the REST API by the initial admin), push and pull with digests
# compared; a user without deploy and an anonymous client are refused and
# leave nothing stored; wrong passwords fail; then `docker login`/push/pull
# through a private dockerd (skipped, not failed, if dockerd cannot start).
# Usage: see lib.sh for the environment (E2E_REGISTRY / E2E_REFERENCE are not
# supported here: the test needs its own secured berth).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init
e2e_need_pkgs skopeo podman curl jq ca-certificates apache2-utils openssl
e2e_client_env

[ -z "${E2E_REGISTRY:-}" ] && [ "${E2E_REFERENCE:-0}" != 1 ] ||
  log "note: E2E_REGISTRY/E2E_REFERENCE ignored, this test starts its own secured berth"

CERTS=$E2E_TMP/certs      # holds ca.crt, for --cert-dir
N=e2e/$E2E_RUN/auth       # image name inside docker-dev
DOCKER_CERTS_DIR=""       # /etc/docker/certs.d/<reg>, if we made it
DOCKERD_PID=""

# ---------------------------------------------------------------- helpers
# acurl ARGS... PATH: curl over HTTPS to the registry, trusting our CA.
acurl() { local p=${!#}; curl -s --max-time 60 --cacert "$CERTS/ca.crt" "${@:1:$#-1}" "https://$REG$p"; }
status_of() { local p=${!#}; acurl -o /dev/null -w '%{http_code}' "${@:1:$#-1}" "$p"; }

# run_refused CMD...: must fail with a message about authorization.
run_refused() {
  run_fails "$@"
  grep -qiE 'unauthorized|denied|forbidden|403|401|authentication required|invalid username' "$E2E_OUT" ||
    { tail -n 20 "$E2E_OUT" | sed 's/^/    | /' >&2; fail "refused, but not for authorization: $*"; }
  log "    refusal: $(grep -m1 -oiE '(unauthorized|denied|forbidden|authentication required|invalid username)[^"]{0,80}' "$E2E_OUT")"
}

SK_AUTH=$E2E_TMP/skopeo-auth.json PM_AUTH=$E2E_TMP/podman-auth.json
echo '{"auths":{}}' >"$SK_AUTH"; echo '{"auths":{}}' >"$PM_AUTH"
SK=(--authfile "$SK_AUTH")

# ---------------------------------------------------------------- berth
start_secured_berth() {
  local bin=${BERTH_BIN:-$E2E_SRC/../../build/berth} d=$E2E_TMP/berth i code=""
  [ -x "$bin" ] || fail "berth binary not found or not executable: $bin (set BERTH_BIN)"
  mkdir -p "$d/data" "$CERTS"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$d/key.pem" -out "$d/cert.pem" >"$d/openssl.log" 2>&1 ||
    fail "openssl req failed: $(cat "$d/openssl.log")"
  cp "$d/cert.pem" "$CERTS/ca.crt"
  # dev may push (and overwrite); ro may only read; ci is a robot for tokens.
  local dev ro ci
  dev=$(htpasswd -nbB -C 5 dev dev-pass-1 | cut -d: -f2)
  ro=$(htpasswd -nbB -C 5 ro ro-pass-1 | cut -d: -f2)
  ci=$(htpasswd -nbB -C 5 ci ci-pass-1 | cut -d: -f2)
  cat >"$d/config.yml" <<EOF
server:
  listen: "127.0.0.1:0"
  tls: {cert: "$d/cert.pem", key: "$d/key.pem"}
storage:
  root: "$d/data"
repositories:
  - {key: docker-local, type: local}
  - {key: docker-dev, type: local}
  - {key: docker-prod, type: local}
security:
  anonymous_access: true
  users:
    - {name: dev, password_hash: "$dev"}
    - {name: ro, password_hash: "$ro"}
    - {name: ci, password_hash: "$ci"}
  permissions:
    - name: dev-team
      repositories: [docker-dev]
      users: {dev: [delete], ro: [read], ci: [deploy]}
    - name: public
      repositories: [docker-local]
      include: ["public/**"]
      users: {anonymous: [read]}
EOF
  E2E_SERVER_LOG=$d/berth.log
  "$bin" --config "$d/config.yml" --ready-file "$d/ready" </dev/null 2>"$E2E_SERVER_LOG" >&2 &
  E2E_SERVER_PID=$!
  for i in $(seq 1 120); do
    if [ -s "$d/ready" ] && grep -qE '^[^ ]+:[0-9]+$' "$d/ready"; then REG=$(head -n1 "$d/ready"); break; fi
    kill -0 "$E2E_SERVER_PID" 2>/dev/null || fail "berth exited before it was ready"
    sleep 0.25
  done
  [ -n "$REG" ] || fail "berth wrote no address within 30 s"
  case "$REG" in 127.*) ;; *) fail "refusing non-loopback registry address '$REG'" ;; esac
  for i in $(seq 1 40); do
    code=$(status_of /v2/) || true
    [ "$code" = 401 ] && break
    sleep 0.25
  done
  [ "$code" = 401 ] || fail "GET https://$REG/v2/ answered '$code', want 401 (a challenge)"
  ADMIN_PW=$(head -n1 "$d/data/initial-admin-password")
  [ -n "$ADMIN_PW" ] || fail "no initial admin password in $d/data/initial-admin-password"
  expect_eq "mode of initial-admin-password" "$(stat -c %a "$d/data/initial-admin-password")" 600
}

step "start berth with security and TLS (self-signed certificate)"
start_secured_berth
expect_eq "plain HTTP on the TLS port" "$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/")" 400
expect_eq "GET /v2/ as admin" "$(status_of -u "admin:$ADMIN_PW" /v2/)" 200
pass "berth on https://$REG"

step "create an access token for ci through the REST API (as admin)"
acurl -u "admin:$ADMIN_PW" -H 'Content-Type: application/json' \
  -d '{"username":"ci","description":"e2e robot"}' -o "$E2E_TMP/token.json" /api/security/token
CI_TOKEN=$(jq -r .access_token "$E2E_TMP/token.json")
case "$CI_TOKEN" in berth_*) ;; *) fail "no access token: $(cat "$E2E_TMP/token.json")" ;; esac
expect_eq "GET /v2/ with the token as password" "$(status_of -u "ci:$CI_TOKEN" /v2/)" 200
pass "token $(jq -r .token_id "$E2E_TMP/token.json")"

OCI=$E2E_TMP/layout
step "build three OCI images"
IMG1=$(e2e_oci_image "$OCI" one amd64 "" "$(e2e_layer 1024)" "$(e2e_layer 8)")
IMG2=$(e2e_oci_image "$OCI" two amd64 "" "$(e2e_layer 256)")
IMG3=$(e2e_oci_image "$OCI" three amd64 "" "$(e2e_layer 64)")
pass "$IMG1 $IMG2 $IMG3"

# ---------------------------------------------------------------- skopeo
step "skopeo login with a wrong password fails"
run_refused skopeo login "${SK[@]}" --cert-dir "$CERTS" -u dev -p wrong-pass "$REG"
run_refused skopeo login "${SK[@]}" --cert-dir "$CERTS" -u nobody -p x "$REG"
pass

step "skopeo login (password), push, pull back; digests match"
run skopeo login "${SK[@]}" --cert-dir "$CERTS" -u dev -p dev-pass-1 "$REG"
run skopeo copy "${SK[@]}" --dest-cert-dir "$CERTS" --preserve-digests --digestfile "$E2E_TMP/d1" \
  "oci:$OCI:one" "docker://$REG/docker-dev/$N:one"
expect_eq "pushed digest" "$(cat "$E2E_TMP/d1")" "$IMG1"
run skopeo copy "${SK[@]}" --src-cert-dir "$CERTS" --preserve-digests "docker://$REG/docker-dev/$N:one" "oci:$E2E_TMP/pull1:one"
expect_eq "pulled digest" "$(jq -r '.manifests[0].digest' "$E2E_TMP/pull1/index.json")" "$IMG1"
run skopeo inspect "${SK[@]}" --cert-dir "$CERTS" "docker://$REG/docker-dev/$N:one"
expect_eq "inspect .Digest" "$(jq -r .Digest "$E2E_OUT")" "$IMG1"
run skopeo logout "${SK[@]}" "$REG"
pass

step "skopeo login with the access token, push"
run skopeo login "${SK[@]}" --cert-dir "$CERTS" -u ci -p "$CI_TOKEN" "$REG"
run skopeo copy "${SK[@]}" --dest-cert-dir "$CERTS" --preserve-digests --digestfile "$E2E_TMP/d2" \
  "oci:$OCI:two" "docker://$REG/docker-dev/$N:two"
expect_eq "pushed digest" "$(cat "$E2E_TMP/d2")" "$IMG2"
run skopeo logout "${SK[@]}" "$REG"
pass

step "a user without deploy (ro) is refused a push and nothing is stored"
run skopeo login "${SK[@]}" --cert-dir "$CERTS" -u ro -p ro-pass-1 "$REG"
run skopeo inspect "${SK[@]}" --cert-dir "$CERTS" "docker://$REG/docker-dev/$N:one"   # ro may read
run_refused skopeo copy "${SK[@]}" --dest-cert-dir "$CERTS" "oci:$OCI:three" "docker://$REG/docker-dev/$N-ro:three"
run_refused skopeo copy "${SK[@]}" --dest-cert-dir "$CERTS" "oci:$OCI:three" "docker://$REG/docker-dev/$N:ro"
run skopeo logout "${SK[@]}" "$REG"
pass

step "an anonymous push is refused and nothing is stored"
run_refused skopeo copy --dest-no-creds --dest-cert-dir "$CERTS" "oci:$OCI:three" "docker://$REG/docker-dev/$N-anon:three"
run_refused skopeo copy --dest-no-creds --dest-cert-dir "$CERTS" "oci:$OCI:three" "docker://$REG/docker-local/public/$E2E_RUN:x"
pass

step "the refused pushes left no tag, no image and no blob"
for ref in "docker-dev/$N-ro:three" "docker-dev/$N:ro" "docker-dev/$N-anon:three" "docker-local/public/$E2E_RUN:x"; do
  run_fails skopeo inspect --creds "admin:$ADMIN_PW" --cert-dir "$CERTS" "docker://$REG/$ref"
done
acurl -u "admin:$ADMIN_PW" -o "$E2E_TMP/catalog.json" "/v2/_catalog?n=1000"
expect_eq "catalog (admin)" "$(jq -c '[.repositories[] | select(contains("'"$E2E_RUN"'"))]' "$E2E_TMP/catalog.json")" \
  "[\"docker-dev/$N\"]"
for d in $(jq -r '.layers[].digest' "$OCI/blobs/sha256/${IMG3#sha256:}"); do
  for img in "docker-dev/$N-ro" "docker-dev/$N" "docker-dev/$N-anon"; do
    expect_eq "HEAD $img/blobs/$d (admin)" "$(status_of -I -u "admin:$ADMIN_PW" "/v2/$img/blobs/$d")" 404
  done
done
acurl -u "admin:$ADMIN_PW" -o "$E2E_TMP/tags.json" "/v2/docker-dev/$N/tags/list"
expect_eq "tags of docker-dev/$N" "$(jq -c '.tags | sort' "$E2E_TMP/tags.json")" '["one","two"]'
pass

# ---------------------------------------------------------------- podman
step "podman login with a wrong password fails"
run_refused podman login --authfile "$PM_AUTH" --cert-dir "$CERTS" -u dev -p wrong-pass "$REG"
pass

step "podman load, login (password), push, rmi, pull back; digests match"
e2e_docker_archive "$E2E_TMP/podman.tar" localhost/e2e/auth:podman amd64 "$(e2e_layer 512)" "$(e2e_layer 4)"
run podman load -i "$E2E_TMP/podman.tar"
run podman login --authfile "$PM_AUTH" --cert-dir "$CERTS" -u dev -p dev-pass-1 "$REG"
run podman push --authfile "$PM_AUTH" --cert-dir "$CERTS" --digestfile "$E2E_TMP/pd" \
  localhost/e2e/auth:podman "docker://$REG/docker-dev/$N:podman"
PD=$(cat "$E2E_TMP/pd")
run podman rmi localhost/e2e/auth:podman
run podman pull --authfile "$PM_AUTH" --cert-dir "$CERTS" "$REG/docker-dev/$N:podman"
expect_eq "digest of the pulled image" "$(podman image inspect --format '{{.Digest}}' "$REG/docker-dev/$N:podman")" "$PD"
run podman logout --authfile "$PM_AUTH" "$REG"
pass "digest $PD"

step "podman login with the access token, push; as ro the push is refused"
run podman login --authfile "$PM_AUTH" --cert-dir "$CERTS" -u ci -p "$CI_TOKEN" "$REG"
run podman push --authfile "$PM_AUTH" --cert-dir "$CERTS" "$REG/docker-dev/$N:podman" "docker://$REG/docker-dev/$N:podman-ci"
run podman logout --authfile "$PM_AUTH" "$REG"
run podman login --authfile "$PM_AUTH" --cert-dir "$CERTS" -u ro -p ro-pass-1 "$REG"
run_refused podman push --authfile "$PM_AUTH" --cert-dir "$CERTS" "$REG/docker-dev/$N:podman" "docker://$REG/docker-dev/$N-ro:podman"
run podman logout --authfile "$PM_AUTH" "$REG"
run_fails skopeo inspect --creds "admin:$ADMIN_PW" --cert-dir "$CERTS" "docker://$REG/docker-dev/$N-ro:podman"
run skopeo inspect --creds "admin:$ADMIN_PW" --cert-dir "$CERTS" "docker://$REG/docker-dev/$N:podman-ci"
expect_eq "digest of podman-ci" "$(jq -r .Digest "$E2E_OUT")" "$PD"
pass

step "a revoked access token no longer logs in"
acurl -u "admin:$ADMIN_PW" -X DELETE -o /dev/null -w '%{http_code}' \
  "/api/security/token/$(jq -r .token_id "$E2E_TMP/token.json")" >"$E2E_TMP/revoke" || true
expect_eq "DELETE token" "$(cat "$E2E_TMP/revoke")" 204
run_refused podman login --authfile "$PM_AUTH" --cert-dir "$CERTS" -u ci -p "$CI_TOKEN" "$REG"
pass

# ---------------------------------------------------------------- docker
stop_dockerd() {
  [ -n "$DOCKERD_PID" ] || return 0
  stop_pid "$DOCKERD_PID" dockerd || log "dockerd needed SIGKILL"
  wait "$DOCKERD_PID" 2>/dev/null
  DOCKERD_PID=""
}
DOCKER_CERTS_PARENT=""    # /etc/docker/certs.d, if we made it
remove_docker_certs() {
  [ -z "$DOCKER_CERTS_DIR" ] || rm -rf "$DOCKER_CERTS_DIR"
  [ -z "$DOCKER_CERTS_PARENT" ] || rmdir "$DOCKER_CERTS_PARENT" 2>/dev/null || true
}

# A private dockerd on a unix socket (vfs, no networking); 1 if it cannot start.
start_dockerd() {
  local d=$E2E_TMP/docker i
  command -v dockerd >/dev/null || return 1
  mkdir -p "$d/data" "$d/exec"
  cat >"$d/daemon.json" <<EOF
{"data-root": "$d/data", "exec-root": "$d/exec", "pidfile": "$d/dockerd.pid",
 "hosts": ["unix://$d/docker.sock"], "storage-driver": "vfs",
 "iptables": false, "ip6tables": false, "ip-forward": false, "ip-masq": false,
 "bridge": "none", "userland-proxy": false}
EOF
  export DOCKER_HOST=unix://$d/docker.sock
  dockerd --config-file "$d/daemon.json" </dev/null >"$d/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  e2e_on_exit stop_dockerd
  for i in $(seq 1 120); do
    docker version >/dev/null 2>&1 && return 0
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.25
  done
  log "dockerd did not start: $(grep -m1 -iE 'failed|error' "$d/dockerd.log" | cut -c1-200)"
  return 1
}

step "docker: start a private dockerd"
if ! command -v dockerd >/dev/null; then (e2e_need_pkgs docker.io containerd) || log "docker.io not installable"; fi
if start_dockerd; then
  pass "dockerd $(docker version --format '{{.Server.Version}}')"
  step "docker login over TLS (ca.crt in /etc/docker/certs.d/$REG), wrong password refused"
  if [ ! -e "/etc/docker/certs.d/$REG" ]; then
    DOCKER_CERTS_DIR=/etc/docker/certs.d/$REG
    [ -d /etc/docker/certs.d ] || DOCKER_CERTS_PARENT=/etc/docker/certs.d
    e2e_on_exit remove_docker_certs
    mkdir -p "$DOCKER_CERTS_DIR"
    cp "$CERTS/ca.crt" "$DOCKER_CERTS_DIR/ca.crt"
  fi
  # dockerd on loopback skips verification and, after an HTTPS failure, retries
  # plain HTTP and reports that error instead (/work/shared/CLIENTS.md): accept it.
  log "  + (must fail) docker login -u dev --password-stdin $REG (wrong password)"
  if docker login -u dev --password-stdin "$REG" <<<wrong-pass >"$E2E_OUT" 2>&1; then
    fail "docker login with a wrong password succeeded"
  fi
  grep -qiE 'unauthorized|denied|401|connection reset|invalid' "$E2E_OUT" || fail "unexpected: $(tail -n 3 "$E2E_OUT")"
  log "    refusal: $(tail -n1 "$E2E_OUT" | cut -c1-160)"
  run docker login -u dev --password-stdin "$REG" <<<dev-pass-1
  grep -q "Login Succeeded" "$E2E_OUT" || fail "no 'Login Succeeded': $(cat "$E2E_OUT")"
  pass

  step "docker load, push (as dev), rmi, pull back; digests match"
  e2e_docker_archive "$E2E_TMP/docker.tar" "$REG/docker-dev/$N:docker" amd64 "$(e2e_layer 256)"
  run docker load -i "$E2E_TMP/docker.tar"
  ID=$(docker image inspect --format '{{.Id}}' "$REG/docker-dev/$N:docker")
  run docker push "$REG/docker-dev/$N:docker"
  DD=$(grep -oE 'digest: sha256:[0-9a-f]{64}' "$E2E_OUT" | tail -n1 | cut -d' ' -f2)
  [ -n "$DD" ] || fail "no digest in the push output"
  run docker rmi "$REG/docker-dev/$N:docker"
  run docker pull "$REG/docker-dev/$N:docker"
  grep -qF "Digest: $DD" "$E2E_OUT" || fail "pull reported another digest: $(grep Digest: "$E2E_OUT")"
  expect_eq "image ID after pull" "$(docker image inspect --format '{{.Id}}' "$REG/docker-dev/$N:docker")" "$ID"
  pass "digest $DD"

  step "docker login as ro: push refused"
  run docker login -u ro --password-stdin "$REG" <<<ro-pass-1
  run docker tag "$REG/docker-dev/$N:docker" "$REG/docker-dev/$N-docker-ro:x"
  run_refused docker push "$REG/docker-dev/$N-docker-ro:x"
  run docker logout "$REG"
  pass

  step "docker login with an access token, push"
  acurl -u "admin:$ADMIN_PW" -H 'Content-Type: application/json' -d '{"username":"ci"}' \
    -o "$E2E_TMP/token2.json" /api/security/token
  run docker login -u ci --password-stdin "$REG" <<<"$(jq -r .access_token "$E2E_TMP/token2.json")"
  run docker tag "$REG/docker-dev/$N:docker" "$REG/docker-dev/$N:docker-ci"
  run docker push "$REG/docker-dev/$N:docker-ci"
  run docker logout "$REG"
  run skopeo inspect --creds "admin:$ADMIN_PW" --cert-dir "$CERTS" "docker://$REG/docker-dev/$N:docker-ci"
  expect_eq "digest of docker-ci" "$(jq -r .Digest "$E2E_OUT")" "$DD"
  pass

  step "docker logged out: an anonymous push is refused quickly, nothing stored"
  # dockerd retries an upload 5 times (5+10+15+20 s) when the error it parses
  # is a bare error code -- a body whose message is the code's default text
  # and has no detail. A refusal must not take that long.
  t0=$SECONDS
  run_refused docker push "$REG/docker-dev/$N-docker-ro:x"
  ANON_PUSH_SECONDS=$((SECONDS - t0))
  run_fails skopeo inspect --creds "admin:$ADMIN_PW" --cert-dir "$CERTS" "docker://$REG/docker-dev/$N-docker-ro:x"
  pass "refused in $ANON_PUSH_SECONDS s"

else
  log "docker steps not run: dockerd cannot start on this machine"
fi

step "the log holds no password"
for secret in dev-pass-1 ro-pass-1 ci-pass-1 wrong-pass "$CI_TOKEN"; do
  if grep -qF -- "$secret" "$E2E_SERVER_LOG"; then fail "'$secret' appears in the berth log"; fi
done
expect_eq "times the admin password is logged" "$(grep -cF -- "$ADMIN_PW" "$E2E_SERVER_LOG")" 1
pass

# Checked last, so that the steps above all run.
step "dockerd gave up on the anonymous push at once (no retries)"
if [ "${ANON_PUSH_SECONDS:-0}" -ge 20 ]; then
  fail "the anonymous docker push took $ANON_PUSH_SECONDS s to be refused: dockerd retried it 5 times" \
    "(it does when a 401 body's error has the default message and no detail)"
fi
pass
