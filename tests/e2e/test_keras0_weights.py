"""Keras 0.x weights files given with --weights for a Keras 1 or Keras 2 architecture.

Keras 0.x `save_weights` wrote a root attribute `nb_layers` and groups `layer_K` holding
`param_0`, `param_1`, ... in the layer's get_weights() order, which is the Keras 1 order
(LSTM as 12 arrays W_i, U_i, b_i, W_c, ..., b_o). Keras 1 still loaded such a file, pairing
groups with the model's layers by position. No installable Keras writes one, so the files
are written here with h5py from tf_keras weights converted to the Keras 1 layouts, and the
converted model is compared with the tf_keras model itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import harness
import numpy as np
from test_keras1 import (
    Saved,
    convert_and_compare,
    keras_predict,
    random_inputs,
    reference_model,
    rnn_case,
    write_keras1_h5,
)


def tfk():
    return harness.keras_module(2)


class Saved0(Saved):
    def describe(self) -> str:
        return f"'{self.name}'"


def write_keras0_weights(path: Path, layers: list[list[np.ndarray]]) -> None:
    """A Keras 0.x save_weights file: one group per layer, weighted or not, in order."""
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["nb_layers"] = len(layers)
        for k, arrays in enumerate(layers):
            g = f.create_group(f"layer_{k}")
            g.attrs["nb_params"] = len(arrays)
            for i, array in enumerate(arrays):
                g.create_dataset(f"param_{i}", data=array)


def keras1_arrays(layer) -> list[np.ndarray]:
    """A tf_keras layer's weights in the Keras 0.x / Keras 1 layout."""
    weights = layer.get_weights()
    if type(layer).__name__ == "LSTM":
        kernel, recurrent, bias = weights
        units = recurrent.shape[0]
        # Keras 2 concatenates gates i, f, c, o; Keras 1 kept i, c, f, o apart.
        out = []
        for gate in (0, 2, 1, 3):
            part = slice(gate * units, (gate + 1) * units)
            out += [kernel[:, part], recurrent[:, part], bias[part]]
        return out
    # BatchNormalization: gamma, beta, running mean, and a "running_std" that Keras 1
    # already stored as the variance; Dense and Embedding: the same arrays.
    return weights


def save_keras2(model, tmp_path: Path, drop_last=False) -> tuple[Path, Path]:
    """The model's Keras 2 architecture JSON and a Keras 0.x weights file for it."""
    arch = tmp_path / "model.json"
    arch.write_text(model.to_json())
    layers = [keras1_arrays(layer) for layer in model.layers]
    if drop_last:
        layers = layers[:-1]
    weights = tmp_path / "keras0.h5"
    write_keras0_weights(weights, layers)
    return arch, weights


def randomize(model, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        layer.set_weights(
            [
                rng.uniform(0.2 if "variance" in w.name else -0.6, 0.6, w.shape).astype(np.float32)
                for w in layer.weights
            ]
        )


def mlp():
    K = tfk()
    return K.Sequential(
        [
            K.Input((8,)),
            K.layers.Dense(16, activation="relu"),
            K.layers.Dropout(0.2),
            K.layers.Dense(4, activation="softmax"),
        ]
    )


def test_keras0_weights_mlp(cli, tmp_path):
    model = mlp()
    randomize(model, 1)
    arch, weights = save_keras2(model, tmp_path)
    inputs = random_inputs(model, 2)
    saved = Saved0("Keras 0.x weights, MLP", arch, weights, inputs, keras_predict(model, inputs))
    convert_and_compare(cli, saved, tmp_path)


def test_keras0_weights_embedding_lstm_batchnorm(cli, tmp_path):
    K = tfk()
    model = K.Sequential(
        [
            K.Input((6,), dtype="int32"),
            K.layers.Embedding(20, 4),
            K.layers.LSTM(5),
            K.layers.BatchNormalization(),
            K.layers.Dense(3),
        ]
    )
    randomize(model, 3)
    arch, weights = save_keras2(model, tmp_path)
    inputs = [np.random.default_rng(4).integers(0, 20, (2, 6)).astype(np.int32)]
    saved = Saved0(
        "Keras 0.x weights, Embedding + LSTM + BatchNormalization",
        arch,
        weights,
        inputs,
        keras_predict(model, inputs),
    )
    convert_and_compare(cli, saved, tmp_path)


def test_keras0_weights_keras1_architecture(cli, tmp_path):
    # The Keras 1 LSTM's own 12 arrays, written once as a Keras 1 file (which tf_keras
    # loads for the reference) and once as a Keras 0.x file beside the Keras 1 JSON.
    model_config, weights = rnn_case(np.random.default_rng(5), "LSTM", "cpu")
    keras1 = tmp_path / "k1.h5"
    write_keras1_h5(keras1, model_config, weights)
    reference = reference_model(model_config, {})
    reference.load_weights(str(keras1))
    arch = tmp_path / "model.json"
    arch.write_text(json.dumps({**model_config, "keras_version": "1.2.2"}))
    keras0 = tmp_path / "keras0.h5"
    write_keras0_weights(
        keras0,
        [[a for _, a in weights[entry["config"]["name"]]] for entry in model_config["config"]],
    )
    inputs = random_inputs(reference, 6)
    saved = Saved0(
        "Keras 0.x weights, Keras 1 LSTM", arch, keras0, inputs, keras_predict(reference, inputs)
    )
    convert_and_compare(cli, saved, tmp_path)


def refused(cli, tmp_path, arch: Path, weights: Path, message: str) -> None:
    result = harness.run_cli(cli, arch, tmp_path / "out", weights)
    assert result.returncode == 2, result.stderr
    assert f"keras2torch: error: {arch}: {message}" in result.stderr.splitlines(), result.stderr
    assert not (tmp_path / "out").exists()


def test_keras0_weights_conv_refused(cli, tmp_path):
    K = tfk()
    model = K.Sequential(
        [
            K.Input((6, 6, 2)),
            K.layers.Conv2D(3, 3, name="conv"),
            K.layers.Flatten(),
            K.layers.Dense(2),
        ]
    )
    arch, weights = save_keras2(model, tmp_path)
    refused(
        cli,
        tmp_path,
        arch,
        weights,
        "layer 'conv' (Conv2D): a Keras 0.x weights file does not record which backend "
        "wrote it, and Theano stored convolution kernels flipped relative to TensorFlow, "
        "so this layer's kernel cannot be read without guessing; load the weights in "
        "Keras 1 with the backend that wrote them and save them again "
        "(model.save_weights), which records the backend",
    )


def test_keras0_weights_layer_count_refused(cli, tmp_path):
    arch, weights = save_keras2(mlp(), tmp_path, drop_last=True)
    refused(
        cli,
        tmp_path,
        arch,
        weights,
        "the Keras 0.x weights file holds 2 layers (nb_layers) but the model has 3 (its "
        "input layer not counted); Keras matched such files to layers by position, so the "
        "counts must agree",
    )


def test_keras0_weights_for_a_weightless_layer_refused(cli, tmp_path):
    """Arrays the model has no place for are an error, not silently left unused."""
    model = mlp()
    arch = tmp_path / "model.json"
    arch.write_text(model.to_json())
    layers = [keras1_arrays(layer) for layer in model.layers]
    layers[1] = [np.zeros((3,), np.float32)]  # the Dropout's group
    weights = tmp_path / "keras0.h5"
    write_keras0_weights(weights, layers)
    dropout = model.layers[1].name
    refused(
        cli,
        tmp_path,
        arch,
        weights,
        f"layer '{dropout}' (Dropout): the Keras 0.x weights file holds 1 array(s) in "
        "'layer_1' for this layer, which has no weights; the file was saved from another "
        "model",
    )
