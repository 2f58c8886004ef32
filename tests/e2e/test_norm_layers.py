"""LayerNormalization, GroupNormalization, UnitNormalization and
RMSNormalization wherever their axes sit in PyTorch's layout.

On a conv map, Keras's last axis (the channels) is dim 1 in PyTorch, so a
layer norm over it is not nn.LayerNorm over trailing dims; over [1, 2, 3]
it is all of (C, H, W); over [1, 2] it is (H, W), dims 2 and 3. Sequences
(B, T, F) keep Keras's order. Epsilons differ between Keras (1e-3) and
PyTorch (1e-5), and the small-epsilon cases make that visible.
"""

import pytest
from harness import K3_FLAVOURS, Case, cases_for, check


def on_conv_map(layer, input_shape=(5, 6, 3), **kwargs):
    """Conv2D, then the layer, then a 1x1 Conv2D: the map stays channels first."""

    def build(k):
        inputs = k.Input(input_shape)
        x = k.layers.Conv2D(4, 3)(inputs)
        x = getattr(k.layers, layer)(**kwargs)(x)
        return k.Model(inputs, k.layers.Conv2D(3, 1)(x))

    return build


def on_sequence(layer, **kwargs):
    def build(k):
        inputs = k.Input((7, 6))
        x = k.layers.Dense(8)(inputs)
        return k.Model(inputs, getattr(k.layers, layer)(**kwargs)(x))

    return build


def on_input(layer, input_shape, **kwargs):
    def build(k):
        inputs = k.Input(input_shape)
        return k.Model(inputs, getattr(k.layers, layer)(**kwargs)(inputs))

    return build


def ln_flatten_dense(k):
    """LayerNorm over the whole map, then Flatten + Dense (the flatten order matters)."""
    inputs = k.Input((4, 5, 3))
    x = k.layers.Conv2D(4, 2)(inputs)
    x = k.layers.LayerNormalization(axis=[1, 2, 3])(x)
    return k.Model(inputs, k.layers.Dense(3)(k.layers.Flatten()(x)))


def group_norm_channels_first(k):
    inputs = k.Input((6, 5, 7))
    x = k.layers.Conv2D(6, 3, data_format="channels_first")(inputs)
    return k.Model(inputs, k.layers.GroupNormalization(groups=3, axis=1)(x))


def transformer_block(k):
    """Pre-norm MLP block on tokens: LayerNorm, Dense, GELU, Dense, residual."""
    inputs = k.Input((5, 8))
    x = k.layers.LayerNormalization(epsilon=1e-6)(inputs)
    x = k.layers.Dense(16, activation="gelu")(x)
    x = k.layers.Dense(8)(x)
    return k.Model(inputs, k.layers.Add()([inputs, x]))


CASES = [
    # LayerNormalization
    Case("ln_conv_channels", on_conv_map("LayerNormalization")),
    Case("ln_conv_all_axes", on_conv_map("LayerNormalization", axis=[1, 2, 3])),
    Case(
        "ln_conv_spatial_plain",
        on_conv_map("LayerNormalization", axis=[1, 2], center=False, scale=False),
    ),
    Case("ln_conv_spatial_center_only", on_conv_map("LayerNormalization", axis=[1, 2], scale=False)),
    Case("ln_conv_spatial_scale_only", on_conv_map("LayerNormalization", axis=[2, 1], center=False)),
    Case("ln_conv_rows", on_conv_map("LayerNormalization", axis=1, epsilon=1e-5)),
    Case("ln_on_input_image", on_input("LayerNormalization", (4, 5, 3))),
    Case("ln_sequence", on_sequence("LayerNormalization")),
    Case("ln_sequence_small_eps", on_sequence("LayerNormalization", epsilon=1e-7)),
    Case("ln_sequence_steps", on_sequence("LayerNormalization", axis=1)),
    Case("ln_sequence_both", on_sequence("LayerNormalization", axis=[-2, -1], center=False)),
    Case("ln_vector", on_input("LayerNormalization", (9,))),
    Case("ln_flatten_dense", ln_flatten_dense),
    Case("ln_transformer_block", transformer_block),
    # GroupNormalization
    Case("gn_conv", on_conv_map("GroupNormalization", groups=2)),
    Case("gn_conv_instance", on_conv_map("GroupNormalization", groups=-1)),
    Case("gn_conv_layer", on_conv_map("GroupNormalization", groups=1, epsilon=1e-5)),
    Case(
        "gn_conv_no_affine",
        on_conv_map("GroupNormalization", groups=2, center=False, scale=False),
    ),
    Case("gn_sequence", on_sequence("GroupNormalization", groups=4)),
    Case("gn_channels_first", group_norm_channels_first),
    # UnitNormalization
    Case("unit_norm_vector", on_input("UnitNormalization", (7,))),
    Case("unit_norm_conv_channels", on_conv_map("UnitNormalization")),
    Case("unit_norm_conv_spatial", on_conv_map("UnitNormalization", axis=[1, 2])),
    Case("unit_norm_sequence", on_sequence("UnitNormalization", axis=1)),
    # RMSNormalization (Keras 3 only)
    Case("rms_norm_sequence", on_sequence("RMSNormalization"), flavours=K3_FLAVOURS),
    Case("rms_norm_conv_channels", on_conv_map("RMSNormalization"), flavours=K3_FLAVOURS),
    Case(
        "rms_norm_conv_all",
        on_conv_map("RMSNormalization", axis=[1, 2, 3], epsilon=1e-4),
        flavours=K3_FLAVOURS,
    ),
    # LayerNormalization(rms_scaling=True) (Keras 3 only; deprecated, still loadable)
    Case(
        "ln_rms_scaling_sequence",
        on_sequence("LayerNormalization", rms_scaling=True),
        flavours=K3_FLAVOURS,
    ),
    Case(
        "ln_rms_scaling_conv",
        on_conv_map("LayerNormalization", rms_scaling=True),
        flavours=K3_FLAVOURS,
    ),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_norm_layers(cli, cache, case, flavour, tmp_path):
    check(cli, cache, case, flavour, tmp_path)
