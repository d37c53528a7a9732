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
    except UnsafeFile as exc:
        raise WeightsError(exc.code, str(exc)) from None


__all__ = ["FORMATS_FOR_FRAMEWORK", "READERS", "WeightsError", "WeightsLimits", "read_weights"]
