"""PyTorch side of `fingerprint`: a shape-only forward pass on the meta device, watched by hooks.

The model's own tensors are never touched: `functional_call` swaps in meta-device stand-ins of every
parameter and buffer, so the pass allocates nothing, computes nothing, and works on models built with
`meta=True`. Leaf-module hooks see each layer call with its input and output shapes; a
TorchFunctionMode sees functional calls made *between* layers (`torch.relu`, `torch.flatten`,
`F.adaptive_avg_pool2d`, `out += identity`), which module hooks alone would miss.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from cwcontrib.architectures.fingerprint import Census, FingerprintError, padding_kind

_MODULE_KINDS: tuple[tuple[tuple[type[nn.Module], ...], str], ...] = (
    ((nn.Conv2d,), "conv2d"),
    ((nn.Linear,), "dense"),
    ((nn.modules.batchnorm._BatchNorm,), "batchnorm"),
    ((nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d), "pooling"),
    ((nn.Softmax, nn.LogSoftmax), "softmax"),
    ((nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardswish,
      nn.Hardtanh, nn.PReLU), "activation"),
    ((nn.Dropout, nn.Dropout2d, nn.AlphaDropout), "dropout"),
    ((nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d), "padding"),
    ((nn.Flatten, nn.Unflatten), "reshape"),
)

# Functional calls seen between layers, by __name__ (F.max_pool2d dispatches under other names).
_FUNCTION_KINDS: dict[str, str] = {
    **dict.fromkeys(("relu", "relu_", "relu6", "gelu", "silu", "sigmoid", "tanh", "hardswish", "leaky_relu",
                     "elu", "hardtanh"), "activation"),
    **dict.fromkeys(("softmax", "log_softmax"), "softmax"),
    **dict.fromkeys(("max_pool2d", "_max_pool2d", "max_pool2d_with_indices", "avg_pool2d", "adaptive_avg_pool2d",
                     "adaptive_max_pool2d", "_adaptive_max_pool2d", "adaptive_max_pool2d_with_indices"), "pooling"),
    **dict.fromkeys(("dropout", "dropout2d", "alpha_dropout"), "dropout"),
    **dict.fromkeys(("add", "add_", "__add__", "__iadd__", "__radd__", "cat", "concat", "concatenate", "stack"),
                    "merge"),
    **dict.fromkeys(("flatten", "view", "reshape"), "reshape"),
}

_SKIPPED = (nn.Identity,)


def census(model: nn.Module, input_shape: tuple[int, int, int]) -> Census:
    """Tally `model`'s state and one shape-only forward pass at (H, W, C) = `input_shape`, NCHW."""
    tally = Census("pytorch")
    _count_state(model, tally)
    _trace(model, input_shape, tally)
    return tally


# torchvision's own layers, by qualified class name (importing torchvision here only to name them would cost
# seconds): stochastic depth drops a residual branch in training, as Keras's EfficientNet does with a Dropout.
_NAMED_KINDS: dict[str, str] = {
    "torchvision.ops.stochastic_depth.StochasticDepth": "dropout",
    "torchvision.ops.misc.Permute": "reshape",
}


def module_kind(module: nn.Module) -> str:
    for classes, kind in _MODULE_KINDS:
        if isinstance(module, classes):
            return kind
    return _NAMED_KINDS.get(f"{type(module).__module__}.{type(module).__qualname__}", "other")


def _count_state(model: nn.Module, tally: Census) -> None:
    seen: set[int] = set()
    for module in model.modules():
        kind = module_kind(module)
        for parameter in module.parameters(recurse=False):
            if id(parameter) in seen:  # tied weights count once
                continue
            seen.add(id(parameter))
            tally.state(kind, parameter.numel())
            if parameter.requires_grad:
                tally.trainable += parameter.numel()
        for name, buffer in module.named_buffers(recurse=False):
            if name == "num_batches_tracked" or id(buffer) in seen:  # a step counter, see fingerprint's docstring
                continue
            seen.add(id(buffer))
            tally.state(kind, 0, buffer.numel())
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            tally.batchnorm(module.eps, module.momentum)
        if isinstance(module, nn.Conv2d):
            bias = 0 if module.bias is None else module.bias.numel()
            tally.conv(_pair(module.kernel_size), _pair(module.stride), _pair(module.dilation), module.groups, bias)


class _Watch(TorchFunctionMode):
    """Counts functional ops issued outside leaf modules (inside them, they are the module's own work)."""

    def __init__(self, tally: Census) -> None:
        super().__init__()
        self.tally = tally
        self.depth = 0

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        if self.depth == 0:
            name = getattr(func, "__name__", "")
            kind = _FUNCTION_KINDS.get(name)
            if kind is not None:
                self.tally.call(kind, name)
        return func(*args, **(kwargs or {}))


def _trace(model: nn.Module, input_shape: tuple[int, int, int], tally: Census) -> None:
    height, width, channels = input_shape
    watch = _Watch(tally)
    handles = []
    for module in model.modules():
        if next(module.children(), None) is not None or isinstance(module, _SKIPPED):
            continue
        handles.append(module.register_forward_pre_hook(_enter(watch)))
        handles.append(module.register_forward_hook(_leave(watch, tally)))
    stand_ins = {name: torch.empty_like(t, device="meta") for name, t in _named_state(model)}
    modes = {m: m.training for m in model.modules()}
    # eval(): BatchNorm refuses one-pixel batches in training mode, and dropout is then a no-op call.
    model.eval()
    try:
        x = torch.empty((1, channels, height, width), device="meta")
        with watch:
            torch.func.functional_call(model, stand_ins, (x,), strict=False)
    except FingerprintError:
        raise
    except Exception as exc:  # a model that cannot take this input shape: say so, with the framework's words
        raise FingerprintError(f"the model does not run on input (1, {channels}, {height}, {width}) NCHW: "
                               f"{type(exc).__name__}: {exc}") from exc
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training


def _named_state(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    return [*model.named_parameters(), *model.named_buffers()]


def _enter(watch: _Watch) -> Any:
    def hook(module: nn.Module, args: Any) -> None:
        watch.depth += 1

    return hook


def _leave(watch: _Watch, tally: Census) -> Any:
    def hook(module: nn.Module, args: Any, output: Any) -> None:
        watch.depth -= 1
        kind = module_kind(module)
        tally.call(kind, type(module).__name__)
        inputs = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if isinstance(output, torch.Tensor):
            _shapes(module, inputs, output, tally)

    return hook


def _shapes(module: nn.Module, inputs: torch.Tensor | None, output: torch.Tensor, tally: Census) -> None:
    """MACs, dense shapes and padding, from the shapes of one call."""
    per_sample = math.prod(output.shape[1:])
    if isinstance(module, nn.Conv2d):
        tally.macs += per_sample * math.prod(module.weight.shape[1:])  # (C_in/groups)·kh·kw per output value
        tally.padding[f"conv:{_padding(module, inputs)}"] += 1
    elif isinstance(module, nn.Linear):
        tally.macs += per_sample * module.in_features
        tally.dense_shapes.append((module.in_features, module.out_features))
    elif isinstance(module, nn.MaxPool2d | nn.AvgPool2d):
        pads = _pair(module.padding)
        text = padding_kind(pads, pads)
        tally.padding[f"pool:{text}{'+ceil' if module.ceil_mode else ''}"] += 1


def _padding(conv: nn.Conv2d, inputs: torch.Tensor | None) -> str:
    if isinstance(conv.padding, str):
        if conv.padding == "valid":
            return "valid"
        # PyTorch's 'same' (stride 1 only) puts the odd pixel after, like TensorFlow's.
        totals = [d * (k - 1) for d, k in zip(_pair(conv.dilation), _pair(conv.kernel_size), strict=True)]
        text = padding_kind([t // 2 for t in totals], [t - t // 2 for t in totals])
    else:
        pads = _pair(conv.padding)
        text = padding_kind(pads, pads)
    if text != "valid" and conv.padding_mode != "zeros":
        text += f"-{conv.padding_mode}"
    return text


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    items = tuple(int(v) for v in value)
    if len(items) != 2:
        raise FingerprintError(f"expected a 2-D layer setting, got {value!r}")
    return items[0], items[1]
