"""Writes the bad inputs that test_bad_input.py feeds to the keras2torch CLI.

Nothing binary is committed: every file is made here, at test time, into a
directory the caller chooses. Where a bad file is naturally "a real model,
damaged", a tiny model is built and saved with real Keras (Keras 3 and
tf_keras) and then cut, corrupted or edited with h5py, zipfile and json.

    python tests/errors/make_bad_inputs.py OUT_DIR    # writes the files, lists them

`generate(out_dir)` returns {case name: BadInput}; each BadInput names the
file to convert, any --weights file, and the facts an expected message needs
(sizes of the files that were cut).
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import sys
import warnings
import zipfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Built-in Keras layers that keras2torch does not convert, as (layer name,
# class): deprecated ones that are unlikely to gain a converter. Should one
# become supported, pick another built-in class that has no converter.
UNSUPPORTED = (("local2d", "LocallyConnected2D"), ("local1d", "LocallyConnected1D"))

# Lengths a real .h5 / .keras file is cut to.
HDF5_CUTS = (8, 100, 2048)
ZIP_CUTS = (10, 1000)


@dataclasses.dataclass
class BadInput:
    path: Path
    weights: Path | None = None
    facts: dict = dataclasses.field(default_factory=dict)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------------------
# Real models, saved once


def _save_real_models(work: Path) -> dict[str, Path]:
    """Tiny models saved by Keras 3 and tf_keras; the bases for the damaged files."""
    import keras
    import tf_keras

    saved = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")

        # tf_keras Functional: Input(4) -> Dense(3) -> Dense(2).
        inputs = tf_keras.Input((4,), name="features")
        hidden = tf_keras.layers.Dense(3, name="dense")(inputs)
        outputs = tf_keras.layers.Dense(2, name="dense_1")(hidden)
        model = tf_keras.Model(inputs, outputs, name="tiny")
        saved["tfk_h5"] = work / "tfk_tiny.h5"
        model.save(saved["tfk_h5"])
        saved["tfk_weights"] = work / "tfk_tiny_weights.h5"
        model.save_weights(saved["tfk_weights"])
        saved["tfk_json"] = work / "tfk_tiny.json"
        saved["tfk_json"].write_text(model.to_json())

        # tf_keras with two built-in layers keras2torch does not convert.
        (name_2d, class_2d), (name_1d, class_1d) = UNSUPPORTED
        image = tf_keras.Input((6, 6, 2), name="image")
        local = getattr(tf_keras.layers, class_2d)(2, 3, name=name_2d)(image)
        rows = tf_keras.layers.Reshape((16, 2), name="reshape")(local)
        local = getattr(tf_keras.layers, class_1d)(2, 3, name=name_1d)(rows)
        flat = tf_keras.layers.Flatten(name="flatten")(local)
        unsupported = tf_keras.Model(image, tf_keras.layers.Dense(1, name="head")(flat))
        saved["tfk_unsupported"] = work / "tfk_unsupported.h5"
        unsupported.save(saved["tfk_unsupported"])

        # tf_keras Sequential never built: to_json() has no input shape.
        unbuilt = tf_keras.Sequential([tf_keras.layers.Dense(2, name="dense")], name="unbuilt")
        saved["tfk_unbuilt_json"] = work / "tfk_unbuilt.json"
        saved["tfk_unbuilt_json"].write_text(unbuilt.to_json())

        # Keras 3 Sequential: Input(4) -> Dense(3) -> Dense(2).
        k3 = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(3, name="dense"),
                keras.layers.Dense(2, name="dense_1"),
            ],
            name="k3_tiny",
        )
        saved["k3_keras"] = work / "k3_tiny.keras"
        k3.save(saved["k3_keras"])
        saved["k3_weights"] = work / "k3_tiny.weights.h5"
        k3.save_weights(saved["k3_weights"])

        # Keras 3 Sequential saved before it was built.
        k3_unbuilt = keras.Sequential([keras.layers.Dense(2, name="dense")], name="k3_unbuilt")
        saved["k3_unbuilt"] = work / "k3_unbuilt.keras"
        k3_unbuilt.save(saved["k3_unbuilt"])
    return saved


# ---------------------------------------------------------------------------
# Editing saved files


def _rezip(target: Path, members: list[tuple[str, bytes]]) -> Path:
    """A zip archive, as Python writes .keras files, holding exactly `members` in order."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(target, "w") as archive:
            for name, data in members:
                archive.writestr(name, data)
    return target


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _central_directory(data: bytes) -> int:
    offset = data.find(b"PK\x01\x02")
    assert offset >= 0, "no central directory entry"
    return offset


def _flip(data: bytes, start: int, stop: int) -> bytes:
    out = bytearray(data)
    for i in range(start, stop):
        out[i] ^= 0xFF
    return bytes(out)


def _edit_json_config(source: Path, target: Path, edit) -> Path:
    config = json.loads(source.read_text())
    edit(config)
    target.write_text(json.dumps(config))
    return target


def _layer(config: dict, name: str) -> dict:
    for layer in config["config"]["layers"]:
        if layer["name"] == name:
            return layer
    raise KeyError(name)


def _transpose_kernel(source: Path, target: Path, dataset: str) -> Path:
    import h5py

    shutil.copyfile(source, target)
    with h5py.File(target, "r+") as f:
        kernel = f[dataset][()]
        del f[dataset]
        f.create_dataset(dataset, data=kernel.T)
    return target


# ---------------------------------------------------------------------------
# The cases


def generate(out: Path) -> dict[str, BadInput]:
    import h5py
    import numpy as np

    out.mkdir(parents=True, exist_ok=True)
    work = out / "_saved"
    work.mkdir(exist_ok=True)
    saved = _save_real_models(work)
    cases: dict[str, BadInput] = {}

    # Not a Keras file at all.
    cases["text"] = BadInput(_write(out / "notes.h5", b"hello, these are my notes\n"))
    cases["png"] = BadInput(
        _write(out / "picture.keras", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
    )
    rng = random.Random(20240611)
    noise = bytes([0x07, 0xE1, 0x3C, 0x00, 0x9A, 0x55, 0xF0, 0x12]) + rng.randbytes(4088)
    cases["random"] = BadInput(_write(out / "noise.h5", noise))
    cases["empty"] = BadInput(_write(out / "empty.keras", b""))

    # Truncated HDF5 at several lengths.
    h5_bytes = saved["tfk_h5"].read_bytes()
    for length in HDF5_CUTS + (len(h5_bytes) // 2, len(h5_bytes) - 1):
        cases[f"truncated_h5_{length}"] = BadInput(
            _write(out / f"cut_{length}.h5", h5_bytes[:length]),
            facts={"length": length, "size": len(h5_bytes)},
        )

    # Truncated and corrupt .keras archives.
    zip_bytes = saved["k3_keras"].read_bytes()
    for length in ZIP_CUTS + (len(zip_bytes) // 2, len(zip_bytes) - 1):
        cases[f"truncated_zip_{length}"] = BadInput(
            _write(out / f"cut_{length}.keras", zip_bytes[:length]), facts={"length": length}
        )
    directory = _central_directory(zip_bytes)
    cases["corrupt_zip_crc"] = BadInput(
        _write(out / "flipped_crc.keras", _flip(zip_bytes, directory + 16, directory + 20))
    )
    cases["corrupt_zip_sizes"] = BadInput(
        _write(out / "flipped_sizes.keras", _flip(zip_bytes, directory + 20, directory + 28))
    )

    # .keras archives with the wrong members.
    members = _members(saved["k3_keras"])
    cases["keras_without_config"] = BadInput(
        _rezip(
            out / "no_config.keras",
            [(name, data) for name, data in members.items() if name != "config.json"],
        )
    )
    cases["keras_npz"] = BadInput(
        _rezip(
            out / "npz.keras",
            [
                ("model.weights.npz" if name == "model.weights.h5" else name, data)
                for name, data in members.items()
            ],
        )
    )
    cases["keras_duplicate"] = BadInput(
        _rezip(
            out / "duplicate.keras",
            list(members.items()) + [("config.json", members["config.json"])],
        )
    )

    # HDF5 files that are not full models.
    plain = out / "plain.h5"
    with h5py.File(plain, "w") as f:
        f.create_dataset("measurements", data=[1.0, 2.0, 3.0])
    cases["h5_without_model_config"] = BadInput(plain)
    cases["weights_only_legacy"] = BadInput(saved["tfk_weights"])
    cases["weights_only_v3"] = BadInput(saved["k3_weights"])

    # JSON that is no model, or a model that cannot be.
    cases["json_not_a_model"] = BadInput(
        _write(out / "settings.json", b'{"learning_rate": 0.001, "epochs": 3}')
    )

    def missing_inbound(config):
        _layer(config, "dense_1")["inbound_nodes"][0][0][0] = "ghost"

    cases["json_missing_inbound"] = BadInput(
        _edit_json_config(saved["tfk_json"], out / "missing_inbound.json", missing_inbound),
        weights=saved["tfk_weights"],
    )

    def cycle(config):
        _layer(config, "dense")["inbound_nodes"][0][0][0] = "dense_1"

    cases["json_cycle"] = BadInput(
        _edit_json_config(saved["tfk_json"], out / "cycle.json", cycle),
        weights=saved["tfk_weights"],
    )

    cases["transposed_kernel"] = BadInput(
        _transpose_kernel(
            saved["tfk_h5"], out / "transposed.h5", "model_weights/dense/dense/kernel:0"
        )
    )

    # The .keras variant: the weights file inside the archive, edited the same way.
    inner = work / "k3_inner.weights.h5"
    inner.write_bytes(members["model.weights.h5"])
    edited = _transpose_kernel(
        inner, work / "k3_inner_transposed.weights.h5", "layers/dense/vars/0"
    )
    cases["transposed_kernel_keras"] = BadInput(
        _rezip(
            out / "transposed.keras",
            [
                (name, edited.read_bytes() if name == "model.weights.h5" else data)
                for name, data in members.items()
            ],
        )
    )

    # Weights that pass every check until they are read, while the output is
    # being written: a kernel of 10^10 float32 in a compressed, never-written
    # dataset (a "shape bomb"), for a config that asks for exactly that shape.
    def wide(config):
        _layer(config, "features")["config"]["batch_input_shape"] = [None, 100000]
        _layer(config, "dense")["config"]["units"] = 100000

    bomb_weights = out / "bomb_weights.h5"
    with h5py.File(bomb_weights, "w") as f:
        f.attrs["layer_names"] = [b"features", b"dense", b"dense_1"]
        f.attrs["keras_version"] = b"2.15.0"
        f.attrs["backend"] = b"tensorflow"
        f.create_group("features").attrs["weight_names"] = np.asarray([])
        dense = f.create_group("dense")
        dense.attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
        dense.create_dataset(
            "dense/kernel:0",
            shape=(100000, 100000),
            dtype="f4",
            chunks=(1000, 1000),
            compression="gzip",
        )
        dense.create_dataset("dense/bias:0", data=np.zeros(100000, "f4"))
        head = f.create_group("dense_1")
        head.attrs["weight_names"] = [b"dense_1/kernel:0", b"dense_1/bias:0"]
        head.create_dataset("dense_1/kernel:0", data=np.zeros((100000, 2), "f4"))
        head.create_dataset("dense_1/bias:0", data=np.zeros(2, "f4"))
    cases["weights_fail_while_writing"] = BadInput(
        _edit_json_config(saved["tfk_json"], out / "bomb.json", wide),
        weights=bomb_weights,
        facts={"weights_size": bomb_weights.stat().st_size},
    )

    cases["unsupported_layers"] = BadInput(saved["tfk_unsupported"])
    cases["unbuilt_sequential_json"] = BadInput(saved["tfk_unbuilt_json"])
    cases["unbuilt_sequential_keras"] = BadInput(saved["k3_unbuilt"])
    cases["json_without_weights"] = BadInput(saved["tfk_json"])
    return cases


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_bad_inputs.py OUT_DIR")
    for name, case in generate(Path(sys.argv[1])).items():
        extra = f" --weights {case.weights}" if case.weights else ""
        print(f"{name}: {case.path}{extra}")
