"""tf_keras's TFOpLambda layers: TensorFlow functions called on symbolic tensors
(`x + 1`, `tf.math.multiply(a, b)`), which tf_keras 2.4+ records as layers naming the
function. Those with a keras.ops equivalent convert as the keras.ops nodes of Keras 3
do; the others (reductions, tf.concat, tf.split, ...) and tensor slicing
(SlicingOpLambda) through the translator of Lambda functions. Unknown functions are
refused with their name. Only tf_keras writes them, hence TFK_FLAVOURS."""

import harness
import numpy as np
import pytest
from harness import TFK_FLAVOURS, Case, ModelCache, cases_for, check, expect_error


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


def reductions(k):
    """tf.math.reduce_* with one axis, several axes, negative axes, keepdims, no axis."""
    tf = _tf()
    x = k.Input((6, 7, 3))
    a = k.layers.Conv2D(4, 3, padding="same")(x)
    m = tf.math.reduce_mean(a, axis=-1, keepdims=True)
    s = tf.reduce_sum(a, axis=[1, 2])
    mx = tf.math.reduce_max(a, axis=(-3, -2), keepdims=True)
    mn = tf.math.reduce_min(a, 1)
    p = tf.math.reduce_prod(tf.math.sigmoid(a), axis=[-1])
    # Over every axis, the batch's included: a scalar.
    centred = a - tf.math.reduce_mean(a)
    return k.Model(x, [m, s, mx, mn, p, centred])


def concat_stack(k):
    """tf.concat and tf.stack on lists of tensors, including a channel concat."""
    tf = _tf()
    x = k.Input((6, 7, 3))
    a = k.layers.Conv2D(4, 3, padding="same")(x)
    b = k.layers.Conv2D(2, 1)(x)
    c = tf.concat([a, b, a], axis=-1)
    c = k.layers.Conv2D(3, 1)(c)
    rows = tf.concat([a, b * 2.0], axis=3)
    st = tf.stack([a, a * 2.0], axis=1)
    last = tf.stack([x, x], axis=-1)
    return k.Model(x, [c, rows, st, last])


def expand_squeeze(k):
    """tf.expand_dims at positive and negative axes, tf.squeeze of given and all axes."""
    tf = _tf()
    x = k.Input((5, 4))
    a = tf.expand_dims(x, 1)
    b = tf.expand_dims(x, -1)
    c = tf.squeeze(a, axis=1)
    d = tf.squeeze(tf.expand_dims(b, 2), axis=[2, -1])
    return k.Model(x, [a, b, c + d])


def split(k):
    """tf.split into equal pieces and given sizes, with an unused last piece."""
    tf = _tf()
    x = k.Input((6, 7, 6))
    a = k.layers.Conv2D(6, 3, padding="same")(x)
    p0, p1, p2 = tf.split(a, 3, axis=-1)
    q0, q1, _ = tf.split(a, [1, 3, -1], axis=1)
    y = k.layers.Conv2D(2, 1)(p0) + p1 * p2
    return k.Model(x, [y, q0, q1])


def normalize_softmax_clip(k):
    """tf.nn.softmax / log_softmax on an axis, tf.math.l2_normalize, tf.clip_by_value,
    tf.cast to float32, tf.math.rsqrt."""
    tf = _tf()
    x = k.Input((6, 7, 3))
    a = k.layers.Conv2D(4, 3, padding="same")(x)
    s = tf.nn.softmax(a, axis=-1)
    t = tf.nn.softmax(a, axis=1)
    ls = tf.nn.log_softmax(a)
    n = tf.math.l2_normalize(a, axis=-1)
    n2 = tf.math.l2_normalize(a, axis=[1, 2])
    c = tf.clip_by_value(a, -0.5, 0.5)
    f = tf.cast(c, tf.float32)
    r = tf.math.rsqrt(tf.math.abs(a) + 1.0)
    return k.Model(x, [s, t, ls, n, n2, f, r])


def slicing(k):
    """x[...] with steps, negative indices, None (newaxis) and integer indices."""
    x = k.Input((6, 8))
    a = k.layers.Dense(8)(x)
    s1 = a[:, 1:-1:2]
    s2 = a[:, :, -3:]
    s3 = a[:, None, 2]
    s4 = a[:, -1]
    s5 = a[:, ::3, 1::2]
    return k.Model(x, [s1, s2, s3, s4, s5])


def channel_slicing(k):
    """Slices of an image's channel axis feeding convolutions (kept channels first)."""
    x = k.Input((6, 7, 8))
    a = k.layers.Conv2D(8, 3, padding="same")(x)
    left = k.layers.Conv2D(3, 1)(a[:, :, :, :4])
    right = k.layers.Conv2D(3, 1)(a[:, :, :, 4::2])
    pixel = a[:, 2:5, -3:, 1]
    return k.Model(x, [left + right, pixel])


def ellipsis_slicing(k):
    """`...` in slices, of a sequence and of an image's channels."""
    x = k.Input((6, 7, 8))
    a = k.layers.Conv2D(8, 3, padding="same")(x)
    b = k.layers.Conv2D(3, 1)(a[..., 2:7:2])
    return k.Model(x, [b, a[..., -1], a[:, ..., None, 1:3], a[1:, ...]])


def other_functions(k):
    """tf.matmul on two tensors, tf.tile, tf.image.resize of a channels-last image."""
    tf = _tf()
    x = k.Input((4, 3))
    y = k.Input((5, 3))
    image = tf.expand_dims(x, -1)
    return k.Model(
        [x, y],
        [
            tf.matmul(x, tf.transpose(y, (0, 2, 1))),
            tf.tile(x, [1, 2, 1]),
            tf.image.resize(image, (8, 6)),
        ],
    )


def reverse_slice(k):
    x = k.Input((4, 3))
    return k.Model(x, x[:, ::-1])


def matmul_transposed(k):
    tf = _tf()
    x = k.Input((4, 3))
    y = k.Input((5, 3))
    return k.Model([x, y], tf.matmul(x, y, transpose_b=True))


def unknown_function(k):
    tf = _tf()
    x = k.Input((4,))
    return k.Model(x, tf.math.cumsum(x, axis=1))


CASES = [
    Case("arithmetic", arithmetic, flavours=TFK_FLAVOURS),
    Case("squeeze_excite", squeeze_excite, flavours=TFK_FLAVOURS),
    Case("reshape_transpose", reshape_transpose, flavours=TFK_FLAVOURS),
    Case("reductions", reductions, flavours=TFK_FLAVOURS),
    Case("concat_stack", concat_stack, flavours=TFK_FLAVOURS),
    Case("expand_squeeze", expand_squeeze, flavours=TFK_FLAVOURS),
    Case("split", split, flavours=TFK_FLAVOURS),
    Case("normalize_softmax_clip", normalize_softmax_clip, flavours=TFK_FLAVOURS),
    Case("slicing", slicing, flavours=TFK_FLAVOURS),
    Case("channel_slicing", channel_slicing, flavours=TFK_FLAVOURS),
    Case("other_functions", other_functions, flavours=TFK_FLAVOURS),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_tfoplambda(cli, cache, case, flavour, tmp_path):
    check(cli, cache, case, flavour, tmp_path)


@pytest.mark.parametrize(
    "name,expected",
    [
        ("channel_slicing", ["conv2d[:, :4]", "conv2d[:, 4::2]"]),
        ("split", ["= conv2d[:, 0:2], conv2d[:, 2:4], conv2d[:, 4:6]"]),
        ("normalize_softmax_clip", ["torch.softmax(conv2d, dim=1)", "(conv2d, dim=2)"]),
        ("reductions", ["torch.mean(conv2d, dim=1, keepdim=True)"]),
    ],
)
def test_axes_follow_channels_first(cli, cache, name, expected, tmp_path):
    """Slices that keep every axis, and functions along an axis that keep the others,
    are renumbered for the NCHW tensor instead of permuting it to NHWC and back."""
    case = next(c for c in CASES if c.name == name)
    outs = check(cli, cache, case, "tfk.h5", tmp_path, io_layouts=("torch",))
    source = harness.forward_source(outs["torch"])
    for text in expected:
        assert text in source, source


@pytest.mark.parametrize(
    "builder,message",
    [
        (
            reverse_slice,
            (
                "layer 'tf.__operators__.getitem' (SlicingOpLambda): slice step -1 is not "
                "translated: PyTorch has no negative or zero steps"
            ),
        ),
        (
            matmul_transposed,
            (
                "layer 'tf.linalg.matmul' (TFOpLambda): tf.linalg.matmul has no argument "
                "'transpose_b'"
            ),
        ),
    ],
)
def test_untranslated_arguments_are_refused(cli, cache, builder, message, tmp_path):
    saved = cache.get(Case(builder.__name__, builder, flavours=TFK_FLAVOURS), "tfk.h5")
    expect_error(cli, saved, tmp_path / "out", f"keras2torch: error: {saved.model}: {message}")


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


def _save_without_keras_format(model, version, directory):
    """The harness's files but the .keras one: tf_keras cannot serialize an Ellipsis
    in that format (TypeError), though .h5 and JSON record it."""
    directory.mkdir(parents=True, exist_ok=True)
    h5_path = directory / "model.h5"
    model.save(h5_path)
    json_path = directory / "model.json"
    json_path.write_text(model.to_json())
    weights_path = directory / "w.h5"
    model.save_weights(weights_path)
    return {"tfk.h5": (h5_path, None), "tfk.json": (json_path, weights_path)}


@pytest.mark.parametrize("flavour", ["tfk.h5", "tfk.json"])
def test_ellipsis_slicing(cli, flavour, tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "_save", _save_without_keras_format)
    case = Case("ellipsis_slicing", ellipsis_slicing, flavours=("tfk.h5", "tfk.json"))
    check(cli, ModelCache(tmp_path / "models"), case, flavour, tmp_path)
