"""Safe weight readers on real files: genuine ones load, hostile ones are refused with their code,
and no payload ever runs (its marker file never appears)."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest

from cwcontrib.weights import WeightsError, WeightsLimits, keras_h5_reader, pytorch_reader, read_weights
from cwcontrib.weights.pytorch_reader import scan_pickle
from tests import hostile_files as hostile
from tests.conftest import DEMO


def refused(path: Path, fmt: str, limits: WeightsLimits | None = None) -> WeightsError:
    with pytest.raises(WeightsError) as info:
        read_weights(path.parent, path.name, fmt, *(limits,) if limits else ())
    assert not (path.parent / hostile.MARKER).exists(), "a payload ran"
    return info.value


def test_demo_weights_load_as_plain_arrays() -> None:
    torch_tensors = read_weights(DEMO, "weights/t01-pytorch.safetensors", "safetensors")
    assert list(torch_tensors) == ["conv.bias", "conv.weight", "fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]
    assert torch_tensors["conv.weight"].shape == (16, 1, 3, 3)
    keras_tensors = read_weights(DEMO, "weights/t01-keras.weights.h5", "keras-h5")
    assert keras_tensors["layers/conv2d/vars/0"].shape == (3, 3, 1, 16)
    assert sum(a.size for k, a in keras_tensors.items() if k.startswith("layers/")) == 8714


def test_real_torch_zip_state_dict_loads(tmp_path: Path) -> None:
    import torch

    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    torch.save(model.state_dict(), tmp_path / "model.pt")
    tensors = read_weights(tmp_path, "model.pt", "pytorch")
    assert tensors["1.running_var"].tolist() == [1.0, 1.0]
    assert tensors["1.num_batches_tracked"].dtype == np.int64


def test_safetensors_bf16_is_widened(tmp_path: Path) -> None:
    import safetensors.torch
    import torch

    safetensors.torch.save_file({"w": torch.tensor([1.5, -2.0], dtype=torch.bfloat16)}, tmp_path / "w.safetensors")
    assert read_weights(tmp_path, "w.safetensors", "safetensors")["w"].tolist() == [1.5, -2.0]


@pytest.mark.parametrize(
    ("writer", "fmt", "code"),
    [
        (hostile.legacy_pickle_checkpoint, "pytorch", "CW401"),
        (hostile.zip_checkpoint_with_payload, "pytorch", "CW403"),
        (lambda d: hostile.zip_checkpoint_with_payload(d, protocol=4), "pytorch", "CW403"),
        (hostile.zip_checkpoint_stack_global_via_memo, "pytorch", "CW403"),
        (hostile.safetensors_lying_header_length, "safetensors", "CW402"),
        (hostile.safetensors_overlapping, "safetensors", "CW402"),
        (hostile.safetensors_huge_shape, "safetensors", "CW406"),  # declared size, as for HDF5
        (hostile.h5_external_link, "keras-h5", "CW404"),
        (hostile.h5_soft_link, "keras-h5", "CW404"),
        (hostile.h5_external_storage, "keras-h5", "CW405"),
        (hostile.h5_virtual_dataset, "keras-h5", "CW405"),
        (hostile.h5_huge_declared_dataset, "keras-h5", "CW406"),
        (hostile.h5_object_reference, "keras-h5", "CW405"),
        (hostile.npy_object_array, "numpy", "CW400"),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_hostile_file_is_refused(tmp_path: Path, writer: Callable[[Path], Path], fmt: str, code: str) -> None:
    assert refused(writer(tmp_path), fmt).code == code


def test_declared_format_must_match_magic(tmp_path: Path) -> None:
    assert refused(DEMO / "weights" / "t01-pytorch.safetensors", "keras-h5").code == "CW401"
    (tmp_path / "w.pt").write_bytes((DEMO / "weights" / "t01-keras.weights.h5").read_bytes())
    assert refused(tmp_path / "w.pt", "pytorch").code == "CW401"


def test_safetensors_tensor_count_limit(tmp_path: Path) -> None:
    import safetensors.torch
    import torch

    safetensors.torch.save_file({f"t{i}": torch.zeros(1) for i in range(10)}, tmp_path / "w.safetensors")
    assert refused(tmp_path / "w.safetensors", "safetensors", WeightsLimits(tensors=5)).code == "CW406"


def test_safetensors_hidden_bytes_are_refused(tmp_path: Path) -> None:
    data = hostile.safetensors_bytes({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 8)
    (tmp_path / "w.safetensors").write_bytes(data)
    assert "unreferenced" in str(refused(tmp_path / "w.safetensors", "safetensors"))


@pytest.mark.parametrize("garbage", [b"", b"\x80", b"\x80\x02c", b"\x80\x02}q\x00(X\x01",
                                     b"\x80\x02X\x01\x00\x00\x00\xff."])  # the last: not UTF-8
def test_unparseable_pickle_is_damaged_never_clean(garbage: bytes) -> None:
    """A pickle pickletools cannot parse is damaged (CW402), not a refused import (CW403)."""
    with pytest.raises(WeightsError) as info:
        scan_pickle(garbage, WeightsLimits())
    assert info.value.code == "CW402" and "not a complete pickle" in str(info.value)


def test_missing_storage_record_is_damaged_not_refused(tmp_path: Path) -> None:
    """torch.load fails on a storage record the zip lacks: a damaged file, not the weights_only wall."""
    import torch

    torch.save({"w": torch.zeros(2), "b": torch.ones(3)}, tmp_path / "full.pt")
    with zipfile.ZipFile(tmp_path / "full.pt") as source, zipfile.ZipFile(tmp_path / "w.pt", "w") as target:
        for member in source.infolist():
            if member.filename != "full/data/1":
                target.writestr(member, source.read(member))
    error = refused(tmp_path / "w.pt", "pytorch")
    assert error.code == "CW402" and "RuntimeError" in str(error), error


def _explode(*args: object, **kwargs: object) -> NoReturn:
    raise KeyError("a bug in cwcontrib")  # a type the readers expect from their libraries, raised elsewhere


@pytest.mark.parametrize(("module", "name", "fmt"), [
    (pytorch_reader, "_storage_members", "pytorch"),  # inside the zip phase
    (pytorch_reader, "_allow", "pytorch"),  # inside the pickle scan
    (pytorch_reader, "_refuse_hidden_data", "pytorch"),
    (keras_h5_reader, "_check_dataset", "keras-h5"),  # inside the HDF5 walk
])
def test_cwcontrib_bug_in_a_reader_is_not_a_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    module: Any, name: str, fmt: str) -> None:
    """Only failures raised by the reader's library become finding codes; cwcontrib's own propagate (CW001)."""
    import torch

    if fmt == "pytorch":
        torch.save({"w": torch.zeros(2)}, tmp_path / "w.bin")
    else:
        (tmp_path / "w.bin").write_bytes((DEMO / "weights" / "t01-keras.weights.h5").read_bytes())
    monkeypatch.setattr(module, name, _explode)
    with pytest.raises(KeyError, match="a bug in cwcontrib"):
        read_weights(tmp_path, "w.bin", fmt)


def test_exception_outside_torch_during_load_is_not_a_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A RuntimeError that torch did not raise is not the file's, even where torch's would be."""
    import torch

    torch.save({"w": torch.zeros(2)}, tmp_path / "w.pt")
    monkeypatch.setattr(torch, "load", lambda *a, **k: _explode())
    with pytest.raises(KeyError):
        read_weights(tmp_path, "w.pt", "pytorch")


def test_damaged_hdf5_is_still_a_finding(tmp_path: Path) -> None:
    raw = (DEMO / "weights" / "t01-keras.weights.h5").read_bytes()
    (tmp_path / "w.weights.h5").write_bytes(raw[:2048] + bytes(len(raw) - 2048))
    error = refused(tmp_path / "w.weights.h5", "keras-h5")
    assert error.code == "CW402" and "cannot be read" in str(error), error


def test_symlinked_weights_are_not_followed(tmp_path: Path) -> None:
    (tmp_path / "link.safetensors").symlink_to(DEMO / "weights" / "t01-pytorch.safetensors")
    assert refused(tmp_path / "link.safetensors", "safetensors").code == "CW416"


def test_an_hdf5_name_that_is_not_utf8_is_a_finding(tmp_path: Path) -> None:
    """h5py returns bytes for such a name; found by hypothesis (a one-byte edit of a real Keras file)."""
    import h5py

    path = tmp_path / "x.weights.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("abcd", data=np.zeros(3, dtype=np.float32))
        h5.create_dataset("wxyz", data=np.zeros(3, dtype=np.float32))
    raw = bytearray(path.read_bytes())
    raw[raw.find(b"abcd")] = 0x80
    path.write_bytes(bytes(raw))
    with pytest.raises(WeightsError) as refused:
        read_weights(tmp_path, "x.weights.h5", "keras-h5")
    assert refused.value.code == "CW402" and "not UTF-8" in str(refused.value)
