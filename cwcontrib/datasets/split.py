"""The loaded test split, the checks every loader shares when building one, and the trusted preprocessing."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cwcontrib.datasets.errors import DatasetError
from cwcontrib.datasets.registry import REGISTRY, DatasetInfo


@dataclass(frozen=True, eq=False)  # eq would compare arrays element-wise and fail; compare `sha256` instead
class TestSplit:
    """A test split as loaded: raw uint8 pixels, NHWC, C-contiguous and read-only, so `sha256` stays true."""

    __test__ = False  # the name starts with "Test": keep pytest from trying to collect it

    name: str
    images: npt.NDArray[np.uint8]  # (N, H, W, C), raw pixel values (digits: grey levels 0..16)
    labels: npt.NDArray[np.int64]  # (N,)
    sha256: str  # split_sha256(images, labels)
    source: tuple[str, ...]  # the files read, in order
    verification: tuple[str, ...]  # one line per check: which digest matched, or that none was checked


def split_sha256(images: npt.NDArray[np.uint8], labels: npt.NDArray[np.int64]) -> str:
    """Hex sha256 of the images' bytes (uint8, NHWC, C order) immediately followed by the labels' bytes
    (int64, little-endian). No header, no separator: N and the shape are fixed by the registry entry."""
    digest = hashlib.sha256(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    digest.update(np.ascontiguousarray(labels, dtype="<i8").tobytes())
    return digest.hexdigest()


def _check_labels(labels: npt.NDArray[np.int64], num_classes: int, where: str) -> None:
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if bad.size:
        raise DatasetError(f"{where}: label {int(labels[bad[0]])} at index {int(bad[0])} is outside "
                           f"0..{num_classes - 1} ({bad.size} such labels)")


def _check_count(n: int, info: DatasetInfo, verify: bool, where: str) -> None:
    # verify=False exists for small hand-made files (tests); it still refuses anything larger than the real split
    expected = info.split_sizes["test"]
    if verify and n != expected:
        raise DatasetError(f"{where}: {n} examples, but the {info.name} test split has {expected}")
    if not 1 <= n <= expected:
        raise DatasetError(f"{where}: {n} examples, expected 1..{expected}")


def make_split(name: str, images: npt.NDArray[np.uint8], labels: npt.NDArray[np.int64], source: Sequence[str],
                verification: Sequence[str], verify: bool) -> TestSplit:
    info = REGISTRY[name]
    where = ", ".join(source)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != info.shape:
        raise DatasetError(f"{where}: images {images.dtype}{images.shape}, expected uint8 (N, *{info.shape})")
    if labels.shape != (images.shape[0],):
        raise DatasetError(f"{where}: {labels.shape[0]} labels for {images.shape[0]} images")
    _check_count(images.shape[0], info, verify, where)
    _check_labels(labels, info.num_classes, where)
    images = np.ascontiguousarray(images)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return TestSplit(name=name, images=images, labels=labels, sha256=split_sha256(images, labels),
                     source=tuple(source), verification=tuple(verification))


def _channel_values(values: Sequence[float], channels: int, what: str, positive: bool) -> npt.NDArray[np.float32]:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (channels,) or not np.all(np.isfinite(array)):
        raise ValueError(f"{what} must be {channels} finite numbers, one per channel; got {list(values)}")
    if positive and np.any(array <= 0):
        raise ValueError(f"{what} must be positive; got {list(values)}")
    return array.astype(np.float32)


def preprocess(split: TestSplit, rescale: float, mean: Sequence[float] | None = None,
               std: Sequence[float] | None = None) -> npt.NDArray[np.float32]:
    """The one trusted preprocessing every framework harness uses: float32 NHWC `x * rescale`, then, per channel,
    `- mean` when mean is given and `/ std` when std is given. All arithmetic is in float32, in that order."""
    if not math.isfinite(rescale) or rescale <= 0:
        raise ValueError(f"rescale must be a positive finite number; got {rescale}")
    channels = split.images.shape[-1]
    x = split.images.astype(np.float32)  # a fresh C-contiguous copy: the split itself stays untouched
    x *= np.float32(rescale)
    if mean is not None:
        x -= _channel_values(mean, channels, "mean", positive=False)
    if std is not None:
        x /= _channel_values(std, channels, "std", positive=True)
    return x
