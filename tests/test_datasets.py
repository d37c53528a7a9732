"""Test-split loaders: official formats written small into tmp_path, strict parsing, checksums, preprocessing."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from cwcontrib import datasets as ds
from cwcontrib.datasets import DatasetError, PinnedDigest, load_test_split, preprocess

RNG = np.random.default_rng(1234)
IDX_NAMES = ("mnist", "fashion-mnist")


# --- writers for the official formats ----------------------------------------------------------------------------


def cifar_records(labels: list[int], planes: np.ndarray) -> bytes:
    """Official binary layout: per record one label byte, then the R, G and B planes of 1024 bytes each."""
    assert planes.shape == (len(labels), 3, 32, 32)
    return b"".join(bytes([label]) + planes[i].astype(np.uint8).tobytes() for i, label in enumerate(labels))


def write_cifar(root: Path, data: bytes) -> Path:
    path = root / "cifar10" / "cifar-10-batches-bin" / "test_batch.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def cifar_archive(root: Path, member_data: bytes, member: str = "cifar-10-batches-bin/test_batch.bin") -> Path:
    path = root / "cifar10" / "cifar-10-binary.tar.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        meta = tarfile.TarInfo("cifar-10-batches-bin/batches.meta.txt")
        names = b"airplane\nautomobile\n"
        meta.size = len(names)
        archive.addfile(meta, io.BytesIO(names))
        info = tarfile.TarInfo(member)
        info.size = len(member_data)
        archive.addfile(info, io.BytesIO(member_data))
    return path


def idx_images(pixels: np.ndarray, magic: int = 0x00000803) -> bytes:
    n, rows, cols = pixels.shape
    return struct.pack(">IIII", magic, n, rows, cols) + pixels.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray, magic: int = 0x00000801) -> bytes:
    return struct.pack(">II", magic, len(labels)) + labels.astype(np.uint8).tobytes()


def write_idx(root: Path, name: str, images: bytes, labels: bytes, gz: bool = False) -> tuple[Path, Path]:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    paths = folder / f"t10k-images-idx3-ubyte{suffix}", folder / f"t10k-labels-idx1-ubyte{suffix}"
    for path, data in zip(paths, (images, labels), strict=True):
        path.write_bytes(gzip.compress(data) if gz else data)
    return paths


def pin_to(monkeypatch: pytest.MonkeyPatch, key: str, data: bytes, algorithm: str = "md5") -> None:
    """Point one pinned digest at bytes the test wrote, to exercise the verifying path end to end."""
    digest = hashlib.new(algorithm, data).hexdigest()
    monkeypatch.setitem(ds.PINNED, key, PinnedDigest(algorithm, digest, len(data), "test", official=False))


# --- scikit-learn digits -------------------------------------------------------------------------------------------


def test_digits_split_is_rows_1437_on_as_uint8_grey_levels() -> None:
    from sklearn.datasets import load_digits

    split = load_test_split("sklearn-digits")
    reference = load_digits()
    assert split.images.shape == (360, 8, 8, 1) and split.images.dtype == np.uint8
    assert split.images.flags.c_contiguous
    assert split.labels.shape == (360,) and split.labels.dtype == np.int64
    np.testing.assert_array_equal(split.images[..., 0], reference.images[1437:])
    np.testing.assert_array_equal(split.labels, reference.target[1437:])
    assert split.images.max() == 16 and set(split.labels.tolist()) == set(range(10))
    assert split.sha256 == ds.DIGITS_TEST_SHA256
    assert "matches" in split.verification[0]


def test_split_digest_is_images_then_little_endian_int64_labels() -> None:
    split = load_test_split("sklearn-digits")
    expected = hashlib.sha256(split.images.tobytes() + split.labels.astype("<i8").tobytes()).hexdigest()
    assert split.sha256 == expected == ds.split_sha256(split.images, split.labels)


def test_loaded_arrays_are_read_only() -> None:
    split = load_test_split("sklearn-digits")
    with pytest.raises(ValueError):
        split.images[0, 0, 0, 0] = 1


def test_digits_mismatch_raises_when_verifying(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ds.digits, "DIGITS_TEST_SHA256", "0" * 64)
    with pytest.raises(DatasetError, match="checksum mismatch"):
        load_test_split("sklearn-digits")
    assert "NOT verified" in load_test_split("sklearn-digits", verify=False).verification[0]


# --- CIFAR-10 ------------------------------------------------------------------------------------------------------


def test_cifar_planar_records_land_in_nhwc_channels(tmp_path: Path) -> None:
    n = 20
    planes = np.empty((n, 3, 32, 32), dtype=np.uint8)
    for i in range(n):
        planes[i, 0] = 10 + i  # R
        planes[i, 1] = 100 + i  # G
        planes[i, 2] = 200 + i  # B
    planes[0, 0] = (np.arange(1024) % 251).reshape(32, 32)  # row-major within a plane
    labels = [i % 10 for i in range(n)]
    write_cifar(tmp_path, cifar_records(labels, planes))

    split = load_test_split("cifar10", tmp_path, verify=False)

    assert split.images.shape == (n, 32, 32, 3) and split.images.flags.c_contiguous
    assert split.labels.tolist() == labels and split.labels.dtype == np.int64
    for i in range(1, n):
        assert (split.images[i, :, :, 0] == 10 + i).all()
        assert (split.images[i, :, :, 1] == 100 + i).all()
        assert (split.images[i, :, :, 2] == 200 + i).all()
    assert split.images[0, 1, 2, 0] == (1 * 32 + 2) % 251
    assert split.images[0, 31, 31, 0] == 1023 % 251
    assert split.source == (str(tmp_path / "cifar10" / "cifar-10-batches-bin" / "test_batch.bin"),)
    assert "NOT verified" in split.verification[0]


def test_cifar_full_size_batch_checksum_mismatch_raises(tmp_path: Path) -> None:
    write_cifar(tmp_path, bytes(ds.CIFAR_TEST_BATCH_BYTES))  # right size, all-zero: not the official file
    with pytest.raises(DatasetError, match=r"checksum mismatch.*803d5f7f4d78ea53de84dbe85f74fb6d"):
        load_test_split("cifar10", tmp_path)


def test_cifar_verifies_against_the_pinned_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytes(ds.CIFAR_TEST_BATCH_BYTES)
    write_cifar(tmp_path, data)
    pin_to(monkeypatch, "cifar10/cifar-10-batches-bin/test_batch.bin", data)
    split = load_test_split("cifar10", tmp_path)
    assert split.images.shape == (10_000, 32, 32, 3)
    assert "md5 matches the pinned" in split.verification[0]
    assert hashlib.sha256(data).hexdigest() in split.verification[0]


def test_cifar_small_file_is_refused_when_verifying(tmp_path: Path) -> None:
    write_cifar(tmp_path, cifar_records([1], np.zeros((1, 3, 32, 32), np.uint8)))
    with pytest.raises(DatasetError, match="official file is 30730000 bytes"):
        load_test_split("cifar10", tmp_path)


@pytest.mark.parametrize(("data", "message"), [
    (bytes(3 * 3073 - 1), "not a whole number of 3073-byte records"),
    (b"", "not a whole number"),
    (bytes(ds.CIFAR_TEST_BATCH_BYTES + 3073), "larger than the 30730000 bytes"),
    (bytes([3]) + bytes(3072) + bytes([10]) + bytes(3072), "label 10 at index 1 is outside 0..9"),
])
def test_cifar_malformed_batches_are_refused(tmp_path: Path, data: bytes, message: str) -> None:
    write_cifar(tmp_path, data)
    with pytest.raises(DatasetError, match=message):
        load_test_split("cifar10", tmp_path, verify=False)


def test_cifar_pickle_version_is_refused(tmp_path: Path) -> None:
    pickles = tmp_path / "cifar10" / "cifar-10-batches-py"
    pickles.mkdir(parents=True)
    (pickles / "test_batch").write_bytes(b"\x80\x04K\x00.")
    with pytest.raises(DatasetError) as caught:
        load_test_split("cifar10", tmp_path, verify=False)
    message = str(caught.value)
    assert "pickle" in message and "binary version only" in message and "execute arbitrary code" in message
    assert "test_batch.bin" in message


def test_cifar_missing_names_the_files_and_says_nothing_is_downloaded(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as caught:
        load_test_split("cifar10", tmp_path)
    message = str(caught.value)
    assert str(tmp_path / "cifar10" / "cifar-10-batches-bin" / "test_batch.bin") in message
    assert str(tmp_path / "cifar10" / "cifar-10-binary.tar.gz") in message
    assert "never downloads" in message


def test_cifar_reads_the_official_archive_in_memory(tmp_path: Path) -> None:
    planes = RNG.integers(0, 256, size=(4, 3, 32, 32), dtype=np.uint8)
    archive = cifar_archive(tmp_path, cifar_records([0, 9, 4, 2], planes))

    split = load_test_split("cifar10", tmp_path, verify=False)

    np.testing.assert_array_equal(split.images, planes.transpose(0, 2, 3, 1))
    assert split.labels.tolist() == [0, 9, 4, 2]
    assert split.source == (f"{archive}::cifar-10-batches-bin/test_batch.bin",)
    assert not (tmp_path / "cifar10" / "cifar-10-batches-bin").exists()  # nothing extracted to disk


def test_cifar_archive_checksum_mismatch_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cifar_archive(tmp_path, cifar_records([0], np.zeros((1, 3, 32, 32), np.uint8)))
    with pytest.raises(DatasetError, match=r"is 1.* bytes, but the official file is 170052171 bytes"):
        load_test_split("cifar10", tmp_path)
    official = ds.PINNED["cifar10/cifar-10-binary.tar.gz"]
    monkeypatch.setitem(ds.PINNED, "cifar10/cifar-10-binary.tar.gz",
                        PinnedDigest("md5", official.hexdigest, None, official.provenance, official=True))
    with pytest.raises(DatasetError, match=r"checksum mismatch.*official md5 c32a1d4ab5d03f1284b67883e8d87530"):
        load_test_split("cifar10", tmp_path)


def test_cifar_archive_verifies_against_pinned_digests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    member = bytes(ds.CIFAR_TEST_BATCH_BYTES)
    archive = cifar_archive(tmp_path, member)
    pin_to(monkeypatch, "cifar10/cifar-10-binary.tar.gz", archive.read_bytes())
    pin_to(monkeypatch, "cifar10/cifar-10-batches-bin/test_batch.bin", member)
    split = load_test_split("cifar10", tmp_path)
    assert split.images.shape == (10_000, 32, 32, 3)
    assert len(split.verification) == 2 and all("md5 matches the pinned" in line for line in split.verification)


def test_cifar_archive_without_the_binary_member_is_refused(tmp_path: Path) -> None:
    cifar_archive(tmp_path, b"not used", member="cifar-10-batches-py/test_batch")
    with pytest.raises(DatasetError, match=r"has no member cifar-10-batches-bin/test_batch.bin"):
        load_test_split("cifar10", tmp_path, verify=False)


def test_cifar_archive_with_an_oversized_member_is_refused(tmp_path: Path) -> None:
    cifar_archive(tmp_path, bytes(ds.CIFAR_TEST_BATCH_BYTES + 1), member="cifar-10-batches-bin/data_batch_1.bin")
    with pytest.raises(DatasetError, match="unexpected archive layout at member 'cifar-10-batches-bin/data_batch_1"):
        load_test_split("cifar10", tmp_path, verify=False)


def test_special_files_are_not_read(tmp_path: Path) -> None:
    path = write_cifar(tmp_path, b"")
    path.unlink()
    os.mkfifo(path)  # opening a FIFO for reading would block forever without O_NONBLOCK
    with pytest.raises(DatasetError, match="not a regular file"):
        load_test_split("cifar10", tmp_path, verify=False)


# --- MNIST and Fashion-MNIST ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", IDX_NAMES)
@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path: Path, name: str, gz: bool) -> None:
    pixels = RNG.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3, 9, 8, 7])
    images_path, labels_path = write_idx(tmp_path, name, idx_images(pixels), idx_labels(labels), gz=gz)

    split = load_test_split(name, tmp_path, verify=False)

    assert split.images.shape == (7, 28, 28, 1) and split.images.dtype == np.uint8
    assert split.images.flags.c_contiguous
    np.testing.assert_array_equal(split.images[..., 0], pixels)
    assert split.labels.tolist() == labels.tolist() and split.labels.dtype == np.int64
    assert split.source == (str(images_path), str(labels_path))


def test_gz_is_preferred_over_the_raw_file(tmp_path: Path) -> None:
    pixels = np.full((2, 28, 28), 5, dtype=np.uint8)
    write_idx(tmp_path, "mnist", idx_images(pixels), idx_labels(np.array([1, 2])), gz=True)
    write_idx(tmp_path, "mnist", b"garbage", b"garbage")
    split = load_test_split("mnist", tmp_path, verify=False)
    assert all(path.endswith(".gz") for path in split.source)


@pytest.mark.parametrize(("images", "labels", "message"), [
    (idx_images(np.zeros((2, 28, 28)), magic=0x00000801), idx_labels(np.zeros(2)), "bad IDX magic 0x00000801"),
    (idx_images(np.zeros((2, 28, 28))), idx_labels(np.zeros(2), magic=0x00000803), "bad IDX magic 0x00000803"),
    (idx_images(np.zeros((2, 28, 28)))[:-1], idx_labels(np.zeros(2)), "truncated"),
    (idx_images(np.zeros((2, 28, 28))) + b"\0", idx_labels(np.zeros(2)), "followed by extra bytes"),
    (idx_images(np.zeros((2, 27, 28))), idx_labels(np.zeros(2)), r"dimensions \(27, 28\), expected \(28, 28\)"),
    (idx_images(np.zeros((2, 28, 28)))[:10], idx_labels(np.zeros(2)), "truncated IDX header"),
    (idx_images(np.zeros((2, 28, 28))), idx_labels(np.zeros(3)), "2 images .* but 3 labels"),
    (idx_images(np.zeros((2, 28, 28))), idx_labels(np.array([1, 10])), "label 10 at index 1 is outside 0..9"),
    (idx_images(np.zeros((0, 28, 28))), idx_labels(np.zeros(0)), "0 examples"),
])
def test_idx_malformed_files_are_refused(tmp_path: Path, images: bytes, labels: bytes, message: str) -> None:
    write_idx(tmp_path, "mnist", images, labels)
    with pytest.raises(DatasetError, match=message):
        load_test_split("mnist", tmp_path, verify=False)


def test_idx_header_claiming_more_than_the_split_is_bounded(tmp_path: Path) -> None:
    # N = 10001 would need 7,840,800 bytes: the read stops one byte past the real split's size
    images = struct.pack(">IIII", 0x803, 10_001, 28, 28) + bytes(10_001 * 784)
    write_idx(tmp_path, "mnist", images, idx_labels(np.zeros(2)))
    with pytest.raises(DatasetError, match="larger than the 7840016 bytes"):
        load_test_split("mnist", tmp_path, verify=False)


def test_gzip_bomb_is_cut_off(tmp_path: Path) -> None:
    bomb = struct.pack(">IIII", 0x803, 10_000, 28, 28) + bytes(20_000_000)
    write_idx(tmp_path, "mnist", bomb, idx_labels(np.zeros(2)), gz=True)
    with pytest.raises(DatasetError, match="decompresses to more than the 7840016 bytes"):
        load_test_split("mnist", tmp_path, verify=False)


def test_corrupt_gzip_is_refused(tmp_path: Path) -> None:
    images_path, _ = write_idx(tmp_path, "mnist", idx_images(np.zeros((2, 28, 28))), idx_labels(np.zeros(2)), gz=True)
    images_path.write_bytes(images_path.read_bytes()[:-12])  # cut into the deflate stream and its trailer
    with pytest.raises(DatasetError, match="not a valid gzip file"):
        load_test_split("mnist", tmp_path, verify=False)


@pytest.mark.parametrize("name", IDX_NAMES)
def test_idx_raw_checksum_mismatch_raises(tmp_path: Path, name: str) -> None:
    images = idx_images(np.zeros((10_000, 28, 28)))  # right size and structure, not the official pixels
    write_idx(tmp_path, name, images, idx_labels(np.zeros(10_000)))
    pin = ds.PINNED[f"{name}/t10k-images-idx3-ubyte"]
    with pytest.raises(DatasetError, match=f"checksum mismatch.*sha256 .*{pin.hexdigest}"):
        load_test_split(name, tmp_path)


def test_idx_gz_checksum_mismatch_raises(tmp_path: Path) -> None:
    # Fashion-MNIST's .gz sizes are not pinned, so a full-size stand-in reaches the md5 comparison itself
    write_idx(tmp_path, "fashion-mnist", idx_images(np.zeros((10_000, 28, 28))), idx_labels(np.zeros(10_000)),
              gz=True)
    with pytest.raises(DatasetError, match=r"checksum mismatch.*md5 .*bef4ecab320f06d8554ea6380940ec79"):
        load_test_split("fashion-mnist", tmp_path)


def test_mnist_gz_of_the_wrong_size_is_refused_when_verifying(tmp_path: Path) -> None:
    write_idx(tmp_path, "mnist", idx_images(np.zeros((2, 28, 28))), idx_labels(np.zeros(2)), gz=True)
    with pytest.raises(DatasetError, match="official file is 1648877 bytes"):
        load_test_split("mnist", tmp_path)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_verifies_against_pinned_digests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gz: bool) -> None:
    images = idx_images(np.full((10_000, 28, 28), 7))  # constant pixels: quick to gzip
    labels = idx_labels(RNG.integers(0, 10, size=10_000))
    images_path, labels_path = write_idx(tmp_path, "mnist", images, labels, gz=gz)
    algorithm = "md5" if gz else "sha256"
    pin_to(monkeypatch, f"mnist/{images_path.name}", images_path.read_bytes(), algorithm)
    pin_to(monkeypatch, f"mnist/{labels_path.name}", labels_path.read_bytes(), algorithm)
    split = load_test_split("mnist", tmp_path)
    assert split.images.shape == (10_000, 28, 28, 1)
    assert all(f"{algorithm} matches the pinned" in line for line in split.verification)


def test_idx_missing_names_the_files_and_says_nothing_is_downloaded(tmp_path: Path) -> None:
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    (folder / "t10k-images-idx3-ubyte").write_bytes(idx_images(np.zeros((1, 28, 28))))
    with pytest.raises(DatasetError) as caught:
        load_test_split("fashion-mnist", tmp_path, verify=False)
    message = str(caught.value)
    assert f"{folder / 't10k-labels-idx1-ubyte'}.gz or {folder / 't10k-labels-idx1-ubyte'}" in message
    assert "t10k-images" not in message.split("expected", 1)[1].split(".", 1)[0]
    assert "never downloads" in message


# --- data directory, errors, preprocessing ------------------------------------------------------------------------


def test_data_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CWCONTRIB_DATA", raising=False)
    assert ds.resolve_data_dir() == tmp_path / "home" / ".cache" / "cwcontrib" / "datasets"
    monkeypatch.setenv("CWCONTRIB_DATA", str(tmp_path / "env"))
    assert ds.resolve_data_dir() == tmp_path / "env"
    assert ds.resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"

    write_idx(tmp_path / "env", "mnist", idx_images(np.zeros((1, 28, 28))), idx_labels(np.array([3])))
    assert load_test_split("mnist", verify=False).labels.tolist() == [3]


def test_unknown_dataset() -> None:
    with pytest.raises(DatasetError, match="unknown dataset 'imagenet'; known: cifar10, fashion-mnist"):
        load_test_split("imagenet")


def test_preprocess_rescales_then_normalises_per_channel(tmp_path: Path) -> None:
    planes = np.empty((2, 3, 32, 32), dtype=np.uint8)
    planes[:, 0], planes[:, 1], planes[:, 2] = 255, 51, 0
    write_cifar(tmp_path, cifar_records([0, 1], planes))
    split = load_test_split("cifar10", tmp_path, verify=False)

    x = preprocess(split, 1 / 255, mean=[0.5, 0.1, 0.0], std=[0.5, 0.2, 0.25])

    assert x.dtype == np.float32 and x.shape == (2, 32, 32, 3) and x.flags.c_contiguous
    np.testing.assert_allclose(x[0, 0, 0], [1.0, 0.5, 0.0], atol=1e-6)
    np.testing.assert_allclose(preprocess(split, 1 / 255)[1, 5, 7], [1.0, 0.2, 0.0], atol=1e-6)
    assert split.images[0, 0, 0, 0] == 255  # the split itself is untouched


def test_preprocess_digits_rescale_maps_to_unit_interval() -> None:
    x = preprocess(load_test_split("sklearn-digits"), 1 / 16, None, None)
    assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0


@pytest.mark.parametrize(("rescale", "mean", "std", "message"), [
    (0.0, None, None, "rescale"),
    (float("nan"), None, None, "rescale"),
    (1.0, [0.5, 0.5], None, "mean must be 3 finite numbers"),
    (1.0, None, [1.0, 0.0, 1.0], "std must be positive"),
    (1.0, None, [1.0, float("inf"), 1.0], "std must be 3 finite"),
])
def test_preprocess_rejects_bad_parameters(tmp_path: Path, rescale: float, mean: list[float] | None,
                                           std: list[float] | None, message: str) -> None:
    write_cifar(tmp_path, cifar_records([0], np.zeros((1, 3, 32, 32), np.uint8)))
    split = load_test_split("cifar10", tmp_path, verify=False)
    with pytest.raises(ValueError, match=message):
        preprocess(split, rescale, mean, std)
