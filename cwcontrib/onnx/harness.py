"""The ONNX Runtime harness: a checked ONNX graph re-evaluated as its own, versioned piece of trusted code.

A run shipped as an ONNX graph is evaluated by ONNX Runtime, not by the framework it was trained in, so what it
proves is weaker: "reproduced in ONNX Runtime" (the exported graph gives the claimed accuracy) is a distinct level
of evidence from "reproduced in its own framework" (the framework's trusted reference, loaded strictly with the
weights, gives it). Every result records EVIDENCE and this harness's identity (name, version, sha256 of this file,
the ONNX Runtime version and the execution provider), never the framework harness's.

The graph is the one `cwcontrib.onnx.check` accepted, handed to ONNX Runtime as bytes (no path, so nothing is
resolved against a folder; external data was refused before). The same preprocessed float32 NHWC array as the
framework harnesses, transposed to NCHW when the run declares that layout, is fed in fixed batches (the graph's own
batch size when it fixes one); the predicted class is the argmax of the single output, scored as everywhere else.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from cwcontrib.evaluate import BATCH_SIZE, EvaluationError, prediction_dtype

ONNX_HARNESS_VERSION = "1"
EVIDENCE = "onnxruntime"  # "reproduced in ONNX Runtime"; the framework harnesses' evidence is "framework"
EVIDENCE_LABELS = {"framework": "reproduced in its own framework", "onnxruntime": "reproduced in ONNX Runtime"}
PROVIDERS = {"cpu": ["CPUExecutionProvider"], "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"]}


def _ort_errors() -> tuple[type[BaseException], ...]:
    from onnxruntime.capi import onnxruntime_pybind11_state as state  # type: ignore[import-untyped]

    names = ("Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf", "NotImplemented", "RuntimeException",
             "EPFail", "NoModel", "NotFound", "EngineError")
    return tuple(getattr(state, n) for n in names if hasattr(state, n))


def resolve_onnx_device(requested: str) -> str:
    """`auto`: CUDA when ONNX Runtime has its CUDA provider, else CPU; an explicit `cuda` without it is refused."""
    import onnxruntime  # type: ignore[import-untyped]

    available = onnxruntime.get_available_providers()
    if requested == "auto":
        return "cuda" if "CUDAExecutionProvider" in available else "cpu"
    if requested not in PROVIDERS:
        raise EvaluationError(f"ONNX Runtime device {requested!r}: use cpu, cuda or auto")
    if requested == "cuda" and "CUDAExecutionProvider" not in available:
        raise EvaluationError("ONNX Runtime has no CUDAExecutionProvider here (install onnxruntime-gpu)")
    return requested


def onnx_harness_identity(device: str = "cpu") -> dict[str, str]:
    import onnxruntime  # type: ignore[import-untyped]

    return {"name": "cwcontrib.onnx.harness/onnxruntime", "version": ONNX_HARNESS_VERSION,
            "sha256": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
            "onnxruntime": onnxruntime.__version__, "provider": PROVIDERS[device][0], "evidence": EVIDENCE}


def session(model: Any, device: str = "cpu") -> Any:
    """An InferenceSession of a checked ModelProto, from its bytes, deterministic options, one explicit provider."""
    import onnxruntime  # type: ignore[import-untyped]

    options = onnxruntime.SessionOptions()
    # Basic optimisations only (constant folding, dead nodes): no fusions or layout rewrites that change numerics.
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.use_deterministic_compute = True
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=PROVIDERS[device])
    except _ort_errors() as exc:
        raise EvaluationError(f"ONNX Runtime refused the graph: {str(exc)[:500]}") from None


def _single_input(sess: Any) -> tuple[str, list[Any]]:
    inputs, outputs = sess.get_inputs(), sess.get_outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        raise EvaluationError(f"the graph has {len(inputs)} inputs and {len(outputs)} outputs; a classifier has one "
                              "image input and one output of class scores")
    if inputs[0].type != "tensor(float)":
        raise EvaluationError(f"the graph's input is {inputs[0].type}; the harness feeds tensor(float)")
    return inputs[0].name, list(inputs[0].shape)


def predict_onnx(model: Any, x_nhwc: np.ndarray, layout: str = "NCHW", device: str = "cpu") -> np.ndarray:
    """Predicted class per example of a checked graph; `layout` is the run's declared input layout."""
    if layout not in ("NCHW", "NHWC"):
        raise EvaluationError(f"layout {layout!r}: the harness feeds NCHW or NHWC")
    sess = session(model, device)
    name, shape = _single_input(sess)
    x = np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2)) if layout == "NCHW" else x_nhwc
    if len(shape) != x.ndim or any(isinstance(d, int) and d != got for d, got in zip(shape[1:], x.shape[1:],
                                                                                     strict=True)):
        raise EvaluationError(f"the graph's input {name!r} has shape {shape}; the declared {layout} input is "
                              f"{['N', *x.shape[1:]]}")
    batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else BATCH_SIZE
    predictions, width = [], 0
    for start in range(0, x.shape[0], batch):
        chunk = x[start:start + batch]
        real = chunk.shape[0]
        if real < batch and isinstance(shape[0], int):  # a fixed batch size: pad the last batch with zeros
            chunk = np.concatenate([chunk, np.zeros((batch - real, *chunk.shape[1:]), chunk.dtype)])
        try:
            (logits,) = sess.run(None, {name: chunk})
        except _ort_errors() as exc:
            raise EvaluationError(f"ONNX Runtime refused the input: {str(exc)[:500]}") from None
        logits = np.asarray(logits)
        if logits.ndim != 2 or logits.shape[0] != chunk.shape[0]:
            raise EvaluationError(f"the graph's output has shape {list(logits.shape)}; expected [batch, classes]")
        width = int(logits.shape[1])
        predictions.append(logits[:real].argmax(axis=1))
    classes = np.concatenate(predictions) if predictions else np.zeros(0, np.int64)
    return np.ascontiguousarray(classes, dtype=prediction_dtype(max(width, 1)))
