#!/usr/bin/env bash
# deps.sh [build|test|all] - installs the Debian packages Berth needs that are
# missing, and nothing else. Safe to run again (takes well under a second
# when everything is there).
#   build: compiler, CMake, libraries
#   test:  build + GoogleTest + clang and libFuzzer (scripts/fuzz.sh) + the real
#          registry clients the end-to-end tests drive + docker-registry
#          (distribution 2.8.2), the upstream the remote-repository tests pull through
#   all:   test + the tools for bench/
set -euo pipefail

what=${1:-build}
# libboost1.81-dev, not libboost-dev (1.74 on Debian 12): CMake refuses Boost < 1.81
# because Beast 1.74 drops every request that has a Content-Length (docs/design.md).
build_pkgs=(g++ cmake ninja-build ccache pkg-config libboost1.81-dev libboost-context1.81-dev libssl-dev nlohmann-json3-dev
  libspdlog-dev libyaml-cpp-dev libsqlite3-dev libexpected-dev openssl curl)
test_pkgs=(libgtest-dev clang-14 libclang-rt-14-dev skopeo podman buildah docker.io containerd apache2-utils
  docker-registry)
bench_pkgs=()

pkgs=("${build_pkgs[@]}")
case "$what" in
  build) ;;
  test) pkgs+=("${test_pkgs[@]}") ;;
  all) pkgs+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
# docker.io, containerd and docker-registry would start system services
# (a bridge, iptables rules, a registry on :5000). Forbid that while installing.
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 755 /usr/sbin/policy-rc.d
  made_policy=1
fi
cleanup() { [ $made_policy = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d; return 0; }
trap cleanup EXIT
echo "[deps] installing: ${missing[*]}" >&2
if ! apt-cache policy "${missing[0]}" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  $SUDO apt-get update -qq
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
