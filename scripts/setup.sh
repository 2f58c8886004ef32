#!/usr/bin/env bash
# Sets up a checkout on a fresh Debian 12 machine (Python 3.11, root or sudo), in one command:
#
#   bash scripts/setup.sh
#
# 1. the Debian packages the C++ core builds against (installed only if missing);
# 2. .venv with torch (CPU), TensorFlow, Keras 3, tf_keras and the test tools;
# 3. the package itself, `pip install .`, which builds the C++ core in build/python and puts
#    the native `keras2torch` command in .venv/bin;
# 4. the plain CMake build with the unit tests, in build/;
# 5. a demo: convert examples/cnn.keras into out/cnn and compare with Keras.
#
# Re-running it is fast: nothing is reinstalled that is there, and both builds are
# incremental (ccache also shares the object files between them).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"

step() { printf '\n==> %s\n' "$*"; }

# --- 1. Debian packages -------------------------------------------------------------------
# clang and libclang-rt-14-dev: libFuzzer and the sanitizer runtimes of scripts/sanitize.sh.
packages=(build-essential cmake ninja-build pkg-config ccache clang libclang-rt-14-dev
  libhdf5-dev libzip-dev nlohmann-json3-dev libcli11-dev libfmt-dev libgtest-dev googletest)
# Debian's own Python needs its venv module and headers as separate packages.
if [[ "$("$PYTHON" -c 'import sys; print(sys.base_prefix)')" == /usr ]]; then
  packages+=(python3-venv python3-dev)
fi
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  step "installing Debian packages: ${missing[*]}"
  sudo=()
  ((EUID == 0)) || sudo=(sudo)
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    "${missing[@]}"
else
  step "Debian packages: all present"
fi

# --- 2. The virtual environment -----------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
  step "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
pip=("$VENV/bin/python" -m pip install --disable-pip-version-check)
step "installing Python packages into .venv"
# torch first, with the exact pin: an unpinned torch would bring a multi-gigabyte CUDA build.
"${pip[@]}" torch==2.13.0
# Keras 3 pinned to the release the tests were checked against (its behaviour changes
# between minor releases); tf_keras is Keras 2, for Keras 2 files.
"${pip[@]}" torch==2.13.0 tensorflow-cpu==2.21.0 tf-keras==2.21.0 keras==3.15.1 \
  pytest pytest-xdist h5py ruff scikit-build-core nanobind
# tensorflowjs, whose Keras converter writes the TF.js models of tests/e2e/test_tfjs.py. Without
# its dependencies: they (jax, flax, tensorflow-decision-forests, tensorflow-hub, ...) serve
# the SavedModel and JAX converters, which the tests never import, and would fight the pins
# above; the Keras converter needs only h5py, numpy, six and tensorflow, all installed here.
"${pip[@]}" --no-deps tensorflowjs==4.22.0

# --- 3. The package -----------------------------------------------------------------------
# The same compiler, by the same name, for build/ and build/python: scikit-build-core would
# otherwise take the one Python was built with, and ccache could share nothing between them.
export CC="${CC:-cc}" CXX="${CXX:-c++}" CCACHE_BASEDIR="$ROOT"
launcher=()
skbuild_args=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  skbuild_args=(--config-settings=cmake.define.CMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

# Without build isolation the build sees the same nanobind each time, so build/python stays
# valid and a re-run recompiles only what changed.
step "building and installing the keras2torch package (C++ core in build/python)"
# scripts/test.sh reinstalls when a source is newer than the stamp, taken before the build.
stamp="$ROOT/build/python/installed.stamp"
mkdir -p "$(dirname "$stamp")"
touch "$stamp.new"
"${pip[@]}" --no-build-isolation "${skbuild_args[@]}" torch==2.13.0 .
mv "$stamp.new" "$stamp"

# --- 4. The plain CMake build, with the unit tests ------------------------------------------
step "building build/ (command-line tool and unit tests)"
cmake -S . -B build -G Ninja "${launcher[@]}" >/dev/null
cmake --build build

# --- 5. Demo --------------------------------------------------------------------------------
step "demo: .venv/bin/keras2torch convert examples/cnn.keras -o out/cnn --force"
"$VENV/bin/keras2torch" convert examples/cnn.keras -o out/cnn --force

step "demo: agreement with Keras (keras2torch.verify)"
# TensorFlow's start-up chatter (absl lines printed before its logging is set up) is dropped.
quiet_tf() { grep -Ev '^(WARNING: All log messages|[IW][0-9]{4} )' >&2 || true; }
TF_CPP_MIN_LOG_LEVEL=3 "$VENV/bin/python" - 2> >(quiet_tf) <<'EOF'
import sys

import keras  # noqa: F401  (the set-up must leave all four importable)
import tf_keras  # noqa: F401
import torch  # noqa: F401

import keras2torch

result = keras2torch.verify("examples/cnn.keras")
for output in result["outputs"]:
    print(f"  output {output['name']!r} {output['shape']}: max abs error "
          f"{output['max_abs_error']:.3g}, max rel error {output['max_rel_error']:.3g}")
verdict = "PASS" if result["ok"] else "FAIL"
print(f"  {verdict}: converted model vs {result.get('keras', 'Keras')} "
      f"(tolerance {result['tolerance']:g})")
sys.exit(0 if result["ok"] else 1)
EOF

step "done: .venv/bin/keras2torch is ready; run the tests with: bash scripts/test.sh"
