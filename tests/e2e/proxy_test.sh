#!/usr/bin/env bash
# End-to-end test of `berth proxy-config --kind nginx`: nginx (Debian's) runs
# the generated configuration on loopback in front of Berth, and skopeo
# pushes a 24 MiB layer through it (nginx's default body limit is 1 MiB:
# client_max_body_size 0 is what lets it through) and pulls it back; the
# token realm and Location headers name the proxy, not Berth. Usage: lib.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init
e2e_need_pkgs skopeo curl jq nginx-light
e2e_client_env
e2e_start_registry
BERTH_BIN=${BERTH_BIN:-$E2E_SRC/../../build/berth}
N=e2e/$E2E_RUN/proxy
OCI=$E2E_TMP/src-layout
NG=$E2E_TMP/nginx
mkdir -p "$NG/tmp"

NGINX_PID=""
stop_nginx() { [ -z "$NGINX_PID" ] || { stop_pid "$NGINX_PID" nginx || true; NGINX_PID=""; }; }
e2e_on_exit stop_nginx

step "berth proxy-config --kind nginx --plain-http for Berth on $REG"
PPORT=""
for i in $(seq 1 10); do
  p=$((20000 + RANDOM % 20000))
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
  PPORT=$p && break
done
[ -n "$PPORT" ] || fail "no free loopback port for nginx"
# The config file says port 0; the address Berth really has, by environment.
run env BERTH_SERVER_LISTEN=$REG "$BERTH_BIN" --config "$E2E_TMP/berth/config.yml" proxy-config --kind nginx \
  --plain-http --listen "127.0.0.1:$PPORT" --server-name localhost
cp "$E2E_OUT" "$NG/berth.conf"
grep -q "client_max_body_size 0;" "$NG/berth.conf" || fail "no client_max_body_size 0 in the generated config"
cat >"$NG/nginx.conf" <<NGINX
user root;
worker_processes 1;
daemon off;
pid $NG/nginx.pid;
error_log $NG/error.log warn;
events {}
http {
  access_log $NG/access.log;
  client_body_temp_path $NG/tmp/body;
  proxy_temp_path $NG/tmp/proxy;
  fastcgi_temp_path $NG/tmp/fastcgi;
  uwsgi_temp_path $NG/tmp/uwsgi;
  scgi_temp_path $NG/tmp/scgi;
  include $NG/berth.conf;
}
NGINX
run nginx -t -c "$NG/nginx.conf"
nginx -c "$NG/nginx.conf" </dev/null >"$NG/stdout.log" 2>&1 &
NGINX_PID=$!
for i in $(seq 1 40); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PPORT/v2/")" = 200 ] && break
  kill -0 "$NGINX_PID" 2>/dev/null || fail "nginx exited: $(tail -n 5 "$NG/error.log" "$NG/stdout.log")"
  sleep 0.25
done
expect_eq "GET /v2/ through nginx" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PPORT/v2/")" 200
pass

step "skopeo push through nginx: a 24 MiB layer"
IMG=$(e2e_oci_image "$OCI" single amd64 "" "$(e2e_layer 24576)" "$(e2e_layer 8)")
run skopeo copy --preserve-digests --dest-tls-verify=false --digestfile "$E2E_TMP/d1" \
  "oci:$OCI:single" "docker://127.0.0.1:$PPORT/docker-local/$N:1"
expect_eq "digest of pushed manifest" "$(cat "$E2E_TMP/d1")" "$IMG"
check_manifest "docker-local/$N" 1 "$OCI_MT" "$IMG"
pass

step "pull back through nginx; Locations name the proxy's address"
run skopeo copy --preserve-digests --src-tls-verify=false \
  "docker://127.0.0.1:$PPORT/docker-local/$N:1" "oci:$E2E_TMP/pulled:1"
expect_eq "pulled manifest" "$(jq -r '.manifests[0].digest' "$E2E_TMP/pulled/index.json")" "$IMG"
loc=$(curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$PPORT/v2/docker-local/$N/blobs/uploads/" |
  tr -d '\r' | awk -F': ' 'tolower($1) == "location" {print $2}')
case "$loc" in /v2/docker-local/$N/blobs/uploads/* | http://127.0.0.1:$PPORT/*) ;; *) fail "Location '$loc'" ;; esac
grep -q " 201 " "$NG/access.log" || fail "nginx logged no 201: the push did not go through it"
pass
