#!/usr/bin/env bash
# run.sh [berth flags...] - installs what is missing, builds, and starts the
# server in the foreground (embedded default config unless --config is given).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
BUILD_TARGETS=berth scripts/build.sh  # only what serving needs, not the test suite
exec build/berth "$@"
