"""One validated submission as catalog rows, before verification records are joined.

Everything here comes from the validation pipeline's context (the manifest as models, resolved trials, the
reference fingerprints and pair verdicts of stage 4), never from a second reading of the submission; derived
columns (k, gaps, signs, winners, chance level) are computed here, never taken from input.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any

from cwcontrib.checks.evaluation import content_digest
from cwcontrib.checks.semantics import chance_ceiling, identified_k, is_k_over_n, nearest_k
from cwcontrib.models import Artifact, Hardware, Manifest
from cwcontrib.trials import ResolvedTrial, flatten
from cwcontrib.validate import Validation

if TYPE_CHECKING:
    from cwcontrib.architectures.verdict import PairVerdict
    from cwcontrib.report_sections import ReportSections

DIVERGENCE = 0.05  # the CrossedWires paper's 5 points
# The audit re-evaluates every run of a sample of trials: 10 % of the trials with weights, at least 2.
AUDIT_RATE = 0.10
AUDIT_MIN_TRIALS = 2


@dataclass
class Extract:
    """A submission's rows without verification status: what the incremental cache keeps."""

    submission: dict[str, Any]
    trials: list[dict[str, Any]]
    runs: list[dict[str, Any]]  # `weights_sha256` set when weights exist; `sampled` says whether audited
    pairs: list[dict[str, Any]]
    schema_version: str
    content_digest: str
    hyperparameters: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Extract:
        return cls(**data)


@dataclass(frozen=True)
class _Setup:
    framework: str
    hardware: Hardware


@dataclass
class _Fingerprints:
    parameters: dict[str, int] = field(default_factory=dict)
    flops: dict[str, int] = field(default_factory=dict)
    verdicts: dict[tuple[str, str], PairVerdict] = field(default_factory=dict)


def hardware_of(model: Manifest, key: str) -> Hardware:
    """The hardware a framework key's runs used: its own declaration (schema 1.1) or the submission's."""
    own = getattr(model, "hardware_of", None)
    return own(key) if callable(own) else model.hardware  # schema 1.0 models have one hardware for all runs


def _fingerprints(results: ReportSections) -> _Fingerprints:
    found = _Fingerprints()
    for key, fingerprint in (results.architectures or {}).items():
        found.parameters[key] = fingerprint.parameters
        found.flops[key] = fingerprint.flops
    for pair in results.pair_verdicts or []:
        a, b = sorted(pair.frameworks)
        found.verdicts[(a, b)] = pair.verdict
    return found


def audit_sample(trial_ids: list[str], digest: str) -> list[str]:
    """Which trials the audit re-evaluates: a deterministic function of the submission's content."""
    if not trial_ids:
        return []
    count = min(len(trial_ids), max(AUDIT_MIN_TRIALS, math.ceil(AUDIT_RATE * len(trial_ids))))
    ranked = sorted(trial_ids, key=lambda t: hashlib.sha256(f"{digest}:{t}".encode()).hexdigest())
    return sorted(ranked[:count])


def _canonical(values: dict[str, Any]) -> str:
    return json.dumps(flatten(values), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _trial_row(submission_id: str, trial: ResolvedTrial) -> dict[str, Any]:
    hp = trial.hyperparameters
    assert hp is not None  # stage 3 passed: every trial resolved
    return {
        "trial_key": f"{submission_id}/{trial.id}",
        "submission_id": submission_id,
        "trial_id": trial.id,
        "optimizer": hp.optimizer.name,
        "learning_rate": float(hp.learning_rate),
        "batch_size": hp.batch_size,
        "epochs": hp.epochs,
        "optimizer_epsilon": None if hp.optimizer.epsilon is None else float(hp.optimizer.epsilon),
        "loss": hp.loss,
        "seed": hp.seed,
        "hyperparameters": _canonical(trial.hyperparameter_values),
        "lr_schedule": hp.lr_schedule.name if hp.lr_schedule is not None else None,
        "runs": len(trial.runs),
    }


INT64 = range(-(2**63), 2**63)


def _typed_value(value: Any) -> dict[str, Any]:
    """A hyperparameter value in the long table's typed columns (exactly one of them set, and value_number for
    integers as well)."""
    row: dict[str, Any] = {"value_number": None, "value_integer": None, "value_string": None, "value_bool": None}
    if isinstance(value, bool):
        return {**row, "value_type": "bool", "value_bool": value}
    if isinstance(value, int):
        fits = value in INT64
        return {**row, "value_type": "integer", "value_number": float(value) if abs(value) < 2**1023 else None,
                "value_integer": value if fits else None, "value_string": None if fits else str(value)}
    if isinstance(value, float):
        return {**row, "value_type": "number", "value_number": value}
    return {**row, "value_type": "string", "value_string": str(value)}


def _hyperparameter_rows(submission_id: str, trial: ResolvedTrial) -> list[dict[str, Any]]:
    """The trial's hyperparameters, one row each: typed fields by dotted name, `extra` entries with their unit."""
    trial_key = f"{submission_id}/{trial.id}"
    values = dict(trial.hyperparameter_values)
    extra = values.pop("extra", None) or {}
    leaves = [(name, value, None, False) for name, value in flatten(values).items() if not isinstance(value, list)]
    leaves += [(name, json.dumps(value), None, False) for name, value in flatten(values).items()
               if isinstance(value, list)]  # e.g. lr_schedule.milestones: a JSON list, as a string
    leaves += [(f"extra.{name}", entry["value"], entry.get("unit"), True) for name, entry in extra.items()]
    return [{"hyperparameter_id": f"{trial_key}#{name}", "trial_key": trial_key, "submission_id": submission_id,
             "trial_id": trial.id, "name": name, "is_extra": is_extra, **_typed_value(value), "unit": unit}
            for name, value, unit, is_extra in sorted(leaves, key=lambda leaf: leaf[0])]


def _artifact_for(model: Manifest, reference: str | None) -> Artifact | None:
    if reference is None:
        return None
    return next((a for a in model.artifacts if reference in (a.path, a.uri)), None)


def _run_row(model: Manifest, trial: ResolvedTrial, key: str, prints: _Fingerprints) -> dict[str, Any]:
    submission_id = model.submission.id
    run = trial.runs[key].run
    framework = model.frameworks[key]
    hardware = hardware_of(model, key)
    n = model.dataset.test_size
    if model.accuracy_measure_of(key) == "k-over-n":  # k/N, or one k/N written rounded (CW332)
        k = identified_k(run.test_accuracy, n)
    else:  # a declared other measure: only an exact k/N counts examples, never a rounding that happens to fit
        k = nearest_k(run.test_accuracy, n) if is_k_over_n(run.test_accuracy, n) else None
    counted = k is not None
    planned = trial.hyperparameters.epochs if trial.hyperparameters else None
    accuracy = k / n if k is not None else run.test_accuracy
    artifact = _artifact_for(model, run.weights)
    architecture = model.architecture
    implementation = architecture.implementations.get(key)
    return {
        "run_id": f"{submission_id}/{trial.id}/{key}",
        "submission_id": submission_id,
        "trial_id": trial.id,
        "framework_key": key,
        "framework": framework.name.value,
        "framework_version": framework.version,
        "keras_version": framework.keras_version,
        "python_version": framework.python,
        "cuda_version": framework.cuda,
        "cudnn_version": framework.cudnn,
        "accelerator": hardware.accelerator,
        "accelerator_count": hardware.accelerator_count,
        "driver": hardware.driver,
        "cpu": hardware.cpu,
        "architecture": architecture.name,
        "modifications": json.dumps(list(implementation.modifications) if implementation else []),
        "num_classes": architecture.num_classes,
        "input_height": architecture.input_shape.height,
        "input_width": architecture.input_shape.width,
        "input_channels": architecture.input_shape.channels,
        "test_correct": k,
        "test_size": n,
        "test_accuracy": accuracy,
        "accuracy_is_k_over_n": counted,
        "epochs_trained": run.epochs_trained if run.epochs_trained is not None else planned,
        "stopped_early": run.epochs_trained is not None and planned is not None and run.epochs_trained < planned,
        "test_loss": run.test_loss,
        "wall_time_s": run.wall_time_s,
        "at_chance": accuracy <= chance_ceiling(model.architecture.num_classes, n),
        "weights_path": artifact.path if artifact else None,
        "weights_uri": artifact.uri if artifact else None,
        "weights_format": artifact.format.value if artifact else None,
        "weights_size": artifact.size if artifact else None,
        "weights_sha256": artifact.sha256 if artifact else None,
        "parameters": prints.parameters.get(key),
        "flops": prints.flops.get(key),
        "accuracy_harness": "self-reported",
    }


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def _sign_of_float(x: float) -> int:
    return (x > 0.0) - (x < 0.0)


def _differs_in(a: _Setup, b: _Setup) -> str:
    framework, hardware = a.framework != b.framework, a.hardware != b.hardware
    return {(True, True): "both", (True, False): "framework", (False, True): "hardware"}.get(
        (framework, hardware), "neither")


def _pair_row(model: Manifest, runs: dict[str, dict[str, Any]], a: str, b: str,
              prints: _Fingerprints) -> dict[str, Any]:
    ra, rb = runs[a], runs[b]
    n = model.dataset.test_size
    if ra["test_correct"] is not None and rb["test_correct"] is not None:
        correct_gap = ra["test_correct"] - rb["test_correct"]  # in examples: exact, no float rounding in the sign
        gap, sign, diverges = correct_gap / n, _sign(correct_gap), abs(correct_gap) >= DIVERGENCE * n
    else:  # an accuracy that counts no examples (a declared accuracy_measure): the gap of the claimed values
        gap = ra["test_accuracy"] - rb["test_accuracy"]
        sign, diverges = _sign_of_float(gap), abs(gap) >= DIVERGENCE
    verdict = prints.verdicts.get((a, b))
    setups = {key: _Setup(model.frameworks[key].name.value, hardware_of(model, key)) for key in (a, b)}
    return {
        "pair_id": f"{ra['submission_id']}/{ra['trial_id']}/{a}~{b}",
        "submission_id": ra["submission_id"],
        "trial_id": ra["trial_id"],
        "run_a": ra["run_id"],
        "run_b": rb["run_id"],
        "framework_a": ra["framework"],
        "framework_b": rb["framework"],
        "accuracy_a": ra["test_accuracy"],
        "accuracy_b": rb["test_accuracy"],
        "gap": gap,
        "abs_gap": abs(gap),
        "sign": sign,
        "winner": a if sign > 0 else b if sign < 0 else "tie",
        "diverges": diverges,
        "both_at_chance": ra["at_chance"] and rb["at_chance"],
        "any_at_chance": ra["at_chance"] or rb["at_chance"],
        "differs_in": _differs_in(setups[a], setups[b]),
        "parameters_a": ra["parameters"],
        "parameters_b": rb["parameters"],
        "flops_a": ra["flops"],
        "flops_b": rb["flops"],
        "architectures_equivalent": verdict.equivalent if verdict else None,
        "architecture_differences": verdict.summary() if verdict else None,
    }


def extract(validation: Validation) -> Extract:
    """The rows of a submission that passed stages 1-4."""
    ctx = validation.context
    model = ctx.model
    assert model is not None and validation.report.ok
    submission_id = model.submission.id
    prints = _fingerprints(ctx.results)
    digest = content_digest(ctx)
    trials = sorted(ctx.trials, key=lambda t: t.id)
    runs: list[dict[str, Any]] = []
    pairs: list[dict[str, Any]] = []
    for trial in trials:
        by_key = {key: _run_row(model, trial, key, prints) for key in sorted(trial.runs)}
        runs.extend(by_key.values())
        pairs.extend(_pair_row(model, by_key, a, b, prints) for a, b in combinations(sorted(by_key), 2))
    with_weights = sorted({r["trial_id"] for r in runs if r["weights_sha256"]})
    sampled = set(audit_sample(with_weights, digest))
    for run in runs:
        run["sampled"] = bool(run["weights_sha256"]) and run["trial_id"] in sampled
    sweep = model.sweep
    info = model.submission
    submission = {
        "submission_id": submission_id,
        "title": info.title,
        "license": info.license,
        "contributors": "; ".join(c.name for c in info.contributors),
        "references": "; ".join(f"doi:{r.doi}" if r.doi else str(r.url) for r in info.references) or None,
        "schema_version": model.schema_version,
        "content_digest": digest,
        "architecture": model.architecture.name,
        "num_classes": model.architecture.num_classes,
        "dataset": model.dataset.name,
        "dataset_version": model.dataset.version,
        "test_size": model.dataset.test_size,
        "frameworks": "; ".join(sorted(model.frameworks)),
        "sweep_method": sweep.method if sweep else None,
        "sweep_objective": sweep.objective if sweep else None,
        "trials": len(trials),
        "runs": len(runs),
        "pairs": len(pairs),
    }
    return Extract(submission=submission, trials=[_trial_row(submission_id, t) for t in trials], runs=runs,
                   pairs=pairs, schema_version=model.schema_version, content_digest=digest,
                   hyperparameters=[row for t in trials for row in _hyperparameter_rows(submission_id, t)])
