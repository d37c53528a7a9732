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
from cwcontrib.architectures.registry import (
    FRAMEWORKS,
    ArchitectureError,
    ArchitectureSpec,
    build,
    modifications_for,
    names,
    spec,
)
from cwcontrib.architectures.verdict import Difference, PairVerdict, compare

__all__ = [
    "FRAMEWORKS",
    "ArchitectureError",
    "ArchitectureSpec",
    "Difference",
    "Fingerprint",
    "FingerprintError",
    "KindStats",
    "PairVerdict",
    "build",
    "compare",
    "fingerprint",
    "modifications_for",
    "names",
    "spec",
]
