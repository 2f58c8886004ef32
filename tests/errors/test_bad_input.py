"""Bad input at the command line: the exact diagnostic, exit status 2, nothing written.

The error contract: every bad input gets

    keras2torch: error: FILE: layer 'NAME' (CLASS): what is wrong

(the layer part only when a layer is concerned), exit status 2, nothing on
stdout, and no output directory left behind: no target, and no staging
directory (".TARGET.k2t-*") beside it. Unsupported built-in layers are all
listed, one line each.

The files come from make_bad_inputs.py, generated into a temporary directory
at test time (nothing binary is committed).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

import make_bad_inputs

CONTRACT_STATUS = 2


def find_cli() -> Path:
    """$K2T_CLI, the venv's keras2torch, build/, then build-unit/."""
    env = os.environ.get("K2T_CLI")
    if env:
        if not Path(env).is_file():
            pytest.fail(f"K2T_CLI is set to {env}, which is not a file", pytrace=False)
        return Path(env)
    candidates = [
        REPO / ".venv" / "bin" / "keras2torch",
        REPO / "build" / "tools" / "keras2torch",
        REPO / "build-unit" / "tools" / "keras2torch",
    ]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    pytest.fail(
        "the keras2torch CLI is missing: set K2T_CLI or build it with "
        "`cmake -S . -B build -G Ninja && cmake --build build`; looked for "
        + ", ".join(str(p) for p in candidates),
        pytrace=False,
    )


@pytest.fixture(scope="session")
def cli() -> Path:
    return find_cli()


@pytest.fixture(scope="session")
def bad(tmp_path_factory) -> dict[str, make_bad_inputs.BadInput]:
    return make_bad_inputs.generate(tmp_path_factory.mktemp("bad_inputs"))


def convert(
    cli: Path, case: make_bad_inputs.BadInput, out: Path, extra: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    args = [str(cli), "convert", str(case.path), "-o", str(out)]
    if case.weights is not None:
        args += ["--weights", str(case.weights)]
    return subprocess.run(
        args + list(case.args) + list(extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_rejected(
    cli: Path, case: make_bad_inputs.BadInput, tmp_path: Path, expected: list[str]
) -> None:
    """Converts into a fresh, empty parent directory and checks the whole contract."""
    parent = tmp_path / "outputs"
    parent.mkdir()
    out = parent / "converted"
    result = convert(cli, case, out)
    lines = [f"keras2torch: error: {line}" for line in expected]
    assert result.stderr == "".join(line + "\n" for line in lines), (
        "stderr differs\nexpected:\n" + "\n".join(lines) + f"\nactual:\n{result.stderr}"
    )
    assert result.returncode == CONTRACT_STATUS, result.returncode
    assert result.stdout == ""
    assert not out.exists(), "the output directory was left behind"
    leftovers = sorted(p.name for p in parent.iterdir())
    assert leftovers == [], f"stray files beside the output: {leftovers}"


# What each case must print after "keras2torch: error: ". {path} is the model
# file as given on the command line, {weights} the --weights file; other
# fields come from the case's facts.
NOT_A_MODEL = (
    "{path}: not a Keras model file ({start}); expected an HDF5 file, a .keras zip "
    "archive or a JSON architecture"
)
ZIP_UNREADABLE = (
    "{path}: the zip archive is truncated or damaged: its central directory is "
    "missing or unreadable"
)
WEIGHTS_ONLY = (
    "{path}: this file holds only weights; convert the model's architecture JSON "
    "and pass this file with --weights"
)
TRANSPOSED = (
    "{path}: layer 'dense' (Dense): weight 'kernel' has shape [3, 4] in the file, but the "
    "config implies [4, 3]"
)
UNBUILT = (
    "{path}: the Sequential model '{name}' records no input shape: it was saved before it "
    "was built; build it (give it an Input or call it once) and save it again"
)
NPZ = (
    "{path}: the weights are stored as model.weights.npz, which may hold pickled Python "
    "objects and is never read by keras2torch; save the model again with the default "
    "weights format (model.weights.h5)"
)
ESCAPING_MEMBER = (
    "{path}: the zip archive has a member named '{member}', a path outside the archive; "
    "keras2torch refuses such archives"
)
LINKED = (
    "{path}: weight 'dense/kernel:0' of layer 'dense' cannot be read: dataset "
    "'/model_weights/dense/dense/kernel:0' is reached through {kind} link "
    "'/model_weights/dense/dense/kernel:0', which keras2torch does not follow"
)

EXPECTED: dict[str, list[str]] = {
    "text": [NOT_A_MODEL.replace("{start}", 'it starts with "hello, these are"')],
    "png": [NOT_A_MODEL.replace("{start}", "it starts with bytes 89 50 4e 47 0d 0a 1a 0a")],
    "random": [NOT_A_MODEL.replace("{start}", "it starts with bytes 07 e1 3c 00 9a 55 f0 12")],
    "empty": ["{path}: the file is empty"],
    "corrupt_zip_crc": [
        ("{path}: the zip archive is damaged: its central directory does not match its members")
    ],
    "corrupt_zip_sizes": [ZIP_UNREADABLE],
    "keras_without_config": [
        "{path}: the zip archive has no config.json, so it is not a .keras model"
    ],
    "keras_npz": [NPZ],
    "keras_duplicate": ["{path}: the zip archive has two members named 'config.json'"],
    "h5_without_model_config": [
        "{path}: not a Keras model file: the HDF5 file has no model_config attribute"
    ],
    "weights_only_legacy": [WEIGHTS_ONLY],
    "weights_only_v3": [WEIGHTS_ONLY],
    "json_not_a_model": [
        "{path}: the JSON is not a Keras model (no class_name and config at the top)"
    ],
    "json_missing_inbound": [
        (
            "{path}: layer 'dense_1' (Dense): an input of this layer refers to layer 'ghost', "
            "which the model does not have"
        )
    ],
    "json_cycle": [
        "{path}: layer 'dense' (Dense): the graph has a cycle: dense -> dense_1 -> dense"
    ],
    "transposed_kernel": [TRANSPOSED],
    "transposed_kernel_keras": [TRANSPOSED],
    "weights_fail_while_writing": [
        (
            "{path}: layer 'dense' (Dense): dataset '/dense/dense/kernel:0' declares 1600000000 "
            "bytes, more than the file can hold ({weights_size} bytes) "
            "(raise it with --max-dataset-ratio)"
        )
    ],
    "weights_too_many_elements": [
        (
            "{path}: weight 'dense/kernel:0' of layer 'dense' cannot be read: dataset "
            "'/dense/dense/kernel:0' has 10000000000 elements, more than the limit of 4294967296 "
            "(raise it with --max-tensor-elements)"
        )
    ],
    # Bombs and caps, each naming the flag that raises it.
    "zip_bomb_ratio": [
        (
            "{path}: member 'metadata.json' expands {ratio} times when unpacked, more than the "
            "limit of 1000 (raise it with --max-zip-ratio)"
        )
    ],
    "zip_member_too_large": [
        (
            "{path}: member 'config.json' unpacks to {size} bytes, more than the limit of 100 "
            "bytes (raise it with --max-zip-member-bytes)"
        )
    ],
    "json_depth_bomb": [
        (
            "{path}: the JSON text nests deeper than the limit of 512 levels "
            "(raise it with --max-json-depth)"
        )
    ],
    "keras_config_depth_bomb": [
        (
            "{path}: config.json: the JSON text nests deeper than the limit of 512 levels "
            "(raise it with --max-json-depth)"
        )
    ],
    "json_too_deep_for_flag": [
        (
            "{path}: the JSON text nests deeper than the limit of 3 levels "
            "(raise it with --max-json-depth)"
        )
    ],
    "json_too_large": [
        (
            "{path}: the file is 1863 bytes, more than the JSON limit of 1000 bytes "
            "(raise it with --max-json-bytes)"
        )
    ],
    "keras_config_too_large": [
        (
            "{path}: config.json: the JSON text is {size} bytes, more than the limit of 100 bytes "
            "(raise it with --max-json-bytes)"
        )
    ],
    "too_many_layers": [
        "{path}: the model has 3 layers, more than the limit of 2 (raise it with --max-layers)"
    ],
    "too_many_nodes": [
        "{path}: the model makes more layer calls than the limit of 1 (raise it with --max-nodes)"
    ],
    "tensor_elements_flag": [
        (
            "{path}: weight 'dense/kernel:0' of layer 'dense' cannot be read: dataset "
            "'/model_weights/dense/dense/kernel:0' has 12 elements, more than the limit of 11 "
            "(raise it with --max-tensor-elements)"
        )
    ],
    "h5_dataset_shape_overflow": [
        (
            "{path}: weight 'dense/bias:0' of layer 'dense' cannot be read: dataset "
            "'/model_weights/dense/dense/bias:0' has shape [2147483648, 2147483648, 2147483648], "
            "whose element count overflows"
        )
    ],
    "json_huge_input_shape": [
        (
            "{path}: layer 'dense' (Dense): weight 'kernel' has shape [4, 3] in the file, but the "
            "config implies [1099511627776, 3]"
        )
    ],
    "json_huge_units": [
        (
            "{path}: layer 'dense' (Dense): weight 'kernel' has shape [4, 3] in the file, but the "
            "config implies [4, 4611686018427387904]"
        )
    ],
    # Paths out of the archive, pickles, ambiguity.
    "zip_dotdot_member": [ESCAPING_MEMBER],
    "zip_nested_dotdot_member": [ESCAPING_MEMBER],
    "zip_absolute_member": [ESCAPING_MEMBER],
    "zip_backslash_member": [ESCAPING_MEMBER],
    "keras_npz_pickled": [NPZ],
    "keras_duplicate_weights": ["{path}: the zip archive has two members named 'model.weights.h5'"],
    # Graphs that cannot be built, models with nothing in them.
    "json_self_loop": ["{path}: layer 'dense' (Dense): the graph has a cycle: dense -> dense"],
    "json_dangling_output": [
        "{path}: the model's output_layers refers to layer 'ghost', which the model does not have"
    ],
    "json_dangling_tensor_index": [
        "{path}: layer 'dense' (Dense): output 5 is used, but the layer has 1 output(s)"
    ],
    "json_duplicate_layer_names": ["{path}: two layers are named 'dense'"],
    "json_input_is_not_input_layer": ["{path}: model input 'dense' is not an InputLayer"],
    "json_empty_sequential": [UNBUILT.replace("{name}", "empty")],
    "json_only_an_input": ["{path}: the model has no layers to convert"],
    "json_whitespace_only": ["{path}: the JSON text is not valid JSON (error at byte 5)"],
    "json_nan_key": ["{path}: the JSON text is not valid JSON (NaN or Infinity as a key)"],
    "keras_config_not_json": [
        "{path}: config.json: the JSON text is not valid JSON (error at byte 2)"
    ],
    "keras_config_a_list": [
        "{path}: the JSON is not a Keras model (no class_name and config at the top)"
    ],
    "model_config_numbers": [
        "{path}: attribute 'model_config' holds numbers where text was expected"
    ],
    "model_config_not_a_model": [
        "{path}: the JSON is not a Keras model (no class_name and config at the top)"
    ],
    # Weights that do not fit the config, or reach outside the file.
    "bias_wrong_length": [
        (
            "{path}: layer 'dense' (Dense): weight 'bias' has shape [7] in the file, but the "
            "config implies [3]"
        )
    ],
    "kernel_of_strings": [
        (
            "{path}: weight 'dense/kernel:0' of layer 'dense' cannot be read: dataset "
            "'/model_weights/dense/dense/kernel:0': unsupported element type (HDF5 string, "
            "2 bytes)"
        )
    ],
    "kernel_of_integers": [
        (
            "{path}: layer 'dense' (Dense): weight 'dense/kernel:0' holds int32 values where "
            "floating-point weights belong"
        )
    ],
    "weights_group_missing": ["{path}: the weights file has no group for layer 'dense_1'"],
    "weights_soft_link": [LINKED.replace("{kind}", "a soft")],
    "weights_external_link": [LINKED.replace("{kind}", "an external")],
    "weights_external_storage": [
        (
            "{path}: weight 'dense/kernel:0' of layer 'dense' cannot be read: dataset "
            "'/model_weights/dense/dense/kernel:0' keeps its data in an external file, which "
            "keras2torch does not read"
        )
    ],
    "unsupported_layers": [
        f"{{path}}: layer '{name}' ({cls}): Keras class {cls} is not supported by keras2torch yet"
        for name, cls in make_bad_inputs.UNSUPPORTED
    ],
    "unbuilt_sequential_json": [UNBUILT.replace("{name}", "unbuilt")],
    "unbuilt_sequential_keras": [UNBUILT.replace("{name}", "k3_unbuilt")],
    "sharded_index_as_model": [
        (
            "{path}: the JSON is the index of sharded Keras weights; convert the model's "
            "architecture (JSON or .keras) and pass this file with --weights"
        )
    ],
    "sharded_shard_outside": [
        (
            "{weights}: weight_map entry '/layers/dense/vars' names shard "
            "'../_saved/k3_tiny_00000.weights.h5', which is not a plain file name; shards are "
            "read only from the index's directory"
        )
    ],
    "sharded_shard_missing": [
        (
            "{weights}: shard '{shard}' of weight_map entry '/layers/dense/vars' is not in the "
            "index's directory"
        )
    ],
    "sharded_wrong_shard": [
        (
            "{weights}: layer 'dense_1' (Dense): weight_map sends '/layers/dense_1/vars' to shard "
            "'{shard}', which holds no variables there"
        )
    ],
    "sharded_no_weight_map": ["{weights}: the index of sharded weights has no weight_map object"],
    "json_without_weights": [
        (
            "{path}: layer 'dense' (Dense): the file has no weights for this layer; a JSON "
            "architecture needs its weights file given with --weights"
        )
    ],
    # TensorFlow.js model.json files (tiny model: 23 float32 weights, 92 bytes).
    "tfjs_graph_model": [
        (
            "{path}: the JSON is a TensorFlow.js graph model, a TensorFlow graph and not a "
            "Keras model, which keras2torch does not read"
        )
    ],
    "tfjs_missing_shard": [
        "{path}: weightsManifest group 1: shard 'group1-shard2of2.bin' does not exist"
    ],
    "tfjs_short_shard": [
        (
            "{path}: weightsManifest group 1: the weights need 92 bytes but the shards "
            "['group1-shard1of1.bin'] hold 80"
        )
    ],
    "tfjs_escaping_shard": [
        (
            "{path}: weightsManifest group 1: shard path '../group1-shard1of1.bin' is not a file "
            "name beside model.json"
        )
    ],
    "tfjs_unknown_dtype": [
        (
            "{path}: weightsManifest group 1: weight 'dense/kernel': dtype 'complex64' is not "
            "supported (expected float32 or int32)"
        )
    ],
    "tfjs_unknown_quantization": [
        (
            "{path}: weightsManifest group 1: weight 'dense/kernel': quantization dtype 'int4' "
            "is not supported (expected uint8, uint16 or float16)"
        )
    ],
    "tfjs_huge_shape": [
        (
            "{path}: weightsManifest group 1: weight 'dense/kernel' has 10000000000 elements, "
            "more than the limit of 4294967296 (raise it with --max-tensor-elements)"
        )
    ],
}


def expected_lines(name: str, case: make_bad_inputs.BadInput) -> list[str]:
    if name.startswith("truncated_h5_"):
        if case.facts["length"] < 48:  # not even a whole superblock
            return [
                f"{case.path}: the HDF5 file is truncated or damaged: its superblock cannot be read"
            ]
        length, size = case.facts["length"], case.facts["size"]
        return [
            f"{case.path}: the HDF5 file is truncated: it has {length} bytes, its header "
            + f"records {size}"
        ]
    if name.startswith("truncated_zip_"):
        return [ZIP_UNREADABLE.format(path=case.path)]
    return [
        line.format(path=case.path, weights=case.weights, **case.facts) for line in EXPECTED[name]
    ]


CASE_NAMES = (
    sorted(EXPECTED)
    + [f"truncated_h5_{n}" for n in make_bad_inputs.HDF5_CUTS]
    + [f"truncated_zip_{n}" for n in make_bad_inputs.ZIP_CUTS]
)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_input(cli, bad, tmp_path, name):
    assert_rejected(cli, bad[name], tmp_path, expected_lines(name, bad[name]))


def test_files_cut_near_their_end(cli, bad, tmp_path):
    """The cut lengths that depend on the saved file's size (half, all but one byte)."""
    names = [
        n for n in bad if n.startswith(("truncated_h5_", "truncated_zip_")) and n not in CASE_NAMES
    ]
    assert len(names) == 4, names
    for name in names:
        case_dir = tmp_path / name
        case_dir.mkdir()
        assert_rejected(cli, bad[name], case_dir, expected_lines(name, bad[name]))


def test_every_generated_case_is_tested(bad):
    generated = set(bad)
    tested = set(CASE_NAMES) | {n for n in bad if n.startswith(("truncated_h5_", "truncated_zip_"))}
    assert generated == tested | {"nan_weights_converted"}


def test_at_least_fifty_cases(bad):
    """The issue asks for 50 malformed or hostile files, each with its exact message."""
    assert len(CASE_NAMES) + 4 >= 50, len(CASE_NAMES)


def test_nan_and_inf_weights_are_converted_with_a_warning(cli, bad, tmp_path):
    case = bad["nan_weights_converted"]
    out = tmp_path / "converted"
    result = convert(cli, case, out)
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        f"keras2torch: warning: {case.path}: layer 'dense' (Dense): weight 'dense.weight' holds "
        "1 NaN and 1 infinite values; converted as is\n"
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "model.py",
        "model.safetensors",
        "report.json",
        "report.md",
    ]


def test_raised_limits_let_the_file_through(cli, bad, tmp_path):
    """Each --max-* flag really raises its cap: the zip bomb converts once allowed."""
    case = bad["zip_bomb_ratio"]
    out = tmp_path / "converted"
    result = convert(cli, case, out, extra=("--max-zip-ratio", str(case.facts["ratio"])))
    assert result.returncode == 0, result.stderr
    assert (out / "model.safetensors").is_file()


@pytest.mark.parametrize("value", ["0", "-3", "lots"])
def test_limit_flags_want_a_positive_whole_number(cli, bad, tmp_path, value):
    out = tmp_path / "converted"
    result = convert(cli, bad["too_many_layers"], out, extra=("--max-layers", value))
    assert result.returncode == CONTRACT_STATUS
    assert result.stderr.startswith("keras2torch: error: --max-layers: ")
    assert not out.exists()


def test_failed_run_keeps_an_existing_output(cli, bad, tmp_path):
    """With --force, a conversion that fails leaves the previous output untouched."""
    out = tmp_path / "converted"
    out.mkdir()
    (out / "model.py").write_text("# the previous conversion\n")
    for name in ("transposed_kernel", "weights_fail_while_writing"):
        result = convert(cli, bad[name], out, extra=("--force",))
        assert result.returncode == CONTRACT_STATUS, result.stderr
        assert sorted(p.name for p in out.iterdir()) == ["model.py"]
        assert (out / "model.py").read_text() == "# the previous conversion\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["converted"]


def test_non_empty_output_needs_force(cli, bad, tmp_path):
    out = tmp_path / "converted"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    case = make_bad_inputs.BadInput(bad["weights_only_legacy"].path)
    result = convert(cli, case, out)
    assert result.returncode == CONTRACT_STATUS
    assert result.stderr == (
        f"keras2torch: error: output directory '{out}' is not empty; use --force to replace it\n"
    )
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_missing_file(cli, tmp_path):
    missing = tmp_path / "nowhere.h5"
    case = make_bad_inputs.BadInput(missing)
    assert_rejected(cli, case, tmp_path, [f"{missing}: no such file"])


def test_watchdog_ends_a_run_that_hangs(cli, tmp_path):
    """A read that never returns (here a FIFO nobody writes to; in the wild, a
    damaged HDF5 file that libhdf5 loops on) ends at --max-seconds."""
    fifo = tmp_path / "model.h5"
    os.mkfifo(fifo)
    parent = tmp_path / "outputs"
    parent.mkdir()
    case = make_bad_inputs.BadInput(fifo, args=("--max-seconds", "2"))
    result = convert(cli, case, parent / "converted")
    assert result.returncode == CONTRACT_STATUS
    assert result.stderr == (
        f"keras2torch: error: {fifo}: the run took longer than the limit of 2 seconds "
        "(raise it with --max-seconds); the file may be damaged\n"
    )
    assert list(parent.iterdir()) == []
