"""Stages 4-5 on real bad files placed into a copy of the demo: each gives its finding, no payload runs."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cwcontrib.checks import Options
from cwcontrib.checks.evaluation import sample_trials
from cwcontrib.statistics import mcnemar, tolerance
from cwcontrib.validate import Report, validate
from cwcontrib.weights import read_weights
from cwcontrib.weights.pytorch_reader import torch_version_ok
from tests import hostile_files as hostile
from tests.conftest import Submission

STRUCTURE_ONLY = Options(reeval=False)
EVERYTHING = Options(all_trials=True, device="cpu")


def codes(report: Report) -> set[str]:
    return {f.code for f in report.findings}


def run_of(data: dict[str, Any], trial: str, framework: str) -> dict[str, Any]:
    run: dict[str, Any] = next(t for t in data["trials"] if t["id"] == trial)["runs"][framework]
    return run


def replace_weights(sub: Submission, framework: str, new_file: Path, fmt: str, trial: str = "t01") -> str:
    """Swap one run's weights for `new_file`, declared honestly (right size and checksum)."""
    old = run_of(sub.manifest(), trial, framework)["weights"]
    (sub.root / old).unlink()
    rel = f"weights/{new_file.name}"
    shutil.copy(new_file, sub.root / rel)

    def change(data: dict[str, Any]) -> None:
        data["artifacts"] = [a for a in data["artifacts"] if a["path"] != old]
        run_of(data, trial, framework)["weights"] = rel

    sub.edit(change)
    sub.redeclare(rel, fmt)
    return rel


def write_safetensors(tensors: dict[str, np.ndarray], path: Path) -> Path:
    import safetensors.numpy

    safetensors.numpy.save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path))
    return path


def demo_torch_tensors(sub: Submission) -> dict[str, np.ndarray]:
    return read_weights(sub.root, "weights/t01-pytorch.safetensors", "safetensors")


def test_pickle_payload_as_weights_never_runs(submission: Submission, tmp_path: Path) -> None:
    payload = hostile.zip_checkpoint_with_payload(tmp_path)
    replace_weights(submission, "pytorch", payload, "pytorch")
    report = validate(submission.root, options=EVERYTHING)
    assert "CW403" in codes(report)
    assert not list(tmp_path.rglob(hostile.MARKER)) and not list(submission.root.rglob(hostile.MARKER))


def test_h5_external_link_as_weights(submission: Submission, tmp_path: Path) -> None:
    replace_weights(submission, "keras", hostile.h5_external_link(tmp_path), "keras-h5")
    assert "CW404" in codes(validate(submission.root, options=STRUCTURE_ONLY))


def test_nan_weights(submission: Submission, tmp_path: Path) -> None:
    tensors = demo_torch_tensors(submission)
    tensors["fc1.weight"][0, 0] = np.nan
    replace_weights(submission, "pytorch", write_safetensors(tensors, tmp_path / "nan.safetensors"), "safetensors")
    report = validate(submission.root, options=STRUCTURE_ONLY)
    finding = next(f for f in report.findings if f.code == "CW410")
    assert "fc1.weight has 1 NaN" in finding.message
    assert finding.location.pointer == "/trials/0/runs/pytorch/weights"


def test_wrong_shape(submission: Submission, tmp_path: Path) -> None:
    tensors = demo_torch_tensors(submission)
    tensors["fc2.weight"] = tensors["fc2.weight"][:9]
    tensors["fc2.bias"] = tensors["fc2.bias"][:9]
    replace_weights(submission, "pytorch", write_safetensors(tensors, tmp_path / "w.safetensors"), "safetensors")
    assert "CW408" in codes(validate(submission.root, options=STRUCTURE_ONLY))


def test_missing_and_unexpected_keys(submission: Submission, tmp_path: Path) -> None:
    tensors = demo_torch_tensors(submission)
    tensors["classifier.weight"] = tensors.pop("fc2.weight")
    replace_weights(submission, "pytorch", write_safetensors(tensors, tmp_path / "w.safetensors"), "safetensors")
    finding = next(f for f in validate(submission.root, options=STRUCTURE_ONLY).findings if f.code == "CW407")
    assert "missing fc2.weight" in finding.message and "unexpected classifier.weight" in finding.message


def test_wrong_dtype(submission: Submission, tmp_path: Path) -> None:
    tensors = {k: v.astype(np.float64) for k, v in demo_torch_tensors(submission).items()}
    replace_weights(submission, "pytorch", write_safetensors(tensors, tmp_path / "w.safetensors"), "safetensors")
    assert "CW409" in codes(validate(submission.root, options=STRUCTURE_ONLY))


def test_parameter_count_lie(submission: Submission) -> None:
    submission.edit(lambda d: d["architecture"].update(parameter_count=9000))
    finding = next(f for f in validate(submission.root, options=STRUCTURE_ONLY).findings if f.code == "CW411")
    assert "8,714" in finding.message and finding.location.pointer == "/architecture/parameter_count"


def test_unknown_architecture(submission: Submission) -> None:
    submission.edit(lambda d: d["architecture"].update(name="alexnet"))
    assert "CW412" in codes(validate(submission.root, options=STRUCTURE_ONLY))


def test_weights_format_must_suit_the_framework(submission: Submission, tmp_path: Path) -> None:
    tensors = demo_torch_tensors(submission)
    replace_weights(submission, "keras", write_safetensors(tensors, tmp_path / "k.safetensors"), "safetensors")
    assert "CW400" in codes(validate(submission.root, options=STRUCTURE_ONLY))


def test_inflated_claim_fails_and_honest_claims_pass(submission: Submission) -> None:
    # t01's PyTorch run is 234/360 correct; claim 241/360 (+1.9 points, beyond the tolerance of 5).
    submission.edit(lambda d: run_of(d, "t01", "pytorch").update(test_accuracy=241 / 360))
    report = validate(submission.root, options=EVERYTHING)
    [failure] = [f for f in report.findings if f.code == "CW500"]
    assert "claimed 241/360, measured 234/360 (tolerance ±5)" in failure.message
    runs = report.extra["evaluation"]["runs"]
    assert len(runs) == 10 and sum(not r["reproduced"] for r in runs) == 1


def test_pair_disagreement_and_mcnemar_are_reported(submission: Submission) -> None:
    report = validate(submission.root, options=EVERYTHING)
    assert report.ok, report.findings
    pairs = {p["trial"]: p for p in report.extra["evaluation"]["pairs"]}
    assert set(pairs) == {"t01", "t02", "t03", "t04", "t05"}
    t01 = pairs["t01"]
    only_keras, only_torch = t01["mcnemar"]["only_first_correct"], t01["mcnemar"]["only_second_correct"]
    assert only_keras - only_torch == 266 - 234  # McNemar's discordant counts explain the accuracy gap
    assert t01["disagreements"] >= only_keras + only_torch
    assert t01["mcnemar"]["p_value"] < 0.05
    for run in report.extra["evaluation"]["runs"]:
        assert run["harness"]["version"] and len(run["harness"]["sha256"]) == 64
        assert len(run["predictions"]["data"]) == 480  # 360 bytes, base64


def test_missing_dataset_files_are_a_warning(submission: Submission, tmp_path: Path) -> None:
    submission.edit(lambda d: d["dataset"].update(name="mnist"))
    report = validate(submission.root, options=Options(data_dir=tmp_path, device="cpu"))
    finding = next(f for f in report.findings if f.code == "CW501")
    assert finding.severity.value == "warning"


def test_sample_is_deterministic_and_seeded_by_content(submission: Submission) -> None:
    first = validate(submission.root, options=Options(sample=2, device="cpu", seed="abc"))
    again = validate(submission.root, options=Options(sample=2, device="cpu", seed="abc"))
    assert first.extra["evaluation"]["sample"] == again.extra["evaluation"]["sample"]
    assert len(first.extra["evaluation"]["sample"]["trials"]) == 2
    digests = {hashlib.sha256(str(i).encode()).hexdigest() for i in range(40)}
    ids = {tuple(t.id for t in sample_trials(_fake_trials(), 2, d)) for d in digests}
    assert len(ids) > 1  # different content, different sample


def _fake_trials() -> list[Any]:
    from types import SimpleNamespace

    return [SimpleNamespace(id=f"t{i:02d}") for i in range(10)]  # type: ignore[misc]


@pytest.mark.parametrize(("n", "expected"), [(360, 5), (10_000, 21)])
def test_tolerance_fails_a_one_point_inflation_on_10000(n: int, expected: int) -> None:
    assert tolerance(n) == expected
    assert tolerance(10_000) < 100  # one accuracy point on N = 10,000


def test_mcnemar_exact_values() -> None:
    assert mcnemar(0, 0).p_value == 1.0
    assert mcnemar(10, 2).p_value == pytest.approx(0.03857421875)
    assert mcnemar(2, 10).p_value == mcnemar(10, 2).p_value


def test_old_torch_versions_are_refused() -> None:
    assert torch_version_ok("2.14.1+cu130") and torch_version_ok("2.10.0")
    assert not torch_version_ok("2.5.1") and not torch_version_ok("1.13.0")


def test_oversized_input_shape_is_refused_before_building(submission: Submission) -> None:
    submission.edit(lambda d: d["architecture"]["input_shape"].update(height=4096, width=4096))
    report = validate(submission.root, options=STRUCTURE_ONLY)
    assert "CW415" in codes(report)
    assert "architectures" not in report.extra or not report.extra["architectures"]


def test_nothing_evaluated_means_evaluation_skipped(submission: Submission) -> None:
    submission.edit(lambda d: d["architecture"].update(name="alexnet"))  # no reference, so no weights load
    assert validate(submission.root, options=EVERYTHING).stages["evaluation"] == "skipped"
