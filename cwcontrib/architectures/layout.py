"""Tensor layouts between a torchvision model and its keras.applications equivalent.

`torch_to_keras(torch_model, keras_model)` maps every convolution, dense and BatchNorm tensor of a
PyTorch model onto the Keras model's variables, pairing layers one to one in definition order
(torch `model.modules()`, Keras `model.layers`), and fails with `LayoutError` naming the first pair
that does not fit (a PyTorch model built on the meta device maps shapes only). It is what a logits
comparison of a table pair marked `ordered` needs (see `cwcontrib.architectures.equivalents`); it
runs only on models cwcontrib built itself.

Conventions (PyTorch → Keras):

- Conv2d weight (O, I/groups, kh, kw) → Conv2D kernel (kh, kw, I/groups, O);
- depthwise Conv2d (groups = in channels C, out C·m) weight (C·m, 1, kh, kw) → DepthwiseConv2D kernel
  (kh, kw, C, m);
- Linear weight (out, in) → Dense kernel (in, out); when the Dense reads a Flatten of an (H, W, C) map
  with H·W > 1, its rows are also permuted from PyTorch's (c, h, w) flatten order to Keras's (h, w, c);
- BatchNorm2d weight, bias, running_mean, running_var → gamma, beta, moving_mean, moving_variance
  (a Keras BatchNormalization without gamma or beta cannot take a PyTorch one that has them);
- biases as they are; a bias on one side only is a LayoutError (ResNet: Keras's convolutions have one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cwcontrib.architectures.registry import ArchitectureError


class LayoutError(ArchitectureError):
    """Two models whose weighted layers do not correspond one to one in definition order."""


@dataclass(frozen=True)
class Mapped:
    """One Keras layer's variables, computed from one PyTorch module."""

    torch_name: str
    keras_name: str
    arrays: tuple[np.ndarray, ...]


def _torch_layers(model: Any) -> list[tuple[str, str, Any]]:
    from torch import nn

    found: list[tuple[str, str, Any]] = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            depthwise = module.groups > 1 and module.groups == module.in_channels
            found.append((name, "depthwise" if depthwise else "conv", module))
        elif isinstance(module, nn.Linear):
            found.append((name, "dense", module))
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            found.append((name, "batchnorm", module))
    return found


def _keras_layers(model: Any) -> list[tuple[str, Any, tuple[int, ...] | None]]:
    """(kind, layer, flattened map shape or None) for the weighted layers, in definition order."""
    from keras import layers

    from cwcontrib.architectures.fingerprint_keras import _leaf_layers

    found: list[tuple[str, Any, tuple[int, ...] | None]] = []
    flattened: tuple[int, ...] | None = None
    for layer in _leaf_layers(model):
        if isinstance(layer, layers.Flatten):
            flattened = tuple(int(d) for d in layer.input.shape[1:])
            continue
        if isinstance(layer, layers.DepthwiseConv2D):
            found.append(("depthwise", layer, None))
        elif isinstance(layer, layers.Conv2D):
            found.append(("conv", layer, None))
        elif isinstance(layer, layers.Dense):
            found.append(("dense", layer, flattened))
            flattened = None
        elif isinstance(layer, layers.BatchNormalization):
            found.append(("batchnorm", layer, None))
    return found


def _numpy(tensor: Any) -> np.ndarray:
    if tensor.device.type == "meta":  # a shape-only model: the mapping checks shapes, its arrays hold nothing
        return np.empty(tuple(tensor.shape), dtype=np.float32)
    array: np.ndarray = tensor.detach().to("cpu").numpy()
    return array


def _convert(kind: str, module: Any, layer: Any, flattened: tuple[int, ...] | None) -> list[np.ndarray]:
    if kind == "conv":
        arrays = [_numpy(module.weight).transpose(2, 3, 1, 0)]
    elif kind == "depthwise":
        weight = _numpy(module.weight)  # (C·m, 1, kh, kw)
        channels = module.in_channels
        arrays = [weight.reshape(channels, weight.shape[0] // channels, *weight.shape[2:]).transpose(2, 3, 0, 1)]
    elif kind == "dense":
        weight = _numpy(module.weight)  # (out, in)
        if flattened is not None and len(flattened) == 3 and flattened[0] * flattened[1] > 1:
            height, width, channels = flattened
            weight = weight.reshape(-1, channels, height, width).transpose(0, 2, 3, 1).reshape(weight.shape[0], -1)
        arrays = [weight.T]
    else:
        arrays = []
        for present, tensor, what in ((layer.scale, module.weight, "gamma"), (layer.center, module.bias, "beta")):
            if tensor is not None and not present:
                raise LayoutError(f"Keras {layer.name} has no {what}; PyTorch's BatchNorm has one")
            if present:
                arrays.append(_numpy(tensor) if tensor is not None else np.ones(module.num_features, np.float32))
        arrays += [_numpy(module.running_mean), _numpy(module.running_var)]
        return [np.ascontiguousarray(a) for a in arrays]
    has_bias = getattr(module, "bias", None) is not None
    if has_bias != bool(getattr(layer, "use_bias", False)):
        raise LayoutError(f"bias on one side only: PyTorch {'has' if has_bias else 'has no'} bias, Keras "
                          f"{layer.name} {'has' if layer.use_bias else 'has no'} bias")
    if has_bias:
        arrays.append(_numpy(module.bias))
    return [np.ascontiguousarray(a) for a in arrays]


def torch_to_keras(torch_model: Any, keras_model: Any) -> list[Mapped]:
    """Every weighted layer of `torch_model` mapped onto `keras_model`, in order; LayoutError where they part."""
    ours, theirs = _torch_layers(torch_model), _keras_layers(keras_model)
    if len(ours) != len(theirs):
        raise LayoutError(f"PyTorch has {len(ours)} conv/dense/BatchNorm layers, Keras {len(theirs)}")
    mapped = []
    for index, ((name, kind, module), (keras_kind, layer, flattened)) in enumerate(zip(ours, theirs, strict=True)):
        where = f"layer {index}: PyTorch {name} ({kind}) vs Keras {layer.name} ({keras_kind})"
        if kind != keras_kind:
            raise LayoutError(f"{where}: different kinds")
        try:
            arrays = _convert(kind, module, layer, flattened)
        except LayoutError as exc:
            raise LayoutError(f"{where}: {exc}") from None
        expected = [tuple(int(d) for d in v.shape) for v in layer.weights]
        got = [a.shape for a in arrays]
        if expected != got:
            raise LayoutError(f"{where}: shapes {got} do not fit {expected}")
        mapped.append(Mapped(name, layer.name, tuple(arrays)))
    return mapped


def load_torch_into_keras(torch_model: Any, keras_model: Any) -> int:
    """Set `keras_model`'s variables from `torch_model` (see `torch_to_keras`); returns the layers set."""
    if any(t.device.type == "meta" for t in torch_model.state_dict().values()):
        raise LayoutError("the PyTorch model is on the meta device: it has shapes, no weights to load")
    mapped = torch_to_keras(torch_model, keras_model)
    layers = {layer.name: layer for _, layer, _ in _keras_layers(keras_model)}
    for item in mapped:
        layers[item.keras_name].set_weights(list(item.arrays))
    return len(mapped)
