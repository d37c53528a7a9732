"""Rendering a report: text for a terminal, JSON for machines, Markdown for a PR comment, and
GitHub workflow annotations. Reporters only render; the order of findings is the report's own."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from cwcontrib.findings import Finding, printable
from cwcontrib.validate import Report


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _counts(report: Report) -> str:
    verdict = "valid" if report.ok else "INVALID"
    return (f"{verdict} — {_plural(len(report.errors), 'error')}, {_plural(len(report.warnings), 'warning')} "
            f"({_plural(report.trials, 'trial')}, {_plural(report.runs, 'run')})")


def _headline(report: Report) -> str:
    # The submission name is the folder's name when the manifest is unreadable: a stranger's text.
    return f"{printable(report.submission)}: {_counts(report)}"


def result_lines(report: Report) -> list[str]:
    """Stages 4-5 in one line each: pair verdicts, re-evaluated runs, pair disagreements."""
    lines = [f"architecture {v['summary']}" for v in report.extra.get("pair_verdicts", [])]
    evaluation = report.extra.get("evaluation", {})
    for run in evaluation.get("runs", []):
        verdict = "reproduced" if run["reproduced"] else "NOT reproduced"
        lines.append(f"re-evaluated {run['trial']} {run['framework']}: claimed {run['claimed']}, measured "
                     f"{run['measured']} (±{run['tolerance']}) {verdict} on {run['device']}")
    for pair in evaluation.get("pairs", []):
        first, second = pair["frameworks"]
        lines.append(f"pair {pair['trial']}: {first} and {second} disagree on {pair['disagreements']} examples "
                     f"(gap {pair['measured_gap']:.4f}); McNemar p = {pair['mcnemar']['p_value']:.3g}")
    return lines


def render_text(report: Report) -> str:
    lines = []
    for f in report.findings:
        lines.append(printable(f"{f.location.render()}: {f.severity.value} {f.code} [{f.name}] {f.message}"))
        if f.hint:
            lines.append(printable(f"    hint: {f.hint}"))
    stages = ", ".join(f"{stage} {status}" for stage, status in report.stages.items())
    lines += [*map(printable, result_lines(report)), f"stages: {stages}", _headline(report)]
    return "\n".join(lines) + "\n"


def render_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2, sort_keys=True, ensure_ascii=True) + "\n"


# Every ASCII punctuation character may be backslash-escaped in CommonMark, and escaped it is literal text:
# no emphasis, link, image, code span, HTML tag, entity, heading, list item or table-cell break.
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# What GitHub turns into a ping or a link in plain text after Markdown is parsed, so escaping cannot stop it:
# @mentions and e-mail addresses, #123 references, scheme:// and www. autolinks. A zero-width joiner
# after the trigger breaks the match and renders as nothing.
_GITHUB_TRIGGERS = re.compile(r"(@|#|:(?=//)|(?i:www)(?=\.))")
ZERO_WIDTH_JOINER = "\u200d"


def markdown_cell(text: str) -> str:
    """A stranger's text (file names, values, messages quoting them) as inert Markdown on one line: it renders
    as the same characters, and can never ping, link, embed, inject HTML or break the table it sits in."""
    text = printable(" ".join(text.split()))  # no newline may end the table row early
    text = _GITHUB_TRIGGERS.sub(lambda m: m.group(0) + ZERO_WIDTH_JOINER, text)
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def render_markdown(report: Report) -> str:
    icon = "✅" if report.ok else "❌"
    lines = [f"### {icon} cwcontrib: {markdown_cell(report.submission)}: {_counts(report)}", ""]
    lines += ["| stage | status |", "| --- | --- |"]
    lines += [f"| {stage} | {status} |" for stage, status in report.stages.items()]
    if report.findings:
        lines += ["", "| severity | code | where | message | what to do |", "| --- | --- | --- | --- | --- |"]
        for f in report.findings:
            lines.append(f"| {f.severity.value} | `{f.code}` {f.name} | {markdown_cell(f.location.render())} | "
                         f"{markdown_cell(f.message)} | {markdown_cell(f.hint)} |")
    results = result_lines(report)
    if results:
        lines += ["", *[f"- {markdown_cell(line)}" for line in results]]
    lines += ["", "`cwcontrib explain CODE` says more about each code."]
    return "\n".join(lines) + "\n"


def _escape_data(text: str) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return printable(text)


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
    # Not a workflow command: the line starts with our own words, and `_headline` escapes newlines.
    lines.append(f"cwcontrib: {_headline(report)}")
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[Report], str]] = {
    "text": render_text,
    "json": render_json,
    "markdown": render_markdown,
    "github": render_github,
}
