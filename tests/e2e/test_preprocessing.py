"""Rescaling (a scalar, and one scale and offset per channel, on the input and
on a channels-first map) and Normalization (statistics learnt with adapt()
or given in the config, on one or several axes, or one scalar for all, and
invert=True).

The adapted statistics are non-constant by construction (adapt() runs on
data with a different mean and spread per feature), so the harness keeps
them as they are; the config ones are written out here.
"""

import numpy as np
import pytest
from harness import K3_FLAVOURS, Case, cases_for, check


def rescaling(input_shape, **kwargs):
    def build(k):
        inputs = k.Input(input_shape)
        return k.Model(inputs, k.layers.Rescaling(**kwargs)(inputs))

    return build


def rescaling_per_channel(k):
    """Per-channel scale and offset, on the input and after a convolution."""
    inputs = k.Input((5, 6, 3))
    x = k.layers.Rescaling([0.5, 2.0, -1.5], offset=[0.25, -1.0, 3.0], name="on_input")(inputs)
    x = k.layers.Conv2D(4, 3)(x)
    x = k.layers.Rescaling([1.0, 3.0, -2.0, 0.5], name="on_map")(x)
    return k.Model(inputs, x)


def rescaling_numpy_scale(k):
    """Keras 3 serialises a NumPy scale as a tagged array; EfficientNet passes a list."""
    inputs = k.Input((4, 5, 3))
    x = k.layers.Rescaling(np.array([0.1, 0.2, 0.3], "float32"), offset=-0.5)(inputs)
    return k.Model(inputs, k.layers.Conv2D(2, 1)(x))


def _data(shape, seed):
    """Data whose mean and spread differ along every axis."""
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.5, 3.0, size=shape[1:])
    shift = rng.normal(0.0, 2.0, size=shape[1:])
    return (rng.standard_normal(shape) * scale + shift).astype("float32")


def adapted(input_shape, then_conv=False, **kwargs):
    def build(k):
        norm = k.layers.Normalization(**kwargs)
        norm.adapt(_data((64,) + input_shape, seed=len(input_shape)))
        inputs = k.Input(input_shape)
        x = norm(inputs)
        if then_conv:
            x = k.layers.Conv2D(3, 2)(x)
        return k.Model(inputs, x)

    return build


def adapted_on_map(k):
    """Normalization after a convolution (the map is channels first in PyTorch)."""
    inputs = k.Input((5, 6, 3))
    x = k.layers.Conv2D(4, 1)(inputs)
    norm = k.layers.Normalization()
    norm.adapt(_data((32, 5, 6, 4), seed=7))
    return k.Model(inputs, k.layers.Conv2D(2, 3)(norm(x)))


def from_config(input_shape, **kwargs):
    def build(k):
        inputs = k.Input(input_shape)
        x = k.layers.Normalization(**kwargs)(inputs)
        return k.Model(inputs, k.layers.Dense(2)(k.layers.Flatten()(x)))

    return build


def invert_pair(k):
    """Normalize then denormalize with the same statistics: the input comes back."""
    mean = [1.0, -2.0, 0.5]
    variance = [4.0, 0.25, 2.0]
    inputs = k.Input((4, 5, 3))
    x = k.layers.Normalization(mean=mean, variance=variance, name="normalize")(inputs)
    y = k.layers.Conv2D(3, 1, name="conv")(x)
    back = k.layers.Normalization(mean=mean, variance=variance, invert=True, name="denormalize")
    return k.Model(inputs, [x, back(y)])


def invert_adapted(k):
    norm = k.layers.Normalization(invert=True)
    norm.adapt(_data((40, 6), seed=11))
    inputs = k.Input((6,))
    return k.Model(inputs, norm(k.layers.Dense(6)(inputs)))


CASES = [
    # Rescaling
    Case("rescaling_scalar", rescaling((5, 6, 3), scale=1.0 / 255)),
    Case("rescaling_scalar_offset", rescaling((5, 6, 3), scale=1.0 / 127.5, offset=-1.0)),
    Case("rescaling_on_vector", rescaling((7,), scale=3.0, offset=0.5)),
    Case("rescaling_per_channel", rescaling_per_channel),
    Case("rescaling_numpy_scale", rescaling_numpy_scale, flavours=K3_FLAVOURS),
    # Normalization, adapted
    Case("normalization_adapted_last", adapted((5, 6, 3), then_conv=True)),
    Case("normalization_adapted_vector", adapted((7,))),
    Case("normalization_adapted_axes_1_2", adapted((4, 5, 3), axis=(1, 2))),
    Case("normalization_adapted_scalar", adapted((4, 5, 3), axis=None)),
    Case("normalization_adapted_on_map", adapted_on_map),
    # Normalization, from the config
    Case(
        "normalization_config_per_channel",
        from_config((4, 5, 3), mean=[0.5, -1.0, 2.0], variance=[2.0, 0.5, 1.5]),
    ),
    Case("normalization_config_scalar", from_config((4, 5, 3), mean=1.5, variance=3.0)),
    Case(
        "normalization_config_axis_1",
        from_config((3, 4), axis=1, mean=[0.0, 1.0, -1.0], variance=[1.0, 4.0, 0.25]),
    ),
    # invert=True
    Case("normalization_invert_config", invert_pair),
    Case("normalization_invert_adapted", invert_adapted),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_preprocessing(cli, cache, case, flavour, tmp_path):
    check(cli, cache, case, flavour, tmp_path)
