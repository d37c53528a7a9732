"""Predictions checked example by example: the submitted classes count the claimed k on the registry's split, and
a re-run of the weights predicts the same class on (nearly) every example."""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import pytest

from cwcontrib.checks import Options
from cwcontrib.predictions import allowed_disagreements
from cwcontrib.statistics import tolerance
from cwcontrib.validate import Report, validate
from tests.conftest import Submission

EVALUATE = Options(device="cpu", seed="5eed", all_trials=True)
RUN = "predictions/t01-pytorch.csv"


def codes(report: Report) -> list[str]:
    return sorted({f.code for f in report.findings})


def only_t01(data: dict[str, Any]) -> None:
    data["trials"] = data["trials"][:1]  # one trial keeps each validation short; the other files stay declared


def read_classes(submission: Submission, rel: str = RUN) -> np.ndarray:
    rows = list(csv.DictReader(io.StringIO((submission.root / rel).read_text())))
    return np.array([int(r["predicted_class"]) for r in rows])


def write_classes(submission: Submission, classes: np.ndarray, rel: str = RUN, header: str = "example,predicted_class",
                  order: list[int] | None = None) -> None:
    order = list(range(len(classes))) if order is None else order
    text = header + "\n" + "".join(f"{i},{int(classes[i])}\n" for i in order)
    submission.write_file(rel, text, "csv")


def digits(rows: slice) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images[rows].astype(np.float32).reshape(-1, 8, 8, 1) / np.float32(16), bunch.target[rows]


def predict_t01_pytorch(submission: Submission, x: np.ndarray) -> np.ndarray:
    """The demo's t01 PyTorch weights, run by cwcontrib's own harness on inputs of our choosing."""
    from cwcontrib.checks.weights import build_reference
    from cwcontrib.evaluate import load_torch_state, predict_torch
    from cwcontrib.models import Manifest
    from cwcontrib.weights import read_weights

    reference = build_reference(Manifest.model_validate(submission.manifest()), "pytorch")
    load_torch_state(reference.model, read_weights(submission.root, "weights/t01-pytorch.safetensors", "safetensors"))
    return predict_torch(reference.model, x, "cpu").astype(np.int64)


def set_t01_accuracy(submission: Submission, correct: int) -> None:
    submission.edit(lambda d: d["trials"][0]["runs"]["pytorch"].update(test_accuracy=correct / 360))


def test_the_demo_ships_predictions_that_re_evaluation_reproduces(submission: Submission) -> None:
    submission.edit(only_t01)
    report = validate(submission.root, options=EVALUATE)
    assert report.ok, report.findings
    for run in report.extra["evaluation"]["runs"]:
        assert run["submitted_predictions"]["disagreements"] == 0
        assert run["submitted_predictions"]["allowed"] == 1  # the demo is a CPU study re-run on CPU


def test_a_model_evaluated_on_another_split_fails_whatever_its_k(submission: Submission) -> None:
    # The trial: a train_test_split of one's own picks other rows. Evaluate the real t01 weights on 360
    # rows of the training part and claim what they score there.
    x, y = digits(slice(1077, 1437))
    classes = predict_t01_pytorch(submission, x)
    submission.edit(only_t01)
    set_t01_accuracy(submission, int(np.sum(classes == y)))
    write_classes(submission, classes)
    report = validate(submission.root, options=EVALUATE)
    assert {"CW508", "CW509"} <= set(codes(report))
    [count] = [f for f in report.findings if f.code == "CW508"]
    assert "registry's sklearn-digits test split" in count.message


def test_claimed_k_must_be_the_predictions_k(submission: Submission) -> None:
    submission.edit(only_t01)
    claimed = round(submission.manifest()["trials"][0]["runs"]["pytorch"]["test_accuracy"] * 360)
    set_t01_accuracy(submission, claimed + 1)  # within CW500's tolerance of 5: only the predictions notice
    report = validate(submission.root, options=EVALUATE)
    assert codes(report) == ["CW508"]
    assert f"{claimed}/360 correct" in report.findings[0].message and f"claim is {claimed + 1}/360" in \
        report.findings[0].message


def test_same_k_other_examples_is_caught_example_by_example(submission: Submission) -> None:
    from sklearn.datasets import load_digits

    submission.edit(only_t01)
    labels = load_digits().target[1437:]
    classes = read_classes(submission)
    right, wrong = np.flatnonzero(classes == labels), np.flatnonzero(classes != labels)
    classes[right[:2]] = (labels[right[:2]] + 1) % 10  # two right become wrong ...
    classes[wrong[:2]] = labels[wrong[:2]]  # ... and two wrong become right: k is unchanged
    write_classes(submission, classes)
    report = validate(submission.root, options=EVALUATE)
    assert codes(report) == ["CW509"]
    assert "on 4 of 360 examples (allowed 1" in report.findings[0].message


@pytest.mark.parametrize(("change", "message"), [
    (lambda s, c: write_classes(s, c, order=[1, 0, *range(2, 360)]), "row 1 is example 1, expected 0"),
    (lambda s, c: write_classes(s, c, header="index,label"), "expected example,predicted_class"),
    (lambda s, c: write_classes(s, c[:359]), "359 rows, but the test split has 360"),
    (lambda s, c: write_classes(s, np.array([10, *c[1:]])), "class 10 is outside 0..9"),
    (lambda s, c: s.write_file(RUN, "example,predicted_class\n0,-1\n" + "".join(f"{i},0\n" for i in range(1, 360)),
                               "csv"), "predicted_class is '-1', not a whole number"),
])
def test_malformed_predictions_are_cw507(submission: Submission, change: Any, message: str) -> None:
    submission.edit(only_t01)
    change(submission, read_classes(submission))
    report = validate(submission.root, options=Options(device="cpu", seed="5eed", sample=1))
    assert "CW507" in codes(report)
    [problem] = [f for f in report.findings if f.code == "CW507"]
    assert message in problem.message and problem.location.file == RUN


def test_predictions_need_schema_1_1(submission: Submission) -> None:
    submission.edit(lambda d: d.update(schema_version="1.0"))
    report = validate(submission.root, options=Options(reeval=False))
    assert codes(report) == ["CW110"] and "predictions" in report.findings[0].location.pointer


def test_tolerance_is_stated_in_examples() -> None:
    assert allowed_disagreements(360, same_hardware_class=True)[0] == 1
    assert allowed_disagreements(10_000, same_hardware_class=True)[0] == 10
    assert allowed_disagreements(10_000, same_hardware_class=False)[0] == tolerance(10_000) == 21
