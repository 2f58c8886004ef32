"""verify(): run the converted module and the original Keras model on the same inputs.

Errors are measured per output over the whole batch, in Keras's axis order, with the
definition the project's end-to-end tests use:

- ``max_abs_error``: the largest ``|torch - keras|`` over all elements;
- ``max_rel_error``: ``max_abs_error / max(max |keras|, 1e-6)``, the error relative to the
  output's scale. An element-wise ratio would report a huge error wherever an output element
  is merely close to zero (softmax tails, ReLU outputs) although the result is right.

An output passes when ``max_rel_error <= tolerance``. NaN in both results at the same element
counts as agreement; NaN in one only as an infinite error.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np
import torch

from keras2torch._api import StrPath
from keras2torch._load import load_with_report

# Below this the output is taken to be zero, and the error is measured absolutely.
_SCALE_FLOOR = 1e-6

_DTYPES = {
    "float16": (np.float16, torch.float16),
    "bfloat16": (np.float32, torch.bfloat16),  # numpy has no bfloat16; Keras casts the input
    "float32": (np.float32, torch.float32),
    "float64": (np.float64, torch.float64),
    "bool": (np.bool_, torch.bool),
}


def _keras_for(source: dict[str, Any]):
    """The Keras that wrote the file: Keras 3, or tf_keras for Keras 2 (and 1) files.

    Decided from the version the file records ("3.15.1"), else from the major version the
    converter inferred ("Keras 3 (version not recorded)").
    """
    major = 2
    for text in (source.get("keras_version", ""), source.get("keras", "")):
        match = re.search(r"(\d+)", text or "")
        if match:
            major = int(match.group(1))
            break
    if major >= 3:
        import keras

        return keras
    import tf_keras

    return tf_keras


def _load_keras(keras, path: str, weights: str | None, report, custom_objects: dict | None):
    if report["source"]["format"] == "JSON architecture":
        with open(path, encoding="utf-8") as file:
            model = keras.models.model_from_json(file.read(), custom_objects=custom_objects)
        if weights is not None:
            model.load_weights(weights)
        return model
    return keras.models.load_model(path, custom_objects=custom_objects, compile=False)


def _walk_layers(model) -> list:
    layers = []
    for layer in getattr(model, "layers", []):
        layers.append(layer)
        layers.extend(_walk_layers(layer))
    return layers


def _integer_bound(model) -> int:
    """An exclusive upper bound for random integer inputs that every lookup layer accepts."""
    bounds = []
    for layer in _walk_layers(model):
        for attribute in ("input_dim", "num_tokens"):
            value = getattr(layer, attribute, None)
            if isinstance(value, int) and value > 0:
                bounds.append(value)
    return min(bounds, default=2)


def _layout_perm(entry: dict[str, Any]) -> list[int] | None:
    """The permutation from Keras's axis order to PyTorch's, None when it is the identity.

    report.json gives it for every input and output: torch = keras.permute(*perm).
    """
    perm = list(entry["permute_from_keras"])
    return None if perm == sorted(perm) else perm


def _random_inputs(report, samples, unknown_dim, high, rng) -> list[np.ndarray]:
    """Keras-order arrays for the model's inputs: batch ``samples``, unknown sizes filled."""
    arrays = []
    for entry in report["inputs"]:
        shape = [samples] + [unknown_dim if d is None else d for d in entry["keras_shape"][1:]]
        dtype = entry["dtype"]
        if dtype == "bool":
            arrays.append(rng.integers(0, 2, shape).astype(np.bool_))
        elif dtype in _DTYPES:
            arrays.append(rng.standard_normal(shape).astype(_DTYPES[dtype][0]))
        else:
            arrays.append(rng.integers(0, high, shape).astype(np.dtype(dtype)))
    return arrays


def _to_torch(array: np.ndarray, entry: dict[str, Any]) -> torch.Tensor:
    perm = _layout_perm(entry)
    if perm is not None:
        array = np.ascontiguousarray(np.transpose(array, perm))  # Keras order -> torch order
    tensor = torch.from_numpy(array)
    if entry["dtype"] in _DTYPES:
        tensor = tensor.to(_DTYPES[entry["dtype"]][1])
    return tensor


def _to_keras_order(tensor: torch.Tensor, entry: dict[str, Any]) -> np.ndarray:
    array = tensor.detach().to(torch.float64).cpu().numpy()
    perm = _layout_perm(entry)
    if perm is not None:
        array = np.transpose(array, np.argsort(perm))  # torch order -> Keras order
    return array


def _as_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):  # Keras 3 on its torch backend
        value = value.detach().cpu()
    if hasattr(value, "numpy"):  # and TensorFlow's tensors
        value = value.numpy()
    return np.asarray(value, dtype=np.float64)


def _keras_outputs(model, inputs: list[np.ndarray], report) -> list[np.ndarray]:
    result = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    if isinstance(result, dict):
        names = [entry.get("name") for entry in report["outputs"]]
        result = [result[n] for n in names] if all(n in result for n in names) else result.values()
    elif not isinstance(result, (list, tuple)):
        result = [result]
    return [_as_numpy(value) for value in result]


def _compare(actual: np.ndarray, expected: np.ndarray, tolerance: float) -> dict[str, Any]:
    if actual.shape != expected.shape:
        return {
            "max_abs_error": float("inf"),
            "max_rel_error": float("inf"),
            "ok": False,
            "note": f"shape {actual.shape} from torch, {expected.shape} from Keras",
        }
    both_nan = np.isnan(actual) & np.isnan(expected)
    difference = np.where(both_nan, 0.0, np.abs(actual - expected))
    difference = np.where(np.isnan(difference), np.inf, difference)
    finite = np.abs(expected[np.isfinite(expected)])
    scale = max(float(finite.max()) if finite.size else 0.0, _SCALE_FLOOR)
    max_abs = float(difference.max()) if difference.size else 0.0
    return {
        "max_abs_error": max_abs,
        "max_rel_error": max_abs / scale,
        "ok": bool(max_abs / scale <= tolerance),
    }


def verify(
    path: StrPath,
    *,
    weights: StrPath | None = None,
    custom: StrPath | None = None,
    io_layout: str = "torch",
    samples: int = 4,
    seed: int = 0,
    tolerance: float = 1e-4,
    custom_objects: dict[str, Any] | None = None,
    unknown_dim: int = 8,
    int_high: int | None = None,
) -> dict[str, Any]:
    """Converts the model and compares the result with Keras on random inputs.

    Needs Keras: ``keras`` (Keras 3) for files written by Keras 3, ``tf_keras`` for Keras 2
    files, chosen from the version the file records. ``custom_objects`` go to Keras's loader.
    The inputs are ``samples`` random examples drawn with ``seed``: standard normal floats, or
    integers in ``[0, int_high)`` for integer inputs (default: the smallest ``input_dim`` of
    the model's Embedding layers, else 2). Sizes the model leaves open, other than the batch,
    are ``unknown_dim``. The torch module gets the same values in its own axis order.

    Returns ``{"ok", "tolerance", "keras", "max_abs_error", "max_rel_error", "outputs": [...]}``
    with per output its ``name``, ``shape`` (Keras order), ``max_abs_error``,
    ``max_rel_error`` and ``ok``; see the module's documentation for the definitions. A
    conversion with skeleton layers cannot run: then ``ok`` is False, ``outputs`` empty and
    ``skeletons`` names the layers that need code.
    """
    path = os.fspath(path)
    weights = None if weights is None else os.fspath(weights)
    model, report = load_with_report(path, weights=weights, custom=custom, io_layout=io_layout)
    result: dict[str, Any] = {"ok": False, "tolerance": tolerance, "outputs": []}
    skeletons = [layer["name"] for layer in report["layers"] if layer["status"] == "skeleton"]
    if skeletons:
        result["skeletons"] = skeletons
        return result

    keras = _keras_for(report["source"])
    keras_model = _load_keras(keras, path, weights, report, custom_objects)
    result["keras"] = f"{keras.__name__} {keras.__version__}"

    rng = np.random.default_rng(seed)
    high = int_high if int_high is not None else _integer_bound(keras_model)
    inputs = _random_inputs(report, samples, unknown_dim, high, rng)
    expected = _keras_outputs(keras_model, inputs, report)
    with torch.no_grad():
        actual = model(*(_to_torch(a, e) for a, e in zip(inputs, report["inputs"])))
    if isinstance(actual, torch.Tensor):
        actual = (actual,)

    for entry, torch_value, keras_value in zip(report["outputs"], actual, expected):
        compared = _compare(_to_keras_order(torch_value, entry), keras_value, tolerance)
        result["outputs"].append(
            {"name": entry.get("name", ""), "shape": list(keras_value.shape), **compared}
        )
    outputs = result["outputs"]
    result["max_abs_error"] = max(o["max_abs_error"] for o in outputs)
    result["max_rel_error"] = max(o["max_rel_error"] for o in outputs)
    result["ok"] = len(outputs) == len(report["outputs"]) and all(o["ok"] for o in outputs)
    return result
