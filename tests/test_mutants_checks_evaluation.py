"""Mutants of cwcontrib/checks/evaluation.py (stage 5; mutmut, issue 9), killed here: the seed (its syntax at both
length bounds, its source, the digest it mixes with the content, the note of a random one), the sample drawn from
it, the content digest, the plan of which runs are evaluated and the first reason each other run is not, the
dataset checks (CW504-CW506) and the pinned digests they accept, the submitted predictions (CW501, CW507, CW508,
the accuracy's bounds), and `claims_reproduce` (CW500, CW501, CW502, CW506, CW509, CW001) with every entry of the
report's `evaluation` section: seed, sample, dataset, tolerance, runs (device, harness, claimed and measured
counts, predictions), pairs, the runs not evaluated and why, the reason when none was.

The stages before it run for real on a fresh copy of the demo (manifest, files, semantics through
`cwcontrib.validate.run_stage`); stage 4's results (`references`, `weights_ok`) are set here: references whose
"worker" is a stand-in answering with chosen predictions (the submitted ones, or altered), so that no framework is
imported, and one test with the real PyTorch reference predicting in this process."""

from __future__ import annotations

import base64
import csv
import dataclasses
import hashlib
import os
import random
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from cwcontrib.checks import evaluation
from cwcontrib.checks.base import Context, Options, ProgressSink
from cwcontrib.evaluate import EvaluationError, harness_identity
from cwcontrib.findings import Finding, Location
from cwcontrib.reference_models import Reference
from cwcontrib.statistics import mcnemar, tolerance
from cwcontrib.validate import run_stage
from cwcontrib.weights import WeightsError
from cwcontrib.workers import Pending
from tests.conftest import Submission

Found = tuple[str, str, Location]
KEYS = ("keras", "pytorch")
TRIALS = ("t01", "t02", "t03", "t04", "t05")
N = 360
SPLIT_SHA256 = "a00ccc4978c46a4d561d65df875cc49bdfe829dc20aad2a6748276ea741c1829"
RULE = "Poisson(max(1, N*1e-3)) 99.9% quantile; docs/reevaluation.md"
SEED_MESSAGE = "a seed is 1 to 256 hexadecimal digits (e.g. two commit shas), not "
RANDOM_NOTE = ("neither --seed nor $CWCONTRIB_SEED was given: drawn from os.urandom, so nobody could predict this "
               "sample; pass --seed with this value to repeat it")
ALL = Options(device="cpu", seed="5eed", all_trials=True)


def noted(calls: list[Any], call: Any, value: Any) -> Any:
    """Record `call`, answer `value` (for stand-ins written as lambdas)."""
    calls.append(call)
    return value


def triples(found: list[Finding]) -> list[Found]:
    return [(f.code, f.message, f.location) for f in found]


def staged(sub: Submission, options: Options = ALL, allowed: frozenset[str] = frozenset()) -> Context:
    """The demo through stages 1-3, as `validate()` runs them (no error but the `allowed` codes)."""
    ctx = Context(root=sub.root, options=options)
    for stage in ("manifest", "files", "semantics"):
        errors = [f for f in run_stage(ctx, stage) if f.severity.value == "error" and f.code not in allowed]
        assert errors == [], stage
    return ctx


def submitted(sub: Submission, trial: str, key: str) -> np.ndarray:
    with open(sub.root / f"predictions/{trial}-{key}.csv", newline="") as handle:
        return np.array([int(row["predicted_class"]) for row in csv.DictReader(handle)], dtype=np.uint8)


def labels() -> np.ndarray:
    from cwcontrib.datasets import load_test_split

    return load_test_split("sklearn-digits").labels


class StandIn:
    """A framework worker's stand-in: answers `predict` with the predictions chosen for each weights file."""

    def __init__(self, answers: dict[str, Any], device: str = "cpu") -> None:
        self.answers, self.device = answers, device
        self.input_token: str | None = None
        self.calls: list[tuple[Any, ...]] = []
        self.submitted: list[tuple[Any, ...]] = []

    def call(self, doing: str, *args: Any) -> Any:
        self.calls.append((doing, *args))
        return self.device if args[0] == "device" else None

    def submit(self, doing: str, *args: Any, payload: Any = None) -> Pending:
        self.submitted.append((doing, *args, hashlib.sha256(payload).hexdigest()))
        answer = self.answers[doing.removeprefix("evaluating ")]
        if isinstance(answer, BaseException):
            return Pending(None, doing, error=answer)
        return Pending(None, doing, value=answer)


def stand_ins(sub: Submission, ctx: Context, change: Callable[[str, str, np.ndarray], Any] | None = None,
              frameworks: dict[str, str] | None = None) -> dict[str, StandIn]:
    """Both keys' references answered by stand-ins with the submitted predictions (or `change` of them), every run
    loaded strictly."""
    frameworks = frameworks or {"keras": "tensorflow", "pytorch": "pytorch"}
    workers = {}
    for key in KEYS:
        answers = {}
        for trial in TRIALS:
            predictions = submitted(sub, trial, key)
            answers[f"weights/{trial}-{key}{'.weights.h5' if key == 'keras' else '.safetensors'}"] = (
                change(trial, key, predictions) if change else predictions)
        workers[key] = StandIn(answers)
        ctx.references[key] = Reference(key, frameworks[key], None, {}, None, worker=workers[key])
    ctx.weights_ok = {(t, k) for t in TRIALS for k in KEYS}
    return workers


def reproduce(ctx: Context) -> tuple[list[Found], dict[str, Any]]:
    found = triples(list(evaluation.claims_reproduce(ctx)))
    assert ctx.results.evaluation is not None
    return found, ctx.results.evaluation.as_dict()


def absent(section: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(a["trial"], a["framework"]): a["reason"] for a in section["not_evaluated"]}


def claimed(ctx: Context, trial: str, key: str) -> float:
    [resolved] = [t for t in ctx.trials if t.id == trial]
    return resolved.runs[key].run.test_accuracy


def run_at(ctx: Context, trial: str, key: str, *path: str) -> Location:
    [resolved] = [t for t in ctx.trials if t.id == trial]
    return resolved.runs[key].at(*path)


# -- the seed ---------------------------------------------------------------------------------------------------------

def test_a_seed_is_stripped_and_lowered_from_one_to_256_digits() -> None:
    assert evaluation.parse_seed(" 7 \n") == "7"
    assert evaluation.parse_seed("\tC0FfEe ") == "c0ffee"
    assert evaluation.parse_seed("F" * 256) == "f" * 256
    for text in ("", "  ", "g", "0x1", "12 34"):
        with pytest.raises(ValueError) as refused:
            evaluation.parse_seed(text)
        assert str(refused.value) == SEED_MESSAGE + repr(text)


def test_a_seed_one_digit_too_long_is_refused_and_quoted_to_80_characters() -> None:
    with pytest.raises(ValueError) as refused:
        evaluation.parse_seed("a" * 257)
    assert str(refused.value) == SEED_MESSAGE + repr("a" * 80)


def test_the_sample_digest_mixes_the_seed_with_the_content() -> None:
    seed = evaluation.Seed("c0ffee", "--seed")
    assert seed.mixed_with("abc") == hashlib.sha256(b"c0ffee:abc").hexdigest()
    assert seed.as_dict("abc") == {"value": "c0ffee", "source": "--seed",
                                   "sample_digest": hashlib.sha256(b"c0ffee:abc").hexdigest()}
    assert evaluation.Seed("ff", "$CWCONTRIB_SEED").as_dict("") == {
        "value": "ff", "source": "$CWCONTRIB_SEED", "sample_digest": hashlib.sha256(b"ff:").hexdigest()}
    assert evaluation.Seed("01", "random").as_dict("c") == {
        "value": "01", "source": "random", "sample_digest": hashlib.sha256(b"01:c").hexdigest(), "note": RANDOM_NOTE}


def test_the_seed_comes_from_the_option_then_the_environment_then_os_urandom(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CWCONTRIB_SEED", " ABC ")
    assert evaluation.SEED_ENV_VAR == "CWCONTRIB_SEED"
    assert evaluation.resolve_seed(Options(seed=" FF ")) == evaluation.Seed("ff", "--seed")
    assert evaluation.resolve_seed(Options()) == evaluation.Seed("abc", "$CWCONTRIB_SEED")
    monkeypatch.setenv("CWCONTRIB_SEED", "")  # empty: as if unset
    monkeypatch.setattr(os, "urandom", lambda n: bytes(range(n)))
    assert evaluation.resolve_seed(Options()) == evaluation.Seed(bytes(range(16)).hex(), "random")
    monkeypatch.delenv("CWCONTRIB_SEED")
    assert evaluation.resolve_seed(Options()) == evaluation.Seed(bytes(range(16)).hex(), "random")


def test_a_bad_seed_in_the_environment_names_the_variable_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CWCONTRIB_SEED", "zz")
    with pytest.raises(ValueError) as refused:
        evaluation.resolve_seed(Options())
    assert str(refused.value) == "$CWCONTRIB_SEED: " + SEED_MESSAGE + "'zz'"
    assert refused.value.__cause__ is None and refused.value.__suppress_context__
    assert evaluation.resolve_seed(Options(seed="1")) == evaluation.Seed("1", "--seed")  # never read then


# -- the sample and the content digest --------------------------------------------------------------------------------

def named(*ids: str) -> list[Any]:
    return [SimpleNamespace(id=i) for i in ids]


def test_the_sample_is_the_seeded_draw_from_the_trials_in_id_order() -> None:
    trials = named("t3", "t1", "t5", "t2", "t4")
    digest = hashlib.sha256(b"x").hexdigest()
    ordered = sorted(trials, key=lambda t: t.id)
    expected = sorted(random.Random(int(digest, 16)).sample(ordered, 2), key=lambda t: t.id)
    assert evaluation.sample_trials(trials, 2, digest) == expected
    assert [t.id for t in evaluation.sample_trials(trials, 4, digest)] == sorted(
        t.id for t in random.Random(int(digest, 16)).sample(ordered, 4))
    assert [t.id for t in evaluation.sample_trials(trials, 5, digest)] == ["t1", "t2", "t3", "t4", "t5"]
    assert [t.id for t in evaluation.sample_trials(trials, 6, digest)] == ["t1", "t2", "t3", "t4", "t5"]
    # Several digests: the draw depends on the whole digest, not on a part of it.
    draws = {tuple(t.id for t in evaluation.sample_trials(trials, 2, f"{i:064x}")) for i in range(30)}
    assert draws == {tuple(t.id for t in sorted(random.Random(i).sample(ordered, 2), key=lambda t: t.id))
                     for i in range(30)}


def test_the_content_digest_is_the_manifest_data_and_every_files_checksum() -> None:
    artifacts = [SimpleNamespace(path=None, uri="https://h/w", sha256="aa"),
                 SimpleNamespace(path="b.csv", uri=None, sha256="bb"),
                 SimpleNamespace(path="a.csv", uri="https://h/a", sha256="cc"),
                 SimpleNamespace(path=None, uri=None, sha256="dd")]
    ctx: Any = SimpleNamespace(model=SimpleNamespace(artifacts=artifacts),
                               manifest=SimpleNamespace(data={"z": Path("p"), "a": [1, 2]}))
    payload = '[{"a":[1,2],"z":"p"},[["","dd"],["a.csv","cc"],["b.csv","bb"],["https://h/w","aa"]]]'
    assert evaluation.content_digest(ctx) == hashlib.sha256(payload.encode()).hexdigest()


# -- the plan ---------------------------------------------------------------------------------------------------------

def run_of(weights: str | None) -> Any:
    return SimpleNamespace(run=SimpleNamespace(weights=weights))


def test_the_first_reason_a_run_is_not_evaluable_is_given() -> None:
    artifacts = [SimpleNamespace(path=None, uri="https://h/r", sha256=""),
                 SimpleNamespace(path="w/local", uri="https://h/l", sha256="")]  # a path: not remote
    trial: Any = SimpleNamespace(id="t1", runs={
        "none": run_of(None), "remote": run_of("https://h/r"), "local": run_of("w/local"), "ok": run_of("w/ok")})
    ctx: Any = SimpleNamespace(model=SimpleNamespace(artifacts=artifacts), fetched={}, references={},
                               weights_ok={("t1", "none"), ("t1", "remote"), ("t1", "local")})
    reasons = {key: evaluation._unevaluable(ctx, trial, key) for key in trial.runs}
    assert reasons == {"none": "no-weights", "remote": "remote-not-fetched", "local": "no-reference-model",
                       "ok": "no-reference-model"}
    ctx.references = dict.fromkeys(trial.runs)
    reasons = {key: evaluation._unevaluable(ctx, trial, key) for key in trial.runs}
    assert reasons == {"none": "no-weights", "remote": "remote-not-fetched", "local": None,
                       "ok": "weights-rejected"}
    ctx.fetched = {"https://h/r": (Path("cache"), "f")}
    assert evaluation._unevaluable(ctx, trial, "remote") is None
    ctx.references = {}
    assert evaluation._unevaluable(ctx, trial, "remote") == "no-reference-model"


def test_the_plan_pools_trials_with_an_evaluable_run_and_lists_the_others_sorted(submission: Submission) -> None:
    ctx = staged(submission)
    ctx.references = {"pytorch": None, "keras": None}
    ctx.weights_ok = {("t01", "keras"), ("t02", "keras"), ("t02", "pytorch"), ("t04", "pytorch")}
    plan = evaluation._plan(ctx)
    assert plan.digest == evaluation.content_digest(ctx)
    assert [t.id for t in plan.pool] == ["t01", "t02", "t04"] and plan.chosen == []
    assert [plan.evaluable(t) for t in plan.pool] == [["keras"], ["keras", "pytorch"], ["pytorch"]]
    plan.leave_out(plan.pool[:2], "not-sampled")
    assert [(a.trial, a.framework, a.reason) for a in plan.not_evaluated()] == [
        ("t01", "keras", "not-sampled"), ("t01", "pytorch", "weights-rejected"),
        ("t02", "keras", "not-sampled"), ("t02", "pytorch", "not-sampled"),
        ("t03", "keras", "weights-rejected"), ("t03", "pytorch", "weights-rejected"),
        ("t04", "keras", "weights-rejected"),
        ("t05", "keras", "weights-rejected"), ("t05", "pytorch", "weights-rejected")]
    assert plan.evaluable(plan.pool[2]) == ["pytorch"]


# -- CW503: runs without weights --------------------------------------------------------------------------------------

def drop_weights(sub: Submission, runs: list[tuple[int, str]]) -> None:
    data = sub.manifest()
    dropped = [data["trials"][i]["runs"][key].pop("weights") for i, key in runs]
    data["artifacts"] = [a for a in data["artifacts"] if a.get("path") not in dropped]
    for rel in dropped:
        (sub.root / rel).unlink()
    sub.write_manifest(data)


RESULTS_ONLY = "enter the catalog as `results-only` (accuracies as claimed, never verified)"


@pytest.mark.parametrize(("runs", "named_runs"), [
    ([(2, "keras")], "t03/keras"),
    ([(0, "pytorch"), (0, "keras"), (1, "keras"), (3, "pytorch"), (4, "keras")],
     "t01/keras, t01/pytorch, t02/keras, t04/pytorch, t05/keras"),
    ([(0, "pytorch"), (0, "keras"), (1, "keras"), (3, "pytorch"), (4, "keras"), (4, "pytorch")],
     "t01/keras, t01/pytorch, t02/keras, t04/pytorch, t05/keras, ..."),
])
def test_some_runs_without_weights_are_named_five_at_most(submission: Submission, runs: list[tuple[int, str]],
                                                          named_runs: str) -> None:
    drop_weights(submission, runs)
    ctx = staged(submission)
    first = named_runs.split(", ")[0].split("/")
    assert triples(list(evaluation.runs_have_weights(ctx))) == [
        ("CW503", f"{len(runs)} of 10 runs have no weights ({named_runs}): they cannot be re-evaluated and "
                  f"{RESULTS_ONLY}", run_at(ctx, first[0], first[1], "weights"))]


def test_no_run_with_weights_is_the_whole_submission_results_only(submission: Submission) -> None:
    drop_weights(submission, [(i, key) for i in range(5) for key in KEYS])
    ctx = staged(submission)
    [(code, message, location)] = triples(list(evaluation.runs_have_weights(ctx)))
    assert (code, message) == ("CW503", "no run has weights (10 runs): nothing can be re-evaluated, and the whole "
                                        f"submission {RESULTS_ONLY.replace('enter ', 'enters ')}")
    assert location == run_at(ctx, "t01", "keras", "weights") != run_at(ctx, "t01", "pytorch", "weights")
    ctx.model = None
    assert list(evaluation.runs_have_weights(ctx)) == []


def test_every_run_with_weights_is_no_finding(submission: Submission) -> None:
    assert list(evaluation.runs_have_weights(staged(submission))) == []


# -- CW504, CW505, CW506: the dataset ---------------------------------------------------------------------------------

def test_the_accepted_digests_are_the_split_and_the_pinned_sha256_files() -> None:
    from cwcontrib.datasets import PINNED

    mnist = {PINNED["mnist/t10k-images-idx3-ubyte"].hexdigest, PINNED["mnist/t10k-labels-idx1-ubyte"].hexdigest}
    assert evaluation.accepted_dataset_digests("mnist", None) == mnist  # md5 pins and fashion-mnist's are not
    assert evaluation.accepted_dataset_digests("mnist", "") == mnist
    assert evaluation.accepted_dataset_digests("mnist", "ab") == mnist | {"ab"}
    assert evaluation.accepted_dataset_digests("sklearn-digits", SPLIT_SHA256) == {SPLIT_SHA256}
    assert evaluation.accepted_dataset_digests("mnis", None) == set()


def test_a_declared_dataset_digest_that_is_neither_is_cw506(submission: Submission) -> None:
    submission.edit(lambda d: d["dataset"].update(sha256="b" * 64))
    ctx = staged(submission)
    problem = evaluation.dataset_digest_problem(ctx, SPLIT_SHA256)
    assert problem is not None and (problem.code, problem.message, problem.location) == (
        "CW506", f"dataset.sha256 is {'b' * 64}, but the registry's sklearn-digits test split has sha256 "
                 f"{SPLIT_SHA256} (`cwcontrib datasets --show sklearn-digits`)", ctx.at("/dataset/sha256"))
    assert ctx.at("/dataset/sha256").line is not None
    assert evaluation.dataset_digest_problem(ctx, "b" * 64) is None
    assert triples(list(evaluation.dataset_is_reevaluable(ctx))) == [
        (problem.code, problem.message, problem.location)]


def test_no_declared_dataset_digest_is_no_finding(submission: Submission) -> None:
    submission.edit(lambda d: d["dataset"].pop("sha256"))
    ctx = staged(submission)
    assert evaluation.dataset_digest_problem(ctx, SPLIT_SHA256) is None
    assert list(evaluation.dataset_is_reevaluable(ctx)) == []


def test_classes_and_split_not_the_registrys_are_cw504_and_cw505(submission: Submission) -> None:
    def change(d: dict[str, Any]) -> None:
        d["architecture"].update(num_classes=11)
        d["dataset"].update(split="validation")

    submission.edit(change)
    ctx = staged(submission, allowed=frozenset({"CW323"}))  # 10 label names for 11 classes
    assert triples(list(evaluation.dataset_is_reevaluable(ctx))) == [
        ("CW504", "architecture.num_classes is 11, but sklearn-digits has 10 classes",
         ctx.at("/architecture/num_classes")),
        ("CW505", "split 'validation': sklearn-digits is re-evaluated on its test split (360 examples), so a claim "
                  "on the validation split can be neither size-checked nor reproduced", ctx.at("/dataset/split"))]
    ctx.model = None
    assert list(evaluation.dataset_is_reevaluable(ctx)) == []


def test_an_unregistered_dataset_is_left_to_stage_3(submission: Submission) -> None:
    ctx = staged(submission)
    assert ctx.model is not None
    ctx.model = ctx.model.model_copy(update={"dataset": ctx.model.dataset.model_copy(update={"name": "nope"})})
    assert list(evaluation.dataset_is_reevaluable(ctx)) == []


def unpinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry's sklearn-digits as if no digest of its test split were pinned."""
    import cwcontrib.datasets

    real = cwcontrib.datasets.dataset_info

    def info(name: str) -> Any:
        found = real(name)
        return found and dataclasses.replace(found, evaluation=dataclasses.replace(found.evaluation, sha256=None))

    monkeypatch.setattr(cwcontrib.datasets, "dataset_info", info)


def test_without_a_pinned_digest_the_declared_one_is_checked_in_stage_5(submission: Submission,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    submission.edit(lambda d: d["dataset"].update(sha256="b" * 64))
    ctx = staged(submission)
    unpinned(monkeypatch)
    assert list(evaluation.dataset_is_reevaluable(ctx)) == []
    stand_ins(submission, ctx)
    found, section = reproduce(ctx)
    assert found == [("CW506", f"dataset.sha256 is {'b' * 64}, but the registry's sklearn-digits test split has "
                               f"sha256 {SPLIT_SHA256} (`cwcontrib datasets --show sklearn-digits`)",
                      ctx.at("/dataset/sha256"))]
    assert len(section["runs"]) == 10


def test_with_a_pinned_digest_stage_5_does_not_repeat_cw506(submission: Submission) -> None:
    submission.edit(lambda d: d["dataset"].update(sha256="b" * 64))
    ctx = staged(submission)
    stand_ins(submission, ctx)
    found, _ = reproduce(ctx)
    assert found == []


def test_without_a_pinned_digest_the_splits_own_is_accepted(submission: Submission,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = staged(submission)
    unpinned(monkeypatch)
    stand_ins(submission, ctx)
    assert reproduce(ctx)[0] == []


# -- CW501, CW507, CW508: the submitted predictions -------------------------------------------------------------------

def write_predictions(sub: Submission, trial: str, key: str, classes: list[int] | np.ndarray,
                      header: str = "example,predicted_class") -> str:
    rel = f"predictions/{trial}-{key}.csv"
    rows = "".join(f"{i},{int(c)}\n" for i, c in enumerate(classes))
    sub.write_file(rel, f"{header}\n{rows}", "csv")
    return rel


def with_wrong(sub: Submission, trial: str, key: str, count: int) -> tuple[np.ndarray, list[int]]:
    """The submitted predictions with the first `count` correct ones made wrong; returns them and where."""
    classes, truth = submitted(sub, trial, key).copy(), labels()
    where = [int(i) for i in np.flatnonzero(classes == truth)[:count]]
    classes[where] = (truth[where] + 1) % 10
    return classes, where


def claimed_k(ctx: Context, trial: str, key: str) -> int:
    return round(claimed(ctx, trial, key) * N)


def check_predictions(ctx: Context) -> list[Found]:
    return triples(list(evaluation.predictions_count_the_claims(ctx)))


def test_predictions_scoring_other_than_the_claim_are_cw508(submission: Submission) -> None:
    classes, _ = with_wrong(submission, "t02", "pytorch", 1)
    write_predictions(submission, "t02", "pytorch", classes)
    ctx = staged(submission)
    k = claimed_k(ctx, "t02", "pytorch")
    assert check_predictions(ctx) == [
        ("CW508", f"the submitted predictions (predictions/t02-pytorch.csv) are {k - 1}/{N} correct on the "
                  f"registry's sklearn-digits test split, the claim is {k}/{N}",
         run_at(ctx, "t02", "pytorch", "test_accuracy"))]
    assert ctx.looking_at == "predictions/t05-pytorch.csv"  # every run's, in trial and key order


def test_the_demos_predictions_count_their_claims(submission: Submission) -> None:
    ctx = staged(submission, Options(reeval=False))
    assert check_predictions(ctx) == []


@pytest.mark.parametrize("accuracy", [0.0, 1.0])
def test_accuracies_at_both_ends_are_counted(submission: Submission, accuracy: float) -> None:
    submission.edit(lambda d: d["trials"][0]["runs"]["keras"].update(test_accuracy=accuracy))
    ctx = staged(submission, allowed=frozenset({"CW300", "CW302", "CW303", "CW304", "CW305"}))
    correct = int(np.sum(submitted(submission, "t01", "keras") == labels()))
    assert check_predictions(ctx) == [
        ("CW508", f"the submitted predictions (predictions/t01-keras.csv) are {correct}/{N} correct on the "
                  f"registry's sklearn-digits test split, the claim is {round(accuracy * N)}/{N}",
         run_at(ctx, "t01", "keras", "test_accuracy"))]


@pytest.mark.parametrize("accuracy", [-1e-9, 1.000000001])
def test_an_accuracy_that_is_not_a_fraction_is_left_to_stage_3(submission: Submission, accuracy: float) -> None:
    submission.edit(lambda d: d["trials"][0]["runs"]["keras"].update(test_accuracy=accuracy))
    ctx = staged(submission, allowed=frozenset({"CW300", "CW302", "CW303", "CW304", "CW305", "CW101", "CW100"}))
    assert check_predictions(ctx) == []


def test_malformed_predictions_are_cw507_with_their_line(submission: Submission) -> None:
    classes = submitted(submission, "t03", "keras")
    rel = write_predictions(submission, "t03", "keras", [*classes[:10], 11, *classes[11:]])
    ctx = staged(submission)
    [(code, message, location)] = check_predictions(ctx)
    assert (code, location) == ("CW507", Location(rel, 12))  # the header is line 1: example 10 is on line 12
    assert message.startswith(f"{rel}: ") and "11" in message


def test_predictions_declared_in_another_format_are_cw507(submission: Submission) -> None:
    rel = "predictions/t04-keras.csv"
    def change(d: dict[str, Any]) -> None:
        [artifact] = [a for a in d["artifacts"] if a.get("path") == rel]
        artifact["format"] = "parquet"

    submission.edit(change)
    ctx = staged(submission, allowed=frozenset({"CW211"}))
    assert check_predictions(ctx) == [
        ("CW507", f"{rel}: declared as parquet; predictions are a CSV file (format: csv)", Location(rel))]


def mnist(sub: Submission, options: Options, predictions: bool = True) -> Context:
    def change(data: dict[str, Any]) -> None:
        data["dataset"].update(name="mnist")
        data["dataset"].pop("sha256")
        if not predictions:
            for trial in data["trials"]:
                for run in trial["runs"].values():
                    run.pop("predictions")
    sub.edit(change)
    return staged(sub, options, allowed=frozenset({"CW318", "CW319", "CW320", "CW306", "CW309", "CW323"}))


def unavailable(tmp_path: Path) -> str:
    from cwcontrib.datasets import DatasetError, load_test_split

    with pytest.raises(DatasetError) as missing:
        load_test_split("mnist", tmp_path / "data")
    return missing.value.portable


def test_an_unavailable_dataset_is_cw501_when_no_reevaluation_will_say_it(submission: Submission,
                                                                          tmp_path: Path) -> None:
    ctx = mnist(submission, Options(reeval=False, data_dir=tmp_path / "data"))
    expected = [("CW501", f"dataset mnist: {unavailable(tmp_path)}; the 10 runs' submitted predictions were not "
                          "checked against their claims", ctx.at("/dataset/name"))]
    assert check_predictions(ctx) == expected
    ctx.options = dataclasses.replace(ctx.options, reeval=True)
    assert check_predictions(ctx) == expected  # no run has a reference: claims_reproduce will not say it
    stand_ins(submission, ctx)
    assert check_predictions(ctx) == []  # claims_reproduce says it


def test_runs_without_predictions_need_no_dataset(submission: Submission, tmp_path: Path) -> None:
    ctx = mnist(submission, Options(reeval=False, data_dir=tmp_path / "data"), predictions=False)
    assert check_predictions(ctx) == []


def test_predictions_on_another_split_are_not_counted(submission: Submission) -> None:
    classes, _ = with_wrong(submission, "t02", "pytorch", 1)
    write_predictions(submission, "t02", "pytorch", classes)
    submission.edit(lambda d: d["dataset"].update(split="validation"))
    ctx = staged(submission)
    assert check_predictions(ctx) == []
    ctx.model = None
    assert check_predictions(ctx) == []


# -- claims_reproduce: what stops it early ----------------------------------------------------------------------------

def test_without_a_model_nothing_is_reported(submission: Submission) -> None:
    ctx = staged(submission)
    stand_ins(submission, ctx)
    ctx.model = None
    assert list(evaluation.claims_reproduce(ctx)) == []
    assert ctx.results.evaluation is None


def test_no_reeval_leaves_out_every_evaluable_run_and_says_why(submission: Submission) -> None:
    drop_weights(submission, [(2, "keras")])
    ctx = staged(submission, Options(reeval=False))
    stand_ins(submission, ctx)
    found, section = reproduce(ctx)
    assert found == []
    reasons = {(t, k): "reeval-off" for t in TRIALS for k in KEYS} | {("t03", "keras"): "no-weights"}
    assert section == {"content_digest": evaluation.content_digest(ctx), "reason":
                       "--no-reeval: re-evaluation was switched off",
                       "not_evaluated": [{"trial": t, "framework": k, "reason": r}
                                         for (t, k), r in sorted(reasons.items())]}


def test_no_run_that_loaded_strictly_is_said(submission: Submission) -> None:
    ctx = staged(submission)
    found, section = reproduce(ctx)
    assert found == []
    assert section == {"content_digest": evaluation.content_digest(ctx),
                       "reason": "no run has weights that loaded strictly in stage 4",
                       "not_evaluated": [{"trial": t, "framework": k, "reason": "no-reference-model"}
                                         for t in TRIALS for k in KEYS]}


def test_claims_on_another_split_are_not_compared_with_the_test_split(submission: Submission) -> None:
    submission.edit(lambda d: d["dataset"].update(split="validation"))
    ctx = staged(submission)
    workers = stand_ins(submission, ctx)
    ctx.weights_ok.discard(("t05", "keras"))
    found, section = reproduce(ctx)
    assert found == []
    assert section == {"content_digest": evaluation.content_digest(ctx),
                       "reason": "claims are on the validation split; only the test split is re-evaluated (CW505)",
                       "not_evaluated": [{"trial": t, "framework": k, "reason": "weights-rejected"
                                          if (t, k) == ("t05", "keras") else "split-not-reevaluable"}
                                         for t in TRIALS for k in KEYS]}
    assert workers["keras"].submitted == workers["pytorch"].submitted == []


def test_an_unavailable_dataset_is_cw501_and_the_sample_is_still_recorded(submission: Submission,
                                                                          tmp_path: Path) -> None:
    ctx = mnist(submission, Options(device="cpu", seed="5eed", sample=2, data_dir=tmp_path / "data"))
    stand_ins(submission, ctx)
    found, section = reproduce(ctx)
    assert found == [("CW501", f"dataset mnist: {unavailable(tmp_path)}", ctx.at("/dataset/name"))]
    digest = evaluation.content_digest(ctx)
    seed = evaluation.Seed("5eed", "--seed")
    chosen = [t.id for t in evaluation.sample_trials(ctx.trials, 2, seed.mixed_with(digest))]
    assert len(chosen) == 2
    assert section == {
        "content_digest": digest, "seed": seed.as_dict(digest),
        "sample": {"trials": chosen, "of": 5, "all": False},
        "not_evaluated": [{"trial": t, "framework": k,
                           "reason": "dataset-unavailable" if t in chosen else "not-sampled"}
                          for t in TRIALS for k in KEYS],
        "reason": "the mnist test split is unavailable (CW501)"}


# -- claims_reproduce: the runs evaluated -----------------------------------------------------------------------------

WEIGHTS = {"keras": "weights/{}-keras.weights.h5", "pytorch": "weights/{}-pytorch.safetensors"}
FORMATS = {"keras": "keras-h5", "pytorch": "safetensors"}


def sha256_of(sub: Submission, rel: str) -> str:
    return hashlib.sha256((sub.root / rel).read_bytes()).hexdigest()


def expected_pair(ctx: Context, sub: Submission, trial: str, answers: dict[str, np.ndarray]) -> dict[str, Any]:
    truth = labels()
    pa, pb = answers["keras"], answers["pytorch"]
    ka, kb = int(np.sum(pa == truth)), int(np.sum(pb == truth))
    test = mcnemar(int(np.sum((pa == truth) & (pb != truth))), int(np.sum((pa != truth) & (pb == truth))))
    return {"trial": trial, "frameworks": ["keras", "pytorch"],
            "claimed_gap": abs(claimed_k(ctx, trial, "keras") - claimed_k(ctx, trial, "pytorch")) / N,
            "measured_gap": abs(ka - kb) / N, "disagreements": int(np.sum(pa != pb)),
            "disagreement_rate": float(np.mean(pa != pb)), "mcnemar": test.as_dict()}


class Recorded(ProgressSink):
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def start(self, description: str, total: int) -> None:
        self.events.append(("start", description, total))

    def advance(self, amount: int) -> None:
        self.events.append(("advance", amount))

    def finish(self) -> None:
        self.events.append(("finish",))


def test_every_run_reproduced_is_reported_whole(submission: Submission) -> None:
    # On "cuda" (no GPU is used: the stand-ins answer): PyTorch runs on the validation's device, Keras on the CPU,
    # and only a CPU re-run of a CPU run is held to the CPU rule.
    ctx = staged(submission, Options(device="cuda", seed="5eed", all_trials=True))
    ctx.progress = progress = Recorded()
    workers = stand_ins(submission, ctx)
    found, section = reproduce(ctx)
    assert found == []
    digest = evaluation.content_digest(ctx)
    truth = labels()
    runs = []
    for trial in TRIALS:
        for key in KEYS:
            predictions = submitted(submission, trial, key)
            device = "cuda" if key == "pytorch" else "cpu"
            k, measured = claimed_k(ctx, trial, key), int(np.sum(predictions == truth))
            same = key == "keras"
            allowed, rule = ((1, "CPU re-run of a CPU run: ceil(N/1000), at least 1") if same else
                             (tolerance(N), "other hardware: Poisson(max(1, N*1e-3)) 99.9% quantile"))
            runs.append({
                "trial": trial, "framework": key, "claimed": f"{k}/{N}", "measured": f"{measured}/{N}",
                "claimed_accuracy": k / N, "measured_accuracy": measured / N, "tolerance": tolerance(N),
                "reproduced": abs(k - measured) <= tolerance(N), "device": device,
                "harness": harness_identity("tensorflow" if key == "keras" else "pytorch"),
                "predictions": {"encoding": "uint8 little-endian class index per test example, base64",
                                "dtype": "|u1", "sha256": hashlib.sha256(predictions.tobytes()).hexdigest(),
                                "data": base64.b64encode(predictions.tobytes()).decode("ascii")},
                "submitted_predictions": {"disagreements": 0, "allowed": allowed, "rule": rule, "reproduced": True,
                                          "first": []}})
    pairs = [expected_pair(ctx, submission, t, {k: submitted(submission, t, k) for k in KEYS}) for t in TRIALS]
    assert tolerance(N) == 5
    assert section == {
        "content_digest": digest, "seed": evaluation.Seed("5eed", "--seed").as_dict(digest),
        "dataset": {"name": "sklearn-digits", "sha256": SPLIT_SHA256, "n": N},
        "sample": {"trials": list(TRIALS), "of": 5, "all": True},
        "tolerance": {"examples": 5, "rule": RULE},
        "runs": runs, "pairs": pairs, "not_evaluated": []}
    assert [r.evaluation.predictions for r in ctx.results.evaluation.runs] == [  # type: ignore[union-attr]
        submitted(submission, t, k).tobytes() for t in TRIALS for k in KEYS]
    # Each worker is sent the split once, then asked for each run with the bytes verified in stage 2.
    for key, worker in workers.items():
        [(doing, what, token, x)] = worker.calls
        assert (doing, what, token, x.shape) == ("receiving the 360 examples to evaluate", "input", SPLIT_SHA256,
                                                 (N, 8, 8, 1))
        assert worker.input_token == SPLIT_SHA256
        assert worker.submitted == [
            (f"evaluating {WEIGHTS[key].format(t)}", "predict", key, FORMATS[key], SPLIT_SHA256,
             "cuda" if key == "pytorch" else "cpu", sha256_of(submission, WEIGHTS[key].format(t)))
            for t in TRIALS]
    from cwcontrib.datasets import load_test_split, preprocess

    split = load_test_split("sklearn-digits")
    assert np.array_equal(workers["keras"].calls[0][3], preprocess(split, 0.0625, None, None))
    assert progress.events == [("start", "re-evaluating", 10), *[("advance", 1)] * 10, ("finish",)]
    assert ctx.looking_at == "weights/t05-pytorch.safetensors"


def test_the_sample_is_drawn_from_the_pool_with_the_seed(submission: Submission) -> None:
    ctx = staged(submission, Options(device="cpu", seed="C0FFEE", sample=2))
    ctx.progress = progress = Recorded()
    workers = stand_ins(submission, ctx)
    ctx.weights_ok -= {("t03", "keras"), ("t03", "pytorch"), ("t01", "keras")}  # t03 is not in the pool
    found, section = reproduce(ctx)
    assert found == []
    digest = evaluation.content_digest(ctx)
    pool = [t for t in ctx.trials if t.id != "t03"]
    chosen = [t.id for t in evaluation.sample_trials(pool, 2, evaluation.Seed("c0ffee", "--seed").mixed_with(digest))]
    assert section["sample"] == {"trials": chosen, "of": 4, "all": False}
    assert section["seed"] == {"value": "c0ffee", "source": "--seed",
                               "sample_digest": hashlib.sha256(f"c0ffee:{digest}".encode()).hexdigest()}
    expected_runs = [(t, k) for t in chosen for k in KEYS if (t, k) != ("t01", "keras")]
    assert [(r["trial"], r["framework"]) for r in section["runs"]] == expected_runs
    reasons = {("t03", "keras"): "weights-rejected", ("t03", "pytorch"): "weights-rejected",
               ("t01", "keras"): "weights-rejected"}
    reasons |= {(t, k): "not-sampled" for t in TRIALS for k in KEYS if t not in chosen and (t, k) not in reasons}
    assert absent(section) == reasons
    assert [p["trial"] for p in section["pairs"]] == [t for t in chosen if t != "t01"]
    assert progress.events[0] == ("start", "re-evaluating", len(expected_runs))
    assert sum(len(w.submitted) for w in workers.values()) == len(expected_runs)


def test_a_claim_off_by_more_than_the_tolerance_is_cw500(submission: Submission) -> None:
    ctx = staged(submission)
    wrong: dict[tuple[str, str], list[int]] = {}

    def change(trial: str, key: str, predictions: np.ndarray) -> np.ndarray:
        count = {("t01", "keras"): 6, ("t02", "pytorch"): 5}.get((trial, key), 0)
        truth, changed = labels(), predictions.copy()
        where = [int(i) for i in np.flatnonzero(changed == truth)[:count]]
        changed[where] = (truth[where] + 1) % 10
        wrong[(trial, key)] = where
        return changed

    stand_ins(submission, ctx, change)
    found, section = reproduce(ctx)
    k1 = claimed_k(ctx, "t01", "keras")
    first1, first2 = (", ".join(map(str, wrong[run][:5])) for run in (("t01", "keras"), ("t02", "pytorch")))
    assert len(wrong[("t01", "keras")]) == 6  # only the first five are listed
    assert found == [
        ("CW500", f"claimed {k1}/{N}, measured {k1 - 6}/{N} (tolerance ±5)", run_at(ctx, "t01", "keras",
                                                                                     "test_accuracy")),
        ("CW509", f"re-evaluation predicts another class than predictions/t01-keras.csv on 6 of {N} examples "
                  f"(allowed 1, CPU re-run of a CPU run: ceil(N/1000), at least 1); first: examples {first1}",
         run_at(ctx, "t01", "keras", "predictions")),
        ("CW509", f"re-evaluation predicts another class than predictions/t02-pytorch.csv on 5 of {N} examples "
                  f"(allowed 1, CPU re-run of a CPU run: ceil(N/1000), at least 1); first: examples {first2}",
         run_at(ctx, "t02", "pytorch", "predictions"))]
    assert run_at(ctx, "t01", "keras", "test_accuracy") != run_at(ctx, "t01", "keras", "predictions")
    assert [(r["trial"], r["framework"], r["reproduced"]) for r in section["runs"] if not r["reproduced"]] == [
        ("t01", "keras", False)]
    assert section["pairs"][0] == expected_pair(ctx, submission, "t01", {
        "keras": np.frombuffer(ctx.results.evaluation.runs[0].evaluation.predictions, np.uint8),  # type: ignore
        "pytorch": submitted(submission, "t01", "pytorch")})


def test_one_disagreement_on_the_cpu_is_allowed_and_listed(submission: Submission) -> None:
    ctx = staged(submission)

    def change(trial: str, key: str, predictions: np.ndarray) -> np.ndarray:
        if (trial, key) != ("t04", "pytorch"):
            return predictions
        changed = predictions.copy()
        changed[7] = (changed[7] + 3) % 10
        return changed

    stand_ins(submission, ctx, change)
    found, section = reproduce(ctx)
    assert found == []
    [entry] = [r for r in section["runs"] if (r["trial"], r["framework"]) == ("t04", "pytorch")]
    assert entry["submitted_predictions"] == {"disagreements": 1, "allowed": 1, "rule": "CPU re-run of a CPU run: "
                                              "ceil(N/1000), at least 1", "reproduced": True, "first": [7]}


def test_malformed_or_unverified_predictions_are_not_compared(submission: Submission) -> None:
    classes = submitted(submission, "t03", "keras")
    write_predictions(submission, "t03", "keras", [*classes[:10], 11, *classes[11:]])  # CW507 from the other check
    ctx = staged(submission)
    ctx.verified.discard("predictions/t02-pytorch.csv")
    ctx.tables.pop("predictions/t02-pytorch.csv", None)
    stand_ins(submission, ctx)
    found, section = reproduce(ctx)
    assert found == []
    without = [(r["trial"], r["framework"]) for r in section["runs"] if "submitted_predictions" not in r]
    assert without == [("t02", "pytorch"), ("t03", "keras")]


def test_refused_and_failed_evaluations_are_cw502_and_cw001_never_measured(submission: Submission) -> None:
    ctx = staged(submission)
    ctx.progress = progress = Recorded()
    failures = {("t02", "pytorch"): EvaluationError("the framework refused it"),
                ("t02", "keras"): WeightsError("CW416", "changed"),
                ("t04", "keras"): RuntimeError("boom")}
    stand_ins(submission, ctx, lambda t, k, p: failures.get((t, k), p))
    found, section = reproduce(ctx)
    assert found == [
        ("CW502", f"weights/t02-keras.weights.h5: {failures[('t02', 'keras')]}", run_at(ctx, "t02", "keras",
                                                                                        "weights")),
        ("CW502", "weights/t02-pytorch.safetensors: the framework refused it", run_at(ctx, "t02", "pytorch",
                                                                                      "weights")),
        ("CW001", "evaluating weights/t04-keras.weights.h5 failed: RuntimeError: boom",
         Location("weights/t04-keras.weights.h5"))]
    assert absent(section) == {("t02", "keras"): "evaluation-failed", ("t02", "pytorch"): "evaluation-failed",
                               ("t04", "keras"): "internal-error"}
    assert len(section["runs"]) == 7 and "reason" not in section
    assert [p["trial"] for p in section["pairs"]] == ["t01", "t03", "t05"]  # t04: one run is not a pair
    assert progress.events == [("start", "re-evaluating", 10), *[("advance", 1)] * 10, ("finish",)]


def test_no_run_evaluated_is_said(submission: Submission) -> None:
    ctx = staged(submission, Options(device="cpu", seed="5eed", sample=1))
    stand_ins(submission, ctx, lambda t, k, p: EvaluationError("no"))
    found, section = reproduce(ctx)
    assert [f[0] for f in found] == ["CW502", "CW502"]
    assert section["reason"] == "no sampled run could be evaluated (CW502 or CW001)"
    assert section["runs"] == section["pairs"] == [] and len(section["sample"]["trials"]) == 1


def test_progress_finishes_when_an_evaluation_is_interrupted(submission: Submission) -> None:
    ctx = staged(submission)
    ctx.progress = progress = Recorded()
    stand_ins(submission, ctx, lambda t, k, p: KeyboardInterrupt() if t == "t02" else p)
    with pytest.raises(KeyboardInterrupt):
        reproduce(ctx)
    assert progress.events == [("start", "re-evaluating", 10), *[("advance", 1)] * 3, ("finish",)]


def test_weights_changed_since_they_were_verified_are_cw502_and_never_sent(submission: Submission) -> None:
    ctx = staged(submission)
    workers = stand_ins(submission, ctx)
    rel = "weights/t03-pytorch.safetensors"
    verified = sha256_of(submission, rel)
    (submission.root / rel).write_bytes((submission.root / rel).read_bytes()[:-1] + b" ")
    found, section = reproduce(ctx)
    assert found == [("CW502", f"{rel}: the file is no longer the one verified (sha256 {sha256_of(submission, rel)}, "
                               f"verified {verified})", run_at(ctx, "t03", "pytorch", "weights"))]
    assert absent(section) == {("t03", "pytorch"): "evaluation-failed"}
    assert [s[0] for s in workers["pytorch"].submitted] == [f"evaluating {WEIGHTS['pytorch'].format(t)}"
                                                            for t in TRIALS if t != "t03"]


def test_auto_asks_the_pytorch_worker_for_the_device_once(submission: Submission) -> None:
    ctx = staged(submission, Options(device="auto", seed="5eed", all_trials=True))
    workers = stand_ins(submission, ctx)
    workers["pytorch"].device = "cuda"
    ctx.workers = SimpleNamespace(workers={"pytorch": workers["pytorch"], "tensorflow": workers["keras"]})
    _, section = reproduce(ctx)
    assert [c for c in workers["pytorch"].calls if c[1] == "device"] == [("resolving the device", "device", "auto")]
    assert [c for c in workers["keras"].calls if c[1] == "device"] == []
    assert {(r["framework"], r["device"]) for r in section["runs"]} == {("keras", "cpu"), ("pytorch", "cuda")}


def test_a_device_named_is_not_asked(submission: Submission) -> None:
    ctx = staged(submission, Options(device="cpu", seed="5eed", all_trials=True))
    workers = stand_ins(submission, ctx)
    workers["pytorch"].device = "cuda"
    ctx.workers = SimpleNamespace(workers={"pytorch": workers["pytorch"]})
    _, section = reproduce(ctx)
    assert [c for c in workers["pytorch"].calls if c[1] == "device"] == []
    assert {r["device"] for r in section["runs"]} == {"cpu"}


def test_auto_without_workers_is_resolved_here(submission: Submission, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr(evaluation, "resolve_device", lambda requested: noted(asked, requested, "cuda"))
    ctx = staged(submission, Options(device="auto", seed="5eed", all_trials=True))
    stand_ins(submission, ctx)
    _, section = reproduce(ctx)
    assert asked == ["auto"]
    assert {(r["framework"], r["device"]) for r in section["runs"]} == {("keras", "cpu"), ("pytorch", "cuda")}


# -- in this process: each framework's harness ------------------------------------------------------------------------

class Harnesses:
    """The framework calls of `predict_run`, recorded; each prediction answers the submitted predictions of the next
    run in the order they are evaluated."""

    def __init__(self, sub: Submission, order: list[tuple[str, str]]) -> None:
        self.sub, self.order = sub, list(order)
        self.calls: list[tuple[Any, ...]] = []

    def answer(self) -> np.ndarray:
        trial, key = self.order.pop(0)
        return submitted(self.sub, trial, key)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import cwcontrib.onnx.check
        import cwcontrib.onnx.harness

        def load(name: str) -> Callable[..., None]:
            return lambda model, tensors: self.calls.append((name, model, sorted(tensors)))

        monkeypatch.setattr(evaluation, "load_torch_state", load("load_torch_state"))
        monkeypatch.setattr(evaluation, "load_keras_weights", load("load_keras_weights"))
        monkeypatch.setattr(evaluation, "predict_torch",
                            lambda model, x, device: noted(self.calls, ("predict_torch", model, x.shape, device),
                                                           self.answer()))
        monkeypatch.setattr(evaluation, "predict_keras",
                            lambda model, x: noted(self.calls, ("predict_keras", model, x.shape), self.answer()))
        monkeypatch.setattr(cwcontrib.onnx.check, "read_onnx", lambda root, rel: ("graph", Path(root).name, rel))
        monkeypatch.setattr(cwcontrib.onnx.harness, "predict_onnx",
                            lambda graph, x, layout, device: noted(
                                self.calls, ("predict_onnx", graph, x.shape, layout, device), self.answer()))
        monkeypatch.setattr(cwcontrib.onnx.harness, "resolve_onnx_device",
                            lambda requested: noted(self.calls, ("resolve_onnx_device", requested), "ort-cuda"))
        monkeypatch.setattr(cwcontrib.onnx.harness, "onnx_harness_identity", lambda device: {"onnx": device})


def in_process(ctx: Context, frameworks: dict[str, str], trials: tuple[str, ...] = TRIALS) -> None:
    ctx.references = {key: Reference(key, framework, f"{key}-model", {}, None) for key, framework in
                      frameworks.items()}
    ctx.weights_ok = {(t, k) for t in trials for k in frameworks}


def test_torch_and_keras_runs_load_the_verified_tensors_into_their_reference(
        submission: Submission, monkeypatch: pytest.MonkeyPatch) -> None:
    from cwcontrib.weights import model_tensors, read_weights

    ctx = staged(submission, Options(device="cuda", seed="5eed", all_trials=True))
    in_process(ctx, {"keras": "tensorflow", "pytorch": "pytorch"}, ("t01", "t02"))
    harnesses = Harnesses(submission, [(t, k) for t in ("t01", "t02") for k in KEYS])
    harnesses.install(monkeypatch)
    found, section = reproduce(ctx)
    assert found == []
    keras, torch = (sorted(model_tensors(read_weights(submission.root, WEIGHTS[k].format("t01"), FORMATS[k]),
                                         FORMATS[k])) for k in KEYS)
    assert keras != torch and len(torch) > 0
    assert harnesses.calls == [call for _ in ("t01", "t02") for call in (
        ("load_keras_weights", "keras-model", keras), ("predict_keras", "keras-model", (N, 8, 8, 1)),
        ("load_torch_state", "pytorch-model", torch), ("predict_torch", "pytorch-model", (N, 8, 8, 1), "cuda"))]
    assert [(r["trial"], r["framework"], r["device"], r["harness"], r["measured"] == r["claimed"])
            for r in section["runs"]] == [
        (t, k, "cuda" if k == "pytorch" else "cpu", harness_identity("tensorflow" if k == "keras" else "pytorch"),
         True) for t in ("t01", "t02") for k in KEYS]
    assert [p["trial"] for p in section["pairs"]] == ["t01", "t02"]


def test_a_tensorflow_run_never_resolves_the_device(submission: Submission, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr(evaluation, "resolve_device", lambda requested: noted(asked, requested, "cuda"))
    ctx = staged(submission, Options(device="auto", seed="5eed", all_trials=True))
    in_process(ctx, {"keras": "tensorflow"})
    Harnesses(submission, [(t, "keras") for t in TRIALS]).install(monkeypatch)
    found, section = reproduce(ctx)
    assert found == [] and asked == []  # resolving `auto` would import torch
    assert {r["device"] for r in section["runs"]} == {"cpu"} and len(section["runs"]) == 5


def test_a_torch_run_in_process_resolves_the_device_once(submission: Submission,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr(evaluation, "resolve_device", lambda requested: noted(asked, requested, "cuda"))
    ctx = staged(submission, Options(device="auto", seed="5eed", all_trials=True))
    in_process(ctx, {"pytorch": "pytorch"})
    harnesses = Harnesses(submission, [(t, "pytorch") for t in TRIALS])
    harnesses.install(monkeypatch)
    found, section = reproduce(ctx)
    assert found == [] and asked == ["auto"]
    assert [c[3] for c in harnesses.calls if c[0] == "predict_torch"] == ["cuda"] * 5
    assert {r["device"] for r in section["runs"]} == {"cuda"}


@pytest.mark.parametrize(("device", "used"), [("cuda", "ort-cuda"), ("cpu", "cpu")])
def test_onnx_runs_are_evaluated_on_their_own_graph_in_their_layout(
        submission: Submission, monkeypatch: pytest.MonkeyPatch, device: str, used: str) -> None:
    ctx = staged(submission, Options(device=device, seed="5eed", all_trials=True))
    assert ctx.model is not None
    del ctx.model.architecture.implementations["pytorch"]  # no implementation: the layout is NCHW
    in_process(ctx, {"keras": "onnx", "pytorch": "onnx"}, ("t01",))
    harnesses = Harnesses(submission, [("t01", k) for k in KEYS])
    harnesses.install(monkeypatch)
    found, section = reproduce(ctx)
    assert found == []
    resolved = [("resolve_onnx_device", "auto")] if device == "cuda" else []
    root = submission.root.name
    assert [c for c in harnesses.calls if c[0] != "resolve_onnx_device"] == [
        ("predict_onnx", ("graph", root, WEIGHTS["keras"].format("t01")), (N, 8, 8, 1), "NHWC", used),
        ("predict_onnx", ("graph", root, WEIGHTS["pytorch"].format("t01")), (N, 8, 8, 1), "NCHW", used)]
    assert resolved == [c for c in harnesses.calls if c[0] == "resolve_onnx_device"][:len(resolved)]
    assert [(r["framework"], r["device"], r["harness"]) for r in section["runs"]] == [
        ("keras", used, {"onnx": used}), ("pytorch", used, {"onnx": used})]


# -- follow-up: what the first mutation run left ----------------------------------------------------------------------

def test_the_split_is_preprocessed_with_the_declared_rescale_mean_and_std(submission: Submission) -> None:
    submission.edit(lambda d: d["dataset"]["preprocessing"].update(mean=[0.25], std=[0.5]))
    ctx = staged(submission, Options(device="cpu", seed="5eed", sample=1))
    workers = stand_ins(submission, ctx)
    reproduce(ctx)
    from cwcontrib.datasets import load_test_split, preprocess

    expected = preprocess(load_test_split("sklearn-digits"), 0.0625, [0.25], [0.5])
    assert not np.array_equal(expected, preprocess(load_test_split("sklearn-digits"), 0.0625, [0.25], None))
    assert not np.array_equal(expected, preprocess(load_test_split("sklearn-digits"), 0.0625, None, [0.5]))
    for worker in workers.values():
        assert np.array_equal(worker.calls[0][3], expected)


def test_the_cpu_rule_reads_the_declared_accelerator_in_any_case(submission: Submission) -> None:
    submission.edit(lambda d: d["hardware"].update(accelerator=" CPU "))
    ctx = staged(submission, Options(device="cpu", seed="5eed", sample=1))
    stand_ins(submission, ctx)
    _, section = reproduce(ctx)
    assert {r["submitted_predictions"]["allowed"] for r in section["runs"]} == {1}


def test_an_undeclared_predictions_file_is_not_compared(submission: Submission) -> None:
    rel = "predictions/t01-keras.csv"
    submission.edit(lambda d: d.update(artifacts=[a for a in d["artifacts"] if a.get("path") != rel]))
    ctx = staged(submission, allowed=frozenset({"CW204", "CW330"}))
    assert check_predictions(ctx) == []
    stand_ins(submission, ctx)
    _, section = reproduce(ctx)
    assert [(r["trial"], r["framework"]) for r in section["runs"] if "submitted_predictions" not in r] == [
        ("t01", "keras")]


def test_a_pair_is_the_first_two_keys_in_order() -> None:
    from cwcontrib.evaluate import Evaluation

    truth = np.array([0, 1, 2, 3, 0, 1], dtype=np.uint8)
    answers = {"c": np.array([0, 1, 2, 3, 0, 1], np.uint8), "a": np.array([0, 1, 0, 0, 0, 0], np.uint8),
               "b": np.array([1, 1, 2, 3, 2, 1], np.uint8)}
    claims = {"a": 5, "b": 2, "c": 6}
    evaluated = {key: Evaluation(trial="t", framework=key, n=6, claimed_correct=claims[key],
                                 measured_correct=int(np.sum(p == truth)), tolerance=1, device="cpu", harness={},
                                 predictions=p.tobytes(), dtype="|u1") for key, p in answers.items()}
    pair = evaluation._pair_result(SimpleNamespace(id="t9"), truth, evaluated)  # type: ignore[arg-type]
    assert pair.as_dict() == {"trial": "t9", "frameworks": ["a", "b"], "claimed_gap": 3 / 6, "measured_gap": 1 / 6,
                              "disagreements": 5, "disagreement_rate": 5 / 6, "mcnemar": mcnemar(2, 3).as_dict()}


def test_the_split_is_loaded_from_the_data_folder_given(submission: Submission, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import cwcontrib.datasets

    real = cwcontrib.datasets.load_test_split
    loaded: list[tuple[str, Path | None]] = []
    monkeypatch.setattr(cwcontrib.datasets, "load_test_split",
                        lambda name, data_dir=None: noted(loaded, (name, data_dir), real(name, data_dir)))
    ctx = staged(submission, Options(device="cpu", seed="5eed", sample=1, data_dir=tmp_path / "data"))
    stand_ins(submission, ctx)
    assert check_predictions(ctx) == [] and reproduce(ctx)[0] == []
    assert loaded == [("sklearn-digits", tmp_path / "data")] * 2


@pytest.mark.parametrize("skipped", ["accuracy", "unverified", "malformed"])
def test_the_runs_after_one_skipped_or_malformed_are_still_counted(submission: Submission, skipped: str) -> None:
    if skipped == "accuracy":
        submission.edit(lambda d: d["trials"][0]["runs"]["keras"].update(test_accuracy=1.000000001))
    elif skipped == "malformed":
        classes = submitted(submission, "t01", "keras")
        write_predictions(submission, "t01", "keras", [*classes[:10], 11, *classes[11:]])
    classes, _ = with_wrong(submission, "t05", "pytorch", 1)
    write_predictions(submission, "t05", "pytorch", classes)
    ctx = staged(submission, allowed=frozenset({"CW303"}))
    if skipped == "unverified":
        ctx.verified.discard("predictions/t01-keras.csv")
        ctx.tables.pop("predictions/t01-keras.csv", None)
    found = check_predictions(ctx)
    assert [(code, location) for code, _, location in found] == (
        [("CW507", Location("predictions/t01-keras.csv", 12))] if skipped == "malformed" else []) + [
        ("CW508", run_at(ctx, "t05", "pytorch", "test_accuracy"))]


def test_an_unreadable_predictions_table_is_cw507_and_not_compared(submission: Submission) -> None:
    from cwcontrib.tables import TableError

    rel = "predictions/t02-keras.csv"
    ctx = staged(submission)
    ctx.tables[rel] = TableError("row 3 has 3 cells, the header 2", line=4)  # as stage 3 would have kept it
    assert check_predictions(ctx) == [("CW507", f"{rel}: row 3 has 3 cells, the header 2", Location(rel, 4))]
    stand_ins(submission, ctx)
    found, section = reproduce(ctx)
    assert found == []
    assert [(r["trial"], r["framework"]) for r in section["runs"] if "submitted_predictions" not in r] == [
        ("t02", "keras")]


def test_a_declared_digest_of_a_pinned_file_of_the_dataset_is_accepted(submission: Submission,
                                                                       tmp_path: Path) -> None:
    from cwcontrib.datasets import PINNED

    ctx = mnist(submission, Options(reeval=False, data_dir=tmp_path / "data"))
    model = ctx.model
    assert model is not None
    for key in ("mnist/t10k-labels-idx1-ubyte", "fashion-mnist/t10k-labels-idx1-ubyte"):
        dataset = model.dataset.model_copy(update={"sha256": PINNED[key].hexdigest})
        ctx.model = model.model_copy(update={"dataset": dataset})
        problem = evaluation.dataset_digest_problem(ctx, "c" * 64)
        assert (problem is None) == key.startswith("mnist/"), key


def test_only_weights_declared_by_uri_alone_are_remote() -> None:
    artifacts = [SimpleNamespace(path="w/local", uri="https://h/l", sha256=""),
                 SimpleNamespace(path="w/other", uri=None, sha256="")]
    trial: Any = SimpleNamespace(id="t1", runs={"by-uri": run_of("https://h/l")})
    ctx: Any = SimpleNamespace(model=SimpleNamespace(artifacts=artifacts), fetched={}, references={"by-uri": None},
                               weights_ok={("t1", "by-uri")})
    assert evaluation._remote_uris(ctx) == set()
    assert evaluation._unevaluable(ctx, trial, "by-uri") is None
