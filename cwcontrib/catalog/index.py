"""`cwcontrib index`: rebuild `catalog/` from `submissions/` and `verifications/`.

Each submission goes through the validation pipeline (stages 1-4; re-evaluation is what verification records
are for) and becomes rows; verification records are joined by weights sha256; the tables, `catalog.json` and
`croissant.json` are written into a staging folder beside `catalog/` and swapped in at once. A submission that
fails validation is refused by name with its findings, and the previous catalog stays as it was.

Incremental: a submission whose files are unchanged (same names, sizes, modification times and inodes, the
same tool version) is taken from a cache of its rows without opening any of its files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from cwcontrib import __version__
from cwcontrib.atomic import recover_dir, replace_dir, write_bytes_atomic
from cwcontrib.catalog.columns import TABLES, arrow_table
from cwcontrib.catalog.extract import AUDIT_MIN_TRIALS, AUDIT_RATE, Extract, extract
from cwcontrib.catalog.verification import (
    EVIDENCE_COUNTS,
    IgnoredRecord,
    VerificationRecord,
    evidence_count,
    newest_by_weights,
    read_records,
)
from cwcontrib.checks.base import ProgressSink
from cwcontrib.findings import Finding
from cwcontrib.hashing import sha256_file

CATALOG_FORMAT = "2"  # 2: runs.evidence and the submissions' evidence counts (issue 15: ONNX Runtime apart)
CACHE_FORMAT = "2"  # 2: the hyperparameters table, runs.epochs_trained, trials.lr_schedule


class IndexRefused(Exception):
    """Submissions that cannot enter the catalog, each with why."""

    def __init__(self, refused: dict[str, list[str]]) -> None:
        self.refused = refused
        super().__init__("refused: " + ", ".join(sorted(refused)))


@dataclass
class IndexResult:
    catalog: Path
    digest: str
    submissions: list[str]
    validated: list[str]  # submissions that went through the pipeline (the rest came from the cache)
    ignored_records: list[IgnoredRecord] = field(default_factory=list)
    changed: bool = True


Step = Callable[[str], None]


def _trace(step: str) -> None:
    # A build's milestones on stderr when CWCONTRIB_INDEX_TRACE is set: tests kill a build at each of them.
    if os.environ.get("CWCONTRIB_INDEX_TRACE"):
        print(f"cwcontrib-index: {step}", file=sys.stderr, flush=True)


def submission_folders(submissions: Path) -> list[Path]:
    if not submissions.is_dir():
        return []
    return sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))


def stat_signature(folder: Path) -> str:
    """What changes when any file of the folder does, read from directory entries only (no file is opened)."""
    entries = []
    for base, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(dirs + files):
            st = os.lstat(os.path.join(base, name))
            rel = os.path.relpath(os.path.join(base, name), folder)
            entries.append(f"{rel}\0{st.st_mode}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}")
    payload = "\n".join([f"cwcontrib {__version__} cache {CACHE_FORMAT}", *entries])
    return hashlib.sha256(payload.encode("utf-8", "surrogateescape")).hexdigest()


def _cached(cache: Path, folder: Path, signature: str) -> Extract | None:
    path = cache / f"{folder.name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("signature") != signature:
        return None
    return Extract.from_json(data["extract"])


def _findings_text(findings: list[Finding]) -> list[str]:
    return [f"{f.code} {f.location.render()}: {f.message}" for f in findings]


def _validated(folder: Path, progress: ProgressSink | None) -> tuple[Extract | None, list[str]]:
    from cwcontrib.checks.base import Options
    from cwcontrib.validate import run_validation

    validation = run_validation(folder, progress=progress, options=Options(reeval=False))
    report = validation.report
    if not report.ok:
        return None, _findings_text(report.errors)
    if validation.context.model is None or report.stages.get("weights") != "passed":
        return None, [f"stages {report.stages}: stages 1-4 must pass before a submission enters the catalog"]
    if report.submission != folder.name:
        return None, [f"the manifest's submission id {report.submission!r} differs from its folder name"]
    return extract(validation), []


def _extracts(submissions: Path, cache: Path, step: Step,
              progress: ProgressSink | None) -> tuple[dict[str, Extract], list[str]]:
    extracts: dict[str, Extract] = {}
    validated: list[str] = []
    refused: dict[str, list[str]] = {}
    for folder in submission_folders(submissions):
        signature = stat_signature(folder)
        hit = _cached(cache, folder, signature)
        if hit is None:
            step(f"validating {folder.name}")
            hit, problems = _validated(folder, progress)
            if hit is None:
                refused[folder.name] = problems
                continue
            validated.append(folder.name)
            write_bytes_atomic(cache / f"{folder.name}.json",
                               json.dumps({"signature": signature, "extract": hit.to_json()}).encode())
        extracts[folder.name] = hit
    if refused:
        raise IndexRefused(refused)
    return extracts, validated


def _join_status(run: dict[str, Any], record: VerificationRecord | None) -> dict[str, Any]:
    sampled = run.pop("sampled")
    if record is not None:
        status = "reevaluated"
    elif run["weights_sha256"] is None:
        status = "results-only"
    else:
        status = "sampled-not-yet-evaluated" if sampled else "self-reported"
    measured = {
        "measured_correct": record.measured_correct if record else None,
        "measured_accuracy": record.measured_correct / record.dataset.n if record else None,
        "tolerance": record.tolerance if record else None,
        "reproduced": record.reproduced if record else None,
        "verified_device": record.device if record else None,
        "verified_harness": f"{record.harness.name} {record.harness.version}" if record else None,
        "verified_harness_sha256": record.harness.sha256 if record else None,
        "verified_on": record.date.isoformat() if record else None,
        "verified_by": record.produced_by if record else None,
        "predictions_sha256": record.predictions_sha256 if record else None,
        "evidence": record.harness.level if record else None,
    }
    return {**run, "status": status, **measured}


@dataclass
class Rows:
    tables: dict[str, list[dict[str, Any]]]
    audit: dict[str, Any]
    ignored: list[IgnoredRecord]


COUNTS = ("runs_with_weights", "runs_sampled", "runs_reevaluated", *EVIDENCE_COUNTS)


def _audit_counts(runs: list[dict[str, Any]], sampled: int) -> dict[str, Any]:
    with_weights = sum(1 for r in runs if r["weights_sha256"])
    outcomes = [evidence_count(r) for r in runs]
    return {
        "runs_with_weights": with_weights,
        "runs_sampled": sampled,
        "runs_reevaluated": sum(1 for r in runs if r["status"] == "reevaluated"),
        **{name: outcomes.count(name) for name in EVIDENCE_COUNTS},
        "audit_sampling_rate": sampled / with_weights if with_weights else None,
    }


def join_rows(extracts: dict[str, Extract], records: list[VerificationRecord],
              ignored: list[IgnoredRecord]) -> Rows:
    tables: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    by_submission: dict[str, list[VerificationRecord]] = {}
    for record in records:
        by_submission.setdefault(record.submission_id, []).append(record)
    ignored = list(ignored)
    totals = dict.fromkeys(COUNTS, 0)
    for submission_id, ex in sorted(extracts.items()):
        chosen = newest_by_weights(by_submission.pop(submission_id, []))
        known = {r["weights_sha256"] for r in ex.runs if r["weights_sha256"]}
        ignored += [IgnoredRecord(f"{submission_id}/{rec.file_name}", "its weights sha256 matches no run of the "
                                  "submission") for sha, rec in sorted(chosen.items()) if sha not in known]
        sampled = sum(1 for r in ex.runs if r["sampled"])
        runs = [_join_status(dict(r), chosen.get(r["weights_sha256"] or "")) for r in ex.runs]
        status = {r["run_id"]: r for r in runs}
        for pair in ex.pairs:
            a, b = status[pair["run_a"]], status[pair["run_b"]]
            both = a["measured_accuracy"] is not None and b["measured_accuracy"] is not None
            tables["pairs"].append({**pair, "status_a": a["status"], "status_b": b["status"],
                                    "evidence_a": a["evidence"], "evidence_b": b["evidence"],
                                    "measured_gap": a["measured_accuracy"] - b["measured_accuracy"] if both else None})
        audit = _audit_counts(runs, sampled)
        for key in totals:
            totals[key] += audit[key]
        tables["submissions"].append({**ex.submission, **audit})
        tables["trials"].extend(ex.trials)
        tables["hyperparameters"].extend(ex.hyperparameters)
        tables["runs"].extend(runs)
    for submission_id, orphans in sorted(by_submission.items()):
        ignored += [IgnoredRecord(f"{submission_id}/{r.file_name}", "no submission of that id is in the catalog")
                    for r in orphans]
    rate = totals["runs_sampled"] / totals["runs_with_weights"] if totals["runs_with_weights"] else None
    audit = {**totals, "audit_sampling_rate": rate,
             "policy": f"every run of {AUDIT_RATE:.0%} of each submission's trials with weights, at least "
                       f"{AUDIT_MIN_TRIALS}, chosen from the submission's content digest"}
    return Rows(tables, audit, sorted(ignored, key=lambda i: i.file))


def _canonical_json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def write_tables(rows: Rows, extracts: dict[str, Extract], staged: Path, step: Step,
                 version: str = "unreleased") -> dict[str, Any]:
    """The Parquet tables and catalog.json into `staged`; returns catalog.json's content."""
    tables = {}
    for name, spec in TABLES.items():
        path = staged / spec.file
        # Fixed writer options: the same rows give the same bytes (no timestamps in Parquet metadata).
        pq.write_table(arrow_table(spec, rows.tables[name]), path, compression="zstd", compression_level=9,
                       use_dictionary=True, write_statistics=True)
        step(f"wrote {spec.file}")
        tables[name] = {"file": spec.file, "rows": len(rows.tables[name]), "sha256": sha256_file(path)}
    meta: dict[str, Any] = {
        "catalog_format": CATALOG_FORMAT,
        "version": version,  # a release (cwcontrib release) names the version of what it publishes
        "tool": {"name": "cwcontrib", "version": __version__},
        "schema_versions": sorted({e.schema_version for e in extracts.values()}),
        "licenses": sorted({e.submission["license"] for e in extracts.values()}),
        "submissions": {sid: {"content_digest": e.content_digest, "schema_version": e.schema_version}
                        for sid, e in sorted(extracts.items())},
        "audit": rows.audit,
        "verifications": {"records": sum(1 for r in rows.tables["runs"] if r["status"] == "reevaluated"),
                          "ignored": [{"file": i.file, "reason": i.reason} for i in rows.ignored]},
        "tables": tables,
    }
    meta["digest"] = hashlib.sha256(_canonical_json(meta)).hexdigest()
    return meta


def _clean_stale(parent: Path, name: str) -> None:
    for stale in parent.glob(f".{name}.staging-*"):
        shutil.rmtree(stale, ignore_errors=True)


def build_catalog(repo: Path, out: Path | None = None, submissions: Path | None = None,
                  verifications: Path | None = None, cache: Path | None = None, step: Step = _trace,
                  progress: ProgressSink | None = None, version: str | None = None,
                  retractions: Path | None = None) -> IndexResult:
    """Rebuild the catalog of the repository at `repo` (deterministic, atomic, incremental); `progress` shows
    the validation of changed submissions (hashing their files). `version` names the release being published
    (cwcontrib release); without it a catalog whose content is unchanged keeps its version, and any other is
    `unreleased`. Tombstones under `retractions/` become the `retracted` table."""
    from cwcontrib.catalog.retract import RetractionError, tombstone_rows

    out = out or repo / "catalog"
    submissions = submissions or repo / "submissions"
    verifications = verifications or repo / "verifications"
    retractions = retractions or repo / "retractions"
    cache = cache or repo / ".cwcontrib-cache" / "index"
    out.parent.mkdir(parents=True, exist_ok=True)
    recover_dir(out)
    _clean_stale(out.parent, out.name)
    try:
        tombstones = tombstone_rows(retractions, submissions)
    except RetractionError as exc:
        raise IndexRefused(exc.refused) from None
    extracts, validated = _extracts(submissions, cache, step, progress)
    records, ignored = read_records(verifications)
    rows = join_rows(extracts, records, ignored)
    rows.tables["retracted"] = tombstones
    staged = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    try:
        meta = write_tables(rows, extracts, staged, step, version or "unreleased")
        if version is None:
            meta = _kept_version(out, meta)
        from cwcontrib.catalog.croissant import croissant_bytes

        _datasheet(staged, rows.tables, meta, cache)
        step("wrote DATASHEET.md")
        (staged / "croissant.json").write_bytes(croissant_bytes(meta))
        step("wrote croissant.json")
        (staged / "catalog.json").write_bytes(_canonical_json(meta))
        step("wrote catalog.json")
        _carry_over(out, staged)
        changed = not _same_tree(staged, out)
        if changed:
            step("swapping")
            replace_dir(staged, out)
            step("swapped")
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return IndexResult(out, meta["digest"], sorted(extracts), validated, rows.ignored, changed)


def _datasheet_key(meta: dict[str, Any]) -> str:
    """What the datasheet is a function of: the tables (their digests) and the code, template and data that
    render it, and matplotlib's version (it draws the figures)."""
    import matplotlib

    from cwcontrib.catalog import datasheet, datasheet_figures

    sources = [Path(datasheet.__file__), Path(datasheet_figures.__file__), datasheet.TEMPLATE,
               Path(datasheet.__file__).with_name("paper_tables.yaml")]
    material = {"tables": {name: t["sha256"] for name, t in sorted(meta["tables"].items())},
                "sources": [sha256_file(p) for p in sources], "matplotlib": matplotlib.__version__}
    return hashlib.sha256(_canonical_json(material)).hexdigest()


def _datasheet(staged: Path, tables: dict[str, list[dict[str, Any]]], meta: dict[str, Any], cache: Path) -> None:
    """DATASHEET.md and its figures into `staged`, from the index cache when the same tables were rendered by the
    same code before: drawing the figures is most of an unchanged rebuild's time (issue 16: <= 1 s)."""
    from cwcontrib.catalog.datasheet import write_datasheet

    folder = cache / "datasheet"
    cached = folder / _datasheet_key(meta)
    if not cached.is_dir():
        shutil.rmtree(folder, ignore_errors=True)  # one datasheet kept: the newest
        folder.mkdir(parents=True)
        rendered = Path(tempfile.mkdtemp(prefix=".rendering-", dir=folder))
        write_datasheet(rendered, tables)
        os.replace(rendered, cached)  # atomic: a killed build leaves no half-written entry
    for path in sorted(cached.iterdir()):
        shutil.copyfile(path, staged / path.name)


def _kept_version(out: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """`meta` with the previous catalog's version when nothing but the version differs: rebuilding a released
    catalog leaves it released (and its bytes unchanged)."""
    try:
        previous = json.loads((out / "catalog.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return meta
    unversioned = {k: v for k, v in meta.items() if k not in ("version", "digest")}
    if not isinstance(previous, dict) or unversioned != {k: v for k, v in previous.items()
                                                         if k not in ("version", "digest")}:
        return meta
    kept = {**unversioned, "version": previous.get("version", meta["version"])}
    kept["digest"] = hashlib.sha256(_canonical_json(kept)).hexdigest()
    return kept


# Files of catalog/ that a rebuild does not derive and keeps: the changelog is written by `cwcontrib release`.
CARRIED_OVER = ("CHANGELOG.md",)


def _carry_over(out: Path, staged: Path) -> None:
    for name in CARRIED_OVER:
        if (out / name).is_file() and not (staged / name).exists():
            shutil.copyfile(out / name, staged / name)


def _same_tree(a: Path, b: Path) -> bool:
    if not b.is_dir():
        return False
    files_a = sorted(p.relative_to(a) for p in a.rglob("*"))
    files_b = sorted(p.relative_to(b) for p in b.rglob("*"))
    return files_a == files_b and all((a / f).read_bytes() == (b / f).read_bytes()
                                      for f in files_a if (a / f).is_file())
