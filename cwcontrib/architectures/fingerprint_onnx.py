"""ONNX side of fingerprints: a checked graph (`onnx_graph.check_bytes`) tallied in the conventions of
`cwcontrib.architectures.fingerprint`, so that `verdict.compare` judges an ONNX graph against a library
or registry reference like any other pair.

Shapes come from onnx's shape inference at the declared input (H, W, C; the graph's first input is
NCHW, its batch dimension set to 1); nothing is run. Initializers count as the parameters of the node
that consumes them (BatchNormalization's mean and variance as buffers), through the Identity and Constant
nodes exporters name them with; ONNX's BatchNormalization
momentum weights the old value, like Keras's, and is reported in PyTorch's convention (1 − momentum).
"""

from __future__ import annotations

import math
from typing import Any

from cwcontrib.architectures.fingerprint import Census, Fingerprint, FingerprintError, padding_kind

_OP_KINDS: dict[str, str] = {
    "Conv": "conv2d", "Gemm": "dense", "MatMul": "dense", "BatchNormalization": "batchnorm",
    **dict.fromkeys(("MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"), "pooling"),
    **dict.fromkeys(("Softmax", "LogSoftmax"), "softmax"),
    **dict.fromkeys(("Relu", "LeakyRelu", "Elu", "Gelu", "Sigmoid", "Tanh", "HardSwish", "HardSigmoid", "Clip",
                     "PRelu", "Selu"), "activation"),
    "Dropout": "dropout", "Pad": "padding",
    **dict.fromkeys(("Add", "Sum", "Concat", "Mul"), "merge"),
    **dict.fromkeys(("Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Shape", "Gather",
                     "Constant"), "reshape"),
}


def fingerprint_onnx(model: Any, input_shape: tuple[int, int, int], label: str = "onnx") -> Fingerprint:
    """Fingerprint a checked ModelProto at (H, W, C) = `input_shape`."""
    import onnx
    from onnx import shape_inference

    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise FingerprintError(f"an ONNX graph with {len(inputs)} inputs; a classifier takes one")
    height, width, channels = input_shape
    sized = onnx.ModelProto()
    sized.CopyFrom(model)
    dims = sized.graph.input[[i.name for i in sized.graph.input].index(inputs[0].name)].type.tensor_type.shape.dim
    if len(dims) != 4:
        raise FingerprintError(f"the graph's input has {len(dims)} dimensions, not NCHW")
    declared = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in dims]
    wanted = (1, channels, height, width)
    if any(isinstance(d, int) and d != value for d, value in zip(declared[1:], wanted[1:], strict=True)):
        raise FingerprintError(f"the graph takes {declared}, not (N, {channels}, {height}, {width})")
    for dim, value in zip(dims, wanted, strict=True):
        dim.Clear()
        dim.dim_value = value
    try:
        inferred = shape_inference.infer_shapes(sized, strict_mode=True)
    except (onnx.shape_inference.InferenceError, ValueError) as exc:
        raise FingerprintError(f"shape inference failed at input {input_shape}: {exc}") from None
    shapes = {v.name: tuple(d.dim_value for d in v.type.tensor_type.shape.dim)
              for v in (*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input)}
    tally = Census("onnx")
    constants = dict(initializers)
    for node in inferred.graph.node:  # exporters share one initializer through Identity nodes, or inline Constants
        if node.op_type == "Identity" and node.input[0] in constants:
            constants[node.output[0]] = constants[node.input[0]]
        elif node.op_type == "Constant" and node.attribute and node.attribute[0].HasField("t"):
            constants[node.output[0]] = node.attribute[0].t
    for node in inferred.graph.node:
        if node.op_type in ("Identity", "Constant") and node.output[0] in constants:
            continue  # a name for a tensor, not a layer
        _count(node, constants, shapes, tally)
    return tally.freeze(label, input_shape)


def _attributes(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _count(node: Any, initializers: dict[str, Any], shapes: dict[str, tuple[int, ...]], tally: Census) -> None:
    kind = _OP_KINDS.get(node.op_type, "other")
    attributes = _attributes(node)
    tally.call(kind, node.op_type)
    weights = [initializers[name] for name in node.input if name in initializers]
    if node.op_type == "BatchNormalization":
        sizes = [math.prod(initializers[n].dims) if n in initializers else 0 for n in node.input[1:5]]
        tally.state(kind, sum(sizes[:2]), sum(sizes[2:]))
        tally.trainable += sum(sizes[:2])
        tally.batchnorm(float(attributes.get("epsilon", 1e-5)), 1.0 - float(attributes.get("momentum", 0.9)))
        return
    size = sum(math.prod(w.dims) for w in weights)
    if size:
        tally.state(kind, size)
        tally.trainable += size
    out = shapes.get(node.output[0], ())
    if node.op_type == "Conv":
        kernel = tuple(initializers[node.input[1]].dims) if node.input[1] in initializers else ()
        if len(kernel) != 4 or len(out) != 4:
            raise FingerprintError(f"Conv {node.name!r}: kernel {kernel} or output {out} is not 2-D")
        bias = math.prod(initializers[node.input[2]].dims) if len(node.input) > 2 and node.input[2] else 0
        strides = tuple(attributes.get("strides", (1, 1)))
        dilations = tuple(attributes.get("dilations", (1, 1)))
        tally.conv((kernel[2], kernel[3]), (strides[0], strides[1]), (dilations[0], dilations[1]),
                   int(attributes.get("group", 1)), bias)
        tally.macs += math.prod(out[1:]) * kernel[1] * kernel[2] * kernel[3]
        tally.padding[f"conv:{_padding(attributes)}"] += 1
    elif node.op_type in ("Gemm", "MatMul") and weights:
        kernel = tuple(weights[0].dims)
        transposed = bool(attributes.get("transB", 0)) if node.op_type == "Gemm" else False
        features = (kernel[1], kernel[0]) if transposed else (kernel[0], kernel[1])
        tally.dense_shapes.append((int(features[0]), int(features[1])))
        tally.macs += math.prod(out[1:-1]) * features[0] * features[1] if out else 0
    elif node.op_type in ("MaxPool", "AveragePool"):
        tally.padding[f"pool:{_padding(attributes)}{'+ceil' if attributes.get('ceil_mode') else ''}"] += 1


def _padding(attributes: dict[str, Any]) -> str:
    auto = attributes.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        return "asymmetric"  # exact only where the total is odd; ONNX leaves it to the runtime
    pads = list(attributes.get("pads", (0, 0, 0, 0)))
    half = len(pads) // 2
    return padding_kind(pads[:half], pads[half:])
