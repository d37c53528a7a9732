"""Pinned digests and checksum verification."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cwcontrib.datasets.errors import DatasetError
from cwcontrib.datasets.files import open_regular


@dataclass(frozen=True)
class PinnedDigest:
    """The expected digest (and size, where known) of one file, with where that value comes from."""

    algorithm: str  # "md5" or "sha256": md5 only where md5 is all that was ever published
    hexdigest: str
    size: int | None
    provenance: str
    official: bool  # published by the dataset's authors, as opposed to derived from their archive by others


TORONTO = "https://www.cs.toronto.edu/~kriz/cifar.html"
_ZALANDO = "github.com/zalandoresearch/fashion-mnist README"
_TORCHVISION = "torchvision/datasets/mnist.py MNIST.resources (LeCun's page publishes no checksums)"
_DERIVED = "derived from the official archive; not published by the authors; the value independent projects agree on"

# Keyed by path relative to the data directory; tests monkeypatch entries to exercise the verifying path.
PINNED: dict[str, PinnedDigest] = {
    "cifar10/cifar-10-binary.tar.gz": PinnedDigest(
        "md5", "c32a1d4ab5d03f1284b67883e8d87530", 170_052_171, TORONTO, official=True),
    "cifar10/cifar-10-batches-bin/test_batch.bin": PinnedDigest(
        "md5", "803d5f7f4d78ea53de84dbe85f74fb6d", 30_730_000,
        f"{_DERIVED} (pytorch/examples cpp fetch_cifar10 cmake; rai-project dldataset)", official=False),
    # the MNIST .gz sizes are the ones loaders list next to these md5s (e.g. 1,648,877 and 4,542 bytes)
    "mnist/t10k-images-idx3-ubyte.gz": PinnedDigest(
        "md5", "9fb629c4189551a2d022fa330f9573f3", 1_648_877, _TORCHVISION, official=False),
    "mnist/t10k-labels-idx1-ubyte.gz": PinnedDigest(
        "md5", "ec29112dd5afa0611ce80d1b7f02629c", 4_542, _TORCHVISION, official=False),
    "mnist/t10k-images-idx3-ubyte": PinnedDigest(
        "sha256", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7_840_016, _DERIVED,
        official=False),
    "mnist/t10k-labels-idx1-ubyte": PinnedDigest(
        "sha256", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10_008, _DERIVED,
        official=False),
    "fashion-mnist/t10k-images-idx3-ubyte.gz": PinnedDigest(
        "md5", "bef4ecab320f06d8554ea6380940ec79", None, _ZALANDO, official=True),
    "fashion-mnist/t10k-labels-idx1-ubyte.gz": PinnedDigest(
        "md5", "bb300cfdad3c16e7a12a480ee83cd310", None, _ZALANDO, official=True),
    "fashion-mnist/t10k-images-idx3-ubyte": PinnedDigest(
        "sha256", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", 7_840_016, _DERIVED,
        official=False),
    "fashion-mnist/t10k-labels-idx1-ubyte": PinnedDigest(
        "sha256", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", 10_008, _DERIVED,
        official=False),
}


def _new_hash(algorithm: str) -> hashlib._Hash:
    # md5 only where md5 is the digest that exists for a file. It catches corruption and mix-ups, not a forged
    # file; strict parsing and the sha256 recorded in every verification line do the rest.
    return hashlib.new(algorithm, usedforsecurity=False) if algorithm == "md5" else hashlib.new(algorithm)


def _pin_text(pin: PinnedDigest) -> str:
    return f"{'official' if pin.official else 'pinned'} {pin.algorithm} {pin.hexdigest} ({pin.provenance})"


def _check_digest(label: str, size: int, got: str, pin: PinnedDigest) -> str:
    if pin.size is not None and size != pin.size:
        raise DatasetError(f"{label} is {size} bytes, but the official file is {pin.size} bytes")
    if got != pin.hexdigest:
        raise DatasetError(f"checksum mismatch for {label}: {pin.algorithm} is {got}, expected {_pin_text(pin)}. "
                           "The file is corrupt, truncated, or not the official release.")
    return f"{label}: {pin.algorithm} matches the {_pin_text(pin)}"


def verify_bytes(label: str, data: bytes, key: str, verify: bool) -> str:
    """Check `data` against PINNED[key] when verifying; either way say what was (not) checked and its sha256."""
    sha = hashlib.sha256(data).hexdigest()
    if not verify:
        return f"{label}: NOT verified (verify=False), sha256 {sha}"
    pin = PINNED[key]
    got = _new_hash(pin.algorithm)
    got.update(data)
    return f"{_check_digest(label, len(data), got.hexdigest(), pin)}; sha256 {sha}"


def verify_file_streaming(path: Path, key: str) -> str:
    """Like verify_bytes for a file too large to hold (the CIFAR archive): hashed in chunks, bounded by its size."""
    pin = PINNED[key]
    limit = pin.size if pin.size is not None else 1 << 30
    got, size = _new_hash(pin.algorithm), 0
    with open_regular(path) as handle:
        while chunk := handle.read(min(1 << 22, limit + 1 - size)):
            got.update(chunk)
            size += len(chunk)
            if size > limit:
                raise DatasetError(f"{path} is larger than the {limit} bytes expected")
    return _check_digest(str(path), size, got.hexdigest(), pin)
