"""`cwcontrib site build`: the catalog as a static website (issue 17).

Every page is rendered from the catalog folder (its Parquet tables, catalog.json, DATASHEET.md and its figures,
CHANGELOG.md when a release wrote one) and, where a submission folder in the checkout is exactly the catalogued
version (same content digest), from its manifest and its per-example predictions. The output is deterministic
(same inputs, same bytes: no clock, no environment in the pages), uses relative links only (it works from
`file://` and from any sub-path such as GitHub Pages'), and replaces the output folder atomically.

Everything shown comes from strangers: Jinja2 autoescapes every value, the datasheet's Markdown is rendered with
raw HTML off, links keep only http(s) and in-site targets, and ids become file names only when they are plain
slugs (anything else gets a name derived from its sha256).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, urlsplit

from cwcontrib.atomic import recover_dir, replace_dir
from cwcontrib.catalog.columns import TABLES
from cwcontrib.hashing import sha256_file

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
FIGURE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.png$")
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,120}$")
RELEASE_HEADING = re.compile(r"^## ((?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*))\b(.*)$")
DIVERGES = 0.05
MAX_LISTED_DISAGREEMENTS = 500


class SiteError(Exception):
    """The site cannot be built from these inputs; the message says why and what to do."""


@dataclass(frozen=True)
class SiteResult:
    out: Path
    pages: int
    files: int
    pairs: int


@dataclass
class Site:
    """The rendered site before it is written: relative path -> bytes."""

    files: dict[str, bytes] = field(default_factory=dict)

    def add(self, path: str, data: bytes) -> None:
        if path in self.files:
            raise SiteError(f"two pages would be written to {path}")
        self.files[path] = data


# ---------------------------------------------------------------------------------------------------- helpers


def safe_name(text: str) -> str:
    """`text` as one path component when it is a plain slug, else a name derived from its sha256."""
    if SAFE_NAME.match(text) and not text.endswith(".") and ".." not in text:
        return text
    return "_" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def pair_path(pair_id: str) -> str:
    parts = pair_id.split("/")
    if len(parts) != 3:
        return f"pairs/{safe_name(pair_id)}.html"
    return "pairs/" + "/".join(safe_name(p) for p in parts) + ".html"


def submission_path(submission_id: str) -> str:
    return f"submissions/{safe_name(submission_id)}.html"


def release_path(version: str) -> str:
    return f"releases/{safe_name(version)}.html"


def relative(from_page: str, target: str) -> str:
    """A URL from one page of the site to another path of it, percent-encoded."""
    depth = from_page.count("/")
    return quote("../" * depth + target, safe="/~._-")


def fmt_float(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{float(value):.{digits}f}"


def fmt_general(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def safe_href(url: str) -> str | None:
    """An external link only when it is plain http(s) with a host; anything else is shown as text."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("https", "http") or not parts.netloc or any(c in url for c in " \"'<>\\`\n\r\t"):
        return None
    return url


def reference_link(ref: str) -> str | None:
    ref = ref.strip()
    if ref.startswith("doi:"):
        doi = ref[4:]
        if re.match(r"^10\.[0-9]{4,9}/[^\s]{1,200}$", doi):
            return "https://doi.org/" + quote(doi, safe="/.-_()")
        return None
    return safe_href(ref)


# The tables the site reads, and the columns it relies on in each. A table is read with its own Parquet schema, so
# a catalog written before or after a column was added still renders; a column the site needs must be there.
SITE_TABLES: dict[str, tuple[str, ...]] = {
    "submissions": ("submission_id", "title", "license", "contributors", "content_digest", "architecture",
                    "dataset", "test_size", "num_classes"),
    "trials": ("trial_key", "optimizer", "learning_rate", "batch_size", "epochs", "hyperparameters"),
    "runs": ("run_id", "framework_key", "accelerator", "test_accuracy", "test_size", "status", "architecture"),
    "pairs": ("pair_id", "submission_id", "trial_id", "run_a", "run_b", "accuracy_a", "accuracy_b", "gap", "abs_gap",
              "winner", "diverges", "status_a", "status_b"),
}


def _read_rows(folder: Path, table: str) -> list[dict[str, Any]]:
    """A table's rows as plain Python values (None for null)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / TABLES[table].file
    try:
        arrow = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise SiteError(f"{path}: not a readable Parquet table ({exc})") from None
    missing = [c for c in SITE_TABLES[table] if c not in arrow.column_names]
    if missing:
        raise SiteError(f"{path}: no column {', '.join(missing)}; rebuild the catalog with `cwcontrib index`")
    rows: list[dict[str, Any]] = arrow.to_pylist()
    return rows


# ---------------------------------------------------------------------------------------------------- inputs


def read_catalog(folder: Path) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """catalog.json and every table, each table file checked against the sha256 catalog.json gives for it."""
    meta_file = folder / "catalog.json"
    if not meta_file.is_file():
        raise SiteError(f"{folder} holds no catalog.json: build the catalog first (`cwcontrib index`)")
    try:
        meta: dict[str, Any] = json.loads(meta_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SiteError(f"{meta_file}: not JSON ({exc})") from None
    tables: dict[str, list[dict[str, Any]]] = {}
    for name in SITE_TABLES:
        spec = TABLES[name]
        entry = meta.get("tables", {}).get(name)
        path = folder / spec.file
        if not isinstance(entry, dict) or not path.is_file():
            raise SiteError(f"{folder}: table {name} is missing from catalog.json or the folder")
        if sha256_file(path) != entry.get("sha256"):
            raise SiteError(f"{path}: sha256 differs from catalog.json's; the catalog folder is inconsistent "
                            "(rebuild it with `cwcontrib index`)")
        tables[name] = _read_rows(folder, name)
    return meta, tables


@dataclass
class SubmissionDetails:
    """What the checkout's submission folder adds when it is exactly the catalogued version."""

    matches: bool
    note: str
    description: str | None = None
    citations: list[dict[str, str | None]] = field(default_factory=list)
    acknowledgements: list[dict[str, str]] = field(default_factory=list)
    search_space: list[tuple[str, str]] = field(default_factory=list)
    sweep_tool: str | None = None
    code: dict[str, str | None] | None = None
    predictions: dict[tuple[str, str], str] = field(default_factory=dict)  # (trial, key) -> path
    artifacts: dict[str, str] = field(default_factory=dict)  # path -> sha256
    root: Path | None = None


def submission_details(repo: Path, submission_id: str, digest: str) -> SubmissionDetails:
    from cwcontrib.limits import DEFAULT_LIMITS
    from cwcontrib.manifest import load_manifest
    from cwcontrib.models import Manifest

    root = repo / "submissions" / submission_id
    if safe_name(submission_id) != submission_id or not root.is_dir():
        return SubmissionDetails(False, "The submission's folder is not in this checkout: only the catalog's "
                                        "columns are shown.")
    loaded = load_manifest(root, DEFAULT_LIMITS)
    if not loaded.usable:
        return SubmissionDetails(False, "The submission's manifest in this checkout cannot be read: only the "
                                        "catalog's columns are shown.")
    try:
        model = Manifest.model_validate(loaded.data)
    except ValueError:
        return SubmissionDetails(False, "The submission's manifest in this checkout is not valid: only the "
                                        "catalog's columns are shown.")
    files = sorted((a.path or a.uri or "", a.sha256) for a in model.artifacts)
    payload = json.dumps([loaded.data, files], sort_keys=True, separators=(",", ":"), default=str)
    if hashlib.sha256(payload.encode()).hexdigest() != digest:
        return SubmissionDetails(False, "The submission's folder in this checkout is not the catalogued version "
                                        "(its content digest differs): only the catalog's columns are shown.")
    info = model.submission
    citations = []
    for ref in info.references:
        data = ref.model_dump(mode="json")
        target = f"doi:{data['doi']}" if data.get("doi") else (data.get("url") or "")
        citations.append({"text": data.get("citation") or target, "target": target,
                          "href": reference_link(target) if target else None})
    space = []
    if model.sweep is not None:
        for name, spec in sorted(model.sweep.search_space.items()):
            space.append((name, json.dumps(spec.model_dump(mode="json", exclude_none=True), sort_keys=True)))
    code = None
    if model.code is not None:
        code = {"command": model.code.command, "repository": model.code.repository, "commit": model.code.commit,
                "files": ", ".join(model.code.files)}
    predictions = {(trial.id, key): run.predictions for trial in model.trials for key, run in trial.runs.items()
                   if run.predictions}
    return SubmissionDetails(
        True, "From the submission's manifest in this checkout (the catalogued version: same content digest).",
        description=info.description, citations=citations,
        acknowledgements=[a.model_dump(mode="json") for a in model.acknowledgements],
        search_space=space, sweep_tool=model.sweep.tool if model.sweep else None, code=code,
        predictions=predictions, artifacts={a.path: a.sha256 for a in model.artifacts if a.path}, root=root)


def read_predictions(details: SubmissionDetails, trial: str, key: str, n: int, num_classes: int) -> Any:
    """A run's shipped predictions, checked against the manifest's sha256 and parsed strictly; None when absent
    or unusable."""
    from cwcontrib.limits import DEFAULT_LIMITS
    from cwcontrib.predictions import PredictionsError, parse_predictions
    from cwcontrib.safefs import UnsafeFile, read_confined
    from cwcontrib.tables import TableError, parse_csv

    rel = details.predictions.get((trial, key))
    if rel is None or details.root is None or rel not in details.artifacts:
        return None
    try:
        raw = read_confined(details.root, rel, DEFAULT_LIMITS.table_bytes)
    except (UnsafeFile, OSError):
        return None
    if hashlib.sha256(raw).hexdigest() != details.artifacts[rel]:
        return None
    try:
        return parse_predictions(parse_csv(raw, rel, DEFAULT_LIMITS), n, num_classes)
    except (TableError, PredictionsError):
        return None


def dataset_labels(name: str, n: int) -> Any:
    """The registry's test labels when the split is available here with its pinned checksum; else None."""
    try:
        from cwcontrib.datasets import load_test_split

        split = load_test_split(name, verify=True)
    except Exception:  # no scikit-learn, no data files, a checksum that differs: the labels are unknown
        return None
    return split.labels if len(split.labels) == n else None


def disagreements(pa: Any, pb: Any, labels: Any) -> dict[str, Any]:
    import numpy as np

    from cwcontrib.statistics import mcnemar

    differ = np.nonzero(pa != pb)[0]
    listed = [{"example": int(i), "a": int(pa[i]), "b": int(pb[i]),
               "label": None if labels is None else int(labels[i])} for i in differ[:MAX_LISTED_DISAGREEMENTS]]
    result: dict[str, Any] = {"count": len(differ), "n": len(pa), "rate": len(differ) / len(pa), "examples": listed,
                              "more": max(0, len(differ) - MAX_LISTED_DISAGREEMENTS), "mcnemar": None}
    if labels is not None:
        correct_a, correct_b = pa == labels, pb == labels
        test = mcnemar(int(np.sum(correct_a & ~correct_b)), int(np.sum(~correct_a & correct_b)))
        result["mcnemar"] = {"b": test.b, "c": test.c, "p_value": test.p_value}
    return result


def read_datasheet(folder: Path) -> tuple[str | None, list[dict[str, str]]]:
    """DATASHEET.md as safe HTML and the figures it shows (catalog files, each with its alt text)."""
    source = folder / "DATASHEET.md"
    if not source.is_file():
        return None, []
    return render_markdown(source.read_text(encoding="utf-8"), folder)


def render_markdown(text: str, figures_from: Path | None = None) -> tuple[str, list[dict[str, str]]]:
    """Markdown as HTML with raw HTML off (escaped as text), external links only when plain http(s), and images
    only when they are PNG files of `figures_from` with alt text (copied to figures/); others become text."""
    from markdown_it import MarkdownIt

    text = re.sub(r"<!--.*?-->\s*", "", text, flags=re.S)
    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    tokens = md.parse(text)
    figures: list[dict[str, str]] = []
    for token in _walk(tokens):
        if token.type == "th_open":
            token.attrSet("scope", "col")
        elif token.type == "image":
            src = str(token.attrGet("src") or "")
            alt = "".join(child.content for child in (token.children or [])) or token.content
            if figures_from is not None and FIGURE.match(src) and (figures_from / src).is_file() and alt.strip():
                token.attrSet("src", f"figures/{src}")
                figures.append({"file": src, "alt": alt})
            else:
                token.type, token.tag, token.children = "text", "", None
                token.content = f"[figure not shown: {alt or src}]"
        elif token.type == "link_open":
            href = str(token.attrGet("href") or "")
            if safe_href(href) is None:
                token.attrs, token.tag = {}, "span"
            else:
                token.attrSet("rel", "nofollow noopener")
    _balance_links(tokens)
    return md.renderer.render(tokens, md.options, {}), figures


def _walk(tokens: Iterable[Any]) -> Iterable[Any]:
    for token in tokens:
        yield token
        if token.children:
            yield from _walk(token.children)


def _balance_links(tokens: Iterable[Any]) -> None:
    for token in tokens:
        if token.children:
            stack: list[Any] = []
            for child in token.children:
                if child.type == "link_open":
                    stack.append(child)
                elif child.type == "link_close" and stack:
                    child.tag = stack.pop().tag


def read_releases(folder: Path, repo: Path, meta: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per `## <version>` section of the catalog's CHANGELOG.md, newest first as written, with the
    checksums of its assets (dist/v<version>/SHA256SUMS when the checkout has it; the catalog's own table
    checksums for the version catalog.json names)."""
    source = folder / "CHANGELOG.md"
    if not source.is_file():
        return []
    from cwcontrib.catalog.fetch import parse_sums

    sections: list[tuple[str, str, list[str]]] = []
    for line in source.read_text(encoding="utf-8").splitlines():
        heading = RELEASE_HEADING.match(line)
        if heading:
            sections.append((heading[1], heading[2].strip(" —-"), []))
        elif sections:
            sections[-1][2].append(line)
    releases = []
    seen: set[str] = set()
    for version, date, lines in sections:
        if version in seen:
            raise SiteError(f"{source}: release {version} has two sections")
        seen.add(version)
        sums: list[tuple[str, str]] = []
        sums_source = None
        sums_file = repo / "dist" / f"v{version}" / "SHA256SUMS"
        if sums_file.is_file():
            try:
                sums = sorted(parse_sums(sums_file.read_text(encoding="utf-8")).items())
                sums_source = f"dist/v{version}/SHA256SUMS"
            except (ValueError, UnicodeDecodeError):
                sums = []
        if not sums and meta.get("version") == version:
            sums = sorted((t["file"], t["sha256"]) for t in meta.get("tables", {}).values())
            sums_source = "catalog.json (the catalog's tables)"
        body, _ = render_markdown("\n".join(lines))
        releases.append({"version": version, "date": date, "changelog": body, "sums": sums,
                         "sums_source": sums_source, "path": release_path(version)})
    return releases


# ---------------------------------------------------------------------------------------------------- pages


def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["f4"] = fmt_float
    env.filters["g"] = fmt_general
    return env


def hyperparameter_summary(trial: dict[str, Any] | None) -> str:
    if trial is None:
        return "—"
    parts = [str(trial["optimizer"]), f"lr {trial['learning_rate']:.4g}", f"batch {trial['batch_size']}",
             f"{trial['epochs']} epochs"]
    if trial.get("optimizer_epsilon") is not None:
        parts.append(f"ε {trial['optimizer_epsilon']:.3g}")
    if trial.get("seed") is not None:
        parts.append(f"seed {trial['seed']}")
    return " · ".join(parts)


def hardware_summary(run: dict[str, Any] | None) -> str:
    if run is None:
        return "—"
    if run["accelerator"] == "cpu":
        return "CPU" + (f" ({run['cpu']})" if run.get("cpu") else "")
    count = run.get("accelerator_count") or 1
    return f"{run['accelerator']}" + (f" ×{count}" if count != 1 else "")


def status_summary(a: str, b: str) -> str:
    return a if a == b else f"{a} / {b}"


def accuracy_cell(run: dict[str, Any] | None, accuracy: float) -> str:
    text = f"{accuracy:.4f}"
    if run is not None and run.get("accuracy_is_k_over_n") and run.get("test_correct") is not None:
        text += f" ({run['test_correct']}/{run['test_size']})"
    return text


def build_pages(catalog: Path, repo: Path) -> Site:
    meta, tables = read_catalog(catalog)
    env = _environment()
    site = Site()
    submissions = {s["submission_id"]: s for s in tables["submissions"]}
    trials = {t["trial_key"]: t for t in tables["trials"]}
    runs = {r["run_id"]: r for r in tables["runs"]}
    pairs = sorted(tables["pairs"], key=lambda p: p["pair_id"])

    paths: dict[str, str] = {}
    for p in pairs:
        paths[p["pair_id"]] = pair_path(p["pair_id"])
    for sid in submissions:
        paths["submission:" + sid] = submission_path(sid)
    folded: dict[str, str] = {}
    for key, path in paths.items():
        other = folded.setdefault(path.lower(), key)
        if other != key:
            raise SiteError(f"{other!r} and {key!r} would share the page {path} on a case-insensitive file system")

    details = {sid: submission_details(repo, sid, s["content_digest"]) for sid, s in sorted(submissions.items())}
    datasheet_html, figures = read_datasheet(catalog)
    releases = read_releases(catalog, repo, meta)

    nav = [("index.html", "Pairs"), ("submissions/index.html", "Submissions"), ("datasheet.html", "Datasheet"),
           ("releases/index.html", "Releases")]

    def render(template: str, page: str, title: str, **context: Any) -> None:
        def link(target: str) -> str:
            return relative(page, target)

        html = env.get_template(template).render(
            title=title, page=page, link=link, nav=[(link(t), label, t == page) for t, label in nav],
            catalog_meta=meta, **context)
        site.add(page, html.encode("utf-8"))

    rows = []
    for p in pairs:
        run_a, run_b = runs.get(p["run_a"]), runs.get(p["run_b"])
        trial = trials.get(f"{p['submission_id']}/{p['trial_id']}")
        owner = submissions.get(p["submission_id"], {})
        rows.append({
            "pair": p, "href": paths[p["pair_id"]], "sub_href": paths["submission:" + p["submission_id"]]
            if p["submission_id"] in submissions else None,
            "architecture": owner.get("architecture") or (run_a or {}).get("architecture") or "—",
            "dataset": owner.get("dataset") or "—",
            "hyperparameters": hyperparameter_summary(trial),
            "accuracy_a": accuracy_cell(run_a, p["accuracy_a"]), "accuracy_b": accuracy_cell(run_b, p["accuracy_b"]),
            "key_a": p["run_a"].rsplit("/", 1)[-1], "key_b": p["run_b"].rsplit("/", 1)[-1],
            "status": status_summary(p["status_a"], p["status_b"]),
            "statuses": " ".join(sorted({p["status_a"], p["status_b"]})),
            "hardware": status_summary(hardware_summary(run_a), hardware_summary(run_b)),
        })
    facets = {
        "architecture": sorted({r["architecture"] for r in rows}),
        "dataset": sorted({r["dataset"] for r in rows}),
        "status": sorted({s for r in rows for s in r["statuses"].split()}),
    }
    diverging = sum(1 for p in pairs if p["diverges"])
    render("pairs.html", "index.html", "Pairs", rows=rows, facets=facets, diverging=diverging,
           threshold=DIVERGES)

    # Per submission.
    by_submission: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_submission.setdefault(row["pair"]["submission_id"], []).append(row)
    render("submissions.html", "submissions/index.html", "Submissions",
           submissions=[(s, paths["submission:" + sid]) for sid, s in sorted(submissions.items())])
    for sid, facts in sorted(submissions.items()):
        refs = [r for r in (facts.get("references") or "").split("; ") if r]
        render("submission.html", paths["submission:" + sid], f"Submission {sid}", sub=facts, details=details[sid],
               references=[(r, reference_link(r)) for r in refs], rows=by_submission.get(sid, []),
               ack_count=len(details[sid].acknowledgements))

    # Per pair.
    labels: dict[str, Any] = {}
    for row in rows:
        p = row["pair"]
        run_a, run_b = runs.get(p["run_a"]), runs.get(p["run_b"])
        sub = submissions.get(p["submission_id"])
        trial = trials.get(f"{p['submission_id']}/{p['trial_id']}")
        compared = None
        why_not = "Neither run ships per-example predictions."
        info = details.get(p["submission_id"])
        if sub is not None and info is not None and run_a is not None and run_b is not None:
            if not info.matches:
                why_not = info.note
            else:
                n, classes = int(sub["test_size"]), int(sub["num_classes"])
                pa = read_predictions(info, p["trial_id"], row["key_a"], n, classes)
                pb = read_predictions(info, p["trial_id"], row["key_b"], n, classes)
                if pa is not None and pb is not None:
                    if sub["dataset"] not in labels:
                        labels[sub["dataset"]] = dataset_labels(sub["dataset"], n)
                    compared = disagreements(pa, pb, labels[sub["dataset"]])
                elif pa is not None or pb is not None:
                    why_not = "Only one of the two runs ships per-example predictions."
        render("pair.html", row["href"], f"Pair {p['pair_id']}", row=row, p=p, run_a=run_a, run_b=run_b, sub=sub,
               hyperparameters=_hyperparameters(trial), compared=compared, why_not=why_not,
               run_rows=side_by_side(run_a, run_b), threshold=DIVERGES)

    # Datasheet, figures, releases.
    render("datasheet.html", "datasheet.html", "Datasheet", datasheet=datasheet_html, figures=figures)
    for figure in figures:
        site.add(f"figures/{figure['file']}", (catalog / figure["file"]).read_bytes())
    render("releases.html", "releases/index.html", "Releases", releases=releases)
    for release in releases:
        render("release.html", release["path"], f"Release {release['version']}", release=release)

    for asset in sorted(STATIC.iterdir()):
        if asset.is_file() and not asset.name.startswith("."):
            site.add(f"static/{asset.name}", asset.read_bytes())
    site.add(".nojekyll", b"")  # GitHub Pages: serve files as they are
    return site


def _hyperparameters(trial: dict[str, Any] | None) -> list[tuple[str, str]]:
    if trial is None:
        return []
    try:
        values = json.loads(trial["hyperparameters"])
    except (ValueError, TypeError):
        return []
    return [(str(k), json.dumps(v) if not isinstance(v, str) else v) for k, v in sorted(values.items())]


# What a re-evaluation proves (runs.evidence, issue 15), as the pair pages say it.
EVIDENCE = {"framework": "re-evaluated in its own framework",
            "onnxruntime": "re-evaluated in ONNX Runtime (its ONNX graph: weaker than its own framework)"}

# (label, run column, formatter): the rows of the side-by-side table on each pair page.
RUN_FIELDS: list[tuple[str, str, str]] = [
    ("Run id", "run_id", "g"), ("Framework key", "framework_key", "g"), ("Framework", "framework", "g"),
    ("Framework version", "framework_version", "g"), ("Keras version", "keras_version", "g"),
    ("Python", "python_version", "g"), ("CUDA", "cuda_version", "g"), ("cuDNN", "cudnn_version", "g"),
    ("Accelerator", "accelerator", "g"), ("Accelerators", "accelerator_count", "g"), ("Driver", "driver", "g"),
    ("CPU", "cpu", "g"), ("Architecture", "architecture", "g"), ("Modifications", "modifications", "g"),
    ("Input (H×W×C)", "input", "g"), ("Claimed accuracy", "test_accuracy", "f4"),
    ("Claimed correct (k)", "test_correct", "g"), ("Test examples (N)", "test_size", "g"),
    ("Accuracy is k/N", "accuracy_is_k_over_n", "g"), ("Epochs trained", "epochs_trained", "g"),
    ("Stopped early", "stopped_early", "g"), ("Test loss", "test_loss", "g"),
    ("Wall time (s)", "wall_time_s", "g"), ("At chance", "at_chance", "g"),
    ("Parameters (fingerprint)", "parameters", "g"), ("Forward FLOPs (fingerprint)", "flops", "g"),
    ("Weights format", "weights_format", "g"), ("Weights size (bytes)", "weights_size", "g"),
    ("Weights sha256", "weights_sha256", "g"), ("Weights path", "weights_path", "g"),
    ("Weights URI", "weights_uri", "g"), ("Verification status", "status", "g"),
    ("Measured correct", "measured_correct", "g"), ("Measured accuracy", "measured_accuracy", "f4"),
    ("Tolerance (examples)", "tolerance", "g"), ("Reproduced", "reproduced", "g"), ("Evidence", "evidence", "ev"),
    ("Verified on device", "verified_device", "g"), ("Harness", "verified_harness", "g"),
    ("Harness sha256", "verified_harness_sha256", "g"), ("Verified on", "verified_on", "g"),
    ("Verified by", "verified_by", "g"), ("Predictions sha256 (harness)", "predictions_sha256", "g"),
]


def _run_value(run: dict[str, Any] | None, column: str, kind: str) -> str:
    if run is None:
        return "—"
    if column == "input":
        return f"{run['input_height']}×{run['input_width']}×{run['input_channels']}"
    if kind == "ev":
        return EVIDENCE.get(run.get(column) or "", "—")  # a catalog before format 2 has no evidence column: "—"
    return fmt_float(run.get(column)) if kind == "f4" else fmt_general(run.get(column))


def side_by_side(run_a: dict[str, Any] | None, run_b: dict[str, Any] | None) -> list[tuple[str, str, str, bool]]:
    """(label, value of run a, value of run b, whether they differ) for each row of a pair page's run table."""
    rows = []
    for label, column, kind in RUN_FIELDS:
        a, b = _run_value(run_a, column, kind), _run_value(run_b, column, kind)
        rows.append((label, a, b, a != b))
    return rows


# ---------------------------------------------------------------------------------------------------- output


def write_site(site: Site, out: Path) -> None:
    """Write every file into a staging folder beside `out`, then swap it in atomically."""
    out = out.resolve() if out.exists() else out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    recover_dir(out)
    staged = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        for rel, data in sorted(site.files.items()):
            path = staged / PurePosixPath(rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        for path in [staged, *staged.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        replace_dir(staged, out)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


def build_site(catalog: Path, out: Path, repo: Path | None = None) -> SiteResult:
    """Render the catalog at `catalog` into the folder `out` (replaced atomically)."""
    if not catalog.is_dir():
        raise SiteError(f"{catalog} is not a folder: give --catalog the catalog folder (catalog/)")
    if out.resolve() == catalog.resolve() or catalog.resolve().is_relative_to(out.resolve()):
        raise SiteError(f"--out {out} would replace the catalog it renders")
    site = build_pages(catalog, repo if repo is not None else catalog.parent)
    write_site(site, out)
    pages = sum(1 for name in site.files if name.endswith(".html"))
    return SiteResult(out, pages, len(site.files), sum(1 for n in site.files if n.startswith("pairs/")))
