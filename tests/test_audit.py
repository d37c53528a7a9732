"""`cwcontrib audit` on a local Ray instance with the demo: the records are the ones `validate --record` made,
filters, resume after a real SIGKILL of the audit process, and a run that disagrees with the catalog."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cwcontrib import cli
from cwcontrib.catalog.audit import AuditError, run_audit, select_jobs
from cwcontrib.catalog.columns import TABLES
from tests.conftest import DEMO, REPO

SUB = DEMO.name
EPOCH = "1764633600"  # 2025-12-02: records made under it are byte-comparable
IGNORED = ("date", "produced_by")


def audit_repo(root: Path) -> Path:
    """The committed catalog and the demo submission: no `cwcontrib index` needed (the original release's runs
    have no weights, so their folders are not read)."""
    shutil.copytree(REPO / "catalog", root / "catalog")
    shutil.copytree(DEMO, root / "submissions" / SUB)
    return root


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def without(raw: bytes, keys: tuple[str, ...] = IGNORED) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(raw)
    return {k: v for k, v in data.items() if k not in keys}


@pytest.fixture(scope="module")
def full(local_ray: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes], Any]:
    """A fresh full audit of the demo: the repository, its records' bytes, and the summary."""
    root = audit_repo(tmp_path_factory.mktemp("audit"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", EPOCH)
        summary = run_audit(root, root / "fresh")
    return root, tree_bytes(root / "fresh"), summary


def test_audit_of_the_demo_makes_the_records_validate_record_made(full: tuple[Path, dict[str, bytes], Any]) -> None:
    _, records, summary = full
    assert (summary.selected, summary.evaluated, summary.already_recorded) == (10, 10, 0)
    assert summary.ok and not summary.disagreements and not summary.not_evaluated
    committed = tree_bytes(REPO / "verifications")
    assert sorted(records) == sorted(committed) == sorted(summary.records)
    for name, raw in records.items():  # measured, predictions digest, key: all as the pipeline's stage 5 made them
        assert without(raw) == without(committed[name]), name
        assert json.loads(raw)["produced_by"] == "cwcontrib audit"
        assert json.loads(raw)["date"] == "2025-12-02"


def test_filters_select_runs_from_the_catalog(tmp_path: Path) -> None:
    root = audit_repo(tmp_path)
    everything, remote = select_jobs(root)
    assert len(everything) == 10 and not remote  # the 2,400 results-only runs have no weights to audit
    assert {j.run_id for j in select_jobs(root, [SUB])[0]} == {j.run_id for j in everything}
    assert select_jobs(root, arch="vgg16")[0] == []
    assert len(select_jobs(root, arch="digits-cnn")[0]) == 10
    assert len(select_jobs(root, status="reevaluated")[0]) == 10
    assert select_jobs(root, status="self-reported")[0] == []
    with pytest.raises(AuditError, match="no submission 'nope'"):
        select_jobs(root, ["nope"])
    with pytest.raises(AuditError, match=r"no catalog\.json"):
        select_jobs(tmp_path / "elsewhere")


def test_filtered_audit_starts_no_task_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = audit_repo(tmp_path)
    code = cli.main(["audit", "--catalog-root", str(root), "--arch", "vgg16", "--json", "--quiet"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["selected"], summary["evaluated"], summary["records"]) == (0, 0, [])
    assert not (root / "verifications").exists()
    assert cli.main(["audit", "--catalog-root", str(root), "--submission", "nope"]) == 2


def test_an_audit_killed_mid_way_continues_where_it_stopped(full: tuple[Path, dict[str, bytes], Any],
                                                            tmp_path: Path) -> None:
    root, fresh, _ = full
    out = tmp_path / "records"
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    command = [sys.executable, "-m", "cwcontrib", "audit", "--catalog-root", str(root), "--out", str(out),
               "--num-cpus", "1", "--quiet"]
    # Its own session: the local Ray instance it starts is in its process group, which is cleaned up after.
    log = tmp_path / "audit.log"  # a file, not a pipe: a full pipe would stop the audit before its first record
    with log.open("wb") as sink:
        audit = subprocess.Popen(command, env=env, cwd=tmp_path, start_new_session=True,
                                 stdout=subprocess.DEVNULL, stderr=sink)
    try:
        while not list(out.rglob("*.json")) and audit.poll() is None:
            time.sleep(0.02)
        audit.send_signal(signal.SIGKILL)
        audit.wait()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(audit.pid, signal.SIGKILL)
    stderr = log.read_text(errors="replace")
    assert audit.returncode == -signal.SIGKILL, stderr
    survived = tree_bytes(out)
    assert 1 <= len(survived) < 10, stderr  # killed after its first record, before its last
    assert not [p for p in out.rglob("*") if p.is_file() and not p.name.endswith(".json")]  # no half-written file
    for name, raw in survived.items():
        assert raw == fresh[name]

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", EPOCH)
        resumed = run_audit(root, out)
    assert resumed.already_recorded == len(survived)
    assert resumed.evaluated == 10 - len(survived)
    assert sorted(resumed.records) == sorted(set(fresh) - set(survived))  # only the missing ones
    assert tree_bytes(out) == fresh  # identical to a fresh full audit


def test_an_audit_with_every_record_evaluates_nothing(full: tuple[Path, dict[str, bytes], Any],
                                                     tmp_path: Path) -> None:
    root, _, _ = full
    shutil.copytree(root / "fresh", tmp_path / "records")
    again = run_audit(root, tmp_path / "records")
    assert (again.evaluated, again.already_recorded, again.records) == (0, 10, [])


def records_except(fresh: dict[str, bytes], out: Path, trial: str, key: str) -> Path:
    """A records folder holding every record of the fresh audit but one run's."""
    for name, raw in fresh.items():
        if (json.loads(raw)["trial_id"], json.loads(raw)["framework_key"]) != (trial, key):
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_bytes(raw)
    return out


def tamper_claim(root: Path, run_id: str, extra: int) -> int:
    """Raise one run's claimed k in the catalog copy (as a wrong catalog would); returns the new claim."""
    spec = TABLES["runs"]
    table = pq.read_table(root / "catalog" / spec.file)  # its own schema: the committed catalog's columns
    rows = table.to_pylist()
    row = next(r for r in rows if r["run_id"] == run_id)
    row["test_correct"] += extra
    row["test_accuracy"] = row["test_correct"] / row["test_size"]
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), root / "catalog" / spec.file)
    return int(row["test_correct"])


def test_a_run_that_disagrees_with_the_catalog_is_reported(full: tuple[Path, dict[str, bytes], Any], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    _, fresh, _ = full
    root = audit_repo(tmp_path / "repo")
    tampered = f"{SUB}/t03/pytorch"
    claim = tamper_claim(root, tampered, 40)
    out = records_except(fresh, tmp_path / "records", "t03", "pytorch")  # that one is evaluated now
    code = cli.main(["audit", "--catalog-root", str(root), "--out", str(out), "--json", "--quiet"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (summary["evaluated"], summary["already_recorded"]) == (1, 9)
    [disagreement] = summary["disagreements"]
    assert disagreement["run_id"] == tampered
    assert disagreement["claimed"] == f"{claim}/360"
    record = json.loads((out / summary["records"][0]).read_bytes())
    assert (record["claimed_correct"], record["reproduced"]) == (claim, False)
    assert record["measured_correct"] == claim - 40

    # Reported from an existing record too: the catalog changed after the record was made.
    code = cli.main(["audit", "--catalog-root", str(root), "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert code == 1
    assert f"1 run(s) disagree with the catalog:\n  {tampered}: claimed {claim}/360, measured {claim - 40}/360" in text


def test_weights_that_are_not_the_catalogs_are_not_evaluated(full: tuple[Path, dict[str, bytes], Any],
                                                             tmp_path: Path) -> None:
    _, fresh, _ = full
    root = audit_repo(tmp_path / "repo")
    weights = root / "submissions" / SUB / "weights" / "t01-keras.weights.h5"
    weights.write_bytes(weights.read_bytes() + b"\0")
    out = records_except(fresh, tmp_path / "records", "t01", "keras")
    summary = run_audit(root, out, status="reevaluated")
    assert [(n["run_id"], n["reason"]) for n in summary.not_evaluated] == [(f"{SUB}/t01/keras", "weights-changed")]
    assert not summary.ok and (summary.evaluated, summary.already_recorded) == (0, 9)
    assert sorted(tree_bytes(out)) == sorted(set(fresh) - {n for n, raw in fresh.items()
                                                           if without(raw)["trial_id"] == "t01"
                                                           and without(raw)["framework_key"] == "keras"})
