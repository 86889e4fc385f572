#!/usr/bin/env bash
# End-to-end test of server.subdomain_base with skopeo: an image pushed to
# docker-dev.registry.test:<port>/<name> lands in docker-dev, and is pulled
# and listed back by that name. The names resolve to 127.0.0.1 through an
# /etc/hosts of the test's own, bind-mounted in a private mount namespace
# (the machine's /etc/hosts is never changed). Usage: see lib.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init
e2e_need_pkgs skopeo curl jq util-linux
e2e_client_env
export BERTH_SERVER_SUBDOMAIN_BASE=registry.test
e2e_start_registry
PORT=${REG##*:}
N=e2e/$E2E_RUN/subdomain
OCI=$E2E_TMP/src-layout
HOSTS=$E2E_TMP/hosts
printf '127.0.0.1 localhost\n127.0.0.1 docker-local.registry.test docker-dev.registry.test\n' >"$HOSTS"

# with_names CMD...: CMD in a mount namespace where /etc/hosts is $HOSTS.
with_names() {
  unshare --mount --propagation private sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$HOSTS" "$@"
}

step "the subdomains resolve to loopback in a private mount namespace"
got=$(with_names getent hosts docker-dev.registry.test 2>&1) ||
  skip "cannot bind-mount /etc/hosts in a mount namespace here: $got"
case "$got" in 127.0.0.1*) ;; *) fail "docker-dev.registry.test resolves to '$got'" ;; esac
pass

step "skopeo copy oci: -> docker://docker-dev.registry.test:$PORT/$N:1"
IMG=$(e2e_oci_image "$OCI" single amd64 "" "$(e2e_layer 256)" "$(e2e_layer 4)")
run with_names skopeo copy --preserve-digests --dest-tls-verify=false --digestfile "$E2E_TMP/d1" \
  "oci:$OCI:single" "docker://docker-dev.registry.test:$PORT/$N:1"
expect_eq "digest of pushed manifest" "$(cat "$E2E_TMP/d1")" "$IMG"
pass

step "stored in docker-dev (the path form on the main address), not in docker-local"
check_manifest "docker-dev/$N" 1 "$OCI_MT" "$IMG"
expect_eq "docker-local has it" "$(http_status GET "/v2/docker-local/$N/manifests/1")" 404
pass

step "pull back and list tags through the subdomain"
run with_names skopeo copy --preserve-digests --src-tls-verify=false \
  "docker://docker-dev.registry.test:$PORT/$N:1" "oci:$E2E_TMP/pulled:1"
expect_eq "pulled manifest" "$(jq -r '.manifests[0].digest' "$E2E_TMP/pulled/index.json")" "$IMG"
run with_names skopeo list-tags --tls-verify=false "docker://docker-dev.registry.test:$PORT/$N"
expect_eq "tags" "$(jq -c .Tags "$E2E_OUT")" '["1"]'
run_fails with_names skopeo inspect --tls-verify=false "docker://docker-local.registry.test:$PORT/$N:1"
pass

