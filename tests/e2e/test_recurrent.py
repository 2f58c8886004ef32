"""LSTM, GRU and SimpleRNN (fused nn modules where exact, step by step otherwise),
Bidirectional in every merge mode, return_state and initial states, stacks, masks
with front padding, back padding and holes (Embedding(mask_zero) and Masking), and
ConvLSTM1D/2D. Every output, sequences and states, is compared."""

import pytest

from harness import Case, cases_for, check, forward_source
from sequences import assert_padded, pad_ids, pad_values


def lstm_variants(k):
    x = k.Input((7, 5))
    L = k.layers
    return k.Model(x, [
        L.LSTM(4, return_sequences=True)(x),
        L.LSTM(3, go_backwards=True, return_sequences=True)(x),
        L.LSTM(3, use_bias=False)(x),
        # hard_sigmoid gates (Keras 3: relu6(x + 3) / 6, tf.keras: clip(0.2 x + 0.5)).
        L.LSTM(4, activation="relu", recurrent_activation="hard_sigmoid")(x),
        L.LSTM(2, go_backwards=True)(x),
    ])


def gru_variants(k):
    x = k.Input((6, 4))
    L = k.layers
    return k.Model(x, [
        L.GRU(4, reset_after=True, return_sequences=True)(x),
        L.GRU(4, reset_after=False, return_sequences=True)(x),
        L.GRU(3, go_backwards=True, return_sequences=True)(x),
        L.GRU(3, use_bias=False, reset_after=False)(x),
        L.GRU(3, use_bias=False)(x),
        L.GRU(2, recurrent_activation="hard_sigmoid")(x),
    ])


def simple_rnn_variants(k):
    x = k.Input((6, 4))
    L = k.layers
    return k.Model(x, [
        L.SimpleRNN(4, return_sequences=True)(x),
        L.SimpleRNN(3, activation="relu")(x),
        L.SimpleRNN(3, go_backwards=True, return_sequences=True)(x),
        L.SimpleRNN(2, use_bias=False)(x),
        L.SimpleRNN(2, activation="sigmoid", return_sequences=True)(x),
    ])


def states(k):
    """return_state outputs, and states fed to other layers as initial states."""
    x = k.Input((5, 4))
    y = k.Input((6, 3))
    L = k.layers
    seq, h, c = L.LSTM(4, return_sequences=True, return_state=True)(x)
    last, h2, c2 = L.LSTM(4, return_state=True, recurrent_activation="hard_sigmoid")(x)
    from_lstm = L.LSTM(4, return_sequences=True)(y, initial_state=[h, c])
    from_loop = L.LSTM(4, activation="relu")(y, initial_state=[h2, c2])
    g_out, g_h = L.GRU(4, return_state=True)(x)
    g_next = L.GRU(4, return_sequences=True)(y, initial_state=g_h)
    g_loop = L.GRU(4, reset_after=False)(y, initial_state=[g_h])
    s_out, s_h = L.SimpleRNN(4, return_state=True, go_backwards=True)(x)
    s_next = L.SimpleRNN(4)(y, initial_state=s_h)
    return k.Model([x, y], [seq, h, c, last, h2, c2, from_lstm, from_loop, g_out, g_h, g_next,
                            g_loop, s_out, s_h, s_next])


def stacked(k):
    x = k.Input((8, 5))
    L = k.layers
    y = L.LSTM(6, return_sequences=True)(x)
    y = L.GRU(5, return_sequences=True, reset_after=False)(y)
    y = L.SimpleRNN(4, return_sequences=True)(y)
    y = L.LSTM(3)(y)
    return k.Model(x, k.layers.Dense(2)(y))


def bidirectional_merges(k):
    x = k.Input((6, 4))
    L = k.layers
    outputs = [
        L.Bidirectional(L.LSTM(3, return_sequences=True))(x),
        L.Bidirectional(L.GRU(3), merge_mode="sum")(x),
        L.Bidirectional(L.SimpleRNN(3, return_sequences=True), merge_mode="mul")(x),
        L.Bidirectional(L.LSTM(2), merge_mode="ave")(x),
        L.Bidirectional(L.GRU(2, reset_after=False, return_sequences=True), merge_mode="concat")(x),
    ]
    outputs += list(L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode=None)(x))
    outputs += list(L.Bidirectional(L.GRU(2), merge_mode=None)(x))
    return k.Model(x, outputs)


def bidirectional_states(k):
    x = k.Input((6, 4))
    L = k.layers
    lstm = L.Bidirectional(L.LSTM(3, return_sequences=True, return_state=True))(x)
    gru = L.Bidirectional(L.GRU(2, return_state=True), merge_mode="sum")(x)
    loop = L.Bidirectional(L.LSTM(2, return_state=True, recurrent_activation="hard_sigmoid"),
                           merge_mode=None)(x)
    backward = L.Bidirectional(
        L.GRU(3, return_sequences=True),
        backward_layer=L.GRU(3, return_sequences=True, go_backwards=True, reset_after=False),
    )(x)
    return k.Model(x, list(lstm) + list(gru) + list(loop) + [backward])


def masked_embedding(k):
    """Ids padded at the front, at the back and with holes (sequences.padded_steps)."""
    ids = k.Input((8,), dtype="int32")
    L = k.layers
    x = L.Embedding(10, 5, mask_zero=True)(ids)
    return k.Model(ids, [
        L.LSTM(4, return_sequences=True)(x),
        L.LSTM(3)(x),
        L.GRU(3, return_sequences=True, go_backwards=True)(x),
        L.GRU(3, reset_after=False)(x),
        L.SimpleRNN(3, return_sequences=True)(x),
        L.Bidirectional(L.LSTM(3, return_sequences=True))(x),
        L.Bidirectional(L.GRU(2), merge_mode="ave")(x),
        L.LSTM(2, return_sequences=True, zero_output_for_mask=True)(x),
        L.GlobalAveragePooling1D()(L.GRU(3, return_sequences=True)(x)),
    ] + list(L.LSTM(3, return_state=True)(x)))


def masked_values(k):
    """Float steps of zeros masked by Masking, then a stack that keeps the mask."""
    x = k.Input((7, 3))
    L = k.layers
    m = L.Masking(0.0)(x)
    seq = L.LSTM(4, return_sequences=True)(m)
    return k.Model(x, [
        seq,
        L.GRU(3)(seq),
        L.Bidirectional(L.SimpleRNN(2, return_sequences=True), merge_mode="concat")(m),
        L.Bidirectional(L.LSTM(2, return_state=True))(m)[0],
        L.SimpleRNN(2, go_backwards=True, return_sequences=True)(m),
    ])


def conv_lstm2d(k):
    """tf.keras's ConvLSTM2D gates default to hard_sigmoid, Keras 3's to sigmoid."""
    frames = k.Input((4, 9, 9, 3))
    L = k.layers
    seq = L.ConvLSTM2D(4, 3, padding="same", return_sequences=True)(frames)
    # An even kernel: TF's 'same' pads the extra pixel after, also in the recurrent conv.
    strided = L.ConvLSTM2D(3, 2, strides=2, padding="same", recurrent_activation="sigmoid",
                           return_sequences=True)(seq)
    last, h, c = L.ConvLSTM2D(2, 3, dilation_rate=2, go_backwards=True, return_state=True)(seq)
    return k.Model(frames, [seq, strided, last, h, c])


def conv_lstm1d(k):
    x = k.Input((5, 12, 3))
    L = k.layers
    return k.Model(x, [
        L.ConvLSTM1D(4, 3, return_sequences=True, activation="relu")(x),
        L.ConvLSTM1D(2, 2, strides=2, padding="same", use_bias=False, go_backwards=True)(x),
    ])


def fused_gru(k):
    x = k.Input((9, 6))
    return k.Model(x, k.layers.GRU(8, return_sequences=True, name="gru")(x))


CASES = [
    Case("lstm_variants", lstm_variants, input_scale=2.0),
    Case("gru_variants", gru_variants, input_scale=2.0),
    Case("simple_rnn_variants", simple_rnn_variants),
    Case("states", states),
    Case("stacked", stacked),
    Case("bidirectional_merges", bidirectional_merges),
    Case("bidirectional_states", bidirectional_states),
    Case("masked_embedding", masked_embedding, int_inputs={0: 10}, prepare=pad_ids(0)),
    Case("masked_values", masked_values, prepare=pad_values(0)),
    Case("conv_lstm2d", conv_lstm2d),
    Case("conv_lstm1d", conv_lstm1d),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_recurrent(cli, cache, case, flavour, tmp_path):
    if case.prepare is not None:
        assert_padded(cache.get(case, flavour).inputs, 0)
    check(cli, cache, case, flavour, tmp_path)


FUSED = Case("fused_gru", fused_gru)


@pytest.mark.parametrize("case,flavour", cases_for([FUSED]))
def test_gru_is_one_nn_gru(cli, cache, case, flavour, tmp_path):
    """A GRU that nn.GRU computes exactly is one nn.GRU module and one call."""
    outs = check(cli, cache, case, flavour, tmp_path)
    for out in outs.values():
        source = (out / "model.py").read_text()
        modules = [line.strip() for line in source.splitlines() if "nn.GRU(" in line]
        assert modules == ["self.gru = nn.GRU(6, 8, batch_first=True)"], modules
        calls = [line.strip() for line in forward_source(out).splitlines() if "self.gru" in line]
        assert len(calls) == 1 and "_KerasRNN" not in source, calls
