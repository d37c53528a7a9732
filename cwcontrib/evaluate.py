"""The evaluation harness: one piece of trusted code per framework, versioned and digested.

Two accuracies are comparable only when produced the same way (the original release measured PyTorch
as a mean of per-batch accuracies and TensorFlow with `model.evaluate`). Here both frameworks get the
same preprocessed float32 NHWC array, predict in fixed batches in inference mode, and are scored by
counting argmax == label over the whole split; the harness version and the sha256 of this file are
recorded with every result.
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HARNESS_VERSION = "2"  # 2: predictions stored in the smallest unsigned dtype that holds every class index
BATCH_SIZE = 1000
_PREDICTION_DTYPES = ("<u1", "<u2", "<u4")


class EvaluationError(Exception):
    """The framework refused the model or the input: the run cannot be verified (CW502). Any other exception
    raised while evaluating is cwcontrib's own failure (CW001), never blamed on the submission."""


def prediction_dtype(num_classes: int) -> np.dtype[Any]:
    """The smallest little-endian unsigned dtype that holds class indices 0..num_classes-1 without wrapping
    (uint8 would turn class 259 into 3, which may count as correct)."""
    for name in _PREDICTION_DTYPES:
        dtype = np.dtype(name)
        if num_classes - 1 <= np.iinfo(dtype).max:
            return dtype
    raise EvaluationError(f"{num_classes} classes: more than a uint32 class index holds")


def _as_predictions(classes: np.ndarray, num_classes: int) -> np.ndarray:
    return np.ascontiguousarray(classes, dtype=prediction_dtype(num_classes))


def harness_identity(framework: str) -> dict[str, str]:
    source = Path(__file__).read_bytes()
    return {"name": f"cwcontrib.evaluate/{framework}", "version": HARNESS_VERSION,
            "sha256": hashlib.sha256(source).hexdigest()}


def resolve_device(requested: str) -> str:
    """`auto` means CUDA when torch sees a GPU, else CPU."""
    if requested != "auto":
        return requested
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_torch_state(model: Any, tensors: dict[str, np.ndarray]) -> None:
    """Strict load: every reference key present, nothing unexpected (already checked in stage 4).

    `assign=True` lets the reference be built on the meta device: initialising VGG16's 134 M random
    parameters only to overwrite them took most of a re-evaluation's time (benchmarks/gpu_reeval.py).
    """
    import torch

    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in tensors.items()}
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except (RuntimeError, ValueError) as exc:  # what torch raises for keys or shapes the model refuses
        raise EvaluationError(f"torch refused the weights: {exc}") from exc


def write_clean_h5(tensors: dict[str, np.ndarray], path: Path) -> None:
    """Rewrite validated arrays into an HDF5 file of our own, so Keras never reads a submitted file."""
    import h5py

    with h5py.File(path, "w") as h5:
        for name, array in tensors.items():
            h5.create_dataset(name, data=array)


def load_keras_weights(model: Any, tensors: dict[str, np.ndarray]) -> None:
    with tempfile.TemporaryDirectory(prefix="cwcontrib-") as private:
        clean = Path(private) / "clean.weights.h5"
        write_clean_h5(tensors, clean)
        try:
            model.load_weights(clean)
        except ValueError as exc:  # what Keras raises for variables the model refuses
            raise EvaluationError(f"Keras refused the weights: {exc}") from exc


def keras_reference_tensors(model: Any) -> dict[str, np.ndarray]:
    """The variables a `.weights.h5` of this trusted model holds, by HDF5 path (Keras 3 layout)."""
    from cwcontrib.weights import read_weights

    with tempfile.TemporaryDirectory(prefix="cwcontrib-") as private:
        model.save_weights(Path(private) / "reference.weights.h5")
        return read_weights(Path(private), "reference.weights.h5", "keras-h5")


def predict_torch(model: Any, x_nhwc: np.ndarray, device: str) -> np.ndarray:
    """Predicted class per example; the whole split moves to the device once, then fixed batches."""
    import torch

    model.eval().to(device)
    predictions, width = [], 0
    with torch.inference_mode():
        x = torch.from_numpy(x_nhwc).to(device).permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW
        for start in range(0, x.shape[0], BATCH_SIZE):
            try:
                logits = model(x[start:start + BATCH_SIZE])
            except (RuntimeError, ValueError) as exc:  # torch's errors for an input the model refuses, and OOM
                raise EvaluationError(f"the model refused the input: {exc}") from exc
            width = int(logits.shape[-1])
            predictions.append(logits.argmax(dim=1))
        classes = torch.cat(predictions).to("cpu", torch.int64).numpy()
    return _as_predictions(classes, width)


def predict_keras(model: Any, x_nhwc: np.ndarray) -> np.ndarray:
    from tensorflow.errors import OpError

    predictions, width = [], 0
    for start in range(0, x_nhwc.shape[0], BATCH_SIZE):
        try:
            logits = np.asarray(model(x_nhwc[start:start + BATCH_SIZE], training=False))
        except (ValueError, OpError) as exc:  # Keras' errors for an input the model refuses, TensorFlow's op errors
            raise EvaluationError(f"the model refused the input: {exc}") from exc
        width = int(logits.shape[-1])
        predictions.append(logits.argmax(axis=1))
    return _as_predictions(np.concatenate(predictions), width)


@dataclass(frozen=True)
class Evaluation:
    """One run re-evaluated: the claim, the measurement, and the per-example predictions."""

    trial: str
    framework: str
    n: int
    claimed_correct: int
    measured_correct: int
    tolerance: int
    device: str
    harness: dict[str, str]
    predictions: bytes  # the predicted class per test example, in `dtype`
    dtype: str = "<u1"  # numpy dtype string of `predictions`: the smallest that holds every class index

    @property
    def reproduced(self) -> bool:
        return abs(self.claimed_correct - self.measured_correct) <= self.tolerance

    def classes(self) -> np.ndarray:
        return np.frombuffer(self.predictions, dtype=np.dtype(self.dtype))

    def as_dict(self) -> dict[str, Any]:
        return {
            "trial": self.trial,
            "framework": self.framework,
            "claimed": f"{self.claimed_correct}/{self.n}",
            "measured": f"{self.measured_correct}/{self.n}",
            "claimed_accuracy": self.claimed_correct / self.n,
            "measured_accuracy": self.measured_correct / self.n,
            "tolerance": self.tolerance,
            "reproduced": self.reproduced,
            "device": self.device,
            "harness": self.harness,
            "predictions": {
                "encoding": f"{np.dtype(self.dtype).name} little-endian class index per test example, base64",
                "dtype": self.dtype,
                "sha256": hashlib.sha256(self.predictions).hexdigest(),
                "data": base64.b64encode(self.predictions).decode("ascii"),
            },
        }
