"""Rendering a report: text for a terminal, JSON for machines, Markdown for a PR comment, and
GitHub workflow annotations. Reporters only render; the order of findings is the report's own."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from cwcontrib.codes import REGISTRY
from cwcontrib.findings import Finding, Severity, printable
from cwcontrib.validate import Report


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _counts(report: Report) -> str:
    verdict = "valid" if report.ok else "INVALID"
    acknowledged = sum(report.acknowledged.values())
    marked = f" ({acknowledged} acknowledged)" if acknowledged else ""
    return (f"{verdict} — {_plural(report.error_count, 'error')}, {_plural(report.warning_count, 'warning')}{marked} "
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


def _not_listed(report: Report) -> list[str]:
    return [f"... and {n} more {code} findings, counted but not listed (over the per-code cap)"
            for code, n in report.truncated.items()]


def render_text(report: Report) -> str:
    lines = []
    for f in report.findings:
        lines.append(printable(f"{f.location.render()}: {f.severity.value} {f.code} [{f.name}] {f.message}"))
        if f.acknowledged is not None:
            lines.append(printable(f"    acknowledged: {f.acknowledged}"))
        if f.hint:
            lines.append(printable(f"    hint: {f.hint}"))
    stages = ", ".join(f"{stage} {status}" for stage, status in report.stages.items())
    lines += [*_not_listed(report), *map(printable, result_lines(report)), f"stages: {stages}", _headline(report)]
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


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def markdown_cell(text: str, limit: int = 100_000) -> str:
    """A stranger's text (file names, values, messages quoting them) as inert Markdown on one line: it renders
    as the same characters (the first `limit` of them), and can never ping, link, embed, inject HTML or break
    the table it sits in. At most three characters are written per character kept."""
    text = _clip(printable(" ".join(text.split())), limit)  # no newline may end the table row early
    text = _GITHUB_TRIGGERS.sub(lambda m: m.group(0) + ZERO_WIDTH_JOINER, text)
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


@dataclass(frozen=True)
class Group:
    """The findings of one code in one file: how many there are (the true count, listed or not) and the
    first few that the report lists."""

    code: str
    name: str
    severity: Severity
    file: str
    count: int
    listed: tuple[Finding, ...]
    acknowledged: int = 0  # how many of `count` the manifest acknowledges

    @property
    def severity_label(self) -> str:
        if not self.acknowledged:
            return self.severity.value
        if self.acknowledged == self.count:
            return f"{self.severity.value} (acknowledged)"
        return f"{self.severity.value} ({self.acknowledged} of {self.count} acknowledged)"

    @property
    def message(self) -> str:
        return self.listed[0].message if self.listed else REGISTRY[self.code].summary

    @property
    def hint(self) -> str:
        return self.listed[0].hint if self.listed else REGISTRY[self.code].fix

    def where(self, shown: int = 3) -> str:
        """The file, or the first `shown` locations in it."""
        if not self.listed:
            return self.file or "."
        places = [f.location.render() for f in self.listed[:shown]]
        return "; ".join(places) + ("; …" if self.count > shown else "")


def grouped(report: Report) -> list[Group]:
    """One group per code and file (and severity), errors first, then in report order; every counted finding
    is in a group, including those the per-code cap left out of the list."""
    listed: dict[tuple[str, Severity, str], list[Finding]] = {}
    for f in report.findings:
        listed.setdefault((f.code, f.severity, f.location.file), []).append(f)
    order = {key: i for i, key in enumerate(listed)}
    keys = sorted(report.totals, key=lambda k: (k[1] is not Severity.ERROR, order.get(k, len(order)), k[0], k[2]))
    return [Group(code, REGISTRY[code].name, severity, file, report.totals[(code, severity, file)],
                  tuple(listed.get((code, severity, file), ())), report.acknowledged[(code, severity, file)])
            for code, severity, file in keys]


# GitHub refuses a comment body over 65,536 characters; the margin leaves room for what a workflow adds around it.
COMMENT_LIMIT = 65_536
_BUDGET = COMMENT_LIMIT - 1_536


def _fill(lines: list[str], candidates: list[str], budget: int, more: Callable[[int], str]) -> int:
    """Append candidates to `lines` while they fit in `budget` characters (newlines included), keeping room for
    the line that says how many were left out; return the budget left."""
    reserve = 300
    for i, line in enumerate(candidates):
        if len(line) + 1 > budget - reserve:
            lines.append(more(len(candidates) - i))
            return budget - len(lines[-1]) - 1
        lines.append(line)
        budget -= len(line) + 1
    return budget


def _markdown_row(group: Group) -> str:
    what = group.hint
    reasons = [f.acknowledged for f in group.listed if f.acknowledged is not None]
    if reasons:  # the contributor's reason, as inert as any stranger's text
        what = f"acknowledged: {reasons[0]}"
    return (f"| {group.severity_label} | `{group.code}` {group.name} | {markdown_cell(group.where(), 360)} | "
            f"{group.count} | {markdown_cell(group.message, 300)} | {markdown_cell(what, 300)} |")


def _more_rows(left_out: list[Group]) -> str:
    findings = _plural(sum(g.count for g in left_out), "finding")
    return f"\n… {_plural(len(left_out), 'more row')} ({findings}) not shown: `--format text` lists them."


def _by_code(report: Report) -> str:
    """Every code with its true count, and how many of them the JSON report lists when the cap cut it."""
    truncated = report.truncated
    return ", ".join(f"`{code}` {REGISTRY[code].name} {n}" + (f" ({n - truncated[code]} listed)" if code in truncated
                                                               else "") for code, n in report.by_code.items())


def render_markdown(report: Report) -> str:
    """A pull-request comment: one row per code and file with the true count, under GitHub's size limit."""
    icon = "✅" if report.ok else "❌"
    head = [f"### {icon} cwcontrib: {markdown_cell(report.submission, 200)}: {_counts(report)}", ""]
    head += ["| stage | status |", "| --- | --- |"]
    head += [f"| {stage} | {status} |" for stage, status in report.stages.items()]
    tail = ["", "`cwcontrib explain CODE` says more about each code; `--format text` lists every finding."]
    lines = list(head)
    budget = _BUDGET - sum(len(line) + 1 for line in head + tail)
    groups = grouped(report)
    if groups:
        head = ["", f"Findings by code: {_by_code(report)}."]
        lines += head
        budget -= sum(len(line) + 1 for line in head)
        table = ["", "| severity | code | where (first) | findings | message (first) | what to do |",
                 "| --- | --- | --- | --- | --- | --- |"]
        lines += table
        budget -= sum(len(line) + 1 for line in table)
        budget = _fill(lines, [_markdown_row(g) for g in groups], budget, lambda n: _more_rows(groups[-n:]))
    results = result_lines(report)
    if results:
        lines.append("")
        _fill(lines, [f"- {markdown_cell(line, 300)}" for line in results], budget - 1,
              lambda n: f"- … and {n} more results (`--format json` has them all).")
    return "\n".join(lines + tail) + "\n"


def _escape_data(text: str) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return printable(text)


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(severity: Severity, file: str, line: int | None, title: str, message: str, path_prefix: str,
                acknowledged: bool = False) -> str:
    level = "error" if severity is Severity.ERROR else "notice" if acknowledged else "warning"
    props = []
    if file and file != ".":
        props.append(f"file={_escape_property(path_prefix + file)}")
    if line is not None:
        props.append(f"line={line}")
    props.append(f"title={_escape_property(title)}")
    return f"::{level} {','.join(props)}::{_escape_data(message)}"


def github_annotation(f: Finding, path_prefix: str) -> str:
    detail = f.message + (f" (at {f.location.pointer})" if f.location.pointer else "")
    return _annotation(f.severity, f.location.file, f.location.line, f"{f.code} {f.name}", f"{detail}. {f.hint}",
                       path_prefix, acknowledged=f.acknowledged is not None)


def _level(group: Group) -> str:
    """The annotation level: error, warning, or notice when the manifest acknowledges every finding of it."""
    if group.severity is Severity.ERROR:
        return "error"
    return "notice" if group.count == group.acknowledged else "warning"


def group_annotation(group: Group, path_prefix: str) -> str:
    """One annotation per code and file: the count, the first message and locations, the hint."""
    first = group.listed[0].location.line if group.listed else None
    count = f"{_plural(group.count, 'finding')}: " if group.count > 1 else ""
    where = f" (at {_clip(group.where(), 360)})" if group.listed else ""
    message = f"{count}{_clip(group.message, 500)}{where}. {_clip(group.hint, 500)}"
    return _annotation(group.severity, group.file, first, f"{group.code} {group.name}", message, path_prefix,
                       acknowledged=_level(group) == "notice")


# GitHub keeps at most 10 error, 10 warning and 10 notice annotations per step (50 per job) and drops the rest
# without a word: cwcontrib chooses which are shown, and one notice of the ten is kept to say what was not.
ANNOTATIONS_PER_LEVEL = {"error": 10, "warning": 10, "notice": 9}
_LEVELS = ("error", "warning", "notice")


def ranked(groups: list[Group]) -> list[Group]:
    """Errors first, then warnings, then acknowledged warnings; within each, every code's first group (in report
    order) before any code's second, and so on, so that the annotations shown name as many codes as they can."""
    seen: dict[tuple[str, str], int] = {}
    keyed = []
    for i, group in enumerate(groups):
        level = _level(group)
        repeat = seen.get((level, group.code), 0)
        seen[(level, group.code)] = repeat + 1
        keyed.append(((_LEVELS.index(level), repeat, i), group))
    return [group for _, group in sorted(keyed, key=lambda pair: pair[0])]


def _not_shown(left_out: list[Group]) -> str:
    by_level = {level: sum(_level(g) == level for g in left_out) for level in _LEVELS}
    levels = ", ".join(f"{n} {level}" for level, n in by_level.items() if n)
    findings = _plural(sum(g.count for g in left_out), "finding")
    message = (f"{_plural(len(left_out), 'annotation')} not shown ({levels}; {findings}): GitHub shows at most 10 "
               "errors and 10 warnings per step. `--format text` lists every finding, the JSON report has them all.")
    return f"::notice title={_escape_property('cwcontrib: annotations not shown')}::{_escape_data(message)}"


def render_github(report: Report, path_prefix: str = "") -> str:
    """Workflow annotations grouped by code and file, ranked (errors first, one per code before repeats), at most
    10 of each level, then a notice saying how many were not shown, then the headline; under GitHub's
    comment-size limit."""
    lines: list[str] = []
    # The headline is no workflow command: it starts with our own words, and `_headline` escapes newlines.
    budget = _BUDGET - len(_headline(report)) - 300 - 20
    shown = dict.fromkeys(_LEVELS, 0)
    left_out: list[Group] = []
    for group in ranked(grouped(report)):
        level, line = _level(group), group_annotation(group, path_prefix)
        if shown[level] >= ANNOTATIONS_PER_LEVEL[level] or len(line) + 1 > budget:
            left_out.append(group)
            continue
        lines.append(line)
        budget -= len(line) + 1
        shown[level] += 1
    if left_out:
        lines.append(_not_shown(left_out))
    lines.append(f"cwcontrib: {_headline(report)}")
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[Report], str]] = {
    "text": render_text,
    "json": render_json,
    "markdown": render_markdown,
    "github": render_github,
}
