"""The committed catalog/ is what `cwcontrib index` makes of the committed submissions/ and verifications/ (as
docs/findings.md is kept current): a change to either, or to the indexer, must come with the rebuilt catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from cwcontrib.catalog.index import build_catalog

REPO = Path(__file__).resolve().parents[1]


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_committed_catalog_is_current(tmp_path: Path) -> None:
    if not (REPO / "catalog" / "catalog.json").is_file():
        pytest.fail("catalog/ is missing: run `cwcontrib index` and commit it")
    out = tmp_path / "catalog"
    out.mkdir()
    # Only catalog.json beforehand, so that a released version is kept as `cwcontrib index` keeps it (the other
    # files are all rebuilt: with them absent, the build cannot call the catalog unchanged and skip writing).
    (out / "catalog.json").write_bytes((REPO / "catalog" / "catalog.json").read_bytes())
    build_catalog(REPO, out=out, cache=tmp_path / "cache", step=lambda s: None)
    committed, rebuilt = files(REPO / "catalog"), files(out)
    committed.pop("CHANGELOG.md", None)  # written by `cwcontrib release`, not by the index
    assert sorted(committed) == sorted(rebuilt), "run: cwcontrib index (and commit catalog/)"
    stale = [name for name in committed if committed[name] != rebuilt[name]]
    assert not stale, f"run: cwcontrib index (and commit catalog/); stale: {stale}"
