"""MNIST and Fashion-MNIST, IDX files."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cwcontrib.datasets.digests import PINNED, verify_bytes
from cwcontrib.datasets.errors import DatasetError
from cwcontrib.datasets.files import gunzip_bounded, gzip_input_limit, read_bounded
from cwcontrib.datasets.registry import REGISTRY
from cwcontrib.datasets.split import TestSplit, make_split

IDX_IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension
_IDX_IMAGES = "t10k-images-idx3-ubyte"
_IDX_LABELS = "t10k-labels-idx1-ubyte"


def _idx_byte_limit(magic: int, item_shape: tuple[int, ...], max_items: int) -> int:
    header = 4 + 4 * (magic & 0xFF)
    return header + max_items * math.prod(item_shape)


def _parse_idx(data: bytes, where: str, magic: int, item_shape: tuple[int, ...]) -> npt.NDArray[np.uint8]:
    """Strict IDX: exact magic, exact item dimensions, and a size that is exactly header + N * item bytes."""
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{where}: truncated IDX header ({len(data)} bytes, need {header})")
    got_magic, *dims = struct.unpack(f">{1 + ndim}I", data[:header])
    if got_magic != magic:
        raise DatasetError(f"{where}: bad IDX magic 0x{got_magic:08x}, expected 0x{magic:08x}")
    n, item = dims[0], tuple(dims[1:])
    if item != item_shape:
        raise DatasetError(f"{where}: IDX item dimensions {item}, expected {item_shape}")
    expected = header + n * math.prod(item_shape)
    if len(data) != expected:
        raise DatasetError(f"{where}: {len(data)} bytes, but its header ({n} items) means exactly {expected}: "
                           f"the file is {'truncated' if len(data) < expected else 'followed by extra bytes'}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(n, *item_shape)


def _locate_idx(name: str, folder: Path) -> dict[str, Path]:
    """For each IDX file prefer the .gz: its md5 is the published one. Raise naming every expected file if absent."""
    found: dict[str, Path] = {}
    for stem in (_IDX_IMAGES, _IDX_LABELS):
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.exists():
                found[stem] = candidate
                break
    missing = [stem for stem in (_IDX_IMAGES, _IDX_LABELS) if stem not in found]
    if missing:
        wanted = "; ".join(f"{folder / stem}.gz or {folder / stem}" for stem in missing)
        raise DatasetError(f"{name} test split not found: expected {wanted}. cwcontrib never downloads data: "
                           f"put the official t10k IDX files (raw or .gz) in {folder}.")
    return found


def _read_idx_file(name: str, path: Path, raw_limit: int, verify: bool) -> tuple[bytes, str]:
    key = f"{name}/{path.name}"
    if path.suffix != ".gz":
        data = read_bounded(path, raw_limit)
        return data, verify_bytes(str(path), data, key, verify)
    pin = PINNED[key]
    compressed = read_bounded(path, pin.size if verify and pin.size else gzip_input_limit(raw_limit))
    check = verify_bytes(str(path), compressed, key, verify)
    return gunzip_bounded(compressed, path, raw_limit), check


def load_idx_split(name: str, root: Path, verify: bool) -> TestSplit:
    info, folder = REGISTRY[name], root / name
    paths = _locate_idx(name, folder)
    height, width, _ = info.shape
    max_items = info.split_sizes["test"]
    image_limit = _idx_byte_limit(IDX_IMAGES_MAGIC, (height, width), max_items)
    label_limit = _idx_byte_limit(IDX_LABELS_MAGIC, (), max_items)
    image_bytes, image_check = _read_idx_file(name, paths[_IDX_IMAGES], image_limit, verify)
    label_bytes, label_check = _read_idx_file(name, paths[_IDX_LABELS], label_limit, verify)
    images = _parse_idx(image_bytes, str(paths[_IDX_IMAGES]), IDX_IMAGES_MAGIC, (height, width))
    labels = _parse_idx(label_bytes, str(paths[_IDX_LABELS]), IDX_LABELS_MAGIC, ()).astype(np.int64)
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(f"{name}: {images.shape[0]} images in {paths[_IDX_IMAGES]} but {labels.shape[0]} labels "
                           f"in {paths[_IDX_LABELS]}")
    return make_split(name, images.reshape(-1, height, width, 1), labels,
                       [str(paths[_IDX_IMAGES]), str(paths[_IDX_LABELS])], [image_check, label_check], verify)
