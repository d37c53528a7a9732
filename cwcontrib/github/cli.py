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
    raise NotImplementedError


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
    comment = sub.add_parser("comment", help="post or update the pull request's report comment and commit status")
    comment.set_defaults(func=cmd_comment)
