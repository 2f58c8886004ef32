"""The keras.applications model zoo, shared by the slow tests and make_zoo_table.py.

Every architecture is built with weights=None at a small input size (the
smallest its builder accepts, or a slightly larger odd size where TF's
asymmetric 'same' padding then matters), a 10-class top without the final
softmax (logits compare more strictly than near one-hot probabilities), and
the weights randomised as the end-to-end harness does: BatchNorm statistics,
biases and constant-initialised weights (LayerScale's gamma, ...) replaced by
random values. Normalization layers that were never adapted hold variance 1;
they get random positive variances, so that their statistics are checked too.

RegNet exists only in tf_keras.applications; every other architecture is
built with Keras 3. Each is saved as .keras and as .h5, converted with the
CLI with both io-layouts and compared with Keras on the same random inputs.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

E2E = Path(__file__).resolve().parents[1] / "e2e"
if str(E2E) not in sys.path:
    sys.path.insert(0, str(E2E))

import harness

BATCH = 2


@dataclasses.dataclass(frozen=True)
class Arch:
    """One architecture: its builder's name, input size and Keras version."""

    name: str
    size: int = 32
    keras: int = 3
    module: str = ""  # tf_keras.applications submodule, for RegNet

    @property
    def formats(self) -> tuple[str, str]:
        tag = "k3" if self.keras == 3 else "tfk"
        return (f"{tag}.keras", f"{tag}.h5")

    def __repr__(self) -> str:
        return self.name


# Input sizes: 32 is the smallest most builders accept; InceptionV3 and
# InceptionResNetV2 need 75, Xception 71. Sizes that are not multiples of 32
# make some strided 'same' convolutions pad asymmetrically.
ARCHITECTURES = [
    Arch("VGG16", 32),
    Arch("VGG19", 32),
    Arch("ResNet50", 33),
    Arch("ResNet101", 32),
    Arch("ResNet152", 32),
    Arch("ResNet50V2", 35),
    Arch("ResNet101V2", 32),
    Arch("ResNet152V2", 32),
    Arch("InceptionV3", 75),
    Arch("InceptionResNetV2", 75),
    Arch("Xception", 71),
    Arch("MobileNet", 35),
    Arch("MobileNetV2", 37),
    Arch("MobileNetV3Small", 33),
    Arch("MobileNetV3Large", 32),
    Arch("DenseNet121", 35),
    Arch("DenseNet169", 32),
    Arch("DenseNet201", 32),
    Arch("NASNetMobile", 32),
    Arch("EfficientNetB0", 35),
    Arch("EfficientNetB1", 32),
    Arch("EfficientNetB2", 32),
    Arch("EfficientNetB3", 32),
    Arch("EfficientNetB4", 32),
    Arch("EfficientNetB5", 32),
    Arch("EfficientNetB6", 32),
    Arch("EfficientNetB7", 32),
    Arch("EfficientNetV2B0", 33),
    Arch("EfficientNetV2B1", 32),
    Arch("EfficientNetV2B2", 32),
    Arch("EfficientNetV2B3", 32),
    Arch("EfficientNetV2S", 32),
    Arch("ConvNeXtTiny", 32),
    Arch("ConvNeXtSmall", 32),
    Arch("RegNetX002", 32, keras=2, module="regnet"),
    Arch("RegNetX004", 35, keras=2, module="regnet"),
    Arch("RegNetX016", 32, keras=2, module="regnet"),
    Arch("RegNetY002", 32, keras=2, module="regnet"),
    Arch("RegNetY004", 35, keras=2, module="regnet"),
    Arch("RegNetY016", 32, keras=2, module="regnet"),
]

BY_NAME = {arch.name: arch for arch in ARCHITECTURES}

# channels_first variants. Keras 3 refuses to build DenseNet and ConvNeXt channels first
# ("DenseNet does not support the `channels_first` image data format"); tf_keras builds
# DenseNet121 so and runs it on CPU, so that one is the tf_keras model.
CHANNELS_FIRST = [
    BY_NAME["VGG16"],
    BY_NAME["ResNet50"],
    BY_NAME["MobileNetV2"],
    BY_NAME["EfficientNetB0"],
    dataclasses.replace(BY_NAME["DenseNet121"], keras=2),
]


def build(arch: Arch, data_format: str = "channels_last"):
    """The Keras model, weights=None, 10 logits."""
    k = harness.keras_module(arch.keras)
    k.backend.clear_session()
    k.utils.set_random_seed(harness._seed(arch.name) % (2**31))
    return build_uncleared(arch, data_format)


def build_uncleared(arch: Arch, data_format: str = "channels_last"):
    """build() in the current Keras session, with its dtype policy."""
    k = harness.keras_module(arch.keras)
    if data_format == "channels_first":
        shape = (3, arch.size, arch.size)
    else:
        shape = (arch.size, arch.size, 3)
    applications = k.applications
    if arch.module:
        applications = getattr(applications, arch.module)
    constructor = getattr(applications, arch.name)
    # The builders take the layout from the global image_data_format, not an argument; every
    # layer then records it in its config, so the global is restored straight after.
    previous = k.backend.image_data_format()
    k.backend.set_image_data_format(data_format)
    try:
        return constructor(weights=None, input_shape=shape, classes=10, classifier_activation=None)
    finally:
        k.backend.set_image_data_format(previous)


def randomize(model, seed: int) -> None:
    """The harness's randomisation, then positive variances for Normalization layers."""
    rng = np.random.default_rng(seed)
    harness.randomize_weights(model, rng)
    for layer in model.layers:
        if type(layer).__name__ != "Normalization":
            continue
        for variable in layer.weights:
            name = getattr(variable, "path", None) or variable.name
            value = np.asarray(variable.numpy())
            if name.rsplit("/", 1)[-1].startswith("variance"):
                variable.assign(rng.uniform(0.5, 2.0, size=value.shape).astype(value.dtype))
            elif name.rsplit("/", 1)[-1].startswith("mean"):
                variable.assign(rng.normal(0.0, 0.5, size=value.shape).astype(value.dtype))
        # Normalization computes the broadcast mean and variance it divides by once, when
        # built (and after loading): without this, Keras would still use 0 and 1.
        layer.finalize_state()


CALIBRATION_BATCH = 16


def calibrate_batch_norms(model, inputs: np.ndarray, rng: np.random.Generator) -> None:
    """Random BatchNorm statistics on the scale of the real activations, for Keras 3.

    Statistics drawn independently of the data (the harness's) let the activations of a
    deep network grow by up to 2.8x per BatchNorm: EfficientNetB7 reaches 1e6, where
    the float32 rounding of the inputs alone moves Keras's own outputs by 80%. So each
    BatchNorm's statistics are set, in graph order, from the root mean square r of its
    input channel on random images: mean N(0, 0.5) * r, variance U(0.5, 2) * r^2, and
    gamma +-U(0.5, 1) instead of the harness's +-U(0.5, 2), whose average gain above 1
    compounds over a hundred layers. They stay random (a mishandled statistic still
    shows) while each BatchNorm's output keeps a scale near 1. Dividing by r rather than
    by the batch's own standard deviation matters: a channel whose values barely vary
    would have its rounding errors amplified by the mean over the deviation. With this,
    every architecture's Keras noise (keras_noise) is below 1e-4 and the conversions
    match to about that noise. tf_keras models keep the harness's statistics.
    """
    if not hasattr(model, "_run_through_graph"):
        return
    # The test inputs are among the images, so that no channel meets, on them, values far
    # outside those it was calibrated on.
    shape = (CALIBRATION_BATCH - len(inputs),) + inputs.shape[1:]
    images = np.concatenate([inputs, rng.standard_normal(shape).astype("float32")])

    def operation_fn(operation):
        if type(operation).__name__ != "BatchNormalization":
            return operation

        def calibrated(x, *args, **kwargs):
            values = np.asarray(x, dtype=np.float64)
            axis = operation.axis % values.ndim
            reduce = tuple(a for a in range(values.ndim) if a != axis)
            square = np.maximum(np.mean(values**2, axis=reduce), 1e-4)
            mean = rng.normal(0.0, 0.5, size=square.shape) * np.sqrt(square)
            variance = rng.uniform(0.5, 2.0, size=square.shape) * square
            operation.moving_mean.assign(mean.astype("float32"))
            operation.moving_variance.assign(variance.astype("float32"))
            if operation.gamma is not None:
                gamma = rng.uniform(0.5, 1.0, size=square.shape) * rng.choice([-1, 1], square.shape)
                operation.gamma.assign(gamma.astype("float32"))
            return operation(x, *args, **kwargs)

        return calibrated

    model._run_through_graph(images, operation_fn=operation_fn)


def keras_noise(model, inputs: list, outputs: list, rng: np.random.Generator) -> float:
    """How far Keras's own outputs move when the inputs move by float32 rounding.

    The relative change of the outputs (as harness.relative_error measures it) when every
    input element is multiplied by 1 + 1e-7 * N(0, 1). A converted model computes in a
    different order and rounds differently; where this is near 1e-4, no float32
    implementation can be held to that tolerance, whatever its correctness.
    """
    nudged = [(x * (1 + 1e-7 * rng.standard_normal(x.shape))).astype(x.dtype) for x in inputs]
    moved = harness.keras_outputs(model, nudged)
    return max(harness.relative_error(a, b)[0] for a, b in zip(moved, outputs))


def float64_error(built: Built, fmt: str, out: Path, io_layout: str) -> float:
    """Relative error of the converted model against Keras, both computing in float64.

    Where a float32 comparison misses the tolerance on an ill-conditioned network, this
    tells rounding from a wrong conversion: with the same (float32) weights widened to
    float64, a correct conversion agrees with Keras to about float32's epsilon (the
    constants both read from the file), a wrong one does not.
    """
    import torch

    k = harness.keras_module(built.arch.keras)
    weights = k.models.load_model(built.files[fmt], compile=False).get_weights()
    k.backend.clear_session()  # resets Keras 3's dtype policy, so set it after
    if built.arch.keras == 3:
        k.config.set_dtype_policy("float64")
    else:
        k.backend.set_floatx("float64")
    try:
        model = build_uncleared(built.arch, built.data_format)
        model.set_weights([w.astype("float64") for w in weights])
        inputs = [x.astype("float64") for x in built.inputs]
        expected = [np.asarray(y) for y in harness.keras_outputs(model, inputs)]
    finally:
        if built.arch.keras == 3:
            k.config.set_dtype_policy("float32")
        else:
            k.backend.set_floatx("float32")
        k.backend.clear_session()
    report = json.loads((out / "report.json").read_text())
    converted = harness.import_model(out).load_model().double()
    args = []
    for entry, array in zip(report["inputs"], inputs):
        tensor = torch.from_numpy(array)
        perm = harness.boundary_perm(entry, io_layout, "input")
        args.append(tensor.permute(*perm).contiguous() if perm is not None else tensor)
    with torch.no_grad():
        result = converted(*args)
    actual = result if isinstance(result, (tuple, list)) else [result]
    # Classifier logits: (N, classes) in both layouts.
    return max(harness.relative_error(a.numpy(), b)[0] for a, b in zip(actual, expected))


@dataclasses.dataclass
class Built:
    """A saved architecture and Keras's outputs on its random inputs."""

    arch: Arch
    data_format: str
    files: dict[str, Path]
    inputs: list
    outputs: list
    params: int
    build_seconds: float
    keras_noise: float  # see keras_noise()

    def saved(self, fmt: str) -> harness.SavedModel:
        case = harness.Case(f"{self.arch.name}-{self.data_format}", build=None)
        return harness.SavedModel(case, fmt, self.files[fmt], None, self.inputs, self.outputs)


def build_and_save(arch: Arch, root: Path, data_format: str = "channels_last") -> Built:
    """Builds, randomises, runs Keras on random inputs and saves .keras and .h5."""
    start = time.perf_counter()
    model = build(arch, data_format)
    seed = harness._seed(f"{arch.name}/{data_format}")
    randomize(model, seed)
    rng = np.random.default_rng(seed + 1)
    shape = (BATCH,) + tuple(int(d) for d in model.inputs[0].shape[1:])
    inputs = [rng.standard_normal(shape).astype("float32")]
    calibrate_batch_norms(model, inputs[0], rng)
    outputs = harness.keras_outputs(model, inputs)
    noise = keras_noise(model, inputs, outputs, rng)
    directory = root / f"{arch.name}-{data_format}"
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for fmt in arch.formats:
        path = directory / ("model" + fmt[fmt.index(".") :])
        model.save(path)
        files[fmt] = path
    params = int(model.count_params())
    seconds = time.perf_counter() - start
    del model
    harness.keras_module(arch.keras).backend.clear_session()
    gc.collect()
    return Built(arch, data_format, files, inputs, outputs, params, seconds, noise)


@dataclasses.dataclass
class Converted:
    """One conversion: its files, report, time and how far it is from Keras."""

    out: Path
    report: dict
    seconds: float
    max_rel: float
    mismatch: str | None  # the harness's message when max_rel is over the tolerance

    @property
    def interior_permutes(self) -> int:
        return int(self.report["permutes"]["interior"])

    @property
    def boundary_permutes(self) -> int:
        return int(self.report["permutes"]["boundary"])

    def permutes_in_source(self) -> int:
        """.permute( calls in model.py, to check the report's count against the code."""
        return (self.out / "model.py").read_text().count(".permute(")


def convert_and_compare(cli: Path, built: Built, fmt: str, out: Path, io_layout: str) -> Converted:
    """Converts with the CLI (timed) and runs model.py on Keras's inputs.

    A failed conversion raises (AssertionError, from the harness); a numerical mismatch
    is returned in `mismatch`, so that the table can still show how large it is.
    """
    saved = built.saved(fmt)
    start = time.perf_counter()
    report = harness.convert(cli, saved, out, io_layout)
    seconds = time.perf_counter() - start
    actual = harness.run_converted(out, report, saved, io_layout)
    rel = max(harness.relative_error(a, b)[0] for a, b in zip(actual, saved.outputs))
    try:
        harness.compare(saved, actual, io_layout)
        mismatch = None
    except AssertionError as error:
        mismatch = str(error)
    return Converted(out, report, seconds, rel, mismatch)


def check_strict_load(out: Path) -> None:
    """The weights load into a fresh module with strict=True: none missing, none left over.

    load_model() does this too; doing it here keeps the check independent of model.py.
    """
    from safetensors.torch import load_file

    module = harness.import_model(out)
    model = module.load_model()
    model.load_state_dict(load_file(out / "model.safetensors"), strict=True)


# Deep networks at random weights amplify float32 rounding: perturbing the inputs by it
# (relative 1e-7) moves Keras's own outputs by zoo.keras_noise, up to 1.7e-4 here
# (RegNetY004) with zoo.calibrate_batch_norms, and by 80% (EfficientNetB7) without.
# Where that noise exceeds 1e-5, a float32 conversion may miss 1e-4 through rounding
# alone (Keras's float32 outputs are then themselves 1e-4 away from its float64 ones).
# Such a conversion passes only if, run in float64 against Keras run in float64 with the
# same weights, it agrees within FLOAT64_TOLERANCE (measured: 5e-7 or less; a wrong layer
# is off by far more).
ILL_CONDITIONED = 1e-5
FLOAT64_TOLERANCE = 1e-5


RESULTS_ENV = "K2T_ZOO_RESULTS"


def record_results(built: Built, results: list[dict]) -> None:
    """Saves one architecture's figures as JSON under $K2T_ZOO_RESULTS, when it is set.

    make_zoo_table.py --from-results then writes docs/model-zoo.md from a test run.
    """
    directory = os.environ.get(RESULTS_ENV)
    if not directory:
        return
    arch = built.arch
    data = {
        "name": arch.name,
        "size": arch.size,
        "keras": arch.keras,
        "data_format": built.data_format,
        "params": built.params,
        "build_seconds": built.build_seconds,
        "keras_noise": built.keras_noise,
        "results": results,
    }
    path = Path(directory) / f"{arch.name}-{built.data_format}-keras{arch.keras}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, data)


def cli_version(cli: Path) -> str:
    result = subprocess.run([str(cli), "--version"], capture_output=True, text=True, check=False)
    return (result.stdout or result.stderr).strip()


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")
