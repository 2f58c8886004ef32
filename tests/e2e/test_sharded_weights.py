"""Sharded Keras 3 weights: model.save_weights("x.weights.json", max_shard_size=...).

Keras writes a JSON index (weight_map: variables group -> shard files) and HDF5 shards
x_00000.weights.h5, ... beside it. Each model here is saved with a shard size small
enough to give several shards, and for the MLP one that puts a layer's kernel and its
bias in different shards (Keras splits a group between two variables, never inside one
tensor). The index is given with --weights to the architecture JSON, to the .keras
archive and to the unzipped .keras directory, and the converted model must match
Keras reading the same shards.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import harness
import numpy as np
import pytest

GIB = 1024**3


@dataclasses.dataclass
class Saved:
    """What harness.run_converted and harness.compare need of a saved model."""

    name: str
    model: Path
    weights: Path
    inputs: list
    outputs: list

    def describe(self) -> str:
        return f"'{self.name}' with sharded weights {self.weights.name}"


def mlp(keras):
    L = keras.layers
    return keras.Sequential(
        [
            keras.Input((8,)),
            L.Dense(64, activation="relu", name="hidden"),
            L.BatchNormalization(name="bn"),
            L.Dense(4, name="head"),
        ],
        name="mlp",
    )


def cnn(keras):
    L = keras.layers
    inputs = keras.Input((12, 12, 3))
    x = L.Conv2D(8, 3, activation="relu", name="conv")(inputs)
    x = L.BatchNormalization(name="bn")(x)
    x = L.Conv2D(8, 3, padding="same", name="conv_2")(x)
    x = L.MaxPooling2D(name="pool")(x)
    x = L.Flatten(name="flat")(x)
    outputs = L.Dense(3, activation="softmax", name="out")(x)
    return keras.Model(inputs, outputs, name="cnn")


def recurrent(keras):
    """An LSTM (variables under layers/lstm/cell/vars) inside a nested Sequential."""
    L = keras.layers
    inner = keras.Sequential([L.Dense(6, activation="tanh", name="inner_dense")], name="inner")
    inputs = keras.Input((5, 3))
    x = L.LSTM(7, return_sequences=True, name="lstm")(inputs)
    x = inner(x)
    outputs = L.GlobalAveragePooling1D(name="gap")(x)
    return keras.Model(inputs, outputs, name="recurrent")


# (builder, max_shard_size in bytes, input shape). Keras refuses a tensor larger
# than a shard, so each size is just above the largest tensor. The MLP's lets the
# hidden kernel (8*64*4 = 2048 bytes) fill a shard, so its bias starts the next
# one; the LSTM's spreads its cell's three variables over three shards.
MODELS = {
    "mlp": (mlp, 2200, (3, 8)),
    "cnn": (cnn, 2500, (2, 12, 12, 3)),
    "recurrent": (recurrent, 800, (2, 5, 3)),
}


def save_sharded(name: str, directory: Path) -> tuple[dict[str, Path], Path, list, list]:
    keras = harness.keras_module(3)
    build, shard_bytes, input_shape = MODELS[name]
    model = build(keras)
    rng = np.random.default_rng(harness._seed(name))
    directory.mkdir()
    architecture = directory / f"{name}.json"
    architecture.write_text(model.to_json())
    # The archive and the unzipped .keras directory keep other weights than the
    # shards, so that converting them with --weights shows that the index was read.
    # (Keras itself writes sharded weights only with save_weights, never inside
    # a .keras archive or directory.)
    archive = directory / f"{name}.keras"
    model.save(archive)
    unzipped = directory / f"{name}_dir"
    keras.saving.save_model(model, unzipped, zipped=False)
    harness.randomize_weights(model, rng)
    model.set_weights([w * rng.uniform(0.5, 1.5, w.shape) for w in model.get_weights()])
    index = directory / f"{name}.weights.json"
    model.save_weights(index, max_shard_size=shard_bytes / GIB)

    # The reference is Keras reading the shards back, into a fresh copy.
    reloaded = keras.models.model_from_json(architecture.read_text())
    reloaded.load_weights(index)
    x = rng.standard_normal(input_shape).astype(np.float32)
    outputs = harness.keras_outputs(reloaded, [x])
    np.testing.assert_allclose(outputs[0], harness.keras_outputs(model, [x])[0], rtol=1e-6)
    containers = {"json": architecture, "keras": archive, "directory": unzipped}
    return containers, index, [x], outputs


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("sharded")
    return {name: save_sharded(name, root / name) for name in MODELS}


@pytest.mark.parametrize("container", ["json", "keras", "directory"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_sharded_weights_match_keras(cli, saved_models, tmp_path, name, container):
    containers, index, inputs, outputs = saved_models[name]
    saved = Saved(f"{name} ({container})", containers[container], index, inputs, outputs)
    for io_layout in ("torch", "keras"):
        out = tmp_path / f"out-{io_layout}"
        report = harness.convert(cli, saved, out, io_layout)
        actual = harness.run_converted(out, report, saved, io_layout)
        harness.compare(saved, actual, io_layout)


def test_the_models_really_are_sharded(saved_models):
    """Guards the sizes above: several shards each, and one group split over two."""
    split = []
    for name, (_, index, _, _) in saved_models.items():
        weight_map = json.loads(index.read_text())["weight_map"]
        shards = {s for v in weight_map.values() for s in ([v] if isinstance(v, str) else v)}
        assert len(shards) >= 3, (name, sorted(shards))
        split += [key for key, v in weight_map.items() if isinstance(v, list) and len(v) > 1]
    assert "/layers/dense/vars" in split, split
    assert "/layers/lstm/cell/vars" in split, split


def test_sharded_index_as_the_model_is_refused(cli, saved_models, tmp_path):
    index = saved_models["mlp"][1]
    result = harness.run_cli(cli, index, tmp_path / "out")
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"keras2torch: error: {index}: the JSON is the index of sharded Keras weights; convert "
        "the model's architecture (JSON or .keras) and pass this file with --weights\n"
    )
