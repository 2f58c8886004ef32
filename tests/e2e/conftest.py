"""Fixtures for the end-to-end tests; see harness.py for what a test checks."""

import os

# Before TensorFlow is imported anywhere: Keras 3 on its TensorFlow backend, quiet logs.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import harness
import pytest


def pytest_configure(config):
    # Keras's own chatter about the legacy formats these tests save on purpose.
    for line in (
        "ignore:You are saving your model as an HDF5 file:UserWarning",
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning",
        "ignore:Do not pass an `input_shape`:UserWarning",
        "ignore:The given NumPy array is not writable:UserWarning",
    ):
        config.addinivalue_line("filterwarnings", line)


@pytest.fixture(scope="session")
def cli():
    """The keras2torch binary (fails, listing what was looked for, if there is none)."""
    return harness.find_cli()


@pytest.fixture(scope="module")
def cache(tmp_path_factory, request):
    """Saved models of this test module's cases, built on first use."""
    return harness.ModelCache(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))
