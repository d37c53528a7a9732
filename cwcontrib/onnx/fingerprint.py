"""Fingerprints read from a checked ONNX graph, in the conventions of `cwcontrib.architectures.fingerprint`, so
`cwcontrib.architectures.compare` gives a verdict between two ONNX graphs, or an ONNX graph and a library or
registry reference, naming differing operators and attributes.

Nothing is run: the graph's declared input is fixed to one example at the declared (height, width, channels) in
the run's layout, and `onnx.shape_inference` gives every intermediate shape.

- **parameters** are the floating-point initializers a layer node reads, counted per node (exporters share one
  initializer between layers whose values are equal — every BatchNorm of an untrained network — so counting each
  initializer once would undercount; integer initializers are shapes and indices, not state); a
  BatchNormalization's `input_mean` and `input_var` are **buffers**. ONNX has no trainable flag: trainable =
  parameters.
- **layers** by operator: Conv → conv2d; Gemm, and MatMul with an initializer operand (its bias Add folded in,
  through Casts)
  → dense; BatchNormalization → batchnorm; Max/Average/Global pools → pooling; Relu, Sigmoid, Tanh, Clip, …
  → activation; Softmax, LogSoftmax → softmax; Dropout → dropout; Pad → padding; Flatten, Reshape, Transpose,
  Squeeze, Unsqueeze → reshape; Add, Mul, Concat, Sum of two computed tensors → merge; bookkeeping
  (Constant, Identity, Shape, Gather, Cast) is not counted; any other operator → other. Types are ONNX op types.
  A graph exported in inference mode has no Dropout: the verdict against a framework model names that.
- **macs**: Conv output elements × (C_in/groups)·kh·kw; dense: output elements × input features.
- **BatchNorm momentum** is ONNX's (the weight of the old value, as Keras'), reported in PyTorch's convention
  as 1 − momentum; epsilon as declared (ONNX default 1e-5).
- **padding**: a Conv's or pool's `pads` (or `auto_pad`, resolved from the inferred input size) as valid,
  symmetric or asymmetric; a MaxPool's `ceil_mode` is appended as `+ceil`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cwcontrib.architectures.fingerprint import Census, Fingerprint, FingerprintError, padding_kind, same_padding

ACTIVATIONS = frozenset({"Relu", "LeakyRelu", "PRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Celu", "HardSigmoid",
                         "HardSwish", "Gelu", "Clip", "Softplus", "Softsign", "Mish", "ThresholdedRelu"})
POOLS = frozenset({"MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"})
RESHAPES = frozenset({"Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze"})
MERGES = frozenset({"Add", "Mul", "Sub", "Div", "Concat", "Sum"})
BOOKKEEPING = frozenset({"Constant", "Identity", "Shape", "Gather", "Cast", "ConstantOfShape", "Size"})


def _attributes(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _shapes(model: Any, input_shape: tuple[int, int, int], layout: str) -> dict[str, tuple[int, ...]]:
    import onnx

    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    initializers = {t.name for t in fixed.graph.initializer}
    inputs = [i for i in fixed.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise FingerprintError(f"the graph has {len(inputs)} inputs; a classifier has one image input")
    height, width, channels = input_shape
    dims = [1, channels, height, width] if layout == "NCHW" else [1, height, width, channels]
    shape = inputs[0].type.tensor_type.shape
    if len(shape.dim) != 4:
        raise FingerprintError(f"the graph's input has rank {len(shape.dim)}; an image input has rank 4")
    # Said before the loop below overwrites the dims: a symbolic batch is shown by its name, an unknown dim as ?.
    declared = ", ".join(str(d.dim_value or d.dim_param or "?") for d in shape.dim)
    for dim, value in zip(shape.dim, dims, strict=True):
        if dim.HasField("dim_value") and dim.dim_value not in (0, value) and dim is not shape.dim[0]:
            raise FingerprintError(f"the graph's input is [{declared}], the declared {layout} input {dims[1:]}")
        dim.Clear()
        dim.dim_value = value
    try:
        inferred = onnx.shape_inference.infer_shapes(fixed, strict_mode=True, data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError, RuntimeError) as exc:
        raise FingerprintError(f"shape inference fails at the declared input {dims}: "
                               f"{str(exc).splitlines()[0][:300]}") from None
    shapes: dict[str, tuple[int, ...]] = {}
    graph = inferred.graph
    for info in [*graph.input, *graph.value_info, *graph.output]:
        tensor = info.type.tensor_type
        if tensor.HasField("shape") and all(d.HasField("dim_value") for d in tensor.shape.dim):
            shapes[info.name] = tuple(int(d.dim_value) for d in tensor.shape.dim)
    for init in graph.initializer:
        shapes[init.name] = tuple(int(d) for d in init.dims)
    return shapes


def onnx_fingerprint(model: Any, input_shape: tuple[int, int, int], layout: str = "NCHW",
                     label: str = "onnx") -> Fingerprint:
    """The fingerprint of a checked ModelProto at one example of `input_shape` (H, W, C) in `layout`."""
    import onnx

    if layout not in ("NCHW", "NHWC"):
        raise FingerprintError(f"layout {layout!r}: NCHW or NHWC")
    shapes = _shapes(model, input_shape, layout)
    graph = model.graph
    float_types = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16,
                   onnx.TensorProto.DOUBLE}
    weights = {t.name: math.prod(t.dims) for t in graph.initializer if t.data_type in float_types}
    # torch.onnx.export shares equal initializers through Identity nodes (bn2.running_mean = Identity(bn1's)):
    # such an alias is the initializer itself, read by this node.
    for node in graph.node:
        if node.op_type == "Identity" and node.input and node.input[0] in weights:
            weights[node.output[0]] = weights[node.input[0]]
            if node.input[0] in shapes:
                shapes[node.output[0]] = shapes[node.input[0]]
    tally = Census("onnx")
    folded: set[int] = set()  # bias Adds folded into the MatMul before them

    def own(node: Any, kind: str, buffers: tuple[str, ...] = ()) -> None:
        parameters = 0
        buffer_elements = 0
        for name in node.input:
            if name in weights:
                if name in buffers:
                    buffer_elements += weights[name]
                else:
                    parameters += weights[name]
        tally.state(kind, parameters, buffer_elements)
        tally.trainable += parameters

    for index, node in enumerate(graph.node):
        op = node.op_type
        attrs = _attributes(node)
        out = shapes.get(node.output[0]) if node.output else None
        if op == "Conv":
            tally.call("conv2d", op)
            own(node, "conv2d")
            w = shapes.get(node.input[1])
            if w is None or len(w) != 4:
                raise FingerprintError(f"Conv {node.name!r}: a 2-D convolution's weight has rank 4")
            kernel = (int(w[2]), int(w[3]))
            strides = tuple(attrs.get("strides", (1, 1)))
            dilations = tuple(attrs.get("dilations", (1, 1)))
            bias = weights.get(node.input[2], 0) if len(node.input) > 2 and node.input[2] else 0
            tally.conv(kernel, (int(strides[0]), int(strides[1])), (int(dilations[0]), int(dilations[1])),
                       int(attrs.get("group", 1)), bias)
            tally.padding[f"conv:{_pad_text(attrs, shapes.get(node.input[0]), kernel, strides, dilations)}"] += 1
            if out is not None:
                tally.macs += math.prod(out[1:]) * math.prod(w[1:])
        elif op in ("Gemm", "MatMul") and any(i in weights for i in node.input[:2]):
            tally.call("dense", op)
            w = shapes.get(node.input[1]) if node.input[1] in weights else shapes.get(node.input[0])
            if w is None or len(w) != 2:
                raise FingerprintError(f"{op} {node.name!r}: a dense layer's weight has rank 2")
            features_in, features_out = (w[1], w[0]) if op == "Gemm" and attrs.get("transB", 0) else (w[0], w[1])
            own(node, "dense")
            if op == "MatMul":  # the bias Add right after, reading an initializer, is this layer's
                bias = _bias_add(graph, node, weights)
                if bias is not None:
                    folded.add(bias)
                    own(graph.node[bias], "dense")
            tally.dense_shapes.append((int(features_in), int(features_out)))
            if out is not None:
                tally.macs += math.prod(out[1:]) * int(features_in)
        elif op == "BatchNormalization":
            tally.call("batchnorm", op)
            own(node, "batchnorm", buffers=tuple(node.input[3:5]))
            # float32 attributes, read back at their shortest float32 text (1e-05, not 9.99999974738e-06)
            epsilon, momentum = (float(str(np.float32(attrs.get(k, d)))) for k, d in (("epsilon", 1e-5),
                                                                                       ("momentum", 0.9)))
            tally.batchnorm(epsilon, 1.0 - momentum)
        elif op in POOLS:
            tally.call("pooling", op)
            own(node, "pooling")
            if not op.startswith("Global"):
                kernel = tuple(attrs.get("kernel_shape", (1, 1)))
                text = _pad_text(attrs, shapes.get(node.input[0]), kernel, tuple(attrs.get("strides", kernel)),
                                 tuple(attrs.get("dilations", (1, 1))))
                tally.padding[f"pool:{text}{'+ceil' if attrs.get('ceil_mode', 0) else ''}"] += 1
        elif op in ACTIVATIONS:
            tally.call("activation", op)
            own(node, "activation")
        elif op in ("Softmax", "LogSoftmax"):
            tally.call("softmax", op)
        elif op == "Dropout":
            tally.call("dropout", op)
        elif op == "Pad":
            tally.call("padding", op)
        elif op in RESHAPES:
            tally.call("reshape", op)
        elif index in folded or op in BOOKKEEPING:
            continue
        elif op in MERGES and not any(i in weights for i in node.input):
            tally.call("merge", op)
        else:
            tally.call("other", op)
            own(node, "other")
    return tally.freeze(label, input_shape)


def _bias_add(graph: Any, node: Any, weights: dict[str, int]) -> int | None:
    """The index of the Add that adds an initializer (a bias) to a MatMul's output, through Cast and Identity nodes
    (Keras' export under the torch backend casts float32 to float32 between them), or None."""
    name = node.output[0]
    for _ in range(len(graph.node)):
        consumers = [(j, n) for j, n in enumerate(graph.node) if name in n.input]
        if len(consumers) != 1:
            return None
        index, consumer = consumers[0]
        if consumer.op_type in ("Cast", "Identity"):
            name = consumer.output[0]
            continue
        return index if consumer.op_type == "Add" and any(i in weights for i in consumer.input) else None
    return None


def _pad_text(attrs: dict[str, Any], input_shape: tuple[int, ...] | None, kernel: tuple[int, ...],
              strides: tuple[int, ...], dilations: tuple[int, ...]) -> str:
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    if auto == "VALID":
        return "valid"
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        if input_shape is None or len(input_shape) != 4:
            return "same"
        before, after = [], []
        for size, k, s, d in zip(input_shape[2:], kernel, strides, dilations, strict=True):
            low, high = same_padding(int(size), int(k), int(s), int(d))
            before.append(low if auto == "SAME_UPPER" else high)
            after.append(high if auto == "SAME_UPPER" else low)
        return padding_kind(before, after)
    pads = [int(p) for p in attrs.get("pads", [0] * (2 * len(kernel)))]
    half = len(pads) // 2
    return padding_kind(pads[:half], pads[half:])


def compare_graphs(a: Any, b: Any, input_shape: tuple[int, int, int], layouts: tuple[str, str] = ("NCHW", "NCHW"),
                   labels: tuple[str, str] = ("a", "b")) -> Any:
    """The pair verdict (`cwcontrib.architectures.PairVerdict`) between two checked ONNX graphs."""
    from cwcontrib.architectures import compare

    return compare(onnx_fingerprint(a, input_shape, layouts[0], labels[0]),
                   onnx_fingerprint(b, input_shape, layouts[1], labels[1]))


def output_shape(model: Any, input_shape: tuple[int, int, int], layout: str = "NCHW") -> tuple[int, ...]:
    """The shape of the graph's single output for one example at the declared input ((1, classes) for a classifier);
    raises FingerprintError when it cannot be inferred."""
    outputs = list(model.graph.output)
    if len(outputs) != 1:
        raise FingerprintError(f"the graph has {len(outputs)} outputs; a classifier has one output of class scores")
    shape = _shapes(model, input_shape, layout).get(outputs[0].name)
    if shape is None:
        raise FingerprintError(f"the shape of the graph's output {outputs[0].name!r} cannot be inferred")
    return shape
