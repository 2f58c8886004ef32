"""Keras 2 files written on the Theano backend: convolution kernels are flipped.

Theano computes true convolutions, TensorFlow and PyTorch cross-correlations; Keras 2.x
standalone flipped the spatial axes of Conv1D/2D/3D, Conv2DTranspose and ConvLSTM2D
kernels when loading a file whose `backend` attribute was 'theano'
(keras 2.2.4 engine/saving.py, utils/conv_utils.convert_kernel). tf_keras no longer does,
so the reference here is tf_keras loading the file, with the kernels then flipped the way
Keras 2.2.4 did. The Theano file itself is a tf_keras file with the attributes a Theano
writer records (backend 'theano', a standalone Keras 2 version).
"""

from __future__ import annotations

import h5py
import harness
import numpy as np
from test_keras1 import Saved, convert_and_compare, keras_predict


def build():
    K = harness.keras_module(2)
    L = K.layers
    return K.Sequential([
        K.Input((9, 10, 3)),
        L.Conv2D(4, (3, 2), activation="relu", name="conv"),
        L.Conv2DTranspose(3, (2, 3), strides=2, name="deconv"),
        L.Reshape((-1, 3), name="seq"),
        L.Conv1D(2, 3, name="conv1d"),
        L.Flatten(name="flat"),
        L.Dense(2, name="out"),
    ])


def test_theano_written_keras2_file_has_its_kernels_flipped(cli, tmp_path):
    rng = np.random.default_rng(12)
    model = build()
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    path = tmp_path / "theano.h5"
    model.save(path)
    with h5py.File(path, "r+") as f:
        for node in (f, f["model_weights"]):
            node.attrs["backend"] = b"theano"
            node.attrs["keras_version"] = b"2.2.4"
    reference = build()
    reference.load_weights(str(path))
    for name in ("conv", "deconv", "conv1d"):
        layer = reference.get_layer(name)
        kernel, bias = layer.get_weights()
        spatial = tuple(range(kernel.ndim - 2))
        layer.set_weights([np.flip(kernel, axis=spatial), bias])
    inputs = [rng.uniform(-1, 1, (2, 9, 10, 3)).astype(np.float32)]
    saved = Saved("Theano-written Keras 2 file", path, None, inputs,
                  keras_predict(reference, inputs))
    convert_and_compare(cli, saved, tmp_path)
