"""`cwcontrib audit`: re-evaluate every run of the catalog that has weights, as Ray tasks, resumably.

Why per run, from the catalog, and not `run_validation(--all)` per run: the catalog holds only submissions whose
stages 1-4 passed under `cwcontrib index` (manifest, every declared file's sha256, strict loading of every weights
file into the trusted reference). Re-running stages 1-4 for each run would hash the whole submission once per run
(a 400-trial VGG16 sweep: 800 runs x 113 GB), and restricting stage 5 to one run would need a new pipeline option.
So each task redoes only what binds the catalog to the bytes it evaluates, with the pipeline's own code:

1. stage 1 (the pipeline's manifest checks, the same safe YAML reader) on the submission folder, and its content
   digest (manifest as data + every declared sha256) must be the one the catalog was built from;
2. the weights file's sha256 must be the catalog's (the record's key) before the safe reader opens it;
3. stage 5's own per-run evaluation (`checks.evaluation.predict_run` with the stage-4 reference builder, the
   registry's test split and the one trusted `preprocess`), scored as `claims_reproduce` scores it; a run whose
   weights are an ONNX graph (`weights_format` onnx, issue 15) needs no reference builder: its graph is read
   through the same checks as stage 4 (CW416-CW423) and run by the ONNX Runtime harness on the CPU, and its record
   names that harness and `evidence: onnxruntime`;
4. the record is made by `records_from_evaluation`, as `validate --record` makes it, and written atomically by the
   driver into `<out>/<submission>/<weights sha256>.<harness digest[:16]>.json` as each task finishes.

A run whose record (same weights sha256, same harness digest: the framework harness's, or the ONNX Runtime
harness's for a graph) is already there is not evaluated again, so an
audit that was killed continues where it stopped. The driver never reads weights; tasks never write files.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cwcontrib.catalog.verification import VerificationRecord, read_records, records_from_evaluation, write_records

EXIT_OK, EXIT_DISAGREES, EXIT_USAGE = 0, 1, 2
PRODUCED_BY = "cwcontrib audit"
# Environment the tasks need on every node (a cluster's workers do not inherit the driver's environment).
# TF_NUM_INTRAOP_THREADS: Ray bounds OpenMP threads to a task's CPUs, TensorFlow's own pool it does not.
_TASK_ENV = ("KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
             "OMP_WAIT_POLICY", "CWCONTRIB_DATA", "SOURCE_DATE_EPOCH")
# Outcomes of one run, besides a record: why it has none.
SUBMISSION_CHANGED, WEIGHTS_CHANGED, REMOTE = "submission-changed", "weights-changed", "remote-not-fetched"
FAILED, INTERNAL_ERROR, DATASET_UNAVAILABLE = "evaluation-failed", "internal-error", "dataset-unavailable"


class AuditError(Exception):
    """The audit cannot start: the catalog is missing or unreadable, or Ray cannot start."""


@dataclass(frozen=True)
class RunJob:
    """One run to re-evaluate: what the catalog says about it (all plain data, so Ray can ship it)."""

    run_id: str
    submission_id: str
    trial_id: str
    framework_key: str
    framework: str
    folder: str  # the submission folder, as the workers see it
    content_digest: str  # the submission's content when the catalog was built
    weights_path: str
    weights_format: str
    weights_sha256: str
    claimed_correct: int
    test_size: int


@dataclass
class Summary:
    catalog: str
    out: str
    harness_sha256: str
    onnx_harness_sha256: str | None = None  # the ONNX Runtime harness's digest, when ONNX graphs were selected
    selected: int = 0
    already_recorded: int = 0
    evaluated: int = 0
    records: list[str] = field(default_factory=list)  # written by this audit
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    not_evaluated: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["records"] = sorted(self.records)
        data["disagreements"] = sorted(self.disagreements, key=lambda d: d["run_id"])
        data["not_evaluated"] = sorted(self.not_evaluated, key=lambda d: d["run_id"])
        return data

    @property
    def ok(self) -> bool:
        return not self.disagreements and not self.not_evaluated


ONNX = "onnx"  # the weights format of a run that ships its network as an ONNX graph


def harness_sha256() -> str:
    from cwcontrib.evaluate import harness_identity

    return harness_identity("pytorch")["sha256"]  # the digest of the harness source, the same for every framework


def onnx_harness_sha256() -> str:
    from cwcontrib.onnx.harness import onnx_harness_identity

    return onnx_harness_identity("cpu")["sha256"]  # the digest of its source, the same for every provider


def _claimed(row: dict[str, Any]) -> int:
    if row["test_correct"] is not None:
        return int(row["test_correct"])
    return round(float(row["test_accuracy"]) * int(row["test_size"]))  # as claims_reproduce counts a claim


_RUN_COLUMNS = ("run_id", "submission_id", "trial_id", "framework_key", "framework", "architecture", "status",
                "weights_path", "weights_format", "weights_sha256", "test_correct", "test_accuracy", "test_size")


def _columns(folder: Path, table: str, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Only the columns the audit needs, with the file's own schema: a catalog written before or after another
    column was added is still audited."""
    import pyarrow.parquet as pq

    from cwcontrib.catalog.columns import TABLES

    rows: list[dict[str, Any]] = pq.read_table(folder / TABLES[table].file, columns=list(columns)).to_pylist()
    return rows


def select_jobs(root: Path, submissions: Sequence[str] = (), arch: str | None = None,
                status: str | None = None) -> tuple[list[RunJob], list[dict[str, str]]]:
    """The catalog's runs with weights that the filters keep, and those kept that cannot be audited (and why)."""
    folder = root / "catalog"
    if not (folder / "catalog.json").is_file():
        raise AuditError(f"{folder}: no catalog.json; build it with `cwcontrib index --repo {root}`")
    try:
        runs = _columns(folder, "runs", _RUN_COLUMNS)
        digests = {r["submission_id"]: r["content_digest"]
                   for r in _columns(folder, "submissions", ("submission_id", "content_digest"))}
    except (OSError, ValueError, KeyError) as exc:  # pyarrow's errors are OSError and ValueError subclasses
        raise AuditError(f"{folder}: the catalog's tables cannot be read: {exc}") from None
    wanted = set(submissions)
    unknown = sorted(wanted - set(digests))
    if unknown:
        raise AuditError(f"no submission {', '.join(map(repr, unknown))} in the catalog")
    jobs, skipped = [], []
    for row in sorted(runs, key=lambda r: r["run_id"]):
        if row["weights_sha256"] is None or (wanted and row["submission_id"] not in wanted):
            continue
        if (arch and row["architecture"] != arch) or (status and row["status"] != status):
            continue
        if not row["weights_path"]:
            skipped.append({"run_id": row["run_id"], "reason": REMOTE,
                            "detail": "weights declared by URI only; the audit reads no network"})
            continue
        jobs.append(RunJob(
            run_id=row["run_id"], submission_id=row["submission_id"], trial_id=row["trial_id"],
            framework_key=row["framework_key"], framework=row["framework"],
            folder=str((root / "submissions" / row["submission_id"]).resolve()),
            content_digest=digests[row["submission_id"]], weights_path=row["weights_path"],
            weights_format=row["weights_format"], weights_sha256=row["weights_sha256"],
            claimed_correct=_claimed(row), test_size=int(row["test_size"])))
    return jobs, skipped


# ----------------------------------------------------------------------------------------------------------------
# The task: runs in a Ray worker. Returns plain data; never writes.


@dataclass(frozen=True)
class TaskResult:
    run_id: str
    evaluation: dict[str, Any] | None = None  # {"dataset": ..., "runs": [Evaluation.as_dict()]} on success
    reason: str | None = None
    detail: str = ""


@functools.lru_cache(maxsize=2)
def _split(name: str, data_dir: str | None, rescale: float, mean: tuple[float, ...] | None,
           std: tuple[float, ...] | None) -> tuple[Any, Any, dict[str, Any]]:
    """A worker loads and preprocesses each split once, however many runs it evaluates."""
    from cwcontrib.datasets import load_test_split, preprocess

    split = load_test_split(name, Path(data_dir) if data_dir else None)
    x = preprocess(split, rescale, mean, std)
    return x, split.labels, {"name": split.name, "sha256": split.sha256, "n": len(split.labels)}


def _stage_one(folder: Path) -> tuple[Any, list[Any]]:
    """The pipeline's manifest stage on the folder: the validated context the evaluation code reads."""
    from cwcontrib.checks.base import Context
    from cwcontrib.findings import Severity
    from cwcontrib.validate import run_stage

    ctx = Context(root=folder)
    errors = [f for f in run_stage(ctx, "manifest") if f.severity is Severity.ERROR]
    return ctx, errors


# A worker keeps the reference models it built, as stage 5 keeps one per framework key for all of a submission's
# trials (each run's weights replace the previous run's): a Keras build and its expected tensors cost seconds.
_REFERENCES: dict[tuple[str, str, str], Any] = {}
_KEPT_REFERENCES = 4


def _reference(ctx: Any, digest: str, key: str) -> Any:
    from cwcontrib.checks.weights import build_reference

    name = (str(ctx.root), digest, key)
    if name not in _REFERENCES:
        while len(_REFERENCES) >= _KEPT_REFERENCES:
            del _REFERENCES[next(iter(_REFERENCES))]
        _REFERENCES[name] = build_reference(ctx.model, key)
    return _REFERENCES[name]


def evaluate_job(job: RunJob, data_dir: str | None) -> TaskResult:
    """Re-evaluate one run with stage 5's own code, after checking that its bytes are the catalog's."""
    import numpy as np

    from cwcontrib.checks.evaluation import content_digest, predict_run
    from cwcontrib.checks.weights import Reference
    from cwcontrib.datasets import DatasetError
    from cwcontrib.evaluate import Evaluation, EvaluationError, harness_identity, resolve_device
    from cwcontrib.hashing import sha256_file
    from cwcontrib.statistics import tolerance
    from cwcontrib.weights import WeightsError

    folder = Path(job.folder)
    ctx, errors = _stage_one(folder)
    if ctx.model is None or errors:
        return TaskResult(job.run_id, reason=SUBMISSION_CHANGED, detail="its manifest no longer passes stage 1")
    if content_digest(ctx) != job.content_digest:
        return TaskResult(job.run_id, reason=SUBMISSION_CHANGED,
                          detail="its content digest is not the catalog's; run `cwcontrib index` first")
    try:
        actual = sha256_file(folder / job.weights_path)
    except OSError as exc:
        return TaskResult(job.run_id, reason=WEIGHTS_CHANGED, detail=f"{job.weights_path}: {exc.strerror}")
    if actual != job.weights_sha256:
        return TaskResult(job.run_id, reason=WEIGHTS_CHANGED,
                          detail=f"{job.weights_path}: sha256 {actual}, the catalog's is {job.weights_sha256}")
    ctx.verified.add(job.weights_path)  # what weights_location() requires: stage 2's check, just redone
    prep = ctx.model.dataset.preprocessing
    try:
        x, labels, dataset = _split(ctx.model.dataset.name, data_dir, prep.rescale,
                                    tuple(prep.mean) if prep.mean else None, tuple(prep.std) if prep.std else None)
    except DatasetError as exc:
        return TaskResult(job.run_id, reason=DATASET_UNAVAILABLE, detail=exc.portable)
    try:
        if job.weights_format == ONNX:  # the run's own graph is its architecture, as stage 4 has it
            from cwcontrib.onnx.harness import onnx_harness_identity

            ctx.references[job.framework_key] = Reference(job.framework_key, "onnx", None, {}, None)
            device, harness = "cpu", onnx_harness_identity("cpu")  # ONNX Runtime on the CPU
        else:
            reference = ctx.references[job.framework_key] = _reference(ctx, job.content_digest, job.framework_key)
            device = resolve_device("auto") if reference.framework == "pytorch" else "cpu"  # as claims_reproduce
            harness = harness_identity(reference.framework)
        predictions = predict_run(ctx, job.framework_key, job.weights_path, job.weights_format, x, device)
    except (EvaluationError, WeightsError) as exc:  # refused by the framework or ONNX Runtime, or by the checks
        return TaskResult(job.run_id, reason=FAILED, detail=str(exc))
    except Exception as exc:  # cwcontrib's own failure, never blamed on the submission
        return TaskResult(job.run_id, reason=INTERNAL_ERROR, detail=f"{type(exc).__name__}: {exc}")
    n = len(labels)
    result = Evaluation(trial=job.trial_id, framework=job.framework_key, n=n, claimed_correct=job.claimed_correct,
                        measured_correct=int(np.sum(predictions == labels)), tolerance=tolerance(n), device=device,
                        harness=harness, predictions=predictions.tobytes(),
                        dtype=predictions.dtype.str)
    return TaskResult(job.run_id, evaluation={"dataset": dataset, "runs": [result.as_dict()]})


# ----------------------------------------------------------------------------------------------------------------
# The driver.


def ray_options(address: str | None, num_cpus: int | None) -> dict[str, Any]:
    """`ray.init`'s arguments: no dashboard, no log forwarding, the tasks' environment; a local instance names its
    node 127.0.0.1 and keeps a small object store (tasks return a few kB each). Ray 2.60's servers still listen on
    every interface (no setting keeps them on loopback); its token authentication, on by default for a local
    instance, guards them. A cluster at `address` needs RAY_AUTH_MODE=token and its token, as any Ray driver."""
    env = {name: os.environ[name] for name in _TASK_ENV if name in os.environ}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    common: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False,
                              "runtime_env": {"env_vars": env}}
    if address:
        return {"address": address, **common}
    return {"num_cpus": num_cpus or os.cpu_count() or 1, "_node_ip_address": "127.0.0.1",
            "object_store_memory": 128 << 20, **common}


@contextmanager
def ray_session(address: str | None, num_cpus: int | None) -> Iterator[Any]:
    """A Ray connection: the one already open (tests), `address`'s cluster, or a local instance of `num_cpus`
    CPUs without dashboard or usage statistics (nothing is sent anywhere); shut down after if opened here."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # read when ray starts: no usage report leaves the machine
    import ray

    if ray.is_initialized():
        yield ray
        return
    try:
        ray.init(**ray_options(address, num_cpus))
    except Exception as exc:  # ray raises ConnectionError, RuntimeError, ValueError... the message says which
        raise AuditError(f"Ray did not start: {type(exc).__name__}: {exc}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _existing(out: Path) -> dict[tuple[str, str], VerificationRecord]:
    records, _ = read_records(out)
    return {(r.weights_sha256, r.harness.sha256): r for r in records}


def _disagreement(job: RunJob, record: VerificationRecord) -> dict[str, Any] | None:
    """The record against the catalog's claim (the catalog may have changed since the record was made)."""
    if abs(record.measured_correct - job.claimed_correct) <= record.tolerance:
        return None
    return {"run_id": job.run_id, "claimed": f"{job.claimed_correct}/{record.dataset.n}",
            "measured": f"{record.measured_correct}/{record.dataset.n}", "tolerance": record.tolerance,
            "device": record.device, "record": f"{record.submission_id}/{record.file_name}"}


class _Bar:
    """A rich progress bar on a terminal, nothing otherwise."""

    def __init__(self, show: bool, total: int) -> None:
        self._progress: Any = None
        if not show or total == 0:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

        self._progress = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), TimeRemainingColumn(), transient=True)
        self._progress.start()
        self._task = self._progress.add_task("auditing", total=total)

    def advance(self, disagreements: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, description=f"auditing ({disagreements} disagree)")

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def run_audit(root: Path, out: Path, submissions: Sequence[str] = (), arch: str | None = None,
              status: str | None = None, address: str | None = None, cpus_per_task: float = 1.0,
              gpus_per_task: float | None = None, data_dir: str | None = None, num_cpus: int | None = None,
              progress: bool = False) -> Summary:
    jobs, skipped = select_jobs(root, submissions, arch, status)
    harness = harness_sha256()
    graphs = onnx_harness_sha256() if any(job.weights_format == ONNX for job in jobs) else None
    summary = Summary(catalog=str(root / "catalog"), out=str(out), harness_sha256=harness,
                      onnx_harness_sha256=graphs, selected=len(jobs), not_evaluated=list(skipped))
    done = _existing(out)
    todo = []
    for job in jobs:
        record = done.get((job.weights_sha256, (graphs or "") if job.weights_format == ONNX else harness))
        if record is None:
            todo.append(job)
            continue
        summary.already_recorded += 1
        disagrees = _disagreement(job, record)
        if disagrees:
            summary.disagreements.append(disagrees)
    if not todo:
        return summary
    by_id = {job.run_id: job for job in todo}
    with ray_session(address, num_cpus) as ray:
        gpus = gpus_per_task if gpus_per_task is not None else (1.0 if ray.cluster_resources().get("GPU") else 0.0)
        task = ray.remote(evaluate_job)
        pending = [task.options(num_cpus=cpus_per_task, name=f"audit {job.run_id}",
                                # the harness evaluates Keras on the CPU (claims_reproduce), and the audit ONNX
                                # graphs in ONNX Runtime on the CPU, so only PyTorch weights ask for a GPU
                                num_gpus=gpus if job.framework == "pytorch" and job.weights_format != ONNX
                                else 0).remote(job, data_dir)
                   for job in todo]
        bar = _Bar(progress, len(pending))
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                result: TaskResult = ray.get(ready[0])
                _collect(summary, by_id[result.run_id], result, out)
                bar.advance(len(summary.disagreements))
        finally:
            bar.close()
    return summary


def _collect(summary: Summary, job: RunJob, result: TaskResult, out: Path) -> None:
    if result.evaluation is None:
        summary.not_evaluated.append({"run_id": job.run_id, "reason": result.reason or INTERNAL_ERROR,
                                      "detail": result.detail})
        return
    records = records_from_evaluation(job.submission_id, result.evaluation,
                                      {(job.trial_id, job.framework_key): job.weights_sha256}, PRODUCED_BY)
    written = write_records(out, records)  # atomic: a kill leaves each record whole or absent
    summary.evaluated += 1
    summary.records += [p.relative_to(out).as_posix() for p in written]
    for record in records:
        disagrees = _disagreement(job, record)
        if disagrees:
            summary.disagreements.append(disagrees)


# ----------------------------------------------------------------------------------------------------------------
# The command.


def render_text(summary: Summary) -> str:
    harnesses = summary.harness_sha256[:16]
    if summary.onnx_harness_sha256:
        harnesses += f"; ONNX graphs: {summary.onnx_harness_sha256[:16]}"
    lines = [f"audited {summary.selected} run(s) with weights: {summary.evaluated} re-evaluated now, "
             f"{summary.already_recorded} already recorded by this harness ({harnesses}), "
             f"{len(summary.not_evaluated)} not evaluated; records in {summary.out}"]
    if summary.disagreements:
        lines.append(f"{len(summary.disagreements)} run(s) disagree with the catalog:")
    for d in sorted(summary.disagreements, key=lambda d: d["run_id"]):
        lines.append(f"  {d['run_id']}: claimed {d['claimed']}, measured {d['measured']} on {d['device']} "
                     f"(tolerance ±{d['tolerance']}; {d['record']})")
    for n in sorted(summary.not_evaluated, key=lambda d: d["run_id"]):
        lines.append(f"  not evaluated {n['run_id']}: {n['reason']}: {n['detail']}")
    if summary.ok:
        lines.append("every audited run agrees with the catalog")
    return "\n".join(lines) + "\n"


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be at least 0")
    return value


def cmd_audit(args: argparse.Namespace) -> int:
    root = Path(args.catalog_root)
    out = Path(args.out) if args.out else root / "verifications"
    show = not args.quiet and sys.stderr.isatty() and not os.environ.get("CI")  # as validate's progress bars
    try:
        summary = run_audit(root, out, args.submission or (), args.arch, args.status, args.address,
                            args.cpus_per_task, args.gpus_per_task, args.data_dir, args.num_cpus, progress=show)
    except AuditError as exc:
        print(f"cwcontrib: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        sys.stdout.write(json.dumps(summary.as_dict(), indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(render_text(summary))
    return EXIT_OK if summary.ok else EXIT_DISAGREES


def add_audit_command(commands: Any) -> None:
    audit = commands.add_parser("audit", help="re-evaluate the catalog's runs with weights as Ray tasks (resumable)")
    audit.add_argument("--catalog-root", default=".", metavar="DIR",
                       help="the repository holding catalog/ and submissions/ (default: the current folder)")
    audit.add_argument("--submission", action="append", metavar="ID", help="only this submission (repeatable)")
    audit.add_argument("--arch", help="only runs of this architecture (registry name)")
    audit.add_argument("--status", help="only runs of this catalog status (e.g. self-reported, reevaluated)")
    audit.add_argument("--address", help="an existing Ray cluster (default: start a local instance)")
    audit.add_argument("--num-cpus", type=int, metavar="N", help="CPUs of the local instance (default: all)")
    audit.add_argument("--cpus-per-task", type=_positive, default=1.0, metavar="N", help="default %(default)s")
    audit.add_argument("--gpus-per-task", type=_non_negative, metavar="N",
                       help="GPUs per PyTorch run (default: 1 when the cluster has GPUs, else 0)")
    audit.add_argument("--data-dir", help="dataset folder, as the workers see it (default: $CWCONTRIB_DATA)")
    audit.add_argument("--out", metavar="DIR", help="verification records folder (default: <catalog root>/"
                                                   "verifications)")
    audit.add_argument("--json", action="store_true", help="print the summary as JSON")
    audit.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    audit.set_defaults(func=cmd_audit)
