"""The built site in a real browser (issue 17): Debian's Chromium, driven by Playwright, against the site of this
repository's catalog served on 127.0.0.1.

No browser is downloaded: Playwright launches /usr/bin/chromium (`.ci/run` installs Debian's package); without it
these tests are skipped and say why. A screenshot of the pairs page is written to $CWCONTRIB_ARTIFACTS (default:
a pytest temporary folder) for review.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pyarrow.parquet as pq
import pytest

from cwcontrib.site.build import build_site, pair_path

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
CATALOG = REPO / "catalog"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]

pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"{CHROMIUM} is absent: the browser tests use "
                                "Debian's chromium package (`.ci/run` installs it); no browser is downloaded")
sync_api = pytest.importorskip("playwright.sync_api", reason="the python package playwright is not installed")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built from the repository's catalog."""
    root = tmp_path_factory.mktemp("browser") / "site"
    build_site(CATALOG, root, repo=REPO)
    return root


@pytest.fixture(scope="module")
def site(site_root: Path) -> Iterator[str]:
    """The site served on 127.0.0.1; yields its base URL."""
    root = site_root
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    # launch() starts the browser with a fresh temporary profile (user data dir) of its own, removed on close.
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Watched:
    """A page whose console errors and uncaught exceptions are collected."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.page = context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}") if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))


@pytest.fixture
def browse(chromium: Any) -> Iterator[Watched]:
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    watched = Watched(context)
    yield watched
    context.close()
    assert watched.errors == []


def _pairs() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pq.read_table(CATALOG / "pairs.parquet").to_pylist()
    return rows


def _architectures() -> dict[str, str]:
    subs = pq.read_table(CATALOG / "submissions.parquet").to_pylist()
    by_sub = {s["submission_id"]: s["architecture"] for s in subs}
    return {p["pair_id"]: by_sub[p["submission_id"]] for p in _pairs()}


def _visible_ids(page: Any) -> list[str]:
    ids: list[str] = page.eval_on_selector_all(
        "#pairs tbody tr:not([hidden]) th[scope=row]", "cells => cells.map(c => c.textContent.trim())")
    return ids


def test_sorting_by_gap_puts_the_largest_divergence_first(site: str, browse: Watched) -> None:
    page = browse.page
    page.goto(site + "index.html")
    pairs = sorted(_pairs(), key=lambda p: p["pair_id"])
    assert _visible_ids(page)[0] == pairs[0]["pair_id"]
    gap = page.locator("#pairs thead th[data-key=gap]")
    gap.get_by_role("button").click()
    expected = sorted(pairs, key=lambda p: -p["abs_gap"])  # stable: ties stay in pair id order
    shown = _visible_ids(page)
    assert shown[0] == expected[0]["pair_id"] and len(shown) == len(pairs)
    assert shown[:10] == [p["pair_id"] for p in expected[:10]]
    assert gap.get_attribute("aria-sort") == "descending"
    assert page.locator("#pairs thead th[aria-sort]").count() == 1
    # The keyboard sorts too: focus the header's button and press Enter for ascending.
    gap.get_by_role("button").focus()
    page.keyboard.press("Enter")
    assert gap.get_attribute("aria-sort") == "ascending"
    assert _visible_ids(page)[0] == sorted(pairs, key=lambda p: p["abs_gap"])[0]["pair_id"]


def test_a_filter_by_architecture_keeps_only_its_pairs(site: str, browse: Watched) -> None:
    page = browse.page
    page.goto(site + "index.html")
    architectures = _architectures()
    page.get_by_label("Architecture").select_option("vgg16")
    shown = _visible_ids(page)
    assert sorted(shown) == sorted(p for p, a in architectures.items() if a == "vgg16")
    assert "Showing 400 of 1205 pairs." in page.locator("#count").inner_text()
    page.get_by_label("Architecture").select_option("digits-cnn")
    assert _visible_ids(page) == sorted(p for p, a in architectures.items() if a == "digits-cnn")


def test_a_permalink_reproduces_the_view(site: str, browse: Watched) -> None:
    page = browse.page
    page.goto(site + "index.html")
    page.get_by_label("Architecture").select_option("resnet50")
    page.get_by_label("only |gap|").check()
    page.locator("#pairs thead th[data-key=gap]").get_by_role("button").click()
    view = _visible_ids(page)
    link = page.locator("#permalink").get_attribute("href")
    assert link is not None and "architecture=resnet50" in link and "sort=gap" in link and "diverges=1" in link
    assert urlsplit(page.url).fragment == link.lstrip("#")
    other = browse.context.new_page()
    other.goto(urljoin(site + "index.html", link))
    assert _visible_ids(other) == view and len(view) == sum(
        1 for p in _pairs() if p["diverges"] and p["submission_id"] == "crossedwires-2021-resnet50")
    assert other.get_by_label("Architecture").input_value() == "resnet50"
    assert other.locator("#pairs thead th[data-key=gap]").get_attribute("aria-sort") == "descending"


def test_every_link_resolves_and_no_console_errors(site: str, browse: Watched) -> None:
    """Crawl every page but the pair pages in the browser (plus the demo's and one pair page per submission);
    every link of a visited page must answer 200, every image must load."""
    page = browse.page
    pairs = _pairs()
    extra = {site + pair_path(p["pair_id"]) for p in pairs if p["submission_id"] == "digits-cnn-pair"}
    extra |= {site + pair_path(min(p["pair_id"] for p in pairs if p["submission_id"] == s))
              for s in {p["submission_id"] for p in pairs}}
    queue, seen, checked = [site + "index.html", *sorted(extra)], set(), {}
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        broken = page.eval_on_selector_all("img", "imgs => imgs.filter(i => !i.complete || i.naturalWidth === 0)"
                                                  ".map(i => i.src)")
        assert broken == [], url
        for img in page.eval_on_selector_all("img", "imgs => imgs.map(i => i.alt)"):
            assert img.strip(), url
        for href in page.eval_on_selector_all("a[href], link[href], script[src], img[src]",
                                              "els => els.map(e => e.href || e.src)"):
            target = href.split("#")[0]
            if not target.startswith(site):
                assert href.startswith(("https://", "http://", "data:")), (url, href)
                continue
            if target not in checked:
                checked[target] = browse.context.request.get(target).status
            assert checked[target] == 200, (url, href)
            if target.endswith(".html") and "/pairs/" not in target:
                queue.append(target)
    assert len(checked) > len(pairs)  # every pair page was linked and answered


def test_without_javascript_every_row_shows(site: str, chromium: Any) -> None:
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(site + "index.html")
    rows = page.locator("#pairs tbody tr")
    assert rows.count() == len(_pairs())
    assert page.locator("#pairs tbody tr:visible").count() == len(_pairs())
    assert page.locator("#filters").is_hidden()  # no controls that would do nothing
    assert page.locator("#pairs thead th[data-key=pair]").get_attribute("aria-sort") == "ascending"
    page.goto(site + pair_path("digits-cnn-pair/t01/keras~pytorch"))
    assert page.get_by_text("McNemar's exact test").is_visible()
    context.close()


def test_screenshot_of_the_pairs_page(site: str, browse: Watched, tmp_path: Path) -> None:
    folder = Path(os.environ.get("CWCONTRIB_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page = browse.page
    page.goto(site + "index.html#sort=gap&dir=desc")
    page.locator("#pairs thead th[data-key=gap][aria-sort=descending]").wait_for()
    target = folder / "site-pairs.png"
    page.screenshot(path=str(target))
    assert target.stat().st_size > 10_000
    print(f"screenshot: {target}")


def test_the_site_works_from_file_urls(site_root: Path, browse: Watched) -> None:
    """Opened from disk (file://), as a downloaded copy would be: the script runs, sorting works, links resolve."""
    page = browse.page
    page.goto((site_root / "index.html").as_uri())
    page.locator("#pairs thead th[data-key=gap]").get_by_role("button").click()
    largest = max(_pairs(), key=lambda p: p["abs_gap"])["pair_id"]
    assert _visible_ids(page)[0] == largest
    page.get_by_role("link", name=largest).click()
    page.wait_for_load_state()
    assert page.url == (site_root / pair_path(largest)).as_uri()
    assert page.get_by_role("heading", name="Both runs").is_visible()
    page.get_by_role("link", name="Datasheet").click()
    page.wait_for_load_state()
    assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
