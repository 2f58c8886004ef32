"""PyTorch's own tooling accepts converted models: torch.export and torch.compile.

Three architectures of the zoo (ResNet50: residual blocks; MobileNetV2: depthwise
convolutions and ReLU6; ConvNeXtTiny: LayerNormalization on the channels of an NCHW
tensor with layer scale), converted from .keras with the default PyTorch io-layout.
Each is exported with torch.export (strict, the full graph, no fallback to Python) and
compiled with torch.compile's default Inductor backend (which generates and builds C++
for the CPU), and must give the eager module's outputs.

Tolerance: the exported program runs the same ATen kernels as eager, so it must agree
to float32 rounding (rel 1e-6). Inductor fuses and reorders arithmetic (BatchNorm folded
into convolutions, its own reductions), which moves the outputs as much as rounding the
inputs does: it is held to 10 times the eager model's own change when its inputs move
by float32 rounding (relative 1e-7; about 1e-6 for these models at random weights, so
the bound stays well below the 1e-4 held against Keras). A wrong graph is off by O(1).
"""

from __future__ import annotations

import numpy as np
import pytest
import zoo

pytestmark = pytest.mark.slow

harness = zoo.harness
ARCHITECTURES = ["ResNet50", "MobileNetV2", "ConvNeXtTiny"]
EXPORT_TOLERANCE = 1e-6
NOISE_FACTOR = 10

_converted: dict[str, tuple] = {}


@pytest.fixture
def converted(cli, zoo_root, request):
    """(eager module, input tensor, eager output) for one architecture."""
    import torch

    name = request.param
    if name not in _converted:
        arch = zoo.BY_NAME[name]
        built = zoo.build_and_save(arch, zoo_root / f"tooling-{name}")
        fmt = arch.formats[0]
        out = zoo_root / f"tooling-{name}-torch"
        result = zoo.convert_and_compare(cli, built, fmt, out, "torch")
        assert result.mismatch is None, result.mismatch
        model = harness.import_model(out).load_model()
        x = torch.from_numpy(np.ascontiguousarray(built.inputs[0].transpose(0, 3, 1, 2)))
        with torch.no_grad():
            eager = model(x)
        _converted[name] = (model, x, eager)
    return _converted[name]


def relative(actual, expected) -> float:
    return harness.relative_error(actual.detach().numpy(), expected.detach().numpy())[0]


@pytest.mark.parametrize("converted", ARCHITECTURES, indirect=True)
def test_torch_export(converted):
    import torch

    model, x, eager = converted
    # A dynamic batch dimension: the generated code must not bake in the example's batch.
    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.export.export(model, (x,), dynamic_shapes=({0: batch},), strict=True)
    with torch.no_grad():
        exported = program.module()(x)
        # Against eager at batch 1 too: oneDNN picks other kernels for another batch size.
        single = program.module()(x[:1])
        single_eager = model(x[:1])
    rel = relative(exported, eager)
    assert rel <= EXPORT_TOLERANCE, f"the exported program changed the outputs: rel {rel:.2e}"
    rel = relative(single, single_eager)
    assert rel <= EXPORT_TOLERANCE, f"the exported program at batch 1: rel {rel:.2e}"


@pytest.mark.parametrize("converted", ARCHITECTURES, indirect=True)
def test_torch_compile(converted):
    import torch

    model, x, eager = converted
    generator = torch.Generator().manual_seed(0)
    nudged = x * (1 + 1e-7 * torch.randn(x.shape, generator=generator))
    compiled = torch.compile(model, backend="inductor", fullgraph=True)
    with torch.no_grad():
        noise = relative(model(nudged), eager)
        actual = compiled(x)
    rel = relative(actual, eager)
    bound = max(EXPORT_TOLERANCE, NOISE_FACTOR * noise)
    assert rel <= bound, (
        f"torch.compile changed the outputs: rel {rel:.2e}; eager moves by {noise:.2e} "
        "under float32 rounding of its inputs"
    )
    print(f"torch.compile: rel {rel:.2e}, eager noise {noise:.2e}")
