"""Safe weight readers, one per allowed format. Weights are data, never code."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from cwcontrib.safefs import UnsafeFile, open_confined
from cwcontrib.weights.base import DEFAULT_WEIGHTS_LIMITS, WeightsError, WeightsLimits
from cwcontrib.weights.keras_h5_reader import read_keras_h5
from cwcontrib.weights.pytorch_reader import read_pytorch
from cwcontrib.weights.safetensors_reader import read_safetensors

Reader = Callable[[BinaryIO, int, WeightsLimits], dict[str, np.ndarray]]

READERS: dict[str, Reader] = {
    "safetensors": read_safetensors,
    "pytorch": read_pytorch,
    "keras-h5": read_keras_h5,
}
# Which weight formats each framework's runs may use (safetensors first).
FORMATS_FOR_FRAMEWORK: dict[str, tuple[str, ...]] = {
    "pytorch": ("safetensors", "pytorch"),
    "tensorflow": ("keras-h5",),
}
# Tensors a format legitimately holds beside the model's, read safely but never compared or loaded: Keras
# saves a compiled model's optimizer state in its .weights.h5. A PyTorch state dict or a safetensors file
# holds the model's tensors only, so there nothing is ignored: an extra tensor is hidden data (CW407).
IGNORED_PREFIXES: dict[str, tuple[str, ...]] = {
    "safetensors": (),
    "pytorch": (),
    "keras-h5": ("optimizer/",),
}


def model_tensors(tensors: dict[str, np.ndarray], fmt: str) -> dict[str, np.ndarray]:
    """The tensors of a weights file that belong to the model, without what its format may add beside them."""
    ignored = IGNORED_PREFIXES[fmt]
    return {name: array for name, array in tensors.items() if not name.startswith(ignored)}


def read_weights(
    root: Path, rel: str, fmt: str, limits: WeightsLimits = DEFAULT_WEIGHTS_LIMITS
) -> dict[str, np.ndarray]:
    """Tensors of a confined weights file by name; raises WeightsError with a finding code."""
    reader = READERS.get(fmt)
    if reader is None:
        raise WeightsError("CW400", f"format {fmt!r} is not a weights format; allowed: {', '.join(READERS)}")
    try:
        with open_confined(root, rel) as handle:
            size = os.fstat(handle.fileno()).st_size
            return dict(sorted(reader(handle, size, limits).items()))
    except UnsafeFile as exc:  # replaced since the files stage verified it
        raise WeightsError("CW416", str(exc)) from None


__all__ = ["FORMATS_FOR_FRAMEWORK", "IGNORED_PREFIXES", "READERS", "WeightsError", "WeightsLimits", "model_tensors",
           "read_weights"]
