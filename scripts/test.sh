#!/usr/bin/env bash
# test.sh - installs what is missing, builds, and runs the whole test suite:
# unit, integration (the real daemon on loopback) and end-to-end (skopeo,
# podman, buildah, docker against the daemon). CTest prints the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
scripts/build.sh
cd build
ctest --output-on-failure --timeout 1200 "$@"
