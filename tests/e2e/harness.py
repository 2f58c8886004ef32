"""End-to-end harness: build a model with real Keras, save it, convert it, compare.

Every case is one model-building function that receives a namespace for one Keras
flavour (`k.layers`, `k.Input`, `k.Model`, `k.Sequential`, `k.keras`, `k.version`),
so a single builder serves Keras 3 and tf_keras (Keras 2). Each built model is saved
in up to six formats:

    k3.keras   Keras 3, model.save("model.keras")
    k3.h5      Keras 3, legacy model.save("model.h5")
    k3.json    Keras 3, model.to_json() + model.save_weights("model.weights.h5")
    tfk.h5     tf_keras, model.save("model.h5")
    tfk.json   tf_keras, model.to_json() + model.save_weights("w.h5") (legacy HDF5)
    tfk.keras  tf_keras, model.save("model.keras")

Before saving, every BatchNormalization statistic and affine parameter, every bias
and every other weight Keras initialises to a constant (PReLU's alpha, ...) is
replaced by random values, so that none of them can be mishandled unnoticed.

The converted model (keras2torch CLI, both --io-layout torch and keras) is
imported from its model.py, built with load_model() and run on the same random
inputs (batch 3) as the Keras model, which is called directly (training=False).

Tolerance, one definition everywhere:

    rel = max|torch - keras| / max(max|keras|, 1e-6)  <=  1e-4

computed per output over the whole batch; a failure prints rel, the absolute
error and the reference's magnitude.

With --io-layout torch, an input or output whose report.json permute_from_keras
is not the identity (its layout then reads "permuted [0, 3, 1, 2]") is fed /
read back through that permutation, after checking that the report's
torch_shape is the Keras shape permuted the same way; a permuted rank 3 or 4
input must be exactly channels first, NC(H)W.
With --io-layout keras, every torch_shape must equal its keras_shape.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import types
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-4
TOLERANCE_TEXT = "rel = max|torch - keras| / max(max|keras|, 1e-6) <= 1e-4"
BATCH = 3

ALL_FLAVOURS = ("k3.keras", "k3.h5", "k3.json", "tfk.h5", "tfk.json", "tfk.keras")
K3_FLAVOURS = ALL_FLAVOURS[:3]
TFK_FLAVOURS = ALL_FLAVOURS[3:]


# ---------------------------------------------------------------------------
# The CLI


def find_cli() -> Path:
    """The keras2torch binary: $K2T_CLI, the venv's, build/, then build-e2e/."""
    env = os.environ.get("K2T_CLI")
    if env:
        path = Path(env)
        if not path.is_file():
            pytest.fail(f"K2T_CLI is set to {env}, which is not a file", pytrace=False)
        return path
    candidates = [
        REPO / ".venv" / "bin" / "keras2torch",
        REPO / "build" / "tools" / "keras2torch",
        REPO / "build-e2e" / "tools" / "keras2torch",
    ]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    pytest.fail(
        "the keras2torch CLI is missing: set K2T_CLI, `pip install .` into .venv, or build it "
        "with `cmake -S . -B build -G Ninja && cmake --build build`; looked for "
        + ", ".join(str(p) for p in candidates),
        pytrace=False,
    )


def run_cli(
    cli: Path,
    model: Path,
    out: Path,
    weights: Path | None = None,
    io_layout: str = "torch",
    extra: Sequence[str] = (),
) -> subprocess.CompletedProcess:
    args = [str(cli), "convert", str(model), "-o", str(out), "--io-layout", io_layout, "--force"]
    if weights is not None:
        args += ["--weights", str(weights)]
    args += list(extra)
    return subprocess.run(args, check=False, capture_output=True, text=True, timeout=120)


def convert(cli: Path, saved: SavedModel, out: Path, io_layout: str = "torch") -> dict:
    """Converts and expects exit status 0; returns report.json."""
    result = run_cli(cli, saved.model, out, saved.weights, io_layout)
    assert result.returncode == 0, (
        f"keras2torch exited {result.returncode} on {saved.describe()} (io-layout {io_layout})\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return json.loads((out / "report.json").read_text())


_module_counter = 0


def import_model(out: Path):
    """Imports out/model.py under a fresh module name."""
    global _module_counter
    _module_counter += 1
    name = f"k2t_e2e_{_module_counter}_{hashlib.sha1(str(out).encode()).hexdigest()[:8]}"
    spec = importlib.util.spec_from_file_location(name, out / "model.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def forward_source(out: Path) -> str:
    """The body of the generated class's forward method."""
    source = (out / "model.py").read_text()
    match = re.search(r"\n    def forward\(.*?(?=\n\n\n|\n    def |\Z)", source, re.DOTALL)
    assert match, f"no forward method in {out / 'model.py'}"
    return match.group(0)


# ---------------------------------------------------------------------------
# Keras flavours


_keras_modules: dict[int, types.ModuleType] = {}


def keras_module(version: int):
    if version not in _keras_modules:
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        if version == 3:
            import keras

            assert keras.__version__.startswith("3."), keras.__version__
            assert keras.backend.backend() == "tensorflow", keras.backend.backend()
            _keras_modules[3] = keras
        else:
            import tf_keras

            _keras_modules[2] = tf_keras
    return _keras_modules[version]


def namespace(version: int) -> types.SimpleNamespace:
    k = keras_module(version)
    return types.SimpleNamespace(
        keras=k,
        layers=k.layers,
        Input=k.Input,
        Model=k.Model,
        Sequential=k.Sequential,
        version=version,
    )


# ---------------------------------------------------------------------------
# Cases


Builder = Callable[[types.SimpleNamespace], object]


@dataclasses.dataclass(repr=False)
class Case:
    """One model. `build(k)` returns the model for Keras namespace `k`.

    flavours: which of ALL_FLAVOURS to test (a layer or argument one Keras lacks).
    int_inputs: {input index: exclusive upper bound} for integer inputs.
    bn_variance: range of the random moving variances (small values make epsilon matter).
    input_scale: standard deviation of float inputs (to cross activation thresholds).
    prepare: a function editing the random inputs (list of arrays) in place before they
        are used, to pad sequences with a masked value, for example.
    """

    name: str
    build: Builder
    flavours: Sequence[str] = ALL_FLAVOURS
    int_inputs: dict = dataclasses.field(default_factory=dict)
    bn_variance: tuple = (0.5, 2.0)
    input_scale: float = 1.0
    prepare: Callable | None = None

    def __repr__(self) -> str:
        return f"Case({self.name!r})"


def cases_for(cases: Sequence[Case]) -> list:
    """pytest.param(case, flavour) for every case and each of its flavours."""
    params = []
    for case in cases:
        for flavour in case.flavours:
            params.append(pytest.param(case, flavour, id=f"{case.name}-{flavour}"))
    return params


def _seed(text: str) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest()[:8], 16)


def randomize_weights(model, rng: np.random.Generator, bn_variance=(0.5, 2.0)) -> None:
    """Replaces BN statistics, biases and constant-initialised weights by random values."""
    for variable in model.weights:
        name = getattr(variable, "path", None) or variable.name
        value = np.asarray(variable.numpy())
        shape = value.shape
        if "moving_variance" in name:
            new = rng.uniform(*bn_variance, size=shape)
        elif "gamma" in name:
            new = rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
        elif "moving_mean" in name or "beta" in name or "bias" in name:
            new = rng.normal(0.0, 0.5, size=shape)
        elif "alpha" in name:
            new = rng.uniform(0.05, 0.6, size=shape)
        elif value.size > 1 and np.all(value == value.flat[0]):
            new = rng.normal(0.0, 0.5, size=shape)
        else:
            continue
        variable.assign(new.astype(value.dtype))


def make_inputs(model, case: Case, rng: np.random.Generator) -> list[np.ndarray]:
    inputs = []
    for i, tensor in enumerate(model.inputs):
        shape = (BATCH,) + tuple(int(d) for d in tensor.shape[1:])
        dtype = str(getattr(tensor.dtype, "name", tensor.dtype))
        if i in case.int_inputs or "int" in dtype:
            high = case.int_inputs.get(i, 10)
            # Integer ids; a float input (Keras casts it) gets integral floats.
            inputs.append(rng.integers(0, high, size=shape).astype(dtype))
        else:
            inputs.append((case.input_scale * rng.standard_normal(shape)).astype("float32"))
    if case.prepare is not None:
        case.prepare(inputs)
    return inputs


def keras_outputs(model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    args = inputs[0] if len(inputs) == 1 else list(inputs)
    result = model(args, training=False)
    assert not isinstance(result, dict), "dict-valued outputs are not used in these tests"
    if not isinstance(result, (list, tuple)):
        result = [result]
    return [np.asarray(r) for r in result]


@dataclasses.dataclass
class SavedModel:
    case: Case
    flavour: str
    model: Path
    weights: Path | None
    inputs: list = dataclasses.field(repr=False)
    outputs: list = dataclasses.field(repr=False)

    def describe(self) -> str:
        return f"case '{self.case.name}' saved as {self.flavour} ({self.model.name})"


def _save(model, version: int, directory: Path) -> dict[str, tuple[Path, Path | None]]:
    directory.mkdir(parents=True, exist_ok=True)
    saved = {}
    tag = "k3" if version == 3 else "tfk"
    keras_path = directory / "model.keras"
    model.save(keras_path)
    saved[f"{tag}.keras"] = (keras_path, None)
    h5_path = directory / "model.h5"
    model.save(h5_path)
    saved[f"{tag}.h5"] = (h5_path, None)
    json_path = directory / "model.json"
    json_path.write_text(model.to_json())
    weights_path = directory / ("model.weights.h5" if version == 3 else "w.h5")
    model.save_weights(weights_path)
    saved[f"{tag}.json"] = (json_path, weights_path)
    return saved


class ModelCache:
    """Builds and saves each case once per test module, on first use."""

    def __init__(self, root: Path):
        self.root = root
        self._saved: dict[tuple[str, int], dict[str, SavedModel]] = {}

    def get(self, case: Case, flavour: str) -> SavedModel:
        version = 3 if flavour.startswith("k3.") else 2
        key = (case.name, version)
        if key not in self._saved:
            self._saved[key] = self._build(case, version)
        return self._saved[key][flavour]

    def _build(self, case: Case, version: int) -> dict[str, SavedModel]:
        k = namespace(version)
        k.keras.backend.clear_session()
        seed = _seed(f"{case.name}/{version}")
        k.keras.utils.set_random_seed(seed % (2**31))
        model = case.build(k)
        assert model is not None, f"case '{case.name}' builds nothing for Keras {version}"
        rng = np.random.default_rng(seed)
        randomize_weights(model, rng, case.bn_variance)
        inputs = make_inputs(model, case, rng)
        outputs = keras_outputs(model, inputs)
        directory = self.root / f"{case.name}-keras{version}"
        files = _save(model, version, directory)
        return {
            flavour: SavedModel(case, flavour, path, weights, inputs, outputs)
            for flavour, (path, weights) in files.items()
        }


# ---------------------------------------------------------------------------
# Running and comparing


def _layout_perm(entry: dict) -> list[int] | None:
    """The report's permute_from_keras (None for the identity), checked against its layout."""
    layout = entry.get("layout", "keras")
    described = None
    if layout != "keras":
        match = re.fullmatch(r"permuted \[(.*)\]", layout)
        assert match, f"{entry['name']}: unexpected layout {layout!r} at the model boundary"
        described = [int(p) for p in match.group(1).split(",")]
    perm = entry.get("permute_from_keras")
    if perm is None:
        return described
    identity = list(range(len(perm)))
    assert perm == (described or identity), (
        f"{entry['name']}: permute_from_keras {perm} disagrees with layout {layout!r}"
    )
    return None if perm == identity else perm


def boundary_perm(entry: dict, io_layout: str, what: str) -> list[int] | None:
    """The permutation from Keras to PyTorch order at a model input or output, checked."""
    keras_shape = entry["keras_shape"]
    torch_shape = entry["torch_shape"]
    perm = _layout_perm(entry)
    if io_layout == "keras":
        assert perm is None and torch_shape == keras_shape, (
            f"{what} '{entry['name']}': with --io-layout keras the report gives torch_shape "
            f"{torch_shape} and layout {entry.get('layout')!r} for Keras shape {keras_shape}"
        )
        return None
    if perm is None:
        assert torch_shape == keras_shape, (
            f"{what} '{entry['name']}': layout 'keras' but torch_shape {torch_shape} differs "
            f"from keras_shape {keras_shape}"
        )
        return None
    expected = [keras_shape[p] for p in perm]
    assert torch_shape == expected, (
        f"{what} '{entry['name']}': layout {perm} applied to keras_shape {keras_shape} gives "
        f"{expected}, but the report's torch_shape is {torch_shape}"
    )
    rank = len(keras_shape)
    if what == "input" and rank in (3, 4):
        channels_first = [0, rank - 1] + list(range(1, rank - 1))
        assert perm == channels_first, (
            f"input '{entry['name']}': rank {rank} input permuted {perm}, expected channels "
            f"first {channels_first}"
        )
    return perm


def relative_error(actual: np.ndarray, expected: np.ndarray) -> tuple[float, float, float]:
    diff = float(np.max(np.abs(actual.astype(np.float64) - expected.astype(np.float64))))
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    return diff / max(scale, 1e-6), diff, scale


def run_converted(out: Path, report: dict, saved: SavedModel, io_layout: str) -> list[np.ndarray]:
    """Runs out/model.py on the saved inputs; returns outputs in Keras order."""
    import torch

    module = import_model(out)
    model = module.load_model()
    assert not model.training, "load_model() must return the module in eval mode"
    assert len(report["inputs"]) == len(saved.inputs), report["inputs"]
    assert len(report["outputs"]) == len(saved.outputs), report["outputs"]
    args = []
    for entry, array in zip(report["inputs"], saved.inputs):
        perm = boundary_perm(entry, io_layout, "input")
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        if perm is not None:
            tensor = tensor.permute(*perm).contiguous()
        expected_dtype = entry["dtype"].removeprefix("torch.")
        if str(tensor.dtype).removeprefix("torch.") != expected_dtype:
            tensor = tensor.to(getattr(torch, expected_dtype))
        args.append(tensor)
    with torch.no_grad():
        result = model(*args)
    if not isinstance(result, (tuple, list)):
        result = [result]
    assert len(result) == len(saved.outputs), (
        f"{len(result)} outputs, Keras has {len(saved.outputs)}"
    )
    outputs = []
    for entry, tensor in zip(report["outputs"], result):
        perm = boundary_perm(entry, io_layout, "output")
        assert list(tensor.shape)[1:] == entry["torch_shape"][1:], (
            f"output '{entry['name']}' has shape {tuple(tensor.shape)}, report says "
            f"{entry['torch_shape']}"
        )
        if perm is not None:
            tensor = tensor.permute(*np.argsort(perm).tolist())
        outputs.append(tensor.detach().cpu().numpy())
    return outputs


def compare(saved: SavedModel, actual: list[np.ndarray], io_layout: str) -> None:
    problems = []
    for index, (a, b) in enumerate(zip(actual, saved.outputs)):
        if a.shape != b.shape:
            problems.append(f"output {index}: shape {a.shape}, Keras {b.shape}")
            continue
        rel, diff, scale = relative_error(a, b)
        if not rel <= TOLERANCE:
            problems.append(
                f"output {index}: rel {rel:.3e} (max abs diff {diff:.3e}, max|keras| {scale:.3e})"
            )
    assert not problems, (
        f"{saved.describe()}, --io-layout {io_layout}: outputs differ from Keras "
        f"({TOLERANCE_TEXT}):\n  " + "\n  ".join(problems)
    )


def check(
    cli: Path,
    cache: ModelCache,
    case: Case,
    flavour: str,
    tmp_path: Path,
    io_layouts: Sequence[str] = ("torch", "keras"),
) -> dict[str, Path]:
    """Converts one saved model with each io-layout and compares with Keras."""
    saved = cache.get(case, flavour)
    outs = {}
    for io_layout in io_layouts:
        out = tmp_path / f"out-{io_layout}"
        report = convert(cli, saved, out, io_layout)
        actual = run_converted(out, report, saved, io_layout)
        compare(saved, actual, io_layout)
        outs[io_layout] = out
    return outs


def expect_error(cli: Path, saved: SavedModel, out: Path, message: str) -> None:
    """Asserts that conversion fails (exit 2) with exactly this error line."""
    result = run_cli(cli, saved.model, out, saved.weights)
    assert result.returncode == 2, (
        f"expected exit 2 for {saved.describe()}, got {result.returncode}\n{result.stderr}"
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("keras2torch: error:")]
    assert message in lines, f"expected error line:\n{message}\nstderr:\n{result.stderr}"
