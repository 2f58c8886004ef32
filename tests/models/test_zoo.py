"""The model zoo: every keras.applications architecture converts and matches Keras.

One test per architecture, so that pytest-xdist hands whole architectures to its workers:
the model is built and saved once (.keras and .h5), and each file is converted with both
io-layouts. All four conversions are checked before the test reports, so one failure
does not hide the others. Each conversion must:

- convert completely (exit status 0) and load with strict=True;
- match Keras at rel <= 1e-4 (harness.TOLERANCE, see tests/e2e/harness.py);
- have no interior permute: these are convolutional bodies, whose layouts the planner
  must keep channels first throughout. With the PyTorch io-layout nothing is permuted
  at all; with the Keras one, at most the image input (NHWC to NCHW) is.

Run with `pytest -m slow -n 2 tests/models/test_zoo.py` (about 30 minutes on two cores);
cases that cannot meet 1e-4 xfail, as KNOWN_FAILURES and ILL_CONDITIONED explain.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import zoo

pytestmark = pytest.mark.slow

IO_LAYOUTS = ("torch", "keras")

# Conversions that fail today, with the CLI's error line (which must still be the one it
# gives, so that a fix, or a different failure, shows) and the cause. Each one makes its
# architecture's test xfail after every other conversion of it has been checked.
KNOWN_FAILURES: dict = {}


def ill_conditioned(built: zoo.Built) -> bool:
    return built.keras_noise > zoo.ILL_CONDITIONED


def result_entry(
    fmt: str, io_layout: str, converted: zoo.Converted, float64_rel: float | None
) -> dict:
    return {
        "format": fmt,
        "io_layout": io_layout,
        "seconds": converted.seconds,
        "max_rel": converted.max_rel,
        "permutes": converted.report["permutes"],
        "mismatch": converted.mismatch,
        # Set when the float32 comparison missed 1e-4 on an ill-conditioned network.
        "float64_rel": float64_rel,
    }


def check_conversions(cli: Path, zoo_root: Path, arch: zoo.Arch, data_format: str) -> None:
    root = zoo_root / f"{arch.name}-{data_format}-keras{arch.keras}"
    try:
        check_files(cli, root, arch, data_format)
    finally:
        # The files of the largest architectures take about a GB; none is needed again.
        shutil.rmtree(root, ignore_errors=True)


def check_files(cli: Path, root: Path, arch: zoo.Arch, data_format: str) -> None:
    built = zoo.build_and_save(arch, root, data_format)
    problems: list[str] = []
    known: list[str] = []
    results: list[dict] = []
    for fmt in arch.formats:
        expected_error, cause = KNOWN_FAILURES.get((arch.name, fmt), (None, None))
        for io_layout in IO_LAYOUTS:
            label = f"{arch.name} ({data_format}) {fmt}, --io-layout {io_layout}"
            out = root / f"{arch.name}-{data_format}-{fmt}-{io_layout}"
            try:
                converted = zoo.convert_and_compare(cli, built, fmt, out, io_layout)
            except AssertionError as error:
                if expected_error is not None and expected_error in str(error):
                    known.append(f"{label}: {cause}")
                else:
                    problems.append(f"{label}: {error}")
                results.append({"format": fmt, "io_layout": io_layout, "error": str(error)})
                continue
            if expected_error is not None:
                problems.append(
                    f"{label}: converts now; remove it from KNOWN_FAILURES in {__file__}"
                )
            problems += permute_problems(label, converted, io_layout, data_format)
            f64 = None
            if converted.mismatch is None:
                pass
            elif ill_conditioned(built):
                f64 = zoo.float64_error(built, fmt, converted.out, io_layout)
                if f64 > zoo.FLOAT64_TOLERANCE:
                    problems.append(
                        f"{label}: {converted.mismatch}\nand in float64 rel {f64:.1e} > "
                        f"{zoo.FLOAT64_TOLERANCE:.0e}: not float32 rounding"
                    )
            else:
                problems.append(f"{label}: {converted.mismatch}")
            zoo.check_strict_load(converted.out)
            results.append(result_entry(fmt, io_layout, converted, f64))
    zoo.record_results(built, results)
    assert not problems, "\n".join(problems)
    if known:
        pytest.xfail("known failures:\n" + "\n".join(known))


def permute_problems(label: str, converted, io_layout: str, data_format: str) -> list[str]:
    report = converted.report
    counts = report["permutes"]
    problems = []
    if converted.interior_permutes != 0:
        problems.append(f"{label}: interior permutes in a convolutional body: {counts}")
    # The Keras io-layout permutes a channels-last image input once; nothing else may be.
    allowed = 1 if io_layout == "keras" and data_format == "channels_last" else 0
    if converted.boundary_permutes > allowed:
        problems.append(f"{label}: {counts}, at most {allowed} boundary permute expected")
    total = converted.interior_permutes + converted.boundary_permutes
    if converted.permutes_in_source() != total:
        problems.append(
            f"{label}: model.py has {converted.permutes_in_source()} .permute( calls, the "
            f"report counts {json.dumps(counts)}"
        )
    return problems


@pytest.mark.parametrize("arch", zoo.ARCHITECTURES, ids=lambda arch: arch.name)
def test_architecture(cli, zoo_root, arch):
    check_conversions(cli, zoo_root, arch, "channels_last")


@pytest.mark.parametrize(
    "arch", zoo.CHANNELS_FIRST, ids=lambda arch: f"{arch.name}-{arch.formats[0].split('.')[0]}"
)
def test_channels_first(cli, zoo_root, arch):
    check_conversions(cli, zoo_root, arch, "channels_first")
