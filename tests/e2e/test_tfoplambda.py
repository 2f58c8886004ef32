"""tf_keras's TFOpLambda layers: TensorFlow functions called on symbolic tensors
(`x + 1`, `tf.math.multiply(a, b)`), which tf_keras 2.4+ records as layers naming the
function. They convert as the keras.ops nodes of Keras 3 do; other functions are
refused with their name. Only tf_keras writes them, hence TFK_FLAVOURS."""

import numpy as np
import pytest
from harness import TFK_FLAVOURS, Case, cases_for, check, expect_error


def _tf():
    import tensorflow as tf

    return tf


def arithmetic(k):
    """Operators and tf.math functions, with constants on either side."""
    tf = _tf()
    x = k.Input((4, 5))
    y = tf.math.multiply(x, 2.0) + x
    z = 1.0 - y
    w = tf.nn.relu(z) * y / 3.0
    w = tf.math.maximum(w, tf.math.sigmoid(x)) - tf.math.square(x)
    w = w * np.linspace(0.5, 1.5, 5, dtype="float32")
    return k.Model(x, tf.math.tanh(-w))


def squeeze_excite(k):
    """RegNetY's squeeze-and-excite gate: a (N, 1, 1, C) tensor times the image."""
    tf = _tf()
    x = k.Input((6, 7, 3))
    a = k.layers.Conv2D(8, 3, padding="same")(x)
    s = k.layers.GlobalAveragePooling2D(keepdims=True)(a)
    s = k.layers.Conv2D(8, 1)(s)
    a = tf.math.multiply(a, tf.nn.sigmoid(s))
    a = tf.__operators__.add(a, k.layers.Conv2D(8, 1)(x))
    return k.Model(x, tf.nn.relu(a))


def reshape_transpose(k):
    """tf.reshape and tf.transpose with the batch axis written out."""
    tf = _tf()
    x = k.Input((4, 6))
    y = tf.reshape(x, (-1, 6, 4))
    y = tf.transpose(y, perm=(0, 2, 1))
    return k.Model(x, k.layers.Dense(3)(y))


def unknown_function(k):
    tf = _tf()
    x = k.Input((4,))
    return k.Model(x, tf.math.cumsum(x, axis=1))


CASES = [
    Case("arithmetic", arithmetic, flavours=TFK_FLAVOURS),
    Case("squeeze_excite", squeeze_excite, flavours=TFK_FLAVOURS),
    Case("reshape_transpose", reshape_transpose, flavours=TFK_FLAVOURS),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_tfoplambda(cli, cache, case, flavour, tmp_path):
    check(cli, cache, case, flavour, tmp_path)


@pytest.mark.parametrize("flavour", TFK_FLAVOURS)
def test_unknown_function_is_refused(cli, cache, flavour, tmp_path):
    saved = cache.get(Case("unknown_function", unknown_function, flavours=TFK_FLAVOURS), flavour)
    expect_error(
        cli,
        saved,
        tmp_path / "out",
        f"keras2torch: error: {saved.model}: layer 'tf.math.cumsum' (TFOpLambda): "
        "TensorFlow function tf.math.cumsum is not translated",
    )
