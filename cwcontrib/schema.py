"""The published JSON Schema (Draft 2020-12), generated from the pydantic models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cwcontrib.models import MANIFEST_SCHEMA_MODELS, SCHEMA_VERSION

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE_URL = "https://crossedwires.github.io/cwcontrib/schema/"


def schema_file(version: str = SCHEMA_VERSION) -> str:
    return f"submission-{version}.schema.json"


def schema_id(version: str = SCHEMA_VERSION) -> str:
    return SCHEMA_BASE_URL + schema_file(version)


SCHEMA_FILE = schema_file()
SCHEMA_ID = schema_id()


def generate_schema(version: str = SCHEMA_VERSION) -> dict[str, Any]:
    """The JSON Schema of one supported version (KeyError for another)."""
    body = MANIFEST_SCHEMA_MODELS[version].model_json_schema(mode="validation")
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": schema_id(version),
        "title": f"CrossedWires submission, schema version {version}",
        **{k: v for k, v in body.items() if k != "title"},
    }


def render_schema(version: str = SCHEMA_VERSION) -> str:
    return json.dumps(generate_schema(version), indent=2, ensure_ascii=False) + "\n"


def committed_schema_path(repo_root: Path, version: str = SCHEMA_VERSION) -> Path:
    return repo_root / "schema" / schema_file(version)
