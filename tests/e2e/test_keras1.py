"""Keras 1 files: converted, and checked against tf_keras loading the same weights.

No installable Keras can load a Keras 1 model file, but tf_keras still converts Keras 1
*weights* when it loads them (saving/legacy/hdf5_format.py preprocess_weights_for_loading:
LSTM's 12 arrays, GRU's 9, 'th' kernels, 4-D Conv1D kernels). So each check builds the
Keras 2 model that the Keras 1 config describes, written here by hand from the Keras 1
documentation (an implementation independent of keras2torch's normaliser), loads the
Keras 1 file's weights into it with tf_keras's own `load_weights`, and compares its
outputs with the converted PyTorch model's on random inputs.

Two kinds of Keras 1 file are used:
  - the real ones in the shared corpus (K2T_CORPUS, default ../shared/corpus); the test
    fails, naming the path, when the corpus is missing;
  - small files written here in the Keras 1 layout (config keys, weight names and array
    layouts of Keras 1.2.2), for the layer kinds the corpus has no weighted example of.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import harness
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("K2T_CORPUS", REPO.parent / "shared" / "corpus"))
FILES = CORPUS / "files"


class Saved:
    """What harness.run_converted and harness.compare need of a saved model."""

    def __init__(self, name, model, weights, inputs, outputs):
        self.name, self.model, self.weights = name, model, weights
        self.inputs, self.outputs = inputs, outputs

    def describe(self) -> str:
        return f"Keras 1 file '{self.name}'"


def tfk():
    return harness.keras_module(2)


# ---------------------------------------------------------------------------
# The Keras 2 model a Keras 1 config describes (tf_keras), for the classes used here


def _activation(config, key="activation", default="linear"):
    return config.get(key) or default


def _layer(class_name: str, c: dict, lambdas: dict):
    L = tfk().layers
    name = c["name"]
    if class_name == "Convolution2D":
        fmt = {"tf": "channels_last", "th": "channels_first"}[c["dim_ordering"]]
        return L.Conv2D(c["nb_filter"], (c["nb_row"], c["nb_col"]), strides=c["subsample"],
                        padding=c["border_mode"], data_format=fmt, use_bias=c["bias"],
                        activation=_activation(c), name=name)
    if class_name == "Convolution1D":
        return L.Conv1D(c["nb_filter"], c["filter_length"], strides=c["subsample_length"],
                        padding=c["border_mode"], use_bias=c["bias"],
                        activation=_activation(c), name=name)
    if class_name == "Dense":
        return L.Dense(c["output_dim"], use_bias=c["bias"], activation=_activation(c), name=name)
    if class_name == "Dropout":
        return L.Dropout(c["p"], name=name)
    if class_name == "Flatten":
        return L.Flatten(name=name)
    if class_name == "Activation":
        return L.Activation(c["activation"], name=name)
    if class_name == "Lambda":
        return L.Lambda(lambdas[name], name=name)
    if class_name == "BatchNormalization":
        assert c["mode"] == 0
        return L.BatchNormalization(axis=c["axis"], epsilon=c["epsilon"], name=name)
    if class_name in ("LSTM", "GRU", "SimpleRNN"):
        cls = getattr(L, class_name)
        kwargs = {"activation": c["activation"], "return_sequences": c["return_sequences"],
                  "go_backwards": c.get("go_backwards", False), "name": name}
        if class_name != "SimpleRNN":
            kwargs["recurrent_activation"] = c["inner_activation"]
        if class_name == "GRU":
            kwargs["reset_after"] = False  # Keras 1 GRU
        return cls(c["output_dim"], **kwargs)
    if class_name == "Embedding":
        return L.Embedding(c["input_dim"], c["output_dim"], name=name)
    if class_name == "Merge":
        mode = c["mode"]
        if mode == "concat":
            return L.Concatenate(axis=c["concat_axis"], name=name)
        if mode == "dot":
            return L.Dot(axes=c["dot_axes"], name=name)
        cls = {"sum": L.Add, "mul": L.Multiply, "ave": L.Average, "max": L.Maximum}[mode]
        return cls(name=name)
    raise AssertionError(f"no Keras 2 equivalent written for Keras 1 class {class_name}")


def reference_model(model_config: dict, lambdas: dict):
    """The tf_keras model equivalent to a Keras 1 Sequential or Model config."""
    K = tfk()
    if model_config["class_name"] == "Sequential":
        layers = model_config["config"]
        first = layers[0]["config"]
        x = inputs = K.Input(batch_shape=first["batch_input_shape"])
        for entry in layers:
            x = _layer(entry["class_name"], entry["config"], lambdas)(x)
        return K.Model(inputs, x)
    config = model_config["config"]
    tensors = {}
    for entry in config["layers"]:
        c = entry["config"]
        if entry["class_name"] == "InputLayer":
            tensors[entry["name"]] = K.Input(batch_shape=c["batch_input_shape"], name=c["name"])
            continue
        layer = _layer(entry["class_name"], c, lambdas)
        (node,) = entry["inbound_nodes"]
        args = [tensors[ref[0]] for ref in node]
        tensors[entry["name"]] = layer(args if len(args) > 1 else args[0])
    inputs = [tensors[ref[0]] for ref in config["input_layers"]]
    outputs = [tensors[ref[0]] for ref in config["output_layers"]]
    return K.Model(inputs, outputs)


def random_inputs(model, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, (2, *tuple(t.shape)[1:])).astype(np.float32)
            for t in model.inputs]


def convert_and_compare(cli, saved: Saved, tmp_path: Path, io_layouts=("torch", "keras")):
    for io_layout in io_layouts:
        out = tmp_path / f"out-{io_layout}"
        result = harness.run_cli(cli, saved.model, out, saved.weights, io_layout)
        assert result.returncode == 0, (
            f"keras2torch exited {result.returncode} on {saved.describe()}\n{result.stderr}"
        )
        report = json.loads((out / "report.json").read_text())
        actual = harness.run_converted(out, report, saved, io_layout)
        harness.compare(saved, actual, io_layout)
    return report


def keras_predict(model, inputs):
    outputs = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    return list(outputs) if isinstance(outputs, list) else [outputs]


# ---------------------------------------------------------------------------
# Real Keras 1 files from the corpus


def corpus_file(name: str) -> Path:
    if not FILES.is_dir():
        pytest.fail(f"the Keras file corpus is missing: {FILES} (set K2T_CORPUS)", pytrace=False)
    path = FILES / name
    assert path.is_file(), f"{path} is listed here but not in the corpus"
    return path


def read_config(model: Path) -> dict:
    if model.suffix == ".json":
        value = json.loads(model.read_text())
        return json.loads(value) if isinstance(value, str) else value
    import h5py

    with h5py.File(model, "r") as f:
        return json.loads(f.attrs["model_config"])


def _lambda_constants(config: dict, name: str) -> bytes:
    layers = config["config"] if isinstance(config["config"], list) else config["config"]["layers"]
    (entry,) = [e for e in layers if e["config"]["name"] == name]
    # Keras 1's func_dump: marshal.dumps(code).decode('raw_unicode_escape').
    return entry["config"]["function"][0].encode("raw_unicode_escape")


# The Lambda layers of these files, as their disassembly reads (LOAD_FAST x,
# LOAD_CONST 127.5, BINARY_TRUE_DIVIDE, LOAD_CONST 1.0, BINARY_SUBTRACT); the
# constants are checked against the stored bytecode, which is never run.
NORMALIZE = (lambda x: x / 127.5 - 1.0, (127.5, 1.0))
CORPUS_CASES = {
    "iamfaisalkhan__CarND-Behavioral-Cloning__model.h5": (None, {"lambda_1": NORMALIZE}),
    "iamfaisalkhan__CarND-Behavioral-Cloning__best_models_13_nvidia_relu_0.0229.h5": (
        None, {"lambda_1": NORMALIZE}),
    "iamfaisalkhan__CarND-Behavioral-Cloning__model.json": (
        "iamfaisalkhan__CarND-Behavioral-Cloning__model_weights.h5", {"lambda_1": NORMALIZE}),
}


@pytest.mark.parametrize("name", sorted(CORPUS_CASES))
def test_corpus_keras1_file_matches_tf_keras(cli, tmp_path, name):
    weights_name, lambdas = CORPUS_CASES[name]
    model_path = corpus_file(name)
    weights_path = corpus_file(weights_name) if weights_name else None
    config = read_config(model_path)
    for layer, (_, constants) in lambdas.items():
        code = _lambda_constants(config, layer)
        for value in constants:
            assert struct.pack("<d", value) in code, f"{layer}: constant {value} not in its code"
    reference = reference_model(config, {k: fn for k, (fn, _) in lambdas.items()})
    # tf_keras's load_weights applies its Keras 1 weight conversion (no keras_version).
    reference.load_weights(str(weights_path or model_path))
    inputs = random_inputs(reference, 1)
    # The Lambda rescales pixels: give it pixel values.
    inputs = [(x + 1.0) * 127.5 for x in inputs]
    saved = Saved(name, model_path, weights_path, inputs, keras_predict(reference, inputs))
    convert_and_compare(cli, saved, tmp_path)


# BatchNormalization mode 2 normalises with each batch's own statistics, also at
# inference; Keras 2 has no such layer and the converted model would need the batch.
REFUSED = {
    "datlife__behavioral-cloning__model_cnn.json": (
        "datlife__behavioral-cloning__model_cnn.h5",
        ("layer 'bn0' (BatchNormalization): Keras 1 BatchNormalization mode 2 is not "
         "supported (only mode 0)")),
    "datlife__behavioral-cloning__model_cnn_cnn.json": (
        "datlife__behavioral-cloning__model_cnn_cnn.h5",
        ("layer 'bn0' (BatchNormalization): Keras 1 BatchNormalization mode 2 is not "
         "supported (only mode 0)")),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_corpus_keras1_file_refused(cli, tmp_path, name):
    weights_name, message = REFUSED[name]
    model_path, weights_path = corpus_file(name), corpus_file(weights_name)
    result = harness.run_cli(cli, model_path, tmp_path / "out", weights_path)
    assert result.returncode == 2, result.stderr
    expected = f"keras2torch: error: {model_path}: {message}"
    assert expected in result.stderr.splitlines(), result.stderr


# ---------------------------------------------------------------------------
# Keras 1 files written here, for layouts the corpus has no weighted example of


def write_keras1_h5(path: Path, model_config: dict, weights: dict, theano=False) -> None:
    """A Keras 1.2.2 save_model file: no backend attribute, no keras_version on the weights.

    `weights` maps layer name -> list of (Keras 1 weight suffix, array)."""
    import h5py

    layer_names = [e["config"]["name"] for e in (
        model_config["config"] if model_config["class_name"] == "Sequential"
        else model_config["config"]["layers"])]
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"1.2.2"
        f.attrs["model_config"] = json.dumps(model_config).encode()
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [n.encode() for n in layer_names]
        for name in layer_names:
            g = group.create_group(name)
            names = []
            for suffix, array in weights.get(name, []):
                # TensorFlow names variables 'x:0'; Theano keeps Keras's name.
                wname = f"{name}_{suffix}" + ("" if theano else ":0")
                g.create_dataset(wname, data=array)
                names.append(wname.encode())
            g.attrs["weight_names"] = names


def _rand(rng, *shape):
    return rng.uniform(-0.6, 0.6, shape).astype(np.float32)


def rnn_case(rng, cls: str, consume_less: str):
    units, features, steps = 5, 4, 6
    config = {"class_name": cls, "config": {
        "name": "rnn_1", "output_dim": units, "activation": "tanh", "return_sequences": True,
        "go_backwards": False, "stateful": False, "unroll": False, "consume_less": consume_less,
        "init": "glorot_uniform", "inner_init": "orthogonal", "W_regularizer": None,
        "U_regularizer": None, "b_regularizer": None, "dropout_W": 0.0, "dropout_U": 0.0,
        "trainable": True, "input_dim": features, "input_length": steps,
        "batch_input_shape": [None, steps, features], "input_dtype": "float32"}}
    gates = {"LSTM": "icfo", "GRU": "zrh", "SimpleRNN": ""}[cls]
    if cls != "SimpleRNN":
        config["config"]["inner_activation"] = "hard_sigmoid"
    if cls == "LSTM":
        config["config"]["forget_bias_init"] = "one"
    if gates and consume_less != "gpu":
        arrays = []
        for g in gates:
            arrays += [(f"W_{g}", _rand(rng, features, units)),
                       (f"U_{g}", _rand(rng, units, units)), (f"b_{g}", _rand(rng, units))]
    else:
        n = max(len(gates), 1)
        arrays = [("W", _rand(rng, features, n * units)), ("U", _rand(rng, units, n * units)),
                  ("b", _rand(rng, n * units))]
    dense = {"class_name": "Dense", "config": {
        "name": "dense_1", "output_dim": 3, "activation": "linear", "bias": True,
        "init": "glorot_uniform", "W_regularizer": None, "b_regularizer": None,
        "activity_regularizer": None, "W_constraint": None, "b_constraint": None,
        "input_dim": None, "trainable": True}}
    model = {"class_name": "Sequential", "config": [config, dense]}
    weights = {"rnn_1": arrays,
               "dense_1": [("W", _rand(rng, units, 3)), ("b", _rand(rng, 3))]}
    return model, weights


def conv_config(name, rank, ordering="tf", **extra):
    c = {"name": name, "nb_filter": 4, "border_mode": "valid", "activation": "relu",
         "bias": True, "init": "glorot_uniform", "W_regularizer": None, "b_regularizer": None,
         "activity_regularizer": None, "W_constraint": None, "b_constraint": None,
         "trainable": True}
    if rank == 1:
        c.update(filter_length=3, subsample_length=1, input_dim=None, input_length=None)
    else:
        c.update(nb_row=3, nb_col=2, subsample=[1, 1], dim_ordering=ordering)
    c.update(extra)
    return {"class_name": f"Convolution{rank}D", "config": c}


@pytest.mark.parametrize("cls,consume_less", [
    ("LSTM", "cpu"), ("LSTM", "gpu"), ("GRU", "mem"), ("GRU", "gpu"), ("SimpleRNN", "cpu")])
def test_written_keras1_recurrent(cli, tmp_path, cls, consume_less):
    rng = np.random.default_rng(7)
    model_config, weights = rnn_case(rng, cls, consume_less)
    path = tmp_path / "k1.h5"
    write_keras1_h5(path, model_config, weights)
    reference = reference_model(model_config, {})
    reference.load_weights(str(path))
    inputs = random_inputs(reference, 2)
    saved = Saved(f"{cls} consume_less={consume_less}", path, None, inputs,
                  keras_predict(reference, inputs))
    convert_and_compare(cli, saved, tmp_path)


def test_written_keras1_conv1d_4d_kernel(cli, tmp_path):
    rng = np.random.default_rng(3)
    conv = conv_config("conv_1", 1, batch_input_shape=[None, 10, 3], input_dtype="float32")
    model_config = {"class_name": "Sequential", "config": [conv]}
    # Keras 1 ran Conv1D as a 2-D convolution: kernel (length, 1, in, filters).
    weights = {"conv_1": [("W", _rand(rng, 3, 1, 3, 4)), ("b", _rand(rng, 4))]}
    path = tmp_path / "k1.h5"
    write_keras1_h5(path, model_config, weights)
    reference = reference_model(model_config, {})
    reference.load_weights(str(path))
    inputs = random_inputs(reference, 3)
    saved = Saved("Convolution1D", path, None, inputs, keras_predict(reference, inputs))
    convert_and_compare(cli, saved, tmp_path)


def test_written_keras1_th_conv2d(cli, tmp_path):
    """'th' ordering: kernel stored (filters, in, rows, cols), tensors channels first."""
    rng = np.random.default_rng(4)
    conv = conv_config("conv_1", 2, "th", batch_input_shape=[None, 3, 8, 9],
                       input_dtype="float32")
    model_config = {"class_name": "Sequential", "config": [conv]}
    weights = {"conv_1": [("W", _rand(rng, 4, 3, 3, 2)), ("b", _rand(rng, 4))]}
    path = tmp_path / "k1.h5"
    write_keras1_h5(path, model_config, weights)
    reference = reference_model(model_config, {})
    reference.load_weights(str(path))  # tf_keras transposes the 'th' kernel here
    # TensorFlow on CPU has no channels-first convolution: run the same kernel as
    # channels last (Keras 2 stores kernels alike for both formats).
    K = tfk()
    twin = K.Sequential([K.Input((8, 9, 3)), K.layers.Conv2D(4, (3, 2), activation="relu")])
    twin.set_weights(reference.get_weights())
    inputs = random_inputs(reference, 4)
    expected = twin.predict(inputs[0].transpose(0, 2, 3, 1), verbose=0).transpose(0, 3, 1, 2)
    saved = Saved("Convolution2D th", path, None, inputs, [expected])
    convert_and_compare(cli, saved, tmp_path)


def test_written_keras1_theano_kernels_are_flipped(cli, tmp_path):
    """Theano convolved (kernel flipped); Keras 2 flipped such kernels on loading.

    Keras 1 files record no backend; Theano's variable names (no ':0') say which."""
    rng = np.random.default_rng(5)
    conv = conv_config("conv_1", 2, "tf", batch_input_shape=[None, 8, 9, 3],
                       input_dtype="float32")
    model_config = {"class_name": "Sequential", "config": [conv]}
    kernel = _rand(rng, 3, 2, 3, 4)
    weights = {"conv_1": [("W", kernel), ("b", _rand(rng, 4))]}
    path = tmp_path / "k1.h5"
    write_keras1_h5(path, model_config, weights, theano=True)
    reference = reference_model(model_config, {})
    reference.load_weights(str(path))  # tf_keras does not flip: do it as Keras 2.2.4 did
    reference.layers[-1].set_weights([kernel[::-1, ::-1], weights["conv_1"][1][1]])
    inputs = random_inputs(reference, 5)
    saved = Saved("Convolution2D Theano", path, None, inputs, keras_predict(reference, inputs))
    convert_and_compare(cli, saved, tmp_path)


def merge_model(mode: str, **merge):
    def inp(name):
        return {"name": name, "class_name": "InputLayer", "inbound_nodes": [],
                "config": {"batch_input_shape": [None, 5], "input_dtype": "float32",
                           "sparse": False, "name": name}}

    def dense(name, source, units=4):
        return {"name": name, "class_name": "Dense", "inbound_nodes": [[[source, 0, 0]]],
                "config": {"name": name, "output_dim": units, "activation": "tanh", "bias": True,
                           "init": "glorot_uniform", "input_dim": None, "trainable": True}}

    config = {"name": "merged", "mode": mode, "mode_type": "raw", "concat_axis": -1,
              "dot_axes": -1, "output_shape": None, "output_shape_type": "raw",
              "output_mask": None, "output_mask_type": "raw", "arguments": {}}
    config.update(merge)
    layers = [inp("a"), inp("b"), dense("da", "a"), dense("db", "b"),
              {"name": "merged", "class_name": "Merge", "config": config,
               "inbound_nodes": [[["da", 0, 0], ["db", 0, 0]]]},
              dense("out", "merged", 2)]
    return {"class_name": "Model", "config": {
        "name": "model_1", "layers": layers, "input_layers": [["a", 0, 0], ["b", 0, 0]],
        "output_layers": [["out", 0, 0]]}}


@pytest.mark.parametrize("mode,extra", [
    ("sum", {}), ("mul", {}), ("ave", {}), ("max", {}), ("concat", {"concat_axis": 1}),
    ("dot", {"dot_axes": 1})])
def test_written_keras1_merge(cli, tmp_path, mode, extra):
    rng = np.random.default_rng(6)
    model_config = merge_model(mode, **extra)
    merged = 8 if mode == "concat" else (1 if mode == "dot" else 4)
    weights = {"da": [("W", _rand(rng, 5, 4)), ("b", _rand(rng, 4))],
               "db": [("W", _rand(rng, 5, 4)), ("b", _rand(rng, 4))],
               "out": [("W", _rand(rng, merged, 2)), ("b", _rand(rng, 2))]}
    path = tmp_path / "k1.h5"
    write_keras1_h5(path, model_config, weights)
    reference = reference_model(model_config, {})
    reference.load_weights(str(path))
    inputs = random_inputs(reference, 6)
    saved = Saved(f"Merge mode {mode}", path, None, inputs, keras_predict(reference, inputs))
    convert_and_compare(cli, saved, tmp_path, io_layouts=("torch",))


@pytest.mark.parametrize("merge,message", [
    ({"mode": "cos"}, ("Merge mode 'cos' (cosine proximity with Keras 1's extra output axis "
                       "and epsilon) is not supported yet")),
    ({"mode": ["\u00e3\u0001", None, None], "mode_type": "lambda"},
     ("Merge mode is a Python function (mode_type \"lambda\"), whose code keras2torch does "
      "not run; only the modes sum, mul, concat, ave, max and dot convert")),
])
def test_written_keras1_merge_refused(cli, tmp_path, merge, message):
    rest = {k: v for k, v in merge.items() if k != "mode"}
    model_config = merge_model(merge["mode"], **rest)
    path = tmp_path / "k1.h5"
    rng = np.random.default_rng(8)
    weights = {n: [("W", _rand(rng, 5, 4)), ("b", _rand(rng, 4))] for n in ("da", "db")}
    weights["out"] = [("W", _rand(rng, 4, 2)), ("b", _rand(rng, 2))]
    write_keras1_h5(path, model_config, weights)
    result = harness.run_cli(cli, path, tmp_path / "out")
    assert result.returncode == 2, result.stderr
    expected = f"keras2torch: error: {path}: layer 'merged' (Merge): {message}"
    assert expected in result.stderr.splitlines(), result.stderr


def dense_config(name, units, **extra):
    c = {"name": name, "output_dim": units, "activation": "relu", "bias": True,
         "init": "glorot_uniform", "W_regularizer": None, "b_regularizer": None,
         "activity_regularizer": None, "W_constraint": None, "b_constraint": None,
         "input_dim": None, "trainable": True}
    c.update(extra)
    return {"class_name": "Dense", "config": c}


def test_written_keras1_batchnorm_running_std_is_a_variance(cli, tmp_path):
    """Keras 1.0.8+ passed running_std to K.batch_normalization as the variance."""
    rng = np.random.default_rng(9)
    bn = {"class_name": "BatchNormalization", "config": {
        "name": "bn", "mode": 0, "axis": -1, "epsilon": 0.001, "momentum": 0.99,
        "beta_init": "zero", "gamma_init": "one", "gamma_regularizer": None,
        "beta_regularizer": None, "trainable": True}}
    model_config = {"class_name": "Sequential", "config": [
        dense_config("d1", 6, batch_input_shape=[None, 5], input_dtype="float32"), bn,
        dense_config("d2", 2, activation="linear")]}
    weights = {"d1": [("W", _rand(rng, 5, 6)), ("b", _rand(rng, 6))],
               "bn": [("gamma", _rand(rng, 6) + 1), ("beta", _rand(rng, 6)),
                      ("running_mean", _rand(rng, 6)),
                      ("running_std", rng.uniform(0.2, 2.0, 6).astype(np.float32))],
               "d2": [("W", _rand(rng, 6, 2)), ("b", _rand(rng, 2))]}
    path = tmp_path / "k1.h5"
    write_keras1_h5(path, model_config, weights)
    reference = reference_model(model_config, {})
    reference.load_weights(str(path))
    inputs = random_inputs(reference, 9)
    saved = Saved("BatchNormalization mode 0", path, None, inputs,
                  keras_predict(reference, inputs))
    convert_and_compare(cli, saved, tmp_path)


def test_written_keras1_embedding_lstm(cli, tmp_path):
    rng = np.random.default_rng(10)
    embedding = {"class_name": "Embedding", "config": {
        "name": "emb", "input_dim": 20, "output_dim": 4, "init": "uniform",
        "input_length": 6, "mask_zero": False, "W_regularizer": None, "W_constraint": None,
        "activity_regularizer": None, "dropout": 0.0, "trainable": True,
        "batch_input_shape": [None, 6], "input_dtype": "int32"}}
    rnn_model, rnn_weights = rnn_case(rng, "LSTM", "mem")
    rnn = rnn_model["config"][0]
    for key in ("batch_input_shape", "input_dim", "input_length", "input_dtype"):
        rnn["config"].pop(key)
    model_config = {"class_name": "Sequential", "config": [embedding, *rnn_model["config"]]}
    weights = dict(rnn_weights, emb=[("W", _rand(rng, 20, 4))])
    path = tmp_path / "k1.h5"
    write_keras1_h5(path, model_config, weights)
    reference = reference_model(model_config, {})
    reference.load_weights(str(path))
    inputs = [rng.integers(0, 20, (2, 6)).astype(np.int32)]
    saved = Saved("Embedding + LSTM", path, None, inputs, keras_predict(reference, inputs))
    convert_and_compare(cli, saved, tmp_path)


def test_written_keras1_theano_strided_same_conv_refused(cli, tmp_path):
    """Theano's 'same' (half) padding differs from TensorFlow's for stride 2."""
    rng = np.random.default_rng(13)
    conv = conv_config("conv_1", 2, "tf", batch_input_shape=[None, 8, 9, 3],
                       input_dtype="float32", border_mode="same", subsample=[2, 2])
    model_config = {"class_name": "Sequential", "config": [conv]}
    weights = {"conv_1": [("W", _rand(rng, 3, 2, 3, 4)), ("b", _rand(rng, 4))]}
    path = tmp_path / "k1.h5"
    write_keras1_h5(path, model_config, weights, theano=True)
    result = harness.run_cli(cli, path, tmp_path / "out")
    assert result.returncode == 2, result.stderr
    expected = (
        f"keras2torch: error: {path}: layer 'conv_1' (Conv2D): this Keras 1 model was trained "
        "on Theano (its weight names have no ':0'), whose border_mode 'same' pads differently "
        "from TensorFlow and PyTorch for strided or even-sized kernels; this is not supported"
    )
    assert expected in result.stderr.splitlines(), result.stderr


def test_written_keras1_theano_same_pooling_refused(cli, tmp_path):
    """Theano's 'same' pooling pads and crops unlike TensorFlow's."""
    rng = np.random.default_rng(14)
    conv = conv_config("conv_1", 2, "tf", batch_input_shape=[None, 8, 9, 3],
                       input_dtype="float32")
    pool = {"class_name": "MaxPooling2D", "config": {
        "name": "pool_1", "pool_size": [2, 2], "strides": None, "border_mode": "same",
        "dim_ordering": "tf", "trainable": True}}
    model_config = {"class_name": "Sequential", "config": [conv, pool]}
    weights = {"conv_1": [("W", _rand(rng, 3, 2, 3, 4)), ("b", _rand(rng, 4))]}
    path = tmp_path / "k1.h5"
    write_keras1_h5(path, model_config, weights, theano=True)
    result = harness.run_cli(cli, path, tmp_path / "out")
    assert result.returncode == 2, result.stderr
    expected = (
        f"keras2torch: error: {path}: layer 'pool_1' (MaxPooling2D): this Keras 1 model was "
        "trained on Theano (its weight names have no ':0'), whose border_mode 'same' pooling "
        "pads differently from TensorFlow and PyTorch; this is not supported"
    )
    assert expected in result.stderr.splitlines(), result.stderr
