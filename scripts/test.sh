#!/usr/bin/env bash
# Runs every test: the C++ unit tests (ctest on build/), then the Python tests (pytest on
# tests/, against the package installed in .venv). Run scripts/setup.sh once before.
#
#   bash scripts/test.sh [PYTEST ARGS...]     e.g. bash scripts/test.sh -k dense -x
#
# Both builds are brought up to date first, so the tests never run a stale binary: build/
# incrementally, and the package in .venv is reinstalled when a source is newer than it.
# Exits non-zero if any test fails; both suites run either way.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
STAMP="$ROOT/build/python/installed.stamp"

step() { printf '\n==> %s\n' "$*"; }

if [[ ! -x "$VENV/bin/python" || ! -f build/build.ninja ]]; then
  echo "scripts/test.sh: .venv or build/ is missing; run: bash scripts/setup.sh" >&2
  exit 2
fi
# The same compiler, by the same name, for build/ and build/python: scikit-build-core would
# otherwise take the one Python was built with, and ccache could share nothing between them.
export CC="${CC:-cc}" CXX="${CXX:-c++}" CCACHE_BASEDIR="$ROOT"

step "building build/"
cmake --build build

newer=""
if [[ -f "$STAMP" ]]; then
  newer="$(find src include tools python CMakeLists.txt pyproject.toml -newer "$STAMP" \
    -type f -print -quit)"
fi
if [[ ! -f "$STAMP" || -n "$newer" ]]; then
  step "reinstalling the package into .venv (${newer:-not installed by the scripts yet})"
  settings=()
  if command -v ccache >/dev/null; then
    settings=(--config-settings=cmake.define.CMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  touch "$STAMP.new"  # taken before the build: a file edited during it counts as newer
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-build-isolation \
    --no-deps "${settings[@]}" .
  mv "$STAMP.new" "$STAMP"
fi

failed=()

step "C++ unit tests (ctest)"
ctest --test-dir build --output-on-failure || failed+=(ctest)

# Two workers on two cores: each test spends most of its time in Keras and the converter,
# and the suite is long enough that xdist's start-up pays for itself.
step "Python tests (pytest)"
TF_CPP_MIN_LOG_LEVEL=3 "$VENV/bin/python" -m pytest tests -n auto -q "$@" || failed+=(pytest)

if ((${#failed[@]})); then
  echo "scripts/test.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "scripts/test.sh: all tests passed"
