"""Layers that only act in training: Dropout, SpatialDropout1D/2D, GaussianNoise,
GaussianDropout, AlphaDropout and ActivityRegularization are identities at
inference, in sequence models and on conv maps."""

import pytest
from harness import Case, cases_for, check


def dense_chain(k):
    return k.Sequential(
        [
            k.Input((10,)),
            k.layers.Dense(8, activation="relu"),
            k.layers.Dropout(0.5),
            k.layers.GaussianNoise(0.3),
            k.layers.Dense(6, activation="selu"),
            k.layers.AlphaDropout(0.2),
            k.layers.GaussianDropout(0.4),
            k.layers.ActivityRegularization(l1=0.01, l2=0.01),
            k.layers.Dense(3),
        ]
    )


def conv_chain(k):
    inputs = k.Input((8, 9, 3))
    x = k.layers.Conv2D(4, 3, padding="same")(inputs)
    x = k.layers.SpatialDropout2D(0.5)(x)
    x = k.layers.Dropout(0.3)(x)
    x = k.layers.GaussianNoise(1.0)(x)
    x = k.layers.Conv2D(2, 3)(x)
    return k.Model(inputs, [x, k.layers.Dropout(0.5)(k.layers.Flatten()(x))])


def sequence_chain(k):
    inputs = k.Input((7, 4))
    x = k.layers.Conv1D(5, 3)(inputs)
    x = k.layers.SpatialDropout1D(0.5)(x)
    return k.Model(inputs, k.layers.Dense(2)(x))


def dropout_at_io(k):
    """Dropout straight on the input and as the output."""
    inputs = k.Input((6, 5, 2))
    return k.Model(inputs, k.layers.Dropout(0.5)(k.layers.SpatialDropout2D(0.2)(inputs)))


CASES = [
    Case("dropout_dense_chain", dense_chain),
    Case("dropout_conv_chain", conv_chain),
    Case("dropout_sequence_chain", sequence_chain),
    Case("dropout_at_io", dropout_at_io),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_dropout(cli, cache, case, flavour, tmp_path):
    check(cli, cache, case, flavour, tmp_path)
