"""The two walls around a PyTorch checkpoint, each tested alone on real torch.save zips.

cwcontrib scans data.pkl against its own allowlist (and refuses data that no tensor shows) before
`torch.load(weights_only=True)` runs. Each checkpoint below gets through one wall, so the other is the only
thing that refuses it: deleting either wall makes a test here fail.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from cwcontrib.weights import WeightsError, WeightsLimits, read_weights
from cwcontrib.weights.pytorch_reader import scan_pickle
from tests import hostile_files as hostile

ACCEPTED_BY_TORCH = hostile.weights_only_accepts()


def _data_pkl(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read("archive/data.pkl")


def _refusal(path: Path) -> WeightsError:
    with pytest.raises(WeightsError) as info:
        read_weights(path.parent, path.name, "pytorch")
    return info.value


@pytest.mark.parametrize("name", sorted(ACCEPTED_BY_TORCH))
def test_cwcontrib_refuses_what_weights_only_accepts(tmp_path: Path, name: str) -> None:
    import torch

    write, code = ACCEPTED_BY_TORCH[name]
    path = write(tmp_path)
    loaded = torch.load(io.BytesIO(path.read_bytes()), weights_only=True, map_location="cpu")
    assert isinstance(loaded, dict) and all(isinstance(v, torch.Tensor) for v in loaded.values())  # wall 2 passes
    error = _refusal(path)
    assert error.code == code, error
    assert "weights_only=True) refused" not in str(error)  # cwcontrib's own wall refused it


@pytest.mark.parametrize("name", sorted(hostile.ALLOWLIST_PASSES))
def test_weights_only_refuses_what_the_allowlist_passes(tmp_path: Path, name: str) -> None:
    path = hostile.ALLOWLIST_PASSES[name](tmp_path)
    scan_pickle(_data_pkl(path), WeightsLimits())  # wall 1 passes
    error = _refusal(path)
    assert error.code == "CW403" and "weights_only=True" in str(error), error


def test_plain_torch_save_passes_both_walls(tmp_path: Path) -> None:
    """The same helpers without the hostile edit load: the refusals above are the edits'."""
    import torch

    path = tmp_path / "plain.pt"
    path.write_bytes(hostile._torch_saved(hostile._state_dict()))
    tensors = read_weights(tmp_path, "plain.pt", "pytorch")
    assert tensors["w"].tolist() == [0.0, 1.0, 2.0, 3.0] and tensors["b"].tolist() == [1.0, 1.0]
    shared = torch.arange(6, dtype=torch.float32)
    torch.save({"a": shared, "tied": shared, "empty": torch.zeros(0)}, tmp_path / "tied.pt")
    assert read_weights(tmp_path, "tied.pt", "pytorch")["tied"].tolist() == list(range(6))


@pytest.mark.parametrize("extra", [b"\x2e", b"\x80\x02}."], ids=["one-byte", "second-pickle"])
def test_bytes_after_stop_are_refused_by_the_scan(extra: bytes) -> None:
    with pytest.raises(WeightsError) as info:
        scan_pickle(b"\x80\x02}." + extra, WeightsLimits())
    assert info.value.code == "CW402" and "after the end" in str(info.value)


def test_storage_view_boundaries(tmp_path: Path) -> None:
    """A view that covers its whole storage loads; one byte less of cover is refused."""
    import torch

    base = torch.arange(8, dtype=torch.float32)
    torch.save({"a": base[:4], "b": base[4:]}, tmp_path / "halves.pt")
    assert read_weights(tmp_path, "halves.pt", "pytorch")["b"].tolist() == [4.0, 5.0, 6.0, 7.0]
    torch.save({"a": base[:4], "b": base[4:7]}, tmp_path / "gap.pt")
    assert "4 bytes" in str(_refusal(tmp_path / "gap.pt"))
