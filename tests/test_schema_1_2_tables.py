"""Trials tables and schema versions: a column may only set a field its manifest's schema version has (predictions
came in 1.1; `extra` and `epochs_trained` in 1.2); `extra` cells of a CSV are read as the values they spell; and
submitted predictions are counted against the claims with `--no-reeval` too."""

from __future__ import annotations

from typing import Any

import pytest

from cwcontrib.checks import Options
from cwcontrib.trials import csv_scalar
from cwcontrib.validate import run_validation, validate
from tests.conftest import Submission
from tests.test_checks import _to_trials_table

NO_REEVAL = Options(reeval=False)


def first_trial(version: str) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["schema_version"] = version
        data["trials"] = data["trials"][:1]

    return change


def test_a_1_0_trials_table_with_predictions_columns_is_refused(submission: Submission) -> None:
    submission.edit(first_trial("1.0"))
    _to_trials_table(submission)  # the demo's runs carry predictions: columns pytorch.predictions, keras.predictions
    found = validate(submission.root, options=NO_REEVAL).findings
    assert [(f.code, f.location.column) for f in found] == [("CW313", "keras.predictions"),
                                                            ("CW313", "pytorch.predictions")]
    assert all("schema 1.1" in f.message and f.location.file == "trials.csv" for f in found)


def test_a_1_1_trials_table_with_predictions_columns_is_valid(submission: Submission) -> None:
    submission.edit(first_trial("1.1"))
    _to_trials_table(submission)
    assert not validate(submission.root, options=NO_REEVAL).findings


def add_columns(**columns: Any) -> Any:
    def hook(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            row.update(columns)

    return hook


def test_extra_and_epochs_trained_columns_need_schema_1_2(submission: Submission) -> None:
    submission.edit(first_trial("1.1"))
    _to_trials_table(submission, add_columns(**{"hyperparameters.extra.dropout": "0.1",
                                                "pytorch.epochs_trained": "20"}))
    found = validate(submission.root, options=NO_REEVAL).findings
    assert sorted((f.code, f.location.column) for f in found) == [
        ("CW313", "hyperparameters.extra.dropout"), ("CW313", "pytorch.epochs_trained")]
    assert all("schema 1.2" in f.message for f in found)


def test_extra_columns_in_a_1_2_csv_table_are_typed_values(submission: Submission) -> None:
    submission.edit(first_trial("1.2"))
    _to_trials_table(submission, add_columns(**{
        "hyperparameters.extra.dropout": "0.1", "hyperparameters.extra.warmup.value": "5",
        "hyperparameters.extra.warmup.unit": "epochs", "hyperparameters.extra.nesterov": "true",
        "hyperparameters.extra.augmentation": "random-crop", "pytorch.epochs_trained": "20"}))
    validation = run_validation(submission.root, options=NO_REEVAL)
    assert not validation.report.findings, validation.report.findings
    [trial] = validation.context.trials
    assert trial.hyperparameter_values["extra"] == {
        "dropout": {"value": 0.1}, "warmup": {"value": 5, "unit": "epochs"}, "nesterov": {"value": True},
        "augmentation": {"value": "random-crop"}}
    assert trial.runs["pytorch"].run.epochs_trained == 20


def test_a_dropout_column_names_the_extra_column(submission: Submission) -> None:
    submission.edit(first_trial("1.2"))
    _to_trials_table(submission, add_columns(**{"hyperparameters.dropout": "0.1"}))
    [problem] = validate(submission.root, options=NO_REEVAL).findings
    assert (problem.code, problem.location.column) == ("CW314", "hyperparameters.dropout")
    assert problem.hint == "dropout has no field of its own: name the column hyperparameters.extra.dropout."


@pytest.mark.parametrize(("text", "value"), [
    ("0.1", 0.1), ("5", 5), ("-3", -3), ("1e-4", 1e-4), (".5", 0.5), ("true", True), ("False", False),
    ("nan", "nan"), ("inf", "inf"), ("1e999", "1e999"), ("0x10", "0x10"), ("random-crop", "random-crop"),
])
def test_csv_scalar(text: str, value: object) -> None:
    assert csv_scalar(text) == value and type(csv_scalar(text)) is type(value)


def test_predictions_count_the_claim_with_no_reeval(submission: Submission) -> None:
    """Claimed k/N must be the submitted predictions' k/N even when re-evaluation is switched off: it needs the
    split's labels, not a framework."""
    submission.edit(first_trial("1.1"))
    claim = submission.manifest()["trials"][0]["runs"]["keras"]["test_accuracy"]
    other = (round(claim * 360) - 1) / 360  # still a k/N, one example fewer than the predictions count
    submission.edit(lambda d: d["trials"][0]["runs"]["keras"].update(test_accuracy=other))
    report = validate(submission.root, options=NO_REEVAL)
    [problem] = report.findings
    assert problem.code == "CW508" and problem.location.pointer == "/trials/0/runs/keras/test_accuracy"
    assert report.stages["evaluation"] == "failed"
