"""Schema 1.2, room for real studies: further hyperparameters under `extra` (names, values, units), learning-rate
schedules, `epochs_trained` for runs that stopped early, and accuracies written rounded that name one k/N."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cwcontrib.catalog.extract import extract
from cwcontrib.checks import Options
from cwcontrib.checks.semantics import identified_k, ks_at_printed_precision, printed_decimals
from cwcontrib.models import Manifest
from cwcontrib.schema import committed_schema_path, generate_schema
from cwcontrib.validate import Report, run_validation, validate
from tests.conftest import REPO, Submission

NO_REEVAL = Options(reeval=False)
CURVE = "curves/t01-pytorch.csv"


def codes(report: Report) -> list[str]:
    return sorted(f.code for f in report.findings)


def one_trial_1_2(data: dict[str, Any]) -> None:
    """The demo as a 1.2 study of its first trial (the other trials' files stay declared)."""
    data["schema_version"] = "1.2"
    data["trials"] = data["trials"][:1]


def with_extra(data: dict[str, Any]) -> None:
    one_trial_1_2(data)
    data["hyperparameters"]["extra"] = {"dropout": 0.1, "warmup": {"value": 2, "unit": "epochs"},
                                        "augmentation": "none", "nesterov": False}
    data["trials"][0]["hyperparameters"]["extra"] = {"warmup": 3}  # a bare value keeps the shared unit


def test_extra_hyperparameters_validate_and_resolve_with_their_units(submission: Submission) -> None:
    submission.edit(with_extra)
    validation = run_validation(submission.root, options=NO_REEVAL)
    assert validation.report.ok and not validation.report.findings, validation.report.findings
    [trial] = validation.context.trials
    assert trial.hyperparameter_values["extra"] == {
        "dropout": {"value": 0.1}, "warmup": {"value": 3, "unit": "epochs"},
        "augmentation": {"value": "none"}, "nesterov": {"value": False}}
    rows = {row["name"]: row for row in extract(validation).hyperparameters}
    assert rows["extra.warmup"]["value_type"] == "integer" and rows["extra.warmup"]["value_integer"] == 3
    assert rows["extra.warmup"]["unit"] == "epochs" and rows["extra.warmup"]["is_extra"]
    assert (rows["extra.dropout"]["value_type"], rows["extra.dropout"]["value_number"]) == ("number", 0.1)
    assert (rows["extra.augmentation"]["value_string"], rows["extra.nesterov"]["value_bool"]) == ("none", False)
    assert rows["learning_rate"]["value_number"] == 0.0001 and not rows["learning_rate"]["is_extra"]
    assert rows["optimizer.name"]["value_string"] == "adam"
    assert all(row["hyperparameter_id"] == f"digits-cnn-pair/t01#{name}" for name, row in rows.items())


def test_a_run_with_another_extra_value_is_cw300(submission: Submission) -> None:
    def change(data: dict[str, Any]) -> None:
        with_extra(data)
        data["trials"][0]["runs"]["keras"]["hyperparameters"] = {"extra": {"dropout": 0.5}}

    submission.edit(change)
    [problem] = validate(submission.root, options=NO_REEVAL).findings
    assert problem.code == "CW300" and "extra.dropout.value=0.5" in problem.message
    assert problem.location.pointer == "/trials/0/runs/keras/hyperparameters/extra/dropout/value"


def test_a_run_repeating_the_trial_extra_value_is_clean(submission: Submission) -> None:
    def change(data: dict[str, Any]) -> None:
        with_extra(data)
        data["trials"][0]["runs"]["keras"]["hyperparameters"] = {"extra": {"dropout": 0.1, "warmup": 3}}

    submission.edit(change)
    assert not validate(submission.root, options=NO_REEVAL).findings


def test_dropout_beside_learning_rate_says_where_extra_goes(submission: Submission) -> None:
    def change(data: dict[str, Any]) -> None:
        one_trial_1_2(data)
        data["trials"][0]["hyperparameters"]["dropout"] = 0.1

    submission.edit(change)
    [problem] = validate(submission.root, options=NO_REEVAL).findings
    assert (problem.code, problem.location.pointer) == ("CW110", "/trials/0/hyperparameters/dropout")
    assert problem.hint is not None
    assert "allowed here: batch_size, determinism, epochs, extra, learning_rate, loss, lr_schedule" in problem.hint
    assert "`extra: {dropout: <value>}` inside `hyperparameters`" in problem.hint
    assert "schema_version" not in problem.hint  # already 1.2


def test_dropout_in_a_1_1_manifest_says_which_version_has_extra(submission: Submission) -> None:
    submission.edit(lambda d: d["hyperparameters"].update(dropout=0.1))
    [problem] = validate(submission.root, options=NO_REEVAL).findings
    assert (problem.code, problem.location.pointer) == ("CW110", "/hyperparameters/dropout")
    assert problem.hint is not None and 'schema_version: "1.2"' in problem.hint and "extra" in problem.hint


def test_extra_needs_schema_1_2(submission: Submission) -> None:
    submission.edit(lambda d: d["hyperparameters"].update(extra={"dropout": 0.1}))
    [problem] = validate(submission.root, options=NO_REEVAL).findings
    assert (problem.code, problem.location.pointer) == ("CW110", "/hyperparameters/extra")
    assert problem.hint is not None and 'schema_version: "1.2"' in problem.hint
    with pytest.raises(ValueError, match=r"hyperparameters\.extra needs schema_version 1\.2"):
        Manifest.model_validate(submission.manifest())


@pytest.mark.parametrize(("name", "code", "needle"), [
    ("Dropout", "CW110", "snake_case"),
    ("learning_rate", "CW329", "learning_rate has its own field, `learning_rate`"),
    ("epsilon", "CW329", "`optimizer.epsilon`"),
])
def test_extra_names_are_snake_case_and_not_typed_fields(submission: Submission, name: str, code: str,
                                                        needle: str) -> None:
    def change(data: dict[str, Any]) -> None:
        one_trial_1_2(data)
        data["hyperparameters"]["extra"] = {name: 0.1}

    submission.edit(change)
    [problem] = validate(submission.root, options=NO_REEVAL).findings
    assert problem.code == code
    assert needle in problem.message + (problem.hint or "")


def test_search_space_names_extra_hyperparameters(submission: Submission) -> None:
    def change(data: dict[str, Any]) -> None:
        with_extra(data)
        data["sweep"]["search_space"]["extra.warmup"] = {"low": 0, "high": 2}

    submission.edit(change)
    [problem] = validate(submission.root, options=NO_REEVAL).findings
    assert problem.code == "CW301" and "extra.warmup=3" in problem.message
    submission.edit(lambda d: d["sweep"]["search_space"].update({"extra.warmup": {"low": 0, "high": 5}}))
    assert not validate(submission.root, options=NO_REEVAL).findings
    submission.edit(lambda d: d["sweep"]["search_space"].pop("extra.warmup"))
    submission.edit(lambda d: d["sweep"]["search_space"].update({"optimizer.dropout": {"values": [0.1]}}))
    [problem] = validate(submission.root, options=NO_REEVAL).findings
    assert problem.code == "CW322" and problem.hint is not None and "extra.<name>" in problem.hint


def test_learning_rate_schedules_are_typed_and_replaced_whole(submission: Submission) -> None:
    def change(data: dict[str, Any]) -> None:
        one_trial_1_2(data)
        data["hyperparameters"]["lr_schedule"] = {"name": "step", "step_size": 10, "gamma": 0.1}
        data["trials"][0]["hyperparameters"]["lr_schedule"] = {"name": "cosine", "t_max": 20}

    submission.edit(change)
    validation = run_validation(submission.root, options=NO_REEVAL)
    assert not validation.report.findings, validation.report.findings
    [trial] = validation.context.trials
    assert trial.hyperparameter_values["lr_schedule"] == {"name": "cosine", "t_max": 20, "eta_min": 0.0,
                                                          "per": "epoch"}
    ex = extract(validation)
    assert ex.trials[0]["lr_schedule"] == "cosine"
    names = {row["name"] for row in ex.hyperparameters}
    assert {"lr_schedule.name", "lr_schedule.t_max", "lr_schedule.eta_min"} <= names
    assert "lr_schedule.step_size" not in names


@pytest.mark.parametrize("schedule", [{"name": "linear"}, {"name": "step", "gamma": 0.1},
                                      {"name": "cosine", "t_max": 20, "gamma": 0.5}])
def test_malformed_schedules_are_schema_violations(submission: Submission, schedule: dict[str, Any]) -> None:
    def change(data: dict[str, Any]) -> None:
        one_trial_1_2(data)
        data["hyperparameters"]["lr_schedule"] = schedule

    submission.edit(change)
    found = validate(submission.root, options=NO_REEVAL).findings
    assert found and {f.code for f in found} == {"CW110"}
    assert all((f.location.pointer or "").startswith("/hyperparameters/lr_schedule") for f in found)


def shorten_curve(submission: Submission, rows: int) -> None:
    lines = (submission.root / CURVE).read_text().splitlines(keepends=True)
    submission.write_file(CURVE, "".join(lines[: rows + 1]), "csv")


def test_a_run_that_stopped_early_and_says_so_passes(submission: Submission) -> None:
    submission.edit(one_trial_1_2)
    shorten_curve(submission, 12)
    [problem] = validate(submission.root, options=NO_REEVAL).findings  # without epochs_trained: CW302
    assert problem.code == "CW302" and problem.hint is not None and "epochs_trained" in problem.hint
    submission.edit(lambda d: d["trials"][0]["runs"]["pytorch"].update(epochs_trained=12))
    validation = run_validation(submission.root, options=NO_REEVAL)
    assert not validation.report.findings, validation.report.findings
    runs = {row["framework_key"]: row for row in extract(validation).runs}
    assert (runs["pytorch"]["epochs_trained"], runs["pytorch"]["stopped_early"]) == (12, True)
    assert (runs["keras"]["epochs_trained"], runs["keras"]["stopped_early"]) == (20, False)


def test_a_curve_longer_than_epochs_trained_is_still_cw302(submission: Submission) -> None:
    submission.edit(one_trial_1_2)
    shorten_curve(submission, 12)
    submission.edit(lambda d: d["trials"][0]["runs"]["pytorch"].update(epochs_trained=10))
    [problem] = validate(submission.root, options=NO_REEVAL).findings
    assert problem.code == "CW302" and "12 epochs, the run trained 10" in problem.message


def test_epochs_trained_above_epochs_is_cw331(submission: Submission) -> None:
    submission.edit(one_trial_1_2)
    submission.edit(lambda d: d["trials"][0]["runs"]["pytorch"].update(epochs_trained=21))
    [problem] = validate(submission.root, options=NO_REEVAL).findings
    assert (problem.code, problem.location.pointer) == ("CW331", "/trials/0/runs/pytorch/epochs_trained")


def test_epochs_trained_needs_schema_1_2(submission: Submission) -> None:
    submission.edit(lambda d: d["trials"][0]["runs"]["pytorch"].update(epochs_trained=20))
    [problem] = validate(submission.root, options=NO_REEVAL).findings
    assert (problem.code, problem.location.pointer) == ("CW110", "/trials/0/runs/pytorch/epochs_trained")


def demo_k(submission: Submission) -> int:
    """t01's Keras claim (266/360 = 0.7388...: no short decimal) as its k."""
    accuracy: float = submission.manifest()["trials"][0]["runs"]["keras"]["test_accuracy"]
    return round(accuracy * 360)


def test_an_accuracy_rounded_to_one_k_is_read_as_that_k_with_cw332(submission: Submission) -> None:
    k = demo_k(submission)
    rounded = round(k / 360, 4)
    assert rounded != k / 360
    submission.edit(lambda d: d["trials"][0]["runs"]["keras"].update(test_accuracy=rounded))
    validation = run_validation(submission.root, options=NO_REEVAL)
    [problem] = validation.report.findings
    assert validation.report.ok and problem.code == "CW332"
    assert f"{k}/360" in problem.message and problem.hint == f"Write the exact value, {k / 360!r}."
    [run] = [r for r in extract(validation).runs if r["run_id"] == "digits-cnn-pair/t01/keras"]
    assert (run["test_correct"], run["test_accuracy"], run["accuracy_is_k_over_n"]) == (k, k / 360, True)


def test_an_ambiguous_rounded_accuracy_stays_cw304(submission: Submission) -> None:
    k = demo_k(submission)
    rounded = round(k / 360, 2)  # two decimals: a hundredth holds more than three k/360
    submission.edit(lambda d: d["trials"][0]["runs"]["keras"].update(test_accuracy=rounded))
    found = validate(submission.root, options=NO_REEVAL).findings
    [problem] = [f for f in found if f.code == "CW304"]
    assert "could be any of" in problem.message


@pytest.mark.parametrize(("accuracy", "n", "k"), [
    (0.8417, 360, 303), (0.84, 360, None), (0.5, 360, 180), (0.9, 10_000, 9000), (0.95, 10_000, 9500),
    (0.12345, 10_000, None), (0.1235, 10_000, 1235), (1e-05, 100_000, 1), (0.0, 360, 0), (1.0, 360, 360),
    (0.84167, 360, 303), (0.8416, 360, None),
])
def test_identified_k(accuracy: float, n: int, k: int | None) -> None:
    assert identified_k(accuracy, n) == k


def test_printed_precision() -> None:
    assert [printed_decimals(a) for a in (0.8417, 1e-05, 0.5, 1.0, 0.0)] == [4, 5, 1, 1, 1]
    assert list(ks_at_printed_precision(0.84, 360)) == [301, 302, 303, 304]
    assert list(ks_at_printed_precision(0.8417, 360)) == [303]


def test_schema_1_2_weights_description_mentions_uris() -> None:
    schema = generate_schema("1.2")
    description = schema["$defs"]["Run"]["properties"]["weights"]["description"]
    assert "uri" in description and "--fetch" in description


def test_stock_validators_read_1_2_manifests(submission: Submission, tmp_path: Path) -> None:
    submission.edit(with_extra)
    submission.edit(lambda d: d["trials"][0]["runs"]["pytorch"].update(epochs_trained=20))
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")

    def accepts(manifest: Path, version: str) -> bool:
        result = subprocess.run([exe, "--schemafile", str(committed_schema_path(REPO, version)), str(manifest)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode in (0, 1), result.stdout + result.stderr
        return result.returncode == 0

    assert accepts(submission.manifest_path, "1.2")
    as_1_1 = tmp_path / "as-1.1.json"
    as_1_1.write_text(json.dumps({**submission.manifest(), "schema_version": "1.1"}))
    assert not accepts(as_1_1, "1.1")
    bad_name = tmp_path / "bad-name.json"
    data = submission.manifest()
    data["hyperparameters"]["extra"]["Dropout"] = 0.1
    bad_name.write_text(json.dumps(data))
    assert not accepts(bad_name, "1.2")
