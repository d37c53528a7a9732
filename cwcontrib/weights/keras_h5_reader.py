"""Keras 3 `.weights.h5` files read as plain HDF5 data, never through Keras.

Every link is inspected without being followed: only hard links to groups and numeric datasets are
accepted. Soft and external links, external storage and virtual datasets (which pull other host files
in, CVE-2026-1669), object references, and declared shapes beyond the limits (memory exhaustion,
CVE-2026-0897) are refused before any dataset is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import numpy as np

from cwcontrib.weights.base import WeightsError, WeightsLimits, library_failures

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# The Python exceptions h5py translates libhdf5's errors into (h5py._errors): on a damaged file, only when
# raised inside h5py.
H5PY_ERRORS: tuple[type[Exception], ...] = (OSError, KeyError, ValueError, RuntimeError, TypeError, NotImplementedError)


def _check_dataset(path: str, dataset: Any, limits: WeightsLimits) -> int:
    """Refuse anything but a plain numeric dataset stored inside the file; return its byte size."""
    import h5py

    if dataset.is_virtual:
        raise WeightsError("CW405", f"{path} is a virtual dataset (it maps data from other files)")
    if dataset.id.get_create_plist().get_external_count() > 0:
        raise WeightsError("CW405", f"{path} keeps its data in external files")
    dtype = dataset.dtype
    if h5py.check_ref_dtype(dtype) is not None or h5py.check_vlen_dtype(dtype) is not None or dtype.kind not in "fiub":
        raise WeightsError("CW405", f"{path} has dtype {dtype}, not a plain numeric type")
    if dataset.shape is None:
        raise WeightsError("CW405", f"{path} has no shape (an empty dataspace)")
    size = int(np.prod(dataset.shape, dtype=object)) * int(dtype.itemsize)
    if size > limits.tensor_bytes:
        raise WeightsError("CW406", f"{path} declares {size} bytes, over the limit of {limits.tensor_bytes}")
    return int(size)


def _walk(root: Any, limits: WeightsLimits) -> list[tuple[str, Any]]:
    """All datasets under root, reached through hard links only, each object once, iteratively."""
    import h5py

    datasets: list[tuple[str, Any]] = []
    seen: set[int] = set()
    pending: list[tuple[str, Any, int]] = [("", root, 0)]
    while pending:
        prefix, group, depth = pending.pop()
        if depth > limits.h5_depth:
            raise WeightsError("CW406", f"groups nested deeper than {limits.h5_depth} at {prefix}")
        names = list(group.keys())
        if not all(isinstance(name, str) for name in names):
            # h5py hands back bytes for a link name that is not UTF-8: no Keras file has one.
            raise WeightsError("CW402", f"{prefix or '/'} holds an object name that is not UTF-8 text")
        for name in sorted(names):
            path = f"{prefix}{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise WeightsError("CW404", f"{path} is an external link to {link.filename}:{link.path}")
            if not isinstance(link, h5py.HardLink):
                raise WeightsError("CW404", f"{path} is a {type(link).__name__}; only hard links are allowed")
            obj = group[name]
            key = hash(obj.id)
            if key in seen:
                raise WeightsError("CW404", f"{path} links to an object reached before (a cycle or alias)")
            seen.add(key)
            if len(seen) > limits.h5_objects:
                raise WeightsError("CW406", f"more than {limits.h5_objects} objects")
            if isinstance(obj, h5py.Dataset):
                datasets.append((path, obj))
            elif isinstance(obj, h5py.Group):
                pending.append((path + "/", obj, depth + 1))
            else:
                raise WeightsError("CW405", f"{path} is a {type(obj).__name__}, not a group or dataset")
    return datasets


def read_keras_h5(handle: BinaryIO, file_size: int, limits: WeightsLimits) -> dict[str, np.ndarray]:
    return dict(iter_keras_h5(handle, file_size, limits))


def iter_keras_h5(handle: BinaryIO, file_size: int, limits: WeightsLimits) -> Iterator[tuple[str, np.ndarray]]:
    """The datasets one at a time (each read when asked for), so that a caller summarising them holds one
    dataset beside the file; the whole file is walked and every dataset checked before the first is read."""
    if handle.read(8) != HDF5_SIGNATURE:
        raise WeightsError("CW401", "no HDF5 signature at the start of the file")
    handle.seek(0)
    import h5py

    damaged = library_failures("CW402", "the HDF5 file cannot be read", ("h5py",), H5PY_ERRORS)
    with damaged, h5py.File(handle, "r") as h5:
        datasets = _walk(h5, limits)
        total = sum(_check_dataset(path, ds, limits) for path, ds in datasets)
        if total > limits.tensor_bytes:
            raise WeightsError("CW406", f"datasets declare {total} bytes, over the limit of {limits.tensor_bytes}")
        for path, ds in datasets:
            yield path, np.asarray(ds[()])  # h5py reads into a new array of its own: no copy needed
