"""Sorts the inputs a fuzzing run saved into ours and HDF5's.

    python3 fuzz/triage.py BUILD_DIR HARNESS

Runs HARNESS on each of its inputs in BUILD_DIR/artifacts/ and looks at the
stack the sanitizer or libFuzzer's timeout prints: the first frame outside
the sanitizers, libFuzzer and libc says whose code failed. Inputs that fail
inside libhdf5 (Debian 12's 1.10.8 loops and overreads on some damaged
files; see docs/fuzzing.md) move to artifacts/upstream/; the others stay and
are ours to fix. Prints one line per input; exit status 1 if any is ours.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

FRAME = re.compile(r"^\s*#\d+ 0x[0-9a-f]+ (?:in (\S+) )?.*?\(([^)+]+)")
# The sanitizers' own frames, libFuzzer's, and the allocator and mem*
# string functions the sanitizers replace: an overflow is often seen there.
NOT_THE_CULPRIT = (
    "__sanitizer",
    "__asan",
    "__ubsan",
    "__interceptor",
    "__lsan",
    "fuzzer::",
    "malloc",
    "calloc",
    "realloc",
    "free",
    "operator new",
    "operator delete",
    "memcpy",
    "memmove",
    "memset",
    "memcmp",
    "strdup",
    "strlen",
    "strnlen",
    "strcmp",
    "strncmp",
    "strcpy",
    "strncpy",
)


def culprit(output: str) -> str:
    """The module (shared object or binary) of the first frame that matters."""
    for line in output.splitlines():
        match = FRAME.match(line)
        if not match:
            continue
        function, module = match.group(1) or "", match.group(2)
        if function.startswith(NOT_THE_CULPRIT) or "libc.so" in module:
            continue
        return f"{os.path.basename(module)} {function}".strip()
    return "unknown"


def main(build: Path, harness: str) -> int:
    artifacts = build / "artifacts"
    upstream = artifacts / "upstream"
    binary = build / "fuzz" / harness
    ours = 0
    for path in sorted(artifacts.glob(f"{harness}-*")):
        run = subprocess.run(
            [str(binary), "-timeout=10", "-rss_limit_mb=2048", str(path)],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=120,
            check=False,
        )
        if run.returncode == 0:
            print(f"fixed     {path.name}")
            path.unlink()
            continue
        where = culprit(run.stderr)
        if where.startswith("libhdf5"):
            upstream.mkdir(exist_ok=True)
            shutil.move(str(path), upstream / path.name)
            print(f"upstream  {path.name}: {where}")
        else:
            ours += 1
            print(f"OURS      {path.name}: {where}")
    return 1 if ours else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: triage.py BUILD_DIR HARNESS")
    sys.exit(main(Path(sys.argv[1]), sys.argv[2]))
