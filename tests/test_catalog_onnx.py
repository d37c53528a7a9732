"""The catalog keeps ONNX Runtime evidence apart from framework re-evaluation (issue 15): a repository with the demo
(its committed records, made by the framework harnesses) and the digits-mlp study of ONNX graphs (records made by
the real `validate --record`, i.e. the ONNX Runtime harness), one run's claim off by 40 examples and one run
without a record. The runs table, `load_catalog()`'s frame, the submissions' counts, catalog.json, croissant.json,
the datasheet and the website each tell the three levels apart."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

from cwcontrib import cli
from cwcontrib.catalog.api import read_table
from cwcontrib.catalog.index import build_catalog
from cwcontrib.catalog.verification import VerificationRecord, read_records
from tests.conftest import DEMO, REPO
from tests.test_onnx_validate import run_cli, study  # noqa: F401  (the digits-mlp study of ONNX graphs)

MLP = "digits-mlp"
EPOCH = "1764633600"
OFF = "t04"  # its claim is 40 examples above what its graph gets: re-evaluated, not reproduced
UNRECORDED = "t05"  # its record is removed: not re-evaluated


def lower_claim(folder: Path, trial_id: str, examples: int) -> None:
    data = yaml.safe_load((folder / "submission.yaml").read_text())
    run = next(t for t in data["trials"] if t["id"] == trial_id)["runs"]["pytorch"]
    n = 360
    run["test_accuracy"] = (round(run["test_accuracy"] * n) + examples) / n
    (folder / "submission.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    result = run_cli("checksum", str(folder))
    assert result.returncode == 0, result.stdout + result.stderr


def mixed_repo(root: Path, graphs: Path) -> Path:
    """The demo and its committed framework records; the ONNX study and the records `validate --record` makes."""
    shutil.copytree(DEMO, root / "submissions" / DEMO.name)
    shutil.copytree(REPO / "verifications", root / "verifications")
    shutil.copytree(graphs, root / "submissions" / MLP)
    lower_claim(root / "submissions" / MLP, OFF, 40)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", EPOCH)
        code = cli.main(["validate", str(root / "submissions" / MLP), "--quiet", "--all", "--seed", "0123abcd",
                         "--record", str(root / "verifications"), "--format", "json",
                         "--output", str(root / "report.json")])
    assert code == 1  # t04's claim is not reproduced (CW501)
    [unrecorded] = [r for r in read_records(root / "verifications")[0]
                    if r.submission_id == MLP and r.trial_id == UNRECORDED]
    (root / "verifications" / MLP / unrecorded.file_name).unlink()
    build_catalog(root, step=lambda s: None)
    return root


@pytest.fixture(scope="module")
def repo(study: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    return mixed_repo(tmp_path_factory.mktemp("mixed"), study)


def test_onnx_records_name_their_harness_and_evidence(repo: Path) -> None:
    records = [r for r in read_records(repo / "verifications")[0] if r.submission_id == MLP]
    assert sorted(r.trial_id for r in records) == ["t01", "t02", "t03", "t04"]
    for record in records:
        assert record.harness.name == "cwcontrib.onnx.harness/onnxruntime"
        assert (record.harness.evidence, record.harness.provider) == ("onnxruntime", "CPUExecutionProvider")
        assert record.harness.level == "onnxruntime" and record.device == "cpu"
        raw = json.loads((repo / "verifications" / MLP / record.file_name).read_bytes())
        assert raw["harness"]["evidence"] == "onnxruntime" and raw["harness"]["onnxruntime"]
    assert [r.reproduced for r in sorted(records, key=lambda r: r.trial_id)] == [True, True, True, False]


def test_framework_records_keep_their_bytes() -> None:
    """A framework harness's record has no evidence key (implied `framework`) and reads back to the same bytes."""
    for path in sorted((REPO / "verifications").rglob("*.json")):
        record = VerificationRecord.model_validate_json(path.read_bytes())
        assert record.harness.evidence is None and record.harness.level == "framework"
        assert record.to_json() == path.read_bytes(), path


def test_the_runs_table_says_which_evidence_each_run_has(repo: Path) -> None:
    runs = read_table(repo / "catalog", "runs").set_index("run_id")
    assert runs["evidence"].dtype == pd.StringDtype()
    demo = runs[runs["submission_id"] == DEMO.name]
    assert len(demo) == 10 and set(demo["evidence"]) == {"framework"}
    mlp = runs[runs["submission_id"] == MLP]
    assert mlp["evidence"].isna().to_dict() == {f"{MLP}/t0{i}/pytorch": i == 5 for i in range(1, 6)}
    assert set(mlp["evidence"].dropna()) == {"onnxruntime"}
    unrecorded = runs.loc[f"{MLP}/{UNRECORDED}/pytorch"]
    assert pd.isna(unrecorded["evidence"]) and unrecorded["status"] != "reevaluated"
    off = runs.loc[f"{MLP}/{OFF}/pytorch"]
    assert (off["status"], off["evidence"], bool(off["reproduced"])) == ("reevaluated", "onnxruntime", False)
    assert set(mlp["verified_harness"].dropna()) == {"cwcontrib.onnx.harness/onnxruntime 1"}
    # What a user of load_catalog() groups by: reproduced in its own framework, only in ONNX Runtime, or not.
    levels = runs.assign(evidence=runs["evidence"].fillna("none"), reproduced=runs["reproduced"].astype("string"))
    counts = levels.groupby(["evidence", "reproduced"], dropna=False).size().to_dict()
    assert {(e, str(r)): n for (e, r), n in counts.items()} == {
        ("framework", "True"): 10, ("onnxruntime", "True"): 3, ("onnxruntime", "False"): 1, ("none", "<NA>"): 1}

EXPECTED = {DEMO.name: (10, 0, 0, 0), MLP: (0, 3, 1, 1)}
COUNTS = ("runs_reproduced_in_framework", "runs_reproduced_in_onnxruntime", "runs_not_reproduced",
          "runs_not_reevaluated")


def test_submissions_and_catalog_json_count_each_level(repo: Path) -> None:
    submissions = {r["submission_id"]: r for r in read_table(repo / "catalog", "submissions").to_dict("records")}
    for sid, expected in EXPECTED.items():
        row = submissions[sid]
        assert tuple(int(row[c]) for c in COUNTS) == expected, sid
        assert sum(expected) == int(row["runs"])
    meta = json.loads((repo / "catalog" / "catalog.json").read_text())
    assert meta["catalog_format"] == "2"
    assert {c: meta["audit"][c] for c in COUNTS} == dict(zip(COUNTS, (10, 3, 1, 1), strict=True))
    croissant = json.loads((repo / "catalog" / "croissant.json").read_text())
    fields = {f["@id"] for rs in croissant["recordSet"] for f in rs["field"]}
    assert {"runs/evidence", "submissions/runs_reproduced_in_onnxruntime",
            "submissions/runs_not_reevaluated"} <= fields


def test_the_datasheet_counts_each_level(repo: Path) -> None:
    text = (repo / "catalog" / "DATASHEET.md").read_text()
    assert ("| submission | runs | reevaluated | sampled-not-yet-evaluated | self-reported | results-only | "
            "reproduced in own framework | reproduced only in ONNX Runtime | not reproduced | not re-evaluated |"
            ) in text
    assert f"| {DEMO.name} | 10 | 10 | 0 | 0 | 0 | 10 | 0 | 0 | 0 |" in text
    mlp = next(line for line in text.splitlines() if line.startswith(f"| {MLP} | 5 | 4 |"))
    assert mlp.endswith("| 0 | 3 | 1 | 1 |"), mlp
    assert ("Of 15 runs, a re-evaluation by trusted code reproduced the claim of 10 in their own framework "
            "(the weights loaded strictly into the framework's trusted reference) and of 3 only in ONNX Runtime"
            ) in text
    assert "1 were re-evaluated and not reproduced; 1 were not re-evaluated." in text


def test_the_website_shows_the_evidence(repo: Path, tmp_path: Path) -> None:
    from cwcontrib.site.build import build_site

    build_site(repo / "catalog", tmp_path / "site", repo)
    page = next((tmp_path / "site" / "submissions").glob(f"{MLP}*.html")).read_text()
    assert "Reproduced only in ONNX Runtime (their ONNX graph: weaker evidence)</th><td>3</td>" in page
    assert "Reproduced in their own framework</th><td>0</td>" in page
    assert "Re-evaluated, not reproduced</th><td>1</td>" in page and "Not re-evaluated</th><td>1</td>" in page
    pair = (tmp_path / "site" / "pairs" / DEMO.name / "t01" / "keras~pytorch.html").read_text()
    assert "<th scope=\"row\">Evidence</th>" in pair and "re-evaluated in its own framework" in pair


def test_a_catalog_without_the_evidence_columns_still_reads(repo: Path, tmp_path: Path) -> None:
    """A format-1 catalog (a release made before) reads with the new columns null."""
    import pyarrow.parquet as pq

    old = tmp_path / "catalog"
    shutil.copytree(repo / "catalog", old)
    table = pq.read_table(old / "runs.parquet")
    pq.write_table(table.drop(["evidence"]), old / "runs.parquet")
    runs = read_table(old, "runs")
    assert runs["evidence"].isna().all() and len(runs) == 15


def test_pairs_say_which_evidence_each_side_has(repo: Path) -> None:
    """measured_gap may compare a run measured in ONNX Runtime with one measured in its framework: the pair says so."""
    pairs = read_table(repo / "catalog", "pairs")
    demo = pairs[pairs["submission_id"] == DEMO.name]
    assert len(demo) == 5 and set(zip(demo["evidence_a"], demo["evidence_b"], strict=True)) == {
        ("framework", "framework")}
    runs = read_table(repo / "catalog", "runs").set_index("run_id")
    for _, pair in pairs.iterrows():
        for side in ("a", "b"):
            evidence = runs.loc[pair[f"run_{side}"], "evidence"]
            assert (pd.isna(pair[f"evidence_{side}"]) and pd.isna(evidence)) or pair[f"evidence_{side}"] == evidence
