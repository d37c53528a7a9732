"""Issue 16: each weights file is read once, by the files stage, and the bytes it hashed are the bytes its
reader parsed; later stages never see other bytes. Real files in a copy of the demo, real validations."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import cwcontrib.hashing
import cwcontrib.weights
from cwcontrib import validate as validate_module
from cwcontrib.checks import Options
from cwcontrib.hashing import read_hashed_confined
from cwcontrib.validate import validate
from cwcontrib.weights import WeightsError, iter_weights_buffer, read_weights_verified
from tests.conftest import Submission

STRUCTURE_ONLY = Options(reeval=False)


def test_read_hashed_confined_gives_the_bytes_it_hashed(tmp_path: Path) -> None:
    content = bytes(range(256)) * 40_000  # over two 4 MiB chunks
    (tmp_path / "f.bin").write_bytes(content)
    data, digest = read_hashed_confined(tmp_path, "f.bin", len(content))
    assert data is not None and bytes(data) == content and digest == hashlib.sha256(content).hexdigest()
    whole = hashlib.sha256(content).hexdigest()
    for size in (len(content) - 1, len(content) + 1):  # the file no longer has its declared size
        data, digest = read_hashed_confined(tmp_path, "f.bin", size)
        assert data is None and digest == whole  # the digest named in CW206 is the whole file's


def _weights_paths(sub: Submission) -> list[str]:
    return [a["path"] for a in sub.manifest()["artifacts"] if a["format"] in ("safetensors", "pytorch", "keras-h5")]


def test_each_weights_file_is_opened_once_through_stage_4(submission: Submission,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    opened: Counter[str] = Counter()
    for module in (cwcontrib.hashing, cwcontrib.weights):
        original: Callable[[Path, str], BinaryIO] = module.open_confined

        def counting(root: Path, rel: str, original: Callable[[Path, str], BinaryIO] = original) -> BinaryIO:
            opened[rel] += 1
            return original(root, rel)

        monkeypatch.setattr(module, "open_confined", counting)
    report = validate(submission.root, options=STRUCTURE_ONLY)
    assert report.ok, [f.code for f in report.findings]
    weights = _weights_paths(submission)
    assert weights and {path: opened[path] for path in weights} == dict.fromkeys(weights, 1)


def _swap_after_files_stage(monkeypatch: pytest.MonkeyPatch, path: Path, new_bytes: bytes) -> None:
    """Replace a file on disk right after the files stage verified it, as a racing attacker would."""
    run_stage = validate_module.run_stage

    def racing(ctx: Any, stage: str) -> list[Any]:
        found = run_stage(ctx, stage)
        if stage == "files":
            path.write_bytes(new_bytes)
        return found

    monkeypatch.setattr(validate_module, "run_stage", racing)


def _nan_twin(path: Path, tmp_path: Path) -> bytes:
    tensors = load_file(str(path))
    name = sorted(k for k, v in tensors.items() if v.dtype.kind == "f" and v.size)[0]
    tensors[name] = tensors[name].copy()
    tensors[name].flat[0] = np.nan
    save_file(tensors, str(tmp_path / "nan.safetensors"))
    return (tmp_path / "nan.safetensors").read_bytes()


def test_a_file_swapped_after_it_was_verified_is_never_loaded(submission: Submission, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    rel = next(p for p in _weights_paths(submission) if p.endswith(".safetensors"))
    _swap_after_files_stage(monkeypatch, submission.root / rel, _nan_twin(submission.root / rel, tmp_path))
    report = validate(submission.root, options=Options(all_trials=True, device="cpu"))
    codes = {f.code for f in report.findings}
    assert "CW410" not in codes  # stage 4 compared the verified bytes, not the swapped file
    refused = [f for f in report.findings if f.code == "CW502" and f.message.startswith(rel)]
    assert refused and "no longer the one verified" in refused[0].message  # stage 5 re-read and refused it


def test_verified_read_refuses_other_bytes(submission: Submission) -> None:
    rel = next(p for p in _weights_paths(submission) if p.endswith(".safetensors"))
    raw = (submission.root / rel).read_bytes()
    good = read_weights_verified(submission.root, rel, "safetensors", len(raw), hashlib.sha256(raw).hexdigest())
    assert all(a.flags.writeable for a in good.values())  # torch may assign them as parameters
    with pytest.raises(WeightsError) as refused:
        read_weights_verified(submission.root, rel, "safetensors", len(raw), hashlib.sha256(b"other").hexdigest())
    assert refused.value.code == "CW416"


def test_safetensors_from_memory_are_views_not_copies(submission: Submission) -> None:
    rel = next(p for p in _weights_paths(submission) if p.endswith(".safetensors"))
    data = bytearray((submission.root / rel).read_bytes())
    arrays = dict(iter_weights_buffer(data, "safetensors"))
    assert arrays and all(np.shares_memory(a, np.frombuffer(data, np.uint8)) for a in arrays.values())
