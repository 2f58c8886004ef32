"""Layer names that try to break out of the generated Python.

Keras stores layer names verbatim, and they reach model.py as attribute
names, local variables, comments and string literals. Each model here is
built and saved with real Keras under names holding quotes, triple quotes,
backslashes, newlines, code, Python keywords, non-ASCII text, names that
collide once sanitized ("a-b" and "a_b"), nn.Module attribute names and a
10,000-character name. The converted model.py is parsed with `ast` and
walked: every call must go to torch, nn, F, self, super, Path, load_file or
a generated helper, and the only imports are the fixed header's. Then it must
load with strict=True and compute what Keras computes.

tf_keras refuses most of these names (TensorFlow's scope names are
[A-Za-z0-9_.\\/>-]), so its model takes the ones it accepts; Keras 3 takes
all but '/'.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import keyword
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from test_bad_input import find_cli

LONG_NAME = "n" * 10000

# Keras 3: (input name, branch names, merge name, chain names, head name).
K3_NAMES = (
    "in\"put'\n",
    [
        'q"uote',
        "tri'''ple\"\"\"",
        "back\\slash",
        "new\nline",
        "__import__('os').system('x')",
        "class",
        "def",
        "lambda",
    ],
    "é",
    [
        "中文",
        "a-b",
        "a_b",
        "forward",
        "_modules",
        LONG_NAME,
        "with space",
        "a:b",
        "self",
        "x",
        "F",
        "torch",
        "nn",
        "super",
        '"""; import os; os.system(\'echo pwned\') #',
    ],
    '\\"""\\n\')\nraise SystemExit(3)\n#',
)

# tf_keras: what TensorFlow's scope names allow.
TFK_NAMES = (
    "in.put",
    ["back\\slash", "class", "def", "lambda", "a/b"],
    "forward",
    ["a-b", "a_b", LONG_NAME, "self", "x", "F", "torch", "nn", "super", "training"],
    "T_destination",
)

ALLOWED_IMPORTS = {
    "import torch",
    "import math",
    "from torch import nn",
    "from torch.nn import functional as F",
    "from pathlib import Path",
    "from safetensors.torch import load_file",
}
ALWAYS_CALLABLE_ROOTS = {"nn", "F", "torch", "self"}
CALLABLE_NAMES = {"super", "Path", "load_file"}
# Methods forward may call on its own tensors, and load_model on its locals.
LOCAL_METHODS = {
    "permute",
    "reshape",
    "view",
    "flatten",
    "contiguous",
    "transpose",
    "unsqueeze",
    "squeeze",
    "load_state_dict",
    "eval",
    "with_name",
}
FORBIDDEN_NAMES = {
    "os",
    "sys",
    "subprocess",
    "eval",
    "exec",
    "compile",
    "open",
    "__import__",
    "getattr",
    "setattr",
    "globals",
    "locals",
    "builtins",
    "__builtins__",
    "SystemExit",
}


def build_model(k, names):
    input_name, branch_names, merge_name, chain_names, head_name = names
    inputs = k.Input((4,), name=input_name)
    branches = [k.layers.Dense(4, activation="tanh", name=n)(inputs) for n in branch_names]
    x = k.layers.Add(name=merge_name)(branches)
    for name in chain_names:
        x = k.layers.Dense(4, activation="tanh", name=name)(x)
    head = k.layers.Dense(3, name=head_name)(x)
    return k.Model(inputs, [x, head], name="hostile\"\n'model")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """{flavour: (model file, Keras model)}, saved by real Keras."""
    import keras
    import tf_keras

    out = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(7)
    models = {}
    for flavour, k, names, filename in (
        ("k3.keras", keras, K3_NAMES, "hostile.keras"),
        ("tfk.h5", tf_keras, TFK_NAMES, "hostile.h5"),
    ):
        model = build_model(k, names)
        # Non-zero biases, so that a bias bound to the wrong layer shows.
        for layer in model.layers:
            weights = layer.get_weights()
            if weights:
                layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in weights])
        path = out / filename
        model.save(path)
        models[flavour] = (path, model)
    return models


def call_root(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node


def function_locals(function: ast.FunctionDef) -> set[str]:
    names = {a.arg for a in function.args.args + function.args.kwonlyargs}
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def calls_with_locals(node: ast.AST, local_names: set[str]):
    """(call, names local to its innermost function) for every call below `node`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from calls_with_locals(child, function_locals(child))
            continue
        if isinstance(child, ast.Call):
            yield child, local_names
        yield from calls_with_locals(child, local_names)


def check_calls(tree: ast.Module) -> list[str]:
    """Every call that is not to an allowed function or method, as text."""
    module_helpers = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    problems = []
    for node, local_names in calls_with_locals(tree, set()):
        func = node.func
        if isinstance(func, ast.Name):
            # super, Path, load_file, the model class and the generated helpers.
            if func.id in CALLABLE_NAMES or func.id in module_helpers:
                continue
            problems.append(ast.unparse(node)[:120])
            continue
        root = call_root(func)
        if isinstance(root, ast.Call):
            continue  # e.g. Path(...).with_name(...): the inner call is checked itself
        if isinstance(root, ast.Name) and root.id in ALWAYS_CALLABLE_ROOTS:
            continue
        if (
            isinstance(root, ast.Name)
            and root.id in local_names
            and isinstance(func, ast.Attribute)
            and func.attr in LOCAL_METHODS
        ):
            continue
        problems.append(ast.unparse(node)[:120])
    return sorted(set(problems))


def check_imports(tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                f"import {a.name}" + (f" as {a.asname}" if a.asname else "") for a in node.names
            ]
        elif isinstance(node, ast.ImportFrom):
            found += [
                f"from {node.module} import {a.name}" + (f" as {a.asname}" if a.asname else "")
                for a in node.names
            ]
    return [line for line in found if line not in ALLOWED_IMPORTS]


def import_model(out: Path):
    spec = importlib.util.spec_from_file_location(
        f"hostile_{abs(hash(str(out)))}", out / "model.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("flavour", ["k3.keras", "tfk.h5"])
def test_hostile_names(saved, tmp_path, flavour):
    import torch

    path, keras_model = saved[flavour]
    out = tmp_path / "converted"
    result = subprocess.run(
        [str(find_cli()), "convert", str(path), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    source = (out / "model.py").read_text()

    # It parses, and its only imports are the header's.
    tree = ast.parse(source)
    assert check_imports(tree) == []
    assert check_calls(tree) == []

    # No dangerous name is used as code anywhere (the names may appear inside
    # strings and comments, where they are inert).
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert node.id not in FORBIDDEN_NAMES, ast.unparse(node)
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_NAMES:
            assert ast.unparse(node) == "model.eval", ast.unparse(node)

    # Bounded lines, whatever the names' lengths.
    longest = max(len(line) for line in source.splitlines())
    assert longest <= 200, f"a line of {longest} characters"

    # Module attributes: valid, distinct, and not shadowing nn.Module's own.
    module = import_model(out)
    model = module.load_model()
    children = [name for name, _ in model.named_children()]
    assert len(children) == len(set(children))
    for name in children:
        assert name.isidentifier() and not keyword.iskeyword(name), name
        assert name not in dir(torch.nn.Module), name
        assert len(name) <= 60, name
    expected_layers = len([layer for layer in keras_model.layers if layer.get_weights()])
    assert len(children) == expected_layers

    # Same numbers as Keras.
    x = np.random.default_rng(1).normal(size=(3, 4)).astype("float32")
    reference = [np.asarray(r) for r in keras_model(x, training=False)]
    with torch.no_grad():
        outputs = model(torch.from_numpy(x))
    assert isinstance(outputs, tuple) and len(outputs) == 2
    for got, want in zip(outputs, reference):
        rel = np.abs(got.numpy() - want).max() / max(np.abs(want).max(), 1e-6)
        assert rel <= 1e-4, f"rel = {rel}"

    report = json.loads((out / "report.json").read_text())
    assert report["layers"], "the report lists the layers"
