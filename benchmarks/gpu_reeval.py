"""Re-evaluation throughput against a bare `model(x)` loop, for torchvision VGG16 and ResNet50.

Writes a 10,000-image test split in CIFAR-10's official binary format, saves freshly initialised
weights as safetensors, then for each model measures:

  bare     a plain fp32 loop `model(x[i:i+B])` over data already on the device (the ceiling);
  harness  cwcontrib's evaluation path: predict_torch (host->device copy, layout change, batches,
           argmax, device->host) — the ratio harness/bare is the figure the issue asks for (>= 0.8);
  end-to-end  read + check the weights file, build the reference model, load it strictly,
           preprocess the split and predict, as `cwcontrib validate` does per run.

Usage: python benchmarks/gpu_reeval.py [--device cuda|cpu] [--images N] [--repeats R]
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cwcontrib.architectures import build
from cwcontrib.datasets import load_test_split, preprocess
from cwcontrib.evaluate import BATCH_SIZE, load_torch_state, predict_torch
from cwcontrib.weights import read_weights

CIFAR_MEAN = [0.4914, 0.4822, 0.4465]
CIFAR_STD = [0.2470, 0.2435, 0.2616]


def write_cifar_binary(folder: Path, images: int, seed: int = 0) -> None:
    """Records of 1 label byte + 3072 channel-planar pixel bytes, as test_batch.bin."""
    rng = np.random.default_rng(seed)
    records = np.empty((images, 3073), dtype=np.uint8)
    records[:, 0] = rng.integers(0, 10, images)
    records[:, 1:] = rng.integers(0, 256, (images, 3072))
    target = folder / "cifar10" / "cifar-10-batches-bin"
    target.mkdir(parents=True)
    (target / "test_batch.bin").write_bytes(records.tobytes())


def write_safetensors(state: dict[str, np.ndarray], path: Path) -> None:
    """The safetensors format by hand (8-byte header length, JSON header, raw buffers)."""
    names = {np.dtype("float32"): "F32", np.dtype("int64"): "I64"}
    header: dict[str, object] = {}
    offset = 0
    for name, array in state.items():
        header[name] = {"dtype": names[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    raw = json.dumps(header).encode()
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(raw)) + raw)
        for array in state.values():
            handle.write(np.ascontiguousarray(array).tobytes())


def sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def best_of(repeats: int, device: str, work: object) -> float:
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        work()  # type: ignore[operator]
        sync(device)
        times.append(time.perf_counter() - start)
    return min(times)


def bare_loop(model: object, x_device: object) -> None:
    import torch

    with torch.inference_mode():
        for start in range(0, x_device.shape[0], BATCH_SIZE):  # type: ignore[attr-defined]
            model(x_device[start:start + BATCH_SIZE])  # type: ignore[index, operator]


def measure(name: str, device: str, data_dir: Path, work_dir: Path, repeats: int) -> dict[str, object]:
    import torch

    split = load_test_split("cifar10", data_dir, verify=False)
    n = len(split.labels)
    model = build(name, "pytorch", 10, (32, 32, 3)).eval().to(device)
    state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    weights = work_dir / f"{name}.safetensors"
    write_safetensors(state, weights)
    x = preprocess(split, 1 / 255, CIFAR_MEAN, CIFAR_STD)
    x_device = torch.from_numpy(x).to(device).permute(0, 3, 1, 2).contiguous()

    bare_loop(model, x_device)  # warm-up: cuDNN picks its algorithms here
    predict_torch(model, x, device)
    bare = best_of(repeats, device, lambda: bare_loop(model, x_device))
    harness = best_of(repeats, device, lambda: predict_torch(model, x, device))

    def end_to_end() -> None:
        tensors = read_weights(work_dir, weights.name, "safetensors")
        fresh = build(name, "pytorch", 10, (32, 32, 3), meta=True)
        load_torch_state(fresh, tensors)
        predict_torch(fresh, preprocess(split, 1 / 255, CIFAR_MEAN, CIFAR_STD), device)

    stages: dict[str, float] = {}
    start = time.perf_counter()
    tensors = read_weights(work_dir, weights.name, "safetensors")
    stages["read_weights_s"] = time.perf_counter() - start
    start = time.perf_counter()
    fresh = build(name, "pytorch", 10, (32, 32, 3), meta=True)
    stages["build_model_s"] = time.perf_counter() - start
    start = time.perf_counter()
    load_torch_state(fresh, tensors)
    stages["load_state_s"] = time.perf_counter() - start
    total = best_of(max(1, repeats // 2), device, end_to_end)
    return {
        "model": f"torchvision {name}", "device": device, "images": n, "batch": BATCH_SIZE,
        "weights_mb": round(weights.stat().st_size / 1e6, 1),
        "bare_images_per_s": round(n / bare), "harness_images_per_s": round(n / harness),
        "harness_over_bare": round(bare / harness, 3),
        "end_to_end_s": round(total, 3), **{k: round(v, 3) for k, v in stages.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", default="vgg16,resnet50")
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    torch.backends.cudnn.benchmark = True
    print(f"torch {torch.__version__}, device {args.device}"
          + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else ""))
    with tempfile.TemporaryDirectory() as tmp:
        data_dir, work_dir = Path(tmp) / "data", Path(tmp) / "work"
        work_dir.mkdir()
        write_cifar_binary(data_dir, args.images)
        for name in args.models.split(","):
            print(json.dumps(measure(name, args.device, data_dir, work_dir, args.repeats)))


if __name__ == "__main__":
    main()
