"""The trusted reference architectures: one registry name, one builder per framework.

Submitted weights are loaded strictly into models that *this* code builds, never into code from a
submission. Each entry says which library definition it reproduces and which declared modifications
it knows; anything else is an error that lists what is known.

Frameworks are named as in the manifest (`FrameworkName`): "pytorch" and "tensorflow" (Keras 3).
Neither framework is imported here: builders import them on first use, because importing either
costs seconds and most of cwcontrib never needs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

Framework = Literal["pytorch", "tensorflow"]
FRAMEWORKS: tuple[str, ...] = get_args(Framework)
InputShape = tuple[int, int, int]
"""(height, width, channels) whatever the layout: NCHW and NHWC models take the same shape here."""


class ArchitectureError(ValueError):
    """An unknown architecture, framework or modification, or an impossible shape."""


@dataclass(frozen=True)
class ArchitectureSpec:
    """What a registry name means: its library definitions, defaults and known modifications."""

    name: str
    description: str
    definitions: dict[str, str]
    """Per framework: the library definition reproduced, e.g. "torchvision.models.vgg16"."""
    default_input_shape: InputShape
    default_num_classes: int
    modifications: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per framework: modification name -> one-line description, in the order they are applied."""
    # What the entry promises, each checked by `parts.missing_parts` (tests/test_architecture_parts.py); a new
    # entry that leaves one at its default is incomplete. CONTRIBUTING.md section 10 has the checklist.
    dataset: str = ""
    """The dataset registry name (`cwcontrib datasets`) whose shape and classes are the defaults above."""
    parameters: dict[str, int] = field(default_factory=dict)
    """Per framework: parameters at the default shape and classes without modifications, as fingerprints count
    them (BatchNorm running statistics are buffers, not parameters)."""
    pair_modifications: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per framework: the modifications that bring the two builders closest; the pair verdict, the weight mapping
    and the logits comparison use them."""
    pair_differences: tuple[str, ...] | None = None
    """The pair's verdict kinds (`PairVerdict.kinds`), in order: () when equivalent; None when not declared."""
    layout: str = ""
    """"ordered" when `layout.torch_to_keras` maps the pair's PyTorch weights onto its Keras model (the logits
    then agree); otherwise words of the LayoutError it raises, e.g. "bias on one side only"."""


LIBRARY_DEFAULT_INPUT_SHAPE: InputShape = (32, 32, 3)
LIBRARY_DEFAULT_NUM_CLASSES = 10

_KERAS_SOFTMAX_REMOVED = (
    "classifier_activation=None: the model returns logits, like torchvision's, instead of the "
    "library default softmax probabilities"
)

_SPECS: dict[str, ArchitectureSpec] = {
    spec.name: spec
    for spec in (
        ArchitectureSpec(
            name="digits-cnn",
            description=(
                "The embedded demo network: Conv2d(C,16,3,pad 1)+ReLU, MaxPool 2, flatten, Linear(16·H/2·W/2, 32)"
                "+ReLU, Linear(32, N) logits; 8,714 parameters at 8×8×1, 10 classes"
            ),
            definitions={
                "pytorch": "cwcontrib.architectures.torch_models.DigitsCNN",
                "tensorflow": "cwcontrib.architectures.keras_models.digits_cnn",
            },
            default_input_shape=(8, 8, 1),
            default_num_classes=10,
            dataset="sklearn-digits",
            parameters={"pytorch": 8_714, "tensorflow": 8_714},
            pair_differences=(),
            layout="ordered",
        ),
        ArchitectureSpec(
            name="vgg16",
            description=(
                "VGG16 (Simonyan & Zisserman), configuration D, no batch normalisation. torchvision: features → "
                "AdaptiveAvgPool2d(7×7) → Linear 25088×4096 → 4096×4096 → 4096×N with Dropout(0.5) twice, logits; "
                "keras.applications (include_top=True, weights=None): features → Flatten (512 at 32×32) → "
                "Dense 4096 → 4096 → N, softmax"
            ),
            definitions={"pytorch": "torchvision.models.vgg16", "tensorflow": "keras.applications.VGG16"},
            default_input_shape=(32, 32, 3),
            default_num_classes=10,
            modifications={
                "pytorch": {
                    "avgpool-and-classifier-removed": (
                        "VGG16 without torchvision's adaptive average pool and 25088×4096 classifier: features → "
                        "flatten (512·H/32·W/32, 512 at 32×32) → Linear(·, 4096), ReLU, Dropout(0.5), "
                        "Linear(4096, 4096), ReLU, Dropout(0.5), Linear(4096, N) — Keras VGG16's head shape, "
                        "keeping torchvision's dropout (the CrossedWires paper's PyTorch variant)"
                    ),
                    "dropout-removed": (
                        "the classifier's Dropout layers replaced by Identity (Keras VGG16's head has no dropout); "
                        "state_dict keys are unchanged"
                    ),
                },
                "tensorflow": {"softmax-removed": _KERAS_SOFTMAX_REMOVED},
            },
            dataset="cifar10",
            parameters={"pytorch": 134_301_514, "tensorflow": 33_638_218},
            pair_modifications={"pytorch": ("avgpool-and-classifier-removed", "dropout-removed"),
                                "tensorflow": ("softmax-removed",)},
            pair_differences=(),
            layout="ordered",
        ),
        ArchitectureSpec(
            name="resnet50",
            description=(
                "ResNet-50 (He et al.). torchvision's is v1.5 (stride 2 in the 3×3 convolution, no convolution "
                "biases); keras.applications' is v1 (stride 2 in the first 1×1 convolution, biased convolutions, "
                "BatchNorm epsilon 1.001e-5). Both end GlobalAveragePool → Dense N (Keras: softmax)"
            ),
            definitions={"pytorch": "torchvision.models.resnet50", "tensorflow": "keras.applications.ResNet50"},
            default_input_shape=(32, 32, 3),
            default_num_classes=10,
            modifications={"tensorflow": {"softmax-removed": _KERAS_SOFTMAX_REMOVED}},
            dataset="cifar10",
            parameters={"pytorch": 23_528_522, "tensorflow": 23_555_082},
            pair_modifications={"tensorflow": ("softmax-removed",)},
            pair_differences=("parameter-count", "conv-bias", "conv-geometry", "batchnorm-epsilon",
                              "batchnorm-momentum", "flops"),
            layout="bias on one side only",
        ),
        ArchitectureSpec(
            name="densenet121",
            description=(
                "DenseNet-121 (Huang et al.), growth rate 32, blocks (6, 12, 24, 16); both end BN → ReLU → "
                "GlobalAveragePool → Dense N (Keras: softmax, BatchNorm epsilon 1.001e-5)"
            ),
            definitions={
                "pytorch": "torchvision.models.densenet121",
                "tensorflow": "keras.applications.DenseNet121",
            },
            default_input_shape=(32, 32, 3),
            default_num_classes=10,
            modifications={"tensorflow": {"softmax-removed": _KERAS_SOFTMAX_REMOVED}},
            dataset="cifar10",
            parameters={"pytorch": 6_964_106, "tensorflow": 6_964_106},
            pair_modifications={"tensorflow": ("softmax-removed",)},
            pair_differences=("batchnorm-epsilon", "batchnorm-momentum"),
            layout="ordered",
        ),
    )
}


def names() -> list[str]:
    """Registry names, sorted."""
    return sorted(_SPECS)


def spec(name: str) -> ArchitectureSpec:
    """The registry entry for `name`; ArchitectureError listing the known names otherwise."""
    try:
        return _SPECS[name]
    except KeyError:
        raise ArchitectureError(f"unknown architecture {name!r}; known: {', '.join(names())}; or a library "
                                "builder by name, torchvision.models.<builder> or keras.applications.<Builder> "
                                "(`cwcontrib architectures`)") from None


def route(name: str) -> str:
    """How `name` is built: "registry", "torchvision" or "keras.applications" (imports nothing); ArchitectureError
    for a name that is neither a registry name nor a library name. Whether the library has the builder is
    checked when it is built (`cwcontrib.architectures.library`)."""
    from cwcontrib.architectures import library

    if name in _SPECS:
        return "registry"
    parsed = library.parse(name)
    if parsed is None:
        spec(name)  # raises, listing the registry's names
    assert parsed is not None
    return parsed.route


def modifications_for(name: str, framework: str) -> dict[str, str]:
    """Declared modifications that can be built for `name` in `framework`: name -> description. For a library
    name this imports its framework (the builder's signature says which apply)."""
    _check_framework(framework)
    if route(name) != "registry":
        from cwcontrib.architectures import library

        return library.modifications_for(library.resolve(name, framework))
    return dict(spec(name).modifications.get(framework, {}))


def build(
    name: str,
    framework: str,
    num_classes: int | None = None,
    input_shape: InputShape | None = None,
    modifications: tuple[str, ...] | list[str] = (),
    *,
    meta: bool = False,
) -> Any:
    """Build the reference model `name` for `framework`, freshly initialised (never pretrained weights).

    `name` is a registry name or a library builder by name (`torchvision.models.resnet18`,
    `keras.applications.MobileNetV2`: see `cwcontrib.architectures.library`, which also says what a library
    name means in the other framework). `num_classes` and `input_shape` (H, W, C) default to the entry's
    (10 classes; 32×32×3 for the CIFAR-10 architectures and library names, 8×8×1 for digits-cnn).
    `modifications` are declared modification names (see `modifications_for`), applied in the registry's
    order whatever order they are given in.
    `meta=True` (PyTorch only) builds on torch's meta device: shapes without memory or initialisation,
    enough for fingerprints and for `load_state_dict(..., assign=True)`; it saves seconds for VGG16.
    Returns a `torch.nn.Module` (NCHW) or a `keras.Model` (NHWC).
    """
    _check_framework(framework)
    if route(name) != "registry":
        from cwcontrib.architectures import library

        classes = LIBRARY_DEFAULT_NUM_CLASSES if num_classes is None else num_classes
        shape = LIBRARY_DEFAULT_INPUT_SHAPE if input_shape is None else tuple(input_shape)
        _check_shape(classes, shape)
        if isinstance(modifications, str):
            raise ArchitectureError(f"modifications must be a list of names, not the string {modifications!r}")
        return library.build(name, framework, classes, shape, tuple(modifications), meta=meta)  # type: ignore[arg-type]
    entry = spec(name)
    classes = entry.default_num_classes if num_classes is None else num_classes
    shape = entry.default_input_shape if input_shape is None else tuple(input_shape)
    _check_shape(classes, shape)
    mods = _resolve_modifications(entry, framework, modifications)
    if framework == "pytorch":
        from cwcontrib.architectures import torch_models

        return torch_models.build(name, classes, shape, mods, meta=meta)  # type: ignore[arg-type]
    if meta:
        raise ArchitectureError("meta=True is PyTorch-only: Keras has no shape-only device")
    from cwcontrib.architectures import keras_models

    return keras_models.build(name, classes, shape, mods)  # type: ignore[arg-type]


def _check_framework(framework: str) -> None:
    if framework not in FRAMEWORKS:
        raise ArchitectureError(f"unknown framework {framework!r}; the registry builds for: {', '.join(FRAMEWORKS)}")


def _check_shape(num_classes: int, shape: tuple[int, ...]) -> None:
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ArchitectureError(f"num_classes must be a positive integer, not {num_classes!r}")
    if len(shape) != 3 or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
        raise ArchitectureError(f"input_shape must be (height, width, channels) of positive integers, not {shape!r}")


def _resolve_modifications(entry: ArchitectureSpec, framework: str,
                           given: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    known = entry.modifications.get(framework, {})
    if isinstance(given, str):  # a bare string would otherwise be read as one modification per character
        raise ArchitectureError(f"modifications must be a list of names, not the string {given!r}")
    unknown = [m for m in given if m not in known]
    if unknown:
        listing = ", ".join(repr(k) for k in known) or "none"
        raise ArchitectureError(
            f"unknown modification {unknown[0]!r} for {entry.name} in {framework}; known: {listing}"
        )
    if len(set(given)) != len(given):
        raise ArchitectureError(f"modification listed twice: {sorted(given)}")
    return tuple(k for k in known if k in given)

