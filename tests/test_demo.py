"""End to end: the real CLI on the real demo submission."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from cwcontrib.limits import Limits
from cwcontrib.manifest import load_manifest
from cwcontrib.models import Manifest
from tests.conftest import DEMO


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "cwcontrib", *args], capture_output=True, text=True,
                          timeout=300, env=env)


def test_demo_validates_clean_through_the_cli() -> None:
    result = run_cli("validate", str(DEMO), "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["valid"] is True
    assert report["summary"]["errors"] == 0
    assert report["summary"]["warnings"] == 0, report["findings"]
    assert set(report["stages"].values()) == {"passed"}
    assert sorted(report["stages"]) == ["evaluation", "files", "manifest", "semantics", "weights"]
    assert report["summary"]["trials"] >= 4
    assert report["summary"]["runs"] == 2 * report["summary"]["trials"]


def test_json_report_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for out in (first, second):  # the same seed: a seedless run draws its sample at random (docs/reevaluation.md)
        assert run_cli("validate", str(DEMO), "--format", "json", "--output", str(out), "--quiet",
                       "--seed", "0123abcd").returncode == 0
    assert first.read_bytes() == second.read_bytes()


def test_demo_is_a_real_crossedwires_study() -> None:
    model = Manifest.model_validate(load_manifest(DEMO, Limits()).data)
    assert set(model.frameworks) == {"pytorch", "keras"}
    assert len(model.trials) >= 4
    gaps = [abs(t.runs["pytorch"].test_accuracy - t.runs["keras"].test_accuracy) for t in model.trials]
    assert max(gaps) >= 0.05, gaps
    formats = {a.format.value for a in model.artifacts}
    assert {"safetensors", "keras-h5", "csv", "python"} <= formats
    assert model.sweep is not None and model.sweep.objective


def test_validation_leaves_the_submission_untouched() -> None:
    before = {p: p.stat().st_mtime_ns for p in DEMO.rglob("*")}
    assert run_cli("validate", str(DEMO), "--quiet").returncode == 0
    assert {p: p.stat().st_mtime_ns for p in DEMO.rglob("*")} == before


def test_text_and_markdown_reports() -> None:
    text = run_cli("validate", str(DEMO), "--all")
    assert text.returncode == 0 and "valid" in text.stdout.splitlines()[-1]
    assert "architecture keras vs pytorch: equivalent" in text.stdout
    assert "re-evaluated t01 pytorch: claimed 234/360, measured 234/360 (±5) reproduced on cpu" in text.stdout
    markdown = run_cli("validate", str(DEMO), "--format", "markdown")
    assert markdown.stdout.startswith("### ✅ cwcontrib")


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run_cli("validate", str(tmp_path / "nowhere")).returncode == 2
    assert run_cli("frobnicate").returncode == 2


def test_broken_submission_exits_1_with_locations(tmp_path: Path) -> None:
    sub = tmp_path / "broken"
    sub.mkdir()
    data = yaml.safe_load((DEMO / "submission.yaml").read_text())
    data["trials"][0]["runs"]["pytorch"]["test_accuracy"] = 0.95123
    (sub / "submission.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    result = run_cli("validate", str(sub), "--format", "github")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "::error file=" in result.stdout and "title=CW304 accuracy-not-k-over-n" in result.stdout
