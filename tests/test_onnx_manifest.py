"""The `onnx` artifact format (issue 15): new in schema 1.2, refused in 1.0 and 1.1 manifests, whose published
schemas stay byte for byte what they were (no `onnx` in their enum)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from cwcontrib.models import EXTENSIONS, ArtifactFormat, Manifest
from cwcontrib.schema import generate_schema

DEMO = Path(__file__).resolve().parents[1] / "submissions" / "digits-cnn-pair" / "submission.yaml"
GRAPH = {"path": "weights/t01-pytorch.onnx", "format": "onnx", "size": 10_000, "sha256": "0" * 64}


def demo(version: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEMO.read_text())
    data["schema_version"] = version
    data["artifacts"].append(dict(GRAPH))
    return data


def test_an_onnx_artifact_needs_schema_1_2() -> None:
    manifest = Manifest.model_validate(demo("1.2"))
    assert manifest.artifacts[-1].format is ArtifactFormat.ONNX and EXTENSIONS[ArtifactFormat.ONNX] == (".onnx",)
    for version in ("1.0", "1.1"):
        data = demo(version)
        if version == "1.0":
            data.pop("acknowledgements", None)
            for framework in data["frameworks"].values():
                framework.pop("hardware", None)
                framework.pop("accuracy_measure", None)
        with pytest.raises(ValidationError, match=r"artifacts\[\d+\]\.format onnx needs schema_version 1\.2"):
            Manifest.model_validate(data)


@pytest.mark.parametrize("version,listed", [("1.0", False), ("1.1", False), ("1.2", True)])
def test_the_published_schemas_list_onnx_from_1_2(version: str, listed: bool) -> None:
    enum = generate_schema(version)["$defs"]["ArtifactFormat"]["enum"]
    assert ("onnx" in enum) is listed and "keras-h5" in enum
    assert json.dumps(generate_schema(version)).count('"onnx"') == int(listed)
