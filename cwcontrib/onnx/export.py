"""Export helpers: a framework model as an ONNX graph the validator accepts (issue 15).

    from cwcontrib.onnx.export import export_torch
    export_torch(model, "weights/t01-pytorch.onnx", input_shape=(8, 8, 1))   # (height, width, channels)

PyTorch: `torch.onnx.export` with the TorchScript exporter (dynamo=False: no network, no onnxscript
rewriting), opset DEFAULT_OPSET, in inference mode without fusing BatchNorm into the convolutions before it
(TrainingMode.PRESERVE on a model in eval(), no constant folding: the graph keeps the architecture's layers, their
epsilon and momentum, for the fingerprint), one input `input` of shape (batch, channels, height, width) — the
run's layout is then NCHW — and one output `logits`, the batch dimension dynamic, every weight embedded in the
file (never external data). The bytes are checked with the validator's own `check_onnx_bytes` before anything is
written, then written beside the target and renamed over it, so an export that returns is a graph the weights
stage accepts.

Keras: Keras' own ONNX export (`model.export(path, format="onnx")`) and tf2onnx need the `tf2onnx` package, whose
protobuf pin conflicts with the TensorFlow this project supports; export_keras says so instead of guessing.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

from cwcontrib.atomic import write_bytes_atomic
from cwcontrib.onnx.check import check_onnx_bytes

DEFAULT_OPSET = 17


class OnnxExportError(ValueError):
    """The model could not be exported as a graph the validator accepts; the message says why."""


def torch_onnx_bytes(model: Any, input_shape: tuple[int, int, int], opset: int = DEFAULT_OPSET) -> bytes:
    """The serialized, checked ONNX graph of a torch.nn.Module taking NCHW float32 images of `input_shape`
    (height, width, channels)."""
    import torch

    from cwcontrib.weights import WeightsError

    height, width, channels = input_shape
    example = torch.zeros(1, channels, height, width, dtype=torch.float32)
    was_training = model.training
    model.eval()
    private = tempfile.TemporaryDirectory(prefix="cwcontrib-onnx-")
    written = Path(private.name) / "model.onnx"
    try:
        with warnings.catch_warnings():
            # The TorchScript exporter is deprecated in favour of the dynamo one, which rewrites through onnxscript;
            # for the plain image classifiers of a study both give the same graph, this one without a network.
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(model, (example,), written, dynamo=False, opset_version=opset, input_names=["input"],
                              output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                              do_constant_folding=False, export_params=True,
                              training=torch.onnx.TrainingMode.PRESERVE)
        data = written.read_bytes()  # the graph alone: anything the exporter put beside it is refused below
    except (RuntimeError, ValueError, TypeError) as exc:
        raise OnnxExportError(f"torch.onnx.export failed: {exc}") from exc
    finally:
        model.train(was_training)
        private.cleanup()
    try:
        check_onnx_bytes(data)
    except WeightsError as exc:
        raise OnnxExportError(f"the exported graph is refused by the validator ({exc.code}): {exc}") from None
    return data


def export_torch(model: Any, path: str | Path, input_shape: tuple[int, int, int], opset: int = DEFAULT_OPSET) -> Path:
    """Write `model` as a checked `.onnx` graph at `path` (atomically); returns the path."""
    target = Path(path)
    if target.suffix != ".onnx":
        raise OnnxExportError(f"{target.name}: an ONNX graph's file name ends in .onnx")
    write_bytes_atomic(target, torch_onnx_bytes(model, input_shape, opset))
    return target


def export_keras(model: Any, path: str | Path) -> Path:
    """Not available here: Keras' ONNX export runs through tf2onnx, which is not installed (its protobuf pin
    conflicts with TensorFlow 2.21)."""
    import importlib.util

    if importlib.util.find_spec("tf2onnx") is None:
        raise OnnxExportError("Keras to ONNX needs tf2onnx (Keras' model.export(format='onnx') uses it), which is not "
                              "installed here: its protobuf pin conflicts with TensorFlow 2.21. Submit Keras runs "
                              "as .weights.h5 (cwcontrib.export.save_keras) instead.")
    raise OnnxExportError("Keras to ONNX is not supported by cwcontrib yet")
