"""Per-submission acknowledgements (schema 1.1): a warning acknowledged by code and location, with a reason, stays
in the report, marked; an acknowledgement of an error (CW115) or of nothing (CW116) is itself a finding."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cwcontrib.checks import Options
from cwcontrib.findings import Finding
from cwcontrib.reporters import RENDERERS
from cwcontrib.validate import Report, validate
from tests.conftest import Submission
from tests.test_checks import _to_trials_table, set_loss

NO_REEVAL = Options(reeval=False)
REASON = "keras failed to train at this learning rate; kept, as the datasheet counts such runs"


def _chance_t05_keras(data: dict[str, Any]) -> None:
    """t05's Keras run at chance level: one CW307 warning, at /trials/4/runs/keras/test_accuracy (without its
    predictions, which count another k: CW508, checked with --no-reeval too)."""
    data["trials"][4]["runs"]["keras"]["test_accuracy"] = 36 / 360
    data["trials"][4]["runs"]["keras"].pop("predictions")


def _acknowledge(sub: Submission, *acks: dict[str, str], change: Any = _chance_t05_keras) -> Report:
    def edit(data: dict[str, Any]) -> None:
        data["schema_version"] = "1.1"
        if change is not None:
            change(data)
        data["acknowledgements"] = list(acks)

    sub.edit(edit)
    return validate(sub.root, options=NO_REEVAL)


def _of(report: Report, code: str) -> list[Finding]:
    return [f for f in report.findings if f.code == code]


@pytest.mark.parametrize("location", ["trials/t05", "/trials/4", "/trials/4/runs/keras/test_accuracy"])
def test_an_acknowledged_warning_stays_in_the_report_marked(submission: Submission, location: str) -> None:
    report = _acknowledge(submission, {"code": "CW307", "location": location, "reason": REASON})
    [chance] = _of(report, "CW307")
    assert chance.acknowledged == REASON
    assert not _of(report, "CW116") and report.ok
    data = report.as_dict()
    assert data["summary"]["warnings"] == 1 and data["summary"]["acknowledged"] == 1
    [listed] = [f for f in data["findings"] if f["code"] == "CW307"]
    assert listed["acknowledged"] == {"reason": REASON}


def test_acknowledgements_are_rendered_in_every_format(submission: Submission) -> None:
    report = _acknowledge(submission, {"code": "CW307", "location": "trials/t05", "reason": REASON})
    assert f"    acknowledged: {REASON}" in RENDERERS["text"](report)
    assert "1 warning (1 acknowledged)" in RENDERERS["text"](report)
    markdown = RENDERERS["markdown"](report)
    row = next(line for line in markdown.splitlines() if "CW307" in line and line.startswith("|"))
    assert row.startswith("| warning (acknowledged) |") and "acknowledged\\: keras failed" in row
    assert RENDERERS["github"](report).startswith("::notice ")
    assert json.loads(RENDERERS["json"](report))["summary"]["acknowledged"] == 1


def test_an_unacknowledged_warning_is_not_marked(submission: Submission) -> None:
    report = _acknowledge(submission)
    [chance] = _of(report, "CW307")
    assert chance.acknowledged is None and "acknowledged" not in chance.as_dict()
    assert report.as_dict()["summary"]["acknowledged"] == 0
    assert RENDERERS["github"](report).startswith("::warning ")


@pytest.mark.parametrize("location", ["trials/t04", "/trials/40", "/trials/4/runs/pytorch", "curves/t05-keras.csv",
                                      "trials/t0"])
def test_an_acknowledgement_of_nothing_is_a_warning(submission: Submission, location: str) -> None:
    report = _acknowledge(submission, {"code": "CW307", "location": location, "reason": REASON})
    assert _of(report, "CW307")[0].acknowledged is None
    [unused] = _of(report, "CW116")
    assert unused.location.pointer == "/acknowledgements/0/location" and location in unused.message
    assert report.ok  # a warning


def test_an_acknowledgement_of_another_code_there_is_unused(submission: Submission) -> None:
    report = _acknowledge(submission, {"code": "CW308", "location": "trials/t05", "reason": REASON})
    assert _of(report, "CW307")[0].acknowledged is None and len(_of(report, "CW116")) == 1


def test_an_acknowledgement_of_an_error_is_an_error(submission: Submission) -> None:
    def not_k_over_n(data: dict[str, Any]) -> None:
        data["trials"][4]["runs"]["keras"]["test_accuracy"] = 0.95123  # CW304, an error

    report = _acknowledge(submission, {"code": "CW304", "location": "trials/t05", "reason": "it is close enough"},
                          change=not_k_over_n)
    [refused] = _of(report, "CW115")
    assert refused.location.pointer == "/acknowledgements/0/code" and "CW304" in refused.message
    assert _of(report, "CW304")[0].acknowledged is None
    assert not _of(report, "CW116")  # said once, by CW115
    assert not report.ok and report.stages["manifest"] == "failed"


def test_a_file_location_covers_the_findings_in_that_file(submission: Submission) -> None:
    set_loss("nan")(submission)  # CW308 in the first curve file, t01's
    report = _acknowledge(submission, {"code": "CW308", "location": "curves/t01-pytorch.csv", "reason": REASON},
                          {"code": "CW308", "location": "trials/t01", "reason": "the same, by trial"}, change=None)
    [nan] = _of(report, "CW308")
    assert nan.acknowledged == REASON  # the first acknowledgement that covers it gives the reason
    assert not _of(report, "CW116")


def test_a_trial_location_covers_its_table_row(submission: Submission) -> None:
    def chance_in_the_table(rows: list[dict[str, Any]]) -> None:
        rows[4]["keras.test_accuracy"] = 36 / 360

    _to_trials_table(submission, chance_in_the_table)
    report = _acknowledge(submission, {"code": "CW307", "location": "trials/t05", "reason": REASON}, change=None)
    [chance] = _of(report, "CW307")
    assert (chance.location.file, chance.location.row) == ("trials.csv", 5)
    assert chance.acknowledged == REASON and not _of(report, "CW116")


def test_acknowledgements_need_schema_1_1(submission: Submission) -> None:
    from tests.test_schema_versions import as_1_0

    submission.edit(as_1_0)
    submission.edit(lambda d: d.update(acknowledgements=[{"code": "CW307", "location": "trials/t05",
                                                          "reason": REASON}]))
    report = validate(submission.root, options=NO_REEVAL)
    assert [f.location.pointer for f in _of(report, "CW110")] == ["/acknowledgements"]
