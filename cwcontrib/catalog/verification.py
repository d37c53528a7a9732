"""Verification records: what trusted code measured, kept apart from what contributors claim.

A record is a small JSON file under `verifications/<submission-id>/`, named by the run's weights sha256 and the
harness digest, so that renaming a weights file loses nothing and changing one invalidates exactly its records.
Only trusted jobs write them (`cwcontrib validate --record DIR`, the GPU job, `cwcontrib audit`); the indexer
joins them to runs by weights sha256 and reports, without failing, a record that matches no run.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from cwcontrib.atomic import write_bytes_atomic

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# The level of evidence a re-evaluation gives (issue 15): the framework harnesses load the weights into the trusted
# reference of the framework the run was trained in; the ONNX Runtime harness runs the graph the run shipped.
FRAMEWORK, ONNXRUNTIME = "framework", "onnxruntime"
Evidence = Literal["framework", "onnxruntime"]
EVIDENCE_LABELS: dict[str, str] = {FRAMEWORK: "reproduced in its own framework",
                                   ONNXRUNTIME: "reproduced in ONNX Runtime"}


# How far each run of the catalog is re-evaluated, one count per outcome: every run is in exactly one.
EVIDENCE_COUNTS = ("runs_reproduced_in_framework", "runs_reproduced_in_onnxruntime", "runs_not_reproduced",
                   "runs_not_reevaluated")


def evidence_count(run: Mapping[Any, Any]) -> str:
    """Which of EVIDENCE_COUNTS a row of the runs table counts in."""
    if run["status"] != "reevaluated":
        return "runs_not_reevaluated"
    if not run["reproduced"]:
        return "runs_not_reproduced"
    return "runs_reproduced_in_onnxruntime" if run["evidence"] == ONNXRUNTIME else "runs_reproduced_in_framework"


class Harness(_Strict):
    """The harness's identity as stage 5 reports it. The framework harnesses' identity is name, version and sha256
    (evidence `framework`, implied); the ONNX Runtime harness's also names its evidence, the ONNX Runtime version
    and the execution provider."""

    name: str
    version: str
    sha256: Sha256
    evidence: Evidence | None = None
    onnxruntime: str | None = None
    provider: str | None = None

    @property
    def level(self) -> str:
        """`framework` or `onnxruntime`: what a record by this harness proves."""
        return self.evidence or FRAMEWORK


class DatasetRef(_Strict):
    name: str
    sha256: Sha256
    n: Annotated[int, Field(ge=1)]


class VerificationRecord(_Strict):
    """One run's weights, re-evaluated by one harness."""

    record_format: Literal["1"] = "1"
    submission_id: Slug
    trial_id: Slug
    framework_key: Slug
    weights_sha256: Sha256
    dataset: DatasetRef
    claimed_correct: Annotated[int, Field(ge=0)]
    measured_correct: Annotated[int, Field(ge=0)]
    tolerance: Annotated[int, Field(ge=0)]
    reproduced: bool
    device: str
    harness: Harness
    predictions_sha256: Sha256
    date: datetime.date
    produced_by: str

    @property
    def file_name(self) -> str:
        return f"{self.weights_sha256}.{self.harness.sha256[:16]}.json"

    def to_json(self) -> bytes:
        # Unset optional harness fields are left out: a framework harness's record has the bytes it always had.
        return (json.dumps(self.model_dump(mode="json", exclude_none=True), indent=2, sort_keys=True) + "\n").encode()


@dataclass(frozen=True)
class IgnoredRecord:
    file: str  # relative to the verifications folder
    reason: str


def record_date() -> datetime.date:
    """Today, or the day SOURCE_DATE_EPOCH names (reproducible builds' convention), for reproducible records."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.datetime.fromtimestamp(int(epoch), datetime.UTC).date()
    return datetime.datetime.now(datetime.UTC).date()


def records_from_evaluation(submission_id: str, evaluation: dict[str, Any], weights_sha256: dict[tuple[str, str], str],
                            produced_by: str) -> list[VerificationRecord]:
    """Records for every run a validation re-evaluated (the JSON report's `evaluation` section)."""
    dataset = DatasetRef.model_validate(evaluation["dataset"])
    date = record_date()
    records = []
    for run in evaluation["runs"]:
        digest = weights_sha256.get((run["trial"], run["framework"]))
        if digest is None:  # re-evaluated from a file the manifest does not checksum: nothing to key on
            continue
        claimed = int(run["claimed"].split("/")[0])
        measured = int(run["measured"].split("/")[0])
        records.append(VerificationRecord(
            submission_id=submission_id, trial_id=run["trial"], framework_key=run["framework"],
            weights_sha256=digest, dataset=dataset, claimed_correct=claimed, measured_correct=measured,
            tolerance=run["tolerance"], reproduced=run["reproduced"], device=run["device"],
            harness=Harness.model_validate(run["harness"]), predictions_sha256=run["predictions"]["sha256"],
            date=date, produced_by=produced_by))
    return records


def write_records(folder: Path, records: Iterable[VerificationRecord]) -> list[Path]:
    written = []
    for record in records:
        path = folder / record.submission_id / record.file_name
        write_bytes_atomic(path, record.to_json())
        written.append(path)
    return written


MAX_RECORD_BYTES = 64 * 1024


def read_records(folder: Path) -> tuple[list[VerificationRecord], list[IgnoredRecord]]:
    """Every well-formed record under `folder`, and every file that is not one (with why), in path order."""
    records: list[VerificationRecord] = []
    ignored: list[IgnoredRecord] = []
    if not folder.is_dir():
        return records, ignored
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        try:
            if path.stat().st_size > MAX_RECORD_BYTES:
                raise ValueError(f"larger than {MAX_RECORD_BYTES} bytes")
            record = VerificationRecord.model_validate_json(path.read_bytes())
        except (OSError, ValueError, ValidationError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            ignored.append(IgnoredRecord(rel, f"not a verification record: {reason}"))
            continue
        if rel != f"{record.submission_id}/{record.file_name}":
            ignored.append(IgnoredRecord(rel, f"misplaced: a record of this content belongs at "
                                              f"{record.submission_id}/{record.file_name}"))
            continue
        records.append(record)
    return records, ignored


def newest_by_weights(records: Iterable[VerificationRecord]) -> dict[str, VerificationRecord]:
    """The record each weights file's status comes from: the newest, ties broken by harness digest."""
    chosen: dict[str, VerificationRecord] = {}
    for record in sorted(records, key=lambda r: (r.date, r.harness.sha256, r.produced_by)):
        chosen[record.weights_sha256] = record
    return chosen


def record_validation(validation: Any, folder: Path, produced_by: str) -> list[Path]:
    """Records of what a validation (a `cwcontrib.validate.Validation`) re-evaluated, written into `folder`.

    Only runs whose weights file the manifest checksums get a record (the key), and only when the files stage
    passed, so that the sha256 is the checked content of what was evaluated.
    """
    report, model = validation.report, validation.context.model
    evaluation = validation.context.results.evaluation
    if model is None or evaluation is None or report.stages.get("files") != "passed":
        return []
    artifacts = {a.path: a.sha256 for a in model.artifacts if a.path}
    weights = {(trial.id, key): artifacts.get(run.run.weights or "")
               for trial in validation.context.trials for key, run in trial.runs.items()}
    known = {k: v for k, v in weights.items() if v}
    return write_records(folder, records_from_evaluation(model.submission.id, evaluation.as_dict(), known, produced_by))
