"""The pull request's report comment and commit status: `cwcontrib github comment`.

One comment per pull request, found by a hidden marker in comments written by the bot's account (whatever other
comments contain, they are never edited), is edited in place while the verdict stays the same; when the verdict
changes (valid <-> invalid), a new comment is posted so that the timeline shows the change, and the old one is left
as it was. A commit status (`cwcontrib/validate`) on the pull request's head links to the comment.

The body is rendered here from the JSON reports (cwcontrib.github.report checks them as untrusted data;
reporters.render_markdown makes a stranger's text inert) and always stays under GitHub's 65,536-character limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cwcontrib.reporters import COMMENT_LIMIT, _counts, markdown_cell, render_markdown
from cwcontrib.validate import Report

MARKER = "<!-- cwcontrib-report -->"
VERDICT_MARKER = "<!-- cwcontrib-verdict: {verdict} -->"
VERDICT_PATTERN = re.compile(r"^<!-- cwcontrib-verdict: (valid|invalid) -->$", re.MULTILINE)
STATUS_CONTEXT = "cwcontrib/validate"
DEFAULT_AUTHOR = "github-actions[bot]"  # who writes the comment with a workflow's GITHUB_TOKEN
# Each request fails after this many seconds, and is never retried: a workflow step (or a test) cannot hang.
TIMEOUT_S = 30

REPO_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
PR_PATTERN = re.compile(r"[1-9][0-9]{0,9}")
SHA_PATTERN = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
# A URL written into the comment as a Markdown link destination <...> and sent as a status target: printable
# ASCII, no spaces, angle brackets, quotes or backslashes.
URL_PATTERN = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?#][A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]*)?")
URL_MAX = 1_000


class CommentError(Exception):
    """GitHub refused a request, or answered what cwcontrib cannot use."""


def verdict_of(reports: list[Report]) -> str:
    return "valid" if all(report.ok for report in reports) else "invalid"


def _units(text: str) -> int:
    """Length as GitHub may count it: UTF-16 code units (never fewer than characters)."""
    return len(text.encode("utf-16-le")) // 2


def _short(report: Report, link: str) -> str:
    icon = "✅" if report.ok else "❌"
    return (f"### {icon} cwcontrib: {markdown_cell(report.submission, 200)}: {_counts(report)}\n\n"
            f"This report did not fit in the comment and was left out: {link}.\n")


def render_body(reports: list[Report], sha: str, details_url: str | None, limit: int = COMMENT_LIMIT) -> str:
    """The comment: the markers, each report's Markdown (a report that does not fit is cut to its headline, the
    largest first, saying so), the commit and the link to the full reports; at most `limit` UTF-16 units."""
    verdict = verdict_of(reports)
    link = (f"[the full report](<{details_url}>)" if details_url
            else "the full report is the validate workflow's artifact")
    head = [MARKER, VERDICT_MARKER.format(verdict=verdict), ""]
    if len(reports) > 1:
        invalid = sum(not report.ok for report in reports)
        head += [f"**cwcontrib checked {len(reports)} submissions: {invalid} invalid.**", ""]
    tail = ["---", f"cwcontrib's report for commit `{sha}`; {link}."]
    parts = [render_markdown(report) for report in reports]
    room = limit - 16 - sum(_units(line) + 1 for line in head + tail)
    # Cut the largest reports to their headline until the rest fit.
    for i in sorted(range(len(parts)), key=lambda i: (-_units(parts[i]), i)):
        if sum(_units(p) + 1 for p in parts) <= room:
            break
        parts[i] = _short(reports[i], link)
    body = "\n".join(head + parts + tail) + "\n"
    if _units(body) > limit:  # only when there are so many reports that their headlines do not fit
        shown = [*head, f"{len(reports)} reports are too many for one comment: {link}.", *tail]
        body = "\n".join(shown) + "\n"
    return body


def _verdict_in(body: str) -> str | None:
    match = VERDICT_PATTERN.search(body)
    return match.group(1) if match else None


@dataclass
class Posted:
    action: str  # "created", "edited", "stale" (the pull request moved on: comment left alone)
    comment_url: str | None
    sha: str
    verdict: str
    state: str  # the commit status set


def _status_description(reports: list[Report]) -> str:
    if len(reports) == 1:
        text = _counts(reports[0])
    else:
        invalid = sum(not report.ok for report in reports)
        text = f"{len(reports)} submissions, {invalid} invalid"
    return text[:140]  # GitHub's limit for a status description


def client(api_url: str, token: str) -> Any:
    """A PyGithub client that never waits: a timeout on every request, no retries, no throttling sleeps."""
    from github import Auth, Github

    return Github(auth=Auth.Token(token), base_url=api_url, timeout=TIMEOUT_S, retry=None, per_page=100,
                  seconds_between_requests=None, seconds_between_writes=None, lazy=True)


def post_report(gh: Any, repo_name: str, pr_number: int, reports: list[Report], sha: str | None = None,
                details_url: str | None = None, author: str = DEFAULT_AUTHOR) -> Posted:
    """Create or edit the pull request's report comment, then set the commit status (see the module docstring)."""
    from github import GithubException
    from requests import RequestException

    try:
        repo = gh.get_repo(repo_name)
        pull = repo.get_pull(pr_number)
        head = pull.head.sha
        sha = sha or head
        verdict = verdict_of(reports)
        state = "success" if verdict == "valid" else "failure"
        ours = [c for c in pull.get_issue_comments()
                if c.user is not None and c.user.login == author and (c.body or "").startswith(MARKER)]
        latest = max(ours, key=lambda c: c.id, default=None)  # ids grow with time
        if sha != head:
            # A newer push is being (or was) validated: its report owns the comment. The status still records
            # this commit's verdict.
            action, url = "stale", latest.html_url if latest is not None else details_url
        else:
            body = render_body(reports, sha, details_url)
            if latest is not None and _verdict_in(latest.body or "") == verdict:
                latest.edit(body)
                action, url = "edited", latest.html_url
            else:
                action, url = "created", pull.create_issue_comment(body).html_url
        status: dict[str, Any] = {"state": state, "description": _status_description(reports),
                                  "context": STATUS_CONTEXT}
        if url:
            status["target_url"] = url
        repo.get_commit(sha).create_status(**status)
    except GithubException as exc:
        raise CommentError(f"GitHub answered {exc.status}: {_message(exc.data)}") from None
    except RequestException as exc:  # refused, reset, timed out
        raise CommentError(f"no answer from GitHub: {type(exc).__name__}") from None
    return Posted(action, url, sha, verdict, state)


def _message(data: Any) -> str:
    message = data.get("message") if isinstance(data, dict) else None
    if isinstance(message, str):
        return message[:300]
    return "(no message)"
