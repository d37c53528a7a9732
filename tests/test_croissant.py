"""catalog/croissant.json against the reference implementation: `mlcroissant validate` accepts it, and since that
validator lets a missing name or a wrong column pass, every RecordSet's records are loaded through mlcroissant and
compared with `load_catalog()`. Also: docs/catalog.md is generated from the same column definitions."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cwcontrib.catalog.api import read_table
from cwcontrib.catalog.columns import TABLES
from cwcontrib.catalog.docs import catalog_markdown

REPO = Path(__file__).resolve().parents[1]


def mlcroissant_validate(jsonld: Path) -> subprocess.CompletedProcess[str]:
    mlcroissant = Path(sys.executable).with_name("mlcroissant")
    return subprocess.run([str(mlcroissant), "validate", "--jsonld", str(jsonld)], capture_output=True, text=True,
                          timeout=300, check=False)


def test_mlcroissant_validates_the_catalogs_metadata(catalog_repo: Path) -> None:
    result = mlcroissant_validate(catalog_repo / "catalog" / "croissant.json")
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr.lower()
    assert "@context` is not standard" not in result.stderr


@pytest.mark.parametrize("breakage", ["source names no file", "no encoding format"])
def test_mlcroissant_refuses_a_broken_copy(catalog_repo: Path, tmp_path: Path, breakage: str) -> None:
    """The validator run above can fail (it does not notice everything: a missing `name` passes)."""
    broken = json.loads((catalog_repo / "catalog" / "croissant.json").read_text())
    if breakage == "source names no file":
        broken["recordSet"][0]["field"][0]["source"]["fileObject"]["@id"] = "missing.parquet"
    else:
        del broken["distribution"][0]["encodingFormat"]
    path = tmp_path / "croissant.json"
    path.write_text(json.dumps(broken))
    assert mlcroissant_validate(path).returncode != 0


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@pytest.mark.parametrize("table", list(TABLES))
def test_every_record_set_loads_through_mlcroissant_as_load_catalog_reads_it(catalog_repo: Path, table: str) -> None:
    import mlcroissant as mlc

    dataset = mlc.Dataset(jsonld=catalog_repo / "catalog" / "croissant.json")
    records = [{key.split("/", 1)[1]: _plain(v) for key, v in record.items()}
               for record in dataset.records(record_set=table)]
    frame = read_table(catalog_repo / "catalog", table)
    expected = [{k: (None if v is None or str(v) == "<NA>" else v) for k, v in row.items()}
                for row in frame.to_dict("records")]
    if records:  # the demo has no tombstones: tests/test_release.py loads a `retracted` record set with rows
        assert [c.name for c in TABLES[table].columns] == list(records[0])  # every column is a field, in order
    assert records == expected


def test_docs_catalog_md_is_current() -> None:
    committed = (REPO / "docs" / "catalog.md").read_text(encoding="utf-8")
    assert committed == catalog_markdown(), "run: cwcontrib catalog docs > docs/catalog.md"
    for spec in TABLES.values():
        for column in spec.columns:
            assert f"| `{column.name}` |" in committed
