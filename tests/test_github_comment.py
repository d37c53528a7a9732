"""`cwcontrib github comment` against a real HTTP server on 127.0.0.1 that speaks the few GitHub REST endpoints it
uses (a stateful fake: list, create and edit issue comments, get a pull request and a commit, create a status),
never the network: one comment per pull request, edited while the verdict stays and posted anew when it changes,
under GitHub's 65,536-character limit, and a report file that is not a real report is refused before any request."""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from cwcontrib.cli import main
from cwcontrib.codes import REGISTRY, finding
from cwcontrib.findings import Finding, Location, Severity, sorted_findings
from cwcontrib.github import report as report_module
from cwcontrib.github.comment import MARKER, render_body
from cwcontrib.github.report import ReportRefused, load_report, parse_json, report_from_dict
from cwcontrib.reporters import COMMENT_LIMIT, render_json, render_markdown
from cwcontrib.validate import Report, _cap_per_code
from tests.test_reporters import HOSTILE, assert_inert

TOKEN = "ghs_fake_token_never_printed"
BOT = "github-actions[bot]"
HEAD = "a" * 40
PR = 7
GITHUB_LIMIT = 65_536


class FakeGitHub:
    """The state behind the endpoints: comments of pull request 7, its head, the statuses set."""

    def __init__(self, server: HTTPServer) -> None:
        self.base = server.url_for("/").rstrip("/")
        self.comments: dict[int, dict[str, Any]] = {}
        self.statuses: list[dict[str, Any]] = []
        self.head = HEAD
        self.requests: list[tuple[str, str]] = []
        self.fail_with: int | None = None
        self._next = 100
        repo = r"/repos/owner/name"
        for pattern, method, handler in (
            (rf"{repo}/pulls/([0-9]+)", "GET", self.get_pull),
            (rf"{repo}/issues/([0-9]+)/comments", "GET", self.list_comments),
            (rf"{repo}/issues/([0-9]+)/comments", "POST", self.create_comment),
            (rf"{repo}/issues/comments/([0-9]+)", "PATCH", self.edit_comment),
            (rf"{repo}/commits/([0-9a-f]+)", "GET", self.get_commit),
            (rf"{repo}/statuses/([0-9a-f]+)", "POST", self.create_status),
        ):
            server.expect_request(re.compile(f"^{pattern}$"), method=method).respond_with_handler(
                self._wrap(re.compile(f"^{pattern}$"), handler))
        # Anything else is a request the command should not make.
        server.expect_request(re.compile(".*")).respond_with_handler(self._unexpected)

    def _wrap(self, pattern: re.Pattern[str], handler: Any) -> Any:
        def respond(request: Request) -> Response:
            self.requests.append((request.method, request.path))
            if request.headers.get("Authorization") != f"token {TOKEN}":
                return self._json({"message": "Bad credentials"}, 401)
            if self.fail_with is not None:
                return self._json({"message": "Server Error"}, self.fail_with)
            match = pattern.match(request.path)
            assert match
            return handler(request, match.group(1))
        return respond

    def _unexpected(self, request: Request) -> Response:
        self.requests.append((request.method, request.path))
        return self._json({"message": "Not Found"}, 404)

    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(json.dumps(data), status=status, headers=headers, content_type="application/json")

    def _comment_json(self, number: int) -> dict[str, Any]:
        comment = self.comments[number]
        return {"id": number, "url": f"{self.base}/repos/owner/name/issues/comments/{number}",
                "html_url": f"https://github.example/owner/name/pull/{PR}#issuecomment-{number}",
                "issue_url": f"{self.base}/repos/owner/name/issues/{PR}", "body": comment["body"],
                "user": {"login": comment["login"], "id": 1, "type": "Bot"},
                "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}

    def get_pull(self, request: Request, number: str) -> Response:
        if int(number) != PR:
            return self._json({"message": "Not Found"}, 404)
        return self._json({"number": PR, "state": "open", "url": f"{self.base}/repos/owner/name/pulls/{PR}",
                           "issue_url": f"{self.base}/repos/owner/name/issues/{PR}",
                           "head": {"sha": self.head, "ref": "contribution", "label": "someone:contribution"}})

    def list_comments(self, request: Request, number: str) -> Response:
        query = parse_qs(request.query_string.decode())
        per_page, page = int(query.get("per_page", ["30"])[0]), int(query.get("page", ["1"])[0])
        ids = sorted(self.comments)
        chunk = ids[(page - 1) * per_page:page * per_page]
        headers = {}
        if page * per_page < len(ids):
            headers["Link"] = (f'<{self.base}/repos/owner/name/issues/{number}/comments?per_page={per_page}'
                               f'&page={page + 1}>; rel="next"')
        return self._json([self._comment_json(i) for i in chunk], headers=headers)

    def add(self, body: str, login: str = BOT) -> int:
        self._next += 1
        self.comments[self._next] = {"body": body, "login": login, "edits": 0}
        return self._next

    def _body(self, request: Request) -> str | Response:
        body = json.loads(request.get_data())["body"]
        if len(body) > GITHUB_LIMIT:  # what GitHub answers
            return self._json({"message": "Validation Failed",
                               "errors": [{"message": "Body is too long (maximum is 65536 characters)"}]}, 422)
        return str(body)

    def create_comment(self, request: Request, number: str) -> Response:
        body = self._body(request)
        if isinstance(body, Response):
            return body
        return self._json(self._comment_json(self.add(body)), 201)

    def edit_comment(self, request: Request, number: str) -> Response:
        body = self._body(request)
        if isinstance(body, Response):
            return body
        self.comments[int(number)]["body"] = body
        self.comments[int(number)]["edits"] += 1
        return self._json(self._comment_json(int(number)))

    def get_commit(self, request: Request, sha: str) -> Response:
        return self._json({"sha": sha, "url": f"{self.base}/repos/owner/name/commits/{sha}"})

    def create_status(self, request: Request, sha: str) -> Response:
        status = {"sha": sha, **json.loads(request.get_data())}
        self.statuses.append(status)
        return self._json({"id": len(self.statuses), "url": f"{self.base}/repos/owner/name/statuses/{sha}",
                           **status}, 201)

    def ours(self) -> list[dict[str, Any]]:
        return [c for _, c in sorted(self.comments.items()) if c["login"] == BOT]


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        yield FakeGitHub(server)
    finally:
        server.clear()
        server.stop()


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)


def report_of(findings: list[Finding], name: str = "digits-cnn-pair") -> Report:
    return Report(name, _cap_per_code(sorted_findings(findings), 200), {"manifest": "passed", "files": "passed"},
                  trials=2, runs=4)


def valid_report(warnings: int = 1) -> Report:
    code = next(c for c in sorted(REGISTRY) if REGISTRY[c].severity is Severity.WARNING)
    return report_of([finding(code, f"warning {i}", Location("trials.csv", i + 2)) for i in range(warnings)])


def invalid_report() -> Report:
    return report_of([finding("CW304", "accuracy 0.9 is not k/N", Location("submission.yaml", 12, "/trials/0"))])


def write_report(path: Path, report: Report) -> Path:
    path.write_text(render_json(report), encoding="utf-8")
    return path


def comment(github: FakeGitHub, capsys: pytest.CaptureFixture[str], *reports: Path, extra: tuple[str, ...] = (),
            ) -> tuple[int, str]:
    args = ["github", "comment", "--repo", "owner/name", "--pr", str(PR), "--api-url", github.base,
            "--details-url", "https://github.example/owner/name/actions/runs/1", *extra]
    for path in reports:
        args += ["--report", str(path)]
    code = main(args)
    out, err = capsys.readouterr()
    assert TOKEN not in out + err
    return code, err


def test_the_first_report_creates_the_comment_and_a_linked_status(github: FakeGitHub, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    report = valid_report()
    code, err = comment(github, capsys, write_report(tmp_path / "r.json", report))
    assert code == 0 and "created" in err
    [posted] = github.ours()
    body = posted["body"]
    assert body.startswith(f"{MARKER}\n<!-- cwcontrib-verdict: valid -->\n")
    assert render_markdown(report) in body  # rendered by cwcontrib from the JSON, not pasted
    assert f"commit `{HEAD}`" in body and "(<https://github.example/owner/name/actions/runs/1>)" in body
    [status] = github.statuses
    assert status == {"sha": HEAD, "state": "success", "context": "cwcontrib/validate",
                      "description": "valid — 0 errors, 1 warning (2 trials, 4 runs)",
                      "target_url": f"https://github.example/owner/name/pull/{PR}#issuecomment-{min(github.comments)}"}


def test_the_same_verdict_edits_the_one_comment(github: FakeGitHub, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    stranger = github.add(f"{MARKER}\n<!-- cwcontrib-verdict: valid -->\nI wrote the markers too", login="someone")
    for i in range(120):  # more than one page of comments
        github.add(f"comment {i}", login="reviewer")
    assert comment(github, capsys, write_report(tmp_path / "a.json", valid_report(1)))[0] == 0
    code, err = comment(github, capsys, write_report(tmp_path / "b.json", valid_report(3)))
    assert code == 0 and "edited" in err
    [ours] = github.ours()
    assert ours["edits"] == 1 and "3 warnings" in ours["body"]
    assert github.comments[stranger]["edits"] == 0  # another account's comment is never touched
    assert [s["state"] for s in github.statuses] == ["success", "success"]
    assert ("GET", f"/repos/owner/name/issues/{PR}/comments") in github.requests


def test_a_changed_verdict_posts_a_new_comment(github: FakeGitHub, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert comment(github, capsys, write_report(tmp_path / "a.json", valid_report()))[0] == 0
    code, err = comment(github, capsys, write_report(tmp_path / "b.json", invalid_report()))
    assert code == 0 and "created" in err
    first, second = github.ours()
    assert "verdict: valid" in first["body"] and first["edits"] == 0  # left as it was: the timeline shows both
    assert "verdict: invalid" in second["body"] and "INVALID" in second["body"]
    assert github.statuses[-1]["state"] == "failure"
    assert github.statuses[-1]["target_url"].endswith(f"#issuecomment-{max(github.comments)}")
    assert comment(github, capsys, write_report(tmp_path / "c.json", invalid_report()))[0] == 0
    assert [c["edits"] for c in github.ours()] == [0, 1]  # the newest is the one edited
    assert comment(github, capsys, write_report(tmp_path / "d.json", valid_report()))[0] == 0
    assert len(github.ours()) == 3


@functools.cache
def huge_report(name: str) -> Report:
    """220 findings of each of 20 codes (200 listed) over 3,000 files, each message 2,000 characters of hostile
    text: about 4,000 table rows."""
    errors = [c for c in sorted(REGISTRY) if REGISTRY[c].severity is Severity.ERROR and REGISTRY[c].active][:10]
    codes = errors + [c for c in sorted(REGISTRY) if REGISTRY[c].severity is Severity.WARNING][:10]
    hostile = " ".join(HOSTILE) * 4
    return report_of([finding(codes[i % 20], f"{i}: {hostile}", Location(f"data/{i % 3000}@x.csv", i % 97 + 1),
                              hint=hostile) for i in range(4_400)], name)


def test_an_oversized_report_stays_under_the_limit_and_says_what_it_left_out(
        github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_report(tmp_path / "huge.json", huge_report("huge"))
    assert path.stat().st_size > 10 * GITHUB_LIMIT
    assert comment(github, capsys, path)[0] == 0
    [posted] = github.ours()
    body = posted["body"]
    assert len(body) <= GITHUB_LIMIT
    assert re.search(r"… [0-9]+ more rows \([0-9]+ findings\) not shown", body)
    assert "[the full report](<https://github.example/owner/name/actions/runs/1>)" in body
    assert_inert(body.split("\n---\n")[0])  # all but our own footer and its one link


def test_several_oversized_reports_are_cut_to_their_headlines(github: FakeGitHub, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    paths = [write_report(tmp_path / f"{n}.json", huge_report(n)) for n in ("one", "two", "three")]
    small = write_report(tmp_path / "small.json", valid_report())
    assert comment(github, capsys, *paths, small)[0] == 0
    body = github.ours()[0]["body"]
    assert len(body) <= GITHUB_LIMIT
    assert "cwcontrib checked 4 submissions: 3 invalid." in body
    assert body.count("This report did not fit in the comment and was left out: [the full report]") == 2
    assert body.count("more rows (") == 1  # the third huge report is shown, cut to its rows
    assert "cwcontrib: digits\\-cnn\\-pair: valid" in body  # the small one in full
    assert github.statuses[-1]["description"] == "4 submissions, 3 invalid"


def test_render_body_counts_utf16_units_and_falls_back_to_a_single_line() -> None:
    reports = [huge_report(f"r{i}") for i in range(3)]
    for limit in (COMMENT_LIMIT, 20_000, 2_000):
        body = render_body(reports, HEAD, "https://x.example/run", limit=limit)
        assert len(body.encode("utf-16-le")) // 2 <= limit
        assert body.startswith(MARKER)
    assert "3 reports are too many for one comment" in render_body(reports, HEAD, None, limit=500)


@pytest.mark.parametrize("number", ["12a", "-1", "0", "1e3", "٣", "7 ", "", "+7", "0x7", "99999999999", "7\n"])
def test_a_pull_request_number_that_is_not_digits_is_refused(github: FakeGitHub, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str], number: str) -> None:
    path = write_report(tmp_path / "r.json", valid_report())
    with pytest.raises(SystemExit) as exit_:
        main(["github", "comment", "--repo", "owner/name", f"--pr={number}", "--report", str(path),
              "--api-url", github.base])
    assert exit_.value.code == 2 and "is not a pull request number" in capsys.readouterr().err
    assert github.requests == []


@pytest.mark.parametrize("option", [("--repo", "owner/name/x"), ("--repo", "../name"), ("--sha", "abc"),
                                    ("--details-url", "javascript:alert(1)"),
                                    ("--details-url", "https://x.example/a b"),
                                    ("--details-url", "https://x.example/<img>"), ("--api-url", "file:///etc")])
def test_other_malformed_arguments_are_refused(github: FakeGitHub, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str], option: tuple[str, str]) -> None:
    path = write_report(tmp_path / "r.json", valid_report())
    args = {"--repo": "owner/name", "--pr": str(PR), "--report": str(path), "--api-url": github.base}
    args[option[0]] = option[1]
    with pytest.raises(SystemExit) as exit_:
        main(["github", "comment", *(f"{k}={v}" for k, v in args.items())])
    assert exit_.value.code == 2
    assert github.requests == []


def test_no_token_no_request(github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    code, err = comment(github, capsys, write_report(tmp_path / "r.json", valid_report()))
    assert code == 2 and "$GITHUB_TOKEN is not set" in err and github.requests == []


def test_a_stale_commit_sets_its_status_and_leaves_the_comment(github: FakeGitHub, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert comment(github, capsys, write_report(tmp_path / "a.json", valid_report()))[0] == 0
    old = "b" * 40
    code, err = comment(github, capsys, write_report(tmp_path / "b.json", invalid_report()), extra=("--sha", old))
    assert code == 0 and "no longer the head" in err
    [ours] = github.ours()
    assert ours["edits"] == 0 and "verdict: valid" in ours["body"]
    assert github.statuses[-1]["sha"] == old and github.statuses[-1]["state"] == "failure"


def test_github_errors_fail_once_without_retrying(github: FakeGitHub, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    github.fail_with = 502
    code, err = comment(github, capsys, write_report(tmp_path / "r.json", valid_report()))
    assert code == 1 and "GitHub answered 502" in err
    assert len(github.requests) == 1  # no retry
    github.fail_with = None
    code, err = comment(github, capsys, write_report(tmp_path / "r.json", valid_report()), extra=("--pr", "8"))
    assert code == 1 and "GitHub answered 404" in err


# --- The report file is untrusted -----------------------------------------------------------------------------

def _valid_dict() -> dict[str, Any]:
    return json.loads(render_json(invalid_report()))


def _mutate(change: Any) -> bytes:
    data = _valid_dict()
    change(data)
    return json.dumps(data).encode()


HOSTILE_REPORTS: dict[str, bytes] = {
    "not-json": b"{\"report_format\": ",
    "not-utf8": b"\xff\xfe{}",
    "an-array": b"[]",
    "duplicate-key": render_json(invalid_report()).replace('"valid": false', '"valid": false, "valid": true').encode(),
    "nan": json.dumps(_valid_dict()).replace('"trials": 2', '"trials": NaN').encode(),
    "deep-nesting": b"[" * 100_000 + b"]" * 100_000,
    "huge-integer": json.dumps(_valid_dict()).replace('"trials": 2', '"trials": ' + "9" * 5000).encode(),
    "claims-valid-with-errors": _mutate(lambda d: d.update(valid=True)),
    "hides-errors": _mutate(lambda d: d["summary"].update(errors=0, valid=True)),
    "format-2": _mutate(lambda d: d.update(report_format="2")),
    "unknown-code": _mutate(lambda d: d["findings"][0].update(code="CW999")),
    "wrong-name": _mutate(lambda d: d["findings"][0].update(name="all-good")),
    "wrong-severity": _mutate(lambda d: d["findings"][0].update(severity="warning")),
    "by-code-mismatch": _mutate(lambda d: d["summary"]["by_code"].update(CW304=5)),
    "listed-mismatch": _mutate(lambda d: d["summary"].update(listed=0)),
    "boolean-count": _mutate(lambda d: d["summary"].update(trials=True)),
    "negative-count": _mutate(lambda d: d["summary"].update(runs=-1)),
    "extra-finding-key": _mutate(lambda d: d["findings"][0].update(html="<script>")),
    "line-not-int": _mutate(lambda d: d["findings"][0]["location"].update(line="12")),
    "huge-message": _mutate(lambda d: d["findings"][0].update(message="x" * 200_000)),
    "acknowledged-error": _mutate(lambda d: d["findings"][0].update(acknowledged={"reason": "trust me"})),
    "unknown-stage": _mutate(lambda d: d["stages"].update(deploy="passed")),
    "stage-status": _mutate(lambda d: d["stages"].update(manifest="<b>ok</b>")),
    "run-not-object": _mutate(lambda d: d.update(evaluation={"runs": ["x"]})),
    "run-reproduced-string": _mutate(lambda d: d.update(evaluation={"runs": [{
        "trial": "t", "framework": "pytorch", "claimed": "1/2", "measured": "1/2", "tolerance": 0,
        "reproduced": "yes", "device": "cpu"}]})),
    "pair-gap-infinite": json.dumps({**_valid_dict(), "evaluation": {"pairs": [{
        "trial": "t", "frameworks": ["a", "b"], "disagreements": 1, "measured_gap": 1e400,
        "mcnemar": {"p_value": 0.5}}]}}).encode(),
}


@pytest.mark.parametrize("name", HOSTILE_REPORTS)
def test_a_hostile_report_is_refused_before_any_request(github: FakeGitHub, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str], name: str) -> None:
    path = tmp_path / "report.json"
    path.write_bytes(HOSTILE_REPORTS[name])
    code, err = comment(github, capsys, path)
    assert code == 1 and "refused" in err and "nothing was posted" in err
    assert github.requests == [] and github.statuses == []


def test_a_report_larger_than_the_bound_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_report(tmp_path / "r.json", valid_report(50))
    monkeypatch.setattr(report_module, "MAX_REPORT_BYTES", path.stat().st_size - 1)
    with pytest.raises(ReportRefused, match="larger than"):
        load_report(path)
    with pytest.raises(ReportRefused, match="cannot read"):
        load_report(tmp_path / "missing.json")
    os.mkfifo(tmp_path / "fifo.json")
    with pytest.raises(ReportRefused, match="not a regular file"):
        load_report(tmp_path / "fifo.json")


def test_acknowledged_warnings_beyond_the_cap_read_back() -> None:
    warning = next(c for c in sorted(REGISTRY) if REGISTRY[c].severity is Severity.WARNING)
    findings = [Finding(**{**vars(finding(warning, f"meh {i}", Location("trials.csv", i + 2))),
                           "acknowledged": "known"}) for i in range(5)]
    report = Report("demo", _cap_per_code(findings, 2), {"manifest": "passed"})
    data = json.loads(render_json(report))
    assert data["summary"]["acknowledged"] == 5 and data["summary"]["truncated"] == {warning: 3}
    loaded = report_from_dict(data)
    assert render_markdown(loaded) == render_markdown(report)
    data["summary"]["acknowledged"] = 6
    with pytest.raises(ReportRefused, match=r"summary\.acknowledged"):
        report_from_dict(data)


def test_a_report_reads_back_as_it_renders() -> None:
    """JSON -> Report -> Markdown gives what the original report renders: counts (including those the per-code cap
    left unlisted), acknowledgements, stage results."""
    warning = next(c for c in sorted(REGISTRY) if REGISTRY[c].severity is Severity.WARNING)
    findings = [finding("CW304", f"bad {i}", Location("trials.csv", i + 2, row=i + 1, column="acc")) for i in range(7)]
    findings.append(Finding(**{**vars(finding(warning, "meh", Location("submission.yaml", pointer="/x"))),
                               "acknowledged": "a known quirk"}))
    report = Report("demo", _cap_per_code(sorted_findings(findings), 3), {"manifest": "passed", "semantics": "failed",
                                                                         "evaluation": "passed"}, trials=7, runs=14)
    report.extra = {
        "pair_verdicts": [{"summary": "pytorch~keras: equivalent", "equivalent": True, "differences": []}],
        "evaluation": {"content_digest": "x", "runs": [{
            "trial": "t1", "framework": "pytorch", "claimed": "9/10", "measured": "9/10", "tolerance": 0,
            "reproduced": True, "device": "cpu", "predictions": {"data": "AAAA"}}],
            "pairs": [{"trial": "t1", "frameworks": ["pytorch", "keras"], "disagreements": 2, "measured_gap": 0.01,
                       "mcnemar": {"p_value": 0.5, "statistic": 1}}]},
    }
    loaded = report_from_dict(parse_json(render_json(report).encode()))
    assert render_markdown(loaded) == render_markdown(report)
    assert (loaded.error_count, loaded.warning_count, loaded.ok) == (7, 1, False)
    assert "re\\-evaluated t1 pytorch\\: claimed 9\\/10" in render_markdown(loaded)
    assert "AAAA" not in repr(loaded.extra)  # what is not rendered is not kept


def test_the_demo_report_reads_back(submission: Any) -> None:
    from cwcontrib.checks import Options
    from cwcontrib.validate import validate

    report = validate(submission.root, options=Options(reeval=False))
    loaded = report_from_dict(parse_json(render_json(report).encode()))
    assert render_markdown(loaded) == render_markdown(report)


def test_pygithub_and_gitpython_are_not_imported_at_start_up() -> None:
    import subprocess
    import sys

    code = ("import sys; from cwcontrib.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('github', 'git') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"
