"""Volumes: Conv3D (valid, same with strides on odd and even sizes, dilation),
MaxPooling3D and AveragePooling3D (valid and same, where TF's padding is
asymmetric and its average divisor counts only real voxels), global 3D
pooling with and without keepdims, ZeroPadding3D and Cropping3D, and a
channels_first volume.
"""

import pytest
from harness import Case, cases_for, check


def on_input(layer, input_shape, **kwargs):
    def build(k):
        inputs = k.Input(input_shape)
        return k.Model(inputs, getattr(k.layers, layer)(**kwargs)(inputs))

    return build


def after_conv(layer, **kwargs):
    """The layer on a Conv3D map, then Flatten + Dense: the flatten order matters."""

    def build(k):
        inputs = k.Input((5, 6, 7, 2))
        x = k.layers.Conv3D(3, 2, padding="same")(inputs)
        x = getattr(k.layers, layer)(**kwargs)(x)
        return k.Model(inputs, k.layers.Dense(4)(k.layers.Flatten()(x)))

    return build


def global_pools(k):
    inputs = k.Input((4, 5, 6, 2))
    x = k.layers.Conv3D(5, 3, padding="same")(inputs)
    outputs = []
    for kind in ("Max", "Average"):
        cls = getattr(k.layers, f"Global{kind}Pooling3D")
        outputs.append(cls(name=f"global_{kind.lower()}")(x))
        outputs.append(cls(keepdims=True, name=f"global_{kind.lower()}_keepdims")(x))
    return k.Model(inputs, outputs)


def volume_net(k):
    """Conv3D, BatchNorm, pooling, padding and cropping in a row, with a Dense head."""
    inputs = k.Input((8, 9, 10, 1))
    x = k.layers.Conv3D(4, 3, padding="same", activation="relu")(inputs)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.MaxPooling3D(2)(x)
    x = k.layers.ZeroPadding3D(((1, 0), (0, 2), (1, 1)))(x)
    x = k.layers.Conv3D(6, 3, strides=2, padding="same")(x)
    x = k.layers.Cropping3D(((0, 1), (1, 0), (0, 0)))(x)
    x = k.layers.GlobalAveragePooling3D()(x)
    return k.Model(inputs, k.layers.Dense(3, activation="softmax")(x))


def channels_first_volume(k):
    # Keras's TF backend runs a channels_first Conv3D on CPU by transposing
    # to channels_last around the op, so it is valid in both Keras versions.
    inputs = k.Input((2, 5, 6, 7))
    x = k.layers.Conv3D(3, 3, padding="same", data_format="channels_first")(inputs)
    x = k.layers.MaxPooling3D(2, data_format="channels_first")(x)
    x = k.layers.ZeroPadding3D(1, data_format="channels_first")(x)
    x = k.layers.Cropping3D(((1, 0), (0, 1), (1, 1)), data_format="channels_first")(x)
    pooled = k.layers.GlobalAveragePooling3D(data_format="channels_first")(x)
    return k.Model(inputs, [x, pooled])


CASES = [
    # Conv3D
    Case("conv3d_valid", on_input("Conv3D", (5, 6, 7, 2), filters=3, kernel_size=3)),
    Case(
        "conv3d_same_s2_odd",
        on_input("Conv3D", (5, 7, 9, 2), filters=3, kernel_size=3, strides=2, padding="same"),
    ),
    Case(
        "conv3d_same_s2_even",
        on_input("Conv3D", (4, 6, 8, 2), filters=3, kernel_size=(2, 3, 4), strides=2, padding="same"),
    ),
    Case(
        "conv3d_dilation_same",
        on_input("Conv3D", (6, 7, 8, 2), filters=3, kernel_size=3, dilation_rate=2, padding="same"),
    ),
    Case(
        "conv3d_strided_no_bias",
        on_input(
            "Conv3D",
            (5, 6, 7, 2),
            filters=3,
            kernel_size=(1, 2, 3),
            strides=(1, 2, 3),
            use_bias=False,
            activation="relu",
        ),
    ),
    Case("conv3d_flatten_dense", after_conv("Activation", activation="linear")),
    # Pooling
    Case("max_pool3d_valid", on_input("MaxPooling3D", (5, 6, 7, 2), pool_size=2)),
    Case(
        "max_pool3d_same_odd",
        on_input("MaxPooling3D", (5, 6, 7, 2), pool_size=(2, 3, 2), padding="same"),
    ),
    Case(
        "avg_pool3d_valid_strided",
        on_input("AveragePooling3D", (5, 6, 7, 2), pool_size=3, strides=(1, 2, 2)),
    ),
    Case(
        "avg_pool3d_same_odd",
        on_input("AveragePooling3D", (5, 6, 7, 2), pool_size=2, padding="same"),
    ),
    Case(
        "avg_pool3d_same_k3_s2",
        on_input("AveragePooling3D", (5, 6, 7, 2), pool_size=3, strides=2, padding="same"),
    ),
    Case("max_pool3d_flatten_dense", after_conv("MaxPooling3D", pool_size=2, padding="same")),
    Case("global_pool3d", global_pools),
    # Padding and cropping
    Case("zero_padding3d_int", on_input("ZeroPadding3D", (3, 4, 5, 2), padding=1)),
    Case(
        "zero_padding3d_asymmetric",
        after_conv("ZeroPadding3D", padding=((0, 1), (2, 0), (1, 3))),
    ),
    Case("cropping3d_int", on_input("Cropping3D", (5, 6, 7, 2), cropping=1)),
    Case(
        "cropping3d_asymmetric",
        after_conv("Cropping3D", cropping=((1, 0), (0, 2), (1, 3))),
    ),
    Case("volume_net", volume_net),
    Case("channels_first_volume", channels_first_volume),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_volumes(cli, cache, case, flavour, tmp_path):
    check(cli, cache, case, flavour, tmp_path)
