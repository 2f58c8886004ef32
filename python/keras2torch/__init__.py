"""Convert Keras model files (.h5, .keras, JSON + weights) into native PyTorch modules.

The conversion itself is C++ (the ``keras2torch`` command and the ``_core`` extension) and
needs neither TensorFlow nor Keras. Only :func:`verify`, which runs the original model to
compare, imports Keras.

    >>> import keras2torch
    >>> report = keras2torch.convert("cnn.keras", "cnn_torch")  # model.py, weights, report
    >>> model = keras2torch.load("cnn.keras")                   # an nn.Module, in eval mode
    >>> keras2torch.verify("cnn.keras")["ok"]
    True
"""

from keras2torch._api import convert, inspect
from keras2torch._core import ConversionError, __version__
from keras2torch._load import load
from keras2torch._verify import verify

__all__ = ["ConversionError", "__version__", "convert", "inspect", "load", "verify"]
