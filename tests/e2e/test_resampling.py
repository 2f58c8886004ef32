"""UpSampling1D/2D/3D (nearest, and bilinear in 2D), Resizing (nearest and
bilinear, enlarging and shrinking, crop_to_aspect_ratio), CenterCrop, and the
refusal of bicubic interpolation.

TF2 and Keras 3 resize with half-pixel centres and no antialiasing: 'nearest'
is PyTorch's 'nearest-exact' and 'bilinear' is align_corners=False. The
sizes are chosen so that the scale factors are not integers.
"""

import pytest
from harness import Case, cases_for, check, expect_error


def after_conv(layer, input_shape=(5, 6, 3), **kwargs):
    """A Conv2D first, so the layer sees a channels-first map in PyTorch."""

    def build(k):
        inputs = k.Input(input_shape)
        x = k.layers.Conv2D(4, 1)(inputs)
        return k.Model(inputs, getattr(k.layers, layer)(**kwargs)(x))

    return build


def on_input(layer, input_shape, **kwargs):
    def build(k):
        inputs = k.Input(input_shape)
        return k.Model(inputs, getattr(k.layers, layer)(**kwargs)(inputs))

    return build


def upsampling1d(k):
    inputs = k.Input((5, 3))
    x = k.layers.Conv1D(4, 2)(inputs)
    x = k.layers.UpSampling1D(3)(x)
    return k.Model(inputs, k.layers.Conv1D(2, 3)(x))


def upsampling3d(k):
    inputs = k.Input((3, 4, 5, 2))
    x = k.layers.Conv3D(3, 1)(inputs)
    return k.Model(inputs, k.layers.UpSampling3D((1, 2, 3))(x))


def unet_step(k):
    """U-Net's decoder step: up-sample, concatenate with the skip, convolve."""
    inputs = k.Input((8, 10, 3))
    skip = k.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = k.layers.MaxPooling2D(2)(skip)
    x = k.layers.Conv2D(6, 3, padding="same", activation="relu")(x)
    x = k.layers.UpSampling2D(2, interpolation="bilinear")(x)
    x = k.layers.Concatenate()([x, skip])
    return k.Model(inputs, k.layers.Conv2D(2, 1)(x))


def upsampling_channels_first(k):
    inputs = k.Input((3, 4, 5))
    x = k.layers.Conv2D(4, 1, data_format="channels_first")(inputs)
    return k.Model(
        inputs,
        [
            k.layers.UpSampling2D((2, 3), data_format="channels_first", name="nearest")(x),
            k.layers.UpSampling2D(
                2, data_format="channels_first", interpolation="bilinear", name="bilinear"
            )(x),
        ],
    )


def resizing_head(k):
    """Resizing and Rescaling at the input, as an image model's preprocessing."""
    inputs = k.Input((9, 7, 3))
    x = k.layers.Resizing(6, 8)(inputs)
    x = k.layers.Conv2D(4, 3)(x)
    return k.Model(inputs, k.layers.Dense(2)(k.layers.Flatten()(x)))


CASES = [
    # UpSampling
    Case("upsampling1d", upsampling1d),
    Case("upsampling2d_nearest", after_conv("UpSampling2D", size=(2, 3))),
    Case("upsampling2d_bilinear", after_conv("UpSampling2D", size=2, interpolation="bilinear")),
    Case(
        "upsampling2d_bilinear_uneven",
        after_conv("UpSampling2D", size=(3, 2), interpolation="bilinear"),
    ),
    Case("upsampling2d_on_input", on_input("UpSampling2D", (4, 5, 3), size=2)),
    Case("upsampling3d_nearest", upsampling3d),
    Case("upsampling_unet_step", unet_step),
    Case("upsampling_channels_first", upsampling_channels_first),
    # Resizing
    Case("resizing_nearest_up", after_conv("Resizing", height=9, width=11, interpolation="nearest")),
    Case(
        "resizing_nearest_down",
        after_conv("Resizing", (9, 11, 3), height=4, width=7, interpolation="nearest"),
    ),
    Case("resizing_bilinear_up", after_conv("Resizing", height=9, width=8)),
    Case("resizing_bilinear_down", after_conv("Resizing", (9, 11, 3), height=5, width=4)),
    Case(
        "resizing_crop_wide",
        after_conv("Resizing", (6, 11, 3), height=4, width=4, crop_to_aspect_ratio=True),
    ),
    Case(
        "resizing_crop_tall",
        after_conv(
            "Resizing",
            (11, 6, 3),
            height=5,
            width=7,
            interpolation="nearest",
            crop_to_aspect_ratio=True,
        ),
    ),
    Case("resizing_head", resizing_head),
    # CenterCrop
    Case("center_crop", after_conv("CenterCrop", (9, 10, 3), height=4, width=7)),
    Case("center_crop_odd_margin", on_input("CenterCrop", (8, 9, 3), height=5, width=4)),
    Case("center_crop_full", after_conv("CenterCrop", (5, 6, 3), height=5, width=6)),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_resampling(cli, cache, case, flavour, tmp_path):
    check(cli, cache, case, flavour, tmp_path)


BICUBIC_CASES = {
    "UpSampling2D": Case(
        "upsampling2d_bicubic", after_conv("UpSampling2D", size=2, interpolation="bicubic")
    ),
    "Resizing": Case(
        "resizing_bicubic", after_conv("Resizing", height=8, width=9, interpolation="bicubic")
    ),
}


@pytest.mark.parametrize("flavour", ["k3.keras", "k3.h5", "tfk.h5", "tfk.json"])
@pytest.mark.parametrize("layer", sorted(BICUBIC_CASES))
def test_bicubic_is_refused(cli, cache, layer, flavour, tmp_path):
    """TF's bicubic kernel (a = -0.5) is not PyTorch's (a = -0.75)."""
    saved = cache.get(BICUBIC_CASES[layer], flavour)
    name = "up_sampling2d" if layer == "UpSampling2D" else "resizing"
    expect_error(
        cli,
        saved,
        tmp_path / "out",
        f"keras2torch: error: {saved.model}: layer '{name}' ({layer}): interpolation 'bicubic' "
        "is not supported; nearest and bilinear can be converted",
    )
