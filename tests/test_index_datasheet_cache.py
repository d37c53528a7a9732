"""The datasheet (and its matplotlib figures) is drawn once per content: an unchanged rebuild takes it from the
index cache (issue 16's <= 1 s rebuild), a change of the tables draws it again, and the bytes are the same."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from cwcontrib.catalog import datasheet
from cwcontrib.catalog.index import build_catalog
from tests.conftest import DEMO


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every folder a datasheet was rendered into."""
    calls: list[Path] = []
    render = datasheet.write_datasheet

    def counting(staged: Path, tables: Any) -> None:
        calls.append(staged)
        render(staged, tables)

    monkeypatch.setattr(datasheet, "write_datasheet", counting)
    return calls


def _catalog_bytes(repo: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((repo / "catalog").iterdir())}


def test_an_unchanged_rebuild_takes_the_datasheet_from_the_cache(catalog_repo: Path, drawn: list[Path]) -> None:
    before = _catalog_bytes(catalog_repo)
    result = build_catalog(catalog_repo, step=lambda s: None)
    assert drawn == []  # nothing drawn: the tables and the code are the ones the cache holds
    assert not result.changed
    assert _catalog_bytes(catalog_repo) == before


def test_the_cached_datasheet_is_the_one_drawn_afresh(catalog_repo: Path, tmp_path: Path, drawn: list[Path]) -> None:
    shutil.rmtree(catalog_repo / ".cwcontrib-cache" / "index" / "datasheet")
    build_catalog(catalog_repo, step=lambda s: None)
    assert len(drawn) == 1
    assert sorted(p.name for p in (catalog_repo / "catalog").glob("datasheet-*.png"))  # figures came along


def test_changed_tables_draw_the_datasheet_again(tmp_path: Path, drawn: list[Path]) -> None:
    repo = tmp_path / "repo"
    (repo / "submissions").mkdir(parents=True)
    shutil.copytree(DEMO, repo / "submissions" / DEMO.name)
    build_catalog(repo, step=lambda s: None)
    assert len(drawn) == 1
    build_catalog(repo, step=lambda s: None)
    assert len(drawn) == 1
    manifest = repo / "submissions" / DEMO.name / "submission.yaml"
    manifest.write_text(manifest.read_text().replace("title: A small CNN", "title: A tiny CNN"))
    build_catalog(repo, step=lambda s: None)
    assert len(drawn) == 2
    assert len(list((repo / ".cwcontrib-cache" / "index" / "datasheet").iterdir())) == 1  # the newest only
