"""`cwcontrib site build` (issue 17): the catalog as static pages, without a browser.

The repository's own catalog (the demo plus the original release, 1,205 pairs) is built twice: the two folders
must hold the same bytes, every internal link must resolve, and the pairs page must hold every pair as a plain
row (no JavaScript needed). A small hostile catalog, written here with the catalog's own schema, checks the
escaping, the file names of ids that are not slugs and the atomic replacement of the output folder.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cwcontrib.site.build import SiteError, build_site, pair_path, relative, safe_name

REPO = Path(__file__).resolve().parents[1]
CATALOG = REPO / "catalog"


class Page(HTMLParser):
    """The links, ids, table rows and images of one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.images: list[dict[str, str | None]] = []
        self.body_rows: list[dict[str, str | None]] = []
        self.row_headers: list[str] = []
        self._in_tbody = 0
        self._in_row_header = False
        self._text: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if a.get("id"):
            self.ids.add(str(a["id"]))
        for name in ("href", "src"):
            if a.get(name) is not None:
                self.links.append(str(a[name]))
        if tag == "img":
            self.images.append(a)
        if tag == "tbody":
            self._in_tbody += 1
        if tag == "tr" and self._in_tbody:
            self.body_rows.append(a)
        if tag == "th" and self._in_tbody and a.get("scope") == "row":
            self._in_row_header, self._text = True, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_tbody -= 1
        if tag == "th" and self._in_row_header:
            self._in_row_header = False
            self.row_headers.append("".join(self._text).strip())

    def handle_data(self, data: str) -> None:
        if self._in_row_header:
            self._text.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def broken_links(root: Path) -> list[str]:
    """Every href/src of every page that points inside the site and does not resolve (file, then fragment)."""
    pages = {p: parse(p) for p in root.rglob("*.html")}
    broken = []
    for page_path, page in pages.items():
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc:
                if parts.scheme not in ("http", "https") and link != "data:,":
                    broken.append(f"{page_path.relative_to(root)}: {link} (scheme)")
                continue
            target = (page_path.parent / unquote(parts.path)).resolve() if parts.path else page_path
            if not target.is_relative_to(root.resolve()) or not target.is_file():
                broken.append(f"{page_path.relative_to(root)}: {link}")
            elif (parts.fragment and target.suffix == ".html" and "=" not in parts.fragment
                  and parts.fragment not in pages[target].ids):
                broken.append(f"{page_path.relative_to(root)}: {link} (no id {parts.fragment})")
    return broken


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    build_site(CATALOG, out, repo=REPO)
    return out


def test_building_twice_gives_the_same_bytes(built: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    build_site(CATALOG, again, repo=REPO)
    first, second = tree_bytes(built), tree_bytes(again)
    assert sorted(first) == sorted(second)
    assert [name for name in first if first[name] != second[name]] == []


def test_every_internal_link_resolves(built: Path) -> None:
    assert broken_links(built) == []


def test_the_pairs_page_holds_every_pair_without_javascript(built: Path) -> None:
    pairs = pq.read_table(CATALOG / "pairs.parquet").column("pair_id").to_pylist()
    page = parse(built / "index.html")
    assert page.row_headers == sorted(pairs)  # every pair, in pair id order, as a row header
    assert not any("hidden" in row for row in page.body_rows)
    # The filter form is the only thing hidden, and it is hidden until the script shows it.
    assert [a.get("id") for tag, a in page.tags if "hidden" in a] == ["filters"]
    for pair_id in pairs:
        assert (built / pair_path(pair_id)).is_file()


def test_accessible_tables_and_figures(built: Path) -> None:
    for path in built.rglob("*.html"):
        page = parse(path)
        tables = sum(1 for tag, _ in page.tags if tag == "table")
        captions = sum(1 for tag, _ in page.tags if tag == "caption")
        if path.name != "datasheet.html":
            assert captions == tables, path
        for tag, attrs in page.tags:
            if tag == "th":
                assert attrs.get("scope") in ("col", "row"), (path, attrs)
        for image in page.images:
            assert (image.get("alt") or "").strip(), (path, image)
    datasheet = parse(built / "datasheet.html")
    figures = sorted(p.name for p in CATALOG.glob("datasheet-*.png"))
    assert sorted(Path(str(i["src"])).name for i in datasheet.images) == figures
    assert tree_bytes(built)["figures/" + figures[0]] == (CATALOG / figures[0]).read_bytes()
    index = (built / "index.html").read_text(encoding="utf-8")
    assert 'aria-sort="ascending"' in index and "<caption>" in index


def test_the_demo_pair_page_shows_disagreements_and_mcnemar(built: Path) -> None:
    text = (built / pair_path("digits-cnn-pair/t01/keras~pytorch")).read_text(encoding="utf-8")
    keras = (REPO / "submissions/digits-cnn-pair/predictions/t01-keras.csv").read_text().splitlines()[1:]
    torch = (REPO / "submissions/digits-cnn-pair/predictions/t01-pytorch.csv").read_text().splitlines()[1:]
    differ = sum(1 for a, b in zip(keras, torch, strict=True) if a != b)
    assert f"differ on <strong>{differ}</strong> of 360" in text
    # b - c is k_a - k_b whatever the labels: 266 - 234.
    sentence = text.split("McNemar's exact test on the discordant examples: ")[1].split("</p>")[0]
    only_a = int(sentence.split(" only run a")[0])
    only_b = int(sentence.split("correctly, ")[1].split(" only run b")[0])
    assert only_a - only_b == 266 - 234
    assert "fingerprint" in text and "8,714" in text


def test_the_command_builds_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "cwcontrib", "site", "build", "--out", str(out), "--catalog",
                             str(_small_catalog(tmp_path / "small")), "--repo", str(tmp_path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert (out / "index.html").is_file() and "page(s)" in result.stderr
    missing = subprocess.run([sys.executable, "-m", "cwcontrib", "site", "build", "--out", str(out), "--catalog",
                              str(tmp_path / "nowhere")], capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "not a folder" in missing.stderr


# ------------------------------------------------------------------------------------- a small, hostile catalog

HOSTILE = '<script>alert("x")</script> & "quotes"'


def _small_catalog(folder: Path, hostile: bool = False) -> Path:
    """The demo's rows of the committed catalog (plus, when `hostile`, a forged submission whose text and ids
    are not what cwcontrib would accept), written with the catalog's schema and a consistent catalog.json."""
    folder.mkdir(parents=True)
    meta = json.loads((CATALOG / "catalog.json").read_text())
    for name, entry in meta["tables"].items():
        table = pq.read_table(CATALOG / entry["file"])  # its own schema: the committed catalog's columns
        rows = [r for r in table.to_pylist() if r.get("submission_id") == "digits-cnn-pair"]
        if hostile and name == "submissions":
            refs = "javascript:alert(1); https://example.org/a?b=<c>; doi:10.1234/x\"onmouseover=y"
            rows.append(dict(rows[0], submission_id="evil", title=HOSTILE, contributors=HOSTILE, references=refs))
        if hostile and name == "pairs":
            for weird in ("../../escape", "a b?c#d", "%2e%2e"):
                rows.append(dict(rows[0], submission_id="evil", trial_id=weird, pair_id=f"evil/{weird}/keras~pytorch",
                                 run_a=f"evil/{weird}/keras", run_b=f"evil/{weird}/pytorch",
                                 architecture_differences=HOSTILE))
        pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), folder / entry["file"])
        meta["tables"][name] = {"file": entry["file"], "rows": len(rows),
                                "sha256": hashlib.sha256((folder / entry["file"]).read_bytes()).hexdigest()}
    meta["version"] = "1.2.0"
    (folder / "catalog.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
    (folder / "CHANGELOG.md").write_text(
        f"# Changelog\n\n## 1.2.0 — 2026-12-01\n\nAdded [x](javascript:alert(1)) and {HOSTILE}\n\n"
        "## 1.1.0 — 2026-11-01\n\nOlder.\n")
    return folder


def test_hostile_text_is_escaped_and_ids_stay_inside_the_site(tmp_path: Path) -> None:
    catalog = _small_catalog(tmp_path / "catalog", hostile=True)
    out = tmp_path / "site"
    build_site(catalog, out, repo=tmp_path)
    files = tree_bytes(out)
    every = b"".join(files.values())
    assert b"<script>alert" not in every and b"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in every
    assert b"onmouseover=y\"" not in every  # the forged DOI stays inside its attribute or its text
    # Links are http(s) or inside the site (broken_links refuses any other scheme: javascript:, data:, file:).
    assert all(".." not in name.split("/") for name in files)
    for weird in ("../../escape", "a b?c#d", "%2e%2e"):
        path = pair_path(f"evil/{weird}/keras~pytorch")
        assert path in files and path.startswith(("pairs/evil/_", "pairs/_")), path  # a name from its sha256
    assert broken_links(out) == []
    releases = parse(out / "releases" / "index.html")
    assert "1.2.0.html" in " ".join(releases.links) and "1.1.0.html" in " ".join(releases.links)
    release = (out / "releases" / "1.2.0.html").read_text()
    assert "trials.parquet" in release  # catalog.json's version: its tables' checksums
    assert "cwcontrib verify-release 1.1.0" in (out / "releases" / "1.1.0.html").read_text()


def test_no_changelog_says_there_is_no_release(built: Path) -> None:
    text = (built / "releases" / "index.html").read_text()
    assert "No release yet" in text


def test_the_output_folder_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    catalog = _small_catalog(tmp_path / "catalog")
    out = tmp_path / "site"
    out.mkdir()
    (out / "stale.html").write_text("old")
    build_site(catalog, out, repo=tmp_path)
    assert not (out / "stale.html").exists() and (out / "index.html").is_file()
    before = tree_bytes(out)
    (catalog / "pairs.parquet").write_bytes((catalog / "pairs.parquet").read_bytes() + b"x")
    with pytest.raises(SiteError, match="sha256 differs"):
        build_site(catalog, out, repo=tmp_path)
    assert tree_bytes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog", "site"]  # no staging folder left behind
    with pytest.raises(SiteError, match="replace the catalog"):
        build_site(catalog, tmp_path, repo=tmp_path)


def test_names_and_relative_links() -> None:
    assert safe_name("t01") == "t01"
    assert safe_name("..").startswith("_") and safe_name("a/b").startswith("_") and safe_name("x.").startswith("_")
    assert relative("pairs/s/t/a~b.html", "static/site.js") == "../../../static/site.js"
    assert relative("index.html", "pairs/s/t/a~b.html") == "pairs/s/t/a~b.html"
