"""The command-line tool converts in a supervised child process.

libhdf5 can fault, loop or allocate without bound on damaged files
(docs/fuzzing.md), so the tool does the reading and writing in a child whose
memory is capped, and the parent turns any way the child can end into one
error line, exit status 2, and no output: the staging directory the child was
writing (".TARGET.k2t-PID-*") is removed by the parent.

A read from a FIFO that nobody writes to stands in for a child stuck in
libhdf5: while it waits, the test plays the part of the fault, the OOM killer
or the user's signal, and leaves a half-written staging directory of the
child's as the child would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import warnings
from pathlib import Path

import make_bad_inputs
import pytest
from test_bad_input import CONTRACT_STATUS, assert_rejected, convert, find_cli

INTERRUPTED_STATUS = 130


@pytest.fixture(scope="module")
def cli() -> Path:
    return find_cli()


def child_of(process: subprocess.Popen, timeout: float = 20.0) -> int:
    """The pid of the converting child of the keras2torch process."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = children.read_text().split() if children.exists() else []
        if pids:
            return int(pids[0])
        time.sleep(0.02)
    raise AssertionError("keras2torch started no converting process")


def start_stuck_conversion(
    cli, tmp_path: Path, *extra: str
) -> tuple[subprocess.Popen, Path, Path, int]:
    """A conversion whose child blocks reading the model, with a staging
    directory of the child's beside the target."""
    fifo = tmp_path / "model.h5"
    os.mkfifo(fifo)
    parent = tmp_path / "outputs"
    parent.mkdir()
    process = subprocess.Popen(
        [str(cli), "convert", str(fifo), "-o", str(parent / "converted"), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child = child_of(process)
    staging = parent / f".converted.k2t-{child}-0badf00d"
    staging.mkdir()
    (staging / "model.py").write_text("# half written\n")
    return process, fifo, parent, child


@pytest.mark.parametrize("fault", [signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT])
def test_a_fault_in_the_converting_process_is_one_error_line(cli, tmp_path, fault):
    process, fifo, parent, child = start_stuck_conversion(cli, tmp_path)
    os.kill(child, fault)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == CONTRACT_STATUS
    assert stdout == ""
    assert stderr == (
        f"keras2torch: error: {fifo}: reading the file crashed the conversion process "
        f"({fault.name}); the file is damaged or hostile (a fault in libhdf5 on damaged files "
        "is the known cause)\n"
    )
    assert list(parent.iterdir()) == []


def test_a_converting_process_killed_for_memory_is_reported(cli, tmp_path):
    process, fifo, parent, child = start_stuck_conversion(cli, tmp_path)
    os.kill(child, signal.SIGKILL)  # what the kernel's OOM killer sends
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == CONTRACT_STATUS
    assert stderr == (
        f"keras2torch: error: {fifo}: the conversion process was killed (SIGKILL), most likely "
        "because the system ran out of memory; set --max-memory-mib below the free memory to "
        "have the conversion stop with an error instead\n"
    )
    assert list(parent.iterdir()) == []


def test_sigterm_stops_the_conversion_and_leaves_nothing(cli, tmp_path):
    process, fifo, parent, _ = start_stuck_conversion(cli, tmp_path)
    process.send_signal(signal.SIGTERM)  # to the tool only; it passes the signal on
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == INTERRUPTED_STATUS
    assert stderr == f"keras2torch: error: {fifo}: interrupted (SIGTERM); nothing was written\n"
    assert list(parent.iterdir()) == []


def test_the_timeout_removes_the_childs_staging_directory(cli, tmp_path):
    process, fifo, parent, _ = start_stuck_conversion(cli, tmp_path, "--max-seconds", "3")
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == CONTRACT_STATUS
    assert stderr == (
        f"keras2torch: error: {fifo}: the run took longer than the limit of 3 seconds "
        "(raise it with --max-seconds); the file may be damaged\n"
    )
    assert list(parent.iterdir()) == []


@pytest.fixture(scope="module")
def large_model(tmp_path_factory) -> Path:
    """A real model with one 64 MiB kernel (4096 x 4096 float32)."""
    import tf_keras

    path = tmp_path_factory.mktemp("large") / "large.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inputs = tf_keras.Input((4096,), name="features")
        outputs = tf_keras.layers.Dense(4096, name="wide")(inputs)
        tf_keras.Model(inputs, outputs).save(path)
    return path


def test_the_memory_cap_stops_a_conversion_that_needs_more(cli, large_model, tmp_path):
    case = make_bad_inputs.BadInput(large_model, args=("--max-memory-mib", "32"))
    expected = (
        f"{large_model}: out of memory: the conversion may allocate at most 32 MiB (raise it "
        "with --max-memory-mib); the file may be damaged or declare impossible sizes"
    )
    assert_rejected(cli, case, tmp_path, [expected])


def test_the_default_memory_cap_lets_the_same_model_through(cli, large_model, tmp_path):
    out = tmp_path / "converted"
    result = convert(cli, make_bad_inputs.BadInput(large_model), out)
    assert result.returncode == 0, result.stderr
    assert (out / "model.safetensors").stat().st_size > 4096 * 4096 * 4


# Inputs the fuzzer saved (scripts/sanitize.sh, fuzz_model_file) on which libhdf5 1.10.8,
# Debian 12's, faults in H5HG_read or loops reading a variable-length string attribute:
# committed as found, since no script can make them other than by fuzzing.
LIBHDF5_FINDINGS = Path(__file__).resolve().parent / "libhdf5"


def test_libhdf5_fault_on_a_fuzzed_file_is_one_error_line(cli, tmp_path):
    model = LIBHDF5_FINDINGS / "global_heap_crash.h5"
    expected = (
        f"{model}: reading the file crashed the conversion process (SIGSEGV); the file is "
        "damaged or hostile (a fault in libhdf5 on damaged files is the known cause)"
    )
    assert_rejected(cli, make_bad_inputs.BadInput(model), tmp_path, [expected])


def test_libhdf5_loop_on_a_fuzzed_file_ends_at_the_time_limit(cli, tmp_path):
    model = LIBHDF5_FINDINGS / "string_attribute_hang.h5"
    case = make_bad_inputs.BadInput(model, args=("--max-seconds", "2"))
    expected = (
        f"{model}: the run took longer than the limit of 2 seconds (raise it with "
        "--max-seconds); the file may be damaged"
    )
    assert_rejected(cli, case, tmp_path, [expected])
