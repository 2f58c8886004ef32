"""MultiHeadAttention (self and cross attention, separate key/value sizes, output_shape,
attention_mask, causal masks, attention scores, Keras masks on query and value with
fully masked query rows), Attention, AdditiveAttention, EinsumDense, Dot, and a
transformer encoder block with learned positional embeddings."""

import numpy as np
import pytest

from harness import K3_FLAVOURS, Case, cases_for, check, expect_error
from sequences import assert_padded, pad_ids

SEQ = 6


def mha_self(k):
    x = k.Input((SEQ, 8))
    L = k.layers
    out = L.MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
    out2, scores = L.MultiHeadAttention(num_heads=3, key_dim=2, use_bias=False)(
        x, x, return_attention_scores=True)
    return k.Model(x, [out, out2, scores])


def mha_cross(k):
    """Key and value of other sizes than the query; value_dim; output_shape."""
    q = k.Input((5, 8))
    v = k.Input((7, 4))
    key = k.Input((7, 3))
    L = k.layers
    a = L.MultiHeadAttention(num_heads=3, key_dim=5, value_dim=7, output_shape=6)(q, v, key)
    b = L.MultiHeadAttention(num_heads=2, key_dim=3, output_shape=(2, 3))(q, v)
    c, scores = L.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=2)(
        q, v, return_attention_scores=True)
    return k.Model([q, v, key], [a, b, c, scores])


def mha_attention_mask(k):
    """An attention_mask input of 0/1 (int32); row 0 of sample 0 is all zeros."""
    q = k.Input((4, 6))
    v = k.Input((5, 6))
    mask = k.Input((4, 5), dtype="int32")
    L = k.layers
    a = L.MultiHeadAttention(num_heads=2, key_dim=3)(q, v, attention_mask=mask)
    b, scores = L.MultiHeadAttention(num_heads=2, key_dim=3)(
        q, v, attention_mask=mask, return_attention_scores=True)
    return k.Model([q, v, mask], [a, b, scores])


def empty_row(inputs):
    inputs[2][0, 0, :] = 0


def mha_causal(k):
    x = k.Input((SEQ, 8))
    y = k.Input((SEQ + 2, 8))
    L = k.layers
    a = L.MultiHeadAttention(num_heads=2, key_dim=4)(x, x, use_causal_mask=True)
    b, scores = L.MultiHeadAttention(num_heads=2, key_dim=4)(
        x, x, use_causal_mask=True, return_attention_scores=True)
    # T != S: the causal mask is lower triangular from the top left.
    c = L.MultiHeadAttention(num_heads=2, key_dim=4)(x, y, use_causal_mask=True)
    return k.Model([x, y], [a, b, scores, c])


def mha_masked(k):
    """Keras masks on query and value: padded queries have every key masked, which
    Keras 3 answers with uniform weights on its fast path and zeros on its explicit
    path (attention scores requested, or dropout > 0), tf.keras with uniform weights.

    Each attention layer reads its own call of the embedding: Keras 3's
    MultiHeadAttention removes the mask from the tensors it reads, so a second layer
    reading the same tensor would depend on Keras's execution order."""
    ids = k.Input((SEQ,), dtype="int32")
    L = k.layers
    embed = L.Embedding(12, 8, mask_zero=True)
    x = embed(ids)
    fast = L.MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
    y = embed(ids)
    explicit, scores = L.MultiHeadAttention(num_heads=2, key_dim=4)(
        y, y, return_attention_scores=True)
    y = embed(ids)
    dropout = L.MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.1)(y, y)
    y = embed(ids)
    causal = L.MultiHeadAttention(num_heads=2, key_dim=4)(y, y, use_causal_mask=True)
    # The output keeps the query's mask: the pooling averages unmasked steps only.
    pooled = L.GlobalAveragePooling1D()(L.LayerNormalization()(L.Add()([x, fast])))
    return k.Model(ids, [fast, explicit, scores, dropout, causal, pooled])


def mha_cross_masked(k):
    """Query and value with masks of their own (different padding)."""
    q_ids = k.Input((5,), dtype="int32")
    v_ids = k.Input((SEQ,), dtype="int32")
    L = k.layers
    q_embed = L.Embedding(12, 8, mask_zero=True)
    v_embed = L.Embedding(12, 8, mask_zero=True)
    a = L.MultiHeadAttention(num_heads=2, key_dim=4)(q_embed(q_ids), v_embed(v_ids))
    b, scores = L.MultiHeadAttention(num_heads=2, key_dim=4)(
        q_embed(q_ids), v_embed(v_ids), return_attention_scores=True)
    return k.Model([q_ids, v_ids], [a, b, scores])


def luong(k):
    q = k.Input((5, 4))
    v = k.Input((7, 4))
    key = k.Input((7, 4))
    L = k.layers
    a = L.Attention()([q, v])
    b, scores = L.Attention(use_scale=True)([q, v, key], return_attention_scores=True)
    c = L.Attention(score_mode="concat")([q, v])
    d = L.Attention(use_scale=True, score_mode="concat")([q, v, key], use_causal_mask=True)
    return k.Model([q, v, key], [a, b, scores, c, d])


def additive(k):
    q = k.Input((5, 4))
    v = k.Input((7, 4))
    L = k.layers
    a = L.AdditiveAttention()([q, v])
    b, scores = L.AdditiveAttention(use_scale=False)([q, v], return_attention_scores=True)
    c = L.AdditiveAttention()([q, v], use_causal_mask=True)
    return k.Model([q, v], [a, b, scores, c])


def attention_masked(k):
    q_ids = k.Input((5,), dtype="int32")
    v_ids = k.Input((SEQ,), dtype="int32")
    L = k.layers
    q = L.Embedding(12, 4, mask_zero=True)(q_ids)
    v = L.Embedding(12, 4, mask_zero=True)(v_ids)
    a, scores = L.Attention(use_scale=True)([q, v], return_attention_scores=True)
    b = L.AdditiveAttention()([q, v])
    pooled = L.GlobalAveragePooling1D()(L.Attention()([q, v]))
    return k.Model([q_ids, v_ids], [a, scores, b, pooled])


def einsum_dense(k):
    x = k.Input((5, 6))
    L = k.layers
    return k.Model(x, [
        L.EinsumDense("abc,cd->abd", output_shape=(None, 4), bias_axes="d")(x),
        L.EinsumDense("abc,cde->abde", output_shape=(5, 2, 3), bias_axes="de",
                      activation="relu")(x),
        L.EinsumDense("...b,bc->...c", output_shape=3, bias_axes="c", activation="tanh")(x),
        L.EinsumDense("abc,bd->adc", output_shape=(4, 6))(x),
        # A bias over the time axis needs its size: Keras cannot build one over None.
        L.EinsumDense("abc,cd->abd", output_shape=(5, 3), bias_axes="b")(x),
    ])


def dot(k):
    a = k.Input((6,))
    b = k.Input((6,))
    s = k.Input((4, 5))
    t = k.Input((3, 5))
    u = k.Input((5, 3))
    L = k.layers
    return k.Model([a, b, s, t, u], [
        L.Dot(axes=1)([a, b]),
        L.Dot(axes=1, normalize=True)([a, b]),
        L.Dot(axes=(2, 2))([s, t]),
        L.Dot(axes=(2, 1), normalize=True)([s, u]),
        L.Dot(axes=-1)([s, t]),
    ])


def transformer_block(k):
    """Token and position embeddings (positions from a second input), one encoder
    block: self attention, residual, LayerNorm, feed-forward, residual, LayerNorm."""
    ids = k.Input((SEQ,), dtype="int32")
    positions = k.Input((SEQ,), dtype="int32")
    L = k.layers
    x = L.Add()([L.Embedding(20, 16, mask_zero=True)(ids), L.Embedding(SEQ, 16)(positions)])
    attention = L.MultiHeadAttention(num_heads=4, key_dim=4, dropout=0.1)(x, x)
    x = L.LayerNormalization(epsilon=1e-6)(L.Add()([x, L.Dropout(0.1)(attention)]))
    ff = L.Dense(16)(L.Dense(32, activation="relu")(x))
    x = L.LayerNormalization(epsilon=1e-6)(L.Add()([x, L.Dropout(0.1)(ff)]))
    pooled = L.GlobalAveragePooling1D()(x)
    return k.Model([ids, positions], [x, L.Dense(3, activation="softmax")(pooled)])


def arange_positions(inputs):
    inputs[1][:] = np.arange(SEQ)


def with_padding(*steps):
    pad = pad_ids(*steps)

    def prepare(inputs):
        pad(inputs)
        arange_positions(inputs)

    return prepare


def transformer_arange(k):
    """Keras 3: positions from keras.ops.arange, whose embedding Keras records as a
    constant of the graph."""
    ids = k.Input((SEQ,), dtype="int32")
    L = k.layers
    tokens = L.Embedding(20, 16)(ids)
    x = tokens + L.Embedding(SEQ, 16)(k.keras.ops.arange(SEQ))
    attention = L.MultiHeadAttention(num_heads=2, key_dim=8)(x, x, use_causal_mask=True)
    x = L.LayerNormalization()(x + attention)
    return k.Model(ids, L.Dense(4)(x))


CASES = [
    Case("mha_self", mha_self),
    Case("mha_cross", mha_cross),
    Case("mha_attention_mask", mha_attention_mask, int_inputs={2: 2}, prepare=empty_row),
    Case("mha_causal", mha_causal),
    Case("mha_masked", mha_masked, int_inputs={0: 12}, prepare=pad_ids(0)),
    Case("mha_cross_masked", mha_cross_masked, int_inputs={0: 12, 1: 12},
         prepare=pad_ids(0, 1)),
    Case("luong", luong),
    Case("additive", additive),
    Case("attention_masked", attention_masked, int_inputs={0: 12, 1: 12}, prepare=pad_ids(0, 1)),
    Case("einsum_dense", einsum_dense),
    Case("dot", dot),
    Case("transformer_block", transformer_block, int_inputs={0: 20, 1: SEQ},
         prepare=with_padding(0)),
    Case("transformer_arange", transformer_arange, flavours=K3_FLAVOURS, int_inputs={0: 20}),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_attention(cli, cache, case, flavour, tmp_path):
    saved = cache.get(case, flavour)
    if case.name.endswith("masked") or case.name == "transformer_block":
        assert_padded(saved.inputs, 0)
    check(cli, cache, case, flavour, tmp_path)


def mha_axes(k):
    x = k.Input((4, 5, 6))
    return k.Model(x, k.layers.MultiHeadAttention(2, 3, attention_axes=(2,))(x, x))


@pytest.mark.parametrize("case,flavour", cases_for([Case("mha_axes", mha_axes)]))
def test_attention_axes_refused(cli, cache, case, flavour, tmp_path):
    saved = cache.get(case, flavour)
    expect_error(
        cli, saved, tmp_path / "out",
        f"keras2torch: error: {saved.model}: layer 'multi_head_attention' (MultiHeadAttention): "
        "attention_axes [2] is not supported; only attention over every axis between batch and "
        "features [1, 2] is",
    )
