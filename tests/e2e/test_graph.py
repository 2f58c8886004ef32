"""Whole models: Sequential, Functional, nested models, shared layers, several
inputs and outputs; the headline MLP and CNN (whose forward needs no permute);
and determinism (converting twice gives byte-identical files)."""

import pytest
from harness import ALL_FLAVOURS, Case, cases_for, check, convert, forward_source


def mlp(k):
    return k.Sequential(
        [
            k.Input((784,)),
            k.layers.Dense(64, activation="relu"),
            k.layers.Dense(10, activation="softmax"),
        ]
    )


def cnn(k):
    return k.Sequential(
        [
            k.Input((28, 28, 1)),
            k.layers.Conv2D(32, 3, activation="relu"),
            k.layers.MaxPooling2D(2),
            k.layers.Flatten(),
            k.layers.Dense(10, activation="softmax"),
        ]
    )


def functional_branches(k):
    inputs = k.Input((9, 10, 3), name="image")
    a = k.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    b = k.layers.Conv2D(4, 1)(inputs)
    x = k.layers.Add()([a, b])
    x = k.layers.BatchNormalization()(x)
    x = k.layers.MaxPooling2D(2)(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    return k.Model(inputs, k.layers.Dense(3, activation="softmax")(x))


def nested_sequential(k):
    """A Sequential block used inside a Functional model."""
    block = k.Sequential(
        [
            k.Input((6, 7, 3)),
            k.layers.Conv2D(5, 3, padding="same", activation="relu"),
            k.layers.BatchNormalization(),
        ],
        name="block",
    )
    inputs = k.Input((6, 7, 3))
    x = block(inputs)
    x = k.layers.Flatten()(x)
    return k.Model(inputs, k.layers.Dense(4)(x))


def nested_functional_shared(k):
    """A Functional encoder called on two inputs (shared weights), inside a model."""
    enc_in = k.Input((8,))
    enc = k.Model(
        enc_in, k.layers.Dense(5, activation="tanh")(k.layers.Dense(6)(enc_in)), name="encoder"
    )
    a, b = k.Input((8,), name="left"), k.Input((8,), name="right")
    ea, eb = enc(a), enc(b)
    merged = k.layers.Concatenate()([ea, eb])
    return k.Model([a, b], [k.layers.Dense(2)(merged), k.layers.Subtract()([ea, eb])])


def nested_in_sequential(k):
    inner = k.Sequential([k.Input((5,)), k.layers.Dense(4, activation="relu")], name="inner")
    return k.Sequential([k.Input((5,)), inner, k.layers.Dense(3)])


def shared_layers(k):
    """One Dense and one Conv2D each called twice."""
    dense = k.layers.Dense(4, name="shared_dense")
    conv = k.layers.Conv2D(3, 3, padding="same", name="shared_conv")
    v1, v2 = k.Input((6,), name="v1"), k.Input((6,), name="v2")
    img = k.Input((5, 6, 3), name="img")
    c1 = conv(img)
    c2 = conv(c1)
    return k.Model([v1, v2, img], [k.layers.Add()([dense(v1), dense(v2)]), c2])


def multi_io(k):
    """Two inputs of different kinds, three outputs, one of them also used inside."""
    image = k.Input((8, 8, 2), name="image")
    meta = k.Input((3,), name="meta")
    x = k.layers.Conv2D(4, 3, activation="relu", name="features")(image)
    pooled = k.layers.GlobalMaxPooling2D()(x)
    m = k.layers.Dense(4, activation="relu")(meta)
    joined = k.layers.Concatenate()([pooled, m])
    score = k.layers.Dense(1, activation="sigmoid", name="score")(joined)
    classes = k.layers.Dense(5, activation="softmax", name="classes")(joined)
    return k.Model([image, meta], [score, classes, x])


def input_straight_to_output(k):
    """An output that is a model input, and a layer reading an input twice."""
    inputs = k.Input((4,))
    return k.Model(inputs, [inputs, k.layers.Multiply()([inputs, inputs])])


HEADLINE = [Case("mlp", mlp), Case("cnn", cnn)]
CASES = HEADLINE + [
    Case("functional_branches", functional_branches),
    Case("nested_sequential", nested_sequential),
    Case("nested_functional_shared", nested_functional_shared),
    Case("nested_in_sequential", nested_in_sequential),
    Case("shared_layers", shared_layers),
    Case("multi_io", multi_io),
    Case("input_straight_to_output", input_straight_to_output),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_graph(cli, cache, case, flavour, tmp_path):
    check(cli, cache, case, flavour, tmp_path)


@pytest.mark.parametrize("flavour", ALL_FLAVOURS)
def test_cnn_forward_has_no_permute(cli, cache, flavour, tmp_path):
    """With PyTorch io-layout the CNN runs channels first throughout; the Dense
    after Flatten absorbs Keras's (h, w, c) order in its weight rows."""
    out = check(cli, cache, HEADLINE[1], flavour, tmp_path, io_layouts=("torch",))["torch"]
    forward = forward_source(out)
    for word in ("permute", "transpose", "movedim"):
        assert word not in forward, f"'{word}' in the CNN's forward ({flavour}):\n{forward}"


@pytest.mark.parametrize("flavour", ALL_FLAVOURS)
@pytest.mark.parametrize("case", [HEADLINE[1], CASES[4]], ids=lambda c: c.name)
def test_conversion_is_deterministic(cli, cache, case, flavour, tmp_path):
    saved = cache.get(case, flavour)
    first, second = tmp_path / "first", tmp_path / "second"
    convert(cli, saved, first)
    convert(cli, saved, second)
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    assert {"model.py", "model.safetensors", "report.json", "report.md"} <= set(names)
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), (
            f"{name} differs between two conversions of {saved.describe()}"
        )
