"""Each file and semantic check, triggered by one small change to a copy of the real demo submission.

Every case must give its code, and the untouched demo must give none of them (test_demo.py).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from typing import Any

import pytest

from cwcontrib.checks import Options
from cwcontrib.limits import Limits
from cwcontrib.trials import flatten
from cwcontrib.validate import Report, validate
from tests.conftest import Submission

Mutation = Callable[[Submission], None]


def first_trial(data: dict[str, Any]) -> dict[str, Any]:
    trial: dict[str, Any] = data["trials"][0]
    return trial


def first_run(data: dict[str, Any], framework: str = "pytorch") -> dict[str, Any]:
    run: dict[str, Any] = first_trial(data)["runs"][framework]
    return run


def curve_path(sub: Submission, framework: str = "pytorch") -> str:
    path: str = first_run(sub.manifest(), framework)["curves"]
    return path


def rewrite_curve(sub: Submission, change: Callable[[list[dict[str, str]]], list[dict[str, str]]],
                  extra_columns: tuple[str, ...] = ()) -> None:
    rel = curve_path(sub)
    rows = list(csv.DictReader(io.StringIO((sub.root / rel).read_text())))
    rows = change(rows)
    columns = list(rows[0].keys()) if rows else ["epoch", "loss"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*columns, *[c for c in extra_columns if c not in columns]],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    sub.write_file(rel, out.getvalue(), "csv")


def set_loss(value: str, row: int = 1) -> Mutation:
    def change(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        rows[row]["loss"] = value
        return rows

    return lambda sub: rewrite_curve(sub, change)


def edit(change: Callable[[dict[str, Any]], None]) -> Mutation:
    return lambda sub: sub.edit(change)


def _symlink_out(sub: Submission) -> None:
    rel = curve_path(sub)
    target = sub.root.parent / "outside.csv"
    target.write_text("epoch,loss\n")
    (sub.root / rel).unlink()
    (sub.root / rel).symlink_to(target)


def _fifo(sub: Submission) -> None:
    os.mkfifo(sub.root / "pipe.csv")


def _hard_link(sub: Submission) -> None:
    os.link(sub.root / curve_path(sub), sub.root.parent / "elsewhere.csv")


def _flip_byte(sub: Submission) -> None:
    path = sub.root / curve_path(sub)
    raw = bytearray(path.read_bytes())
    raw[-2] = ord("7") if raw[-2] != ord("7") else ord("8")
    path.write_bytes(bytes(raw))


def _append_epoch(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    extra = dict(rows[-1])
    extra["epoch"] = str(len(rows) + 1)
    return [*rows, extra]


def _add_secret_column(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{**row, "wandb_api_key": "0123456789abcdef0123456789abcdef01234567"} for row in rows]


def _to_trials_table(sub: Submission, rows_hook: Callable[[list[dict[str, Any]]], None] | None = None) -> None:
    """Move the inline trials into a CSV trials table, as a 400-trial sweep would be written."""
    data = sub.manifest()
    rows = []
    for trial in data.pop("trials"):
        row: dict[str, Any] = {"id": trial["id"]}
        for name, value in flatten(trial.get("hyperparameters") or {}).items():
            row[f"hyperparameters.{name}"] = value
        for framework, run in trial["runs"].items():
            for name, value in run.items():
                row[f"{framework}.{name}"] = value
        rows.append(row)
    if rows_hook:
        rows_hook(rows)
    columns = sorted({c for r in rows for c in r}, key=lambda c: (c != "id", c))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    data["trials_table"] = {"path": "trials.csv", "format": "csv"}
    sub.write_manifest(data)
    sub.write_file("trials.csv", out.getvalue(), "csv")


def _bad_table_cell(rows: list[dict[str, Any]]) -> None:
    rows[1]["hyperparameters.batch_size"] = "sixty-four"


CASES: dict[str, tuple[str, Mutation]] = {
    # files
    "absolute-path": ("CW200", edit(lambda d: d["artifacts"].append({**d["artifacts"][0], "path": "/etc/passwd"}))),
    "dotdot-path": ("CW200", edit(lambda d: d["artifacts"].append({**d["artifacts"][0], "path": "../x.csv"}))),
    "symlink-out-of-folder": ("CW201", _symlink_out),
    "fifo": ("CW202", _fifo),
    "missing-file": ("CW203", lambda sub: (sub.root / curve_path(sub)).unlink()),
    "undeclared-file": ("CW204", lambda sub: sub.write_file("notes.txt", "hello")),
    "size-mismatch": ("CW205", edit(lambda d: d["artifacts"][0].update(size=d["artifacts"][0]["size"] + 1))),
    "checksum-mismatch": ("CW206", _flip_byte),
    "duplicate-artifact": ("CW209", edit(lambda d: d["artifacts"].append(dict(d["artifacts"][0])))),
    "format-extension": ("CW211", edit(lambda d: next(a for a in d["artifacts"] if a["path"].endswith(".csv"))
                                       .update(format="parquet"))),
    "hard-link": ("CW212", _hard_link),
    "uri-only": ("CW213", edit(lambda d: d["artifacts"].append(
        {"uri": "https://example.org/notes.txt", "format": "text", "size": 1, "sha256": "0" * 64}))),
    "remote-weights": ("CW215", edit(lambda d: d["artifacts"].append(
        {"uri": "https://example.org/w.safetensors", "format": "safetensors", "size": 1, "sha256": "0" * 64}))),
    "newline-name": ("CW214", lambda sub: sub.write_file("bad\nname.csv", "epoch,loss\n", "csv")),
    # semantics
    "run-hyperparameters-differ": ("CW300", edit(lambda d: first_run(d).update(
        hyperparameters={"learning_rate": 0.123}))),
    "outside-search-space": ("CW301", edit(lambda d: first_trial(d).setdefault("hyperparameters", {}).update(
        learning_rate=0.5))),
    "curve-too-long": ("CW302", lambda sub: rewrite_curve(sub, _append_epoch)),
    "percentage-accuracy": ("CW303", edit(lambda d: first_run(d).update(test_accuracy=93.0))),
    "mean-of-batches-accuracy": ("CW304", edit(lambda d: first_run(d).update(test_accuracy=0.95123))),
    "duplicate-trial-id": ("CW305", edit(lambda d: d["trials"][1].update(id=d["trials"][0]["id"]))),
    "private-reference-url": ("CW328", edit(lambda d: d["submission"]["references"].append(
        {"url": "http://192.168.1.20/wiki/study"}))),
    "chance-accuracy": ("CW307", edit(lambda d: first_run(d).update(test_accuracy=36 / 360))),
    "nan-loss": ("CW308", set_loss("nan")),
    "exploding-loss": ("CW309", set_loss("1.3e19")),
    "secret-column": ("CW310", lambda sub: rewrite_curve(sub, _add_secret_column)),
    "secret-in-manifest": ("CW310", edit(lambda d: d["submission"].update(
        description="token ghp_" + "a" * 36))),
    "undeclared-framework": ("CW311", edit(lambda d: first_trial(d)["runs"].update(jax=first_run(d)))),
    "trial-incomplete": ("CW312", edit(lambda d: first_trial(d)["runs"].pop("keras"))),
    "curve-without-loss": ("CW313", lambda sub: rewrite_curve(
        sub, lambda rows: [{"epoch": r["epoch"], "acc": r.get("accuracy", "0")} for r in rows])),
    "bad-table-cell": ("CW314", lambda sub: _to_trials_table(sub, _bad_table_cell)),
    "curve-loss-not-a-number": ("CW314", set_loss("low")),
    "curve-epochs-out-of-order": ("CW314", lambda sub: rewrite_curve(
        sub, lambda rows: [{**r, "epoch": str(len(rows) - i)} for i, r in enumerate(rows)])),
    "no-trials": ("CW316", edit(lambda d: d.update(trials=[]))),
    "unknown-dataset": ("CW317", edit(lambda d: d["dataset"].update(name="imagenet-tiny"))),
    "test-size-mismatch": ("CW318", edit(lambda d: d["dataset"].update(test_size=400))),
    "unknown-license": ("CW319", edit(lambda d: d["submission"].update(license="Proprietary"))),
    "sweep-undeclared": ("CW320", edit(lambda d: d.pop("sweep"))),
    "code-undeclared": ("CW321", edit(lambda d: d.pop("code"))),
    "search-space-typo": ("CW322", edit(lambda d: d["sweep"]["search_space"].update(
        learnig_rate={"values": [0.1]}))),
    "label-count": ("CW323", edit(lambda d: d["dataset"].update(label_names=["a", "b"]))),
    "license-ref-without-text": ("CW324", edit(lambda d: d["submission"].update(license="LicenseRef-mine"))),
    "license-lowercase": ("CW325", edit(lambda d: d["submission"].update(license="cc-by-4.0"))),
    "hyperparameter-missing-after-merge": ("CW329", edit(lambda d: d["hyperparameters"].pop("loss"))),
    "undeclared-reference": ("CW330", edit(lambda d: first_run(d).update(curves="curves/nowhere.csv"))),
}


NO_REEVAL = Options(reeval=False)  # stages 1-4 only: these cases are about files and meaning


def run_case(sub: Submission, mutation: Mutation) -> Report:
    mutation(sub)
    return validate(sub.root, options=NO_REEVAL)


@pytest.mark.parametrize(("expected", "mutation"), CASES.values(), ids=CASES.keys())
def test_case_gives_its_code(submission: Submission, expected: str, mutation: Mutation) -> None:
    report = run_case(submission, mutation)
    codes = {f.code for f in report.findings}
    assert expected in codes, report.findings
    assert "CW001" not in codes, report.findings
    finding = next(f for f in report.findings if f.code == expected)
    assert finding.location.file and finding.hint
    if finding.severity.value == "error":
        assert not report.ok


def test_every_stage_code_has_a_case() -> None:
    from cwcontrib.codes import REGISTRY

    covered = {code for code, _ in CASES.values()} | {"CW207", "CW208", "CW315"}  # limits, below
    covered |= {"CW326"}  # a scan limit: tests/test_secrets.py
    covered |= {"CW327"}  # a declared accuracy measure: tests/test_import_wandb.py
    covered |= {"CW216"}  # a refused download: tests/test_remote_weights.py, against a real HTTPS server
    covered |= {"CW331", "CW332"}  # schema 1.2's epochs_trained and rounded accuracies: tests/test_schema_1_2.py
    assert {c for c, e in REGISTRY.items() if c.startswith(("CW2", "CW3")) and e.active} <= covered


def test_file_over_the_size_limit(submission: Submission) -> None:
    report = validate(submission.root, options=NO_REEVAL, limits=Limits(file_bytes=1000))
    assert "CW207" in {f.code for f in report.findings}


def test_too_many_files(submission: Submission) -> None:
    report = validate(submission.root, options=NO_REEVAL, limits=Limits(files=3))
    assert "CW208" in {f.code for f in report.findings}


def test_table_over_the_row_limit(submission: Submission) -> None:
    _to_trials_table(submission)
    report = validate(submission.root, options=NO_REEVAL, limits=Limits(table_rows=2))
    assert "CW315" in {f.code for f in report.findings}


def test_sweep_as_defaults_plus_trials_table_is_valid(submission: Submission) -> None:
    _to_trials_table(submission)
    report = validate(submission.root, options=NO_REEVAL)
    assert report.ok, report.findings
    assert report.trials == len(submission.manifest().get("trials", [])) or report.trials >= 4
    assert report.runs == 2 * report.trials


def test_table_cell_finding_names_row_and_column(submission: Submission) -> None:
    _to_trials_table(submission, _bad_table_cell)
    finding = next(f for f in validate(submission.root, options=NO_REEVAL).findings if f.code == "CW314")
    assert finding.location.file == "trials.csv"
    assert (finding.location.row, finding.location.line) == (2, 3)
    assert finding.location.column == "hyperparameters.batch_size"


def test_k_over_n_finding_names_the_nearest_k(submission: Submission) -> None:
    report = run_case(submission, CASES["mean-of-batches-accuracy"][1])
    finding = next(f for f in report.findings if f.code == "CW304")
    assert "342/360" in finding.message
    assert finding.location.pointer == "/trials/0/runs/pytorch/test_accuracy"
    assert finding.location.line is not None


def test_symlinked_file_is_never_read(submission: Submission) -> None:
    """The outside target would parse as a curve; the validator must refuse it before reading."""
    report = run_case(submission, _symlink_out)
    codes = [f.code for f in report.findings if f.location.file == curve_path(submission)]
    assert "CW201" in codes
    assert "CW302" not in codes


def test_secret_finding_points_at_the_column(submission: Submission) -> None:
    report = run_case(submission, CASES["secret-column"][1])
    finding = next(f for f in report.findings if f.code == "CW310")
    assert finding.location.column == "wandb_api_key"
