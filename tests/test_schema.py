"""The published JSON Schema: generated from the models, current, and usable by stock validators."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cwcontrib.schema import SCHEMA_ID, committed_schema_path, render_schema
from tests.conftest import DEMO, REPO, Submission


def test_committed_schema_is_current() -> None:
    committed = committed_schema_path(REPO).read_text(encoding="utf-8")
    assert committed == render_schema(), "run: cwcontrib schema > schema/submission-1.0.schema.json"


def test_schema_declares_dialect_and_id() -> None:
    schema = json.loads(committed_schema_path(REPO).read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID
    assert SCHEMA_ID.endswith(committed_schema_path(REPO).name)


def _check_jsonschema(instance: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    return subprocess.run([exe, "--schemafile", str(committed_schema_path(REPO)), str(instance)],
                          capture_output=True, text=True, timeout=120)


def test_stock_validator_accepts_the_demo_manifest() -> None:
    result = _check_jsonschema(DEMO / "submission.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_stock_validator_rejects_a_broken_manifest(submission: Submission) -> None:
    submission.edit(lambda d: d["dataset"].update(test_size="many"))
    result = _check_jsonschema(submission.manifest_path)
    assert result.returncode == 1
    assert "test_size" in result.stdout + result.stderr


@pytest.mark.parametrize("field", ["submission", "frameworks", "architecture", "dataset", "hardware"])
def test_required_sections(field: str) -> None:
    schema = json.loads(render_schema())
    assert field in schema["required"]
