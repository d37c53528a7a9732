"""Reporters only render: escaping for Markdown and GitHub annotations, one shared order."""

from __future__ import annotations

from cwcontrib.codes import finding
from cwcontrib.findings import Location, sorted_findings
from cwcontrib.reporters import github_annotation, markdown_cell, render_markdown, render_text
from cwcontrib.validate import Report


def sample_report() -> Report:
    findings = [
        finding("CW304", "accuracy 0.9 | =cmd() <b>x</b>", Location("submission.yaml", 12, "/trials/0")),
        finding("CW204", "line one\nline two", Location("a,b:c.csv")),
    ]
    return Report("demo", sorted_findings(findings), {"manifest": "passed", "files": "failed", "semantics": "passed"})


def test_findings_are_ordered_by_location() -> None:
    report = sample_report()
    assert [f.location.file for f in report.findings] == ["a,b:c.csv", "submission.yaml"]


def test_markdown_escapes_tables_html_and_formulas() -> None:
    assert markdown_cell("=HYPERLINK(1)") == "\\=HYPERLINK(1)"
    assert markdown_cell("a | b") == "a \\| b"
    assert markdown_cell("<script>") == "&lt;script&gt;"
    assert markdown_cell("two\nlines") == "two lines"
    rendered = render_markdown(sample_report())
    assert "<b>" not in rendered and rendered.count("\n| error |") == 2


def test_github_annotation_escapes_properties_and_data() -> None:
    report = sample_report()
    line = github_annotation(report.findings[0], "submissions/x/")
    assert line.startswith("::error file=submissions/x/a%2Cb%3Ac.csv,title=CW204 file-undeclared::")
    assert "\n" not in line and "%0A" in line
    second = github_annotation(report.findings[1], "")
    assert ",line=12," in second


def test_text_report_puts_location_first() -> None:
    first_line = render_text(sample_report()).splitlines()[0]
    assert first_line.startswith("a,b:c.csv: error CW204")
