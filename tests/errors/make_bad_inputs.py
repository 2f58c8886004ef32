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
    args: tuple[str, ...] = ()  # extra command-line flags (--max-* limits)


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
        # Sharded: dense's kernel (48 bytes) fills the first 50-byte shard, its
        # bias and dense_1 go to the second.
        saved["k3_sharded"] = work / "k3_tiny.weights.json"
        k3.save_weights(saved["k3_sharded"], max_shard_size=50 / 1024**3)

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
    # being written: a kernel of 4 * 10^8 float32 (1.6 GB) in a compressed,
    # never-written dataset of a few kilobytes, for a config that asks for
    # exactly that shape.
    _shape_bomb(out, saved, cases, "weights_fail_while_writing", 20000)
    # The same at 10^10 elements: refused by the element cap when the weights
    # are listed, long before anything is read.
    _shape_bomb(out, saved, cases, "weights_too_many_elements", 100000)

    cases.update(_hostile_cases(out, saved, members))
    cases.update(_sharded_cases(out, saved))
    # Not an error: converted with a warning (test_bad_input.py checks it apart).
    cases["nan_weights_converted"] = BadInput(nan_weights_model(out, saved))
    cases["unsupported_layers"] = BadInput(saved["tfk_unsupported"])
    cases["unbuilt_sequential_json"] = BadInput(saved["tfk_unbuilt_json"])
    cases["unbuilt_sequential_keras"] = BadInput(saved["k3_unbuilt"])
    cases["json_without_weights"] = BadInput(saved["tfk_json"])
    cases.update(_tfjs_cases(out, saved))
    return cases


def _tfjs_model(directory: Path, saved: dict[str, Path], edit=None, shard_length=None) -> Path:
    """The tiny tf_keras model as a TensorFlow.js layers model, in the layout tensorflowjs
    writes (tests/e2e/test_tfjs.py converts real exports): one group, one shard.

    Written here rather than by tensorflowjs so that these cases need only h5py.
    `edit(model_json)` changes model.json; `shard_length` cuts the shard.
    """
    import h5py

    directory.mkdir()
    names, data = [], b""
    with h5py.File(saved["tfk_weights"], "r") as f:
        for layer in f.attrs["layer_names"]:
            group = f[layer]
            for weight in group.attrs["weight_names"]:
                value = group[weight][()]
                name = weight.decode() if isinstance(weight, bytes) else weight
                names.append((name.removesuffix(":0"), list(value.shape)))
                data += value.astype("<f4").tobytes()
    (directory / "group1-shard1of1.bin").write_bytes(data[:shard_length])
    model_json = {
        "format": "layers-model",
        "generatedBy": "keras v2.21.0",
        "convertedBy": "TensorFlow.js Converter v4.22.0",
        "modelTopology": {
            "keras_version": "2.21.0",
            "backend": "tensorflow",
            "model_config": json.loads(saved["tfk_json"].read_text()),
        },
        "weightsManifest": [
            {
                "paths": ["group1-shard1of1.bin"],
                "weights": [{"name": n, "shape": s, "dtype": "float32"} for n, s in names],
            }
        ],
    }
    if edit is not None:
        edit(model_json)
    path = directory / "model.json"
    path.write_text(json.dumps(model_json))
    return path


def _tfjs_cases(out: Path, saved: dict[str, Path]) -> dict[str, BadInput]:
    def weights(model_json):
        return model_json["weightsManifest"][0]["weights"]

    def two_shards(model_json):
        model_json["weightsManifest"][0]["paths"].append("group1-shard2of2.bin")

    def escaping(model_json):
        model_json["weightsManifest"][0]["paths"] = ["../group1-shard1of1.bin"]

    def complex_kernel(model_json):
        weights(model_json)[0]["dtype"] = "complex64"

    def int4_kernel(model_json):
        weights(model_json)[0]["quantization"] = {"dtype": "int4", "scale": 1, "min": 0}

    def huge_kernel(model_json):
        weights(model_json)[0]["shape"] = [100000, 100000]

    def graph(model_json):
        model_json["format"] = "graph-model"
        model_json["modelTopology"] = {"node": [], "versions": {"producer": 1}}

    edits = {
        "tfjs_graph_model": (graph, None),
        "tfjs_missing_shard": (two_shards, None),
        "tfjs_short_shard": (None, 80),
        "tfjs_escaping_shard": (escaping, None),
        "tfjs_unknown_dtype": (complex_kernel, None),
        "tfjs_unknown_quantization": (int4_kernel, None),
        "tfjs_huge_shape": (huge_kernel, None),
    }
    return {
        name: BadInput(_tfjs_model(out / name, saved, edit, length))
        for name, (edit, length) in edits.items()
    }


def _sharded_cases(out: Path, saved: dict[str, Path]) -> dict[str, BadInput]:
    """The index of a real sharded save, copied with its shards and then edited."""
    index = saved["k3_sharded"]
    shards = sorted(index.parent.glob("k3_tiny_*.weights.h5"))
    assert len(shards) == 2, shards
    cases: dict[str, BadInput] = {}

    def sharded(name: str, edit=None, keep=(0, 1)) -> Path:
        directory = out / name
        directory.mkdir()
        for i in keep:
            shutil.copy(shards[i], directory / shards[i].name)
        config = json.loads(index.read_text())
        if edit is not None:
            edit(config["weight_map"])
        target = directory / index.name
        target.write_text(json.dumps(config))
        return target

    cases["sharded_index_as_model"] = BadInput(sharded("sharded_index_as_model"))

    def escape(weight_map):
        weight_map["/layers/dense/vars"] = ["../_saved/" + shards[0].name, shards[1].name]

    cases["sharded_shard_outside"] = BadInput(
        saved["k3_keras"], weights=sharded("sharded_shard_outside", escape)
    )
    cases["sharded_shard_missing"] = BadInput(
        saved["k3_keras"],
        weights=sharded("sharded_shard_missing", keep=(0,)),
        facts={"shard": shards[1].name},
    )

    def wrong_shard(weight_map):
        weight_map["/layers/dense_1/vars"] = shards[0].name

    cases["sharded_wrong_shard"] = BadInput(
        saved["k3_keras"],
        weights=sharded("sharded_wrong_shard", wrong_shard),
        facts={"shard": shards[0].name},
    )

    def not_a_map(weight_map):
        weight_map.clear()

    no_map = sharded("sharded_no_weight_map", not_a_map)
    no_map.write_text(json.dumps({"metadata": {"total_size": 92}, "weight_map": []}))
    cases["sharded_no_weight_map"] = BadInput(saved["k3_keras"], weights=no_map)
    return cases


def _shape_bomb(out: Path, saved: dict, cases: dict, name: str, units: int) -> None:
    import h5py
    import numpy as np

    def wide(config):
        _layer(config, "features")["config"]["batch_input_shape"] = [None, units]
        _layer(config, "dense")["config"]["units"] = units

    bomb_weights = out / f"{name}_weights.h5"
    with h5py.File(bomb_weights, "w") as f:
        f.attrs["layer_names"] = [b"features", b"dense", b"dense_1"]
        f.attrs["keras_version"] = b"2.15.0"
        f.attrs["backend"] = b"tensorflow"
        f.create_group("features").attrs["weight_names"] = np.asarray([])
        dense = f.create_group("dense")
        dense.attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
        dense.create_dataset(
            "dense/kernel:0",
            shape=(units, units),
            dtype="f4",
            chunks=(1000, 1000),
            compression="gzip",
        )
        dense.create_dataset("dense/bias:0", data=np.zeros(units, "f4"))
        head = f.create_group("dense_1")
        head.attrs["weight_names"] = [b"dense_1/kernel:0", b"dense_1/bias:0"]
        head.create_dataset("dense_1/kernel:0", data=np.zeros((units, 2), "f4"))
        head.create_dataset("dense_1/bias:0", data=np.zeros(2, "f4"))
    cases[name] = BadInput(
        _edit_json_config(saved["tfk_json"], out / f"{name}.json", wide),
        weights=bomb_weights,
        facts={"weights_size": bomb_weights.stat().st_size},
    )


# ---------------------------------------------------------------------------
# Hostile files: bombs, escapes, pickles, impossible graphs and shapes


def _copy_h5(source: Path, target: Path, edit) -> Path:
    """A copy of an HDF5 file, edited in place with h5py."""
    import h5py

    shutil.copyfile(source, target)
    with h5py.File(target, "r+") as f:
        edit(f)
    return target


def _edit_model_config(source: Path, target: Path, edit) -> Path:
    """A copy of a full-model .h5 whose model_config attribute is edited as JSON."""

    def change(f):
        config = json.loads(f.attrs["model_config"])
        edit(config)
        f.attrs["model_config"] = json.dumps(config)

    return _copy_h5(source, target, change)


def _with_member(members: dict[str, bytes], name: str, data: bytes) -> list[tuple[str, bytes]]:
    return [(n, data if n == name else d) for n, d in members.items()]


def _hostile_cases(out: Path, saved: dict[str, Path], members: dict[str, bytes]):
    import numpy as np

    cases: dict[str, BadInput] = {}
    json.loads(members["config.json"])

    # Zip bomb: metadata.json padded with 20 MB of spaces, deflated over 1000:1.
    bomb = out / "zip_bomb.keras"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in members.items():
            if name == "metadata.json":
                data = data + b" " * (20 << 20)
            archive.writestr(name, data)
    with zipfile.ZipFile(bomb) as archive:
        info = archive.getinfo("metadata.json")
    cases["zip_bomb_ratio"] = BadInput(bomb, facts={"ratio": info.file_size // info.compress_size})
    # The size of config.json depends on the names Keras numbered in this
    # process (input_layer_3, ...), so the message's figure is read back.
    with zipfile.ZipFile(saved["k3_keras"]) as archive:
        config_size = archive.getinfo("config.json").file_size
    cases["zip_member_too_large"] = BadInput(
        saved["k3_keras"],
        args=("--max-zip-member-bytes", "100"),
        facts={"size": config_size},
    )

    # Members whose names would leave the directory they were extracted into.
    for case, name in (
        ("zip_dotdot_member", "../../evil.py"),
        ("zip_nested_dotdot_member", "assets/../../../evil.py"),
        ("zip_absolute_member", "/tmp/evil.py"),
        ("zip_backslash_member", "..\\evil.py"),
    ):
        cases[case] = BadInput(
            _rezip(out / f"{case}.keras", list(members.items()) + [(name, b"import os\n")]),
            facts={"member": name},
        )

    # Weights as .npz with a pickled object array: np.load(allow_pickle=True)
    # would run code; keras2torch never opens it.
    npz = out / "_pickled.npz"
    np.savez(npz, np.array([{"payload": "os.system"}], dtype=object))
    cases["keras_npz_pickled"] = BadInput(
        _rezip(
            out / "npz_pickled.keras",
            [(n, d) for n, d in members.items() if n != "model.weights.h5"]
            + [("model.weights.npz", npz.read_bytes())],
        )
    )
    cases["keras_duplicate_weights"] = BadInput(
        _rezip(
            out / "duplicate_weights.keras",
            list(members.items()) + [("model.weights.h5", members["model.weights.h5"])],
        )
    )

    # JSON bombs: nesting and size.
    deep = "[" * 100000 + "]" * 100000
    cases["json_depth_bomb"] = BadInput(_write(out / "deep.json", deep.encode()))
    cases["keras_config_depth_bomb"] = BadInput(
        _rezip(out / "deep_config.keras", _with_member(members, "config.json", deep.encode()))
    )
    cases["json_too_large"] = BadInput(saved["tfk_json"], args=("--max-json-bytes", "1000"))
    cases["keras_config_too_large"] = BadInput(
        saved["k3_keras"],
        args=("--max-json-bytes", "100"),
        facts={"size": len(members["config.json"])},
    )
    cases["json_too_deep_for_flag"] = BadInput(saved["tfk_json"], args=("--max-json-depth", "3"))

    # Caps on the model's size, lowered to fit a tiny model.
    cases["too_many_layers"] = BadInput(saved["tfk_h5"], args=("--max-layers", "2"))
    cases["too_many_nodes"] = BadInput(saved["tfk_h5"], args=("--max-nodes", "1"))
    cases["tensor_elements_flag"] = BadInput(saved["tfk_h5"], args=("--max-tensor-elements", "11"))

    # Declared shapes whose element count overflows 64 bits.
    def huge_input(config):
        _layer(config, "features")["config"]["batch_input_shape"] = [None, 2**40, 2**40, 2**40]

    cases["json_huge_input_shape"] = BadInput(
        _edit_json_config(saved["tfk_json"], out / "huge_input.json", huge_input),
        weights=saved["tfk_weights"],
    )

    def huge_units(config):
        _layer(config, "dense")["config"]["units"] = 2**62

    cases["json_huge_units"] = BadInput(
        _edit_json_config(saved["tfk_json"], out / "huge_units.json", huge_units),
        weights=saved["tfk_weights"],
    )

    def overflow_dataset(f):
        del f["model_weights/dense/dense/bias:0"]
        f["model_weights/dense/dense"].create_dataset(
            "bias:0", shape=(2**31, 2**31, 2**31), dtype="f4", chunks=(1, 1, 1)
        )

    cases["h5_dataset_shape_overflow"] = BadInput(
        _copy_h5(saved["tfk_h5"], out / "overflow_dataset.h5", overflow_dataset)
    )

    # Graphs that cannot be built.
    def self_loop(config):
        _layer(config, "dense")["inbound_nodes"][0][0][0] = "dense"

    cases["json_self_loop"] = BadInput(
        _edit_json_config(saved["tfk_json"], out / "self_loop.json", self_loop),
        weights=saved["tfk_weights"],
    )

    def dangling_output(config):
        config["config"]["output_layers"][0][0] = "ghost"

    cases["json_dangling_output"] = BadInput(
        _edit_json_config(saved["tfk_json"], out / "dangling_output.json", dangling_output),
        weights=saved["tfk_weights"],
    )

    def dangling_tensor(config):
        _layer(config, "dense_1")["inbound_nodes"][0][0][2] = 5

    cases["json_dangling_tensor_index"] = BadInput(
        _edit_json_config(saved["tfk_json"], out / "dangling_tensor.json", dangling_tensor),
        weights=saved["tfk_weights"],
    )

    def duplicate_names(config):
        _layer(config, "dense_1")["name"] = "dense"
        _layer(config, "dense")["config"]["name"] = "dense"

    cases["json_duplicate_layer_names"] = BadInput(
        _edit_json_config(saved["tfk_json"], out / "duplicate_names.json", duplicate_names),
        weights=saved["tfk_weights"],
    )

    def input_not_input(config):
        config["config"]["input_layers"][0][0] = "dense"

    cases["json_input_is_not_input_layer"] = BadInput(
        _edit_json_config(saved["tfk_json"], out / "input_not_input.json", input_not_input),
        weights=saved["tfk_weights"],
    )

    # Empty models.
    empty_sequential = {"class_name": "Sequential", "config": {"name": "empty", "layers": []}}
    cases["json_empty_sequential"] = BadInput(
        _write(out / "empty_sequential.json", json.dumps(empty_sequential).encode())
    )
    only_input = {
        "class_name": "Functional",
        "config": {
            "name": "only_input",
            "layers": [
                {
                    "class_name": "InputLayer",
                    "name": "x",
                    "config": {"batch_input_shape": [None, 4], "name": "x"},
                    "inbound_nodes": [],
                }
            ],
            "input_layers": [["x", 0, 0]],
            "output_layers": [["x", 0, 0]],
        },
    }
    cases["json_only_an_input"] = BadInput(
        _write(out / "only_input.json", json.dumps(only_input).encode())
    )
    cases["json_whitespace_only"] = BadInput(_write(out / "blank.json", b" \n\t\n"))
    cases["keras_config_not_json"] = BadInput(
        _rezip(out / "garbage_config.keras", _with_member(members, "config.json", b"{oops"))
    )
    cases["keras_config_a_list"] = BadInput(
        _rezip(out / "list_config.keras", _with_member(members, "config.json", b"[1, 2]"))
    )
    cases["json_nan_key"] = BadInput(_write(out / "nan_key.json", b"{NaN: 1}"))

    # Weights that do not fit the config.
    def short_bias(f):
        del f["model_weights/dense/dense/bias:0"]
        f["model_weights/dense/dense"].create_dataset("bias:0", data=np.zeros(7, "f4"))

    cases["bias_wrong_length"] = BadInput(
        _copy_h5(saved["tfk_h5"], out / "short_bias.h5", short_bias)
    )

    def string_kernel(f):
        del f["model_weights/dense/dense/kernel:0"]
        f["model_weights/dense/dense"].create_dataset("kernel:0", data=np.array([[b"ab"] * 3] * 4))

    cases["kernel_of_strings"] = BadInput(
        _copy_h5(saved["tfk_h5"], out / "string_kernel.h5", string_kernel)
    )

    def int_kernel(f):
        del f["model_weights/dense/dense/kernel:0"]
        f["model_weights/dense/dense"].create_dataset("kernel:0", data=np.zeros((4, 3), "i4"))

    cases["kernel_of_integers"] = BadInput(
        _copy_h5(saved["tfk_h5"], out / "int_kernel.h5", int_kernel)
    )

    def missing_group(f):
        del f["model_weights/dense_1"]

    cases["weights_group_missing"] = BadInput(
        _copy_h5(saved["tfk_h5"], out / "missing_group.h5", missing_group)
    )

    def soft_link(f):
        import h5py

        kernel = f["model_weights/dense/dense/kernel:0"][()]
        del f["model_weights/dense/dense/kernel:0"]
        f["elsewhere"] = kernel
        f["model_weights/dense/dense/kernel:0"] = h5py.SoftLink("/elsewhere")

    cases["weights_soft_link"] = BadInput(
        _copy_h5(saved["tfk_h5"], out / "soft_link.h5", soft_link)
    )

    def external_link(f):
        import h5py

        del f["model_weights/dense/dense/kernel:0"]
        f["model_weights/dense/dense/kernel:0"] = h5py.ExternalLink("/etc/passwd", "/x")

    cases["weights_external_link"] = BadInput(
        _copy_h5(saved["tfk_h5"], out / "external_link.h5", external_link)
    )

    def external_storage(f):
        del f["model_weights/dense/dense/kernel:0"]
        f["model_weights/dense/dense"].create_dataset(
            "kernel:0", shape=(4, 3), dtype="f4", external=[("/etc/hostname", 0, 48)]
        )

    cases["weights_external_storage"] = BadInput(
        _copy_h5(saved["tfk_h5"], out / "external_storage.h5", external_storage)
    )

    def numeric_config(f):
        del f.attrs["model_config"]
        f.attrs["model_config"] = np.arange(4)

    cases["model_config_numbers"] = BadInput(
        _copy_h5(saved["tfk_h5"], out / "numeric_config.h5", numeric_config)
    )
    cases["model_config_not_a_model"] = BadInput(
        _edit_model_config(saved["tfk_h5"], out / "config_not_model.h5", lambda c: c.clear())
    )
    return cases


def nan_weights_model(out: Path, saved: dict[str, Path]) -> Path:
    """A full model whose first kernel holds NaN and Inf: converted, with a warning."""
    import numpy as np

    def poison(f):
        kernel = f["model_weights/dense/dense/kernel:0"]
        values = kernel[()]
        values[0, 0] = np.nan
        values[1, 1] = np.inf
        kernel[...] = values

    return _copy_h5(saved["tfk_h5"], out / "nan_weights.h5", poison)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_bad_inputs.py OUT_DIR")
    for name, case in generate(Path(sys.argv[1])).items():
        extra = f" --weights {case.weights}" if case.weights else ""
        extra += "".join(f" {arg}" for arg in case.args)
        print(f"{name}: {case.path}{extra}")
