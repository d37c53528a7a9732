"""Re-evaluation cost (issue 16): what cwcontrib's stage 5 adds over the work it cannot avoid.

    python3 benchmarks/bench_reeval.py [--repeats 3]                 # the demo's 10 runs, CPU
    python3 benchmarks/bench_reeval.py --gpu [--repeats 5]           # VGG16, ResNet50, DenseNet121 on CUDA

CPU (default): for each run of the demo submission (digits-cnn, PyTorch and Keras, 360 test images) the
harness's per-run path — the weights read and sha256-hashed, parsed by the safe reader, the reference built,
loaded strictly, the split preprocessed and predicted with `predict_torch` / `predict_keras` — against its floor:
the same bytes read and hashed plus a bare forward loop (`model(x)` over the same batches, no argmax, no checks) of
a model already built and loaded. Frameworks are imported before timing (bench_cold measures imports). Prints a
table and a JSON line; the ratio floor / harness is the figure (1.0 = no overhead).

--gpu: runs benchmarks/gpu_reeval.py (a 10,000-image CIFAR-10-format split; harness images/s against a bare loop,
goal >= 0.9 for all three models) with --models vgg16,resnet50,densenet121. Asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from cwcontrib.architectures import build  # noqa: E402
from cwcontrib.datasets import load_test_split, preprocess  # noqa: E402
from cwcontrib.evaluate import BATCH_SIZE, load_keras_weights, load_torch_state, predict_keras, predict_torch  # noqa: E402
from cwcontrib.weights import read_weights  # noqa: E402

DEMO = ROOT / "submissions" / "digits-cnn-pair"
FORMATS = {"pytorch": "safetensors", "keras": "keras-h5"}
FRAMEWORK = {"pytorch": "pytorch", "keras": "tensorflow"}


def median_time(repeats: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def read_and_hash(path: Path) -> bytes:
    data = path.read_bytes()
    hashlib.sha256(data).hexdigest()
    return data


def bare_forward(key: str, model: Any, x_nhwc: Any) -> None:
    if key == "pytorch":
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(x_nhwc).permute(0, 3, 1, 2).contiguous()
            for start in range(0, x.shape[0], BATCH_SIZE):
                model(x[start:start + BATCH_SIZE])
    else:
        for start in range(0, x_nhwc.shape[0], BATCH_SIZE):
            model(x_nhwc[start:start + BATCH_SIZE], training=False)


def harness_run(key: str, weights: str, split: Any, shape: tuple[int, int, int], rescale: float) -> None:
    """What stage 5 does for one run (the reader, the reference, the strict load, the harness's predict)."""
    read_and_hash(DEMO / weights)
    tensors = read_weights(DEMO, weights, FORMATS[key])
    x = preprocess(split, rescale)
    if key == "pytorch":
        model = build("digits-cnn", "pytorch", 10, shape, meta=True)
        load_torch_state(model, tensors)
        predict_torch(model, x, "cpu")
    else:
        model = build("digits-cnn", "tensorflow", 10, shape)
        load_keras_weights(model, tensors)
        predict_keras(model, x)


def measure_cpu(repeats: int) -> list[dict[str, Any]]:
    import tensorflow as tf
    import torch

    torch.set_num_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    manifest = yaml.safe_load((DEMO / "submission.yaml").read_text())
    dims = manifest["architecture"]["input_shape"]
    shape = (dims["height"], dims["width"], dims["channels"])
    split = load_test_split(manifest["dataset"]["name"])
    rescale = float(manifest["dataset"]["preprocessing"]["rescale"])
    rows = []
    for trial in manifest["trials"]:
        for key, run in sorted(trial["runs"].items()):
            figures = measure_run(key, run["weights"], split, shape, rescale, repeats)
            rows.append({"run": f"{trial['id']}/{key}", "images": len(split.labels), **figures})
    return rows


def measure_run(key: str, weights: str, split: Any, shape: tuple[int, int, int], rescale: float,
                repeats: int) -> dict[str, float]:
    x = preprocess(split, rescale)
    model = build("digits-cnn", FRAMEWORK[key], 10, shape, **({"meta": True} if key == "pytorch" else {}))
    tensors = read_weights(DEMO, weights, FORMATS[key])
    (load_torch_state if key == "pytorch" else load_keras_weights)(model, tensors)
    harness_run(key, weights, split, shape, rescale)  # warm-up (graph tracing, allocator)
    bare_forward(key, model, x)
    floor = median_time(repeats, lambda: (read_and_hash(DEMO / weights), bare_forward(key, model, x)))
    harness = median_time(repeats, lambda: harness_run(key, weights, split, shape, rescale))
    rebuild = median_time(repeats, lambda: build_and_load(key, shape, tensors))
    return {"floor_ms": round(floor * 1e3, 1), "harness_ms": round(harness * 1e3, 1),
            "of_which_build_and_load_ms": round(rebuild * 1e3, 1), "floor_over_harness": round(floor / harness, 3)}


def build_and_load(key: str, shape: tuple[int, int, int], tensors: dict[str, Any]) -> None:
    """The part of the harness's cost that is the reference model: built afresh per run, loaded strictly."""
    if key == "pytorch":
        load_torch_state(build("digits-cnn", "pytorch", 10, shape, meta=True), tensors)
    else:
        load_keras_weights(build("digits-cnn", "tensorflow", 10, shape), tensors)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gpu", action="store_true", help="run gpu_reeval.py on CUDA (VGG16, ResNet50, DenseNet121)")
    args = parser.parse_args()
    if args.gpu:
        command = [sys.executable, str(ROOT / "benchmarks" / "gpu_reeval.py"), "--device", "cuda",
                   "--models", "vgg16,resnet50,densenet121", "--repeats", str(args.repeats)]
        return subprocess.run(command, check=False).returncode
    rows = measure_cpu(args.repeats)
    print(f"{'run':<14} {'images':>6} {'floor ms':>9} {'harness ms':>11} {'build+load ms':>14} {'floor/harness':>14}")
    for row in rows:
        print(f"{row['run']:<14} {row['images']:>6} {row['floor_ms']:>9} {row['harness_ms']:>11} "
              f"{row['of_which_build_and_load_ms']:>14} {row['floor_over_harness']:>14}")
    for key in ("pytorch", "keras"):
        ratios = [r["floor_over_harness"] for r in rows if r["run"].endswith(key)]
        print(f"median floor/harness, {key}: {statistics.median(ratios):.3f}")
    print(json.dumps({"cpu_runs": rows}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
