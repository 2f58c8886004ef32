"""MaxPooling1D/2D, AveragePooling1D/2D (valid and same, strides unlike the pool
size, odd sizes so TF's asymmetric padding and its average divisor matter) and
GlobalMax/AveragePooling1D/2D with and without keepdims."""

import pytest
from harness import Case, cases_for, check


def pool(layer, input_shape, **kwargs):
    def build(k):
        inputs = k.Input(input_shape)
        return k.Model(inputs, getattr(k.layers, layer)(**kwargs)(inputs))

    return build


def pool_after_conv(layer, **kwargs):
    """Pooling of a conv map, then Flatten + Dense, as in a CNN."""

    def build(k):
        inputs = k.Input((11, 9, 2))
        x = k.layers.Conv2D(4, 3, padding="same")(inputs)
        x = getattr(k.layers, layer)(**kwargs)(x)
        return k.Model(inputs, k.layers.Dense(3)(k.layers.Flatten()(x)))

    return build


def global_pools(rank):
    def build(k):
        shape = (9, 5) if rank == 1 else (7, 9, 5)
        inputs = k.Input(shape)
        conv = k.layers.Conv1D if rank == 1 else k.layers.Conv2D
        x = conv(6, 3)(inputs)
        outputs = []
        for kind in ("Max", "Average"):
            cls = getattr(k.layers, f"Global{kind}Pooling{rank}D")
            outputs.append(cls(name=f"global_{kind.lower()}")(x))
            outputs.append(cls(keepdims=True, name=f"global_{kind.lower()}_keepdims")(x))
        # keepdims output feeding a layer that cares about the axis order.
        kept = getattr(k.layers, f"GlobalAveragePooling{rank}D")(keepdims=True)(x)
        outputs.append(k.layers.Dense(4, name="dense_on_kept")(kept))
        return k.Model(inputs, outputs)

    return build


def global_pool_channels_first(k):
    inputs = k.Input((5, 7, 9))
    x = k.layers.Conv2D(6, 3, data_format="channels_first")(inputs)
    return k.Model(
        inputs,
        [
            k.layers.GlobalMaxPooling2D(data_format="channels_first")(x),
            k.layers.GlobalAveragePooling2D(data_format="channels_first", keepdims=True)(x),
        ],
    )


def pool_channels_first(k):
    inputs = k.Input((3, 9, 11))
    x = k.layers.MaxPooling2D(3, strides=2, padding="same", data_format="channels_first")(inputs)
    y = k.layers.AveragePooling2D(2, padding="same", data_format="channels_first")(inputs)
    return k.Model(inputs, [x, y])


CASES = []
for kind in ("Max", "Average"):
    name = kind.lower()
    layer2, layer1 = f"{kind}Pooling2D", f"{kind}Pooling1D"
    CASES += [
        Case(f"{name}2d_valid", pool(layer2, (10, 11, 3), pool_size=2)),
        Case(f"{name}2d_valid_odd", pool(layer2, (9, 11, 3), pool_size=(3, 2), strides=(2, 3))),
        Case(f"{name}2d_same_even", pool(layer2, (10, 12, 3), pool_size=2, padding="same")),
        Case(f"{name}2d_same_odd", pool(layer2, (9, 11, 3), pool_size=2, padding="same")),
        Case(
            f"{name}2d_same_k3_s2_even",
            pool(layer2, (10, 12, 3), pool_size=3, strides=2, padding="same"),
        ),
        Case(
            f"{name}2d_same_k3_s2_odd",
            pool(layer2, (9, 11, 3), pool_size=3, strides=2, padding="same"),
        ),
        Case(
            f"{name}2d_same_k3_s1", pool(layer2, (9, 10, 3), pool_size=3, strides=1, padding="same")
        ),
        Case(
            f"{name}2d_same_k4_s3",
            pool(layer2, (9, 10, 3), pool_size=(4, 3), strides=(3, 2), padding="same"),
        ),
        Case(f"{name}1d_valid", pool(layer1, (11, 3), pool_size=2)),
        Case(f"{name}1d_valid_s1", pool(layer1, (11, 3), pool_size=3, strides=1)),
        Case(f"{name}1d_same_odd", pool(layer1, (11, 3), pool_size=2, padding="same")),
        Case(f"{name}1d_same_k3_s2", pool(layer1, (12, 3), pool_size=3, strides=2, padding="same")),
        Case(f"{name}1d_same_k4_s3", pool(layer1, (13, 3), pool_size=4, strides=3, padding="same")),
        Case(
            f"{name}2d_after_conv", pool_after_conv(layer2, pool_size=3, strides=2, padding="same")
        ),
    ]
CASES += [
    Case("global_pooling1d", global_pools(1)),
    Case("global_pooling2d", global_pools(2)),
    Case("global_pooling2d_channels_first", global_pool_channels_first),
    Case("pooling2d_channels_first", pool_channels_first),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_pooling(cli, cache, case, flavour, tmp_path):
    check(cli, cache, case, flavour, tmp_path)
