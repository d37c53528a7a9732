"""A submitted `.onnx` graph, read and checked as data before anything evaluates it (issue 15).

An ONNX model is a protobuf: data, not code. It is read here from its bytes only, through the submission
folder's confinement (safefs) and a size bound, and parsed with `ModelProto.FromString` — never with
`onnx.load(path)`, which follows external-data paths to other files (ONNX's external-data handling has
had path-traversal advisories). Each refusal carries a stable finding code:

- CW416 the path is not a regular file inside the folder (a link, a folder, missing), or over the size limit;
- CW417 the protobuf does not parse (truncated, damaged), has no graph, or a tensor's bytes do not match its dims;
- CW418 the default-domain opset is missing or outside SUPPORTED_OPSETS;
- CW419 an opset import, node or local function outside the standard domains ('' / ai.onnx, ai.onnx.ml);
- CW420 any tensor whose data lives in another file (refused whatever its path says; never followed);
- CW421 more nodes, a higher rank, or more elements than the limits, judged on declared dims before decoding;
- CW422 a floating-point initializer or constant with NaN or infinite values;
- CW423 what `onnx.checker.check_model(proto, full_check=False)` refuses.

The checks run in that order, so a file gets the first problem a reader would trip over; the checker and the
decoding of tensors only ever see a graph whose declarations are within the limits.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cwcontrib.limits import GiB
from cwcontrib.weights.base import WeightsError

STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
DEFAULT_DOMAINS = frozenset({"", "ai.onnx"})
# 13: Resize, Split, Squeeze and Unsqueeze took their present semantics; 23: the newest opset the pinned
# ONNX Runtime (1.32) implements in full. Both ends are tested.
SUPPORTED_OPSETS = range(13, 24)
# Sub-byte element types, packed in raw_data: onnx.numpy_helper writes ceil(elements * bits / 8) bytes. By
# TensorProto number (UINT4 INT4 FLOAT4E2M1 UINT2 INT2 FLOAT6E2M3 FLOAT6E3M2): onnx is imported only when needed.
_PACKED_BITS = {21: 4, 22: 4, 23: 4, 25: 2, 26: 2, 27: 6, 28: 6}


@dataclass(frozen=True)
class OnnxLimits:
    file_bytes: int = 2 * GiB - 1  # protobuf's own ceiling for one message
    nodes: int = 100_000
    rank: int = 16
    tensor_elements: int = 1 << 30  # one tensor, as declared by its dims
    total_elements: int = 1 << 31  # every tensor of the graph together (8 GiB of float32: the file bound is lower)
    subgraph_depth: int = 16  # If/Loop/Scan bodies within bodies


DEFAULT_ONNX_LIMITS = OnnxLimits()


def read_onnx(root: Path, rel: str, limits: OnnxLimits = DEFAULT_ONNX_LIMITS) -> Any:
    """The checked ModelProto of `root/rel` (confined to `root`); raises WeightsError with a finding code."""
    from cwcontrib.safefs import UnsafeFile, read_confined

    try:
        data = read_confined(root, rel, limits.file_bytes)
    except UnsafeFile as exc:
        code = "CW421" if exc.code == "CW207" else "CW416"
        raise WeightsError(code, str(exc)) from None
    except OSError as exc:
        raise WeightsError("CW416", f"cannot be read: {exc.strerror or exc}") from None
    return check_onnx_bytes(data, limits)


def check_onnx_bytes(data: bytes, limits: OnnxLimits = DEFAULT_ONNX_LIMITS) -> Any:
    """Parse and check a serialized ModelProto without touching any file; raises WeightsError."""
    import onnx
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped]

    if len(data) > limits.file_bytes:
        raise WeightsError("CW421", f"{len(data):,} bytes, over the limit of {limits.file_bytes:,}")
    try:
        model = onnx.ModelProto.FromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise WeightsError("CW417", f"not a complete ONNX model (the protobuf does not parse: {exc})") from None
    if not model.HasField("graph") or not model.opset_import:
        raise WeightsError("CW417", "not an ONNX model: no graph or no opset import")
    _check_opsets(model)
    nodes = list(_all_nodes(model, limits))
    if len(nodes) > limits.nodes:
        raise WeightsError("CW421", f"{len(nodes):,} nodes, over the limit of {limits.nodes:,}")
    for node in nodes:
        if node.domain not in STANDARD_DOMAINS:
            raise WeightsError("CW419", f"node {_name(node.name or node.op_type)} ({_name(node.op_type)}) is in "
                                        f"the custom domain {_name(node.domain)}")
    tensors = list(_all_tensors(model, nodes))
    total = 0
    for tensor in tensors:  # every external-data refusal first: nothing else may be read for such a file
        _refuse_external(tensor)
    for tensor in tensors:
        total += _declared_elements(tensor, limits)
    if total > limits.total_elements:
        raise WeightsError("CW421", f"{total:,} tensor elements in all, over the limit of {limits.total_elements:,}")
    for tensor in tensors:
        _check_values(tensor)
    try:
        onnx.checker.check_model(model, full_check=False)
    except (onnx.checker.ValidationError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError("CW423", f"onnx.checker refuses the graph: {_name(first[:300])}") from None
    return model


def _name(text: str) -> str:
    from cwcontrib.findings import printable

    return repr(printable(text[:120]))


def _check_opsets(model: Any) -> None:
    default = None
    for entry in model.opset_import:
        if entry.domain not in STANDARD_DOMAINS:
            raise WeightsError("CW419", f"the graph imports the custom operator domain {_name(entry.domain)}")
        if entry.domain in DEFAULT_DOMAINS:
            default = int(entry.version)
    if default not in SUPPORTED_OPSETS:
        raise WeightsError("CW418", f"default-domain opset {default}; supported: {SUPPORTED_OPSETS.start} to "
                                    f"{SUPPORTED_OPSETS.stop - 1}")


def _graph_nodes(graph: Any, limits: OnnxLimits, depth: int = 0) -> Iterator[Any]:
    if depth > limits.subgraph_depth:
        raise WeightsError("CW421", f"subgraphs nested deeper than {limits.subgraph_depth}")
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            if attribute.HasField("g"):
                yield from _graph_nodes(attribute.g, limits, depth + 1)
            for sub in attribute.graphs:
                yield from _graph_nodes(sub, limits, depth + 1)


def _all_nodes(model: Any, limits: OnnxLimits) -> Iterator[Any]:
    import onnx

    yield from _graph_nodes(model.graph, limits)
    for function in model.functions:
        if function.domain not in STANDARD_DOMAINS:
            raise WeightsError("CW419", f"local function {_name(function.name)} is in the custom domain "
                                        f"{_name(function.domain)}")
        if onnx.defs.has(function.name, "" if function.domain in DEFAULT_DOMAINS else function.domain):  # ai.onnx = ''
            raise WeightsError("CW419", f"local function {_name(function.name)} redefines a standard operator")
        for entry in function.opset_import:
            if entry.domain not in STANDARD_DOMAINS:
                raise WeightsError("CW419", f"local function {_name(function.name)} imports the custom domain "
                                            f"{_name(entry.domain)}")
        for node in function.node:
            yield node
            for attribute in node.attribute:
                if attribute.HasField("g"):
                    yield from _graph_nodes(attribute.g, limits, 1)
                for sub in attribute.graphs:
                    yield from _graph_nodes(sub, limits, 1)


def _graph_tensors(graph: Any) -> Iterator[Any]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("g"):
                yield from _graph_tensors(attribute.g)
            for sub in attribute.graphs:
                yield from _graph_tensors(sub)


def _all_tensors(model: Any, nodes: list[Any]) -> Iterator[Any]:
    """Initializers of the graph and its subgraphs, and every tensor a node attribute holds (Constant's value)."""
    yield from _graph_tensors(model.graph)  # depth already bounded by _all_nodes
    for node in nodes:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("sparse_tensor"):
                yield attribute.sparse_tensor.values
                yield attribute.sparse_tensor.indices
            for sparse in attribute.sparse_tensors:
                yield sparse.values
                yield sparse.indices


def _refuse_external(tensor: Any) -> None:
    import onnx

    if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
        where = next((e.value for e in tensor.external_data if e.key == "location"), "")
        raise WeightsError("CW420", f"tensor {_name(tensor.name or '(unnamed)')} keeps its data in another file"
                                    f"{' (' + _name(where) + ')' if where else ''}; external data is refused and "
                                    "never read")


def _declared_elements(tensor: Any, limits: OnnxLimits) -> int:
    name = _name(tensor.name or "(unnamed)")
    if len(tensor.dims) > limits.rank:
        raise WeightsError("CW421", f"tensor {name} has rank {len(tensor.dims)}, over the limit of {limits.rank}")
    if any(d < 0 for d in tensor.dims):
        raise WeightsError("CW417", f"tensor {name} has negative dims {list(tensor.dims)}")
    elements = math.prod(tensor.dims)
    if elements > limits.tensor_elements:
        raise WeightsError("CW421", f"tensor {name} declares {elements:,} elements, over the limit of "
                                    f"{limits.tensor_elements:,}")
    return int(elements)


def _check_values(tensor: Any) -> None:
    import onnx
    from onnx import numpy_helper

    name = _name(tensor.name or "(unnamed)")
    elements = math.prod(tensor.dims)
    if tensor.data_type == onnx.TensorProto.UNDEFINED:
        raise WeightsError("CW417", f"tensor {name} has no data type")
    if tensor.HasField("raw_data") and tensor.data_type != onnx.TensorProto.STRING:
        try:
            itemsize = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
        except (KeyError, TypeError, ValueError):
            raise WeightsError("CW417", f"tensor {name} has the unknown data type {tensor.data_type}") from None
        bits = _PACKED_BITS.get(tensor.data_type)  # 2-, 4- and 6-bit types: packed, the last byte padded
        expected = elements * itemsize if bits is None else (elements * bits + 7) // 8
        if len(tensor.raw_data) != expected:
            raise WeightsError("CW417", f"tensor {name} declares {elements:,} elements but holds "
                                        f"{len(tensor.raw_data):,} bytes")
    try:
        array = numpy_helper.to_array(tensor)
    except (ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise WeightsError("CW417", f"tensor {name} cannot be decoded: {_name(str(exc))}") from None
    if array.size != elements:
        raise WeightsError("CW417", f"tensor {name} declares {elements:,} elements but holds {array.size:,}")
    if array.dtype.kind not in "fc" and array.dtype.name.startswith(("float", "bfloat")):
        array = array.astype(np.float32)  # ml_dtypes' bfloat16 and float8 types: compare as float32
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        raise WeightsError("CW422", f"tensor {name} has {bad:,} NaN or infinite values")
