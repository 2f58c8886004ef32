"""InputLayer and Dense (rank 2 and rank 3 inputs, with and without bias)."""

import pytest
from harness import Case, cases_for, check


def dense_rank2(k):
    return k.Sequential([k.Input((7,)), k.layers.Dense(5)])


def dense_rank3(k):
    inputs = k.Input((4, 6))
    return k.Model(inputs, k.layers.Dense(5, activation="tanh")(inputs))


def dense_no_bias(k):
    return k.Sequential([k.Input((7,)), k.layers.Dense(5, use_bias=False, activation="relu")])


def dense_conv_map(k):
    """Dense on a rank-4 conv map acts on Keras's last axis, the channels."""
    inputs = k.Input((5, 6, 3))
    x = k.layers.Conv2D(4, 3, padding="same")(inputs)
    return k.Model(inputs, k.layers.Dense(7, activation="relu")(x))


def sequential_input_shape(k):
    """A Sequential model whose input comes from the first layer's input_shape."""
    return k.Sequential([k.layers.Dense(6, activation="relu", input_shape=(5,)), k.layers.Dense(2)])


def dense_stack(k):
    inputs = k.Input((9,), name="features")
    x = k.layers.Dense(16, activation="relu")(inputs)
    x = k.layers.Dense(8, activation="sigmoid")(x)
    return k.Model(inputs, k.layers.Dense(3)(x))


CASES = [
    Case("dense_rank2", dense_rank2),
    Case("dense_rank3", dense_rank3),
    Case("dense_no_bias", dense_no_bias),
    Case("dense_stack", dense_stack),
    Case("dense_conv_map", dense_conv_map),
    Case("sequential_input_shape", sequential_input_shape),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_dense(cli, cache, case, flavour, tmp_path):
    check(cli, cache, case, flavour, tmp_path)
