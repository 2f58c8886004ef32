"""Fixtures for the model-zoo tests (slow); see zoo.py for how each model is built."""

import os

# Before TensorFlow is imported anywhere: Keras 3 on its TensorFlow backend, quiet logs.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest
import zoo

harness = zoo.harness


def pytest_configure(config):
    # Keras's own chatter about the legacy formats and the small input sizes used on purpose.
    for line in (
        "ignore:You are saving your model as an HDF5 file:UserWarning",
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning",
        "ignore:Do not pass an `input_shape`:UserWarning",
        "ignore:The given NumPy array is not writable:UserWarning",
        "ignore:This model usually expects 1 input:UserWarning",
        "ignore:`input_shape` is undefined or non-square:UserWarning",
    ):
        config.addinivalue_line("filterwarnings", line)


@pytest.fixture(scope="session")
def cli():
    """The keras2torch binary (fails, listing what was looked for, if there is none)."""
    return harness.find_cli()


@pytest.fixture(scope="session")
def zoo_root(tmp_path_factory):
    """One directory per pytest worker for the saved models and their conversions."""
    return tmp_path_factory.mktemp("zoo")
