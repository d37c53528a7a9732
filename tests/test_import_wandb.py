"""`cwcontrib import wandb`: the original release's W&B exports as results-only submissions.

The three real exports (../shared/data/crossedwires-2021, or $CWCONTRIB_CROSSEDWIRES_DATA) carry a fake API key in
every row, which must never be copied; messy exports are written here by hand."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cwcontrib import cli
from cwcontrib.checks import Options
from cwcontrib.importers.wandb import import_export, write_submission
from cwcontrib.validate import validate
from tests.conftest import REPO, Submission

DATA = Path(os.environ.get("CWCONTRIB_CROSSEDWIRES_DATA", REPO.parent / "shared" / "data" / "crossedwires-2021"))
EXPORTS = {"vgg16": "vgg_cifar10_wandb_export.csv", "resnet50": "resnet_cifar10_wandb_export.csv",
           "densenet121": "densenet_cifar10_wandb_export.csv"}
NO_REEVAL = Options(reeval=False)
# The fake key of the exports, built from pieces so that this file does not contain it.
FAKE_KEY = "0f1e2d3c4b5a6978" + "8796a5b4c3d2e1f0" + "0f1e2d3c"
# Folders that are not the repository's content: environments, caches, git's own store.
NOT_CONTENT = {".git", ".venv", ".venv-latest", ".tools", ".mypy_cache", ".ruff_cache", ".pytest_cache",
               ".cwcontrib-cache", "__pycache__", ".hypothesis", "node_modules"}

needs_exports = pytest.mark.skipif(not (DATA / EXPORTS["vgg16"]).is_file(), reason=f"no exports in {DATA}")


def export_frame(architecture: str) -> pd.DataFrame:
    return pd.read_csv(DATA / EXPORTS[architecture], dtype=str, keep_default_na=False)


def repository_files(root: Path) -> list[Path]:
    files = []
    for base, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in NOT_CONTENT)
        files += [Path(base) / n for n in sorted(names)]
    return files


def test_the_fake_key_is_nowhere_in_the_repository() -> None:
    assert len(FAKE_KEY) == 40
    holders = [str(p.relative_to(REPO)) for p in repository_files(REPO)
               if FAKE_KEY.encode() in p.read_bytes() or FAKE_KEY.upper().encode() in p.read_bytes()]
    assert holders == []


@needs_exports
@pytest.mark.parametrize("architecture", sorted(EXPORTS))
def test_every_row_is_a_trial_or_reported_with_its_reason(architecture: str) -> None:
    frame = export_frame(architecture)
    imported = import_export((DATA / EXPORTS[architecture]).read_bytes(), EXPORTS[architecture])
    trial_ids = [t["id"] for t in imported.trials]
    excluded = [row["name"] for row in imported.report["excluded_rows"]]
    assert all(row["reason"] for row in imported.report["excluded_rows"])
    assert sorted(trial_ids + excluded) == sorted(frame["Name"])
    assert imported.report["source"]["rows"] == len(frame) == 400
    # The real exports are complete: every row is a trial, the accuracies and hyperparameters exactly as exported.
    assert excluded == []
    by_name = frame.set_index("Name")
    for trial in imported.trials:
        row = by_name.loc[trial["id"]]
        assert float(trial["pytorch.test_accuracy"]) == float(row["pt_test_acc"])
        assert float(trial["tensorflow.test_accuracy"]) == float(row["tf_test_acc"])
        assert float(trial["hyperparameters.optimizer.epsilon"]) == float(row["adam_epsilon"])
        assert int(trial["hyperparameters.batch_size"]) == float(row["batch_size"])


@needs_exports
@pytest.mark.parametrize("architecture", sorted(EXPORTS))
def test_every_other_column_is_dropped_and_listed(architecture: str) -> None:
    frame = export_frame(architecture)
    report = import_export((DATA / EXPORTS[architecture]).read_bytes(), EXPORTS[architecture]).report
    assert set(report["columns_imported"]) | set(report["columns_dropped"]) == set(frame.columns)
    assert not set(report["columns_imported"]) & set(report["columns_dropped"])
    assert set(report["columns_imported"]) == {"Name", "learning_rate", "batch_size", "epochs", "adam_epsilon",
                                               "pt_test_acc", "tf_test_acc"}
    assert report["credentials_dropped"] == ["wandb.api_key"]
    assert report["columns_dropped"]["wandb.api_key"].startswith("credential")


@needs_exports
def test_the_unfinished_run_and_the_oddities_are_reported() -> None:
    report = import_export((DATA / EXPORTS["resnet50"]).read_bytes(), EXPORTS["resnet50"]).report
    running = export_frame("resnet50").query("State == 'running'")["Name"].tolist()
    assert len(running) == 1
    assert [o["trial"] for o in report["oddities"] if "state is 'running'" in o["what"]] == running
    vgg = import_export((DATA / EXPORTS["vgg16"]).read_bytes(), EXPORTS["vgg16"]).report
    assert any("explodes" in o["what"] for o in vgg["oddities"])
    assert sorted({o["trial"] for o in vgg["oddities"] if "is empty (no training curve logged)" in o["what"]}) == [
        "dual_train_d24e215e", "dual_train_d24f6410"]


def _write_csv(rows: list[list[str]], quoting: int = csv.QUOTE_MINIMAL) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, quoting=quoting, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def test_a_messy_export_keeps_what_it_can_and_says_why_for_the_rest() -> None:
    key = "ab" * 20
    header = ["tf_test_acc", "Name", "State", "epochs", "pt_test_acc", "learning_rate", "adam_epsilon",
              "batch_size", "wandb.api_key", "my_token", "favourite_colour"]
    raw = _write_csv([
        header,
        ["0.100000001", "run_a", "finished", "3", "0.52", "0.01", "1e-07", "64.0", key, "", "blue"],
        ["0.5", "run_b", "crashed", "3", "", "0.01", "1e-07", "64", key, "", "red"],
        ["0.5", "run_a", "finished", "3", "0.5", "0.01", "1e-07", "64", key, "", "red"],
        ["0.5", "run_c", "finished", "2.5", "0.5", "0.01", "1e-07", "64", key, "ghp_" + "x" * 36, "red"],
        ["0.5", "run_d", "failed", "3", "nan", "0.01", "1e-07", "64", "", "", "red"],
        ["0.5", "run_e", "running", "3", "0.4", "0.01", "1e-07", "64", key, "", "red"],
    ], quoting=csv.QUOTE_ALL)
    imported = import_export(raw, "messy.csv")
    assert [t["id"] for t in imported.trials] == ["run_a", "run_e"]
    assert imported.trials[0]["hyperparameters.batch_size"] == "64"
    assert imported.trials[0]["tensorflow.test_accuracy"] == "0.100000001"
    reasons = {row["line"]: row["reason"] for row in imported.report["excluded_rows"]}
    assert reasons == {3: "pt_test_acc is '', not a finite number", 4: "run name 'run_a' repeats an earlier row",
                       5: "epochs is '2.5', not a whole number", 6: "pt_test_acc is 'nan', not a finite number"}
    dropped = imported.report["columns_dropped"]
    assert imported.report["credentials_dropped"] == ["my_token", "wandb.api_key"]
    assert dropped["favourite_colour"] == "not a hyperparameter or result this importer knows"
    assert [o["what"] for o in imported.report["oddities"]] == [
        "W&B state is 'running', not 'finished' (its results were logged)"]
    text = json.dumps(imported.report)
    assert key not in text and "ghp_" not in text


def test_an_export_without_the_needed_columns_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "export.csv"
    export.write_bytes(_write_csv([["Name", "pt_test_acc"], ["run_a", "0.5"]]))
    code = cli.main(["import", "wandb", str(export), "--architecture", "vgg16", "--out", str(tmp_path / "sub")])
    assert code == 1
    assert "no learning_rate, batch_size, epochs, adam_epsilon, tf_test_acc column" in capsys.readouterr().err
    assert not (tmp_path / "sub").exists()


@needs_exports
@pytest.mark.parametrize("architecture", sorted(EXPORTS))
def test_the_committed_imports_are_what_the_importer_writes(architecture: str, tmp_path: Path) -> None:
    name = f"crossedwires-2021-{architecture}"
    out = tmp_path / name
    assert cli.main(["import", "wandb", str(DATA / EXPORTS[architecture]), "--architecture", architecture,
                     "--out", str(out)]) == 0
    committed = REPO / "submissions" / name
    assert sorted(p.name for p in committed.iterdir()) == sorted(p.name for p in out.iterdir())
    for path in out.iterdir():
        assert path.read_bytes() == (committed / path.name).read_bytes(), path.name


def _codes(report: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in report.findings:
        counts[f.code] = counts.get(f.code, 0) + 1
    return counts


@pytest.mark.parametrize("architecture", sorted(EXPORTS))
def test_the_committed_imports_validate_with_their_oddities_as_warnings(architecture: str) -> None:
    report = validate(REPO / "submissions" / f"crossedwires-2021-{architecture}", options=NO_REEVAL)
    codes = _codes(report)
    assert report.ok, [f"{f.code} {f.message}" for f in report.errors]
    assert codes["CW327"] == 1  # the PyTorch means of per-batch accuracies: one warning, with the count
    assert codes["CW503"] == 1  # results only
    assert codes.get("CW307", 0) > 0  # chance-level runs
    assert "CW304" not in codes and "CW411" not in codes
    message = next(f.message for f in report.findings if f.code == "CW327")
    assert message.endswith("of 400 'pytorch' runs have accuracies that are not k/10000 (declared accuracy_measure: "
                            "mean-of-batch-accuracies)")


def _declare_batch_means(data: dict[str, Any]) -> None:
    data["schema_version"] = "1.1"
    data["frameworks"]["pytorch"]["accuracy_measure"] = "mean-of-batch-accuracies"
    for trial in data["trials"]:
        trial["runs"]["pytorch"]["test_accuracy"] += 1e-4  # 0.65 -> 0.6501: not k/360


def test_declared_batch_means_are_one_warning_with_the_count(submission: Submission) -> None:
    submission.edit(_declare_batch_means)
    report = validate(submission.root, options=NO_REEVAL)
    assert report.ok
    assert [f.message for f in report.findings if f.code == "CW327"] == [
        "5 of 5 'pytorch' runs have accuracies that are not k/360 (declared accuracy_measure: "
        "mean-of-batch-accuracies)"]
    assert "CW304" not in _codes(report)


def test_undeclared_batch_means_are_an_error_per_run(submission: Submission) -> None:
    def undeclared(data: dict[str, Any]) -> None:
        _declare_batch_means(data)
        del data["frameworks"]["pytorch"]["accuracy_measure"]

    submission.edit(undeclared)
    report = validate(submission.root, options=NO_REEVAL)
    assert _codes(report).get("CW304") == 5 and "CW327" not in _codes(report)


def test_a_1_0_manifest_cannot_declare_an_accuracy_measure(submission: Submission) -> None:
    from tests.test_schema_versions import as_1_0

    submission.edit(as_1_0)
    submission.edit(lambda d: d["frameworks"]["pytorch"].update(accuracy_measure="mean-of-batch-accuracies"))
    report = validate(submission.root, options=NO_REEVAL)
    assert "CW110" in _codes(report)


def test_an_imported_submission_is_self_contained(tmp_path: Path) -> None:
    """The importer writes only the three files its manifest declares (and the manifest)."""
    export = tmp_path / "export.csv"
    export.write_bytes(_write_csv([["Name", "pt_test_acc", "tf_test_acc", "learning_rate", "batch_size", "epochs",
                                    "adam_epsilon", "State"], ["run_a", "0.5", "0.5", "0.01", "10", "1", "0.1",
                                                               "finished"]]))
    out = tmp_path / "sub"
    write_submission(export, "densenet121", out)
    assert sorted(p.name for p in out.iterdir()) == ["import-report.json", "submission.yaml", "trials.csv"]
