"""Encoder-decoder models: an LSTM encoder's final states become the decoder's initial
states (Keras 3 records them as the `initial_state` keyword, tf.keras as extra inputs
of the call), the separate inference encoder and decoder with states as inputs and
outputs, a masked GRU pair, a bidirectional encoder, and Luong attention over the
encoder's outputs. Every output, states included, is compared."""

import pytest

from harness import Case, cases_for, check
from sequences import assert_padded, pad_ids

UNITS = 8


def layers(k):
    """The shared layers of the LSTM encoder-decoder."""
    L = k.layers
    return (L.LSTM(UNITS, return_state=True, name="encoder"),
            L.LSTM(UNITS, return_sequences=True, return_state=True, name="decoder"),
            L.Dense(5, activation="softmax", name="project"))


def seq2seq_training(k):
    encoder, decoder, project = layers(k)
    enc_in = k.Input((6, 5), name="encoder_inputs")
    dec_in = k.Input((4, 3), name="decoder_inputs")
    _, h, c = encoder(enc_in)
    seq, dec_h, dec_c = decoder(dec_in, initial_state=[h, c])
    return k.Model([enc_in, dec_in], [project(seq), dec_h, dec_c])


def seq2seq_inference(k, part):
    """The training model's layers, rewired as Keras's seq2seq example does."""
    encoder, decoder, project = layers(k)
    enc_in = k.Input((6, 5), name="encoder_inputs")
    dec_in = k.Input((4, 3), name="decoder_inputs")
    _, h, c = encoder(enc_in)
    seq, _, _ = decoder(dec_in, initial_state=[h, c])
    k.Model([enc_in, dec_in], project(seq))  # the training model, for its weights
    if part == "encoder":
        return k.Model(enc_in, [h, c])
    h_in = k.Input((UNITS,), name="state_h")
    c_in = k.Input((UNITS,), name="state_c")
    seq, h_out, c_out = decoder(dec_in, initial_state=[h_in, c_in])
    return k.Model([dec_in, h_in, c_in], [project(seq), h_out, c_out])


def inference_encoder(k):
    return seq2seq_inference(k, "encoder")


def inference_decoder(k):
    return seq2seq_inference(k, "decoder")


def gru_masked(k):
    """Padded source and target ids; the encoder's state seeds the decoder. The state
    carries no mask. tf.keras masks the decoder with the target's mask; Keras 3 hands a
    layer its input's mask only when the call has one tensor argument, so there the
    decoder, also given initial_state, runs unmasked."""
    src = k.Input((7,), dtype="int32")
    tgt = k.Input((5,), dtype="int32")
    L = k.layers
    enc_seq, state = L.GRU(6, return_sequences=True, return_state=True)(
        L.Embedding(11, 4, mask_zero=True)(src))
    dec = L.GRU(6, return_sequences=True)(L.Embedding(11, 4, mask_zero=True)(tgt),
                                           initial_state=state)
    return k.Model([src, tgt], [enc_seq, state, L.Dense(3)(dec)])


def bidirectional_encoder(k):
    enc_in = k.Input((6, 5))
    dec_in = k.Input((4, 3))
    L = k.layers
    _, fh, fc, bh, bc = L.Bidirectional(L.LSTM(4, return_state=True))(enc_in)
    h = L.Concatenate()([fh, bh])
    c = L.Concatenate()([fc, bc])
    dec = L.LSTM(8, return_sequences=True)(dec_in, initial_state=[h, c])
    return k.Model([enc_in, dec_in], [dec, h, c])


def luong_attention(k):
    enc_in = k.Input((6, 5))
    dec_in = k.Input((4, 3))
    L = k.layers
    enc_seq, h, c = L.LSTM(UNITS, return_sequences=True, return_state=True)(enc_in)
    dec_seq = L.LSTM(UNITS, return_sequences=True)(dec_in, initial_state=[h, c])
    context = L.Attention()([dec_seq, enc_seq])
    merged = L.Concatenate()([dec_seq, context])
    return k.Model([enc_in, dec_in], L.TimeDistributed(L.Dense(5, activation="softmax"))(merged))


CASES = [
    Case("seq2seq_training", seq2seq_training),
    Case("inference_encoder", inference_encoder),
    Case("inference_decoder", inference_decoder),
    Case("gru_masked", gru_masked, int_inputs={0: 11, 1: 11}, prepare=pad_ids(0, 1)),
    Case("bidirectional_encoder", bidirectional_encoder),
    Case("luong_attention", luong_attention),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_seq2seq(cli, cache, case, flavour, tmp_path):
    if case.prepare is not None:
        assert_padded(cache.get(case, flavour).inputs, 0)
        assert_padded(cache.get(case, flavour).inputs, 1)
    check(cli, cache, case, flavour, tmp_path)
