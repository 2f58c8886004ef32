"""Conv1DTranspose, Conv2DTranspose and Conv3DTranspose: valid and same padding,
strides smaller than, equal to and larger than the kernel, output_padding,
dilation, odd and even input sizes, no bias, activations, and channels_first.

TF crops the full transposed result around the 'same' padding the forward
convolution would use; where that padding is odd (kernel 3, stride 2 for
example) the converter slices the last element off instead of shifting the
output, so every 'same' case runs with odd and even kernels and sizes.
"""

import pytest
from harness import K3_FLAVOURS, Case, cases_for, check, forward_source


def transpose(layer, input_shape, **kwargs):
    def build(k):
        inputs = k.Input(input_shape)
        return k.Model(inputs, getattr(k.layers, layer)(**kwargs)(inputs))

    return build


def conv2d_t(input_shape, **kwargs):
    return transpose("Conv2DTranspose", input_shape, **kwargs)


def conv1d_t(input_shape, **kwargs):
    return transpose("Conv1DTranspose", input_shape, **kwargs)


def conv3d_t(input_shape, **kwargs):
    return transpose("Conv3DTranspose", input_shape, **kwargs)


def decoder(k):
    """A small decoder: Dense -> Reshape -> transposed convolutions -> Conv2D."""
    inputs = k.Input((6,))
    x = k.layers.Dense(4 * 3 * 5, activation="relu")(inputs)
    x = k.layers.Reshape((4, 3, 5))(x)
    x = k.layers.Conv2DTranspose(6, 3, strides=2, padding="same", activation="relu")(x)
    x = k.layers.Conv2DTranspose(4, 4, strides=2, padding="same")(x)
    return k.Model(inputs, k.layers.Conv2D(2, 3, padding="same")(x))


def channels_first_2d(k):
    inputs = k.Input((3, 5, 6))
    x = k.layers.Conv2DTranspose(
        4, 3, strides=2, padding="same", data_format="channels_first", activation="relu"
    )(inputs)
    x = k.layers.Conv2DTranspose(2, (2, 3), data_format="channels_first")(x)
    return k.Model(inputs, x)


def channels_first_1d(k):
    # Output lengths differ from the filter counts: see test_conv.py's
    # channels_first_conv1d for Keras's bias_add shortcut on equal sizes.
    inputs = k.Input((3, 7))
    x = k.layers.Conv1DTranspose(4, 3, strides=2, padding="same", data_format="channels_first")(
        inputs
    )
    return k.Model(inputs, x)


# Keras 2's Conv1DTranspose and Conv3DTranspose accept the same arguments, so
# every case runs in all six formats.
CASES = [
    # Conv2DTranspose, valid
    Case("conv2d_t_valid_k3", conv2d_t((5, 6, 3), filters=4, kernel_size=3)),
    Case("conv2d_t_valid_k3_s2", conv2d_t((5, 6, 3), filters=4, kernel_size=3, strides=2)),
    Case("conv2d_t_valid_k2_s3", conv2d_t((5, 6, 3), filters=4, kernel_size=2, strides=3)),
    Case(
        "conv2d_t_valid_mixed",
        conv2d_t((5, 6, 3), filters=4, kernel_size=(3, 2), strides=(2, 1)),
    ),
    Case(
        "conv2d_t_valid_output_padding",
        conv2d_t((5, 6, 3), filters=4, kernel_size=3, strides=(3, 2), output_padding=(2, 1)),
    ),
    # Conv2DTranspose, same
    Case("conv2d_t_same_k3", conv2d_t((5, 6, 3), filters=4, kernel_size=3, padding="same")),
    Case(
        "conv2d_t_same_k3_s2_odd",
        conv2d_t((5, 7, 3), filters=4, kernel_size=3, strides=2, padding="same"),
    ),
    Case(
        "conv2d_t_same_k3_s2_even",
        conv2d_t((4, 6, 3), filters=4, kernel_size=3, strides=2, padding="same"),
    ),
    Case(
        "conv2d_t_same_k4_s2",
        conv2d_t((5, 6, 3), filters=4, kernel_size=4, strides=2, padding="same"),
    ),
    Case(
        "conv2d_t_same_k2_s3",
        conv2d_t((5, 6, 3), filters=4, kernel_size=2, strides=3, padding="same"),
    ),
    Case(
        "conv2d_t_same_k5_s3",
        conv2d_t((4, 5, 3), filters=4, kernel_size=(5, 4), strides=3, padding="same"),
    ),
    # TF checks that a 'same' convolution of the output gives back the input
    # size (ceil(O / s) == I), which rules out some output_padding values
    # Keras accepts (here (1, 0)).
    Case(
        "conv2d_t_same_output_padding",
        conv2d_t(
            (5, 6, 3),
            filters=4,
            kernel_size=(3, 4),
            strides=(2, 3),
            padding="same",
            output_padding=(1, 2),
        ),
    ),
    Case(
        "conv2d_t_same_output_padding_zero",
        conv2d_t((5, 6, 3), filters=4, kernel_size=3, strides=2, padding="same", output_padding=0),
    ),
    Case(
        "conv2d_t_dilation_valid",
        conv2d_t((5, 6, 3), filters=4, kernel_size=3, dilation_rate=2),
    ),
    Case(
        "conv2d_t_dilation_same",
        conv2d_t((5, 6, 3), filters=4, kernel_size=(3, 2), dilation_rate=2, padding="same"),
    ),
    # tf_keras refuses unequal rates ("Expected the 2 dimensions of the
    # `dilation_rate` argument to be equal to each other").
    Case(
        "conv2d_t_dilation_unequal",
        conv2d_t((5, 6, 3), filters=4, kernel_size=(3, 2), dilation_rate=(2, 3), padding="same"),
        flavours=K3_FLAVOURS,
    ),
    Case(
        "conv2d_t_no_bias_relu",
        conv2d_t((5, 6, 3), filters=4, kernel_size=3, strides=2, use_bias=False, activation="relu"),
    ),
    Case("conv2d_t_decoder", decoder),
    # Conv1DTranspose
    Case("conv1d_t_valid", conv1d_t((7, 3), filters=4, kernel_size=3)),
    Case("conv1d_t_valid_s2", conv1d_t((7, 3), filters=4, kernel_size=3, strides=2)),
    Case("conv1d_t_same_s2_k3", conv1d_t((7, 3), filters=4, kernel_size=3, strides=2, padding="same")),
    Case("conv1d_t_same_s2_k4", conv1d_t((8, 3), filters=4, kernel_size=4, strides=2, padding="same")),
    Case(
        "conv1d_t_output_padding",
        conv1d_t((7, 3), filters=4, kernel_size=3, strides=3, padding="same", output_padding=2),
    ),
    Case("conv1d_t_dilation", conv1d_t((7, 3), filters=4, kernel_size=3, dilation_rate=2)),
    # Conv3DTranspose
    Case("conv3d_t_valid", conv3d_t((3, 4, 5, 2), filters=3, kernel_size=2)),
    Case(
        "conv3d_t_same_s2",
        conv3d_t((3, 4, 5, 2), filters=3, kernel_size=3, strides=2, padding="same"),
    ),
    Case(
        "conv3d_t_valid_mixed",
        conv3d_t(
            (3, 4, 5, 2), filters=3, kernel_size=(2, 3, 2), strides=(1, 2, 3), use_bias=False
        ),
    ),
    # channels_first
    Case("conv2d_t_channels_first", channels_first_2d),
    Case("conv1d_t_channels_first", channels_first_1d),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_conv_transpose(cli, cache, case, flavour, tmp_path):
    check(cli, cache, case, flavour, tmp_path)


@pytest.mark.parametrize("flavour", ["k3.keras", "tfk.h5"])
def test_odd_same_padding_slices_last_element(cli, cache, flavour, tmp_path):
    """Kernel 3, stride 2, 'same': TF's padding is 0 before and 1 after, which
    PyTorch's symmetric padding cannot say; the converter slices the extra
    element off instead of shifting the output by one pixel."""
    case = next(c for c in CASES if c.name == "conv2d_t_same_k3_s2_odd")
    outs = check(cli, cache, case, flavour, tmp_path, io_layouts=("torch",))
    forward = forward_source(outs["torch"])
    assert "[:, :, :-1, :-1]" in forward, forward
