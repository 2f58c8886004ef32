"""Padded sequences for the tests of masked layers (Case.prepare functions).

The harness draws batch 3; each sample gets its own padding pattern, so one
case covers the three ways a mask can look: sample 0 padded at the front
(Keras's pad_sequences default), sample 1 at the back, sample 2 with holes.
"""

from __future__ import annotations

import numpy as np


def padded_steps(steps: int) -> list[list[int]]:
    """The masked time steps of samples 0, 1 and 2."""
    cut = max(1, steps // 3)
    return [
        list(range(cut)),  # front padding
        list(range(steps - cut, steps)),  # back padding
        sorted({1, steps // 2, steps - 2}),  # holes
    ]


def pad_ids(*indices: int):
    """Zeroes the padded steps of integer id inputs (Embedding(mask_zero=True)); the
    other ids are made non-zero, so the only masked steps are the padded ones."""

    def prepare(inputs: list) -> None:
        for index in indices:
            ids = inputs[index]
            ids[ids == 0] = 1
            for sample, steps in enumerate(padded_steps(ids.shape[1])):
                ids[sample, steps] = 0

    return prepare


def pad_values(*indices: int, value: float = 0.0):
    """Sets every feature of the padded steps of float inputs to `value` (Masking)."""

    def prepare(inputs: list) -> None:
        for index in indices:
            x = inputs[index]
            for sample, steps in enumerate(padded_steps(x.shape[1])):
                x[sample, steps] = value

    return prepare


def assert_padded(inputs: list, index: int, value: float = 0.0) -> None:
    """Checks that input `index` holds the three padding patterns (a test that claims to
    cover masked steps must really contain them)."""
    x = np.asarray(inputs[index])
    for sample, steps in enumerate(padded_steps(x.shape[1])):
        step_values = x[sample].reshape(x.shape[1], -1)
        for t in range(x.shape[1]):
            masked = bool(np.all(step_values[t] == value))
            assert masked == (t in steps), (
                f"input {index}, sample {sample}, step {t}: masked={masked}, expected "
                f"masked steps {steps}"
            )
