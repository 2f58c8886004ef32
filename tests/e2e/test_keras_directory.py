"""Unzipped .keras models: keras.saving.save_model(model, "dir", zipped=False).

Keras 3 writes the archive's members (config.json, metadata.json, model.weights.h5) into
a directory and loads it back with keras.saving.load_model; the converted model must
reproduce that loaded model.
"""

from __future__ import annotations

import harness
import numpy as np
from test_keras1 import Saved, convert_and_compare


def test_unzipped_keras_directory_matches_keras(cli, tmp_path):
    keras = harness.keras_module(3)
    L = keras.layers
    inputs = keras.Input((10, 12, 3))
    x = L.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = L.MaxPooling2D(name="pool")(x)
    x = L.Flatten(name="flat")(x)
    outputs = L.Dense(5, activation="softmax", name="out")(x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(21)
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    directory = tmp_path / "model_dir"
    keras.saving.save_model(model, directory, zipped=False)
    assert (directory / "config.json").is_file() and (directory / "model.weights.h5").is_file()
    loaded = keras.saving.load_model(directory)
    x = rng.uniform(-1, 1, (2, 10, 12, 3)).astype(np.float32)
    saved = Saved("unzipped .keras directory", directory, None, [x],
                  [np.asarray(loaded.predict(x, verbose=0))])
    convert_and_compare(cli, saved, tmp_path)


def test_unzipped_keras_directory_with_npz_weights_is_refused(cli, tmp_path):
    directory = tmp_path / "model_dir"
    directory.mkdir()
    keras = harness.keras_module(3)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")])
    keras.saving.save_model(model, directory, zipped=False)
    (directory / "model.weights.h5").rename(directory / "model.weights.npz")
    result = harness.run_cli(cli, directory, tmp_path / "out")
    assert result.returncode == 2, result.stderr
    expected = (
        f"keras2torch: error: {directory}: the weights are stored as model.weights.npz, which "
        "may hold pickled Python objects and is never read by keras2torch; save the model "
        "again with the default weights format (model.weights.h5)"
    )
    assert expected in result.stderr.splitlines(), result.stderr
