"""Writes examples/cnn.keras, the small Keras 3 CNN that scripts/setup.sh converts as a demo.

Run with the project's venv: .venv/bin/python examples/make_example.py. The weights are
random but fixed by the seed; the BatchNormalization statistics are randomized too, so that
a conversion that ignored them would not agree with Keras.
"""

from pathlib import Path

import keras
import numpy as np


def build() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.MaxPooling2D(2, name="pool"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(10, activation="softmax", name="classifier"),
        ],
        name="cnn",
    )
    # Untrained statistics are mean 0 and variance 1, which would hide a missing
    # normalization; set them (and gamma, beta) to something else.
    rng = np.random.default_rng(0)
    bn = model.get_layer("bn")
    gamma, beta, mean, variance = bn.get_weights()
    bn.set_weights(
        [
            rng.uniform(0.5, 1.5, gamma.shape),
            rng.normal(0.0, 0.1, beta.shape),
            rng.normal(0.0, 0.5, mean.shape),
            rng.uniform(0.5, 2.0, variance.shape),
        ]
    )
    return model


def main() -> None:
    path = Path(__file__).with_name("cnn.keras")
    build().save(path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
