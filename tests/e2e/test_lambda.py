"""Lambda layers, translated from the bytecode Keras saves (marshalled code objects,
never run by keras2torch): scaling, slicing, channel splits, keras.backend / tf /
keras.ops calls, several inputs, arguments, closures and defaults; and lambdas that
are not translated, which become skeletons showing the disassembled function.

The lambdas below refer to `K`, `tf` and `ops` as users' code does; keras2torch reads
those names by convention. The Keras model runs them as Keras runs any Lambda."""

import json

import pytest
import tensorflow as tf  # noqa: F401  (used inside the lambdas)
import torch
from harness import ALL_FLAVOURS, K3_FLAVOURS, TFK_FLAVOURS, Case, cases_for, check, forward_source
from harness import import_model, run_cli
from keras import ops  # noqa: F401  (used inside the lambdas)
from tf_keras import backend as K  # noqa: N812, F401  (used inside the lambdas)


def scale_255(k):
    """x / 255.0 - 0.5 before a conv: element-wise, so the input stays channels first."""
    inputs = k.Input((6, 7, 3))
    x = k.layers.Lambda(lambda x: x / 255.0 - 0.5, name="scale")(inputs)
    return k.Model(inputs, k.layers.Conv2D(4, 3)(x))


def scale_127(k):
    inputs = k.Input((5,))
    x = k.layers.Lambda(lambda x: x / 127.5 - 1, name="scale")(inputs)
    return k.Model(inputs, k.layers.Dense(3)(x))


def slices(k):
    """x[:, :, :, 0:1] of a conv map (channels last in Keras) and x[:, 1:] of a sequence."""
    image = k.Input((5, 6, 3), name="image")
    seq = k.Input((5, 4), name="seq")
    x = k.layers.Conv2D(4, 3, padding="same")(image)
    first = k.layers.Lambda(lambda x: x[:, :, :, 0:1], name="first_channel")(x)
    rest = k.layers.Lambda(lambda x: x[:, 1:], name="drop_first_step")(seq)
    return k.Model([image, seq], [k.layers.Conv2D(2, 1)(first), k.layers.Dense(2)(rest)])


def channel_split(k):
    """Two lambdas split a conv map's channels; each half feeds its own conv."""
    inputs = k.Input((5, 6, 3))
    x = k.layers.Conv2D(6, 3, padding="same")(inputs)
    left = k.layers.Lambda(lambda x: x[..., :2], name="left")(x)
    right = k.layers.Lambda(lambda x: x[..., 2:], name="right")(x)
    return k.Model(inputs, [k.layers.Conv2D(3, 1)(left), k.layers.Conv2D(3, 1)(right)])


def split_outputs(k):
    """One lambda returning both halves of tf.split: a layer with two outputs."""
    inputs = k.Input((4, 6))
    halves = k.layers.Lambda(lambda x: tf.split(x, 2, axis=-1), name="halves")(inputs)
    return k.Model(inputs, [k.layers.Dense(2)(halves[0]), halves[1]])


def l2_normalize(k):
    inputs = k.Input((6,))
    x = k.layers.Dense(5)(inputs)
    return k.Model(inputs, k.layers.Lambda(lambda x: K.l2_normalize(x, axis=1), name="l2")(x))


def expand_dims(k):
    inputs = k.Input((6,))
    x = k.layers.Dense(4)(inputs)
    x = k.layers.Lambda(lambda x: tf.expand_dims(x, 1), name="expand")(x)
    return k.Model(inputs, k.layers.Conv1D(3, 1)(x))


def mean_axis1(k):
    """K.mean over the steps of a Conv1D output (stored channels first in PyTorch)."""
    inputs = k.Input((7, 3))
    x = k.layers.Conv1D(4, 3)(inputs)
    return k.Model(inputs, k.layers.Lambda(lambda x: K.mean(x, axis=1), name="mean")(x))


def concatenate(k):
    a, b = k.Input((5, 6, 3), name="a"), k.Input((5, 6, 3), name="b")
    x = k.layers.Conv2D(2, 1)(a)
    y = k.layers.Conv2D(3, 1)(b)
    joined = k.layers.Lambda(lambda t: K.concatenate([t[0], t[1]], axis=-1), name="join")([x, y])
    return k.Model([a, b], k.layers.Conv2D(2, 3)(joined))


def resize(k):
    inputs = k.Input((4, 5, 3))
    x = k.layers.Conv2D(3, 1)(inputs)
    x = k.layers.Lambda(lambda x: tf.image.resize(x, (8, 9)), name="resize")(x)
    return k.Model(inputs, k.layers.Conv2D(2, 3)(x))


def make_crop(n):
    return lambda x: x[..., :n]


def arguments_and_closure(k):
    """`arguments` supply a parameter; a closure cell holds a constant."""
    inputs = k.Input((6,))
    x = k.layers.Dense(5)(inputs)
    scaled = k.layers.Lambda(lambda x, s: x * s, arguments={"s": 3.0}, name="times")(x)
    cropped = k.layers.Lambda(make_crop(2), name="crop")(x)
    return k.Model(inputs, [scaled, cropped])


def euclidean_distance(vects):
    x, y = vects
    sum_square = K.sum(K.square(x - y), axis=1, keepdims=True)
    return K.sqrt(K.maximum(sum_square, K.epsilon()))


def siamese_distance(k):
    """A def (not a lambda) with local variables, on a list of two inputs (tf_keras
    saves a def's bytecode; Keras 3 saves only its name)."""
    a, b = k.Input((6,), name="a"), k.Input((6,), name="b")
    dense = k.layers.Dense(4)
    distance = k.layers.Lambda(euclidean_distance, name="distance")([dense(a), dense(b)])
    return k.Model([a, b], distance)


def keras3_ops(k):
    inputs = k.Input((5, 4))
    x = k.layers.Dense(3)(inputs)
    mean = k.layers.Lambda(lambda x: ops.mean(x, axis=1), name="ops_mean")(x)
    clipped = k.layers.Lambda(lambda x: ops.clip(x * 2.0, -0.5, 0.5), name="ops_clip")(x)
    return k.Model(inputs, [mean, clipped])


CASES = [
    Case("scale_255", scale_255, input_scale=100.0),
    Case("scale_127", scale_127, input_scale=100.0),
    Case("slices", slices),
    Case("channel_split", channel_split),
    Case("split_outputs", split_outputs),
    Case("l2_normalize", l2_normalize),
    Case("expand_dims", expand_dims),
    Case("mean_axis1", mean_axis1),
    Case("concatenate", concatenate),
    Case("resize", resize),
    Case("arguments_and_closure", arguments_and_closure),
    Case("siamese_distance", siamese_distance, flavours=TFK_FLAVOURS),
    Case("keras3_ops", keras3_ops, flavours=K3_FLAVOURS),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_lambda(cli, cache, case, flavour, tmp_path):
    outs = check(cli, cache, case, flavour, tmp_path)
    report = json.loads((outs["torch"] / "report.json").read_text())
    lambdas = [layer for layer in report["layers"] if layer["class"] == "Lambda"]
    assert lambdas and all(layer["status"] != "skeleton" for layer in lambdas), lambdas


@pytest.mark.parametrize("flavour", ALL_FLAVOURS)
def test_element_wise_lambda_keeps_the_layout(cli, cache, flavour, tmp_path):
    """An element-wise lambda between the input and a conv adds no permute."""
    outs = check(cli, cache, CASES[0], flavour, tmp_path, io_layouts=("torch",))
    source = forward_source(outs["torch"])
    assert "permute" not in source, source
    assert "x / 255.0 - 0.5" in source, source


# ---------------------------------------------------------------------------
# Lambdas that are not translated


def looped(x):
    for _ in range(2):
        x = x * 2.0
    return x


def with_loop(k):
    inputs = k.Input((4,))
    x = k.layers.Dense(3)(inputs)
    return k.Model(inputs, k.layers.Lambda(looped, name="looped")(x))


def with_conditional(k):
    inputs = k.Input((4,))
    x = k.layers.Dense(3)(inputs)
    y = k.layers.Lambda(lambda x: x * 2.0 if x.shape[-1] > 2 else x, name="looped")(x)
    return k.Model(inputs, y)


def convert_skeleton(cli, saved, tmp_path):
    out = tmp_path / "out"
    result = run_cli(cli, saved.model, out, saved.weights)
    assert result.returncode == 1, (
        f"expected exit 1 (incomplete) for {saved.describe()}, got {result.returncode}\n"
        f"{result.stderr}"
    )
    assert "conversion is incomplete: 1 layer(s) became skeletons" in result.stderr
    report = json.loads((out / "report.json").read_text())
    (layer,) = [entry for entry in report["layers"] if entry["name"] == "looped"]
    assert layer["status"] == "skeleton", layer
    return out


def skeleton_message(out):
    model = import_model(out).load_model()
    with pytest.raises(NotImplementedError) as raised:
        model(torch.zeros(2, 4))
    return str(raised.value)


@pytest.mark.parametrize("flavour", TFK_FLAVOURS)
def test_loop_becomes_a_skeleton(cli, cache, flavour, tmp_path):
    """tf_keras saves a def's bytecode; a loop is not translated, and both the class
    docstring and the NotImplementedError show the function disassembled."""
    saved = cache.get(Case("with_loop", with_loop, flavours=TFK_FLAVOURS), flavour)
    out = convert_skeleton(cli, saved, tmp_path)
    source = (out / "model.py").read_text()
    assert "class LambdaLooped(nn.Module):" in source
    assert "(a loop) is not translated" in source
    assert "FOR_ITER" in source and "BINARY_OP" in source, source
    message = skeleton_message(out)
    assert "layer looped of Keras class Lambda was not translated by keras2torch" in message
    assert "instruction GET_ITER at offset" in message, message
    assert "Its bytecode (Python 3.11), disassembled:" in message, message
    assert "FOR_ITER" in message and "LOAD_GLOBAL" in message, message


@pytest.mark.parametrize("flavour", K3_FLAVOURS)
def test_conditional_becomes_a_skeleton(cli, cache, flavour, tmp_path):
    saved = cache.get(Case("with_conditional", with_conditional, flavours=K3_FLAVOURS), flavour)
    out = convert_skeleton(cli, saved, tmp_path)
    message = skeleton_message(out)
    assert "(a comparison) is not translated" in message, message
    assert "COMPARE_OP" in message and "disassembled" in message, message


def test_function_reference_becomes_a_skeleton(cli, cache, tmp_path):
    """Keras 3 saves a def by name only: nothing to translate."""
    saved = cache.get(Case("with_loop", with_loop, flavours=("k3.keras",)), "k3.keras")
    out = convert_skeleton(cli, saved, tmp_path)
    message = skeleton_message(out)
    assert "looped, a reference to code that only the program that saved the model had" in (
        message
    ), message
