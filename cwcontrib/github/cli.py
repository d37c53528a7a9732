"""The `github changed` and `github comment` commands (registered by cwcontrib.cli)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cwcontrib.findings import printable

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def cmd_changed(args: argparse.Namespace) -> int:
    from cwcontrib.github.changed import RULES, ChangedError, changed_submissions

    try:
        changes = changed_submissions(Path(args.repo), args.base, args.head)
    except ChangedError as exc:
        print(f"cwcontrib: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "json":
        sys.stdout.write(json.dumps(changes.as_dict(), indent=2, sort_keys=True, ensure_ascii=True) + "\n")
    elif changes.ok:
        sys.stdout.write("".join(f"{submission}\n" for submission in changes.submissions))
    if changes.ok:
        print(f"{changes.paths} path(s) changed since {changes.merge_base[:12]}; "
              f"{len(changes.submissions)} submission(s)", file=sys.stderr)
        return EXIT_OK
    print(f"cwcontrib: refused: {len(changes.refused)} path(s) this pull request may not change", file=sys.stderr)
    for refusal in changes.refused[:50]:
        print(f"  {printable(refusal.path)}: {refusal.rule}", file=sys.stderr)
    if len(changes.refused) > 50:
        print(f"  ... and {len(changes.refused) - 50} more (--format json lists them all)", file=sys.stderr)
    for rule in sorted({r.rule for r in changes.refused}):
        print(f"{rule}: {RULES[rule]}", file=sys.stderr)
    return EXIT_REFUSED


def cmd_comment(args: argparse.Namespace) -> int:
    import os

    from cwcontrib.github.comment import CommentError, client, post_report
    from cwcontrib.github.report import ReportRefused, load_report

    token = os.environ.get("GITHUB_TOKEN", "")
    if not token:
        print("cwcontrib: $GITHUB_TOKEN is not set (the token is never an argument)", file=sys.stderr)
        return EXIT_USAGE
    reports = []
    for path in args.report:
        try:
            reports.append(load_report(Path(path)))
        except ReportRefused as exc:
            print(f"cwcontrib: refused {printable(path)}: {printable(str(exc))}; nothing was posted", file=sys.stderr)
            return EXIT_REFUSED
    try:
        posted = post_report(client(args.api_url, token), args.repo, args.pr, reports, sha=args.sha,
                             details_url=args.details_url, author=args.author)
    except CommentError as exc:
        print(f"cwcontrib: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    where = posted.comment_url or "no comment"
    if posted.action == "stale":
        print(f"{posted.sha} is no longer the head of #{args.pr}: comment left alone; status {posted.state}",
              file=sys.stderr)
    else:
        print(f"{posted.action} {where} ({posted.verdict}); status {posted.state} on {posted.sha}", file=sys.stderr)
    return EXIT_OK


def _matching(pattern_name: str, what: str) -> Any:
    def check(text: str) -> str:
        from cwcontrib.github import comment

        pattern = getattr(comment, pattern_name)
        if not pattern.fullmatch(text) or len(text) > comment.URL_MAX:
            raise argparse.ArgumentTypeError(f"{printable(text)[:100]!r} is not {what}")
        return text
    return check


def _pr_number(text: str) -> int:
    from cwcontrib.github.comment import PR_PATTERN

    if not PR_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{printable(text)[:100]!r} is not a pull request number (digits only)")
    return int(text)


def add_commands(commands: Any) -> None:
    github = commands.add_parser("github", help="pull requests on GitHub: changed submissions, the report comment")
    sub = github.add_subparsers(dest="github_command", required=True)
    changed = sub.add_parser("changed", help="the submissions a pull request adds, changes or deletes",
                             description="The submission ids a pull request base...head touches (the diff from "
                                         "their merge base, as GitHub shows it), one a line; exit 1 when it changes "
                                         "what it may not (docs/github.md)")
    changed.add_argument("--base", required=True, help="the base branch or commit, e.g. origin/main")
    changed.add_argument("--head", default="HEAD", help="the pull request's head (default %(default)s)")
    changed.add_argument("--repo", default=".", help="the git repository (default: the current folder)")
    changed.add_argument("--format", choices=("lines", "json"), default="lines",
                         help="lines: one submission id a line (nothing when refused); json: submissions, deleted, "
                              "refused, base, merge_base, head")
    changed.set_defaults(func=cmd_changed)
    comment = sub.add_parser("comment", help="post or update the pull request's report comment and commit status",
                             description="Render the JSON report(s) into the pull request's one cwcontrib comment "
                                         "(edited while the verdict stays, a new one when it changes) and set the "
                                         "commit status cwcontrib/validate; the token is $GITHUB_TOKEN "
                                         "(docs/github.md)")
    comment.add_argument("--repo", required=True, type=_matching("REPO_PATTERN", "OWNER/NAME"), help="OWNER/NAME")
    comment.add_argument("--pr", required=True, type=_pr_number, help="the pull request number")
    comment.add_argument("--report", required=True, action="append", metavar="REPORT.json",
                         help="a `cwcontrib validate --format json` report (untrusted: checked strictly); repeat it "
                              "for a pull request that changes several submissions")
    comment.add_argument("--sha", type=_matching("SHA_PATTERN", "a full commit sha"),
                         help="the commit the report is for (default: the pull request's head); when the pull "
                              "request has moved on, only its status is set")
    comment.add_argument("--details-url", type=_matching("URL_PATTERN", "an http(s) URL"),
                         help="where the full report is (the workflow run, its artifact), linked from the comment")
    comment.add_argument("--api-url", default="https://api.github.com", type=_matching("URL_PATTERN", "an http(s) URL"),
                         help="GitHub's REST API (default %(default)s)")
    comment.add_argument("--author", default="github-actions[bot]",
                         help="the login whose comments are the bot's (default %(default)s): no one else's comment "
                              "is ever edited, whatever it contains")
    comment.set_defaults(func=cmd_comment)
