#!/usr/bin/env bash
# End-to-end test of a remote repository as a registry mirror: dockerd with
# "registry-mirrors" pointing at the remote's own port (`port:`) pulls an
# official-image name (`docker pull e2e-mirror-N:1`, i.e. docker.io/library/...)
# through Berth from a loopback upstream (Debian's docker-registry standing in
# for Docker Hub), then again with the upstream stopped (from the cache).
# Nothing reaches the internet: if the mirror failed, dockerd's fallback to
# Docker Hub would fail and so would the test.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init
e2e_need_pkgs docker.io containerd docker-registry skopeo curl jq ca-certificates
e2e_client_env
source "$(dirname "${BASH_SOURCE[0]}")/dockerd.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---------------------------------------------------------------- upstream
step "start the upstream (docker-registry) and put library/e2e-mirror-$E2E_RUN:1 in it"
e2e_start_upstream   # stopped by this script, mid-test
NAME=e2e-mirror-$E2E_RUN
LAY=$E2E_TMP/layout
DIGEST=$(e2e_oci_image "$LAY" 1 amd64 "" "$(e2e_layer 1024)" "$(e2e_layer 64)")
run skopeo copy --dest-tls-verify=false "oci:$LAY:1" "docker://$UP/library/$NAME:1"
pass "upstream $UP, manifest $DIGEST"

# ---------------------------------------------------------------- berth
step "start berth with a remote of the upstream on its own port"
BERTH_BIN=${BERTH_BIN:-$E2E_SRC/../../build/berth}
MIRROR_PORT=$(free_port)
B=$E2E_TMP/berth-mirror
mkdir -p "$B/data"
cat >"$B/config.yml" <<EOF
server:
  listen: "127.0.0.1:0"
storage:
  root: "$B/data"
repositories:
  - key: hub-mirror
    type: remote
    url: "http://$UP"
    port: $MIRROR_PORT
EOF
"$BERTH_BIN" --config "$B/config.yml" --ready-file "$B/ready" </dev/null 2>"$B/berth.log" >&2 &
BERTH_PID=$!
stop_berth() { [ -n "$BERTH_PID" ] && { stop_pid "$BERTH_PID" berth || true; wait "$BERTH_PID" 2>/dev/null || true; BERTH_PID=""; }; return 0; }
e2e_on_exit stop_berth
for i in $(seq 1 120); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MIRROR_PORT/v2/")" = 200 ] && break
  kill -0 "$BERTH_PID" 2>/dev/null || { cat "$B/berth.log" >&2; fail "berth exited"; }
  sleep 0.25
done
pass "mirror endpoint http://127.0.0.1:$MIRROR_PORT"

# ---------------------------------------------------------------- dockerd
step "start a private dockerd with registry-mirrors = berth's remote port"
DOCKERD_EXTRA_JSON="\"registry-mirrors\": [\"http://127.0.0.1:$MIRROR_PORT\"]"
start_dockerd
pass

step "docker pull $NAME:1 (a Docker Hub name) goes through the mirror"
run docker pull "$NAME:1"
grep -qF "Digest: $DIGEST" "$E2E_OUT" || fail "pull reported another digest: $(grep Digest: "$E2E_OUT")"
# The access line: JSON fields, or path=... status=... in text mode.
grep -Eq "\"path\":\"/v2/library/$NAME/manifests/1\",\"status\":200|path=/v2/library/$NAME/manifests/1 status=200" "$B/berth.log" ||
  { tail -n 20 "$B/berth.log" >&2; fail "berth's access log shows no pull of library/$NAME through the mirror port"; }
pass

step "stop the upstream; docker rmi; docker pull again: served from berth's cache"
e2e_stop_upstream
run docker rmi "$NAME:1"
run docker pull "$NAME:1"
grep -qF "Digest: $DIGEST" "$E2E_OUT" || fail "second pull reported another digest"
pass

stop_berth
log "PASS"
