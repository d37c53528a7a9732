"""`cwcontrib index` on the real demo submission: tables, derived columns, verification status, determinism,
atomicity (a build SIGKILLed at every step), incrementality (no file of an unchanged submission is opened), and
the refusal of a submission that does not validate."""

from __future__ import annotations

import builtins
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from cwcontrib import cli
from cwcontrib.catalog.api import read_table
from cwcontrib.catalog.columns import TABLES
from cwcontrib.catalog.index import IndexRefused, build_catalog
from cwcontrib.catalog.verification import VerificationRecord, read_records, write_records
from tests.conftest import DEMO, Submission, make_repo

SUB = "digits-cnn-pair"


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def repo(catalog_repo: Path) -> Path:
    return catalog_repo


def runs(repo: Path) -> pd.DataFrame:
    return read_table(repo / "catalog", "runs")


def pairs(repo: Path) -> pd.DataFrame:
    return read_table(repo / "catalog", "pairs")


def test_one_row_per_run_pair_trial_and_submission(repo: Path) -> None:
    meta = json.loads((repo / "catalog" / "catalog.json").read_text())
    assert {name: t["rows"] for name, t in meta["tables"].items()} == {"submissions": 1, "trials": 5, "runs": 10,
                                                                       "pairs": 5, "retracted": 0,
                                                                       "hyperparameters": 5 * 13}  # 13 set per trial
    for name, spec in TABLES.items():
        table = pq.read_table(repo / "catalog" / spec.file)
        assert table.schema.equals(spec.schema, check_metadata=False), name
    assert list(runs(repo)["run_id"])[:2] == [f"{SUB}/t01/keras", f"{SUB}/t01/pytorch"]
    declared = Submission(repo / "submissions" / SUB).manifest()["schema_version"]
    assert meta["submissions"][SUB]["schema_version"] == declared
    assert meta["tool"]["name"] == "cwcontrib"


def test_derived_pair_columns_come_from_the_two_counts(repo: Path) -> None:
    frame = pairs(repo).set_index("pair_id")
    t01 = frame.loc[f"{SUB}/t01/keras~pytorch"]
    assert (t01["accuracy_a"], t01["accuracy_b"]) == (266 / 360, 234 / 360)  # the demo's largest gap
    assert t01["gap"] == 32 / 360 and t01["abs_gap"] == 32 / 360
    assert (t01["sign"], t01["winner"], t01["diverges"], t01["differs_in"]) == (1, "keras", True, "framework")
    assert not t01["any_at_chance"] and t01["architectures_equivalent"]
    tie = frame.loc[f"{SUB}/t03/keras~pytorch"]
    assert (tie["gap"], tie["sign"], tie["winner"], tie["diverges"]) == (0.0, 0, "tie", False)
    t05 = frame.loc[f"{SUB}/t05/keras~pytorch"]
    assert (t05["sign"], t05["winner"]) == (-1, "pytorch")
    assert not frame["diverges"].drop(f"{SUB}/t01/keras~pytorch").any()  # only t01 reaches 5 points
    run = runs(repo).set_index("run_id").loc[f"{SUB}/t01/pytorch"]
    assert (run["test_correct"], run["test_size"], run["parameters"], run["flops"]) == (234, 360, 8714, 35456)
    assert run["framework"] == "pytorch" and run["accelerator"] == "cpu"


def test_verification_status_comes_from_records(repo: Path) -> None:
    records, ignored = read_records(repo / "verifications")
    assert len(records) == 2 and not ignored
    frame = runs(repo).set_index("run_id")
    evaluated = {f"{SUB}/{r.trial_id}/{r.framework_key}" for r in records}
    for run_id, row in frame.iterrows():
        if run_id in evaluated:
            assert row["status"] == "reevaluated"
            assert row["measured_correct"] == row["test_correct"] and row["reproduced"]
            assert row["verified_by"] == "cwcontrib validate --record" and row["verified_device"] == "cpu"
            assert len(row["verified_harness_sha256"]) == 64 and row["verified_harness"].startswith("cwcontrib.")
        else:
            assert row["status"] in {"sampled-not-yet-evaluated", "self-reported"}
            assert pd.isna(row["measured_correct"])
    submission = read_table(repo / "catalog", "submissions").iloc[0]
    assert submission["runs_with_weights"] == 10 and submission["runs_reevaluated"] == 2
    assert submission["runs_sampled"] == 4 and submission["audit_sampling_rate"] == 0.4  # 2 of 5 trials


def test_building_twice_in_two_folders_gives_the_same_bytes(repo: Path, tmp_path: Path) -> None:
    other = make_repo(tmp_path / "elsewhere")
    shutil.copytree(repo / "verifications", other / "verifications")
    result = build_catalog(other, step=lambda s: None)
    assert result.validated == [SUB]  # really rebuilt from the submission, not from a cache
    assert tree_bytes(other / "catalog") == tree_bytes(repo / "catalog")
    again = build_catalog(other, step=lambda s: None)
    assert not again.changed and tree_bytes(other / "catalog") == tree_bytes(repo / "catalog")


def _opens_under(folder: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    opened: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    def spy_os_open(path: Any, *args: Any, **kwargs: Any) -> int:
        opened.append(str(path))
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(io, "open", spy_open)  # pathlib's read_bytes and friends
    monkeypatch.setattr(os, "open", spy_os_open)
    return opened


def test_an_unchanged_submission_is_not_opened_again(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = _opens_under(repo / "submissions", monkeypatch)
    result = build_catalog(repo, step=lambda s: None)
    monkeypatch.undo()
    assert result.validated == [] and not result.changed
    folder = str(repo / "submissions")
    assert not [p for p in opened if p.startswith(folder)], "a file of an unchanged submission was opened"
    assert str(repo / ".cwcontrib-cache" / "index" / f"{SUB}.json") in opened  # the spy saw the cache read


def test_a_changed_submission_is_validated_again(tmp_path: Path) -> None:
    root = make_repo(tmp_path)
    build_catalog(root, step=lambda s: None)
    sub = Submission(root / "submissions" / SUB)
    sub.edit(lambda m: m["submission"].update(title="A new title"))
    result = build_catalog(root, step=lambda s: None)
    assert result.validated == [SUB]
    assert read_table(root / "catalog", "submissions").iloc[0]["title"] == "A new title"


def test_a_submission_that_fails_validation_is_refused_and_the_catalog_kept(repo: Path, tmp_path: Path) -> None:
    before = tree_bytes(repo / "catalog")
    broken = repo / "submissions" / "broken-study"
    shutil.copytree(DEMO, broken)
    weights = broken / "weights" / "t02-pytorch.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")  # no longer the declared sha256
    try:
        with pytest.raises(IndexRefused) as refused:
            build_catalog(repo, step=lambda s: None)
        assert list(refused.value.refused) == ["broken-study"]
        problems = refused.value.refused["broken-study"]
        assert any(p.startswith("CW206") and "t02-pytorch.safetensors" in p for p in problems)
        code = cli.main(["index", "--repo", str(repo), "--quiet"])
        assert code == 1
    finally:
        shutil.rmtree(broken)
    assert tree_bytes(repo / "catalog") == before


def test_a_submission_whose_id_is_not_its_folder_name_is_refused(tmp_path: Path) -> None:
    root = make_repo(tmp_path)
    os.rename(root / "submissions" / SUB, root / "submissions" / "another-name")
    with pytest.raises(IndexRefused) as refused:
        build_catalog(root, step=lambda s: None)
    assert "differs from its folder name" in refused.value.refused["another-name"][0]
    assert not (root / "catalog").exists()


def _record_like(record: VerificationRecord, **changes: Any) -> VerificationRecord:
    return VerificationRecord.model_validate({**record.model_dump(), **changes})


def test_records_matching_no_run_are_reported_not_fatal(repo: Path, tmp_path: Path) -> None:
    root = make_repo(tmp_path)
    records, _ = read_records(repo / "verifications")
    write_records(root / "verifications", [records[0], _record_like(records[0], weights_sha256="0" * 64),
                                           _record_like(records[0], submission_id="gone-study")])
    (root / "verifications" / SUB / "notes.json").write_text("{not json")
    result = build_catalog(root, step=lambda s: None)
    reasons = {i.file: i.reason for i in result.ignored_records}
    assert reasons[f"{SUB}/{'0' * 64}.{records[0].harness.sha256[:16]}.json"].startswith("its weights sha256")
    assert reasons[f"gone-study/{records[0].file_name}"] == "no submission of that id is in the catalog"
    assert reasons[f"{SUB}/notes.json"].startswith("not a verification record")
    meta = json.loads((root / "catalog" / "catalog.json").read_text())
    assert len(meta["verifications"]["ignored"]) == 3 and meta["verifications"]["records"] == 1


def test_a_run_without_weights_is_results_only(tmp_path: Path) -> None:
    root = make_repo(tmp_path)
    sub = Submission(root / "submissions" / SUB)

    def drop_t05_weights(m: dict[str, Any]) -> None:
        trial = next(t for t in m["trials"] if t["id"] == "t05")
        for run in trial["runs"].values():
            del run["weights"]
        m["artifacts"] = [a for a in m["artifacts"] if not a["path"].startswith("weights/t05-")]

    sub.edit(drop_t05_weights)
    for path in (root / "submissions" / SUB / "weights").glob("t05-*"):
        path.unlink()
    build_catalog(root, step=lambda s: None)
    frame = read_table(root / "catalog", "runs").set_index("run_id")
    assert set(frame.loc[[f"{SUB}/t05/keras", f"{SUB}/t05/pytorch"], "status"]) == {"results-only"}
    assert frame.loc[f"{SUB}/t05/pytorch", "weights_sha256"] is pd.NA
    assert read_table(root / "catalog", "submissions").iloc[0]["runs_with_weights"] == 8


STEPS = ["wrote submissions.parquet", "wrote trials.parquet", "wrote hyperparameters.parquet", "wrote runs.parquet",
         "wrote pairs.parquet", "wrote croissant.json", "wrote catalog.json", "swapping", "swapped"]


@pytest.mark.parametrize("step", STEPS)
def test_a_build_killed_at_any_step_leaves_a_whole_catalog(repo: Path, tmp_path: Path, step: str) -> None:
    root = tmp_path / "repo"
    shutil.copytree(repo, root, symlinks=True, copy_function=shutil.copy2)
    shutil.rmtree(root / ".cwcontrib-cache")
    build_catalog(root, step=lambda s: None)  # warm this copy's cache: the killed builds below are quick
    old = tree_bytes(root / "catalog")
    shutil.rmtree(root / "verifications")  # the next build differs: every run loses its record
    env = dict(os.environ, CWCONTRIB_INDEX_TRACE="1")
    proc = subprocess.Popen([sys.executable, "-m", "cwcontrib.cli", "index", "--repo", str(root), "--quiet"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.strip() == f"cwcontrib-index: {step}":
            proc.send_signal(signal.SIGKILL)
            break
    rest = proc.stderr.read()
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"the build ended before {step!r}: {rest[-2000:]}"
    catalog = root / "catalog"
    if step == "swapped":
        assert tree_bytes(catalog) != old  # the swap happened: the new catalog is whole
        assert json.loads((catalog / "catalog.json").read_text())["verifications"]["records"] == 0
    else:
        assert tree_bytes(catalog) == old
    for name in TABLES:
        read_table(catalog, name)  # readable
    build_catalog(root, step=lambda s: None)  # the next build cleans up and completes
    assert not list(root.glob(".catalog.*"))
    assert json.loads((catalog / "catalog.json").read_text())["verifications"]["records"] == 0


def test_index_command_reports_what_it_did(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["index", "--repo", str(repo), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "unchanged; 1 submission(s) (0 validated, 1 unchanged, from the cache); digest " in out
    digest = json.loads((repo / "catalog" / "catalog.json").read_text())["digest"]
    assert out.strip().endswith(digest)


def test_catalog_top_show_and_diff(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    assert cli.main(["catalog", "top", "-n", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"0.0889  {SUB}/t01/keras~pytorch  digits-cnn  winner keras")
    assert "learning_rate=0.0001" in lines[1] and len(lines) == 4
    assert cli.main(["catalog", "top", "--arch", "vgg16"]) == 0
    assert capsys.readouterr().out == "no pairs of architecture 'vgg16'\n"
    assert cli.main(["catalog", "show", f"{SUB}/t01/pytorch"]) == 0
    shown = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert shown["test_correct"] == "234" and shown["weights_format"] == "safetensors"
    assert cli.main(["catalog", "show", f"{SUB}/t09/pytorch"]) == 2
    old = tmp_path / "old"
    shutil.copytree(repo / "catalog", old)
    root = make_repo(tmp_path / "new")
    build_catalog(root, step=lambda s: None)  # the same submission without its records
    capsys.readouterr()
    assert cli.main(["catalog", "diff", str(old), str(root / "catalog"), "--json"]) == 0
    changes = json.loads(capsys.readouterr().out)
    assert len(changes["status changed"]) == 2
    assert all(c.endswith("reevaluated -> sampled-not-yet-evaluated") or c.endswith("reevaluated -> self-reported")
               for c in changes["status changed"])
    assert not changes["submission changed"] and not changes["gap changed"]


def test_a_1_1_study_of_one_framework_on_two_hardware_setups_indexes(tmp_path: Path) -> None:
    from tests.test_schema_versions import A100, V100, two_pytorch_setups

    root = make_repo(tmp_path)
    Submission(root / "submissions" / SUB).edit(two_pytorch_setups)
    build_catalog(root, step=lambda s: None)
    frame = runs(root).set_index("run_id")
    assert frame.loc[f"{SUB}/t01/pytorch-a100", "accelerator"] == A100["accelerator"]
    assert frame.loc[f"{SUB}/t01/pytorch-v100", "accelerator_count"] == V100["accelerator_count"]
    assert frame.loc[f"{SUB}/t01/pytorch-v100", "driver"] == V100["driver"]
    assert frame.loc[f"{SUB}/t01/keras", "accelerator"] == "cpu"  # the submission's default
    differs = pairs(root).set_index("pair_id")["differs_in"]
    assert differs[f"{SUB}/t01/pytorch-a100~pytorch-v100"] == "hardware"
    assert differs[f"{SUB}/t01/keras~pytorch-a100"] == "both"
    assert len(differs) == 15  # three runs per trial, three pairs each
    meta = json.loads((root / "catalog" / "catalog.json").read_text())
    assert meta["schema_versions"] == ["1.1"]
