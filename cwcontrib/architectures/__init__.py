"""Trusted reference architectures, architecture fingerprints and pair verdicts.

    from cwcontrib.architectures import build, fingerprint, compare
    a = fingerprint(build("vgg16", "pytorch", meta=True), (32, 32, 3), label="torchvision VGG16")
    b = fingerprint(build("vgg16", "tensorflow"), (32, 32, 3), label="keras VGG16")
    print(compare(a, b).summary())

Importing this package imports neither torch nor keras; building or fingerprinting a model imports
its framework on first use.
"""

from cwcontrib.architectures.fingerprint import (
    Fingerprint,
    FingerprintError,
    KindStats,
    fingerprint,
)
from cwcontrib.architectures.layouts import (
    DIGITS_CNN_KERAS_PATHS,
    KerasWeight,
    WeightLayoutError,
    digits_cnn_keras_layout,
    keras_to_torch_state,
    keras_weight_layout,
    keras_weight_paths,
    torch_to_keras_state,
)
from cwcontrib.architectures.registry import (
    FRAMEWORKS,
    ArchitectureError,
    ArchitectureSpec,
    build,
    build_keras,
    build_torch,
    modifications_for,
    names,
    spec,
)
from cwcontrib.architectures.verdict import Difference, PairVerdict, compare

__all__ = [
    "DIGITS_CNN_KERAS_PATHS",
    "FRAMEWORKS",
    "ArchitectureError",
    "ArchitectureSpec",
    "Difference",
    "Fingerprint",
    "FingerprintError",
    "KerasWeight",
    "KindStats",
    "PairVerdict",
    "WeightLayoutError",
    "build",
    "build_keras",
    "build_torch",
    "compare",
    "digits_cnn_keras_layout",
    "fingerprint",
    "keras_to_torch_state",
    "keras_weight_layout",
    "keras_weight_paths",
    "modifications_for",
    "names",
    "spec",
    "torch_to_keras_state",
]
