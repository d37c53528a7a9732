"""CIFAR-10, binary version."""

from __future__ import annotations

import tarfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from cwcontrib.datasets.digests import TORONTO, verify_bytes, verify_file_streaming
from cwcontrib.datasets.errors import DatasetError
from cwcontrib.datasets.files import open_regular, read_bounded
from cwcontrib.datasets.split import TestSplit, make_split

CIFAR_RECORD_BYTES = 1 + 3 * 32 * 32  # <1 x label><1024 x R><1024 x G><1024 x B>, each plane row-major
CIFAR_TEST_BATCH_BYTES = 10_000 * CIFAR_RECORD_BYTES  # 30,730,000
_CIFAR_MEMBER = "cifar-10-batches-bin/test_batch.bin"
_CIFAR_ARCHIVE_MEMBERS = 16  # the official archive has fewer than 10 entries; stop a stranger archive early


def _parse_cifar_records(data: bytes, where: str) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    if not data or len(data) % CIFAR_RECORD_BYTES:
        raise DatasetError(f"{where}: {len(data)} bytes is not a whole number of {CIFAR_RECORD_BYTES}-byte records "
                           f"(the official test batch is exactly {CIFAR_TEST_BATCH_BYTES} bytes)")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, CIFAR_RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    # channel-planar (N, C, H, W) -> NHWC, the layout every harness receives
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def _cifar_from_batch(path: Path, verify: bool) -> tuple[bytes, str, list[str]]:
    data = read_bounded(path, CIFAR_TEST_BATCH_BYTES)
    return data, str(path), [verify_bytes(str(path), data, "cifar10/" + _CIFAR_MEMBER, verify)]


def _cifar_from_archive(path: Path, verify: bool) -> tuple[bytes, str, list[str]]:
    """Read test_batch.bin out of the official archive in memory: nothing is extracted to disk."""
    checks = [verify_file_streaming(path, "cifar10/cifar-10-binary.tar.gz")] if verify else []
    label = f"{path}::{_CIFAR_MEMBER}"
    with open_regular(path) as raw:
        data = _tar_member(raw, path)
    checks.append(verify_bytes(label, data, "cifar10/" + _CIFAR_MEMBER, verify))
    return data, label, checks


def _tar_member(raw: BinaryIO, path: Path) -> bytes:
    """test_batch.bin from the archive stream. Bounded even unverified: at most _CIFAR_ARCHIVE_MEMBERS entries,
    none larger than a batch (every member of the official archive is at most that), so the scan ends quickly."""
    try:
        with tarfile.open(fileobj=raw, mode="r|gz") as archive:  # stream mode: one pass, nothing seeks or extracts
            for count, member in enumerate(archive):
                if count >= _CIFAR_ARCHIVE_MEMBERS or member.size > CIFAR_TEST_BATCH_BYTES:
                    raise DatasetError(f"{path}: unexpected archive layout at member {member.name!r}: "
                                       "is it the official cifar-10-binary.tar.gz?")
                if member.name != _CIFAR_MEMBER:
                    continue
                handle = archive.extractfile(member) if member.isreg() else None
                if handle is None:
                    raise DatasetError(f"{path}: {_CIFAR_MEMBER} is not a regular file")
                return handle.read(CIFAR_TEST_BATCH_BYTES + 1)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path} is not a readable tar.gz archive: {exc}") from exc
    raise DatasetError(f"{path} has no member {_CIFAR_MEMBER}: is it the binary version (cifar-10-binary.tar.gz)?")


def load_cifar10(root: Path, verify: bool) -> TestSplit:
    folder = root / "cifar10"
    batch, archive = folder / _CIFAR_MEMBER, folder / "cifar-10-binary.tar.gz"
    if batch.exists():
        data, source, checks = _cifar_from_batch(batch, verify)
    elif archive.exists():
        data, source, checks = _cifar_from_archive(archive, verify)
    else:
        raise _cifar_missing(folder, batch, archive)
    images, labels = _parse_cifar_records(data, source)
    return make_split("cifar10", images, labels, [source], checks, verify)


def _cifar_missing(folder: Path, batch: Path, archive: Path) -> DatasetError:
    pickles = [p for p in (folder / "cifar-10-batches-py", folder / "cifar-10-python.tar.gz") if p.exists()]
    fetch = (f"cwcontrib never downloads data: get cifar-10-binary.tar.gz (md5 c32a1d4ab5d03f1284b67883e8d87530) "
             f"from {TORONTO} and put it, or its extracted cifar-10-batches-bin/, in {folder}")
    if pickles:
        return DatasetError(
            f"only the Python (pickle) version of CIFAR-10 was found at {pickles[0]}; cwcontrib reads the binary "
            "version only, because unpickling a file can execute arbitrary code from it. "
            f"Expected {batch} or {archive}. {fetch}.")
    return DatasetError(f"CIFAR-10 test split not found: expected {batch} (or the archive {archive}). {fetch}.")
