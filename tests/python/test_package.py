"""The Python package: convert, load, inspect, verify, ConversionError and the command.

Runs against the installed package (``pip install .``), as a user would, so the models are
built here with Keras 3 and written into pytest's temporary directories.
"""

import os

# Before TensorFlow is imported: Keras 3 on its TensorFlow backend, quiet logs.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import gc
import importlib.metadata
import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import keras2torch

TOLERANCE = 1e-4  # max|torch - keras| / max(max|keras|, 1e-6), as in tests/e2e
COMMAND = Path(sys.executable).with_name("keras2torch")

SCALE_LAYER = '''
import torch
from torch import nn


class Scale(nn.Module):
    """Multiplies the last axis by a learned vector, as the Keras layer in the test does."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.w
'''


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-6))


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


@pytest.fixture(scope="module")
def cnn(keras, tmp_path_factory):
    """A small Keras 3 CNN saved as .keras, with non-trivial BatchNormalization statistics."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.MaxPooling2D(2, name="pool"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(5, name="dense"),
        ],
        name="small_cnn",
    )
    rng = np.random.default_rng(1)
    bn = model.get_layer("bn")
    bn.set_weights(
        [
            rng.uniform(0.5, 1.5, (4,)),
            rng.normal(0, 0.1, (4,)),
            rng.normal(0, 0.5, (4,)),
            rng.uniform(0.5, 2.0, (4,)),
        ]
    )
    path = tmp_path_factory.mktemp("cnn") / "cnn.keras"
    model.save(path)
    return path, model


def test_load_returns_eval_module_that_matches_keras(cnn):
    path, keras_model = cnn
    model = keras2torch.load(path)
    assert isinstance(model, torch.nn.Module)
    assert not model.training

    x = np.random.default_rng(0).standard_normal((3, 12, 12, 3)).astype(np.float32)
    expected = np.asarray(keras_model(x, training=False))
    with torch.no_grad():
        actual = model(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()  # NHWC -> NCHW
    assert relative_error(actual, expected) <= TOLERANCE


def test_load_with_keras_io_layout_takes_channels_last(cnn):
    path, keras_model = cnn
    model = keras2torch.load(path, io_layout="keras")
    x = np.random.default_rng(0).standard_normal((2, 12, 12, 3)).astype(np.float32)
    with torch.no_grad():
        actual = model(torch.from_numpy(x)).numpy()
    assert relative_error(actual, np.asarray(keras_model(x, training=False))) <= TOLERANCE


def test_load_keeps_files_until_the_module_is_collected(cnn):
    model = keras2torch.load(cnn[0])
    source = Path(sys.modules[type(model).__module__].__file__)
    assert source.is_file()
    del model
    gc.collect()
    assert not source.parent.parent.exists()


def test_load_imports_a_custom_python_file_copied_beside_model_py(keras, tmp_path):
    @keras.saving.register_keras_serializable(package="k2t_test")
    class Scale(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="random_normal")

        def call(self, x):
            return x * self.w

    keras.utils.set_random_seed(2)
    inputs = keras.Input((6,))
    keras_model = keras.Model(inputs, Scale(name="scale")(keras.layers.Dense(4)(inputs)))
    path = tmp_path / "scaled.keras"
    keras_model.save(path)
    (tmp_path / "scale_layer.py").write_text(SCALE_LAYER)
    mapping = {
        "Scale": {
            "python": "scale_layer.py",
            "class": "Scale",
            "args": {"features": "$input.shape[-1]"},
            "weights": {"w": {"from": 0}},
            "output_shape": "same",
        }
    }
    (tmp_path / "custom.json").write_text(json.dumps(mapping))

    model = keras2torch.load(path, custom=tmp_path / "custom.json")
    x = np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32)
    with torch.no_grad():
        actual = model(torch.from_numpy(x)).numpy()
    assert relative_error(actual, np.asarray(keras_model(x))) <= TOLERANCE


def test_convert_writes_the_four_files_and_returns_the_report(cnn, tmp_path):
    out = tmp_path / "out"
    report = keras2torch.convert(cnn[0], out)
    assert sorted(p.name for p in out.iterdir()) == [
        "model.py",
        "model.safetensors",
        "report.json",
        "report.md",
    ]
    assert report == json.loads((out / "report.json").read_text())
    assert report["complete"] is True
    assert report["source"]["file"] == "cnn.keras"
    assert report["inputs"][0]["torch_shape"] == [None, 3, 12, 12]


def test_convert_refuses_a_non_empty_directory_unless_forced(cnn, tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(keras2torch.ConversionError, match="use --force to replace it"):
        keras2torch.convert(cnn[0], tmp_path)
    assert (tmp_path / "keep.txt").exists()

    keras2torch.convert(cnn[0], tmp_path, force=True)
    assert not (tmp_path / "keep.txt").exists()


def test_convert_rejects_an_unknown_io_layout(cnn, tmp_path):
    with pytest.raises(ValueError, match="io_layout must be 'torch' or 'keras', not 'nchw'"):
        keras2torch.convert(cnn[0], tmp_path / "out", io_layout="nchw")


def test_conversion_error_has_the_message_the_command_prints(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    with pytest.raises(keras2torch.ConversionError) as caught:
        keras2torch.convert(text, tmp_path / "out")
    error = caught.value
    assert isinstance(error, RuntimeError)
    assert not (tmp_path / "out").exists()

    # The wording belongs to the readers' tests; here: one line, as the command prints it.
    assert str(error).startswith(f"keras2torch: error: {text}: not a Keras model")
    assert error.errors == [str(error)]
    cli = subprocess.run(
        [COMMAND, "convert", text, "-o", tmp_path / "out"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 2
    assert cli.stderr == str(error) + "\n"


def test_inspect_lists_the_layers(cnn):
    summary = keras2torch.inspect(cnn[0])
    for name in ("conv", "bn", "pool", "flatten", "dense"):
        assert name in summary
    missing = cnn[0].parent / "missing.keras"
    with pytest.raises(
        keras2torch.ConversionError, match=f"^keras2torch: error: {re.escape(str(missing))}: "
    ):
        keras2torch.inspect(missing)


def test_verify_reports_agreement_with_keras(cnn):
    result = keras2torch.verify(cnn[0], samples=3)
    assert result["ok"] is True
    assert result["keras"].startswith("keras 3.")
    [output] = result["outputs"]
    assert output["shape"] == [3, 5]
    assert output["max_rel_error"] <= TOLERANCE
    assert output["max_abs_error"] <= result["max_abs_error"]


def test_conversions_run_in_parallel_threads(cnn, tmp_path):
    # The core releases the GIL; each thread still gets its own complete result.
    reports = {}

    def run(index: int) -> None:
        reports[index] = keras2torch.convert(cnn[0], tmp_path / str(index))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [reports[i]["complete"] for i in range(3)] == [True, True, True]


def test_the_installed_command_is_the_native_program(cnn, tmp_path):
    assert COMMAND.read_bytes()[:4] == b"\x7fELF", f"{COMMAND} is not a native executable"
    version = subprocess.run([COMMAND, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"keras2torch {keras2torch.__version__}"

    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "keras2torch", "convert", cnn[0], "-o", out],
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (out / "model.py").is_file()


def test_versions_agree():
    assert keras2torch.__version__ == importlib.metadata.version("keras2torch")
