"""DepthwiseConv1D/2D and SeparableConv1D/2D: depth_multiplier 1 to 3 (the
order of the C * M output channels), strides with 'same' padding on odd and
even sizes, dilation, use_bias on and off, activations, and channels_first.

A depthwise kernel (k..., C, M) becomes a grouped convolution with groups=C;
SeparableConv becomes that (without bias) followed by a 1x1 convolution.
"""

import pytest
from harness import Case, cases_for, check


def layer_on_input(layer, input_shape, **kwargs):
    def build(k):
        inputs = k.Input(input_shape)
        return k.Model(inputs, getattr(k.layers, layer)(**kwargs)(inputs))

    return build


def dw2d(input_shape, **kwargs):
    return layer_on_input("DepthwiseConv2D", input_shape, **kwargs)


def dw1d(input_shape, **kwargs):
    return layer_on_input("DepthwiseConv1D", input_shape, **kwargs)


def sep2d(input_shape, **kwargs):
    return layer_on_input("SeparableConv2D", input_shape, **kwargs)


def sep1d(input_shape, **kwargs):
    return layer_on_input("SeparableConv1D", input_shape, **kwargs)


def mobilenet_block(k):
    """A MobileNet block: depthwise, BatchNorm, ReLU6, pointwise, then a Dense head."""
    inputs = k.Input((9, 10, 4))
    x = k.layers.DepthwiseConv2D(3, strides=2, padding="same", use_bias=False)(inputs)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.ReLU(6.0)(x)
    x = k.layers.Conv2D(6, 1, use_bias=False)(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    return k.Model(inputs, k.layers.Dense(3)(x))


def dw_channels_first(k):
    inputs = k.Input((4, 7, 8))
    x = k.layers.DepthwiseConv2D(
        3, depth_multiplier=2, padding="same", strides=2, data_format="channels_first"
    )(inputs)
    x = k.layers.SeparableConv2D(5, 3, data_format="channels_first", activation="relu")(x)
    return k.Model(inputs, x)


CASES = [
    # DepthwiseConv2D
    Case("dw2d_valid", dw2d((7, 8, 3), kernel_size=3)),
    Case("dw2d_multiplier_2", dw2d((7, 8, 3), kernel_size=3, depth_multiplier=2)),
    Case("dw2d_multiplier_3", dw2d((7, 8, 4), kernel_size=(2, 3), depth_multiplier=3)),
    Case("dw2d_same", dw2d((7, 8, 3), kernel_size=3, padding="same")),
    Case("dw2d_same_s2_odd", dw2d((9, 11, 3), kernel_size=3, strides=2, padding="same")),
    Case("dw2d_same_s2_even", dw2d((10, 12, 3), kernel_size=3, strides=2, padding="same")),
    Case(
        "dw2d_same_s2_k4_multiplier",
        dw2d((9, 10, 3), kernel_size=4, strides=2, padding="same", depth_multiplier=2),
    ),
    Case("dw2d_valid_strided", dw2d((9, 10, 3), kernel_size=3, strides=(2, 3))),
    Case(
        "dw2d_dilation_same",
        dw2d((9, 10, 3), kernel_size=3, dilation_rate=2, padding="same"),
    ),
    Case(
        "dw2d_no_bias_relu6",
        dw2d((7, 8, 3), kernel_size=3, use_bias=False, activation="relu6", depth_multiplier=2),
    ),
    Case("dw2d_mobilenet_block", mobilenet_block),
    # DepthwiseConv1D
    Case("dw1d_valid", dw1d((9, 3), kernel_size=3)),
    Case(
        "dw1d_same_s2_multiplier",
        dw1d((9, 3), kernel_size=3, strides=2, padding="same", depth_multiplier=2),
    ),
    Case("dw1d_no_bias", dw1d((10, 4), kernel_size=2, use_bias=False, activation="tanh")),
    # SeparableConv2D
    Case("sep2d_valid", sep2d((7, 8, 3), filters=5, kernel_size=3)),
    Case(
        "sep2d_same_s2_relu",
        sep2d((9, 11, 3), filters=5, kernel_size=3, strides=2, padding="same", activation="relu"),
    ),
    Case(
        "sep2d_multiplier_no_bias",
        sep2d((7, 8, 3), filters=4, kernel_size=(3, 2), depth_multiplier=2, use_bias=False),
    ),
    Case(
        "sep2d_dilation_sigmoid",
        sep2d(
            (9, 10, 3),
            filters=4,
            kernel_size=3,
            dilation_rate=2,
            padding="same",
            activation="sigmoid",
        ),
    ),
    # SeparableConv1D
    Case("sep1d_valid", sep1d((9, 3), filters=5, kernel_size=3)),
    Case(
        "sep1d_same_s2_multiplier",
        sep1d(
            (10, 3),
            filters=4,
            kernel_size=4,
            strides=2,
            padding="same",
            depth_multiplier=3,
            activation="elu",
        ),
    ),
    Case("sep1d_no_bias", sep1d((9, 4), filters=3, kernel_size=2, use_bias=False)),
    # channels_first
    Case("dw_sep_channels_first", dw_channels_first),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_depthwise(cli, cache, case, flavour, tmp_path):
    check(cli, cache, case, flavour, tmp_path)
