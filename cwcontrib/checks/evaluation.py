"""Stage 5: a sample of trials is re-evaluated and compared with the claims.

The sample is drawn with a seed that is fixed only after the submission is (the runner passes `--seed`, e.g.
the base branch's head and the approved commit), mixed with the submission's content digest. Seeded from the
content alone, a contributor could run the same sampler locally and edit a description until the sample
avoided an inflated claim. Without a seed the sample is drawn at random, and the report says so; the seed and
its source are recorded so a sample can be repeated. When both runs of a trial are evaluated, the pair's
per-example disagreement and McNemar's test between the frameworks are reported too.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cwcontrib.checks.base import Context, Options, check
from cwcontrib.checks.weights import weights_formats, weights_location
from cwcontrib.codes import finding
from cwcontrib.evaluate import (
    Evaluation,
    EvaluationError,
    harness_identity,
    load_keras_weights,
    load_torch_state,
    predict_keras,
    predict_torch,
    resolve_device,
)
from cwcontrib.findings import Finding, Location
from cwcontrib.predictions import Agreement, PredictionsError, parse_predictions
from cwcontrib.predictions import compare as compare_predictions
from cwcontrib.report_sections import (
    DatasetUsed,
    EvaluationSection,
    NotEvaluated,
    PairResult,
    RunResult,
    SampleDrawn,
    Tolerance,
)
from cwcontrib.statistics import mcnemar, tolerance
from cwcontrib.tables import TableError
from cwcontrib.trials import ResolvedRun, ResolvedTrial
from cwcontrib.weights import WeightsError, model_tensors, read_verified, read_weights_verified
from cwcontrib.workers import Pending, Worker, completed


def content_digest(ctx: Context) -> str:
    """sha256 of the manifest as data plus every declared file's checksum: the submission's content."""
    assert ctx.model is not None and ctx.manifest is not None
    files = sorted((a.path or a.uri or "", a.sha256) for a in ctx.model.artifacts)
    payload = json.dumps([ctx.manifest.data, files], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


SEED_ENV_VAR = "CWCONTRIB_SEED"
_SEED = re.compile(r"[0-9a-f]{1,256}")
_RANDOM_NOTE = ("neither --seed nor $CWCONTRIB_SEED was given: drawn from os.urandom, so nobody could predict this "
                "sample; pass --seed with this value to repeat it")


def parse_seed(text: str) -> str:
    """A seed is 1 to 256 hex digits (two commit shas fit), compared in lower case."""
    seed = text.strip().lower()
    if not _SEED.fullmatch(seed):
        raise ValueError(f"a seed is 1 to 256 hexadecimal digits (e.g. two commit shas), not {text[:80]!r}")
    return seed


@dataclass(frozen=True)
class Seed:
    value: str
    source: str  # "--seed", "$CWCONTRIB_SEED" or "random"

    def mixed_with(self, content: str) -> str:
        """The digest the sample is drawn from: the seed, fixed after submission, and the content."""
        return hashlib.sha256(f"{self.value}:{content}".encode()).hexdigest()

    def as_dict(self, content: str) -> dict[str, str]:
        entry = {"value": self.value, "source": self.source, "sample_digest": self.mixed_with(content)}
        if self.source == "random":
            entry["note"] = _RANDOM_NOTE
        return entry


def resolve_seed(options: Options) -> Seed:
    if options.seed is not None:
        return Seed(parse_seed(options.seed), "--seed")
    from_env = os.environ.get(SEED_ENV_VAR, "")
    if from_env:
        try:
            return Seed(parse_seed(from_env), f"${SEED_ENV_VAR}")
        except ValueError as exc:
            raise ValueError(f"${SEED_ENV_VAR}: {exc}") from None
    return Seed(os.urandom(16).hex(), "random")


def sample_trials(trials: list[ResolvedTrial], k: int, digest: str) -> list[ResolvedTrial]:
    """k trials drawn with a PRNG seeded from `digest` (the seed mixed with the content digest)."""
    ordered = sorted(trials, key=lambda t: t.id)
    if k >= len(ordered):
        return ordered
    chosen = random.Random(int(digest, 16)).sample(ordered, k)
    return sorted(chosen, key=lambda t: t.id)


def predict_run(ctx: Context, key: str, path: str, fmt: str, x: np.ndarray, device: str) -> np.ndarray:
    reference = ctx.references[key]
    location = weights_location(ctx, path)
    assert location is not None  # only runs whose weights loaded strictly in stage 4 are evaluated
    if reference.framework == "onnx":  # the run's own graph, by the ONNX Runtime harness (evidence "onnxruntime")
        from cwcontrib.onnx.check import read_onnx
        from cwcontrib.onnx.harness import predict_onnx

        assert ctx.model is not None
        implementation = ctx.model.architecture.implementations.get(key)
        layout = implementation.layout.value if implementation is not None else "NCHW"
        return predict_onnx(read_onnx(*location), x, layout, device)
    assert ctx.model is not None
    artifact = next(a for a in ctx.model.artifacts if (a.path or a.uri) == path)
    # Read again (stage 2 kept only summaries), and loaded only if these bytes are the ones verified.
    tensors = read_weights_verified(*location, fmt, artifact.size, artifact.sha256)
    if reference.framework == "pytorch":
        load_torch_state(reference.model, tensors)
        return predict_torch(reference.model, x, device)
    load_keras_weights(reference.model, model_tensors(tensors, fmt))
    return predict_keras(reference.model, x)


def start_prediction(ctx: Context, key: str, path: str, fmt: str, x: np.ndarray, token: str,
                     device: Callable[[], str]) -> Pending:
    """A run's predictions being computed: by its framework's worker, which holds the reference model (sent the
    bytes verified here, read once more and checked against the verified sha256 before the worker sees them, and
    the split once per worker, named by `token`), or here and now by `predict_run`. `device` is called only for a
    run that needs it (resolving `auto` asks torch, which a TensorFlow-only submission never imports)."""
    reference = ctx.references[key]
    worker: Worker | None = reference.worker
    if worker is None:
        framework = reference.framework
        return completed(lambda: predict_run(ctx, key, path, fmt, x, _device_for(framework, device)))
    try:
        assert ctx.model is not None
        location = weights_location(ctx, path)
        assert location is not None  # only runs whose weights loaded strictly in stage 4 are evaluated
        artifact = next(a for a in ctx.model.artifacts if (a.path or a.uri) == path)
        data = read_verified(*location, artifact.size, artifact.sha256)
        if worker.input_token != token:
            worker.call(f"receiving the {len(x):,} examples to evaluate", "input", token, x)
            worker.input_token = token
        used = _device_for(reference.framework, device)
    except Exception as exc:
        return Pending(None, "", error=exc)
    return worker.submit(f"evaluating {path}", "predict", key, fmt, token, used, payload=data)


def _device_for(framework: str, device: Callable[[], str]) -> str:
    """The device a run is evaluated on: the validation's for PyTorch, ONNX Runtime's choice for ONNX, else CPU."""
    if framework == "pytorch":
        return device()
    return _onnx_device(device()) if framework == "onnx" else "cpu"


def _pair_result(trial: ResolvedTrial, labels: np.ndarray, evaluated: dict[str, Evaluation]) -> PairResult:
    (a, first), (b, second) = sorted(evaluated.items())[:2]
    pa, pb = first.classes(), second.classes()
    correct_a, correct_b = pa == labels, pb == labels
    test = mcnemar(int(np.sum(correct_a & ~correct_b)), int(np.sum(~correct_a & correct_b)))
    n = len(labels)
    return PairResult(
        trial=trial.id,
        frameworks=(a, b),
        claimed_gap=abs(first.claimed_correct - second.claimed_correct) / n,
        measured_gap=abs(first.measured_correct - second.measured_correct) / n,
        disagreements=int(np.sum(pa != pb)),
        disagreement_rate=float(np.mean(pa != pb)),
        mcnemar=test,
    )


def _resolve_device(ctx: Context) -> str:
    """The validation's device: `auto` is CUDA when torch sees a GPU, asked of the PyTorch worker when there is one
    (this process never imports torch then)."""
    requested = ctx.options.device
    worker = ctx.workers.workers.get("pytorch") if ctx.workers is not None and requested == "auto" else None
    if worker is None:
        return resolve_device(requested)
    return str(worker.call("resolving the device", "device", requested))


def _onnx_device(device: str) -> str:
    """ONNX Runtime's device: CUDA when the run's device is and ONNX Runtime has its CUDA provider, else CPU."""
    from cwcontrib.onnx.harness import resolve_onnx_device

    return resolve_onnx_device("auto") if device == "cuda" else "cpu"


def _harness(framework: str, device: str) -> dict[str, str]:
    if framework == "onnx":
        from cwcontrib.onnx.harness import onnx_harness_identity

        return onnx_harness_identity(device)
    return harness_identity(framework)


@check("evaluation", "CW503", needs=("trials",))
def runs_have_weights(ctx: Context) -> Iterator[Finding]:
    """A run without weights can never be verified: say so, and what it means for the catalog."""
    bare = [(t.id, key, run) for t in ctx.trials for key, run in sorted(t.runs.items()) if run.run.weights is None]
    if ctx.model is None or not bare:
        return
    total = sum(len(t.runs) for t in ctx.trials)
    if len(bare) == total:
        message = (f"no run has weights ({total} runs): nothing can be re-evaluated, and the whole submission "
                   "enters the catalog as `results-only` (accuracies as claimed, never verified)")
    else:
        named = ", ".join(f"{trial}/{key}" for trial, key, _ in bare[:5]) + (", ..." if len(bare) > 5 else "")
        message = (f"{len(bare)} of {total} runs have no weights ({named}): they cannot be re-evaluated and "
                   "enter the catalog as `results-only` (accuracies as claimed, never verified)")
    yield finding("CW503", message, bare[0][2].at("weights"))


REEVALUATED_SPLIT = "test"  # the only split the dataset registry loads


def accepted_dataset_digests(name: str, split_sha256: str | None) -> set[str]:
    """What `dataset.sha256` may be: the split digest (pinned, or of the split as loaded), or the sha256 of one of
    the dataset's pinned files (schema 1.0 described the field as "the dataset files the runs used")."""
    from cwcontrib.datasets import PINNED

    files = {pin.hexdigest for key, pin in PINNED.items() if key.startswith(f"{name}/") and pin.algorithm == "sha256"}
    return files | ({split_sha256} if split_sha256 else set())


def dataset_digest_problem(ctx: Context, split_sha256: str) -> Finding | None:
    """CW506 when the declared `dataset.sha256` is neither the split's digest nor a pinned file's."""
    assert ctx.model is not None
    dataset = ctx.model.dataset
    if dataset.sha256 is None or dataset.sha256 in accepted_dataset_digests(dataset.name, split_sha256):
        return None
    return finding("CW506", f"dataset.sha256 is {dataset.sha256}, but the registry's {dataset.name} "
                            f"{REEVALUATED_SPLIT} split has sha256 {split_sha256} "
                            f"(`cwcontrib datasets --show {dataset.name}`)", ctx.at("/dataset/sha256"))


@check("evaluation", "CW504", "CW505", "CW506", needs=("model",))
def dataset_is_reevaluable(ctx: Context) -> Iterator[Finding]:
    """What re-evaluation needs from the declaration: the registered dataset's classes and its test split. Checked
    with `--no-reeval` too, so that the cheap job refuses what the re-evaluation job could not verify."""
    from cwcontrib.datasets import dataset_info

    model = ctx.model
    info = dataset_info(model.dataset.name) if model is not None else None
    if model is None or info is None:
        return  # an unregistered dataset is CW317 (stage 3)
    declared = model.architecture.num_classes
    if declared != info.num_classes:
        yield finding("CW504", f"architecture.num_classes is {declared}, but {info.name} has {info.num_classes} "
                               "classes", ctx.at("/architecture/num_classes"))
    pinned = info.evaluation.sha256  # where none is pinned, re-evaluation compares with the split as loaded
    problem = dataset_digest_problem(ctx, pinned) if pinned else None
    if problem is not None:
        yield problem
    split = model.dataset.split
    if split != REEVALUATED_SPLIT:
        yield finding("CW505", f"split {split!r}: {info.name} is re-evaluated on its {REEVALUATED_SPLIT} split "
                               f"({info.split_sizes[REEVALUATED_SPLIT]:,} examples), so a claim on the {split} split "
                               "can be neither size-checked nor reproduced", ctx.at("/dataset/split"))


# Why a run is absent from re-evaluation (docs/report.md lists them); the first that applies is given.
NO_WEIGHTS, NO_REFERENCE, WEIGHTS_REJECTED = "no-weights", "no-reference-model", "weights-rejected"
REMOTE = "remote-not-fetched"
REEVAL_OFF, DATASET_UNAVAILABLE, NOT_SAMPLED = "reeval-off", "dataset-unavailable", "not-sampled"
FAILED, INTERNAL_ERROR, OTHER_SPLIT = "evaluation-failed", "internal-error", "split-not-reevaluable"


def _remote_uris(ctx: Context) -> set[str]:
    assert ctx.model is not None
    return {a.uri for a in ctx.model.artifacts if a.uri and not a.path}


def _unevaluable(ctx: Context, trial: ResolvedTrial, key: str) -> str | None:
    """Why stage 4 left this run nothing to evaluate, or None when its weights loaded strictly."""
    weights = trial.runs[key].run.weights
    if weights is None:
        return NO_WEIGHTS
    if weights in _remote_uris(ctx) and weights not in ctx.fetched:
        return REMOTE  # CW215 without --fetch; CW216 when the download was refused
    if key not in ctx.references:
        return NO_REFERENCE  # the framework is missing or the architecture has no builder: stage 4 said which
    if (trial.id, key) not in ctx.weights_ok:
        return WEIGHTS_REJECTED
    return None


@dataclass
class _Plan:
    """Which runs re-evaluation will look at, and why each other run is left out."""

    digest: str
    pool: list[ResolvedTrial]  # trials with at least one evaluable run
    chosen: list[ResolvedTrial] = field(default_factory=list)
    absent: dict[tuple[str, str], str] = field(default_factory=dict)  # (trial, framework) -> reason

    def evaluable(self, trial: ResolvedTrial) -> list[str]:
        return [key for key in sorted(trial.runs) if (trial.id, key) not in self.absent]

    def leave_out(self, trials: list[ResolvedTrial], reason: str) -> None:
        for trial in trials:
            for key in self.evaluable(trial):
                self.absent[(trial.id, key)] = reason

    def not_evaluated(self) -> tuple[NotEvaluated, ...]:
        return tuple(NotEvaluated(trial, key, reason) for (trial, key), reason in sorted(self.absent.items()))


def _plan(ctx: Context) -> _Plan:
    plan = _Plan(digest=content_digest(ctx), pool=[])
    for trial in ctx.trials:
        for key in sorted(trial.runs):
            reason = _unevaluable(ctx, trial, key)
            if reason is not None:
                plan.absent[(trial.id, key)] = reason
        if plan.evaluable(trial):
            plan.pool.append(trial)
    return plan


def _section(plan: _Plan, reason: str | None = None, **parts: Any) -> EvaluationSection:
    return EvaluationSection(content_digest=plan.digest, not_evaluated=plan.not_evaluated(), reason=reason, **parts)


def submitted_predictions(ctx: Context, run: ResolvedRun, n: int) -> np.ndarray | None:
    """A run's predictions file as classes per example; raises PredictionsError or TableError when malformed, None
    when there is none or stage 2 did not verify it (it said why)."""
    from cwcontrib.checks.semantics import read_verified_table

    assert ctx.model is not None
    path = run.run.predictions
    if path is None:
        return None
    fmt = next((a.format.value for a in ctx.model.artifacts if a.path == path), None)
    if fmt is not None and fmt != "csv":
        raise PredictionsError(f"declared as {fmt}; predictions are a CSV file (format: csv)")
    table = read_verified_table(ctx, path, "csv")
    return None if table is None else parse_predictions(table, n, ctx.model.architecture.num_classes)


def _runs_with_predictions(ctx: Context) -> list[ResolvedRun]:
    return [run for trial in ctx.trials for _, run in sorted(trial.runs.items()) if run.run.predictions]


@check("evaluation", "CW501", "CW507", "CW508", needs=("model", "trials"))
def predictions_count_the_claims(ctx: Context) -> Iterator[Finding]:
    """Every run's submitted predictions, sampled or not, with weights or not, with `--no-reeval` too (it needs the
    split's labels, no framework): one class per example of the registry's split, scoring exactly the claimed k
    against its labels."""
    from cwcontrib.datasets import DatasetError, load_test_split

    model = ctx.model
    runs = _runs_with_predictions(ctx)
    if model is None or not runs or model.dataset.split != REEVALUATED_SPLIT:
        return
    try:
        labels = load_test_split(model.dataset.name, ctx.options.data_dir).labels
    except DatasetError as exc:
        if not ctx.options.reeval or not _plan(ctx).pool:  # otherwise claims_reproduce reports the same CW501
            yield finding("CW501", f"dataset {model.dataset.name}: {exc.portable}; the {len(runs)} runs' submitted "
                                   "predictions were not checked against their claims", ctx.at("/dataset/name"))
        return
    n = len(labels)
    for run in runs:
        path = ctx.looking_at = run.run.predictions or ""
        try:
            classes = submitted_predictions(ctx, run, n)
        except (PredictionsError, TableError) as exc:
            yield finding("CW507", f"{path}: {exc}", Location(path, exc.line))
            continue
        if classes is None or not 0.0 <= run.run.test_accuracy <= 1.0:  # not a fraction: CW303 (stage 3) says so
            continue
        correct, claimed = int(np.sum(classes == labels)), round(run.run.test_accuracy * n)
        if correct != claimed:
            yield finding("CW508", f"the submitted predictions ({run.run.predictions}) are {correct}/{n} correct on "
                                   f"the registry's {model.dataset.name} test split, the claim is {claimed}/{n}",
                          run.at("test_accuracy"))


def _agreement(ctx: Context, run: ResolvedRun, measured: np.ndarray, device: str) -> Agreement | None:
    """The re-run's predictions against the submitted ones; None when there are none to compare (or they are
    malformed: CW507 says so)."""
    assert ctx.model is not None
    try:
        submitted = submitted_predictions(ctx, run, len(measured))
    except (PredictionsError, TableError):
        return None
    if submitted is None:
        return None
    on_cpu = ctx.model.hardware_of(run.framework).accelerator.strip().lower() == "cpu" and device == "cpu"
    return compare_predictions(submitted, measured, same_hardware_class=on_cpu)


@check("evaluation", "CW001", "CW500", "CW501", "CW502", "CW506", "CW509",
       needs=("model", "trials", "references", "weights_ok", "fetched"))
def claims_reproduce(ctx: Context) -> Iterator[Finding]:
    from cwcontrib.datasets import DatasetError, dataset_info, load_test_split, preprocess

    model = ctx.model
    if model is None:
        return
    plan = _plan(ctx)
    if not ctx.options.reeval:
        plan.leave_out(plan.pool, REEVAL_OFF)
        ctx.results.evaluation = _section(plan, "--no-reeval: re-evaluation was switched off")
        return
    if not plan.pool:
        ctx.results.evaluation = _section(plan, "no run has weights that loaded strictly in stage 4")
        return
    if model.dataset.split != REEVALUATED_SPLIT:  # CW505: measuring the test split would not test the claim
        plan.leave_out(plan.pool, OTHER_SPLIT)
        ctx.results.evaluation = _section(plan, f"claims are on the {model.dataset.split} split; only the "
                                                f"{REEVALUATED_SPLIT} split is re-evaluated (CW505)")
        return
    seed = resolve_seed(ctx.options)
    if ctx.options.all_trials:
        plan.chosen = list(plan.pool)
    else:
        plan.chosen = sample_trials(plan.pool, ctx.options.sample, seed.mixed_with(plan.digest))
    chosen_ids = {t.id for t in plan.chosen}
    plan.leave_out([t for t in plan.pool if t.id not in chosen_ids], NOT_SAMPLED)
    sample = SampleDrawn(tuple(t.id for t in plan.chosen), len(plan.pool), ctx.options.all_trials)
    dataset = model.dataset
    try:
        split = load_test_split(dataset.name, ctx.options.data_dir)
    except DatasetError as exc:
        yield finding("CW501", f"dataset {dataset.name}: {exc.portable}", ctx.at("/dataset/name"))
        plan.leave_out(plan.chosen, DATASET_UNAVAILABLE)
        ctx.results.evaluation = _section(plan, f"the {dataset.name} test split is unavailable (CW501)",
                                          seed=seed, sample=sample)
        return
    info = dataset_info(dataset.name)
    if info is not None and info.evaluation.sha256 is None:  # no pinned digest: stage 5 is the first to know it
        problem = dataset_digest_problem(ctx, split.sha256)
        if problem is not None:
            yield problem
    x = preprocess(split, dataset.preprocessing.rescale, dataset.preprocessing.mean, dataset.preprocessing.std)
    device = functools.cache(lambda: _resolve_device(ctx))
    n = len(split.labels)
    allowed = tolerance(n)
    formats = weights_formats(model)
    evaluations: list[RunResult] = []
    pairs: list[PairResult] = []
    ctx.progress.start("re-evaluating", sum(len(plan.evaluable(t)) for t in plan.chosen))
    try:
        for trial in plan.chosen:
            evaluated: dict[str, Evaluation] = {}
            # A trial's runs start together (each framework's worker predicts in parallel), then are read in order.
            started = {key: start_prediction(ctx, key, trial.runs[key].run.weights or "",
                                             formats[trial.runs[key].run.weights or ""], x, split.sha256, device)
                       for key in plan.evaluable(trial)}
            for key, pending in started.items():
                run = trial.runs[key]
                ctx.progress.advance(1)
                assert run.run.weights is not None  # runs without weights are absent from the plan
                framework = ctx.references[key].framework
                ctx.looking_at = run.run.weights
                try:
                    predictions = pending.result()
                    used = _device_for(framework, device)
                except (EvaluationError, WeightsError) as exc:  # the framework refused the model or the input,
                    plan.absent[(trial.id, key)] = FAILED  # or the file changed since it was verified: not verifiable
                    yield finding("CW502", f"{run.run.weights}: {exc}", run.at("weights"))
                    continue
                except Exception as exc:  # cwcontrib's own failure: never blamed on the submission
                    plan.absent[(trial.id, key)] = INTERNAL_ERROR
                    yield finding("CW001", f"evaluating {run.run.weights} failed: {type(exc).__name__}: {exc}",
                                  Location(run.run.weights))
                    continue
                result = Evaluation(
                    trial=trial.id, framework=key, n=n,
                    claimed_correct=round(run.run.test_accuracy * n),
                    measured_correct=int(np.sum(predictions == split.labels)),
                    tolerance=allowed, device=used, harness=_harness(framework, used),
                    predictions=predictions.tobytes(), dtype=predictions.dtype.str,
                )
                evaluated[key] = result
                agreement = _agreement(ctx, run, predictions, used)
                evaluations.append(RunResult(result, agreement))
                if not result.reproduced:
                    yield finding("CW500", f"claimed {result.claimed_correct}/{n}, measured "
                                           f"{result.measured_correct}/{n} (tolerance ±{allowed})",
                                  run.at("test_accuracy"))
                if agreement is not None and not agreement.reproduced:
                    yield finding("CW509", f"re-evaluation predicts another class than {run.run.predictions} on "
                                           f"{agreement.disagreements} of {n} examples (allowed {agreement.allowed}, "
                                           f"{agreement.rule}); first: examples "
                                           f"{', '.join(map(str, agreement.first))}", run.at("predictions"))
            if len(evaluated) >= 2:
                pairs.append(_pair_result(trial, split.labels, evaluated))
    finally:
        ctx.progress.finish()
    ctx.results.evaluation = _section(
        plan, None if evaluations else "no sampled run could be evaluated (CW502 or CW001)",
        seed=seed,
        dataset=DatasetUsed(split.name, split.sha256, n),
        sample=sample,
        tolerance=Tolerance(allowed, "Poisson(max(1, N*1e-3)) 99.9% quantile; docs/reevaluation.md"),
        runs=tuple(evaluations),
        pairs=tuple(pairs),
    )
