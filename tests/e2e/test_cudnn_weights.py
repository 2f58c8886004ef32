"""CuDNNLSTM / CuDNNGRU files (Keras 2.0.9+, tf.keras 1.x), checked against tf_keras.

tf_keras still has both classes and saves them on a machine without a GPU, but cannot
run them there. It converts their weights when loading them into a plain LSTM or
GRU(reset_after=True) (saving/legacy/hdf5_format.py _convert_rnn_weights). So each check
saves a real CuDNN model with tf_keras, loads its file into the equivalent plain model
with tf_keras's own `load_weights`, and compares that model's outputs with the converted
PyTorch model's.
"""

from __future__ import annotations

import harness
import numpy as np
import pytest
from test_keras1 import Saved, convert_and_compare, keras_predict


def cudnn_classes():
    from tf_keras.src.layers.rnn import CuDNNGRU, CuDNNLSTM

    return {"LSTM": CuDNNLSTM, "GRU": CuDNNGRU}


def build(cls: str, cudnn: bool, bidirectional: bool, return_sequences: bool):
    K = harness.keras_module(2)
    L = K.layers
    if cudnn:
        rnn = cudnn_classes()[cls](5, return_sequences=return_sequences, name="rnn")
    elif cls == "LSTM":
        rnn = L.LSTM(5, return_sequences=return_sequences, name="rnn")
    else:
        rnn = L.GRU(5, return_sequences=return_sequences, reset_after=True, name="rnn")
    if bidirectional:
        rnn = L.Bidirectional(rnn, name="bi")
    layers = [K.Input((6, 4)), rnn]
    if return_sequences:
        layers.append(L.Flatten(name="flat"))
    layers.append(L.Dense(3, name="out"))
    return K.Sequential(layers)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_cudnn_file_matches_tf_keras(cli, tmp_path, cls, bidirectional):
    rng = np.random.default_rng(11)
    model = build(cls, True, bidirectional, return_sequences=bidirectional)
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    path = tmp_path / "cudnn.h5"
    model.save(path)
    reference = build(cls, False, bidirectional, return_sequences=bidirectional)
    reference.load_weights(str(path))  # tf_keras converts the cuDNN layout here
    inputs = [rng.uniform(-1, 1, (2, 6, 4)).astype(np.float32)]
    saved = Saved(f"CuDNN{cls}", path, None, inputs, keras_predict(reference, inputs))
    convert_and_compare(cli, saved, tmp_path)
