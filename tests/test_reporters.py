"""Reporters only render: one shared order, and a stranger's text rendered inert in every output.

The Markdown report is posted as a pull-request comment and the GitHub output is read by the Actions runner,
so file names and values written by a contributor must never ping, link, embed, inject HTML or Markdown
structure, or inject a workflow command.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from markdown_it import MarkdownIt

from cwcontrib.checks import Options
from cwcontrib.codes import finding
from cwcontrib.findings import Location, sorted_findings
from cwcontrib.reporters import (
    ZERO_WIDTH_JOINER,
    github_annotation,
    markdown_cell,
    render_github,
    render_markdown,
    render_text,
)
from cwcontrib.validate import Report, validate
from tests.conftest import Submission

# Each would ping, link, embed, inject HTML or break the table if rendered as written.
HOSTILE = (
    "@octocat",
    "@cwcontrib/maintainers",
    "please ping @admin now",
    "[click](https://evil.example/phish)",
    "![tracker](https://evil.example/pixel.png)",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "<https://evil.example>",
    "www.evil.example",
    "https://evil.example/path",
    "mail me: someone@evil.example",
    "fixes #1",
    "a | b | c",
    "``` fenced",
    "`code` and ``more``",
    "**bold** _em_ ~~strike~~",
    "# heading",
    "&lt;b&gt; &#64;octocat",
    "line one\nline two\r\n| injected | row |",
    "=HYPERLINK(\"https://evil.example\")",
)


def sample_report() -> Report:
    findings = [
        finding("CW304", "accuracy 0.9 | =cmd() <b>x</b>", Location("submission.yaml", 12, "/trials/0")),
        finding("CW204", "line one\nline two", Location("a,b:c.csv")),
    ]
    return Report("demo", sorted_findings(findings), {"manifest": "passed", "files": "failed", "semantics": "passed"})


def hostile_report() -> Report:
    findings = [finding("CW204", f"file {text!r} is not declared: {text}", Location(text, 3, column=text),
                        hint=text) for text in HOSTILE]
    return Report("@octocat [x](https://evil.example)", sorted_findings(findings), {"manifest": "failed"})


class _Rendered(HTMLParser):
    """The HTML a CommonMark + GFM-table renderer makes of the report: its tags and its visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []
        self.row_cells: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.row_cells.append(0)
        if tag in ("td", "th"):
            self.row_cells[-1] += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def rendered(markdown: str) -> _Rendered:
    parser = _Rendered()
    parser.feed(MarkdownIt("commonmark").enable("table").render(markdown))
    return parser


def assert_inert(markdown: str, columns: int = 6) -> None:
    page = rendered(markdown)
    allowed = {"h3", "p", "table", "thead", "tbody", "tr", "th", "td", "code", "ul", "li"}
    assert set(page.tags) <= allowed, sorted(set(page.tags) - allowed)  # no <a>, <img>, <script>, <em>, <h1>...
    assert set(page.row_cells) <= {2, columns}, page.row_cells  # no cell added or lost by a stranger's pipe
    text = "".join(page.text)
    # What GitHub would still turn into a ping or a link in rendered text: none may survive.
    assert not re.search(r"@[A-Za-z0-9]", text), text
    assert not re.search(r"#[0-9]", text), text
    assert not re.search(r"://|(?i:www)\.", text), text


def test_findings_are_ordered_by_location() -> None:
    report = sample_report()
    assert [f.location.file for f in report.findings] == ["a,b:c.csv", "submission.yaml"]


def test_markdown_cell_escapes_structure_and_breaks_pings_and_links() -> None:
    assert markdown_cell("=HYPERLINK(1)") == "\\=HYPERLINK\\(1\\)"
    assert markdown_cell("a | b") == "a \\| b"
    assert markdown_cell("<script>") == "\\<script\\>"
    assert markdown_cell("two\nlines") == "two lines"
    assert markdown_cell("@octocat") == f"\\@{ZERO_WIDTH_JOINER}octocat"
    assert markdown_cell("https://x") == f"https\\:{ZERO_WIDTH_JOINER}\\/\\/x"
    assert markdown_cell("WWW.x") == f"WWW{ZERO_WIDTH_JOINER}\\.x"


def test_markdown_renders_a_strangers_text_as_the_same_inert_characters() -> None:
    markdown = render_markdown(hostile_report())
    assert_inert(markdown)
    text = "".join(rendered(markdown).text).replace(ZERO_WIDTH_JOINER, "")
    for hostile in HOSTILE:  # shown, character for character (whitespace folded), not interpreted
        assert " ".join(hostile.split()) in text, hostile


def test_markdown_of_a_real_submission_with_hostile_names_and_values(submission: Submission) -> None:
    # '@' is allowed in file names; other characters are reported, quoting the name.
    for name in ("@octocat.csv", "@cwcontrib=maintainers.csv", "www.evil.example", "[x](https:evil.example).csv",
                 "<img src=x onerror=alert(1)>.csv", "#1.csv"):
        (submission.root / name).write_text("epoch,loss\n")
    submission.edit(lambda data: data["artifacts"].append(
        {"path": "![p](https://evil.example/p.png) @admin <b>.csv", "format": "csv", "size": 1,
         "sha256": "0" * 64}))
    report = validate(submission.root, options=Options(reeval=False))
    assert "CW204" in {f.code for f in report.findings}, report.findings
    assert any("@admin" in f.message or "@admin" in f.location.render() for f in report.findings), report.findings
    assert_inert(render_markdown(report))


def test_github_annotation_escapes_properties_and_data() -> None:
    report = sample_report()
    line = github_annotation(report.findings[0], "submissions/x/")
    assert line.startswith("::error file=submissions/x/a%2Cb%3Ac.csv,title=CW204 file-undeclared::")
    assert "\n" not in line and "%0A" in line
    second = github_annotation(report.findings[1], "")
    assert ",line=12," in second


_COMMAND = re.compile(r"^::(error|warning) ((?:[a-z]+=[^,:]*)(?:,[a-z]+=[^,:]*)*)::(.*)$")


def _unescape(text: str) -> str:
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")


def test_github_output_cannot_inject_workflow_commands() -> None:
    hostile = ["x\n::error::injected", "::add-mask::secret", "a,line=1,title=fake:x", "%0A::warning::", "b\r::stop"]
    findings = [finding("CW204", f"{text} and {text}", Location(text), hint=text) for text in hostile]
    report = Report("::stop-commands::token\n::error::pwned", sorted_findings(findings), {"manifest": "failed"})
    lines = render_github(report).splitlines()
    assert len(lines) == len(hostile) + 1
    *annotations, headline = lines
    assert headline.startswith("cwcontrib: ")  # never a command, whatever the submission is called
    files = []
    for line in annotations:
        match = _COMMAND.match(line)
        assert match, line  # one command per line, properties well-formed: no stray ',' or ':'
        properties = dict(p.split("=", 1) for p in match.group(2).split(","))
        assert set(properties) == {"file", "title"}, properties
        files.append(_unescape(properties["file"]))
    assert sorted(files) == sorted(hostile)  # the runner decodes each name back to what was written


def test_text_report_puts_location_first() -> None:
    first_line = render_text(sample_report()).splitlines()[0]
    assert first_line.startswith("a,b:c.csv: error CW204")


def test_text_report_escapes_the_submission_name() -> None:
    report = Report("evil\x1b]0;title\x07\nname", [], {"manifest": "failed"})
    assert "\x1b" not in render_text(report) and render_text(report).count("\n") == 2
