"""load(): convert into a private directory and import the generated module from there."""

from __future__ import annotations

import importlib.util
import itertools
import shutil
import sys
import tempfile
import weakref
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from keras2torch._api import StrPath, convert

# Each load imports its own model.py, under a name no other load uses.
_counter = itertools.count()


def _import_file(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before running it, as a regular import would be: pickling the model, and
    # dataclasses or typing inside a user's module, look the module up by name.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _discard(directory: str, module_name: str) -> None:
    sys.modules.pop(module_name, None)
    shutil.rmtree(directory, ignore_errors=True)


def load_with_report(path: StrPath, **options: Any) -> tuple[torch.nn.Module, dict[str, Any]]:
    """What :func:`load` does, also returning the conversion report."""
    options.pop("force", None)  # the directory is always fresh
    directory = tempfile.mkdtemp(prefix="keras2torch-")
    module_name = f"keras2torch_generated_{next(_counter)}"
    try:
        out_dir = Path(directory) / "model"
        report = convert(path, out_dir, **options)
        module = _import_file(out_dir / "model.py", module_name)
        model = module.load_model()
    except BaseException:
        _discard(directory, module_name)
        raise
    weakref.finalize(model, _discard, directory, module_name)
    return model.eval(), report


def load(path: StrPath, **options: Any) -> torch.nn.Module:
    """Converts the Keras model at ``path`` and returns the PyTorch module, in eval mode.

    ``options`` are those of :func:`convert` (``weights``, ``custom``, ``io_layout``). The
    generated files live in a temporary directory until the returned module is garbage
    collected (or the interpreter exits): the weights are read by then, but the source stays
    readable for tools that need it, such as torch.jit.script and inspect.getsource. Use
    :func:`convert` to keep the files.

    Raises ConversionError when the model cannot be converted.
    """
    return load_with_report(path, **options)[0]
