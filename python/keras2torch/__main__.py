"""``python -m keras2torch ...`` runs the ``keras2torch`` command installed with the package.

The command is the C++ program itself; this only finds it, beside the interpreter first, so
that the package's own copy wins over another one earlier on PATH.
"""

import os
import shutil
import sys
from pathlib import Path


def _command() -> str | None:
    beside = Path(sys.executable).with_name("keras2torch")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("keras2torch")


def main() -> int:
    command = _command()
    if command is None:
        print("keras2torch: error: the keras2torch command is not installed", file=sys.stderr)
        return 2
    os.execv(command, [command, *sys.argv[1:]])
    return 2  # not reached: execv replaces this process


if __name__ == "__main__":
    sys.exit(main())
