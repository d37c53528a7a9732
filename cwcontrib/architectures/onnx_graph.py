"""ONNX graphs as data (issue 15, first step): read and check a submitted `.onnx` file without running it.

An ONNX model is a protobuf: data, not code. It is read here from its bytes only — never with
`onnx.load`, which follows external-data paths to other files (ONNX's external-data paths have had
path-traversal advisories) — and refused, with a stable problem kind, when it is:

- `unreadable`: not a regular file inside the submission folder (safefs), or over the size limit;
- `truncated`: not a complete ModelProto (the protobuf does not parse);
- `external-data`: any tensor whose data lives in another file (refused whatever the path says);
- `custom-domain`: an opset import, node or local function outside the standard ONNX domains;
- `opset`: a default-domain opset outside the supported range;
- `too-large`: more nodes, or tensors of more elements, than the limits allow, judged from declared
  dims before any tensor is decoded; or raw data whose length does not match its declared dims;
- `non-finite`: a floating-point initializer or constant with NaN or infinite values;
- `invalid`: what `onnx.checker` refuses in the parsed model.

Not yet wired into the validator's stages, findings or harnesses (see docs/architectures.md).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "ai.onnx.preview.training", "ai.onnx.training"})
MIN_OPSET = 13  # Resize/Split/Squeeze semantics settled; what torch.onnx and tf2onnx export today


@dataclass(frozen=True)
class OnnxLimits:
    max_bytes: int = 2 * 1024**3  # protobuf's own ceiling for one message
    max_nodes: int = 100_000
    max_tensor_elements: int = 500_000_000
    max_total_elements: int = 1_000_000_000
    max_opset: int | None = None  # None: the installed onnx's newest


DEFAULT_LIMITS = OnnxLimits()


class OnnxGraphError(ValueError):
    """A graph refused; `kind` is one of the module docstring's problem kinds."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class OnnxSummary:
    """What a checked graph holds."""

    opset: int
    nodes: int
    operators: tuple[tuple[str, int], ...]
    parameters: int
    """Elements of every initializer."""
    inputs: tuple[tuple[str, tuple[int | str, ...]], ...] = field(default=())


def read_onnx(root: Path, rel: str, limits: OnnxLimits = DEFAULT_LIMITS) -> tuple[Any, OnnxSummary]:
    """Read `root/rel` (confined to `root`) and check it; returns (ModelProto, summary) or raises OnnxGraphError."""
    from cwcontrib.safefs import UnsafeFile, open_confined

    try:
        with open_confined(root, rel) as handle:
            data = handle.read(limits.max_bytes + 1)
    except (UnsafeFile, OSError) as exc:
        raise OnnxGraphError("unreadable", f"{rel}: {exc}") from None
    if len(data) > limits.max_bytes:
        raise OnnxGraphError("unreadable", f"{rel}: larger than {limits.max_bytes:,} bytes")
    return check_bytes(data, limits)


def check_bytes(data: bytes, limits: OnnxLimits = DEFAULT_LIMITS) -> tuple[Any, OnnxSummary]:
    """Parse and check a serialized ModelProto; never touches another file."""
    import onnx
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped]

    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise OnnxGraphError("truncated", f"not a complete ONNX model: {exc}") from None
    if not model.HasField("graph"):
        raise OnnxGraphError("truncated", "not an ONNX model: no graph")
    opset = _check_opsets(model, limits)
    nodes = list(_nodes(model.graph))
    for function in model.functions:
        if function.domain not in STANDARD_DOMAINS:
            raise OnnxGraphError("custom-domain", f"local function {function.name!r} in domain {function.domain!r}")
        nodes.extend(function.node)
    if len(nodes) > limits.max_nodes:
        raise OnnxGraphError("too-large", f"{len(nodes):,} nodes, over the limit of {limits.max_nodes:,}")
    for node in nodes:
        if node.domain not in STANDARD_DOMAINS:
            raise OnnxGraphError("custom-domain", f"node {node.name or node.op_type!r} ({node.op_type}) in custom "
                                                  f"domain {node.domain!r}")
    tensors = [*_tensors(model.graph), *(t for n in nodes for t in _attribute_tensors(n))]
    total = 0
    for tensor in tensors:
        total += _check_tensor(tensor, limits)
    if total > limits.max_total_elements:
        raise OnnxGraphError("too-large", f"{total:,} tensor elements in all, over {limits.max_total_elements:,}")
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError) as exc:
        raise OnnxGraphError("invalid", f"onnx.checker refuses the model: {str(exc).splitlines()[0]}") from None
    for tensor in tensors:
        _check_finite(tensor)
    parameters = sum(math.prod(t.dims) for t in model.graph.initializer)
    inputs = tuple((i.name, tuple(d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim))
                   for i in model.graph.input)
    operators = tuple(sorted(Counter(n.op_type for n in nodes).items()))
    return model, OnnxSummary(opset, len(nodes), operators, parameters, inputs)


def _check_opsets(model: Any, limits: OnnxLimits) -> int:
    import onnx

    newest = limits.max_opset or onnx.defs.onnx_opset_version()
    opset = None
    for entry in model.opset_import:
        if entry.domain not in STANDARD_DOMAINS:
            raise OnnxGraphError("custom-domain", f"opset import of custom domain {entry.domain!r}")
        if entry.domain in ("", "ai.onnx"):
            opset = int(entry.version)
    if opset is None or not MIN_OPSET <= opset <= newest:
        raise OnnxGraphError("opset", f"default-domain opset {opset}; supported: {MIN_OPSET} to {newest}")
    return opset


def _nodes(graph: Any) -> Iterator[Any]:
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            if attribute.HasField("g"):
                yield from _nodes(attribute.g)
            for sub in attribute.graphs:
                yield from _nodes(sub)


def _tensors(graph: Any) -> Iterator[Any]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("g"):
                yield from _tensors(attribute.g)
            for sub in attribute.graphs:
                yield from _tensors(sub)


def _attribute_tensors(node: Any) -> Iterator[Any]:
    for attribute in node.attribute:
        if attribute.HasField("t"):
            yield attribute.t
        yield from attribute.tensors
        if attribute.HasField("sparse_tensor"):
            yield attribute.sparse_tensor.values
            yield attribute.sparse_tensor.indices


def _check_tensor(tensor: Any, limits: OnnxLimits) -> int:
    import onnx

    name = tensor.name or "(unnamed)"
    if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
        where = next((e.value for e in tensor.external_data if e.key == "location"), "?")
        raise OnnxGraphError("external-data", f"tensor {name!r} keeps its data in another file ({where!r}); "
                                              "external data is refused: embed the weights in the .onnx file")
    if any(d < 0 for d in tensor.dims):
        raise OnnxGraphError("invalid", f"tensor {name!r} has negative dims {list(tensor.dims)}")
    elements = math.prod(tensor.dims)
    if elements > limits.max_tensor_elements:
        raise OnnxGraphError("too-large", f"tensor {name!r} declares {elements:,} elements, over the limit of "
                                          f"{limits.max_tensor_elements:,}")
    if tensor.HasField("raw_data") and tensor.data_type != onnx.TensorProto.STRING:
        itemsize = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
        if len(tensor.raw_data) != elements * itemsize:
            raise OnnxGraphError("too-large", f"tensor {name!r} declares {elements:,} elements but holds "
                                              f"{len(tensor.raw_data):,} bytes")
    return int(elements)


def _check_finite(tensor: Any) -> None:
    from onnx import numpy_helper

    array = numpy_helper.to_array(tensor)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        raise OnnxGraphError("non-finite", f"tensor {tensor.name!r} has {bad} NaN or infinite values")
