"""Writes the seed corpora for the libFuzzer harnesses in fuzz/.

Nothing binary is committed: the seeds are made from tiny models saved by
real Keras (Keras 3 and tf_keras) and from examples/cnn.keras.

    python fuzz/make_seeds.py OUT_DIR

writes OUT_DIR/fuzz_config (model JSON: config.json, model_config, to_json),
OUT_DIR/fuzz_zip (.keras archives) and OUT_DIR/fuzz_model_file (every file).
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
import zipfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "errors"))

import make_bad_inputs


def _more_models(work: Path) -> dict[str, Path]:
    """Models with the structures the normalizer and graph builder treat specially."""
    import keras
    import tf_keras

    saved = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # tf_keras: a nested Sequential called twice (shared weights), a merge.
        inner = tf_keras.Sequential(
            [tf_keras.layers.Dense(3, activation="relu", input_shape=(4,))], name="inner"
        )
        a = tf_keras.Input((4,), name="a")
        b = tf_keras.Input((4,), name="b")
        merged = tf_keras.layers.Add(name="add")([inner(a), inner(b)])
        model = tf_keras.Model([a, b], tf_keras.layers.Dense(1, name="head")(merged))
        saved["tfk_nested_h5"] = work / "tfk_nested.h5"
        model.save(saved["tfk_nested_h5"])
        saved["tfk_nested_json"] = work / "tfk_nested.json"
        saved["tfk_nested_json"].write_text(model.to_json())

        # Keras 3: a small CNN, functional, with a keras.ops node.
        image = keras.Input((8, 8, 1), name="image")
        x = keras.layers.Conv2D(2, 3, name="conv")(image)
        x = keras.layers.BatchNormalization(name="norm")(x)
        x = keras.ops.relu(x)
        x = keras.layers.Flatten(name="flatten")(x)
        cnn = keras.Model(image, keras.layers.Dense(2, name="dense")(x), name="k3_cnn")
        saved["k3_cnn_keras"] = work / "k3_cnn.keras"
        cnn.save(saved["k3_cnn_keras"])
        saved["k3_cnn_h5"] = work / "k3_cnn.h5"
        cnn.save(saved["k3_cnn_h5"])
    return saved


def _configs(path: Path) -> list[bytes]:
    """The model JSON a file holds, however it holds it."""
    data = path.read_bytes()
    if data.startswith(b"PK"):
        with zipfile.ZipFile(path) as archive:
            return [archive.read("config.json")]
    if data.startswith(b"\x89HDF"):
        import h5py

        with h5py.File(path, "r") as f:
            config = f.attrs.get("model_config")
            if config is None:
                return []
            return [config.encode() if isinstance(config, str) else bytes(config)]
    return [data]


def main(out: Path) -> None:
    work = out / "_saved"
    work.mkdir(parents=True, exist_ok=True)
    saved = make_bad_inputs._save_real_models(work)
    saved.update(_more_models(work))
    saved["example_cnn"] = HERE.parent / "examples" / "cnn.keras"

    dirs = {name: out / name for name in ("fuzz_config", "fuzz_zip", "fuzz_model_file")}
    for directory in dirs.values():
        directory.mkdir(exist_ok=True)
    for name, path in sorted(saved.items()):
        shutil.copyfile(path, dirs["fuzz_model_file"] / name)
        if path.read_bytes().startswith(b"PK"):
            shutil.copyfile(path, dirs["fuzz_zip"] / name)
            with zipfile.ZipFile(path) as archive:
                weights = archive.read("model.weights.h5")
            (dirs["fuzz_model_file"] / f"{name}.weights.h5").write_bytes(weights)
        for i, config in enumerate(_configs(path)):
            (dirs["fuzz_config"] / f"{name}_{i}.json").write_bytes(config)
    shutil.rmtree(work)
    for name, directory in dirs.items():
        print(f"{name}: {len(list(directory.iterdir()))} seeds in {directory}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_seeds.py OUT_DIR")
    main(Path(sys.argv[1]))
