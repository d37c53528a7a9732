"""Safe weight readers, one per allowed format. Weights are data, never code."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar, cast

import numpy as np

from cwcontrib.hashing import read_hashed_confined
from cwcontrib.safefs import UnsafeFile, open_confined
from cwcontrib.weights.base import DEFAULT_WEIGHTS_LIMITS, BufferReader, WeightsError, WeightsLimits
from cwcontrib.weights.keras_h5_reader import iter_keras_h5, read_keras_h5
from cwcontrib.weights.pytorch_reader import read_pytorch, read_pytorch_buffer
from cwcontrib.weights.safetensors_reader import iter_safetensors_buffer, read_safetensors

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


T = TypeVar("T")


def model_tensors(tensors: dict[str, T], fmt: str) -> dict[str, T]:
    """The tensors of a weights file (or their summaries) that belong to the model, without what its format
    may add beside them."""
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


def iter_weights_buffer(data: bytearray | memoryview, fmt: str,
                        limits: WeightsLimits = DEFAULT_WEIGHTS_LIMITS) -> Iterator[tuple[str, np.ndarray]]:
    """The tensors of a whole weights file already in memory, whose bytes the caller verified (read once,
    hashed, compared with the declared sha256): the reader sees these bytes and no others. Arrays may be
    views on `data` (safetensors), so `data` must stay private to the caller. Raises WeightsError."""
    if fmt == "safetensors":
        yield from iter_safetensors_buffer(data, limits)
    elif fmt == "keras-h5":
        yield from iter_keras_h5(cast(BinaryIO, BufferReader(data)), len(data), limits)
    elif fmt == "pytorch":
        yield from read_pytorch_buffer(data, limits).items()
    else:
        raise WeightsError("CW400", f"format {fmt!r} is not a weights format; allowed: {', '.join(READERS)}")


@dataclass(frozen=True)
class TensorSummary:
    """What stage 4 compares with a reference, kept instead of the tensor: a few bytes, not megabytes."""

    shape: tuple[int, ...]
    dtype: str
    nonfinite: int  # NaN and infinite values (0 for integer dtypes)


def summarise(array: np.ndarray) -> TensorSummary:
    nonfinite = 0
    if array.dtype.kind == "f" and array.size:
        nonfinite = int(array.size - np.count_nonzero(np.isfinite(array)))
    return TensorSummary(tuple(int(n) for n in array.shape), str(array.dtype), nonfinite)


def summarise_weights(data: bytearray | memoryview, fmt: str,
                      limits: WeightsLimits = DEFAULT_WEIGHTS_LIMITS) -> dict[str, TensorSummary]:
    """Each tensor's summary by name (sorted), one tensor alive at a time beside `data`."""
    return dict(sorted((name, summarise(array)) for name, array in iter_weights_buffer(data, fmt, limits)))


def read_verified(root: Path, rel: str, size: int, sha256: str) -> bytearray:
    """The whole confined file in one private buffer, read once, when it has `size` bytes and this `sha256`;
    WeightsError CW416 otherwise (it changed since the files stage verified it)."""
    try:
        data, digest = read_hashed_confined(root, rel, size)
    except UnsafeFile as exc:
        raise WeightsError("CW416", str(exc)) from None
    if data is None or digest != sha256:
        raise WeightsError("CW416", f"the file is no longer the one verified (sha256 {digest}, verified {sha256})")
    assert isinstance(data, bytearray)  # read without `into`: a buffer of its own, which the caller may keep
    return data


def read_weights_verified(root: Path, rel: str, fmt: str, size: int, sha256: str,
                          limits: WeightsLimits = DEFAULT_WEIGHTS_LIMITS) -> dict[str, np.ndarray]:
    """Tensors by name of a weights file whose bytes are checked against the verified sha256 before any reader
    sees them (what the evaluation stage loads); the arrays may share one private, writable buffer."""
    return dict(sorted(iter_weights_buffer(read_verified(root, rel, size, sha256), fmt, limits)))


__all__ = ["FORMATS_FOR_FRAMEWORK", "IGNORED_PREFIXES", "READERS", "TensorSummary", "WeightsError", "WeightsLimits",
           "iter_weights_buffer", "model_tensors", "read_verified", "read_weights", "read_weights_verified",
           "summarise", "summarise_weights"]
