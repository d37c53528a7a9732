"""Template for a new reference architecture of the registry (CONTRIBUTING.md section 10).

A complete, working example, "example-cnn": Conv(3×3, 8 filters, no bias) → BatchNorm → ReLU → MaxPool 2 →
flatten → Dense N logits, on sklearn-digits' 8×8×1 with 10 classes; 1,378 parameters. Copy each part to its
place and rename it:

1. `SPEC` → an `ArchitectureSpec(...)` entry in `_SPECS` of `cwcontrib/architectures/registry.py`; `definitions`
   then name where the builders live (`cwcontrib.architectures.torch_models.ExampleCNN`, ...), or the library
   definition they reproduce (`torchvision.models.vgg16`).
2. `ExampleCNN` and `example_cnn_torch` → `cwcontrib/architectures/torch_models.py`, with the name in its
   `BUILDERS`.
3. `example_cnn_keras` → `cwcontrib/architectures/keras_models.py`, with the name in its `BUILDERS`.
4. `architecture.md` (next to this file) → a section of `docs/architectures.md`.
5. The exact figures → `tests/test_architectures.py` (`test_parameter_counts`, a verdict test); the
   completeness check, `tests/test_architecture_parts.py`, picks the new name up by itself.

`tests/test_architecture_parts.py` registers this example as it is and checks that it is complete, so the
template cannot rot. Only cwcontrib's own trusted code goes here: no pretrained weights, no downloads, no code
from a submission.
"""

from __future__ import annotations

import keras
import torch
from keras import layers
from torch import nn

from cwcontrib.architectures.registry import ArchitectureError, ArchitectureSpec, InputShape

NAME = "example-cnn"

SPEC = ArchitectureSpec(
    name=NAME,
    description=(
        "Template example: Conv2d(C, 8, 3, pad 1, no bias) → BatchNorm(ε 1e-3) → ReLU → MaxPool 2 → flatten → "
        "Linear(8·H/2·W/2, N) logits; 1,378 parameters at 8×8×1, 10 classes"
    ),
    # Per framework (the manifest's names: "pytorch", "tensorflow"), the definition each builder reproduces.
    definitions={
        "pytorch": "docs.templates.architecture.ExampleCNN",
        "tensorflow": "docs.templates.architecture.example_cnn_keras",
    },
    default_input_shape=(8, 8, 1),  # (H, W, C) in both frameworks: NCHW and NHWC models take the same shape
    default_num_classes=10,
    # Per framework, modification name -> one line saying what it changes; the builder receives the names.
    # This example has one, in PyTorch: a builder must read every modification it declares.
    modifications={"pytorch": {"dropout-added": "Dropout(0.5) before the classifier (no parameters; Keras has none)"}},
    dataset="sklearn-digits",  # its shape and classes must be the defaults above (`cwcontrib datasets`)
    parameters={"pytorch": 1_378, "tensorflow": 1_378},  # at the defaults, no modifications; BatchNorm statistics
    #                                                      are buffers, not parameters
    pair_modifications={},  # per framework, what brings the pair closest, e.g. {"tensorflow": ("softmax-removed",)}
    pair_differences=(),  # the verdict kinds of that pair (`PairVerdict.kinds`); () = equivalent
    layout="ordered",  # `layout.torch_to_keras` maps the pair one to one, and the logits agree
)


class ExampleCNN(nn.Module):
    """NCHW input (N, C, H, W) -> logits (N, num_classes).

    state_dict keys (what submitted .safetensors files must hold): conv.weight, bn.weight, bn.bias,
    bn.running_mean, bn.running_var, bn.num_batches_tracked, fc.weight, fc.bias.
    """

    def __init__(self, num_classes: int, input_shape: InputShape, dropout: bool = False) -> None:
        super().__init__()
        height, width, channels = input_shape
        self.conv = nn.Conv2d(channels, 8, 3, padding=1, bias=False)
        # Keras's BatchNormalization(momentum=0.99) is PyTorch's momentum=0.01 (weight of the new batch); the
        # epsilons must be equal too, or the verdict names them (batchnorm-epsilon, batchnorm-momentum).
        self.bn = nn.BatchNorm2d(8, eps=1e-3, momentum=0.01)
        self.pool = nn.MaxPool2d(2)
        self.dropout = nn.Dropout(0.5) if dropout else nn.Identity()
        self.fc = nn.Linear(8 * (height // 2) * (width // 2), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.bn(self.conv(x))))
        # (N, 8, H/2, W/2) flattens channel-major here, channel-minor in Keras: layout.torch_to_keras permutes
        # fc's rows. A custom layer order (a flatten Keras does not have) would make the layout not "ordered".
        out: torch.Tensor = self.fc(self.dropout(torch.flatten(x, 1)))
        return out


def _check_shape(framework: str, input_shape: InputShape) -> None:
    # Refuse what the network cannot take with the registry's error, naming what it needs (CW412 in a submission).
    if input_shape[0] < 2 or input_shape[1] < 2:
        raise ArchitectureError(f"{NAME} ({framework}) cannot take input {input_shape} (H, W, C): it needs ≥ 2×2")


def example_cnn_torch(num_classes: int, input_shape: InputShape, modifications: tuple[str, ...]) -> nn.Module:
    """The PyTorch builder: `torch_models.BUILDERS[NAME]`. Arguments are validated by `registry.build`; it may be
    called on torch's meta device, so build with default initialisers only (no data-dependent code)."""
    _check_shape("pytorch", input_shape)
    return ExampleCNN(num_classes, input_shape, dropout="dropout-added" in modifications)


def example_cnn_keras(num_classes: int, input_shape: InputShape, modifications: tuple[str, ...]) -> keras.Model:
    """The Keras 3 builder: `keras_models.BUILDERS[NAME]`. NHWC input -> logits (no softmax: like PyTorch)."""
    _check_shape("tensorflow", input_shape)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Conv2D(8, 3, padding="same", use_bias=False, name="conv"),
            layers.BatchNormalization(epsilon=1e-3, momentum=0.99, name="bn"),
            layers.ReLU(name="relu"),
            layers.MaxPooling2D(2, name="pool"),
            layers.Flatten(name="flatten"),
            layers.Dense(num_classes, name="fc"),
        ],
        name="example_cnn",
    )
