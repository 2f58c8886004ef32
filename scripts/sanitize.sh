#!/usr/bin/env bash
# The sanitizer pass of CI: the unit tests built with AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan/), then a short fuzzing pass of every
# libFuzzer harness under the same sanitizers (build-fuzz/, scripts/fuzz.sh).
#
#   bash scripts/sanitize.sh [FUZZ_SECONDS_PER_HARNESS]   # default 60
#
# Needs clang (libFuzzer) and the .venv that scripts/setup.sh makes (for the
# fuzzing seeds). Exit status 1 on any sanitizer report, failed test or
# fuzzing finding in keras2torch's own code.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-60}"
jobs="${JOBS:-$(nproc)}"

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
# ccache shares the sanitizer objects between clones (CI's and a developer's).
command -v ccache >/dev/null && generator+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
export CCACHE_BASEDIR="$PWD"
cmake -S . -B build-asan "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DK2T_SANITIZE=ON -DK2T_BUILD_TESTS=ON >/dev/null
cmake --build build-asan -j"$jobs" --target k2t_unit_tests

# Any report stops the test binary; leaks count, except libhdf5_hl's own.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp:print_suppressions=0"
./build-asan/tests/unit/k2t_unit_tests --gtest_brief=1

JOBS="$jobs" bash scripts/fuzz.sh "$seconds"
