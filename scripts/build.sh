#!/usr/bin/env bash
# build.sh [cmake -D options] - configures and builds Berth into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo}
# Configured every time (a second when nothing changed), so that packages
# installed since the last run (GoogleTest, by scripts/test.sh) are found.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "$@" >/dev/null
# BUILD_TARGETS: what to build (default: everything, tests included).
cmake --build build -j "$(nproc)" ${BUILD_TARGETS:+--target $BUILD_TARGETS}
