"""The published JSON Schema (Draft 2020-12), generated from the pydantic models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cwcontrib.models import SCHEMA_VERSION, Manifest

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE_URL = "https://crossedwires.github.io/cwcontrib/schema/"
SCHEMA_FILE = f"submission-{SCHEMA_VERSION}.schema.json"
SCHEMA_ID = SCHEMA_BASE_URL + SCHEMA_FILE


def generate_schema() -> dict[str, Any]:
    body = Manifest.model_json_schema(mode="validation")
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": f"CrossedWires submission, schema version {SCHEMA_VERSION}",
        **{k: v for k, v in body.items() if k != "title"},
    }


def render_schema() -> str:
    return json.dumps(generate_schema(), indent=2, ensure_ascii=False) + "\n"


def committed_schema_path(repo_root: Path) -> Path:
    return repo_root / "schema" / SCHEMA_FILE
