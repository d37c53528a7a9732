"""PyTorch builders of the registry (imported by `registry.build` on first use: it imports torch)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

InputShape = tuple[int, int, int]
TorchBuilder = Callable[[int, InputShape, tuple[str, ...]], nn.Module]
"""(num_classes, input_shape (H, W, C), modifications in the registry's order) -> a freshly initialised module."""


class DigitsCNN(nn.Module):
    """The demo network, NCHW input (N, C, H, W) -> logits (N, num_classes); 8,714 parameters at 1×8×8, 10 classes.

    state_dict keys: conv.weight, conv.bias, fc1.weight, fc1.bias, fc2.weight, fc2.bias (the ReLUs are
    functional and the pool has no state, so keys match the demo's training script exactly).
    """

    def __init__(self, num_classes: int = 10, input_shape: InputShape = (8, 8, 1)) -> None:
        super().__init__()
        height, width, channels = input_shape
        self.conv = nn.Conv2d(channels, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * (height // 2) * (width // 2), 32)
        self.fc2 = nn.Linear(32, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv(x)))
        x = torch.flatten(x, 1)  # (N, 16, H/2, W/2) -> channel-major; Keras: channel-minor (tests/weight_layouts.py)
        x = torch.relu(self.fc1(x))
        out: torch.Tensor = self.fc2(x)
        return out


def build(name: str, num_classes: int, input_shape: InputShape, modifications: tuple[str, ...],
          *, meta: bool = False) -> nn.Module:
    """Dispatch for `registry.build`; arguments are already validated there."""
    # The meta device makes every parameter a shape without storage, so torchvision's initialisers are no-ops.
    device = torch.device("meta") if meta else contextlib.nullcontext()
    with device:
        return BUILDERS[name](num_classes, input_shape, modifications)


def _digits_cnn(num_classes: int, input_shape: InputShape, _: tuple[str, ...]) -> nn.Module:
    if input_shape[0] < 2 or input_shape[1] < 2:
        raise _shape_error("digits-cnn", input_shape, "height and width of at least 2 (one 2×2 max pool)")
    return DigitsCNN(num_classes, input_shape)


def _require_rgb(name: str, input_shape: InputShape, minimum: int) -> None:
    # torchvision's definitions hard-code 3 input channels; smaller images vanish in the pooling pyramid.
    height, width, channels = input_shape
    if channels != 3 or height < minimum or width < minimum:
        raise _shape_error(name, input_shape, f"3 channels and at least {minimum}×{minimum} pixels")


def _shape_error(name: str, input_shape: InputShape, needs: str) -> ValueError:
    from cwcontrib.architectures.registry import ArchitectureError

    return ArchitectureError(f"{name} (pytorch) cannot take input {input_shape} (H, W, C): it needs {needs}")


def _vgg16(num_classes: int, input_shape: InputShape, modifications: tuple[str, ...]) -> nn.Module:
    import torchvision  # type: ignore[import-untyped]  # no py.typed; not in pyproject's overrides

    _require_rgb("vgg16", input_shape, 32)
    model: Any = torchvision.models.vgg16(weights=None, num_classes=num_classes)
    if "avgpool-and-classifier-removed" in modifications:
        # At 32×32 the features end at 1×1×512; torchvision's AdaptiveAvgPool2d((7, 7)) copies that pixel
        # 49 times into a 25088-wide classifier. Flatten the features directly instead, as Keras does.
        flat = 512 * (input_shape[0] // 32) * (input_shape[1] // 32)
        model.avgpool = nn.Identity()
        # Same indices (0, 3, 6) as torchvision's classifier, so state_dict keys keep their names.
        model.classifier = nn.Sequential(
            nn.Linear(flat, 4096), nn.ReLU(True), nn.Dropout(0.5),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(0.5),
            nn.Linear(4096, num_classes),
        )
    if "dropout-removed" in modifications:
        for index, layer in enumerate(model.classifier):
            if isinstance(layer, nn.Dropout):
                model.classifier[index] = nn.Identity()
    built: nn.Module = model
    return built


def _resnet50(num_classes: int, input_shape: InputShape, _: tuple[str, ...]) -> nn.Module:
    import torchvision  # type: ignore[import-untyped]  # no py.typed; not in pyproject's overrides

    _require_rgb("resnet50", input_shape, 32)
    model: nn.Module = torchvision.models.resnet50(weights=None, num_classes=num_classes)
    return model


def _densenet121(num_classes: int, input_shape: InputShape, _: tuple[str, ...]) -> nn.Module:
    import torchvision  # type: ignore[import-untyped]  # no py.typed; not in pyproject's overrides

    _require_rgb("densenet121", input_shape, 32)
    model: nn.Module = torchvision.models.densenet121(weights=None, num_classes=num_classes)
    return model


BUILDERS: dict[str, TorchBuilder] = {
    "digits-cnn": _digits_cnn,
    "vgg16": _vgg16,
    "resnet50": _resnet50,
    "densenet121": _densenet121,
}
"""Registry name -> PyTorch builder (`docs/templates/architecture.py` shows a new one)."""
