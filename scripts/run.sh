#!/usr/bin/env bash
# run.sh [berth flags...] - installs what is missing, builds, and starts the
# server in the foreground (embedded default config unless --config is given).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
scripts/build.sh
exec build/berth "$@"
