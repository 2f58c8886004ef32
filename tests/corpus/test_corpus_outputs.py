"""Converted corpus files reproduce Keras: outputs compared on random inputs.

For every corpus file that keras2torch converts completely and that an installed Keras
can load without running code from the file (no Lambda layers, no custom classes):
tf_keras for Keras 2 files, keras for Keras 3 files. Keras 1 files cannot be loaded by
any installable Keras; tests/e2e/test_keras1.py checks them against tf_keras loading
their weights into a rebuilt model. Inputs are random floats, or integers in range for
inputs that feed an Embedding; max relative error 1e-4, as in the e2e suites.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import zlib
from pathlib import Path

import corpus_run
import numpy as np
import pytest
from test_corpus import expected

sys.path.insert(0, str(corpus_run.REPO / "tests" / "e2e"))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import harness


def checkable() -> list[str]:
    if not (corpus_run.CORPUS / "corpus.tsv").is_file():
        return []  # test_corpus.py fails, naming the missing corpus
    table = expected()
    return sorted(e.name for e in corpus_run.entries()
                  if e.keras_loadable and table.get(e.name, ("",))[0] == "converted")


def load_keras(entry: corpus_run.Entry, tmp_path: Path):
    if entry.major == "3":
        keras = harness.keras_module(3)
        return keras.saving.load_model(entry.model, compile=False, safe_mode=True)
    K = harness.keras_module(2)
    if entry.weights is not None:
        text = json.loads(entry.model.read_text())
        model = K.models.model_from_json(text if isinstance(text, str) else json.dumps(text))
        model.load_weights(str(entry.weights))
        return model
    # tf_keras picks the format from the extension: give HDF5 files an .h5 name.
    copy = tmp_path / "model.h5"
    shutil.copyfile(entry.model, copy)
    return K.models.load_model(copy, compile=False)


def embedding_ranges(model) -> dict[int, int]:
    """Input index -> Embedding input_dim, for inputs read directly by an Embedding."""
    ranges = {}
    for index, tensor in enumerate(model.inputs):
        for layer in model.layers:
            if type(layer).__name__ != "Embedding":
                continue
            sources = getattr(layer, "_inbound_nodes", None) or []
            for node in sources:
                inputs = node.input_tensors if hasattr(node, "input_tensors") else []
                inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
                if any(t is tensor for t in inputs) or (
                    type(model).__name__ == "Sequential" and layer is model.layers[0]
                ):
                    ranges[index] = layer.input_dim
    return ranges


def random_inputs(model, rng) -> list[np.ndarray]:
    ranges = embedding_ranges(model)
    arrays = []
    for index, tensor in enumerate(model.inputs):
        shape = [2] + [5 if d is None else int(d) for d in tuple(tensor.shape)[1:]]
        if index in ranges:
            arrays.append(rng.integers(0, ranges[index], shape).astype(np.int32))
        else:
            arrays.append(rng.uniform(-1, 1, shape).astype(np.float32))
    return arrays


class Saved:
    def __init__(self, name, inputs, outputs):
        self.name, self.inputs, self.outputs = name, inputs, outputs

    def describe(self) -> str:
        return f"corpus file {self.name}"


@pytest.mark.parametrize("name", checkable())
def test_converted_corpus_file_matches_keras(name, tmp_path):
    cli = corpus_run.find_cli()
    (entry,) = [e for e in corpus_run.entries() if e.name == name]
    model = load_keras(entry, tmp_path)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    inputs = random_inputs(model, rng)
    outputs = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    outputs = [np.asarray(o) for o in (outputs if isinstance(outputs, list) else [outputs])]
    saved = Saved(name, inputs, outputs)
    out = tmp_path / "out"
    assert corpus_run.run(cli, entry, out).kind == "converted"
    report = json.loads((out / "report.json").read_text())
    # Sizes the file leaves open (a sequence length) are those Keras produced here.
    for entry_, keras_output in zip(report["outputs"], outputs):
        perm = harness.boundary_perm(entry_, "torch", "output") or range(keras_output.ndim)
        sizes = list(keras_output.shape)
        for key, order in (("keras_shape", range(len(sizes))), ("torch_shape", perm)):
            known = [sizes[axis] for axis in order]
            entry_[key] = [entry_[key][0]] + [
                size if size is not None else known[i]
                for i, size in enumerate(entry_[key]) if i > 0
            ]
    actual = harness.run_converted(out, report, saved, "torch")
    harness.compare(saved, actual, "torch")
