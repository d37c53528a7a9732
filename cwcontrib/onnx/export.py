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

Keras: Keras' own ONNX export (`model.export(path, format="onnx")`), run in a process of its own under the torch
backend (with the TensorFlow backend it needs tf2onnx, whose protobuf pin conflicts with TensorFlow 2.21): the
model is saved as a `.keras` archive, loaded there with safe_mode, exported with a dynamic batch dimension, its
input and output renamed `input` and `logits`, and checked like the PyTorch graphs. The run's layout is NHWC.

    from cwcontrib.onnx.export import export_keras
    export_keras(model, "weights/t01-keras.onnx")      # the input shape is the model's own
"""

from __future__ import annotations

import os
import subprocess
import sys
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
    return _checked(data)


def _checked(data: bytes) -> bytes:
    """`data` if the validator's own ONNX checks accept it (so an export that returns is a graph stage 4 accepts)."""
    from cwcontrib.weights import WeightsError

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


def export_keras(model: Any, path: str | Path, input_shape: tuple[int, int, int] | None = None,
                 opset: int = DEFAULT_OPSET) -> Path:
    """Write a Keras model as a checked `.onnx` graph at `path` (atomically); returns the path. The graph takes
    NHWC float32 images (`input`, batch dimension dynamic) and gives `logits`: the run's layout is NHWC."""
    target = Path(path)
    if target.suffix != ".onnx":
        raise OnnxExportError(f"{target.name}: an ONNX graph's file name ends in .onnx")
    write_bytes_atomic(target, keras_onnx_bytes(model, input_shape, opset))
    return target


def keras_onnx_bytes(model: Any, input_shape: tuple[int, int, int] | None = None, opset: int = DEFAULT_OPSET) -> bytes:
    """The serialized, checked ONNX graph of a Keras model, exported by Keras itself under the torch backend in a
    process of its own (cwcontrib.onnx.keras_export says why)."""
    if not callable(getattr(model, "save", None)) or not hasattr(model, "input_shape"):
        raise OnnxExportError(f"{type(model).__name__} is not a Keras model (no save() and input_shape)")
    shape = input_shape or _keras_input_shape(model)
    with tempfile.TemporaryDirectory(prefix="cwcontrib-onnx-") as private:
        archive, written = Path(private) / "model.keras", Path(private) / "model.onnx"
        model.save(archive)
        env = {**os.environ, "KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": ""}
        command = [sys.executable, "-m", "cwcontrib.onnx.keras_export", str(archive), str(written),
                   *map(str, shape), str(opset)]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=EXPORT_TIMEOUT, check=False)
        if done.returncode != 0 or not written.is_file():
            tail = done.stderr.strip().splitlines()[-5:]
            raise OnnxExportError(f"Keras' ONNX export failed (exit {done.returncode}): {' '.join(tail)}")
        data = _named_input_and_logits(written.read_bytes())
    return _checked(data)


# Loading Keras and torch and tracing a model: minutes at most even for the large reference networks.
EXPORT_TIMEOUT = 1800


def _keras_input_shape(model: Any) -> tuple[int, int, int]:
    shape = tuple(model.input_shape)
    if len(shape) != 4 or any(not isinstance(d, int) for d in shape[1:]):
        raise OnnxExportError(f"the model's input shape is {shape}; pass input_shape=(height, width, channels)")
    return shape[1], shape[2], shape[3]


def _named_input_and_logits(data: bytes) -> bytes:
    """Name the graph's one input `input` and one output `logits`, as export_torch's graphs are."""
    import onnx

    model = onnx.ModelProto.FromString(data)
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise OnnxExportError(f"the exported graph has {len(inputs)} inputs and {len(graph.output)} outputs, "
                              "not one each")
    renames = {inputs[0].name: "input", graph.output[0].name: "logits"}
    for value in (inputs[0], graph.output[0]):
        value.name = renames[value.name]
    for node in graph.node:
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]
    serialized: bytes = model.SerializeToString()
    return serialized
