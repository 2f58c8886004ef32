"""TimeDistributed around Dense, convolutions, pooling, normalization and Flatten; RNN
around built-in cells and StackedRNNCells (with masks, go_backwards, return_state)."""

import json

import pytest

from harness import Case, cases_for, check, expect_error
from sequences import assert_padded, pad_ids


def td_dense(k):
    x = k.Input((5, 6))
    maps = k.Input((5, 4, 6))
    L = k.layers
    return k.Model([x, maps], [
        L.TimeDistributed(L.Dense(4, activation="softmax"))(x),
        L.TimeDistributed(L.Dense(3, use_bias=False))(x),
        L.TimeDistributed(L.Dense(2, activation="relu"))(maps),
    ])


def td_conv(k):
    """A per-frame CNN feeding an LSTM: frames stay channels first throughout."""
    frames = k.Input((4, 10, 10, 3))
    L = k.layers
    x = L.TimeDistributed(L.Conv2D(6, 3, activation="relu"))(frames)
    x = L.TimeDistributed(L.BatchNormalization())(x)
    x = L.TimeDistributed(L.MaxPooling2D())(x)
    x = L.TimeDistributed(L.Conv2D(4, 2, padding="same"))(x)
    feature_maps = x
    x = L.TimeDistributed(L.Flatten())(x)
    pooled = L.TimeDistributed(L.GlobalAveragePooling2D())(feature_maps)
    return k.Model(frames, [feature_maps, L.LSTM(5)(x), L.TimeDistributed(L.Dropout(0.5))(pooled)])


def td_conv1d(k):
    x = k.Input((3, 12, 4))
    L = k.layers
    y = L.TimeDistributed(L.Conv1D(5, 3, strides=2, padding="same"))(x)
    return k.Model(x, [y, L.TimeDistributed(L.GlobalMaxPooling1D())(y)])


def rnn_cells(k):
    x = k.Input((6, 4))
    L = k.layers
    seq = L.RNN(L.LSTMCell(4), return_sequences=True)(x)
    last, h, c = L.RNN(L.LSTMCell(3), return_state=True)(x)
    return k.Model(x, [
        seq, last, h, c,
        L.RNN(L.GRUCell(3, reset_after=False))(x),
        L.RNN(L.GRUCell(3), go_backwards=True, return_sequences=True)(x),
        L.RNN(L.SimpleRNNCell(3, activation="relu"), go_backwards=True, return_sequences=True)(x),
        L.RNN(L.LSTMCell(3, recurrent_activation="hard_sigmoid"))(x, initial_state=[h, c]),
    ])


def stacked_cells(k):
    x = k.Input((7, 4))
    L = k.layers

    def cells():
        return [L.LSTMCell(5), L.GRUCell(4, reset_after=False), L.SimpleRNNCell(3)]

    return k.Model(x, [
        L.RNN(L.StackedRNNCells(cells()), return_sequences=True)(x),
        L.RNN(L.StackedRNNCells(cells()))(x),
        L.RNN(L.StackedRNNCells(cells()), go_backwards=True, return_sequences=True)(x),
    ])


def stacked_states(k):
    x = k.Input((7, 4))
    L = k.layers
    outputs = L.RNN(L.StackedRNNCells([L.LSTMCell(3), L.GRUCell(2)]), return_state=True)(x)
    flat = []
    for item in outputs:
        flat += list(item) if isinstance(item, (list, tuple)) else [item]
    return k.Model(x, flat)


def masked_cells(k):
    ids = k.Input((8,), dtype="int32")
    L = k.layers
    x = L.Embedding(10, 4, mask_zero=True)(ids)
    return k.Model(ids, [
        L.RNN(L.LSTMCell(3), return_sequences=True)(x),
        L.RNN(L.GRUCell(3))(x),
        L.RNN(L.StackedRNNCells([L.LSTMCell(4), L.GRUCell(3)]), return_sequences=True)(x),
        L.RNN(L.StackedRNNCells([L.SimpleRNNCell(4), L.LSTMCell(3)]), go_backwards=True,
              return_sequences=True)(x),
        L.RNN(L.StackedRNNCells([L.GRUCell(4), L.GRUCell(2)]), go_backwards=True)(x),
    ])


CASES = [
    Case("td_dense", td_dense),
    Case("td_conv", td_conv),
    Case("td_conv1d", td_conv1d),
    Case("rnn_cells", rnn_cells),
    Case("stacked_cells", stacked_cells),
    Case("stacked_states", stacked_states),
    Case("masked_cells", masked_cells, int_inputs={0: 10}, prepare=pad_ids(0)),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_wrappers(cli, cache, case, flavour, tmp_path):
    if case.prepare is not None:
        assert_padded(cache.get(case, flavour).inputs, 0)
    check(cli, cache, case, flavour, tmp_path)


def td_conv_permutes(k):
    frames = k.Input((4, 10, 10, 3))
    L = k.layers
    x = L.TimeDistributed(L.Conv2D(6, 3, activation="relu"))(frames)
    x = L.TimeDistributed(L.MaxPooling2D())(x)
    x = L.TimeDistributed(L.Conv2D(4, 3))(x)
    return k.Model(frames, L.TimeDistributed(L.GlobalAveragePooling2D())(x))


@pytest.mark.parametrize("case,flavour", cases_for([Case("td_conv_permutes", td_conv_permutes)]))
def test_time_distributed_convs_need_no_permute(cli, cache, case, flavour, tmp_path):
    """With the PyTorch io-layout the frames arrive (N, T, C, H, W): no permute at all."""
    out = check(cli, cache, case, flavour, tmp_path, io_layouts=("torch",))["torch"]
    report = json.loads((out / "report.json").read_text())
    source = (out / "model.py").read_text()
    assert ".permute(" not in source, source
    assert report["inputs"][0]["layout"] == "permuted [0, 1, 4, 2, 3]", report["inputs"]


def td_model(k):
    x = k.Input((3, 5))
    inner = k.Sequential([k.Input((5,)), k.layers.Dense(4)])
    return k.Model(x, k.layers.TimeDistributed(inner)(x))


@pytest.mark.parametrize("case,flavour", cases_for([Case("td_model", td_model)]))
def test_time_distributed_model_refused(cli, cache, case, flavour, tmp_path):
    saved = cache.get(case, flavour)
    expect_error(
        cli, saved, tmp_path / "out",
        f"keras2torch: error: {saved.model}: layer 'time_distributed' (TimeDistributed): a "
        "Sequential model inside this layer is not supported; apply the layer to the model's "
        "layers one by one",
    )
