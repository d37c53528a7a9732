"""Hints and help that agree with the documentation (issue 10 item 7)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cwcontrib import cli
from cwcontrib.artifacts import artifact_entries_yaml
from cwcontrib.datasets import DEFAULT_DATA_DIR
from tests.conftest import REPO


def validate_help() -> str:
    parser = cli.build_parser()
    [validate] = [a for a in parser._subparsers._group_actions if a.dest == "command"]  # type: ignore[union-attr]
    return " ".join(validate.choices["validate"].format_help().split())


def test_the_default_data_folder_is_the_same_in_readme_and_help() -> None:
    assert str(DEFAULT_DATA_DIR) == "~/.cache/cwcontrib/datasets"
    assert f"default: $CWCONTRIB_DATA, else {DEFAULT_DATA_DIR}" in validate_help()
    assert f"`$CWCONTRIB_DATA` (default `{DEFAULT_DATA_DIR}`)" in (REPO / "README.md").read_text(encoding="utf-8")


def test_contributing_mentions_the_required_dataset_version() -> None:
    assert "required `version`" in (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")


def test_artifacts_skips_what_contributing_forbids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "code" / "__pycache__").mkdir(parents=True)
    (tmp_path / "code" / "train.py").write_text("print('train')\n")
    (tmp_path / "code" / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"\x00" * 16)
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    text = artifact_entries_yaml(tmp_path)
    assert [e["path"] for e in yaml.safe_load(text)["artifacts"]] == ["code/train.py"]
    assert "'.DS_Store'" in text and "code/__pycache__/train.cpython-311.pyc" in text  # named, to be deleted
    assert cli.main(["artifacts", str(tmp_path)]) == 0
    assert "__pycache__" not in yaml.safe_load(capsys.readouterr().out)["artifacts"][0]["path"]
