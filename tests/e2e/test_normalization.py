"""BatchNormalization at inference: axis -1 on 4-D, 2-D and 3-D (B, T, F) inputs,
axis 1 for channels_first, center=False, scale=False, and a small epsilon.

tf.keras's fused batch norm (4-D and 5-D inputs on the channel axis) silently
raises epsilon to at least 1.001e-5, Keras 3 does not; the small-epsilon cases
use moving variances around 1e-5 so that the difference shows, and each
flavour's own Keras is the reference.
"""

import json

import pytest
import torch
from harness import TFK_FLAVOURS, Case, cases_for, check, expect_error, import_model, run_cli


def bn_on_input(input_shape, **kwargs):
    def build(k):
        inputs = k.Input(input_shape)
        return k.Model(inputs, k.layers.BatchNormalization(**kwargs)(inputs))

    return build


def bn_conv(**kwargs):
    def build(k):
        inputs = k.Input((7, 8, 3))
        x = k.layers.Conv2D(5, 3)(inputs)
        x = k.layers.BatchNormalization(**kwargs)(x)
        x = k.layers.Activation("relu")(x)
        return k.Model(inputs, k.layers.Conv2D(4, 1)(x))

    return build


def bn_dense(k):
    inputs = k.Input((10,))
    x = k.layers.BatchNormalization()(k.layers.Dense(6)(inputs))
    return k.Model(inputs, k.layers.Dense(3)(x))


def bn_sequence(k):
    """(B, T, F) with axis -1, and with axis 1 (the time axis)."""
    inputs = k.Input((5, 6))
    x = k.layers.Dense(4)(inputs)
    return k.Model(
        inputs,
        [
            k.layers.BatchNormalization(name="bn_features")(x),
            k.layers.BatchNormalization(axis=1, name="bn_steps")(x),
        ],
    )


def bn_conv1d(k):
    inputs = k.Input((9, 3))
    x = k.layers.BatchNormalization()(k.layers.Conv1D(4, 3)(inputs))
    return k.Model(inputs, k.layers.Conv1D(2, 1)(x))


def bn_channels_first(k):
    inputs = k.Input((3, 8, 9))
    x = k.layers.Conv2D(5, 3, data_format="channels_first")(inputs)
    x = k.layers.BatchNormalization(axis=1)(x)
    return k.Model(inputs, k.layers.Conv2D(4, 1, data_format="channels_first")(x))


def bn_spatial_axis(k):
    """Normalizing a spatial axis of a channels-last map (axis 1: rows)."""
    inputs = k.Input((6, 7, 3))
    x = k.layers.Conv2D(4, 1)(inputs)
    return k.Model(inputs, k.layers.BatchNormalization(axis=1)(x))


def bn_after_flatten(k):
    inputs = k.Input((5, 6, 3))
    x = k.layers.Flatten()(k.layers.Conv2D(4, 3)(inputs))
    x = k.layers.BatchNormalization()(x)
    return k.Model(inputs, k.layers.Dense(3)(x))


SMALL_VARIANCE = (2e-6, 2e-5)

CASES = [
    Case("bn_input_4d", bn_on_input((5, 6, 3))),
    Case("bn_input_2d", bn_on_input((7,))),
    Case("bn_input_3d", bn_on_input((5, 4))),
    Case("bn_conv", bn_conv()),
    Case("bn_conv_no_center", bn_conv(center=False)),
    Case("bn_conv_no_scale", bn_conv(scale=False)),
    Case("bn_conv_neither", bn_conv(center=False, scale=False)),
    Case("bn_dense", bn_dense),
    Case("bn_sequence", bn_sequence),
    Case("bn_conv1d", bn_conv1d),
    Case("bn_channels_first", bn_channels_first),
    Case("bn_spatial_axis", bn_spatial_axis),
    Case("bn_after_flatten", bn_after_flatten),
    Case("bn_epsilon_small_4d", bn_conv(epsilon=1e-6), bn_variance=SMALL_VARIANCE),
    Case(
        "bn_epsilon_small_channels_first",
        bn_on_input((3, 5, 6), axis=1, epsilon=1e-6),
        bn_variance=SMALL_VARIANCE,
    ),
    Case("bn_epsilon_small_2d", bn_on_input((7,), epsilon=1e-6), bn_variance=SMALL_VARIANCE),
    Case("bn_epsilon_small_3d", bn_on_input((5, 4), epsilon=1e-6), bn_variance=SMALL_VARIANCE),
    Case(
        "bn_epsilon_unfused_4d",
        bn_on_input((5, 6, 3), axis=2, epsilon=1e-6),
        bn_variance=SMALL_VARIANCE,
    ),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_batch_normalization(cli, cache, case, flavour, tmp_path):
    check(cli, cache, case, flavour, tmp_path)


@pytest.mark.parametrize("recorded,expected_eps", [("2.11.0", 1.001e-5), ("2.12.0", 1e-6)])
def test_fused_epsilon_follows_recorded_version(cli, cache, tmp_path, recorded, expected_eps):
    """TensorFlow up to 2.11 raised a fused batch norm's epsilon to 1.001e-5; the
    installed TensorFlow cannot show that, so the file's recorded Keras version
    is rewritten and the converted module's epsilon checked."""
    import shutil

    import h5py

    case = next(c for c in CASES if c.name == "bn_epsilon_small_4d")
    saved = cache.get(case, "tfk.h5")
    model = tmp_path / "model.h5"
    shutil.copy(saved.model, model)
    with h5py.File(model, "r+") as f:
        f.attrs["keras_version"] = recorded
    out = tmp_path / "out"
    result = run_cli(cli, model, out)
    assert result.returncode == 0, result.stderr
    module = import_model(out).load_model()
    eps = [m.eps for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert eps == [expected_eps], (
        f"Keras {recorded}: BatchNorm2d eps {eps}, expected {expected_eps}"
    )
    notes = [
        n
        for layer in json.loads((out / "report.json").read_text())["layers"]
        for n in layer.get("notes", [])
    ]
    raised = any("raised to 1.001e-05" in n for n in notes)
    assert raised == (expected_eps != 1e-6), notes


def bn_two_axes(k):
    inputs = k.Input((4, 5, 3))
    return k.Model(inputs, k.layers.BatchNormalization(axis=[1, 3])(inputs))


@pytest.mark.parametrize("flavour", TFK_FLAVOURS)
def test_several_axes_is_reported(cli, cache, flavour, tmp_path):
    """tf_keras accepts a list of axes; PyTorch has no such batch norm."""
    saved = cache.get(Case("bn_two_axes", bn_two_axes, flavours=TFK_FLAVOURS), flavour)
    expect_error(
        cli,
        saved,
        tmp_path / "out",
        f"keras2torch: error: {saved.model}: layer 'batch_normalization' (BatchNormalization): "
        "normalizing over several axes [1, 3] is not supported",
    )
