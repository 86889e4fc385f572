# tests/e2e/dockerd.sh -- a private dockerd for the e2e tests (sourced after
# lib.sh): unix socket under the temp dir, vfs storage, no bridge, no
# iptables. DOCKERD_EXTRA_JSON adds keys to its daemon.json (e.g.
# "registry-mirrors": [...]). If dockerd cannot start here, the test is skipped,
# or, with DOCKERD_OPTIONAL=1, start_dockerd returns 1 and sets DOCKERD_WHY
# (the script goes on without its docker steps).

DOCKERD_PID=""

# ---------------------------------------------------------------- dockerd
start_dockerd() {
  local d=$E2E_TMP/docker i
  mkdir -p "$d/data" "$d/exec"
  # 127.0.0.0/8 is always an insecure registry for dockerd: no entry needed.
  cat >"$d/daemon.json" <<EOF
{
  "data-root": "$d/data",
  "exec-root": "$d/exec",
  "pidfile": "$d/dockerd.pid",
  "hosts": ["unix://$d/docker.sock"],
  "storage-driver": "vfs",
  "iptables": false, "ip6tables": false, "ip-forward": false, "ip-masq": false,
  "bridge": "none",
  "userland-proxy": false,
  "insecure-registries": []${DOCKERD_EXTRA_JSON:+,
  $DOCKERD_EXTRA_JSON}
}
EOF
  export DOCKER_HOST=unix://$d/docker.sock
  # dockerd starts its own containerd under exec-root and stops it on SIGTERM.
  dockerd --config-file "$d/daemon.json" </dev/null >"$d/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  e2e_on_exit stop_dockerd
  for i in $(seq 1 120); do   # 30 s
    docker version >/dev/null 2>&1 && { log "dockerd (pid $DOCKERD_PID) up"; return 0; }
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.25
  done
  log "dockerd did not start; its log:"; tail -n 15 "$d/dockerd.log" | sed 's/^/    | /' >&2
  if [ "${DOCKERD_OPTIONAL:-0}" = 1 ]; then
    stop_dockerd
    unset DOCKER_HOST
    DOCKERD_WHY=$(grep -m1 -iE 'failed|error' "$d/dockerd.log" | cut -c1-200)
    return 1
  fi
  skip "dockerd cannot start on this machine: $(grep -m1 -iE 'failed|error' "$d/dockerd.log" | cut -c1-200)"
}
stop_dockerd() {
  [ -n "$DOCKERD_PID" ] || return 0
  stop_pid "$DOCKERD_PID" dockerd || log "dockerd needed SIGKILL"
  wait "$DOCKERD_PID" 2>/dev/null
  DOCKERD_PID=""
}

