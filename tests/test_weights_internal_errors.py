"""cwcontrib's own failures in the weights stage are CW001 naming the file, never a finding against the
contributor: only the failures a reader or a builder expects become their codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import pytest

import cwcontrib.architectures
from cwcontrib.checks import Options
from cwcontrib.validate import Report, validate
from cwcontrib.weights import pytorch_reader
from tests.conftest import Submission
from tests.test_weights_stage import demo_torch_tensors, replace_weights

STRUCTURE_ONLY = Options(reeval=False)


def codes(report: Report) -> set[str]:
    return {f.code for f in report.findings}


def _raising(exc: BaseException) -> Any:
    def raise_it(*args: object, **kwargs: object) -> NoReturn:
        raise exc

    return raise_it


def test_bug_in_the_torch_reader_is_an_internal_error_naming_the_file(
        submission: Submission, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import torch

    torch.save({k: torch.from_numpy(v) for k, v in demo_torch_tensors(submission).items()}, tmp_path / "w.pt")
    rel = replace_weights(submission, "pytorch", tmp_path / "w.pt", "pytorch")
    assert validate(submission.root, options=STRUCTURE_ONLY).ok  # the file itself is fine
    monkeypatch.setattr(pytorch_reader, "_data_pickle", _raising(ValueError("a bug in cwcontrib")))
    report = validate(submission.root, options=STRUCTURE_ONLY)
    assert not codes(report) & {"CW401", "CW402", "CW403"}, report.findings
    [internal] = [f for f in report.findings if f.code == "CW001"]
    assert internal.location.file == rel and "ValueError: a bug in cwcontrib" in internal.message


def test_cwcontrib_import_error_is_not_a_missing_framework(submission: Submission,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    broken = ImportError("cannot import name 'gone' from 'cwcontrib.architectures'", name="cwcontrib.architectures")
    monkeypatch.setattr(cwcontrib.architectures, "build", _raising(broken))
    report = validate(submission.root, options=STRUCTURE_ONLY)
    assert "CW414" not in codes(report) and "CW001" in codes(report), report.findings


def test_missing_framework_is_still_cw414(submission: Submission, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = ModuleNotFoundError("No module named 'torch'", name="torch")
    monkeypatch.setattr(cwcontrib.architectures, "build", _raising(missing))
    report = validate(submission.root, options=STRUCTURE_ONLY)
    assert "CW414" in codes(report) and "CW001" not in codes(report), report.findings
