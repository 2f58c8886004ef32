"""TensorFlow.js layers models: model.json + .bin weight shards, as tensorflowjs writes them.

Each model is built with real Keras (tf_keras and Keras 3), given random weights and
exported by tensorflowjs's own Keras converter (save_keras_model), plain and with every
weight quantized to float16, uint8 or uint16. The converted model is compared with the
exported Keras model after setting its weights to the values tensorflowjs's own reader
(read_weights) gives back: for a plain export these are the weights themselves, for a
quantized one the dequantized values, q * scale + min or the float16 value widened.
Both sides then compute with the same weights, so the usual tolerance (harness.py,
rel <= 1e-4) holds whatever the quantization error is; the test also checks that the
quantization did change the weights, so that it is not vacuous.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import sys
import types

import harness
import numpy as np
import pytest
from test_keras1 import Saved, convert_and_compare

QUANTIZATIONS = ("plain", "float16", "uint8", "uint16")


@functools.cache
def tensorflowjs_modules():
    """tensorflowjs's Keras converter and weight reader, without the package's __init__.

    tensorflowjs/__init__.py imports every converter, and the SavedModel and JAX ones
    import tensorflow_decision_forests, tensorflow_hub and jax, which this project does
    not install (scripts/setup.sh installs tensorflowjs with --no-deps). The Keras
    converter and the reader themselves need only h5py, numpy, six and tensorflow, so the
    two packages are registered as bare namespaces and their modules imported directly.
    """
    spec = importlib.util.find_spec("tensorflowjs")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("tensorflowjs is not installed; run scripts/setup.sh", pytrace=False)
    root = next(iter(spec.submodule_search_locations))
    for name, path in (
        ("tensorflowjs", root),
        ("tensorflowjs.converters", os.path.join(root, "converters")),
    ):
        package = types.ModuleType(name)
        package.__path__ = [path]
        sys.modules[name] = package
    from tensorflowjs import read_weights
    from tensorflowjs.converters import keras_h5_conversion

    return keras_h5_conversion, read_weights


# ---------------------------------------------------------------------------
# Models


def mlp(k):
    L = k.layers
    return k.Sequential(
        [
            k.Input((10,)),
            L.Dense(16, activation="relu", name="hidden"),
            L.Dense(8, activation="tanh"),
            L.Dense(3, activation="softmax"),
        ]
    )


def cnn(k):
    L = k.layers
    inputs = k.Input((12, 10, 3))
    x = L.Conv2D(6, 3, activation="relu")(inputs)
    x = L.MaxPooling2D()(x)
    x = L.Conv2D(4, 3, padding="same")(x)
    x = L.Flatten()(x)
    return k.Model(inputs, L.Dense(5)(x))


def lstm(k):
    L = k.layers
    inputs = k.Input((7,), dtype="int32")
    x = L.Embedding(20, 6)(inputs)
    x = L.LSTM(5, return_sequences=True)(x)
    x = L.LSTM(4)(x)
    return k.Model(inputs, L.Dense(2)(x))


def batchnorm(k):
    L = k.layers
    inputs = k.Input((6, 5, 2))
    x = L.Conv2D(4, 3, padding="same")(inputs)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(6)(x)
    x = L.BatchNormalization(center=False)(x)
    return k.Model(inputs, x)


def nested(k):
    # tf_keras names the inner layers' weights "dense/kernel", without the
    # nested model's name; Keras 3 writes "inner/dense/kernel".
    L = k.layers
    inner = k.Sequential([k.Input((5,)), L.Dense(4, activation="relu"), L.Dense(3)], name="inner")
    inputs = k.Input((5,))
    return k.Model(inputs, L.Dense(2)(inner(inputs)))


MODELS = {"mlp": mlp, "cnn": cnn, "lstm": lstm, "batchnorm": batchnorm, "nested": nested}
INT_INPUTS = {"lstm": 20}


class Exported(Saved):
    def describe(self) -> str:
        return f"TensorFlow.js export '{self.name}'"


# ---------------------------------------------------------------------------
# Export and reference


# Shards of 37 bytes (4 MiB by default): every model is cut into several, and most
# weights, float32 ones included, straddle two files.
SHARD_BYTES = 37


def export(model, directory, quantization):
    converter, _ = tensorflowjs_modules()
    dtype_map = None if quantization == "plain" else {quantization: True}
    converter.save_keras_model(
        model, str(directory), quantization_dtype_map=dtype_map, weight_shard_size_bytes=SHARD_BYTES
    )
    assert len(list(directory.glob("group1-shard*.bin"))) > 1
    return directory / "model.json"


def dequantized_weights(model_json):
    """{weight name: value} as tensorflowjs reads the export back (dequantized)."""
    _, reader = tensorflowjs_modules()
    manifest = json.loads(model_json.read_text())["weightsManifest"]
    groups = reader.read_weights(manifest, str(model_json.parent))
    return {entry["name"]: entry["data"] for group in groups for entry in group}


def variable_name(variable):
    # Keras 3 variables have a path ("inner/dense/kernel"), tf_keras ones a name
    # ("dense/kernel:0"); tensorflowjs drops the ":0".
    name = getattr(variable, "path", None) or variable.name
    return name.removesuffix(":0")


def set_exported_weights(model, values, quantization):
    """Sets the model's weights to `values`; returns the largest change."""
    names = [variable_name(v) for v in model.weights]
    assert sorted(names) == sorted(values), (names, sorted(values))
    change = 0.0
    for variable in model.weights:
        new = values[variable_name(variable)]
        old = np.asarray(variable.numpy())
        assert new.shape == old.shape and new.dtype == old.dtype, variable_name(variable)
        change = max(change, float(np.max(np.abs(new - old))) if new.size else 0.0)
        variable.assign(new)
    if quantization == "plain":
        assert change == 0.0, f"a plain export changed the weights by {change}"
    else:
        assert change > 0.0, f"{quantization} quantization left every weight unchanged"
    return change


@pytest.mark.parametrize("quantization", QUANTIZATIONS)
@pytest.mark.parametrize("version", (2, 3), ids=("tfk", "k3"))
@pytest.mark.parametrize("build", list(MODELS), ids=list(MODELS))
def test_tfjs_model_matches_keras(cli, tmp_path, build, version, quantization):
    k = harness.namespace(version)
    model = MODELS[build](k)
    rng = np.random.default_rng(harness._seed(f"tfjs-{build}-{version}"))
    model.set_weights(
        [rng.uniform(-0.5, 0.5, w.shape).astype(w.dtype) for w in model.get_weights()]
    )
    harness.randomize_weights(model, rng)
    model_json = export(model, tmp_path / "tfjs", quantization)
    set_exported_weights(model, dequantized_weights(model_json), quantization)

    case = harness.Case(build, MODELS[build], int_inputs={0: INT_INPUTS.get(build, 10)})
    inputs = harness.make_inputs(model, case, rng)
    outputs = harness.keras_outputs(model, inputs)
    saved = Exported(f"{build}, {quantization}", model_json, None, inputs, outputs)
    report = convert_and_compare(cli, saved, tmp_path)
    assert report["source"]["format"] == "TensorFlow.js layers model", report["source"]
