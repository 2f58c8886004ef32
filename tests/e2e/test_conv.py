"""Conv1D and Conv2D: padding valid/same/causal, strides on even and odd sizes,
dilation, groups, no bias, even and odd kernels, and channels_first models.

TF's 'same' padding puts the odd pixel after (bottom/right); with stride 2 the
total depends on the input size, so each stride-2 case runs on even and odd
sizes.
"""

import pytest
from harness import Case, cases_for, check


def conv2d(input_shape, **kwargs):
    def build(k):
        inputs = k.Input(input_shape)
        return k.Model(inputs, k.layers.Conv2D(**kwargs)(inputs))

    return build


def conv1d(input_shape, **kwargs):
    def build(k):
        inputs = k.Input(input_shape)
        return k.Model(inputs, k.layers.Conv1D(**kwargs)(inputs))

    return build


def conv2d_chain(k):
    """Several 'same' convolutions in a row, the last one strided, then Dense."""
    inputs = k.Input((11, 10, 3))
    x = k.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = k.layers.Conv2D(8, 4, strides=2, padding="same", activation="relu")(x)
    x = k.layers.Conv2D(6, (2, 3), strides=(2, 1), padding="same")(x)
    x = k.layers.Flatten()(x)
    return k.Model(inputs, k.layers.Dense(5)(x))


def channels_first_conv2d(k):
    inputs = k.Input((3, 9, 10))
    x = k.layers.Conv2D(
        6, 3, padding="same", strides=2, data_format="channels_first", activation="relu"
    )(inputs)
    x = k.layers.Conv2D(4, (2, 3), data_format="channels_first")(x)
    flat = k.layers.Dense(5)(k.layers.Flatten()(x))
    return k.Model(inputs, [x, flat])


def channels_first_softmax(k):
    """Keras applies an activation along its last axis, here W, not the channels."""
    inputs = k.Input((3, 6, 7))
    return k.Model(
        inputs, k.layers.Conv2D(4, 3, data_format="channels_first", activation="softmax")(inputs)
    )


def channels_first_conv1d(k):
    # Keep each output's length different from its filters: Keras 3.15's TF
    # backend adds a (1, C, 1) bias along the last axis when that axis also has
    # size C (keras/src/backend/tensorflow/numpy.py add, its bias_add shortcut),
    # so Keras itself would compute the wrong thing.
    inputs = k.Input((4, 13))
    x = k.layers.Conv1D(6, 3, padding="same", data_format="channels_first")(inputs)
    x = k.layers.Conv1D(5, 2, strides=2, data_format="channels_first", activation="tanh")(x)
    return k.Model(inputs, x)


def mixed_formats(k):
    """A channels_first branch and a channels_last branch of one input."""
    inputs = k.Input((6, 8, 4))
    first = k.layers.Conv2D(4, 3, data_format="channels_first")(inputs)
    last = k.layers.Conv2D(5, 3)(inputs)
    return k.Model(inputs, [first, last])


CASES = [
    # Conv2D
    Case("conv2d_valid", conv2d((9, 10, 3), filters=4, kernel_size=3)),
    Case("conv2d_valid_strided", conv2d((9, 10, 3), filters=4, kernel_size=(3, 2), strides=(2, 3))),
    Case("conv2d_same_k3", conv2d((9, 10, 3), filters=4, kernel_size=3, padding="same")),
    Case("conv2d_same_k4", conv2d((9, 10, 3), filters=4, kernel_size=4, padding="same")),
    Case("conv2d_same_k2x5", conv2d((9, 10, 3), filters=4, kernel_size=(2, 5), padding="same")),
    Case(
        "conv2d_same_s2_even",
        conv2d((10, 12, 3), filters=4, kernel_size=3, strides=2, padding="same"),
    ),
    Case(
        "conv2d_same_s2_odd",
        conv2d((9, 11, 3), filters=4, kernel_size=3, strides=2, padding="same"),
    ),
    Case(
        "conv2d_same_s2_k4_even",
        conv2d((10, 12, 3), filters=4, kernel_size=4, strides=2, padding="same"),
    ),
    Case(
        "conv2d_same_s2_k4_odd",
        conv2d((9, 11, 3), filters=4, kernel_size=4, strides=2, padding="same"),
    ),
    Case(
        "conv2d_same_s3_k3", conv2d((9, 10, 3), filters=4, kernel_size=3, strides=3, padding="same")
    ),
    Case(
        "conv2d_same_mixed_strides",
        conv2d((9, 10, 3), filters=4, kernel_size=(3, 4), strides=(1, 2), padding="same"),
    ),
    Case("conv2d_dilation_valid", conv2d((11, 12, 3), filters=4, kernel_size=3, dilation_rate=2)),
    Case(
        "conv2d_dilation_same",
        conv2d((11, 12, 3), filters=4, kernel_size=(3, 2), dilation_rate=(2, 3), padding="same"),
    ),
    Case("conv2d_groups", conv2d((9, 10, 4), filters=6, kernel_size=3, groups=2)),
    Case(
        "conv2d_groups_same",
        conv2d((9, 10, 6), filters=9, kernel_size=3, groups=3, padding="same", strides=2),
    ),
    Case(
        "conv2d_no_bias",
        conv2d((9, 10, 3), filters=4, kernel_size=3, use_bias=False, activation="relu"),
    ),
    Case("conv2d_chain", conv2d_chain),
    # Conv1D
    Case("conv1d_valid", conv1d((12, 3), filters=4, kernel_size=3)),
    Case("conv1d_same_k4", conv1d((12, 3), filters=4, kernel_size=4, padding="same")),
    Case(
        "conv1d_same_s2_even", conv1d((12, 3), filters=4, kernel_size=3, strides=2, padding="same")
    ),
    Case(
        "conv1d_same_s2_odd", conv1d((13, 3), filters=4, kernel_size=3, strides=2, padding="same")
    ),
    Case(
        "conv1d_same_s2_k2_odd",
        conv1d((13, 3), filters=4, kernel_size=2, strides=2, padding="same"),
    ),
    Case("conv1d_causal", conv1d((12, 3), filters=4, kernel_size=3, padding="causal")),
    Case(
        "conv1d_causal_dilated",
        conv1d((12, 3), filters=4, kernel_size=2, padding="causal", dilation_rate=3),
    ),
    Case(
        "conv1d_dilation_same",
        conv1d((12, 3), filters=4, kernel_size=3, dilation_rate=2, padding="same"),
    ),
    Case("conv1d_groups", conv1d((12, 4), filters=6, kernel_size=3, groups=2)),
    Case(
        "conv1d_strided_no_bias",
        conv1d((12, 3), filters=4, kernel_size=2, strides=3, use_bias=False),
    ),
    # channels_first
    Case("conv2d_channels_first", channels_first_conv2d),
    Case("conv2d_channels_first_softmax", channels_first_softmax),
    Case("conv1d_channels_first", channels_first_conv1d),
    Case("conv2d_mixed_formats", mixed_formats),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_conv(cli, cache, case, flavour, tmp_path):
    check(cli, cache, case, flavour, tmp_path)
