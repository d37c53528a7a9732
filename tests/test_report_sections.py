"""The report's sections beyond findings are typed (issue 9, "typed report sections instead of free dicts merged
into the JSON top level"): the checks fill `ReportSections`, whose `as_dict` alone makes the report's keys."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from cwcontrib.architectures.fingerprint import Fingerprint
from cwcontrib.architectures.verdict import Difference, PairVerdict
from cwcontrib.checks.base import Context
from cwcontrib.checks.evaluation import Seed
from cwcontrib.evaluate import Evaluation
from cwcontrib.predictions import Agreement
from cwcontrib.report_sections import (
    DatasetUsed,
    EvaluationSection,
    FrameworkPairVerdict,
    NotEvaluated,
    PairResult,
    ReportSections,
    RunResult,
    SampleDrawn,
    Tolerance,
)
from cwcontrib.statistics import mcnemar
from cwcontrib.validate import Report

DOCS = Path(__file__).resolve().parents[1] / "docs" / "report.md"


def _documented_fields() -> set[str]:
    return set(re.findall(r"^\| `([a-z_]+)` \| (?:string|boolean|object|array) \|", DOCS.read_text(), re.M))


def _fingerprint(label: str, parameters: int) -> Fingerprint:
    return Fingerprint.from_dict({
        "label": label, "framework": label, "input_shape": [8, 8, 1], "parameters": parameters,
        "trainable": parameters, "buffers": 0, "macs": 2 * parameters,
        "layers": {"dense": {"count": 1, "parameters": parameters, "buffers": 0, "types": {"Linear": 1}}},
        "conv_with_bias": 0, "conv_bias_parameters": 0, "conv_geometry": {}, "padding": {},
        "batchnorm_epsilon": [], "batchnorm_momentum": [], "dense_shapes": [[64, 10]],
    })


def _full() -> ReportSections:
    digest = "ab" * 32
    evaluation = Evaluation(trial="t01", framework="pytorch", n=4, claimed_correct=3, measured_correct=2,
                            tolerance=1, device="cpu", harness={"name": "h", "version": "1", "sha256": "0" * 64},
                            predictions=bytes([0, 1, 2, 3]))
    return ReportSections(
        architectures={"keras": _fingerprint("keras", 650), "pytorch": _fingerprint("pytorch", 650)},
        pair_verdicts=[FrameworkPairVerdict(("keras", "pytorch"), PairVerdict("keras", "pytorch", ()))],
        onnx_graphs={"weights/t01.onnx": _fingerprint("pytorch", 650)},
        evaluation=EvaluationSection(
            content_digest=digest, not_evaluated=(NotEvaluated("t02", "keras", "not-sampled"),),
            seed=Seed("c0ffee", "--seed"), sample=SampleDrawn(("t01",), 2, False),
            dataset=DatasetUsed("digits", "cd" * 32, 4), tolerance=Tolerance(1, "rule"),
            runs=(RunResult(evaluation, Agreement(1, 0, "same hardware", (2,))),),
            pairs=(PairResult("t01", ("keras", "pytorch"), 0.25, 0.5, 3, 0.75, mcnemar(2, 0)),),
        ),
        skipped_stages={"evaluation": "why"},
    )


def test_every_section_is_a_documented_report_field() -> None:
    documented = _documented_fields()
    assert {"report_format", "findings", "evaluation"} <= documented  # the pattern reads the table
    assert {f.name for f in dataclasses.fields(ReportSections)} <= documented
    assert set(_full().as_dict()) == {f.name for f in dataclasses.fields(ReportSections)}


def test_a_report_has_no_key_beyond_the_documented_ones() -> None:
    report = Report(submission="s", findings=[], stages={}, extra=_full().as_dict())
    assert set(report.as_dict()) <= _documented_fields()


def test_the_sections_serialise_as_documented() -> None:
    sections = _full().as_dict()
    assert sections["pair_verdicts"] == [{"frameworks": ["keras", "pytorch"], "a": "keras", "b": "pytorch",
                                          "equivalent": True, "summary": "keras vs pytorch: equivalent",
                                          "differences": []}]
    assert sections["architectures"]["pytorch"]["parameters"] == 650
    assert list(sections["onnx_graphs"]) == ["weights/t01.onnx"]
    assert sections["skipped_stages"] == {"evaluation": "why"}
    evaluation = sections["evaluation"]
    assert set(evaluation) == {"content_digest", "seed", "sample", "dataset", "tolerance", "runs", "pairs",
                               "not_evaluated"}  # no `reason`: a run was evaluated
    assert evaluation["seed"] == Seed("c0ffee", "--seed").as_dict("ab" * 32)  # mixed with this content digest
    assert evaluation["sample"] == {"trials": ["t01"], "of": 2, "all": False}
    assert evaluation["dataset"] == {"name": "digits", "sha256": "cd" * 32, "n": 4}
    assert evaluation["tolerance"] == {"examples": 1, "rule": "rule"}
    assert evaluation["not_evaluated"] == [{"trial": "t02", "framework": "keras", "reason": "not-sampled"}]
    [run] = evaluation["runs"]
    assert run["claimed"] == "3/4" and run["measured"] == "2/4" and run["reproduced"] is True
    assert run["submitted_predictions"] == {"disagreements": 1, "allowed": 0, "rule": "same hardware",
                                            "reproduced": False, "first": [2]}
    assert evaluation["pairs"] == [{"trial": "t01", "frameworks": ["keras", "pytorch"], "claimed_gap": 0.25,
                                    "measured_gap": 0.5, "disagreements": 3, "disagreement_rate": 0.75,
                                    "mcnemar": mcnemar(2, 0).as_dict()}]


def test_absent_is_not_empty() -> None:
    """A stage that ran and found nothing reports an empty section; one that never ran reports none."""
    assert ReportSections().as_dict() == {}
    assert ReportSections(architectures={}, pair_verdicts=[]).as_dict() == {"architectures": {}, "pair_verdicts": []}
    assert ReportSections(onnx_graphs={}, skipped_stages={}).as_dict() == {}  # present only when they hold some


def test_an_evaluation_stopped_before_sampling_has_three_keys() -> None:
    section = EvaluationSection(content_digest="d", not_evaluated=(NotEvaluated("t01", "keras", "reeval-off"),),
                                reason="--no-reeval: re-evaluation was switched off")
    assert section.as_dict() == {"content_digest": "d", "reason": "--no-reeval: re-evaluation was switched off",
                                 "not_evaluated": [{"trial": "t01", "framework": "keras", "reason": "reeval-off"}]}
    without_runs = EvaluationSection(content_digest="d", not_evaluated=(), runs=(), pairs=())
    assert without_runs.as_dict() == {"content_digest": "d", "runs": [], "pairs": [], "not_evaluated": []}


def test_a_pair_verdict_keeps_its_differences() -> None:
    verdict = PairVerdict("keras", "pytorch", (Difference("classifier", "one more dense layer", "+650 params"),))
    entry = FrameworkPairVerdict(("keras", "pytorch"), verdict).as_dict()
    assert entry["equivalent"] is False and entry["frameworks"] == ["keras", "pytorch"]
    assert entry["differences"] == [{"kind": "classifier", "detail": "one more dense layer", "figure": "+650 params"}]


def test_a_check_cannot_add_a_free_key() -> None:
    ctx = Context(root=Path("."))
    with pytest.raises(TypeError):
        ctx.results["surprise"] = 1  # type: ignore[index]
