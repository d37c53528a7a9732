"""The dataset registry and the loaders of the test splits the validator re-evaluates submitted weights on.

The metadata (`REGISTRY`) is what the semantic checks need. The loaders read the *official* file formats from a
local data directory and never download anything: a validator that fetched data at run time would depend on the
network and on whatever a mirror serves that day.

- sklearn-digits: scikit-learn's bundled copy (`load_digits()`), rows 1437..1796 in file order.
- cifar10: the official *binary* version only (`cifar-10-batches-bin/test_batch.bin`, or the official archive
  `cifar-10-binary.tar.gz` read in memory). The Python version is pickles, and unpickling runs code from the file,
  so it is refused even though it holds the same images.
- mnist, fashion-mnist: the IDX files `t10k-images-idx3-ubyte` / `t10k-labels-idx1-ubyte`, raw or `.gz`.

Every read is bounded by the expected byte count + 1, so a wrong or hostile file cannot exhaust memory.

Where checksums come from (see `PINNED`): only the CIFAR-10 archive md5 (CIFAR page) and the Fashion-MNIST `.gz`
md5s (Zalando's README) are published by the dataset authors. The MNIST `.gz` md5s are torchvision's resource
list, the de-facto reference (LeCun's page publishes none). The digests of the *extracted* files (test_batch.bin,
the decompressed IDX files) are published by nobody official: the pinned values are the ones independent projects
agree on, i.e. derived from the official archives, and are labelled that way in every verification message.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import stat
import struct
import tarfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    num_classes: int
    split_sizes: dict[str, int]
    shape: tuple[int, int, int]  # height, width, channels
    note: str = ""


DIGITS_TRAIN_SIZE = 1437  # scikit-learn's 1,797 digits in file order: the first 80 % train, the rest test

REGISTRY: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("sklearn-digits", "scikit-learn handwritten digits (8x8)", 10,
                    {"train": DIGITS_TRAIN_SIZE, "test": 1797 - DIGITS_TRAIN_SIZE}, (8, 8, 1),
                    "Split in file order, no shuffling: rows 0-1436 train, 1437-1796 test."),
        DatasetInfo("cifar10", "CIFAR-10 (binary version)", 10, {"train": 50_000, "test": 10_000}, (32, 32, 3)),
        DatasetInfo("mnist", "MNIST (IDX files)", 10, {"train": 60_000, "test": 10_000}, (28, 28, 1)),
        DatasetInfo("fashion-mnist", "Fashion-MNIST (IDX files)", 10, {"train": 60_000, "test": 10_000},
                    (28, 28, 1)),
    )
}


def dataset_info(name: str) -> DatasetInfo | None:
    return REGISTRY.get(name)


# ---------------------------------------------------------------------------------------------------------------
# Errors, pinned digests, the loaded split
# ---------------------------------------------------------------------------------------------------------------


class DatasetError(Exception):
    """A test split is missing, malformed, or does not match its pinned checksum."""


@dataclass(frozen=True)
class PinnedDigest:
    """The expected digest (and size, where known) of one file, with where that value comes from."""

    algorithm: str  # "md5" or "sha256": md5 only where md5 is all that was ever published
    hexdigest: str
    size: int | None
    provenance: str
    official: bool  # published by the dataset's authors, as opposed to derived from their archive by others


_TORONTO = "https://www.cs.toronto.edu/~kriz/cifar.html"
_ZALANDO = "github.com/zalandoresearch/fashion-mnist README"
_TORCHVISION = "torchvision/datasets/mnist.py MNIST.resources (LeCun's page publishes no checksums)"
_DERIVED = "derived from the official archive; not published by the authors; the value independent projects agree on"

# Keyed by path relative to the data directory; tests monkeypatch entries to exercise the verifying path.
PINNED: dict[str, PinnedDigest] = {
    "cifar10/cifar-10-binary.tar.gz": PinnedDigest(
        "md5", "c32a1d4ab5d03f1284b67883e8d87530", 170_052_171, _TORONTO, official=True),
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

# The digits split as loaded (see `split_sha256`); computed by cwcontrib from scikit-learn 1.9.1's bundled
# digits.csv.gz (sha256 09f66e6d...aa22). Nobody publishes one: it guards against a modified scikit-learn install.
DIGITS_TEST_SHA256 = "a00ccc4978c46a4d561d65df875cc49bdfe829dc20aad2a6748276ea741c1829"


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


# ---------------------------------------------------------------------------------------------------------------
# Data directory and bounded reads
# ---------------------------------------------------------------------------------------------------------------

DATA_ENV_VAR = "CWCONTRIB_DATA"
DEFAULT_DATA_DIR = Path("~/.cache/cwcontrib/datasets")


def resolve_data_dir(data_dir: Path | str | None = None) -> Path:
    """The argument, else $CWCONTRIB_DATA, else ~/.cache/cwcontrib/datasets. Each dataset has a subfolder."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    from_env = os.environ.get(DATA_ENV_VAR, "")
    return Path(from_env).expanduser() if from_env else DEFAULT_DATA_DIR.expanduser()


def _open_regular(path: Path) -> BinaryIO:
    """Open a regular file for reading. O_NONBLOCK so that a FIFO in its place cannot hang the open itself.
    Symlinks are followed: the data directory is the operator's own, not part of a submission."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise DatasetError(f"cannot open {path}: {exc.strerror}") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise DatasetError(f"{path} is not a regular file")
    return os.fdopen(fd, "rb")


def _read_bounded(path: Path, limit: int) -> bytes:
    with _open_regular(path) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise DatasetError(f"{path} is larger than the {limit} bytes expected")
    return data


def _gunzip_bounded(data: bytes, path: Path, limit: int) -> bytes:
    """Decompress at most limit + 1 bytes: GzipFile.read(n) never inflates more than n, so a gzip bomb is cut off."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            out = stream.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError; truncation is an EOFError
        raise DatasetError(f"{path} is not a valid gzip file: {exc}") from exc
    if len(out) > limit:
        raise DatasetError(f"{path} decompresses to more than the {limit} bytes expected")
    return out


def _gzip_input_limit(raw_limit: int) -> int:
    # deflate expands incompressible data by well under 1 %; the slack covers headers and odd encoders
    return raw_limit + raw_limit // 100 + 64 * 1024


# ---------------------------------------------------------------------------------------------------------------
# Checksums
# ---------------------------------------------------------------------------------------------------------------


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


def _verify_bytes(label: str, data: bytes, key: str, verify: bool) -> str:
    """Check `data` against PINNED[key] when verifying; either way say what was (not) checked and its sha256."""
    sha = hashlib.sha256(data).hexdigest()
    if not verify:
        return f"{label}: NOT verified (verify=False), sha256 {sha}"
    pin = PINNED[key]
    got = _new_hash(pin.algorithm)
    got.update(data)
    return f"{_check_digest(label, len(data), got.hexdigest(), pin)}; sha256 {sha}"


def _verify_file_streaming(path: Path, key: str) -> str:
    """Like _verify_bytes for a file too large to hold (the CIFAR archive): hashed in chunks, bounded by its size."""
    pin = PINNED[key]
    limit = pin.size if pin.size is not None else 1 << 30
    got, size = _new_hash(pin.algorithm), 0
    with _open_regular(path) as handle:
        while chunk := handle.read(min(1 << 22, limit + 1 - size)):
            got.update(chunk)
            size += len(chunk)
            if size > limit:
                raise DatasetError(f"{path} is larger than the {limit} bytes expected")
    return _check_digest(str(path), size, got.hexdigest(), pin)


# ---------------------------------------------------------------------------------------------------------------
# Building a split: the checks every loader shares
# ---------------------------------------------------------------------------------------------------------------


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


def _make_split(name: str, images: npt.NDArray[np.uint8], labels: npt.NDArray[np.int64], source: Sequence[str],
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


# ---------------------------------------------------------------------------------------------------------------
# scikit-learn digits
# ---------------------------------------------------------------------------------------------------------------


def _load_digits(verify: bool) -> TestSplit:
    try:
        import sklearn
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise DatasetError("sklearn-digits needs scikit-learn installed (pip install 'cwcontrib[data]')") from exc
    bunch = load_digits()
    grey = np.asarray(bunch.images[DIGITS_TRAIN_SIZE:], dtype=np.float64)
    # load_digits returns float64; the file holds integer grey levels 0..16, kept as such (rescale=1/16 -> [0, 1])
    if not (np.array_equal(grey, np.round(grey)) and grey.min() >= 0 and grey.max() <= 16):
        raise DatasetError("scikit-learn's digits are not integer grey levels 0..16: the installation is modified")
    images = grey.astype(np.uint8).reshape(-1, 8, 8, 1)
    labels = np.asarray(bunch.target[DIGITS_TRAIN_SIZE:], dtype=np.int64)
    source = f"scikit-learn {sklearn.__version__} load_digits() (bundled digits.csv.gz), rows {DIGITS_TRAIN_SIZE}..1796"
    split = _make_split("sklearn-digits", images, labels, [source], [], verify)
    return _verify_digits(split, verify)


def _verify_digits(split: TestSplit, verify: bool) -> TestSplit:
    if not verify:
        check = f"sklearn-digits: NOT verified (verify=False), split sha256 {split.sha256}"
    elif split.sha256 != DIGITS_TEST_SHA256:
        raise DatasetError(f"checksum mismatch for the sklearn-digits test split: sha256 {split.sha256}, "
                           f"expected {DIGITS_TEST_SHA256}. The scikit-learn installation's digits data differ.")
    else:
        check = f"sklearn-digits: split sha256 matches the pinned {DIGITS_TEST_SHA256} (computed by cwcontrib)"
    return TestSplit(name=split.name, images=split.images, labels=split.labels, sha256=split.sha256,
                     source=split.source, verification=(check,))


# ---------------------------------------------------------------------------------------------------------------
# CIFAR-10, binary version
# ---------------------------------------------------------------------------------------------------------------

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
    data = _read_bounded(path, CIFAR_TEST_BATCH_BYTES)
    return data, str(path), [_verify_bytes(str(path), data, "cifar10/" + _CIFAR_MEMBER, verify)]


def _cifar_from_archive(path: Path, verify: bool) -> tuple[bytes, str, list[str]]:
    """Read test_batch.bin out of the official archive in memory: nothing is extracted to disk."""
    checks = [_verify_file_streaming(path, "cifar10/cifar-10-binary.tar.gz")] if verify else []
    label = f"{path}::{_CIFAR_MEMBER}"
    with _open_regular(path) as raw:
        data = _tar_member(raw, path)
    checks.append(_verify_bytes(label, data, "cifar10/" + _CIFAR_MEMBER, verify))
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


def _load_cifar10(root: Path, verify: bool) -> TestSplit:
    folder = root / "cifar10"
    batch, archive = folder / _CIFAR_MEMBER, folder / "cifar-10-binary.tar.gz"
    if batch.exists():
        data, source, checks = _cifar_from_batch(batch, verify)
    elif archive.exists():
        data, source, checks = _cifar_from_archive(archive, verify)
    else:
        raise _cifar_missing(folder, batch, archive)
    images, labels = _parse_cifar_records(data, source)
    return _make_split("cifar10", images, labels, [source], checks, verify)


def _cifar_missing(folder: Path, batch: Path, archive: Path) -> DatasetError:
    pickles = [p for p in (folder / "cifar-10-batches-py", folder / "cifar-10-python.tar.gz") if p.exists()]
    fetch = (f"cwcontrib never downloads data: get cifar-10-binary.tar.gz (md5 c32a1d4ab5d03f1284b67883e8d87530) "
             f"from {_TORONTO} and put it, or its extracted cifar-10-batches-bin/, in {folder}")
    if pickles:
        return DatasetError(
            f"only the Python (pickle) version of CIFAR-10 was found at {pickles[0]}; cwcontrib reads the binary "
            "version only, because unpickling a file can execute arbitrary code from it. "
            f"Expected {batch} or {archive}. {fetch}.")
    return DatasetError(f"CIFAR-10 test split not found: expected {batch} (or the archive {archive}). {fetch}.")


# ---------------------------------------------------------------------------------------------------------------
# MNIST and Fashion-MNIST, IDX files
# ---------------------------------------------------------------------------------------------------------------

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
        data = _read_bounded(path, raw_limit)
        return data, _verify_bytes(str(path), data, key, verify)
    pin = PINNED[key]
    compressed = _read_bounded(path, pin.size if verify and pin.size else _gzip_input_limit(raw_limit))
    check = _verify_bytes(str(path), compressed, key, verify)
    return _gunzip_bounded(compressed, path, raw_limit), check


def _load_idx_split(name: str, root: Path, verify: bool) -> TestSplit:
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
    return _make_split(name, images.reshape(-1, height, width, 1), labels,
                       [str(paths[_IDX_IMAGES]), str(paths[_IDX_LABELS])], [image_check, label_check], verify)


# ---------------------------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------------------------


def load_test_split(name: str, data_dir: Path | None = None, *, verify: bool = True) -> TestSplit:
    """Load the test split of a registered dataset from local files, checking structure and checksums.

    verify=False skips the checksum comparison and accepts fewer examples than the real split (for small files
    written by tests); the structure is still checked strictly and every read is still bounded.
    """
    if name not in REGISTRY:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(sorted(REGISTRY))}")
    if name == "sklearn-digits":
        return _load_digits(verify)
    root = resolve_data_dir(data_dir)
    if name == "cifar10":
        return _load_cifar10(root, verify)
    return _load_idx_split(name, root, verify)


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
