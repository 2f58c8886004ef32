"""Flatten, Reshape, Permute, ZeroPadding1D/2D and Cropping1D/2D (int, pair and
pair-of-pairs forms), on plain inputs and on conv maps stored channels first."""

import json

import pytest
from harness import Case, cases_for, check


def flatten_conv(k):
    """Flatten after a conv: Keras flattens (h, w, c); the next Dense sees that order."""
    inputs = k.Input((6, 7, 3))
    x = k.layers.Conv2D(4, 3)(inputs)
    flat = k.layers.Flatten()(x)
    return k.Model(inputs, [k.layers.Dense(5)(flat), flat])


def flatten_channels_first(k):
    """Flatten(data_format='channels_first') still flattens in channels-last order."""
    inputs = k.Input((3, 6, 7))
    x = k.layers.Conv2D(4, 3, data_format="channels_first")(inputs)
    flat = k.layers.Flatten(data_format="channels_first")(x)
    return k.Model(inputs, [k.layers.Dense(5)(flat), flat])


def flatten_rank3(k):
    inputs = k.Input((4, 5))
    x = k.layers.Conv1D(3, 2)(inputs)
    return k.Model(inputs, k.layers.Dense(2)(k.layers.Flatten()(x)))


def reshape_layers(k):
    inputs = k.Input((12,))
    x = k.layers.Dense(24)(inputs)
    a = k.layers.Reshape((4, 6))(x)
    b = k.layers.Reshape((2, -1, 3))(x)
    c = k.layers.Conv2D(2, 1)(b)
    return k.Model(inputs, [a, b, c])


def reshape_conv_map(k):
    """Reshape of a conv map happens in Keras's (h, w, c) order."""
    inputs = k.Input((4, 6, 3))
    x = k.layers.Conv2D(5, 3, padding="same")(inputs)
    seq = k.layers.Reshape((24, 5))(x)
    img = k.layers.Reshape((6, 4, 5))(x)
    return k.Model(inputs, [seq, k.layers.Conv2D(2, 3)(img), k.layers.Dense(3)(seq)])


def permute_layers(k):
    inputs = k.Input((4, 6, 3))
    x = k.layers.Conv2D(5, 1)(inputs)
    p1 = k.layers.Permute((3, 1, 2), name="to_chw")(x)
    p2 = k.layers.Permute((2, 1, 3), name="swap_hw")(x)
    dense = k.layers.Dense(2, name="dense_on_permuted")(p2)
    flat = k.layers.Dense(2, name="dense_after_flatten")(k.layers.Flatten()(p1))
    return k.Model(inputs, [p1, p2, dense, flat])


def permute_sequence(k):
    inputs = k.Input((5, 3))
    x = k.layers.Permute((2, 1))(inputs)
    return k.Model(inputs, k.layers.Dense(4)(x))


def padding2d(k):
    inputs = k.Input((5, 6, 3))
    x = k.layers.Conv2D(4, 1)(inputs)
    return k.Model(
        inputs,
        [
            k.layers.ZeroPadding2D(1, name="pad_int")(x),
            k.layers.ZeroPadding2D((2, 1), name="pad_pair")(x),
            k.layers.ZeroPadding2D(((1, 2), (3, 0)), name="pad_pairs")(x),
            k.layers.ZeroPadding2D(((0, 1), (2, 1)), name="pad_raw_input")(inputs),
        ],
    )


def cropping2d(k):
    inputs = k.Input((8, 9, 3))
    x = k.layers.Conv2D(4, 1)(inputs)
    return k.Model(
        inputs,
        [
            k.layers.Cropping2D(1, name="crop_int")(x),
            k.layers.Cropping2D((2, 1), name="crop_pair")(x),
            k.layers.Cropping2D(((1, 2), (3, 0)), name="crop_pairs")(x),
            k.layers.Cropping2D(((0, 1), (2, 0)), name="crop_raw_input")(inputs),
        ],
    )


def padding_cropping_channels_first(k):
    inputs = k.Input((3, 7, 8))
    return k.Model(
        inputs,
        [
            k.layers.ZeroPadding2D(((1, 0), (2, 3)), data_format="channels_first")(inputs),
            k.layers.Cropping2D(((1, 2), (0, 3)), data_format="channels_first")(inputs),
        ],
    )


def padding_cropping1d(k):
    inputs = k.Input((9, 3))
    x = k.layers.Conv1D(4, 1)(inputs)
    return k.Model(
        inputs,
        [
            k.layers.ZeroPadding1D(2, name="pad_int")(x),
            k.layers.ZeroPadding1D((1, 3), name="pad_pair")(x),
            k.layers.Cropping1D(2, name="crop_int")(x),
            k.layers.Cropping1D((0, 3), name="crop_pair")(x),
            k.layers.Cropping1D((1, 0), name="crop_raw_input")(inputs),
        ],
    )


def pad_then_conv(k):
    """ZeroPadding2D then a valid conv, the usual way to write asymmetric padding."""
    inputs = k.Input((8, 9, 3))
    x = k.layers.ZeroPadding2D(((0, 1), (0, 1)))(inputs)
    x = k.layers.Conv2D(4, 3, strides=2)(x)
    x = k.layers.Cropping2D(((1, 0), (0, 1)))(x)
    return k.Model(inputs, k.layers.Dense(2)(k.layers.Flatten()(x)))


CASES = [
    Case("flatten_conv", flatten_conv),
    Case("flatten_channels_first", flatten_channels_first),
    Case("flatten_rank3", flatten_rank3),
    Case("reshape_layers", reshape_layers),
    Case("reshape_conv_map", reshape_conv_map),
    Case("permute_layers", permute_layers),
    Case("permute_sequence", permute_sequence),
    Case("zero_padding2d", padding2d),
    Case("cropping2d", cropping2d),
    Case("padding_cropping_channels_first", padding_cropping_channels_first),
    Case("padding_cropping1d", padding_cropping1d),
    Case("pad_then_conv", pad_then_conv),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_reshape(cli, cache, case, flavour, tmp_path):
    check(cli, cache, case, flavour, tmp_path)


def padded_stem(k):
    """ResNet's stem: the image is zero-padded before the first convolution."""
    inputs = k.Input((9, 9, 3))
    x = k.layers.ZeroPadding2D(((3, 2), (1, 3)))(inputs)
    x = k.layers.Conv2D(4, 3, strides=2)(x)
    return k.Model(inputs, k.layers.GlobalAveragePooling2D()(x))


@pytest.mark.parametrize("case,flavour", cases_for([Case("padded_stem", padded_stem)]))
def test_padding_before_conv_is_a_boundary_permute(cli, cache, case, flavour, tmp_path):
    """With --io-layout keras, the padding runs on the NHWC input and the permute follows
    it; that permute only converts the input as it arrived, so it counts as a boundary
    one (a convolutional body has no interior permute). PyTorch layout: none at all."""
    outs = check(cli, cache, case, flavour, tmp_path)
    permutes = {
        io_layout: json.loads((out / "report.json").read_text())["permutes"]
        for io_layout, out in outs.items()
    }
    assert permutes == {
        "torch": {"interior": 0, "boundary": 0},
        "keras": {"interior": 0, "boundary": 1},
    }, permutes
