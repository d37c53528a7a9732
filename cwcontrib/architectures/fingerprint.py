"""Architecture fingerprints, comparable across frameworks; `verdict.compare` judges a pair of them.

A fingerprint is what a model *is*, read from the built model itself, in one convention for both
frameworks:

- **parameters** are every trainable and non-trainable weight *except* BatchNorm running statistics;
  **buffers** count those statistics (PyTorch `running_mean`/`running_var`, Keras `moving_mean`/
  `moving_variance`). PyTorch's `num_batches_tracked` counter is left out of both: it is a step
  counter, not model state Keras has, and would make every BatchNorm network differ by one per layer.
- **layers** are counted per normalised kind (conv2d, dense, batchnorm, pooling, activation, softmax,
  dropout, padding, preprocessing, merge, reshape, other) with their parameters and buffers and the
  framework's own type names. Preprocessing is input scaling and normalisation built into the model
  (Keras `Rescaling`, `Normalization`: keras.applications' EfficientNet, ConvNeXt, MobileNetV3);
  torchvision's stochastic depth counts as dropout, a Keras `Activation("linear")` not at all.
  Activations Keras fuses into Conv2D/Dense (`activation="relu"`) count as activation layers, so
  `Conv2D(activation="relu")` and `Conv2d` + `ReLU` fingerprint alike; a softmax is its own
  kind because it changes what the model returns (probabilities, not logits). PyTorch layers are
  counted per *call* in a shape-only forward pass (torchvision's ResNet calls one ReLU module three
  times per block), including functional calls such as `torch.relu` or `F.adaptive_avg_pool2d`.
  A Keras ZeroPadding2D that feeds a convolution or pooling is folded into that layer's padding, as
  PyTorch writes it (`Conv2d(padding=3)`), and is not counted as a layer.
- **macs** are multiply-accumulates of the convolution and dense layers for one input at the declared
  shape, computed from layer shapes (no arithmetic is run); FLOPs are reported as 2 × MACs
  (`Fingerprint.flops`). Pooling, normalisation and activations are not counted, in either framework.
- **BatchNorm momentum** is given in PyTorch's convention: the weight of the new batch statistic,
  `running = (1 - m)·running + m·batch`. Keras's `momentum` is the weight of the old value, so Keras
  0.99 is reported as 0.01. `None` is PyTorch's cumulative average (momentum=None).
- **padding** counts convolutions and poolings by how they pad: "valid" (none), "symmetric", or
  "asymmetric" (TensorFlow's "same" with a stride puts the odd pixel at the end; PyTorch pads both
  sides alike). Global and adaptive poolings have no padding and are not listed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: Layer kinds whose counts a verdict compares. Merges and reshapes are bookkeeping: torchvision's
#: DenseNet re-concatenates all features in every layer where Keras concatenates once per layer, and
#: a flatten after global pooling is a no-op, without any change in what the network computes.
COMPARED_KINDS = ("conv2d", "dense", "batchnorm", "pooling", "activation", "softmax", "dropout", "padding",
                  "preprocessing", "other")
KINDS = (*COMPARED_KINDS, "merge", "reshape")


class FingerprintError(ValueError):
    """The object is not a model this module can fingerprint, or not at the declared input shape."""


@dataclass(frozen=True)
class KindStats:
    """One layer kind in one model: how many calls, their own parameters and buffers, original types."""

    kind: str
    count: int
    parameters: int
    buffers: int
    types: tuple[tuple[str, int], ...] = ()

    def types_text(self) -> str:
        return ", ".join(f"{name}×{n}" for name, n in self.types) or "none"


@dataclass(frozen=True)
class Fingerprint:
    """A model's architecture in figures; deterministic, hashable, and JSON-ready through `as_dict`."""

    label: str
    framework: str
    input_shape: tuple[int, int, int]
    parameters: int
    trainable: int
    buffers: int
    macs: int
    layers: tuple[KindStats, ...]
    conv_with_bias: int
    conv_bias_parameters: int
    conv_geometry: tuple[tuple[str, int], ...]
    padding: tuple[tuple[str, int], ...]
    batchnorm_epsilon: tuple[float, ...]
    batchnorm_momentum: tuple[float | None, ...]
    dense_shapes: tuple[tuple[int, int], ...]

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def kind(self, kind: str) -> KindStats:
        """The stats of one layer kind (zeros when the model has none)."""
        for stats in self.layers:
            if stats.kind == kind:
                return stats
        return KindStats(kind, 0, 0, 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "framework": self.framework,
            "input_shape": list(self.input_shape),
            "parameters": self.parameters,
            "trainable": self.trainable,
            "non_trainable": self.parameters - self.trainable,
            "buffers": self.buffers,
            "macs": self.macs,
            "flops": self.flops,
            "layers": {
                s.kind: {"count": s.count, "parameters": s.parameters, "buffers": s.buffers, "types": dict(s.types)}
                for s in self.layers
            },
            "conv_with_bias": self.conv_with_bias,
            "conv_bias_parameters": self.conv_bias_parameters,
            "conv_geometry": dict(self.conv_geometry),
            "padding": dict(self.padding),
            "batchnorm_epsilon": list(self.batchnorm_epsilon),
            "batchnorm_momentum": list(self.batchnorm_momentum),
            "dense_shapes": [list(shape) for shape in self.dense_shapes],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fingerprint:
        """Inverse of `as_dict` (derived keys such as flops are ignored)."""
        return cls(
            label=data["label"],
            framework=data["framework"],
            input_shape=(int(data["input_shape"][0]), int(data["input_shape"][1]), int(data["input_shape"][2])),
            parameters=data["parameters"],
            trainable=data["trainable"],
            buffers=data["buffers"],
            macs=data["macs"],
            layers=tuple(
                KindStats(kind, v["count"], v["parameters"], v["buffers"], tuple(sorted(v["types"].items())))
                for kind, v in sorted(data["layers"].items())
            ),
            conv_with_bias=data["conv_with_bias"],
            conv_bias_parameters=data["conv_bias_parameters"],
            conv_geometry=tuple(sorted(data["conv_geometry"].items())),
            padding=tuple(sorted(data["padding"].items())),
            batchnorm_epsilon=tuple(data["batchnorm_epsilon"]),
            batchnorm_momentum=tuple(data["batchnorm_momentum"]),
            dense_shapes=tuple((int(i), int(o)) for i, o in data["dense_shapes"]),
        )


@dataclass
class Census:
    """Mutable tally the framework walkers fill in; `freeze` turns it into a Fingerprint."""

    framework: str
    count: Counter[str] = field(default_factory=Counter)
    params: Counter[str] = field(default_factory=Counter)
    buffer_elements: Counter[str] = field(default_factory=Counter)
    types: dict[str, Counter[str]] = field(default_factory=dict)
    conv_geometry: Counter[str] = field(default_factory=Counter)
    padding: Counter[str] = field(default_factory=Counter)
    conv_with_bias: int = 0
    conv_bias_parameters: int = 0
    epsilons: set[float] = field(default_factory=set)
    momenta: set[float | None] = field(default_factory=set)
    dense_shapes: list[tuple[int, int]] = field(default_factory=list)
    macs: int = 0
    trainable: int = 0

    def call(self, kind: str, type_name: str) -> None:
        """One execution of a layer (or functional op) of `kind`."""
        self.count[kind] += 1
        self.types.setdefault(kind, Counter())[type_name] += 1

    def state(self, kind: str, parameters: int, buffers: int = 0) -> None:
        """A layer's own state, counted once however often it is called."""
        self.params[kind] += parameters
        self.buffer_elements[kind] += buffers

    def conv(self, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int], groups: int,
             bias: int) -> None:
        key = f"{kernel[0]}x{kernel[1]}/s{_pair_text(stride)}"
        if dilation != (1, 1):
            key += f"/d{_pair_text(dilation)}"
        if groups != 1:
            key += f"/g{groups}"
        self.conv_geometry[key] += 1
        if bias:
            self.conv_with_bias += 1
            self.conv_bias_parameters += bias

    def batchnorm(self, epsilon: float, torch_momentum: float | None) -> None:
        self.epsilons.add(float(epsilon))
        # 1 - 0.99 is 0.010000000000000009 in binary floating point; 12 digits keep the intended value.
        self.momenta.add(None if torch_momentum is None else round(float(torch_momentum), 12))

    def freeze(self, label: str, input_shape: tuple[int, int, int]) -> Fingerprint:
        kinds = sorted(set(self.count) | set(self.params) | set(self.buffer_elements))
        layers = tuple(
            KindStats(k, self.count[k], self.params[k], self.buffer_elements[k],
                      tuple(sorted(self.types.get(k, Counter()).items())))
            for k in kinds
        )
        return Fingerprint(
            label=label,
            framework=self.framework,
            input_shape=input_shape,
            parameters=sum(self.params.values()),
            trainable=self.trainable,
            buffers=sum(self.buffer_elements.values()),
            macs=self.macs,
            layers=layers,
            conv_with_bias=self.conv_with_bias,
            conv_bias_parameters=self.conv_bias_parameters,
            conv_geometry=tuple(sorted(self.conv_geometry.items())),
            padding=tuple(sorted(self.padding.items())),
            batchnorm_epsilon=tuple(sorted(self.epsilons)),
            batchnorm_momentum=tuple(sorted(self.momenta, key=lambda m: (m is None, m or 0.0))),
            dense_shapes=tuple(self.dense_shapes),
        )


def _pair_text(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


def padding_kind(before: Iterable[int], after: Iterable[int]) -> str:
    """'valid', 'symmetric' or 'asymmetric' from per-dimension pads before and after."""
    pairs = list(zip(before, after, strict=True))
    if all(b == 0 and a == 0 for b, a in pairs):
        return "valid"
    return "symmetric" if all(b == a for b, a in pairs) else "asymmetric"


def same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding of one dimension: (before, after), the odd pixel after."""
    effective = (kernel - 1) * dilation + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


# --------------------------------------------------------------------------------------------- dispatch


def fingerprint(model: Any, input_shape: tuple[int, int, int] | list[int], label: str | None = None) -> Fingerprint:
    """Fingerprint a `torch.nn.Module` (NCHW) or `keras.Model` (NHWC) at `input_shape` (H, W, C).

    `label` names the model in verdicts (default: its framework). Dispatch looks at the class
    hierarchy, so fingerprinting a Keras model never imports torch and vice versa.
    """
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise FingerprintError(f"input_shape must be (height, width, channels), not {tuple(input_shape)!r}")
    hw_c = (shape[0], shape[1], shape[2])
    family = _family(model)
    if family == "pytorch":
        from cwcontrib.architectures import fingerprint_torch

        return fingerprint_torch.census(model, hw_c).freeze(label or "pytorch", hw_c)
    if family == "tensorflow":
        from cwcontrib.architectures import fingerprint_keras

        return fingerprint_keras.census(model, hw_c).freeze(label or "tensorflow", hw_c)
    raise FingerprintError(f"cannot fingerprint a {type(model).__module__}.{type(model).__qualname__}: "
                           "expected a torch.nn.Module or a keras.Model")


def _family(model: Any) -> str | None:
    for cls in type(model).__mro__:
        if cls.__module__ == "torch.nn.modules.module" and cls.__name__ == "Module":
            return "pytorch"
        if cls.__module__.startswith("keras.") and cls.__name__ in ("Model", "Layer"):
            return "tensorflow"
    return None
