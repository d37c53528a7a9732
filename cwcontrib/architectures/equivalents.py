"""The table of cross-framework equivalents: which torchvision builder and which keras.applications
builder are meant to be the same network, and what a strict load and a logits comparison between them
need. Hand-made, because no library says which of another library's models is "its" ResNet-101.

"Equivalent" here means *the same published architecture*, not *the same model*: every pair below
still differs somewhere (BatchNorm epsilon and momentum, biased convolutions, where ResNet strides,
TensorFlow's asymmetric "same" padding, the VGG classifier at 32×32, preprocessing built into Keras
models), and `compare` on their fingerprints names how. Pairs outside the table get fingerprints and
a verdict all the same; they only lack the statement that the two are meant to be one network.

What a pair needs, beyond building both (`Equivalent`):

- **input**: torchvision takes NCHW, Keras NHWC: the same array, `x.permute(0, 3, 1, 2)`;
- **output**: torchvision returns logits; keras.applications applies softmax unless built with the
  `softmax-removed` modification (argmax, and so accuracy, is the same either way; logits are not);
- **preprocessing**: some Keras models rescale and normalise raw [0, 255] pixels in their first
  layers (`Equivalent.keras_preprocessing`); torchvision models never do. A logits comparison
  builds Keras with `preprocessing-removed` where the builder allows it (`logits_modifications`);
  EfficientNetB0–B7 do not, and their Normalization layer's mean and variance are weights;
- **tensors**, in `cwcontrib.architectures.layout`: conv kernels OIHW ↔ HWIO, depthwise
  (C, 1, kh, kw) ↔ (kh, kw, C, 1), dense (out, in) ↔ (in, out) with the flatten order of a map
  before it (NCHW ↔ NHWC), BatchNorm weight/bias/running_mean/running_var ↔
  gamma/beta/moving_mean/moving_variance. `ordered=True` marks pairs whose conv/dense/BatchNorm
  layers correspond one to one in definition order, so that `layout.torch_to_keras` maps a
  torchvision state dict onto the Keras model (checked by the tests for the pairs marked so).
"""

from __future__ import annotations

from dataclasses import dataclass

from cwcontrib.architectures.library import KERAS, TORCHVISION


@dataclass(frozen=True)
class Equivalent:
    """One row of the table: a torchvision builder and its keras.applications counterpart."""

    key: str
    """Short name of the published architecture, e.g. "resnet101"."""
    torchvision: str
    """Full library name, e.g. "torchvision.models.resnet101"."""
    keras: str
    """Full library name, e.g. "keras.applications.ResNet101"."""
    keras_preprocessing: str = ""
    """What the Keras model does to its input before the first convolution ("" when nothing)."""
    logits_modifications: tuple[str, ...] = ("softmax-removed",)
    """Keras modifications for a logits comparison with the torchvision model."""
    ordered: bool = False
    """Conv/dense/BatchNorm layers correspond one to one in definition order (`layout.torch_to_keras` works)."""
    notes: str = ""
    """Known differences between the two definitions, in words (a verdict names them in figures)."""


_RESNET_V1 = ("torchvision is ResNet v1.5 (stride 2 in the 3×3 convolution, no convolution biases); Keras is v1 "
              "(stride 2 in the first 1×1, biased convolutions, BatchNorm epsilon 1.001e-5); the shortcut "
              "convolution comes first in Keras's definition, last in torchvision's")
_DENSENET = "same layers and shapes; Keras's BatchNorm epsilon is 1.001e-5 and momentum 0.99 (torch 0.01 convention)"
_VGG = ("torchvision keeps AdaptiveAvgPool2d(7×7) and a 25088-wide classifier with two Dropouts at any input; Keras "
        "flattens the features (512 at 32×32) into its 4096-wide dense layers")
_EFFICIENTNET = ("Keras rescales by 1/255 and normalises inside the model (a Normalization layer whose mean and "
                 "variance are weights), pads its strided depthwise convolutions asymmetrically and uses BatchNorm "
                 "epsilon 1e-3; torchvision's stochastic depth is a Keras Dropout")
_CONVNEXT = ("Keras normalises ImageNet-scaled input inside the model unless include_preprocessing=False; both have "
             "LayerNorm and a layer scale per block, Keras's classifier head normalises before the dense layer")
_MOBILENET_V3 = ("Keras rescales [0, 255] to [-1, 1] inside the model unless include_preprocessing=False, uses "
                 "BatchNorm epsilon 1e-3 and TensorFlow's asymmetric 'same' padding in strided convolutions")

_PREPROCESS_255 = "Rescaling(1/255), Normalization (mean and variance are weights; identity until loaded)"
_PREPROCESS_V2 = "Rescaling(1/255), Normalization(ImageNet mean and variance)"
_PREPROCESS_CONVNEXT = "Normalization(ImageNet mean and variance of [0, 255] pixels)"
_PREPROCESS_V3 = "Rescaling(1/127.5, offset -1): [0, 255] to [-1, 1]"
_NO_SOFTMAX_NO_PREPROCESSING = ("softmax-removed", "preprocessing-removed")


def _pair(key: str, torch_builder: str, keras_builder: str, **kwargs: object) -> Equivalent:
    return Equivalent(key, TORCHVISION + torch_builder, KERAS + keras_builder, **kwargs)  # type: ignore[arg-type]


TABLE: tuple[Equivalent, ...] = (
    _pair("vgg16", "vgg16", "VGG16", notes=_VGG),
    _pair("vgg19", "vgg19", "VGG19", notes=_VGG),
    _pair("resnet50", "resnet50", "ResNet50", notes=_RESNET_V1),
    _pair("resnet101", "resnet101", "ResNet101", notes=_RESNET_V1),
    _pair("resnet152", "resnet152", "ResNet152", notes=_RESNET_V1),
    _pair("densenet121", "densenet121", "DenseNet121", ordered=True, notes=_DENSENET),
    _pair("densenet169", "densenet169", "DenseNet169", ordered=True, notes=_DENSENET),
    _pair("densenet201", "densenet201", "DenseNet201", ordered=True, notes=_DENSENET),
    _pair("mobilenet-v2", "mobilenet_v2", "MobileNetV2", ordered=True,
          notes="Keras pads its strided convolutions asymmetrically (TensorFlow 'same'), uses BatchNorm epsilon 1e-3 "
                "and momentum 0.999, and has no dropout before the classifier"),
    _pair("mobilenet-v3-small", "mobilenet_v3_small", "MobileNetV3Small", keras_preprocessing=_PREPROCESS_V3,
          logits_modifications=_NO_SOFTMAX_NO_PREPROCESSING, notes=_MOBILENET_V3),
    _pair("mobilenet-v3-large", "mobilenet_v3_large", "MobileNetV3Large", keras_preprocessing=_PREPROCESS_V3,
          logits_modifications=_NO_SOFTMAX_NO_PREPROCESSING, notes=_MOBILENET_V3),
    *(_pair(f"efficientnet-b{i}", f"efficientnet_b{i}", f"EfficientNetB{i}", keras_preprocessing=_PREPROCESS_255,
            notes=_EFFICIENTNET) for i in range(8)),
    *(_pair(f"efficientnet-v2-{size}", f"efficientnet_v2_{size}", f"EfficientNetV2{size.upper()}",
            keras_preprocessing=_PREPROCESS_V2, logits_modifications=_NO_SOFTMAX_NO_PREPROCESSING,
            notes=_EFFICIENTNET.replace("a Normalization layer whose mean and variance are weights",
                                        "unless include_preprocessing=False"))
      for size in ("s", "m", "l")),
    _pair("inception-v3", "inception_v3", "InceptionV3",
          notes="torchvision has an auxiliary classifier unless aux_logits=False (unused at inference); Keras's "
                "convolutions have no bias and its BatchNorm no scale (gamma), epsilon 1e-3; both need ≥ 75×75"),
    *(_pair(f"convnext-{size}", f"convnext_{size}", f"ConvNeXt{size.capitalize()}",
            keras_preprocessing=_PREPROCESS_CONVNEXT, logits_modifications=_NO_SOFTMAX_NO_PREPROCESSING,
            notes=_CONVNEXT)
      for size in ("tiny", "small", "base", "large")),
)

_BY_NAME: dict[str, Equivalent] = {name: e for e in TABLE for name in (e.torchvision, e.keras)}


def equivalent(name: str) -> Equivalent | None:
    """The table row naming `name` (a full library name) on either side, or None."""
    return _BY_NAME.get(name)


def equivalent_of(name: str) -> str | None:
    """The other library's builder for `name`, or None when the table has no row for it."""
    row = _BY_NAME.get(name)
    if row is None:
        return None
    return row.keras if name == row.torchvision else row.torchvision
