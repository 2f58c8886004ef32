"""convert() and inspect(): the C++ core's functions with Python types and warnings."""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

from keras2torch import _core

StrPath = str | os.PathLike[str]


def _path(value: StrPath | None) -> str:
    # The core takes "" for "not given".
    return "" if value is None else os.fspath(value)


def convert(
    path: StrPath,
    out_dir: StrPath,
    *,
    weights: StrPath | None = None,
    custom: StrPath | None = None,
    io_layout: str = "torch",
    force: bool = False,
) -> dict[str, Any]:
    """Writes model.py, model.safetensors, report.json and report.md into ``out_dir``.

    Same as ``keras2torch convert PATH -o OUT_DIR``: ``weights`` is the weights file of a JSON
    architecture, ``custom`` a JSON mapping for custom layer classes, ``io_layout`` the axis
    order at the model's inputs and outputs ("torch": channels first, or "keras"), and
    ``force`` replaces a non-empty ``out_dir``. Nothing is written when the conversion fails.

    Returns the report (report.json, parsed). Its "complete" is False when some layers became
    skeletons whose forward raises NotImplementedError; a warning says which.

    Raises ConversionError, whose ``errors`` lists each problem as the command prints it.
    """
    complete, report_json, messages = _core.convert(
        _path(path), _path(out_dir), _path(weights), _path(custom), io_layout, force
    )
    for message in messages:
        warnings.warn(f"{os.fspath(path)}: {message}", stacklevel=2)
    report = json.loads(report_json)
    if not complete:
        skeletons = [layer["name"] for layer in report["layers"] if layer["status"] == "skeleton"]
        warnings.warn(
            f"{os.fspath(path)}: conversion is incomplete: {len(skeletons)} layer(s) became "
            f"skeletons whose forward raises NotImplementedError ({', '.join(skeletons)}); "
            f"see {os.path.join(os.fspath(out_dir), 'report.md')}",
            stacklevel=2,
        )
    return report


def inspect(path: StrPath, *, weights: StrPath | None = None, custom: StrPath | None = None) -> str:
    """A summary of the model's layers and what each becomes, as ``keras2torch inspect``."""
    return _core.inspect(_path(path), _path(weights), _path(custom))
