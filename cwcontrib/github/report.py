"""A JSON report (docs/report.md) read back into a `Report`, as untrusted data.

The comment workflow renders the report that the validate workflow uploaded, and that workflow ran a stranger's
pull request: its artifact may be anything. So the file is bounded in size, parsed strictly (UTF-8, no duplicate
keys, no NaN or Infinity, bounded nesting), every field the rendering reads is checked for type, range and
consistency (codes and names from the registry, counts that add up, the verdict that follows from them), and
nothing else is kept. Anything else is `ReportRefused`: a refused report is never rendered, never posted.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections import Counter
from pathlib import Path
from typing import Any

from cwcontrib.checks.base import STAGES
from cwcontrib.codes import CODE_PATTERN, REGISTRY
from cwcontrib.findings import Finding, Location, Severity
from cwcontrib.limits import DEFAULT_LIMITS
from cwcontrib.validate import REPORT_FORMAT_VERSION, ListedFindings, Report, count_findings

MAX_REPORT_BYTES = 64 * 1024 * 1024  # a real report lists at most 200 findings per code, plus predictions
MAX_TEXT = 100_000  # characters in one string
MAX_COUNT = 10**9  # any count; a sweep of the original release has about 2,400 runs
MAX_FINDINGS = DEFAULT_LIMITS.findings_per_code * len(REGISTRY)
MAX_RESULTS = 100_000  # pair verdicts, re-evaluated runs, pairs
STAGE_STATUSES = ("passed", "failed", "skipped")


class ReportRefused(ValueError):
    """The file is not a cwcontrib JSON report this version can render."""


def _refuse(where: str, why: str) -> ReportRefused:
    return ReportRefused(f"{where}: {why}")


def _object(value: Any, where: str, required: set[str], optional: frozenset[str] = frozenset(),
            extra_ok: bool = False) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _refuse(where, "not an object")
    missing = required - value.keys()
    if missing:
        raise _refuse(where, f"missing {', '.join(sorted(missing))}")
    unknown = value.keys() - required - optional
    if unknown and not extra_ok:
        raise _refuse(where, f"unexpected key(s) {', '.join(sorted(map(repr, unknown))[:5])}")
    return value


def _text(value: Any, where: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise _refuse(where, "not a string")
    if len(value) > limit:
        raise _refuse(where, f"longer than {limit} characters")
    return value


def _count(value: Any, where: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_COUNT:
        raise _refuse(where, f"not an integer from {low} to {MAX_COUNT}")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _refuse(where, "not a finite number")
    if abs(value) > MAX_COUNT:
        raise _refuse(where, "out of range")
    return float(value)


def _list(value: Any, where: str, limit: int) -> list[Any]:
    if not isinstance(value, list):
        raise _refuse(where, "not an array")
    if len(value) > limit:
        raise _refuse(where, f"more than {limit} entries")
    return value


def _code(value: Any, where: str) -> str:
    if not isinstance(value, str) or not CODE_PATTERN.match(value) or value not in REGISTRY:
        raise _refuse(where, "not a registered finding code")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        duplicate = next(key for key, n in Counter(keys).items() if n > 1)
        raise ReportRefused(f"duplicate key {duplicate[:100]!r}")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise ReportRefused(f"{name} is not JSON")


def parse_json(data: bytes) -> Any:
    """Strict JSON: UTF-8, unique keys, no NaN or Infinity, nesting bounded by the interpreter's recursion limit."""
    if len(data) > MAX_REPORT_BYTES:
        raise ReportRefused(f"larger than {MAX_REPORT_BYTES} bytes")
    try:
        text = data.decode("utf-8")
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except ReportRefused:
        raise
    except RecursionError:
        raise ReportRefused("nested too deeply") from None
    except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError, an integer of over 4,300 digits
        raise ReportRefused(f"not a JSON document: {type(exc).__name__}: {str(exc)[:200]}") from None


def _finding(value: Any, where: str) -> Finding:
    data = _object(value, where, {"code", "name", "severity", "message", "location", "hint"},
                   frozenset({"acknowledged"}))
    code = _code(data["code"], f"{where}.code")
    entry = REGISTRY[code]
    if data["name"] != entry.name:
        raise _refuse(f"{where}.name", f"not the name of {code}")
    if data["severity"] != entry.severity.value:
        raise _refuse(f"{where}.severity", f"not the severity of {code}")
    loc = _object(data["location"], f"{where}.location", {"file"}, frozenset({"line", "pointer", "row", "column"}))
    location = Location(
        file=_text(loc["file"], f"{where}.location.file", 10_000),
        line=_count(loc["line"], f"{where}.location.line", 1) if "line" in loc else None,
        pointer=_text(loc["pointer"], f"{where}.location.pointer", 10_000) if "pointer" in loc else None,
        row=_count(loc["row"], f"{where}.location.row", 1) if "row" in loc else None,
        column=_text(loc["column"], f"{where}.location.column", 10_000) if "column" in loc else None,
    )
    acknowledged = None
    if "acknowledged" in data:
        if entry.severity is not Severity.WARNING:
            raise _refuse(f"{where}.acknowledged", "only a warning can be acknowledged")
        reason = _object(data["acknowledged"], f"{where}.acknowledged", {"reason"})["reason"]
        acknowledged = _text(reason, f"{where}.acknowledged.reason")
    return Finding(code, entry.name, entry.severity, _text(data["message"], f"{where}.message"), location,
                   _text(data["hint"], f"{where}.hint"), acknowledged)


def _results(data: dict[str, Any]) -> dict[str, Any]:
    """The stage 4 and 5 results the Markdown report renders (reporters.result_lines), checked; nothing else."""
    extra: dict[str, Any] = {}
    if "pair_verdicts" in data:
        verdicts = _list(data["pair_verdicts"], "pair_verdicts", MAX_RESULTS)
        extra["pair_verdicts"] = [
            {"summary": _text(_object(v, f"pair_verdicts[{i}]", {"summary"}, extra_ok=True)["summary"],
                              f"pair_verdicts[{i}].summary", 10_000)} for i, v in enumerate(verdicts)]
    if "evaluation" in data:
        evaluation = _object(data["evaluation"], "evaluation", set(), extra_ok=True)
        kept: dict[str, Any] = {}
        runs = _list(evaluation.get("runs", []), "evaluation.runs", MAX_RESULTS)
        if runs:
            kept["runs"] = [_run(run, f"evaluation.runs[{i}]") for i, run in enumerate(runs)]
        pairs = _list(evaluation.get("pairs", []), "evaluation.pairs", MAX_RESULTS)
        if pairs:
            kept["pairs"] = [_pair(pair, f"evaluation.pairs[{i}]") for i, pair in enumerate(pairs)]
        extra["evaluation"] = kept
    return extra


def _run(value: Any, where: str) -> dict[str, Any]:
    run = _object(value, where, {"trial", "framework", "claimed", "measured", "tolerance", "reproduced", "device"},
                  extra_ok=True)
    if not isinstance(run["reproduced"], bool):
        raise _refuse(f"{where}.reproduced", "not a boolean")
    return {"trial": _text(run["trial"], f"{where}.trial", 1_000),
            "framework": _text(run["framework"], f"{where}.framework", 1_000),
            "claimed": _text(run["claimed"], f"{where}.claimed", 100),
            "measured": _text(run["measured"], f"{where}.measured", 100),
            "tolerance": _count(run["tolerance"], f"{where}.tolerance"), "reproduced": run["reproduced"],
            "device": _text(run["device"], f"{where}.device", 100)}


def _pair(value: Any, where: str) -> dict[str, Any]:
    pair = _object(value, where, {"trial", "frameworks", "disagreements", "measured_gap", "mcnemar"}, extra_ok=True)
    frameworks = _list(pair["frameworks"], f"{where}.frameworks", 2)
    if len(frameworks) != 2:
        raise _refuse(f"{where}.frameworks", "not two framework keys")
    mcnemar = _object(pair["mcnemar"], f"{where}.mcnemar", {"p_value"}, extra_ok=True)
    return {"trial": _text(pair["trial"], f"{where}.trial", 1_000),
            "frameworks": [_text(f, f"{where}.frameworks", 1_000) for f in frameworks],
            "disagreements": _count(pair["disagreements"], f"{where}.disagreements"),
            "measured_gap": _number(pair["measured_gap"], f"{where}.measured_gap"),
            "mcnemar": {"p_value": _number(mcnemar["p_value"], f"{where}.mcnemar.p_value")}}


def report_from_dict(value: Any) -> Report:
    """A `Report` from the JSON report's object, checked field by field and for consistency."""
    data = _object(value, "report", {"report_format", "submission", "valid", "summary", "stages", "findings"},
                   extra_ok=True)  # docs/report.md: new fields may be added; only the known ones are read
    if data["report_format"] != REPORT_FORMAT_VERSION:
        raise _refuse("report_format", f"not {REPORT_FORMAT_VERSION!r}, the format this cwcontrib renders")
    submission = _text(data["submission"], "submission", 1_000)
    if not isinstance(data["valid"], bool):
        raise _refuse("valid", "not a boolean")
    summary = _object(data["summary"], "summary",
                      {"errors", "warnings", "trials", "runs", "by_code", "listed", "truncated", "acknowledged"})
    stages_in = _object(data["stages"], "stages", set(), frozenset(STAGES))
    stages = {}
    for stage in STAGES:  # the pipeline's order, whatever the file's
        if stage in stages_in:
            if stages_in[stage] not in STAGE_STATUSES:
                raise _refuse(f"stages.{stage}", f"not one of {', '.join(STAGE_STATUSES)}")
            stages[stage] = stages_in[stage]
    findings = [_finding(f, f"findings[{i}]") for i, f in enumerate(_list(data["findings"], "findings", MAX_FINDINGS))]

    by_code = {_code(c, "summary.by_code"): _count(n, f"summary.by_code.{c}", 1)
               for c, n in _object(summary["by_code"], "summary.by_code", set(), extra_ok=True).items()}
    truncated = {_code(c, "summary.truncated"): _count(n, f"summary.truncated.{c}", 1)
                 for c, n in _object(summary["truncated"], "summary.truncated", set(), extra_ok=True).items()}
    listed = Counter(f.code for f in findings)
    if _count(summary["listed"], "summary.listed") != len(findings):
        raise _refuse("summary.listed", "not the number of findings listed")
    for code in listed.keys() | by_code.keys() | truncated.keys():
        if by_code.get(code, 0) != listed[code] + truncated.get(code, 0):
            raise _refuse(f"summary.by_code.{code}", "not the findings listed plus those truncated")
    for severity, key in ((Severity.ERROR, "errors"), (Severity.WARNING, "warnings")):
        if _count(summary[key], f"summary.{key}") != sum(n for c, n in by_code.items()
                                                          if REGISTRY[c].severity is severity):
            raise _refuse(f"summary.{key}", "not the sum of summary.by_code")
    if data["valid"] is not (summary["errors"] == 0):
        raise _refuse("valid", "contradicts summary.errors")
    # The JSON names no file for the findings the per-code cap left unlisted. They follow the listed ones in
    # report order (file first), so they are counted with the code's last listed file: exactly right when a
    # code repeats within one file (a trials table), and every code's total is right whatever the files.
    totals = count_findings(findings)
    last_file = {f.code: f.location.file for f in findings}
    for code, n in truncated.items():
        totals[(code, REGISTRY[code].severity, last_file.get(code, ""))] += n
    # Likewise acknowledged warnings that are not listed: counted (in code order) with those unlisted findings.
    acknowledged = count_findings(findings, acknowledged=True)
    unlisted = _count(summary["acknowledged"], "summary.acknowledged") - sum(acknowledged.values())
    for code, n in sorted(truncated.items()):
        if unlisted > 0 and REGISTRY[code].severity is Severity.WARNING:
            acknowledged[(code, Severity.WARNING, last_file.get(code, ""))] += min(n, unlisted)
            unlisted -= min(n, unlisted)
    if unlisted:
        raise _refuse("summary.acknowledged", "not the number of acknowledged warnings, listed or not")
    return Report(submission, ListedFindings(findings, totals, acknowledged), stages,
                  trials=_count(summary["trials"], "summary.trials"), runs=_count(summary["runs"], "summary.runs"),
                  extra=_results(data))


def load_report(path: Path) -> Report:
    """Read and check a JSON report file (see the module's docstring); `ReportRefused` says why not."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block the step
    except OSError as exc:
        raise ReportRefused(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ReportRefused(f"{path} is not a regular file")
        data = f.read(MAX_REPORT_BYTES + 1)
    return report_from_dict(parse_json(data))
