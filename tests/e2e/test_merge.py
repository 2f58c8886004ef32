"""Add, Subtract, Multiply, Average, Maximum, Minimum and Concatenate, on dense
vectors and on conv maps (where Keras's axis -1 is PyTorch's channel dim), and
Keras's rank broadcasting: a lower-rank input is expanded at axis 1, so (B, C)
meets (B, H, W, C) as (B, 1, 1, C)."""

import pytest
from harness import Case, cases_for, check

ELEMENTWISE = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]


def merges_dense(k):
    a, b = k.Input((6,), name="a"), k.Input((6,), name="b")
    x, y = k.layers.Dense(5)(a), k.layers.Dense(5)(b)
    return k.Model([a, b], [getattr(k.layers, n)(name=n.lower())([x, y]) for n in ELEMENTWISE])


def merges_conv(k):
    """Two conv maps (stored channels first in PyTorch) merged element-wise."""
    inputs = k.Input((7, 8, 3))
    x = k.layers.Conv2D(4, 3)(inputs)
    y = k.layers.Conv2D(4, 3)(inputs)
    return k.Model(inputs, [getattr(k.layers, n)(name=n.lower())([x, y]) for n in ELEMENTWISE])


def merges_three(k):
    inputs = [k.Input((5,), name=f"in{i}") for i in range(3)]
    outputs = [
        getattr(k.layers, n)(name=n.lower())(inputs)
        for n in ("Add", "Multiply", "Average", "Maximum", "Minimum")
    ]
    outputs.append(k.layers.Concatenate(name="concat")(inputs))
    return k.Model(inputs, outputs)


def concat_conv(k):
    """Concatenate conv maps on the channels (-1), on rows (1) and on columns (2)."""
    inputs = k.Input((6, 7, 3))
    x = k.layers.Conv2D(4, 3, padding="same")(inputs)
    y = k.layers.Conv2D(2, 3, padding="same")(inputs)
    channels = k.layers.Concatenate(name="concat_channels")([x, y])
    rows = k.layers.Concatenate(axis=1, name="concat_rows")([x, x])
    cols = k.layers.Concatenate(axis=2, name="concat_cols")([y, y])
    head = k.layers.Conv2D(3, 1, name="head")(channels)
    return k.Model(inputs, [channels, rows, cols, head])


def concat_mixed_layout(k):
    """A conv map concatenated with the raw (channels-last) input."""
    inputs = k.Input((6, 7, 3))
    x = k.layers.Conv2D(5, 3, padding="same")(inputs)
    merged = k.layers.Concatenate()([inputs, x])
    return k.Model(inputs, k.layers.Conv2D(2, 1)(merged))


def concat_sequences(k):
    a, b = k.Input((4, 3), name="a"), k.Input((4, 5), name="b")
    c = k.Input((2, 3), name="c")
    return k.Model(
        [a, b, c],
        [
            k.layers.Concatenate(name="features")([a, b]),
            k.layers.Concatenate(axis=1, name="steps")([a, c]),
        ],
    )


def broadcast_add(k):
    """(B, C) + (B, H, W, C): Keras expands the vector at axis 1."""
    image = k.Input((5, 6, 4), name="image")
    vector = k.Input((4,), name="vector")
    x = k.layers.Conv2D(4, 1)(image)
    v = k.layers.Dense(4)(vector)
    return k.Model(
        [image, vector],
        [
            k.layers.Add(name="add_map")([x, v]),
            k.layers.Multiply(name="mul_raw")([image, vector]),
            k.layers.Subtract(name="sub_vector_first")([v, x]),
        ],
    )


def broadcast_sequence(k):
    """(B, F) with (B, T, F) where T == F: only axis-1 expansion is right."""
    seq = k.Input((4, 4), name="seq")
    vec = k.Input((4,), name="vec")
    return k.Model([seq, vec], [k.layers.Add()([seq, vec]), k.layers.Maximum()([vec, seq])])


CASES = [
    Case("merges_dense", merges_dense),
    Case("merges_conv", merges_conv),
    Case("merges_three_inputs", merges_three),
    Case("concat_conv", concat_conv),
    Case("concat_mixed_layout", concat_mixed_layout),
    Case("concat_sequences", concat_sequences),
    Case("broadcast_add", broadcast_add),
    Case("broadcast_sequence", broadcast_sequence),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_merge(cli, cache, case, flavour, tmp_path):
    check(cli, cache, case, flavour, tmp_path)
