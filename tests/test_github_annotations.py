"""`--format github`: GitHub keeps 10 error and 10 warning annotations per step and drops the rest silently, so
cwcontrib picks which are shown (errors first, every code once before any repeats) and says what it left out."""

from __future__ import annotations

import re
from collections import Counter

from cwcontrib.codes import REGISTRY, finding
from cwcontrib.findings import Finding, Location, Severity, sorted_findings
from cwcontrib.reporters import render_github
from cwcontrib.validate import Report

ERRORS = [c for c in sorted(REGISTRY) if REGISTRY[c].severity is Severity.ERROR and REGISTRY[c].active]
WARNINGS = [c for c in sorted(REGISTRY) if REGISTRY[c].severity is Severity.WARNING and REGISTRY[c].active]


def report_of(findings: list[Finding]) -> Report:
    return Report("sweep", sorted_findings(findings), {"manifest": "passed"})


def levels(lines: list[str]) -> list[str]:
    return [m.group(1) for line in lines if (m := re.match(r"::(error|warning|notice) ", line))]


def titled(lines: list[str], level: str) -> list[str]:
    return [re.search(r"title=(CW[0-9]{3})", line).group(1)  # type: ignore[union-attr]
            for line in lines if line.startswith(f"::{level} ")]


def test_at_most_ten_of_each_level_every_code_before_repeats_and_a_closing_notice() -> None:
    # 20 files with the first error code (sorted first, so in report order it would fill all ten), then one file
    # each of four more error codes; 14 warnings over two codes.
    findings = [finding(ERRORS[0], f"bad {i}", Location(f"a{i:02d}.csv")) for i in range(20)]
    findings += [finding(code, "bad", Location(f"z-{code}.csv")) for code in ERRORS[1:5]]
    findings += [finding(WARNINGS[0], "meh", Location(f"b{i:02d}.csv")) for i in range(12)]
    findings += [finding(WARNINGS[1], "meh", Location(f"w{i}.csv")) for i in range(2)]
    lines = render_github(report_of(findings)).splitlines()
    assert levels(lines) == ["error"] * 10 + ["warning"] * 10 + ["notice"]
    assert set(titled(lines, "error")[:5]) == set(ERRORS[:5])  # each code once, then repeats
    assert Counter(titled(lines, "error"))[ERRORS[0]] == 6
    assert set(titled(lines, "warning")[:2]) == set(WARNINGS[:2])
    notice = lines[-2]
    assert "title=cwcontrib%3A annotations not shown::" in notice
    assert "18 annotations not shown (14 error, 4 warning; 18 findings)" in notice
    assert lines[-1] == "cwcontrib: sweep: INVALID — 24 errors, 14 warnings (0 trials, 0 runs)"


def test_no_notice_when_everything_is_shown() -> None:
    findings = [finding(ERRORS[0], "bad", Location(f"a{i}.csv")) for i in range(10)]
    findings += [finding(WARNINGS[0], "meh", Location(f"b{i}.csv")) for i in range(10)]
    lines = render_github(report_of(findings)).splitlines()
    assert levels(lines) == ["error"] * 10 + ["warning"] * 10
    assert len(lines) == 21 and lines[-1].startswith("cwcontrib: sweep: INVALID")


def test_acknowledged_warnings_keep_one_notice_free() -> None:
    findings = [Finding(**{**vars(finding(WARNINGS[0], "meh", Location(f"b{i:02d}.csv"))), "acknowledged": "known"})
                for i in range(12)]
    lines = render_github(report_of(findings)).splitlines()
    assert levels(lines) == ["notice"] * 10  # nine acknowledged, one saying three were not shown
    assert "3 annotations not shown (3 notice; 3 findings)" in lines[-2]


def test_a_group_counts_every_finding_of_its_code_and_file() -> None:
    findings = [finding(ERRORS[0], f"bad {i}", Location(f"a{i % 12}.csv", i + 1)) for i in range(120)]
    lines = render_github(report_of(findings)).splitlines()
    assert levels(lines) == ["error"] * 10 + ["notice"]
    assert "2 annotations not shown (2 error; 20 findings)" in lines[-2]
