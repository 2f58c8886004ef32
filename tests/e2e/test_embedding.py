"""Embedding on integer ids (int32 input), on float ids (Keras casts them), with
mask_zero, and feeding Flatten + Dense, pooling and a Conv1D."""

import pytest
from harness import Case, cases_for, check


def embedding_int(k):
    ids = k.Input((6,), dtype="int32")
    x = k.layers.Embedding(20, 8)(ids)
    return k.Model(ids, [x, k.layers.Dense(3)(k.layers.Flatten()(x))])


def embedding_float_ids(k):
    """A float input (Keras's default dtype) holding integral ids."""
    ids = k.Input((5,))
    x = k.layers.Embedding(15, 4)(ids)
    return k.Model(ids, k.layers.GlobalMaxPooling1D()(x))


def embedding_mask_zero(k):
    ids = k.Input((7,), dtype="int32")
    x = k.layers.Embedding(12, 6, mask_zero=True)(ids)
    return k.Model(ids, k.layers.Dense(4)(x))


def embedding_conv(k):
    ids = k.Input((9,), dtype="int32")
    x = k.layers.Embedding(30, 5)(ids)
    x = k.layers.Conv1D(4, 3, padding="same", activation="relu")(x)
    x = k.layers.MaxPooling1D(2)(x)
    return k.Model(ids, k.layers.Dense(2)(k.layers.Flatten()(x)))


CASES = [
    Case("embedding_int", embedding_int, int_inputs={0: 20}),
    Case("embedding_float_ids", embedding_float_ids, int_inputs={0: 15}),
    # Ids include 0, the masked id.
    Case("embedding_mask_zero", embedding_mask_zero, int_inputs={0: 12}),
    Case("embedding_conv", embedding_conv, int_inputs={0: 30}),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_embedding(cli, cache, case, flavour, tmp_path):
    check(cli, cache, case, flavour, tmp_path)
