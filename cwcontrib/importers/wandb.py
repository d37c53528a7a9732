"""`cwcontrib import wandb EXPORT.csv`: a Weights & Biases run export as a results-only sweep submission.

An export is one row per W&B run with every config value, summary metric and W&B / Ray Tune bookkeeping
column. The importer keeps the hyperparameters and the two test accuracies of each row (a trial with a
PyTorch and a TensorFlow run), drops every other column and says why, and writes:

- `trials.csv`: the trials table, one row per imported run;
- `import-report.json`: the source's digest, every column kept or dropped with its reason, every row that
  did not become a trial with its reason, and every oddity of the rows that did (unfinished state, training
  curves that explode or disagree with `epochs`, a stored difference that disagrees with the accuracies);
- `submission.yaml`: the manifest, with what the study preset knows (cwcontrib/importers/crossedwires2021.py).

Credentials are never copied: a column with a credential-like name or value is dropped by name, and no cell of
it reaches any file, message or report (W&B exports carry the account's API key in every row).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cwcontrib.secrets import is_secret_name, secret_in_value

ID_COLUMN = "Name"
STATE_COLUMN = "State"
# Export column -> trials-table column. Integers are checked to be whole numbers.
HYPERPARAMETERS = {
    "learning_rate": "hyperparameters.learning_rate",
    "batch_size": "hyperparameters.batch_size",
    "epochs": "hyperparameters.epochs",
    "adam_epsilon": "hyperparameters.optimizer.epsilon",
}
INTEGERS = frozenset({"batch_size", "epochs"})
RESULTS = {"pt_test_acc": "pytorch.test_accuracy", "tf_test_acc": "tensorflow.test_accuracy"}
# Per-epoch training losses, as JSON lists: not imported (a curve file per run would be 2,400 files), but read
# for the oddities they show.
LOSS_CURVES = {"pt_average_training_loss": "pytorch", "pt_latest_training_loss": "pytorch",
               "tf_training_loss": "tensorflow"}
DIFFERENCE_COLUMN = "accuracy_diff"
EXPLODING_LOSS = 1e6  # as the semantics check's CW309
DIFFERENCE_TOLERANCE = 1e-6

WHY_DROPPED = {
    DIFFERENCE_COLUMN: "derived: the catalog computes each pair's gap from the two accuracies, never from input "
                       "(rows where it disagrees with |pt - tf| are listed as oddities)",
    "Runtime": "seconds of the whole W&B run, which trained both frameworks one after the other: not a "
               "per-framework wall time",
    STATE_COLUMN: "W&B run state: rows not `finished` are listed as oddities",
    "Created": "W&B bookkeeping (run creation time)",
    "Notes": "W&B bookkeeping", "User": "W&B bookkeeping (account name)", "Tags": "W&B bookkeeping",
    "Sweep": "W&B bookkeeping", "wandb.project": "W&B bookkeeping (project name)",
    **{name: "training curve (per-epoch list): not imported; exploding values and lengths that differ from "
             "`epochs` are listed as oddities" for name in LOSS_CURVES},
}
RAY_TUNE_BOOKKEEPING = ("date", "experiment_id", "hostname", "node_ip", "pid", "trial_id", "iterations_since_restore",
                        "time_since_restore", "time_this_iter_s", "time_total_s", "timestamp",
                        "timesteps_since_restore", "training_iteration")


class ExportError(Exception):
    """The export cannot be imported at all (unreadable, or without the columns a trial needs)."""


@dataclass
class Imported:
    trials: list[dict[str, str]]  # trials-table rows, in export order
    report: dict[str, Any]
    excluded: list[dict[str, Any]] = field(default_factory=list)


def _why_dropped(column: str, values: list[str]) -> str:
    if is_secret_name(column) or any(secret_in_value(v, column) for v in values if v):
        filled = sum(1 for v in values if v)
        return f"credential ({filled} non-empty values): never copied; revoke it"
    if column in WHY_DROPPED:
        return WHY_DROPPED[column]
    if column in RAY_TUNE_BOOKKEEPING:
        return "Ray Tune bookkeeping" + ("" if any(values) else " (empty in every row)")
    if column.startswith("config/"):
        empty = "" if any(values) else " (empty in every row)"
        return f"Ray Tune's copy of the configuration{empty}; the top-level column is imported"
    return "not a hyperparameter or result this importer knows"


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _losses(text: str) -> list[float] | None:
    try:
        values = json.loads(text)
    except ValueError:
        return None
    if not isinstance(values, list) or not all(isinstance(v, (int, float)) for v in values):
        return None
    return [float(v) for v in values]


def _trial(row: dict[str, str]) -> tuple[dict[str, str] | None, str | None]:
    """A trials-table row, or why the export row cannot be one."""
    name = row.get(ID_COLUMN, "")
    if not name:
        return None, "no run name"
    out = {"id": name}
    for column, target in {**HYPERPARAMETERS, **RESULTS}.items():
        value = _number(row.get(column, ""))
        if value is None:
            return None, f"{column} is {row.get(column, '')!r}, not a finite number"
        if column in INTEGERS:
            if not value.is_integer():
                return None, f"{column} is {row[column]!r}, not a whole number"
            out[target] = str(int(value))
        else:
            out[target] = repr(value)  # the exported value itself: float64's shortest round-trip text
    return out, None


def _oddities(row: dict[str, str], columns: list[str]) -> list[str]:
    found = []
    state = row.get(STATE_COLUMN, "")
    if state != "finished":
        found.append(f"W&B state is {state!r}, not 'finished' (its results were logged)")
    pt, tf = _number(row["pt_test_acc"]), _number(row["tf_test_acc"])
    stored = _number(row.get(DIFFERENCE_COLUMN, ""))
    if pt is not None and tf is not None and stored is not None and abs(abs(pt - tf) - stored) > DIFFERENCE_TOLERANCE:
        found.append(f"{DIFFERENCE_COLUMN} {stored!r} differs from |pt - tf| = {abs(pt - tf)!r}")
    epochs = _number(row.get("epochs", ""))
    for column, framework in LOSS_CURVES.items():
        if column not in columns:
            continue
        if not row[column]:
            found.append(f"{column} is empty (no training curve logged)")
            continue
        losses = _losses(row[column])
        if losses is None:
            found.append(f"{column} is not a list of numbers")
            continue
        if epochs is not None and len(losses) != epochs:
            found.append(f"{column} has {len(losses)} epochs, the trial trained {int(epochs)}")
        high = [x for x in losses if not math.isfinite(x) or x > EXPLODING_LOSS]
        if high:
            found.append(f"{column} ({framework}) explodes: {len(high)} epochs above {EXPLODING_LOSS:g} "
                         f"(largest {max(high):.3g})")
    for column in columns:
        if column.startswith("wandb.") and not row.get(column):
            found.append(f"{column} is empty")  # the column's name only: never a value of it
    return found


def read_export(raw: bytes) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and (file line, row) pairs of a CSV export, whatever its quoting."""
    text = raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = next(reader, None)
    if not header:
        raise ExportError("the export is empty")
    columns = [c.strip() for c in header]
    if len(set(columns)) != len(columns):
        raise ExportError("the export has duplicate column names")
    missing = [c for c in (ID_COLUMN, *HYPERPARAMETERS, *RESULTS) if c not in columns]
    if missing:
        raise ExportError(f"the export has no {', '.join(missing)} column")
    rows = []
    line = reader.line_num
    for record in reader:
        if record and len(record) != len(columns):
            raise ExportError(f"line {line + 1}: {len(record)} cells, the header has {len(columns)}")
        if record:
            rows.append((line + 1, {c: v.strip() for c, v in zip(columns, record, strict=True)}))
        line = reader.line_num
    return columns, rows


def import_export(raw: bytes, source_name: str) -> Imported:
    columns, rows = read_export(raw)
    trials: list[dict[str, str]] = []
    excluded: list[dict[str, Any]] = []
    oddities: list[dict[str, Any]] = []
    seen: set[str] = set()
    for line, row in rows:
        trial, why = _trial(row)
        if trial is not None and trial["id"] in seen:
            trial, why = None, f"run name {row[ID_COLUMN]!r} repeats an earlier row"
        if trial is None:
            excluded.append({"line": line, "name": row.get(ID_COLUMN, ""), "reason": why})
            continue
        seen.add(trial["id"])
        trials.append(trial)
        for what in _oddities(row, columns):
            oddities.append({"trial": trial["id"], "line": line, "what": what})
    imported = {ID_COLUMN: "id", **HYPERPARAMETERS, **RESULTS}
    dropped = {c: _why_dropped(c, [r[c] for _, r in rows]) for c in columns if c not in imported}
    report = {
        "source": {"file": source_name, "sha256": hashlib.sha256(raw).hexdigest(), "rows": len(rows),
                   "columns": len(columns)},
        "trials": len(trials),
        "excluded_rows": excluded,
        "columns_imported": {c: imported[c] for c in columns if c in imported},
        "columns_dropped": dropped,
        "credentials_dropped": sorted(c for c, why in dropped.items() if why.startswith("credential")),
        "oddities": oddities,
    }
    return Imported(trials, report, excluded)


def _table_bytes(trials: list[dict[str, str]]) -> bytes:
    columns = ["id", *HYPERPARAMETERS.values(), *RESULTS.values()]
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(trials)
    return out.getvalue().encode()


def _artifact(rel: str, raw: bytes, fmt: str) -> dict[str, Any]:
    return {"path": rel, "format": fmt, "size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


def write_submission(export: Path, architecture: str, out: Path, submission_id: str | None = None) -> Imported:
    """Import `export` into the folder `out` (created; files of the same names are replaced)."""
    from cwcontrib.importers import crossedwires2021 as study

    raw = export.read_bytes()
    imported = import_export(raw, export.name)
    table = _table_bytes(imported.trials)
    report = (json.dumps(imported.report, indent=2, ensure_ascii=False) + "\n").encode()
    data = study.manifest(architecture, submission_id or out.name, export.name)
    data["trials_table"] = {"path": "trials.csv", "format": "csv"}
    data["artifacts"] = [_artifact("import-report.json", report, "json"), _artifact("trials.csv", table, "csv")]
    manifest = ("# Generated by `cwcontrib import wandb`; regenerate rather than edit.\n"
                + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)).encode()
    out.mkdir(parents=True, exist_ok=True)
    for name, content in (("trials.csv", table), ("import-report.json", report), ("submission.yaml", manifest)):
        (out / name).write_bytes(content)
    return imported


def cmd_import_wandb(args: argparse.Namespace) -> int:
    from cwcontrib.importers.crossedwires2021 import ARCHITECTURES

    out = Path(args.out)
    submission_id = args.id or out.name
    try:
        imported = write_submission(Path(args.export), args.architecture, out, submission_id)
    except (OSError, UnicodeDecodeError, csv.Error, ExportError) as exc:
        print(f"cwcontrib: cannot import {args.export}: {exc}", file=sys.stderr)
        return 1
    report = imported.report
    print(f"{out}: {report['trials']} trials from {report['source']['rows']} rows of {report['source']['file']} "
          f"({ARCHITECTURES[args.architecture]['title']})")
    for row in report["excluded_rows"]:
        print(f"  row at line {row['line']} ({row['name'] or 'unnamed'}) not imported: {row['reason']}")
    for column, why in report["columns_dropped"].items():
        print(f"  dropped column {column}: {why}")
    print(f"  {len(report['oddities'])} oddities kept with their trials (import-report.json lists them)")
    return 0


def add_commands(commands: Any) -> None:
    from cwcontrib.importers.crossedwires2021 import ARCHITECTURES

    importer = commands.add_parser("import", help="turn results recorded elsewhere into a results-only submission")
    sources = importer.add_subparsers(dest="import_source", required=True)
    wandb = sources.add_parser("wandb", help="a Weights & Biases CSV export of the original CrossedWires sweeps")
    wandb.add_argument("export", help="the W&B export (CSV)")
    wandb.add_argument("--architecture", required=True, choices=sorted(ARCHITECTURES),
                       help="the architecture of the sweep")
    wandb.add_argument("--out", required=True, help="the submission folder to write (its name is the id)")
    wandb.add_argument("--id", help="the submission id (default: the folder's name)")
    wandb.set_defaults(func=cmd_import_wandb)
