# tests/e2e/dockerd.sh -- a private dockerd for the e2e tests (sourced after
# lib.sh): unix socket under the temp dir, vfs storage, no bridge, no
# iptables. DOCKERD_EXTRA_JSON adds keys to its daemon.json (e.g.
# "registry-mirrors": [...]); DOCKERD_STORAGE_DRIVER picks the storage driver
# (default vfs: plain directories, which work anywhere; overlay2 builds images
# much faster where overlay mounts work, see dockerd_overlay_works). If
# dockerd cannot start here, the test is skipped, or, with DOCKERD_OPTIONAL=1,
# start_dockerd returns 1 and sets DOCKERD_WHY (the script goes on without
# its docker steps).

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
  "storage-driver": "${DOCKERD_STORAGE_DRIVER:-vfs}",
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
# dockerd_overlay_works: true when an overlay mount works in the temp dir's
# filesystem (root, a kernel with overlayfs, a backing filesystem it accepts).
dockerd_overlay_works() {
  local d=$E2E_TMP/overlay-probe rc=0
  mkdir -p "$d"/{lower,upper,work,merged}
  echo x >"$d/lower/f"
  mount -t overlay overlay -o "lowerdir=$d/lower,upperdir=$d/upper,workdir=$d/work" "$d/merged" 2>/dev/null || rc=1
  if [ $rc = 0 ]; then
    [ "$(cat "$d/merged/f" 2>/dev/null)" = x ] || rc=1
    umount "$d/merged" || rc=1
  fi
  rm -rf --one-file-system "$d"
  return $rc
}
stop_dockerd() {
  [ -n "$DOCKERD_PID" ] || return 0
  stop_pid "$DOCKERD_PID" dockerd || log "dockerd needed SIGKILL"
  wait "$DOCKERD_PID" 2>/dev/null
  DOCKERD_PID=""
  # dockerd leaves exec-root/netns/default (nsfs) mounted, and after a kill
  # perhaps overlay mounts: unmount what is left below the temp dir, or the
  # final rm --one-file-system leaves the directory behind.
  local m
  for m in $(awk -v d="$E2E_TMP/docker/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "cannot unmount $m"
  done
}

