#!/usr/bin/env bash
# fuzz.sh [seconds-per-target] [target...] - builds the libFuzzer targets
# (tests/fuzz/*_fuzz.cc) with clang into build-fuzz/ and runs each for a
# bounded time (default 20 s) over a copy of its seed corpus
# (tests/fuzz/corpus/<target>/). Fails on any crash, hang, out-of-memory,
# leak or sanitizer report; the input that did it is kept in
# build-fuzz/fuzz-work/<target>/artifacts/ (docs/testing.md: how to
# reproduce it and turn it into a regression test).
#   FUZZ_CXX   the clang++ to build with (default clang++-14)
#   FUZZ_JOBS  build parallelism (default: all cores)
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(manifest reference byte_ranges jwt config)

# Longest input each target is given: far above any real manifest or config
# in the corpus, small enough to keep each run fast. (Million-level nesting,
# which once overflowed the stack, is refused by core/json_input and covered
# by unit and integration tests with 2 MB inputs.)
max_len() {
  case "$1" in
    manifest | config) echo 16384 ;;
    *) echo 4096 ;;
  esac
}

if [ ! -f build-fuzz/build.ninja ]; then
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER="${FUZZ_CXX:-clang++-14}" -DBERTH_FUZZ=ON -DBERTH_TESTS=OFF >/dev/null
fi
cmake --build build-fuzz --target berth_fuzzers -j "${FUZZ_JOBS:-$(nproc)}"

# Sanitizer reports are fatal; leaks are reported too (libFuzzer's default).
export ASAN_OPTIONS="abort_on_error=1:detect_stack_use_after_return=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"

failed=()
for t in "${targets[@]}"; do
  bin=build-fuzz/fuzz/fuzz_$t
  [ -x "$bin" ] || { echo "[fuzz] no such target: $t" >&2; exit 2; }
  work=build-fuzz/fuzz-work/$t
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp tests/fuzz/corpus/"$t"/* "$work/corpus/"
  # -timeout: one input taking this long is a hang; -rss_limit_mb: an input
  # that makes the process grow past this is a memory blow-up.
  if "$bin" "$work/corpus" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 >"$work/log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
    echo "[fuzz] $t: ok, ${runs:-?} inputs in ${secs} s, corpus $(ls "$work/corpus" | wc -l)"
  else
    echo "[fuzz] $t: FAILED (log: $work/log, input: $(ls "$work/artifacts" | head -1))" >&2
    grep -E -A40 '^==[0-9]+==|invariant violated|runtime error|ERROR: libFuzzer' "$work/log" | head -80 >&2 || tail -40 "$work/log" >&2
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "[fuzz] failed: ${failed[*]}" >&2
  exit 1
fi
