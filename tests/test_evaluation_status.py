"""Stage status tells the truth: nothing evaluated is never `passed`, nothing skipped goes unexplained."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from cwcontrib import cli
from cwcontrib.checks import Options, checks_of
from cwcontrib.validate import Report, validate
from tests.conftest import Submission

SEEDED = Options(device="cpu", seed="5eed")


def codes(report: Report) -> list[str]:
    return [f.code for f in report.findings]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n# a comment\n"])
def test_an_empty_manifest_is_an_error_not_a_valid_submission(tmp_path: Path, text: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "submission.yaml").write_text(text)
    (tmp_path / "payload.pkl").write_bytes(b"\x80\x04cos\nsystem\n.")  # never looked at: it must not pass green
    assert cli.main(["validate", str(tmp_path), "--no-reeval", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False and report["summary"]["by_code"] == {"CW110": 1}
    assert "empty or only comments" in report["findings"][0]["message"]
    assert report["stages"]["manifest"] == "failed"
    assert set(report["skipped_stages"]) == {"files", "semantics", "weights", "evaluation"}


def test_a_stage_that_leaves_nothing_to_check_without_an_error_is_an_internal_error(
        submission: Submission, monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulate a manifest check that forgets to report why it built no model: the pipeline must not say "valid".
    only_loading = [c for c in checks_of("manifest") if c.name == "manifest_is_safe_data"]
    monkeypatch.setattr("cwcontrib.validate.checks_of",
                        lambda stage: only_loading if stage == "manifest" else checks_of(stage))
    report = validate(submission.root, options=Options(reeval=False))
    assert not report.ok and codes(report) == ["CW001"]
    assert "no check said why" in report.findings[0].message


def test_missing_dataset_is_skipped_with_a_reason_never_passed(submission: Submission, tmp_path: Path) -> None:
    submission.edit(lambda d: d["dataset"].update(name="mnist"))  # CW318 too
    report = validate(submission.root, options=Options(device="cpu", seed="5eed", data_dir=tmp_path / "data"))
    assert "CW501" in codes(report)
    assert report.stages["evaluation"] == "skipped"
    assert "mnist test split is unavailable" in report.extra["skipped_stages"]["evaluation"]
    absent = report.extra["evaluation"]["not_evaluated"]
    assert len(absent) == 10 and {a["reason"] for a in absent} == {"dataset-unavailable", "not-sampled"}


def test_dataset_messages_hold_no_absolute_path_and_are_the_same_on_every_machine(
        submission: Submission, tmp_path: Path) -> None:
    submission.edit(lambda d: d["dataset"].update(name="mnist"))  # CW318 too
    reports = []
    for machine in ("alice", "bob"):
        data_dir = tmp_path / machine / "datasets"
        report = validate(submission.root, options=Options(device="cpu", seed="5eed", data_dir=data_dir))
        [message] = [f.message for f in report.findings if f.code == "CW501"]
        assert str(tmp_path) not in message
        assert "<data-dir>/mnist/t10k-images-idx3-ubyte.gz" in message
        assert "--data-dir" in message and "$CWCONTRIB_DATA" in message
        reports.append(json.dumps(report.as_dict(), sort_keys=True))
    assert reports[0] == reports[1]


def test_no_reeval_is_the_users_choice_and_says_so(submission: Submission) -> None:
    report = validate(submission.root, options=Options(reeval=False))
    assert report.ok and not report.findings
    assert report.stages["evaluation"] == "skipped"
    assert report.extra["skipped_stages"] == {"evaluation": "--no-reeval: re-evaluation was switched off"}
    assert {a["reason"] for a in report.extra["evaluation"]["not_evaluated"]} == {"reeval-off"}


def _drop_weights(data: dict[str, Any], runs: set[tuple[str, str]] | None = None) -> list[str]:
    dropped = []
    for trial in data["trials"]:
        for key, run in trial["runs"].items():
            if runs is None or (trial["id"], key) in runs:
                dropped.append(run.pop("weights"))
    data["artifacts"] = [a for a in data["artifacts"] if a.get("path") not in dropped]
    return dropped


def _without_weights(submission: Submission, runs: set[tuple[str, str]] | None = None) -> None:
    data = submission.manifest()
    for rel in _drop_weights(data, runs):
        (submission.root / rel).unlink()
    if not any((submission.root / "weights").iterdir()):
        shutil.rmtree(submission.root / "weights")
    submission.write_manifest(data)


def test_a_submission_without_weights_warns_that_it_is_results_only(submission: Submission) -> None:
    _without_weights(submission)
    report = validate(submission.root, options=SEEDED)
    assert codes(report) == ["CW503"] and report.ok
    [warning] = report.warnings
    assert "no run has weights (10 runs)" in warning.message and "results-only" in warning.message
    assert report.stages["evaluation"] == "skipped"
    assert "no run has weights" in report.extra["skipped_stages"]["evaluation"]
    absent = report.extra["evaluation"]["not_evaluated"]
    assert len(absent) == 10 and {a["reason"] for a in absent} == {"no-weights"}


def test_every_run_absent_from_reevaluation_is_listed_with_its_reason(submission: Submission) -> None:
    _without_weights(submission, {("t03", "keras")})
    report = validate(submission.root, options=Options(device="cpu", seed="5eed", sample=2))
    [warning] = report.warnings
    assert warning.code == "CW503" and "1 of 10 runs have no weights (t03/keras)" in warning.message
    evaluation = report.extra["evaluation"]
    evaluated = {(r["trial"], r["framework"]) for r in evaluation["runs"]}
    absent = {(a["trial"], a["framework"]): a["reason"] for a in evaluation["not_evaluated"]}
    assert absent[("t03", "keras")] == "no-weights"
    assert len(evaluated) + len(absent) == 10 and not evaluated & set(absent)
    sampled = set(evaluation["sample"]["trials"])
    assert {reason for (trial, _), reason in absent.items() if trial not in sampled and trial != "t03"} \
        == {"not-sampled"}
    assert report.stages["evaluation"] == "passed"


def test_runs_without_a_reference_model_are_listed(submission: Submission) -> None:
    submission.edit(lambda d: d["architecture"].update(name="alexnet"))  # no builder: stage 4 reports CW412
    report = validate(submission.root, options=SEEDED)
    assert report.stages["evaluation"] == "skipped"
    assert {a["reason"] for a in report.extra["evaluation"]["not_evaluated"]} == {"no-reference-model"}
