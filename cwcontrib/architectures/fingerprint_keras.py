"""Keras 3 side of `fingerprint`: walk the layers of a built model; shapes come from its symbolic graph.

Nothing is executed: every Sequential/Functional layer knows its symbolic input and output shapes.
Nested models are walked into. Only public Keras API is used (`layer.input`, `layer.output`,
`layer.weights`), so that a Keras upgrade breaks loudly rather than silently.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import keras
from keras import layers

from cwcontrib.architectures.fingerprint import Census, FingerprintError, padding_kind, same_padding

_LAYER_KINDS: tuple[tuple[tuple[type[Any], ...], str], ...] = (
    ((layers.DepthwiseConv2D, layers.Conv2D), "conv2d"),
    ((layers.Dense,), "dense"),
    ((layers.BatchNormalization,), "batchnorm"),
    ((layers.MaxPooling2D, layers.AveragePooling2D, layers.GlobalAveragePooling2D, layers.GlobalMaxPooling2D),
     "pooling"),
    ((layers.Softmax,), "softmax"),
    ((layers.ReLU, layers.LeakyReLU, layers.ELU, layers.PReLU), "activation"),
    ((layers.Dropout, layers.SpatialDropout2D, layers.AlphaDropout, layers.GaussianDropout), "dropout"),
    ((layers.ZeroPadding2D,), "padding"),
    ((layers.Flatten, layers.Reshape), "reshape"),
    ((layers.Add, layers.Concatenate, layers.Multiply, layers.Average, layers.Maximum, layers.Subtract), "merge"),
    ((layers.Rescaling, layers.Normalization), "preprocessing"),
)

_PADDED = (layers.Conv2D, layers.DepthwiseConv2D, layers.MaxPooling2D, layers.AveragePooling2D)


def census(model: Any, input_shape: tuple[int, int, int]) -> Census:
    """Tally a Keras model built for NHWC input (None, H, W, C) = `input_shape`."""
    _check_input(model, input_shape)
    tally = Census("tensorflow")
    leaves = list(_leaf_layers(model))
    # A ZeroPadding2D feeding a conv/pool is that layer's padding, as PyTorch writes it (Conv2d(padding=3)).
    pads = {id(layer.output): layer for layer in leaves if isinstance(layer, layers.ZeroPadding2D)}
    folded = {id(pads[id(layer.input)]) for layer in leaves if isinstance(layer, _PADDED) and id(layer.input) in pads}
    for layer in leaves:
        if id(layer) in folded or _identity(layer):
            continue
        _count(layer, pads, tally)
    return tally


def _check_input(model: Any, input_shape: tuple[int, int, int]) -> None:
    try:
        declared = tuple(model.input_shape)
    except (AttributeError, ValueError) as exc:
        raise FingerprintError(f"the Keras model has no single defined input: {exc}") from exc
    if declared[1:] != input_shape:
        raise FingerprintError(f"the Keras model takes {declared} (None, H, W, C), not (None, *{input_shape})")


def _leaf_layers(model: Any) -> Iterator[Any]:
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer)
        elif not isinstance(layer, layers.InputLayer):
            yield layer


def _identity(layer: Any) -> bool:
    """An Activation("linear") computes nothing (keras.applications' ConvNeXt puts one where its stochastic depth
    would be, when drop_path_rate is 0): skipped, like PyTorch's nn.Identity."""
    return isinstance(layer, layers.Activation) and _activation_name(layer) == "linear"


def _kind(layer: Any) -> str:
    if isinstance(layer, layers.Activation):
        return "softmax" if _activation_name(layer) in ("softmax", "log_softmax") else "activation"
    for classes, kind in _LAYER_KINDS:
        if isinstance(layer, classes):
            return kind
    return "other"


def _activation_name(layer: Any) -> str:
    activation = getattr(layer, "activation", None)
    return str(getattr(activation, "__name__", "linear")) if activation is not None else "linear"


def _count(layer: Any, pads: dict[int, Any], tally: Census) -> None:
    kind = _kind(layer)
    tally.call(kind, type(layer).__name__)
    _count_state(layer, kind, tally)
    if isinstance(layer, layers.BatchNormalization):
        tally.batchnorm(layer.epsilon, 1.0 - float(layer.momentum))  # Keras weights the old value; see docstring
    if isinstance(layer, layers.Conv2D | layers.DepthwiseConv2D):
        _conv(layer, pads, tally)
    elif isinstance(layer, layers.Dense):
        kernel = tuple(layer.kernel.shape)
        tally.macs += math.prod(layer.output.shape[1:-1]) * kernel[0] * kernel[1]
        tally.dense_shapes.append((int(kernel[0]), int(kernel[1])))
    elif isinstance(layer, layers.MaxPooling2D | layers.AveragePooling2D):
        pool = _pair(layer.pool_size)
        tally.padding[f"pool:{_padding(layer, pool, _pair(layer.strides), (1, 1), pads)}"] += 1
    # Keras fuses an activation into Conv2D/Dense; count it as the separate layer PyTorch would have.
    if isinstance(layer, layers.Conv2D | layers.DepthwiseConv2D | layers.Dense):
        fused = _activation_name(layer)
        if fused != "linear":
            fused_kind = "softmax" if fused in ("softmax", "log_softmax") else "activation"
            tally.call(fused_kind, f"{type(layer).__name__}(activation={fused})")


def _count_state(layer: Any, kind: str, tally: Census) -> None:
    statistics = {id(v) for v in (getattr(layer, "moving_mean", None), getattr(layer, "moving_variance", None))
                  if v is not None} if isinstance(layer, layers.BatchNormalization) else set()
    trainable = {id(v) for v in layer.trainable_weights}
    for variable in layer.weights:
        size = math.prod(variable.shape)
        if id(variable) in statistics:
            tally.state(kind, 0, size)
            continue
        tally.state(kind, size)
        if id(variable) in trainable:
            tally.trainable += size


def _conv(layer: Any, pads: dict[int, Any], tally: Census) -> None:
    kernel = tuple(int(d) for d in layer.kernel.shape)  # (kh, kw, C_in/groups, C_out) or depthwise (kh, kw, C, m)
    kh_kw = (kernel[0], kernel[1])
    stride, dilation = _pair(layer.strides), _pair(layer.dilation_rate)
    depthwise = isinstance(layer, layers.DepthwiseConv2D)
    groups = kernel[2] if depthwise else int(getattr(layer, "groups", 1))
    bias = int(math.prod(layer.bias.shape)) if layer.use_bias and layer.bias is not None else 0
    tally.conv(kh_kw, stride, dilation, groups, bias)
    per_output = kh_kw[0] * kh_kw[1] * (1 if depthwise else kernel[2])
    tally.macs += math.prod(layer.output.shape[1:]) * per_output
    tally.padding[f"conv:{_padding(layer, kh_kw, stride, dilation, pads)}"] += 1


def _padding(layer: Any, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
             pads: dict[int, Any]) -> str:
    before, after = [0, 0], [0, 0]
    feeder = pads.get(id(layer.input))
    if feeder is not None:
        (top, bottom), (left, right) = feeder.padding
        before, after = [top, left], [bottom, right]
    if layer.padding == "same":
        spatial = _spatial(layer.input.shape, layer)
        for axis in range(2):
            b, a = same_padding(spatial[axis], kernel[axis], stride[axis], dilation[axis])
            before[axis] += b
            after[axis] += a
    return padding_kind(before, after)


def _spatial(shape: Any, layer: Any) -> tuple[int, int]:
    channels_first = getattr(layer, "data_format", "channels_last") == "channels_first"
    height, width = (shape[2], shape[3]) if channels_first else (shape[1], shape[2])
    if height is None or width is None:
        raise FingerprintError(f"layer {layer.name!r} has an undefined spatial input shape {shape}")
    return int(height), int(width)


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    items = tuple(int(v) for v in value)
    return items[0], items[1]
