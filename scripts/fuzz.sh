#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/) with AddressSanitizer and
# UndefinedBehaviorSanitizer into build-fuzz/, makes the seed corpora from
# small Keras models, then runs each harness for SECONDS_PER_HARNESS seconds,
# one after the other.
#
#   bash scripts/fuzz.sh [SECONDS_PER_HARNESS] [HARNESS...]   # default 60, all three
#
# Exit status 1 when a harness found a crash, hang or leak in keras2torch's
# code (its input is left in build-fuzz/artifacts/; fuzz/triage.py sorts out
# those that fail inside libhdf5). The corpora in build-fuzz/corpus/ grow
# between runs.
# Environment: K2T_FUZZ_BUILD (build directory), JOBS (build parallelism),
# K2T_FUZZ_SKIP_BUILD=1 (run the harnesses as built),
# PYTHON (a Python with keras, tf_keras and h5py, for the seeds; default .venv).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-60}"
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(fuzz_config fuzz_zip fuzz_model_file)
build="${K2T_FUZZ_BUILD:-build-fuzz}"
python="${PYTHON:-.venv/bin/python}"

if [ "${K2T_FUZZ_SKIP_BUILD:-0}" != 1 ]; then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  command -v ccache >/dev/null && generator+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$PWD"
  cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DK2T_FUZZ=ON -DK2T_SANITIZE=ON -DK2T_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" -j"${JOBS:-2}" --target "${harnesses[@]}"
fi

if [ ! -f "$build/seeds/.done" ]; then
  "$python" fuzz/make_seeds.py "$build/seeds"
  touch "$build/seeds/.done"
fi

# UBSan findings stop the run like ASan's do.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp:print_suppressions=0"
mkdir -p "$build/artifacts" "$build/logs"
status=0
for harness in "${harnesses[@]}"; do
  corpus="$build/corpus/$harness"
  mkdir -p "$corpus"
  echo "== $harness: ${seconds}s"
  # HDF5's own parser can loop or crash on a damaged file (docs/fuzzing.md);
  # that harness runs in fork mode, which saves such inputs and goes on.
  extra=()
  if [ "$harness" = fuzz_model_file ]; then
    extra=(-fork=1 -ignore_timeouts=1 -ignore_crashes=1 -ignore_ooms=1)
  fi
  "$build/fuzz/$harness" "$corpus" "$build/seeds/$harness" "${extra[@]}" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$harness-" \
    >"$build/logs/$harness.log" 2>&1 || echo "$harness: stopped on a finding"
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|cov: .*ft:" \
    "$build/logs/$harness.log" | tail -3 || true
  # Inputs that fail inside libhdf5 move to artifacts/upstream/; ours fail the run.
  if ! python3 fuzz/triage.py "$build" "$harness"; then
    echo "$harness: inputs in $build/artifacts/ fail in keras2torch's code"
    status=1
  fi
done
exit $status
