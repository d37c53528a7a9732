"""Keras 3 builders of the registry (imported by `registry.build` on first use: it imports keras).

The CIFAR-10 architectures are `keras.applications` exactly as the CrossedWires paper called them,
`X(weights=None, input_shape=..., classes=N)`, i.e. `include_top=True` with the library's own head.
With `weights=None` Keras accepts any input of at least 32×32 with its top, so "the library one at
32×32×3, 10 classes" needs no hand-made head:

- VGG16: 13 convolutions → Flatten (512 at 32×32) → Dense 4096 → Dense 4096 → Dense N, softmax;
- ResNet50 (v1): … → GlobalAveragePooling2D → Dense N, softmax;
- DenseNet121: … → BN → ReLU → GlobalAveragePooling2D → Dense N, softmax.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
from keras import layers

InputShape = tuple[int, int, int]
KerasBuilder = Callable[[int, InputShape, tuple[str, ...]], keras.Model]
"""(num_classes, input_shape (H, W, C), modifications in the registry's order) -> a freshly initialised model."""


def build(name: str, num_classes: int, input_shape: InputShape, modifications: tuple[str, ...]) -> keras.Model:
    """Dispatch for `registry.build`; arguments are already validated there."""
    return BUILDERS[name](num_classes, input_shape, modifications)


def _application(name: str, builder: Callable[..., keras.Model]) -> KerasBuilder:
    def build_application(num_classes: int, input_shape: InputShape, modifications: tuple[str, ...]) -> keras.Model:
        height, width, _ = input_shape
        if height < 32 or width < 32:
            from cwcontrib.architectures.registry import ArchitectureError

            raise ArchitectureError(f"{name} (tensorflow) cannot take input {input_shape} (H, W, C): it needs ≥ 32×32")
        activation: Any = None if "softmax-removed" in modifications else "softmax"
        return builder(
            weights=None, include_top=True, input_shape=input_shape, classes=num_classes,
            classifier_activation=activation,
        )

    return build_application


def digits_cnn(num_classes: int = 10, input_shape: InputShape = (8, 8, 1)) -> keras.Model:
    """The demo network, NHWC input (N, H, W, C) -> logits; 8,714 parameters at 8×8×1, 10 classes."""
    if input_shape[0] < 2 or input_shape[1] < 2:
        from cwcontrib.architectures.registry import ArchitectureError

        raise ArchitectureError(f"digits-cnn (tensorflow) cannot take input {input_shape}: it needs ≥ 2×2")
    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Conv2D(16, 3, padding="same", activation="relu", name="conv"),
            layers.MaxPooling2D(2, name="pool"),
            layers.Flatten(name="flatten"),
            layers.Dense(32, activation="relu", name="fc1"),
            layers.Dense(num_classes, name="fc2"),  # logits
        ],
        name="digits_cnn",
    )


BUILDERS: dict[str, KerasBuilder] = {
    "digits-cnn": lambda num_classes, input_shape, _: digits_cnn(num_classes, input_shape),
    "vgg16": _application("vgg16", keras.applications.VGG16),
    "resnet50": _application("resnet50", keras.applications.ResNet50),
    "densenet121": _application("densenet121", keras.applications.DenseNet121),
}
"""Registry name -> Keras builder (`docs/templates/architecture.py` shows a new one)."""
