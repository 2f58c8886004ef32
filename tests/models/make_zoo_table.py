"""Writes docs/model-zoo.md: every zoo architecture converted and compared with Keras.

    K2T_CLI=build/tools/keras2torch .venv/bin/python tests/models/make_zoo_table.py
        [--out docs/model-zoo.md] [--only NAME ...] [--from-results DIR]

Builds each architecture of zoo.py (and the channels_first variants) the way the slow
tests do, converts its .keras and .h5 files with both io-layouts, and records the
parameter count, the conversion time, the relative error against Keras and the permutes
in the generated code. Failures are recorded in the table, not raised. Takes about 25
minutes on two cores. With --from-results, writes the table from the JSON files that
tests/models/test_zoo.py leaves in $K2T_ZOO_RESULTS instead (one run for both).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import zoo

harness = zoo.harness
IO_LAYOUTS = ("torch", "keras")


def run_one(cli: Path, root: Path, arch: zoo.Arch, data_format: str) -> dict:
    """One row, in the form zoo.record_results saves: the figures, or what failed."""
    row = {"name": arch.name, "size": arch.size, "keras": arch.keras, "data_format": data_format}
    try:
        built = zoo.build_and_save(arch, root, data_format)
    except Exception as error:  # noqa: BLE001 - the row says why; the others still run
        row["error"] = f"Keras could not build it: {type(error).__name__}: {error}"
        return row
    row.update(params=built.params, keras_noise=built.keras_noise, results=[])
    for fmt in arch.formats:
        for io_layout in IO_LAYOUTS:
            out = root / f"{arch.name}-{data_format}-{fmt}-{io_layout}"
            entry = {"format": fmt, "io_layout": io_layout}
            try:
                converted = zoo.convert_and_compare(cli, built, fmt, out, io_layout)
                float64_rel = None
                if converted.mismatch is not None and built.keras_noise > zoo.ILL_CONDITIONED:
                    float64_rel = zoo.float64_error(built, fmt, converted.out, io_layout)
                entry.update(
                    seconds=converted.seconds,
                    max_rel=converted.max_rel,
                    permutes=converted.report["permutes"],
                    mismatch=converted.mismatch,
                    float64_rel=float64_rel,
                )
            except Exception as error:  # noqa: BLE001 - recorded in the table
                entry["error"] = str(error) or traceback.format_exc().splitlines()[-1]
            row["results"].append(entry)
    return row


def not_run(arch: zoo.Arch, data_format: str) -> dict:
    row = {"name": arch.name, "size": arch.size, "keras": arch.keras, "data_format": data_format}
    row["error"] = "not run: the test run these figures come from did not reach it"
    return row


def first_error_line(text: str) -> str:
    """The CLI's first error line, without its temporary file name."""
    lines = [line for line in text.splitlines() if "error:" in line]
    line = (lines or text.splitlines() or ["?"])[0].strip()
    return re.sub(r"^keras2torch: error: [^:]+: ", "", line)


def status(row: dict) -> str:
    if row.get("error"):
        return "not built"
    results = row["results"]
    failed = sum("error" in r for r in results)
    missed = [r for r in results if "error" not in r and r["mismatch"] is not None]
    # An ill-conditioned network may miss 1e-4 in float32 through rounding alone; the
    # test then holds it to FLOAT64_TOLERANCE in float64 (tests/models/test_zoo.py).
    float64_ok = [
        r
        for r in missed
        if r.get("float64_rel") is not None and r["float64_rel"] <= zoo.FLOAT64_TOLERANCE
    ]
    mismatched = len(missed) - len(float64_ok)
    permuted = sum("error" not in r and r["permutes"]["interior"] > 0 for r in results)
    problems = []
    if failed:
        problems.append(f"{failed}/{len(results)} fail to convert")
    if mismatched:
        problems.append(f"{mismatched}/{len(results)} over 1e-4")
    if float64_ok and not mismatched:
        worst = max(r["float64_rel"] for r in float64_ok)
        problems.append(
            f"ok: {len(float64_ok)}/{len(results)} over 1e-4 in float32, {worst:.1e} in float64"
        )
    if permuted:
        problems.append(f"{permuted}/{len(results)} with interior permutes")
    return ", ".join(problems) or "ok"


def table_row(row: dict) -> str:
    name = row["name"] + (" (tf_keras)" if row["keras"] == 2 else "")
    if row["data_format"] != "channels_last":
        name += ", channels_first"
    if row.get("error"):
        label = "not run" if row["error"].startswith("not run") else "not built"
        return f"| {name} | {row['size']} |" + " |" * 9 + f" {label} |"
    cells = [name, str(row["size"]), f"{row['params']:,}"]
    converted = [r for r in row["results"] if "error" not in r]
    seconds = max((c["seconds"] for c in converted), default=None)
    cells.append(f"{seconds:.1f}" if seconds is not None else "")
    by_key = {(r["format"].split(".")[1], r["io_layout"]): r for r in row["results"]}
    for ext in ("keras", "h5"):
        for io_layout in IO_LAYOUTS:
            result = by_key.get((ext, io_layout))
            if result is None:
                cells.append("")
            elif "error" in result:
                cells.append("fails")
            else:
                cells.append(f"{result['max_rel']:.1e}")
    cells.append(f"{row['keras_noise']:.1e}")
    for io_layout in IO_LAYOUTS:
        counts = sorted(
            {
                (r["permutes"]["interior"], r["permutes"]["boundary"])
                for r in converted
                if r["io_layout"] == io_layout
            }
        )
        cells.append(" / ".join(f"{i} + {b}" for i, b in counts))
    cells.append(status(row))
    return "| " + " | ".join(cells) + " |"


def failures(rows: list[dict]) -> list[str]:
    """One line per architecture and error, naming the conversions that gave it."""
    lines = []
    for row in rows:
        label = f"{row['name']} ({row['data_format']})"
        if row.get("error"):
            lines.append(f"- {label}: {row['error'].splitlines()[0]}")
            continue
        by_error: dict[str, list[str]] = {}
        for result in row["results"]:
            if "error" in result:
                where = f"{result['format']} {result['io_layout']}"
                by_error.setdefault(first_error_line(result["error"]), []).append(where)
        for error, where in by_error.items():
            lines.append(f"- {label}, {', '.join(where)}: `{error}`")
    return lines


def versions(cli: Path) -> str:
    import keras
    import tensorflow
    import tf_keras
    import torch

    return (
        f"{zoo.cli_version(cli)}; Keras {keras.__version__}, tf_keras {tf_keras.__version__}, "
        f"TensorFlow {tensorflow.__version__}, PyTorch {torch.__version__}, "
        f"{platform.machine()}"
    )


def write(path: Path, rows: list[dict], cli: Path, minutes: float | None) -> None:
    header = (
        "| Architecture | Input | Parameters | Convert (s) | .keras torch | .keras keras "
        "| .h5 torch | .h5 keras | Keras noise | Permutes torch | Permutes keras | Status |"
    )
    lines = [
        "# Model zoo: keras.applications converted and compared with Keras",
        "",
        "<!-- Generated by tests/models/make_zoo_table.py; do not edit by hand. -->",
        (
            "Generated by `tests/models/make_zoo_table.py`; do not edit by hand. To regenerate, "
            "either convert everything again (about 25 minutes on two cores):"
        ),
        "",
        "```",
        "K2T_CLI=build/tools/keras2torch .venv/bin/python tests/models/make_zoo_table.py",
        "```",
        "",
        "or write it from the figures the slow tests record:",
        "",
        "```",
        (
            "K2T_ZOO_RESULTS=/tmp/zoo-results .venv/bin/python -m pytest -m slow -n 2 "
            "tests/models/test_zoo.py"
        ),
        ".venv/bin/python tests/models/make_zoo_table.py --from-results /tmp/zoo-results",
        "```",
        "",
        f"Last run {datetime.date.today().isoformat()} with {versions(cli)}"
        + (f"; {minutes:.0f} minutes." if minutes is not None else ", from a test run's results."),
        "",
        (
            "Each architecture is built with `weights=None` at the input size given (pixels, "
            "square, 3 channels), a 10-class top without softmax, and random weights and "
            "BatchNorm statistics (see `tests/models/zoo.py`). Its `.keras` and `.h5` files are "
            "each converted with `--io-layout torch` and `--io-layout keras`; the four columns "
            "give the relative error against Keras on 2 random images, "
            "`max|torch - keras| / max|keras|` (the tests require at most 1e-4). "
            "*Keras noise* is how far Keras's own outputs move when its inputs are perturbed by "
            "float32 rounding (relative 1e-7): no float32 implementation can be held much "
            "closer than that. Where that noise is over 1e-5, a conversion that misses 1e-4 in "
            "float32 is run again in float64 against Keras in float64 and must agree within "
            "1e-5; *Status* then gives that error. *Convert* is the slowest of the four CLI runs "
            "(wall time, "
            "including reading and writing the files). *Permutes* are `interior + boundary` "
            "permutes in the generated `forward`, as `report.json` counts them."
        ),
        "",
        header,
        "|" + " --- |" * (header.count("|") - 1),
    ]
    lines += [table_row(row) for row in rows]
    problems = failures(rows)
    if problems:
        lines += ["", "## Failures", ""] + problems
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=harness.REPO / "docs" / "model-zoo.md")
    parser.add_argument("--work", type=Path, default=None, help="directory for the files")
    parser.add_argument("--only", nargs="*", default=None, help="architecture names")
    parser.add_argument(
        "--partial",
        action="store_true",
        help="with --from-results: list architectures without results as not run",
    )
    parser.add_argument(
        "--from-results",
        type=Path,
        default=None,
        help="write the table from the JSON files a test run left in $K2T_ZOO_RESULTS "
        "instead of converting again",
    )
    args = parser.parse_args()

    cli = harness.find_cli()
    jobs = [(arch, "channels_last") for arch in zoo.ARCHITECTURES]
    jobs += [(arch, "channels_first") for arch in zoo.CHANNELS_FIRST]
    if args.only:
        jobs = [job for job in jobs if job[0].name in args.only]
    start = time.perf_counter()
    rows = []
    if args.from_results:
        for arch, data_format in jobs:
            path = args.from_results / f"{arch.name}-{data_format}-keras{arch.keras}.json"
            if path.is_file():
                rows.append(json.loads(path.read_text()))
            elif args.partial:
                rows.append(not_run(arch, data_format))
            else:
                print(f"no results for {arch.name} ({data_format}): {path}", file=sys.stderr)
                return 1
        minutes = None
    else:
        work = args.work or Path(tempfile.mkdtemp(prefix="k2t-zoo-"))
        for arch, data_format in jobs:
            # The saved models and conversions of the largest architectures take about a GB.
            root = work / f"{arch.name}-{data_format}"
            row = run_one(cli, root, arch, data_format)
            shutil.rmtree(root, ignore_errors=True)
            rows.append(row)
            print(table_row(row), flush=True)
        minutes = (time.perf_counter() - start) / 60
    write(args.out, rows, cli, minutes)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
