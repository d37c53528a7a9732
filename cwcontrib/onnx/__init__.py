"""ONNX graphs as weights (issue 15): a network shipped as an `.onnx` graph with its weights is data, checked
before use (check), fingerprinted from the graph (fingerprint) and re-evaluated by ONNX Runtime as its own
versioned harness (harness); export helpers write such graphs from framework models (export).

`onnx` and `onnxruntime` are imported on first use only: importing this package costs nothing.
"""

from __future__ import annotations

from cwcontrib.onnx.check import (
    DEFAULT_ONNX_LIMITS,
    STANDARD_DOMAINS,
    SUPPORTED_OPSETS,
    OnnxLimits,
    check_onnx_bytes,
    read_onnx,
)

__all__ = ["DEFAULT_ONNX_LIMITS", "STANDARD_DOMAINS", "SUPPORTED_OPSETS", "OnnxLimits", "check_onnx_bytes",
           "read_onnx"]
