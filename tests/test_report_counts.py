"""Honest, bounded reports: summary counts are the true counts (the per-code cap limits only what is listed,
and the report says what it left out), and the Markdown and GitHub outputs group repeated findings and stay
under GitHub's 65,536-character comment limit whatever the submission."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest

from cwcontrib.checks import Options
from cwcontrib.codes import REGISTRY, finding
from cwcontrib.findings import Finding, Location, Severity, sorted_findings
from cwcontrib.reporters import COMMENT_LIMIT, render_github, render_json, render_markdown, render_text
from cwcontrib.trials import flatten
from cwcontrib.validate import Report, _cap_per_code
from cwcontrib.validate import validate as run_validate
from tests.conftest import Submission
from tests.test_reporters import assert_inert

CAP = 200
TRIALS = 400


def synthetic_findings(n: int) -> list[Finding]:
    """`n` findings over 20 codes (errors and warnings) and 3,000 files, each message 5,000 characters of
    a stranger's text."""
    errors = [c for c in sorted(REGISTRY) if REGISTRY[c].severity is Severity.ERROR][:10]
    codes = errors + [c for c in sorted(REGISTRY) if REGISTRY[c].severity is Severity.WARNING][:10]
    hostile = "@octocat [x](https://evil.example) <img src=x> | `tick` " * 90
    return [finding(codes[i % len(codes)], f"{i}: {hostile}", Location(f"data/{i % 3000}@x.csv", i % 97 + 1),
                    hint=hostile) for i in range(n)]


@pytest.fixture(scope="module")
def huge() -> tuple[list[Finding], Report]:
    findings = synthetic_findings(100_000)
    report = Report("huge", _cap_per_code(sorted_findings(findings), CAP), {"manifest": "passed"})
    return findings, report


def test_summary_counts_every_finding_and_says_what_is_not_listed(huge: tuple[list[Finding], Report]) -> None:
    findings, report = huge
    summary = json.loads(render_json(report))["summary"]
    errors = sum(f.severity is Severity.ERROR for f in findings)
    assert (summary["errors"], summary["warnings"]) == (errors, len(findings) - errors)
    assert summary["by_code"] == {code: 5_000 for code in sorted({f.code for f in findings})}
    assert summary["listed"] == len(report.findings) == 20 * CAP
    assert summary["truncated"] == {code: 5_000 - CAP for code in summary["by_code"]}
    assert not report.ok


def test_markdown_and_github_outputs_stay_under_the_comment_limit(huge: tuple[list[Finding], Report]) -> None:
    _, report = huge
    markdown = render_markdown(report)
    assert len(markdown) < COMMENT_LIMIT
    assert_inert(markdown)
    assert re.search(r"… [0-9]+ more rows \([0-9]+ findings\) not shown", markdown)
    assert "INVALID — 50000 errors, 50000 warnings" in markdown.splitlines()[0]
    github = render_github(report, "submissions/huge/")
    assert len(github) < COMMENT_LIMIT
    assert github.splitlines()[-1].startswith("cwcontrib: huge: INVALID")


def test_text_report_says_how_many_findings_it_does_not_list() -> None:
    findings = [finding("CW314", f"cell {i} is invalid", Location("trials.csv", i + 2, row=i + 1)) for i in range(5)]
    report = Report("x", _cap_per_code(findings, 2), {"semantics": "failed"})
    text = render_text(report)
    assert "... and 3 more CW314 findings, counted but not listed" in text
    assert text.splitlines()[-1].endswith("INVALID — 5 errors, 0 warnings (0 trials, 0 runs)")


# --- A 400-trial sweep from the demo, with one error repeated in every trial ---------------------------------

def sweep_of(submission: Submission, trials: int) -> None:
    """The demo's trials repeated into a CSV trials table of `trials` rows, each claiming an accuracy that is not
    k/N for PyTorch (CW304), and without weights, so that no weights are loaded 800 times."""
    data = submission.manifest()
    demo_trials = data.pop("trials")
    rows: list[dict[str, Any]] = []
    for i in range(trials):
        trial = demo_trials[i % len(demo_trials)]
        row: dict[str, Any] = {"id": f"t{i + 1:03d}"}
        row |= {f"hyperparameters.{k}": v for k, v in flatten(trial["hyperparameters"]).items()}
        for framework, run in trial["runs"].items():
            row |= {f"{framework}.{k}": v for k, v in run.items() if k != "weights"}
        row["pytorch.test_accuracy"] = 0.50001
        rows.append(row)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    data["trials_table"] = {"path": "trials.csv", "format": "csv"}
    submission.write_manifest(data)
    submission.write_file("trials.csv", out.getvalue(), "csv")


def test_a_400_trial_sweep_with_one_repeated_error(submission: Submission) -> None:
    sweep_of(submission, TRIALS)
    report = run_validate(submission.root, options=Options(reeval=False))
    summary = json.loads(render_json(report))["summary"]
    assert summary["trials"] == TRIALS
    assert summary["by_code"]["CW304"] == TRIALS  # every one counted, though only CAP are listed
    assert summary["truncated"]["CW304"] == TRIALS - CAP
    assert sum(f.code == "CW304" for f in report.findings) == CAP
    errors = sum(n for code, n in summary["by_code"].items() if REGISTRY[code].severity is Severity.ERROR)
    assert summary["errors"] == errors >= TRIALS
    markdown = render_markdown(report)
    assert len(markdown) < COMMENT_LIMIT
    [row] = [line for line in markdown.splitlines() if line.startswith("| error | `CW304`")]  # one per code and file
    assert f"| {TRIALS} |" in row and row.count("trials\\.csv") == 3  # the first three locations
    [annotation] = [line for line in render_github(report).splitlines() if "CW304" in line]
    assert f"{TRIALS} findings" in annotation
