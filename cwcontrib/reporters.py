"""Rendering a report: text for a terminal, JSON for machines, Markdown for a PR comment, and
GitHub workflow annotations. Reporters only render; the order of findings is the report's own."""

from __future__ import annotations

import html
import json
from collections.abc import Callable

from cwcontrib.findings import Finding
from cwcontrib.validate import Report


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _headline(report: Report) -> str:
    verdict = "valid" if report.ok else "INVALID"
    return (f"{report.submission}: {verdict} — {_plural(len(report.errors), 'error')}, "
            f"{_plural(len(report.warnings), 'warning')} "
            f"({_plural(report.trials, 'trial')}, {_plural(report.runs, 'run')})")


def render_text(report: Report) -> str:
    lines = []
    for f in report.findings:
        lines.append(f"{f.location.render()}: {f.severity.value} {f.code} [{f.name}] {f.message}")
        if f.hint:
            lines.append(f"    hint: {f.hint}")
    stages = ", ".join(f"{stage} {status}" for stage, status in report.stages.items())
    lines += [f"stages: {stages}", _headline(report)]
    return "\n".join(lines) + "\n"


def render_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def markdown_cell(text: str) -> str:
    """Escape text for a Markdown table cell: no HTML, no table breaks, no formula-like lead."""
    text = html.escape(text, quote=False).replace("|", "\\|").replace("`", "\\`")
    text = " ".join(text.split())
    if text[:1] in ("=", "+", "-", "@"):
        text = "\\" + text
    return text


def render_markdown(report: Report) -> str:
    icon = "✅" if report.ok else "❌"
    lines = [f"### {icon} cwcontrib: {markdown_cell(_headline(report))}", ""]
    lines += ["| stage | status |", "| --- | --- |"]
    lines += [f"| {stage} | {status} |" for stage, status in report.stages.items()]
    if report.findings:
        lines += ["", "| severity | code | where | message | what to do |", "| --- | --- | --- | --- | --- |"]
        for f in report.findings:
            lines.append(f"| {f.severity.value} | `{f.code}` {f.name} | {markdown_cell(f.location.render())} | "
                         f"{markdown_cell(f.message)} | {markdown_cell(f.hint)} |")
    lines += ["", "`cwcontrib explain CODE` says more about each code."]
    return "\n".join(lines) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(f: Finding, path_prefix: str) -> str:
    level = "error" if f.severity.value == "error" else "warning"
    props = []
    if f.location.file and f.location.file != ".":
        props.append(f"file={_escape_property(path_prefix + f.location.file)}")
    if f.location.line is not None:
        props.append(f"line={f.location.line}")
    props.append(f"title={_escape_property(f'{f.code} {f.name}')}")
    detail = f.message + (f" (at {f.location.pointer})" if f.location.pointer else "")
    return f"::{level} {','.join(props)}::{_escape_data(f'{detail}. {f.hint}')}"


def render_github(report: Report, path_prefix: str = "") -> str:
    lines = [github_annotation(f, path_prefix) for f in report.findings]
    lines.append(_headline(report))
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[Report], str]] = {
    "text": render_text,
    "json": render_json,
    "markdown": render_markdown,
    "github": render_github,
}
