"""`cwcontrib audit` of runs that ship ONNX graphs (issue 15), on a local Ray instance: the digits-mlp study of
tests/test_onnx_validate.py indexed into a catalog, every run re-evaluated by the ONNX Runtime harness on the CPU as
one Ray task each; the records are the ones `validate --record` makes, a second audit finds them, a tampered claim
is reported and a changed graph is not evaluated."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

from cwcontrib import cli
from cwcontrib.catalog.audit import run_audit, select_jobs
from cwcontrib.catalog.index import build_catalog
from cwcontrib.onnx.harness import onnx_harness_identity
from tests.test_audit import EPOCH, tamper_claim, tree_bytes, without
from tests.test_onnx_validate import study  # noqa: F401  (the digits-mlp study of ONNX graphs)

MLP = "digits-mlp"


def onnx_repo(root: Path, graphs: Path) -> Path:
    """A repository holding the study and its catalog (no records: every run self-reported or sampled)."""
    shutil.copytree(graphs, root / "submissions" / MLP)
    build_catalog(root, step=lambda s: None)
    return root


@pytest.fixture(scope="module")
def audited(local_ray: Any, study: Path,  # noqa: F811
            tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes], Any, dict[str, bytes]]:
    """The repository, the audit's records, its summary, and the records `validate --record` made of the study."""
    root = onnx_repo(tmp_path_factory.mktemp("audit-onnx"), study)
    pipeline = root / "pipeline"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", EPOCH)
        summary = run_audit(root, root / "fresh")
        code = cli.main(["validate", str(root / "submissions" / MLP), "--quiet", "--all", "--seed", "0123abcd",
                         "--record", str(pipeline), "--format", "json", "--output", str(root / "report.json")])
    assert code == 0
    return root, tree_bytes(root / "fresh"), summary, tree_bytes(pipeline)


def test_the_audit_reevaluates_every_graph_in_onnx_runtime(audited: tuple[Path, dict[str, bytes], Any,
                                                                              dict[str, bytes]]) -> None:
    root, records, summary, pipeline = audited
    jobs, skipped = select_jobs(root)
    assert [j.weights_format for j in jobs] == ["onnx"] * 5 and not skipped
    assert (summary.selected, summary.evaluated, summary.already_recorded) == (5, 5, 0)
    assert summary.ok and not summary.not_evaluated, summary.not_evaluated
    identity = onnx_harness_identity("cpu")
    assert summary.onnx_harness_sha256 == identity["sha256"] != summary.harness_sha256
    assert sorted(records) == sorted(summary.records) == sorted(pipeline)
    assert all(name.endswith(f".{identity['sha256'][:16]}.json") for name in records)
    for name, raw in records.items():  # measured, predictions digest, harness: as stage 5 made them
        assert without(raw) == without(pipeline[name]), name
        record = json.loads(raw)
        assert record["produced_by"] == "cwcontrib audit" and record["date"] == "2025-12-02"
        assert record["harness"] == identity and record["device"] == "cpu" and record["reproduced"]


def test_a_second_audit_finds_the_onnx_records(audited: tuple[Path, dict[str, bytes], Any, dict[str, bytes]],
                                               tmp_path: Path) -> None:
    root, records, _, _ = audited
    out = tmp_path / "records"
    for name, raw in records.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(raw)
    summary = run_audit(root, out)
    assert (summary.evaluated, summary.already_recorded) == (0, 5) and summary.ok
    assert tree_bytes(out) == records


def test_a_tampered_claim_of_an_onnx_run_is_reported(audited: tuple[Path, dict[str, bytes], Any, dict[str, bytes]],
                                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, records, _, _ = audited
    repo = tmp_path / "repo"
    shutil.copytree(root / "submissions", repo / "submissions")
    shutil.copytree(root / "catalog", repo / "catalog")
    tampered = f"{MLP}/t02/pytorch"
    claim = tamper_claim(repo, tampered, -40)  # a claim 40 examples below what the graph gets
    out = tmp_path / "records"
    for name, raw in records.items():
        if json.loads(raw)["trial_id"] != "t02":  # that one is evaluated now
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_bytes(raw)
    code = cli.main(["audit", "--catalog-root", str(repo), "--out", str(out), "--json", "--quiet"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (summary["evaluated"], summary["already_recorded"]) == (1, 4)
    [disagreement] = summary["disagreements"]
    assert (disagreement["run_id"], disagreement["claimed"]) == (tampered, f"{claim}/360")
    record = json.loads((out / summary["records"][0]).read_bytes())
    assert (record["claimed_correct"], record["reproduced"], record["measured_correct"]) == (claim, False, claim + 40)
    assert record["harness"]["evidence"] == "onnxruntime"

    code = cli.main(["audit", "--catalog-root", str(repo), "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert code == 1
    assert f"1 run(s) disagree with the catalog:\n  {tampered}: claimed {claim}/360, measured {claim + 40}/360" in text
    assert f"ONNX graphs: {onnx_harness_identity('cpu')['sha256'][:16]}" in text


def test_a_changed_graph_is_not_evaluated(audited: tuple[Path, dict[str, bytes], Any, dict[str, bytes]],
                                          tmp_path: Path) -> None:
    root, _, _, _ = audited
    repo = tmp_path / "repo"
    shutil.copytree(root / "submissions", repo / "submissions")
    shutil.copytree(root / "catalog", repo / "catalog")
    graph = repo / "submissions" / MLP / "weights" / "t03-pytorch.onnx"
    graph.write_bytes(graph.read_bytes() + b"\0")
    summary = run_audit(repo, tmp_path / "records", submissions=[MLP])
    assert [(n["run_id"], n["reason"]) for n in summary.not_evaluated] == [(f"{MLP}/t03/pytorch", "weights-changed")]
    assert summary.evaluated == 4 and not summary.ok
