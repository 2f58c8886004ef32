"""Conversion speed and peak memory against Keras itself, measured in one run.

    .venv/bin/python bench/bench_convert.py [--model resnet50|mlp] [--repeat 3]

For each model file (.keras and .h5) it times, each in a fresh process:

  keras2torch   the command-line conversion (reads, transforms, writes)
  keras load    keras.models.load_model of the same file (the peer: what any
                Python route through Keras pays before it can even start)
  torch load    load_model() of the converted module (what a user pays later)

and reports wall time and peak resident memory, with ratios to the Keras
load. Peak memory is the child's ru_maxrss. The weights stream one tensor at a
time, so keras2torch's peak should stay near the largest tensor, not the
model's size.
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def cli() -> str:
    for candidate in (os.environ.get("K2T_CLI"), ROOT / ".venv/bin/keras2torch",
                      ROOT / "build/tools/keras2torch"):
        if candidate and Path(candidate).exists():
            return str(candidate)
    sys.exit("bench: no keras2torch binary found (run scripts/setup.sh first)")


def measure(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {command[:3]} failed: {process.stderr.read().decode()[-500:]}")
    return elapsed, usage.ru_maxrss / 1024.0


def build_models(kind: str, directory: Path) -> list[Path]:
    script = f"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras
if {kind!r} == "resnet50":
    model = keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3))
else:
    model = keras.Sequential([keras.Input((4096,))] + [keras.layers.Dense(4096) for _ in range(6)])
model.save({str(directory / 'model.keras')!r})
model.save({str(directory / 'model.h5')!r})
"""
    subprocess.run([PYTHON, "-c", script], check=True, capture_output=True)
    return [directory / "model.keras", directory / "model.h5"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["resnet50", "mlp"], default="mlp")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    binary = cli()
    work = Path(tempfile.mkdtemp(prefix="k2t-bench-"))
    try:
        files = build_models(args.model, work)
        print(f"model: {args.model}; best of {args.repeat} runs; peak RSS of the process")
        print(f"{'file':<14}{'step':<14}{'seconds':>10}{'peak MiB':>12}{'time ratio':>12}"
              f"{'memory ratio':>14}")
        for path in files:
            size = path.stat().st_size / 2**20
            out = work / (path.stem + path.suffix.replace(".", "_"))
            keras_load = [PYTHON, "-c",
                          "import os; os.environ['TF_CPP_MIN_LOG_LEVEL']='3'; import keras; "
                          f"keras.models.load_model({str(path)!r}, compile=False)"]
            convert = [binary, "convert", str(path), "-o", str(out), "--force"]
            torch_load = [PYTHON, "-c",
                          "import importlib.util, sys; "
                          f"s = importlib.util.spec_from_file_location('m', {str(out / 'model.py')!r}); "
                          "m = importlib.util.module_from_spec(s); s.loader.exec_module(m); "
                          "m.load_model()"]
            results = {}
            for name, command in (("keras load", keras_load), ("keras2torch", convert),
                                  ("torch load", torch_load)):
                runs = [measure(command) for _ in range(args.repeat)]
                results[name] = (min(r[0] for r in runs), min(r[1] for r in runs))
            base_time, base_memory = results["keras load"]
            print(f"{path.name} ({size:.0f} MiB)")
            for name, (seconds, memory) in results.items():
                print(f"{'':<14}{name:<14}{seconds:>10.2f}{memory:>12.0f}"
                      f"{seconds / base_time:>12.2f}{memory / base_memory:>14.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
