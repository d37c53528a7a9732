"""Mutants of cwcontrib/weights/keras_h5_reader.py that survive tests/test_weights_readers.py (mutmut, issue 9),
killed here: the exact boundary of each limit (group depth, object count, one dataset's size, all datasets' size)
and the code and message of each wall, on small HDF5 files written with h5py."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from cwcontrib.weights import WeightsError, WeightsLimits
from cwcontrib.weights.keras_h5_reader import read_keras_h5
from tests import hostile_files as hostile


def h5(tmp_path: Path, build: Callable[[Any], None]) -> bytes:
    path = tmp_path / "w.weights.h5"
    with h5py.File(path, "w") as f:
        build(f)
    return path.read_bytes()


def read(raw: bytes, limits: WeightsLimits | None = None) -> dict[str, np.ndarray]:
    return read_keras_h5(io.BytesIO(raw), len(raw), limits or WeightsLimits())


def refused(raw: bytes, limits: WeightsLimits | None = None) -> tuple[str, str]:
    with pytest.raises(WeightsError) as info:
        read(raw, limits)
    return info.value.code, str(info.value)


def nested(levels: int) -> Callable[[Any], None]:
    def build(f: Any) -> None:
        f["/".join(["g"] * levels) + "/w"] = np.zeros(2, dtype=np.float32)
    return build


def test_group_depth_limit_is_exact(tmp_path: Path) -> None:
    """The file's root is depth 0: with a limit of 3, groups three deep are read, four deep are refused."""
    assert list(read(h5(tmp_path, nested(3)), WeightsLimits(h5_depth=3))) == ["g/g/g/w"]
    assert refused(h5(tmp_path, nested(4)), WeightsLimits(h5_depth=3)) == (
        "CW406", "groups nested deeper than 3 at g/g/g/g/")


def test_object_count_limit_is_exact(tmp_path: Path) -> None:
    def build(f: Any) -> None:
        f["a/x"] = np.zeros(1, dtype=np.float32)
        f["b"] = np.zeros(1, dtype=np.float32)

    raw = h5(tmp_path, build)  # objects: a, a/x, b
    assert sorted(read(raw, WeightsLimits(h5_objects=3))) == ["a/x", "b"]
    assert refused(raw, WeightsLimits(h5_objects=2)) == ("CW406", "more than 2 objects")


def test_dataset_size_limits_are_exact(tmp_path: Path) -> None:
    def build(f: Any) -> None:
        f["a"] = np.zeros(4, dtype=np.float32)  # 16 bytes
        f["b"] = np.zeros(2, dtype=np.float64)  # 16 bytes

    raw = h5(tmp_path, build)
    assert sorted(read(raw, WeightsLimits(tensor_bytes=32))) == ["a", "b"]
    assert refused(raw, WeightsLimits(tensor_bytes=31)) == ("CW406", "datasets declare 32 bytes, over the limit of 31")
    assert refused(raw, WeightsLimits(tensor_bytes=15)) == ("CW406", "a declares 16 bytes, over the limit of 15")


def test_datasets_are_read_with_their_values_and_names(tmp_path: Path) -> None:
    def build(f: Any) -> None:
        f["layers/dense/vars/0"] = np.arange(6, dtype=np.float32).reshape(2, 3)
        f["layers/dense/vars/1"] = np.array([1, 2], dtype=np.int64)
        f["flag"] = np.array([True, False])

    tensors = read(h5(tmp_path, build))
    assert list(tensors) == ["flag", "layers/dense/vars/0", "layers/dense/vars/1"]
    assert tensors["layers/dense/vars/0"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert tensors["layers/dense/vars/1"].dtype == np.int64


@pytest.mark.parametrize(("data", "what"), [
    (np.array([b"text"]), "|S4"),
    (np.array([1 + 2j]), "complex128"),
])
def test_non_numeric_dtypes_are_refused(tmp_path: Path, data: np.ndarray, what: str) -> None:
    def build(f: Any) -> None:
        f["d"] = data

    assert refused(h5(tmp_path, build)) == ("CW405", f"d has dtype {what}, not a plain numeric type")


def test_variable_length_and_empty_datasets_are_refused(tmp_path: Path) -> None:
    def vlen(f: Any) -> None:
        f.create_dataset("v", shape=(1,), dtype=h5py.vlen_dtype(np.float32))

    code, message = refused(h5(tmp_path, vlen))
    assert code == "CW405" and message.startswith("v has dtype ") and message.endswith("not a plain numeric type")

    def empty(f: Any) -> None:
        f.create_dataset("e", data=h5py.Empty("f4"))

    assert refused(h5(tmp_path, empty)) == ("CW405", "e has no shape (an empty dataspace)")


def test_links_are_refused_with_what_they_are(tmp_path: Path) -> None:
    code, message = refused(hostile.h5_soft_link(tmp_path).read_bytes())
    assert (code, message) == ("CW404", "layers/dense/vars/1 is a SoftLink; only hard links are allowed")
    code, message = refused(hostile.h5_external_link(tmp_path).read_bytes())
    assert code == "CW404" and message == (
        f"layers/dense/vars/0 is an external link to {tmp_path / 'host-secret.h5'}:/data")

    def alias(f: Any) -> None:
        f["a"] = np.zeros(1, dtype=np.float32)
        f["b"] = f["a"]  # a second hard link to the same dataset

    assert refused(h5(tmp_path, alias)) == ("CW404", "b links to an object reached before (a cycle or alias)")


def test_storage_walls_name_the_dataset(tmp_path: Path) -> None:
    assert refused(hostile.h5_virtual_dataset(tmp_path).read_bytes()) == (
        "CW405", "layers/dense/vars/0 is a virtual dataset (it maps data from other files)")
    assert refused(hostile.h5_external_storage(tmp_path).read_bytes()) == (
        "CW405", "layers/dense/vars/0 keeps its data in external files")


def test_a_named_datatype_is_neither_group_nor_dataset(tmp_path: Path) -> None:
    def build(f: Any) -> None:
        f["t"] = np.dtype("f4")  # a committed (named) datatype

    assert refused(h5(tmp_path, build)) == ("CW405", "t is a Datatype, not a group or dataset")


def test_no_signature_no_hdf5(tmp_path: Path) -> None:
    assert refused(b"PK\x03\x04" + bytes(100)) == ("CW401", "no HDF5 signature at the start of the file")


def test_one_dataset_exactly_at_the_limit_is_read(tmp_path: Path) -> None:
    def build(f: Any) -> None:
        f["a"] = np.zeros(4, dtype=np.float32)

    assert list(read(h5(tmp_path, build), WeightsLimits(tensor_bytes=16))) == ["a"]


def test_a_declared_size_beyond_64_bits_is_refused(tmp_path: Path) -> None:
    """2**32 x 2**32 x 16 elements: 0 in 64-bit arithmetic; the size is computed exactly."""
    def build(f: Any) -> None:
        f.create_dataset("big", shape=(2**32, 2**32, 16), dtype=np.float32, chunks=(1, 1, 16))

    assert refused(h5(tmp_path, build)) == (
        "CW406", f"big declares {2**68 * 4} bytes, over the limit of {4 * 1024**3}")


def test_a_damaged_file_says_so(tmp_path: Path) -> None:
    from tests.conftest import DEMO

    raw = (DEMO / "weights" / "t01-keras.weights.h5").read_bytes()
    code, message = refused(raw[:2048] + bytes(len(raw) - 2048))
    assert code == "CW402" and message.startswith("the HDF5 file cannot be read: ")


@pytest.mark.parametrize(("group", "where"), [("", "/"), ("layers/dense/", "layers/dense/")])
def test_a_name_that_is_not_utf8_names_its_group(tmp_path: Path, group: str, where: str) -> None:
    """The message says where the bad name is: '/' at the file's root, else the group's path."""
    path = tmp_path / "x.weights.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset(f"{group}abcd", data=np.zeros(3, dtype=np.float32))
        h5.create_dataset(f"{group}wxyz", data=np.zeros(3, dtype=np.float32))
    raw = bytearray(path.read_bytes())
    raw[raw.find(b"abcd")] = 0x80
    assert refused(bytes(raw)) == ("CW402", f"{where} holds an object name that is not UTF-8 text")
