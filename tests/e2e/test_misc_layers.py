"""RepeatVector (after Dense and after Flatten of a conv map, feeding Dense,
Conv1D and LSTM) and Identity (on the input, inside a conv stack, as an
output and between merges)."""

import pytest
from harness import Case, cases_for, check, forward_source


def repeat_dense(k):
    inputs = k.Input((5,))
    x = k.layers.RepeatVector(4)(k.layers.Dense(6)(inputs))
    return k.Model(inputs, k.layers.Dense(3)(x))


def repeat_after_flatten(k):
    """The flattened conv map's feature order must be Keras's when it is repeated."""
    inputs = k.Input((4, 5, 2))
    x = k.layers.Flatten()(k.layers.Conv2D(3, 2)(inputs))
    x = k.layers.RepeatVector(3)(x)
    return k.Model(inputs, k.layers.Conv1D(4, 2)(x))


def repeat_seq2seq(k):
    """The encoder-decoder pattern RepeatVector exists for."""
    inputs = k.Input((6, 3))
    x = k.layers.LSTM(5)(inputs)
    x = k.layers.RepeatVector(4)(x)
    x = k.layers.LSTM(4, return_sequences=True)(x)
    return k.Model(inputs, k.layers.Dense(2)(x))


def repeat_on_input(k):
    inputs = k.Input((7,))
    return k.Model(inputs, k.layers.RepeatVector(2)(inputs))


def identity_stack(k):
    inputs = k.Input((6, 7, 3))
    x = k.layers.Identity(name="id_input")(inputs)
    x = k.layers.Conv2D(4, 3, padding="same")(x)
    y = k.layers.Identity(name="id_map")(x)
    added = k.layers.Add()([x, y])
    flat = k.layers.Flatten()(k.layers.Identity(name="id_before_flatten")(added))
    return k.Model(inputs, [k.layers.Identity(name="id_output")(added), k.layers.Dense(2)(flat)])


def identity_vector(k):
    inputs = k.Input((5,))
    return k.Model(inputs, k.layers.Identity()(k.layers.Dense(3)(inputs)))


CASES = [
    Case("repeat_dense", repeat_dense),
    Case("repeat_after_flatten", repeat_after_flatten),
    Case("repeat_seq2seq", repeat_seq2seq),
    Case("repeat_on_input", repeat_on_input),
    Case("identity_stack", identity_stack),
    Case("identity_vector", identity_vector),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_misc_layers(cli, cache, case, flavour, tmp_path):
    check(cli, cache, case, flavour, tmp_path)


@pytest.mark.parametrize("flavour", ["k3.keras", "tfk.h5"])
def test_identity_leaves_no_code(cli, cache, flavour, tmp_path):
    """An Identity layer is a name, not a module: forward mentions none of them."""
    case = next(c for c in CASES if c.name == "identity_stack")
    outs = check(cli, cache, case, flavour, tmp_path, io_layouts=("torch",))
    forward = forward_source(outs["torch"])
    assert "self.id_" not in forward, forward
