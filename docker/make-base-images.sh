#!/usr/bin/env bash
# make-base-images.sh -- makes the two base images of docker/Dockerfile,
# debian:bookworm and debian:bookworm-slim, without Docker Hub: mmdebstrap
# builds both root filesystems from the Debian mirror this machine's apt
# sources name, then they are imported into the local engine.
#
#   docker/make-base-images.sh [--dir DIR] [--import docker|podman|none] [--rebuild] [--check]
#
#   --dir DIR     where the tarballs go (default /var/cache/berth/debian-base).
#                 Tarballs already there are reused; --rebuild makes them again.
#   --import X    docker (default: the engine of DOCKER_HOST), podman, or none.
#   --check       afterwards, run `apt-get update` in debian:bookworm-slim
#                 (docker --network host) to show the apt sources work.
#   MIRROR=URL    Debian mirror (default: the first bookworm URIs of the host's
#   SECURITY_MIRROR=URL     apt sources; security from its bookworm-security entry)
#
# Runs as root (mmdebstrap's root mode), on Debian 12. Close to the official
# images (about 116 MB and 74.5 MB in `docker images`) because of two settings:
#   - the merged-usr hook: /usr merged with symlinks; without it mmdebstrap
#     1.3.5 installs usrmerge, which pulls in perl (about 48 MB more);
#   - the official images' /etc/apt/apt.conf.d/docker-clean: Dockerfiles that
#     only `rm -rf /var/lib/apt/lists/*` rely on it to keep /var/cache/apt/*.bin
#     out of their layers (about 80 MB per apt-get install layer otherwise).
# The slim variant adds debuerreotype's "slimify" dpkg path excludes, kept in
# /etc/dpkg/dpkg.cfg.d/ so later installs skip the same paths.
set -euo pipefail

DIR=/var/cache/berth/debian-base
IMPORT=docker
REBUILD=0
CHECK=0
while [ $# -gt 0 ]; do
  case $1 in
    --dir) DIR=$2; shift 2 ;;
    --import) IMPORT=$2; shift 2 ;;
    --rebuild) REBUILD=1; shift ;;
    --check) CHECK=1; shift ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "make-base-images: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case $IMPORT in docker|podman|none) ;; *) echo "make-base-images: --import docker|podman|none" >&2; exit 2 ;; esac

say() { printf '[make-base-images] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap builds the root filesystems in root mode)"

# ---------------------------------------------------------------- mirror
# The URIs of the first apt source (deb822 .sources or one-line sources.list)
# whose suites hold SUITE.
source_uri() {
  local suite=$1 f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v s="$suite" '
      /^[ \t]*$/ { if (u != "" && hit) { print u; exit } u = ""; hit = 0; next }
      /^URIs:/   { u = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) hit = 1 }
      END        { if (u != "" && hit) print u }' "$f" | head -n1
  done | head -n1
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [options] URI SUITE COMPONENTS...
    awk -v s="$suite" '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
                                     if ($(i + 1) == s) { print $i; exit } }' "$f"
  done | head -n1
}

MIRROR=${MIRROR:-$(source_uri bookworm | head -n1)}
[ -n "$MIRROR" ] || die "no Debian mirror with suite bookworm in /etc/apt/sources.list{,.d}; set MIRROR=URL"
SECURITY_MIRROR=${SECURITY_MIRROR:-$(source_uri bookworm-security | head -n1)}
SECURITY_MIRROR=${SECURITY_MIRROR:-${MIRROR%/debian}/debian-security}
say "mirror $MIRROR, security $SECURITY_MIRROR"

# ---------------------------------------------------------------- tarballs
mkdir -p "$DIR"
need_build=0
for t in bookworm bookworm-slim; do
  [ "$REBUILD" = 1 ] || [ ! -s "$DIR/$t.tar" ] && need_build=1
done

if [ "$need_build" = 1 ]; then
  if ! command -v mmdebstrap >/dev/null; then
    say "apt-get install mmdebstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >&2 ||
      { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >&2; } ||
      die "cannot install mmdebstrap"
  fi
  HOOKS=/usr/share/mmdebstrap/hooks/merged-usr
  [ -d "$HOOKS" ] || die "$HOOKS is missing (mmdebstrap 1.x ships it)"

  APTCONF=$(mktemp -d /tmp/berth-base-aptconf.XXXXXX)
  trap 'rm -rf "$APTCONF"; rm -f "$DIR"/*.tar.part' EXIT
  # The apt settings of the official Docker images.
  cat >"$APTCONF/docker-clean" <<'X'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
X
  echo 'Acquire::Languages "none";' >"$APTCONF/docker-no-languages"
  printf 'Acquire::GzipIndexes "true";\nAcquire::CompressionTypes::Order:: "gz";\n' >"$APTCONF/docker-gzip-indexes"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$APTCONF/docker-autoremove-suggests"

  SRC=("deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" "deb $SECURITY_MIRROR bookworm-security main")
  COMMON=(--variant=minbase --hook-dir="$HOOKS"
    --customize-hook="copy-in $APTCONF/docker-clean $APTCONF/docker-no-languages $APTCONF/docker-gzip-indexes $APTCONF/docker-autoremove-suggests /etc/apt/apt.conf.d/"
    --customize-hook='rm -f "$1"/var/cache/apt/pkgcache.bin "$1"/var/cache/apt/srcpkgcache.bin')
  SLIM=(--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*'
    --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/info/*'
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias'
    --dpkgopt='path-exclude=/usr/share/groff/*' --dpkgopt='path-exclude=/usr/share/lintian/*'
    --dpkgopt='path-exclude=/usr/share/linda/*')

  for t in bookworm bookworm-slim; do
    [ "$REBUILD" = 0 ] && [ -s "$DIR/$t.tar" ] && { say "reusing $DIR/$t.tar"; continue; }
    extra=()
    [ "$t" = bookworm-slim ] && extra=("${SLIM[@]}")
    say "mmdebstrap $t (a few minutes)"
    start=$SECONDS
    # A .part name: an interrupted run never leaves a tarball that looks complete.
    mmdebstrap --quiet "${COMMON[@]}" "${extra[@]}" --format=tar bookworm "$DIR/$t.tar.part" "${SRC[@]}" >&2 ||
      die "mmdebstrap $t failed (is $MIRROR reachable?)"
    mv -f "$DIR/$t.tar.part" "$DIR/$t.tar"
    say "$DIR/$t.tar: $(du -m "$DIR/$t.tar" | cut -f1) MB in $((SECONDS - start)) s"
  done
fi

# ---------------------------------------------------------------- import
case $IMPORT in
  docker)
    command -v docker >/dev/null || die "no docker CLI (use --import none or podman)"
    for t in bookworm bookworm-slim; do
      say "docker import $DIR/$t.tar debian:$t"
      docker import --change 'CMD ["bash"]' "$DIR/$t.tar" "debian:$t" >/dev/null
    done
    docker images debian >&2
    ;;
  podman)
    for t in bookworm bookworm-slim; do
      say "podman import $DIR/$t.tar docker.io/library/debian:$t"
      podman import --change 'CMD ["bash"]' "$DIR/$t.tar" "docker.io/library/debian:$t" >/dev/null
    done
    ;;
  none) say "tarballs in $DIR (not imported)" ;;
esac

if [ "$CHECK" = 1 ] && [ "$IMPORT" = docker ]; then
  docker run --rm --network host debian:bookworm-slim sh -c 'apt-get update -qq && echo apt OK' >&2 ||
    die "apt-get update inside debian:bookworm-slim failed"
fi
