"""The `github changed` and `github comment` commands (registered by cwcontrib.cli)."""

from __future__ import annotations

import argparse
from typing import Any

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def cmd_changed(args: argparse.Namespace) -> int:
    raise NotImplementedError


def cmd_comment(args: argparse.Namespace) -> int:
    raise NotImplementedError


def add_commands(commands: Any) -> None:
    github = commands.add_parser("github", help="pull requests on GitHub: changed submissions, the report comment")
    sub = github.add_subparsers(dest="github_command", required=True)
    changed = sub.add_parser("changed", help="the submissions a pull request adds, changes or deletes")
    changed.set_defaults(func=cmd_changed)
    comment = sub.add_parser("comment", help="post or update the pull request's report comment and commit status")
    comment.set_defaults(func=cmd_comment)
