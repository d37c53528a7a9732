"""The published JSON Schema: generated from the models, current, and usable by stock validators."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cwcontrib.models import SUPPORTED_SCHEMA_VERSIONS
from cwcontrib.schema import SCHEMA_ID, committed_schema_path, render_schema, schema_id
from tests.conftest import DEMO, REPO, Submission


@pytest.mark.parametrize("version", SUPPORTED_SCHEMA_VERSIONS)
def test_committed_schema_is_current(version: str) -> None:
    path = committed_schema_path(REPO, version)
    committed = path.read_text(encoding="utf-8")
    assert committed == render_schema(version), f"run: cwcontrib schema {version} > schema/{path.name}"


def test_every_published_schema_is_a_supported_version() -> None:
    published = sorted(p.name for p in (REPO / "schema").glob("submission-*.schema.json"))
    assert published == sorted(committed_schema_path(REPO, v).name for v in SUPPORTED_SCHEMA_VERSIONS)


@pytest.mark.parametrize("version", SUPPORTED_SCHEMA_VERSIONS)
def test_schema_declares_dialect_and_id(version: str) -> None:
    schema = json.loads(committed_schema_path(REPO, version).read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == schema_id(version)
    assert schema_id(version).endswith(committed_schema_path(REPO, version).name)
    assert schema["properties"]["schema_version"]["const"] == version
    assert schema_id(SUPPORTED_SCHEMA_VERSIONS[-1]) == SCHEMA_ID


def _check_jsonschema(instance: Path, version: str = "1.0") -> subprocess.CompletedProcess[str]:
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    return subprocess.run([exe, "--schemafile", str(committed_schema_path(REPO, version)), str(instance)],
                          capture_output=True, text=True, timeout=120)


def test_stock_validator_accepts_the_demo_manifest() -> None:
    result = _check_jsonschema(DEMO / "submission.yaml", "1.1")  # the demo ships 1.1 per-run predictions
    assert result.returncode == 0, result.stdout + result.stderr


def test_stock_validator_rejects_a_broken_manifest(submission: Submission) -> None:
    submission.edit(lambda d: d["dataset"].update(test_size="many"))
    result = _check_jsonschema(submission.manifest_path, "1.1")
    assert result.returncode == 1
    assert "test_size" in result.stdout + result.stderr


@pytest.mark.parametrize("version", SUPPORTED_SCHEMA_VERSIONS)
@pytest.mark.parametrize("field", ["submission", "frameworks", "architecture", "dataset", "hardware"])
def test_required_sections(field: str, version: str) -> None:
    schema = json.loads(render_schema(version))
    assert field in schema["required"]
