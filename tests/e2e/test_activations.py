"""Activation (every built-in name), ReLU, LeakyReLU, ELU, PReLU and Softmax layers.

Activation names are grouped into multi-output models, one output per name, so
a failure names the activation through the output's layer name.
"""

import pytest
from harness import K3_FLAVOURS, Case, cases_for, check

# Names both Keras 3 and tf_keras accept. hard_sigmoid differs: Keras 3 is
# relu6(x + 3) / 6, tf_keras clip(0.2 x + 0.5, 0, 1); each flavour's reference is
# computed by its own Keras, so both meanings are checked.
COMMON = [
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "softplus",
    "softsign",
    "selu",
    "elu",
    "exponential",
    "linear",
    "hard_sigmoid",
    "swish",
    "silu",
    "gelu",
    "relu6",
    "leaky_relu",
    "mish",
    "log_softmax",
]
KERAS3_ONLY = [
    "celu",
    "glu",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "hard_shrink",
    "soft_shrink",
    "tanh_shrink",
    "log_sigmoid",
    "sparse_plus",
    "sparse_sigmoid",
    "squareplus",
    "sparsemax",
]


def activation_bank(names):
    def build(k):
        inputs = k.Input((4, 6))
        return k.Model(inputs, [k.layers.Activation(n, name=f"act_{n}")(inputs) for n in names])

    return build


def conv_map_activations(names):
    """Axis-dependent activations on a channels-last conv map: Keras's axis -1
    is PyTorch's channel dim 1."""

    def build(k):
        inputs = k.Input((5, 7, 3))
        x = k.layers.Conv2D(6, 3, padding="same")(inputs)
        outputs = [k.layers.Activation(n, name=f"map_{n}")(x) for n in names]
        outputs.append(k.layers.Conv2D(4, 1, activation="softmax", name="conv_softmax")(x))
        return k.Model(inputs, outputs)

    return build


def dense_activations(k):
    inputs = k.Input((8,))
    outputs = [
        k.layers.Dense(6, activation=n, name=f"dense_{n}")(inputs)
        for n in ("relu", "softmax", "hard_sigmoid", "leaky_relu", "gelu", "selu")
    ]
    return k.Model(inputs, outputs)


def dense_activations_keras3(k):
    """Activations with helpers (sparsemax) or a shape change (glu) on Dense and Conv."""
    inputs = k.Input((5, 7, 3))
    flat = k.layers.Flatten()(inputs)
    return k.Model(
        inputs,
        [
            k.layers.Dense(6, activation="sparsemax", name="dense_sparsemax")(flat),
            k.layers.Dense(6, activation="glu", name="dense_glu")(flat),
            k.layers.Conv2D(6, 3, activation="sparsemax", name="conv_sparsemax")(inputs),
            k.layers.Conv2D(6, 3, activation="glu", name="conv_glu")(inputs),
        ],
    )


def relu_layers(k):
    inputs = k.Input((5, 6))
    x = k.layers.Dense(6)(inputs)
    configs = [
        {},
        {"max_value": 6.0},
        {"max_value": 1.5},
        {"threshold": 0.4},
        {"negative_slope": 0.1},
        {"max_value": 6.0, "negative_slope": 0.1},
        {"max_value": 1.5, "threshold": 0.4},
        {"threshold": 0.4, "negative_slope": 0.2},
        {"max_value": 2.0, "threshold": 0.3, "negative_slope": 0.25},
    ]
    return k.Model(inputs, [k.layers.ReLU(**c, name=f"relu_{i}")(x) for i, c in enumerate(configs)])


def leaky_elu(k):
    inputs = k.Input((9,))
    slope = {"negative_slope": 0.05} if k.version == 3 else {"alpha": 0.05}
    alpha = {"alpha": 0.5}
    return k.Model(
        inputs,
        [
            k.layers.LeakyReLU(name="leaky_default")(inputs),
            k.layers.LeakyReLU(**slope, name="leaky_custom")(inputs),
            k.layers.ELU(name="elu_default")(inputs),
            k.layers.ELU(**alpha, name="elu_custom")(inputs),
        ],
    )


def prelu_shared_conv(k):
    inputs = k.Input((6, 7, 3))
    x = k.layers.Conv2D(5, 3)(inputs)
    x = k.layers.PReLU(shared_axes=[1, 2])(x)
    return k.Model(inputs, k.layers.Conv2D(4, 1)(x))


def prelu_dense(k):
    inputs = k.Input((8,))
    x = k.layers.PReLU()(k.layers.Dense(6)(inputs))
    return k.Model(inputs, x)


def prelu_unshared_conv(k):
    inputs = k.Input((6, 7, 3))
    x = k.layers.PReLU()(k.layers.Conv2D(5, 3)(inputs))
    return k.Model(inputs, k.layers.Conv2D(4, 1)(x))


def prelu_conv_output(k):
    """Unshared alpha at the model output, and shared over one axis only."""
    inputs = k.Input((6, 7, 3))
    x = k.layers.Conv2D(5, 3)(inputs)
    return k.Model(inputs, [k.layers.PReLU()(x), k.layers.PReLU(shared_axes=[2])(x)])


def softmax_layers(k):
    inputs = k.Input((5, 7, 3))
    x = k.layers.Conv2D(4, 3, padding="same")(inputs)
    flat = k.layers.Dense(6)(k.layers.Flatten()(x))
    return k.Model(
        inputs,
        [
            k.layers.Softmax(name="softmax_channels")(x),
            k.layers.Softmax(axis=1, name="softmax_rows")(x),
            k.layers.Softmax(axis=2, name="softmax_cols")(x),
            k.layers.Softmax(name="softmax_dense")(flat),
        ],
    )


CASES = [
    # Inputs spread (std 2.5) so that the +-0.5, +-1 and +-3 kinks are crossed.
    Case("activations_common", activation_bank(COMMON), input_scale=2.5),
    Case("activations_keras3", activation_bank(KERAS3_ONLY), flavours=K3_FLAVOURS, input_scale=2.5),
    Case("activations_conv_map", conv_map_activations(["softmax", "log_softmax", "relu"])),
    Case(
        "activations_conv_map_keras3",
        conv_map_activations(["glu", "sparsemax"]),
        flavours=K3_FLAVOURS,
    ),
    Case("dense_activations", dense_activations),
    Case("dense_activations_keras3", dense_activations_keras3, flavours=K3_FLAVOURS),
    Case("relu_layers", relu_layers),
    Case("leaky_relu_elu", leaky_elu),
    Case("prelu_shared_conv", prelu_shared_conv),
    Case("prelu_dense", prelu_dense),
    Case("prelu_unshared_conv", prelu_unshared_conv),
    Case("prelu_conv_output", prelu_conv_output),
    Case("softmax_layers", softmax_layers),
]


@pytest.mark.parametrize("case,flavour", cases_for(CASES))
def test_activation(cli, cache, case, flavour, tmp_path):
    check(cli, cache, case, flavour, tmp_path)
