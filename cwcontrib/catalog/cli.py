"""The `index` and `catalog` commands (registered by cwcontrib.cli)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def cmd_index(args: argparse.Namespace) -> int:
    from cwcontrib.catalog.index import IndexRefused, build_catalog
    from cwcontrib.cli import progress_sink

    repo = Path(args.repo)
    steps: list[str] = []
    try:
        result = build_catalog(repo, step=lambda s: _step(s, steps, args.quiet), progress=progress_sink(args.quiet))
    except IndexRefused as exc:
        for submission, problems in sorted(exc.refused.items()):
            print(f"refused {submission}: {len(problems)} problem(s); the catalog was not changed", file=sys.stderr)
            for problem in problems[:50]:
                print(f"  {problem}", file=sys.stderr)
        return EXIT_REFUSED
    cached = len(result.submissions) - len(result.validated)
    verb = "rebuilt" if result.changed else "unchanged"
    print(f"{result.catalog}: {verb}; {len(result.submissions)} submission(s) ({len(result.validated)} validated, "
          f"{cached} unchanged, from the cache); digest {result.digest}")
    for ignored in result.ignored_records:
        print(f"ignored verification record {ignored.file}: {ignored.reason}", file=sys.stderr)
    return EXIT_OK


def _step(step: str, steps: list[str], quiet: bool) -> None:
    from cwcontrib.catalog.index import _trace

    _trace(step)
    steps.append(step)
    if not quiet and step.startswith("validating") and sys.stderr.isatty():
        print(step, file=sys.stderr)


def cmd_show(args: argparse.Namespace) -> int:
    from cwcontrib.catalog.api import CatalogError, load_catalog, records

    try:
        table = "pairs" if "~" in args.id else "runs"
        frame = load_catalog(table, version=args.version)
    except CatalogError as exc:
        print(f"cwcontrib: {exc}", file=sys.stderr)
        return EXIT_USAGE
    key = "pair_id" if table == "pairs" else "run_id"
    rows = records(frame[frame[key] == args.id])
    if not rows:
        print(f"cwcontrib: no {table[:-1]} {args.id!r} in the catalog", file=sys.stderr)
        return EXIT_USAGE
    width = max(map(len, rows[0]))
    for name, value in rows[0].items():
        print(f"{name:<{width}}  {'-' if value is None else value}")
    return EXIT_OK


def cmd_top(args: argparse.Namespace) -> int:
    from cwcontrib.catalog.api import CatalogError, load_catalog, records

    try:
        pairs = load_catalog("pairs", version=args.version)
        trials = load_catalog("trials", version=args.version)
        submissions = load_catalog("submissions", version=args.version)
    except CatalogError as exc:
        print(f"cwcontrib: {exc}", file=sys.stderr)
        return EXIT_USAGE
    merged = pairs.merge(submissions[["submission_id", "architecture"]], on="submission_id")
    shown = ["learning_rate", "batch_size", "epochs", "optimizer", "optimizer_epsilon"]
    merged = merged.merge(trials[["submission_id", "trial_id", *shown]], on=["submission_id", "trial_id"])
    if args.arch:
        merged = merged[merged["architecture"] == args.arch]
    top = merged.sort_values(["abs_gap", "pair_id"], ascending=[False, True]).head(args.n)
    for row in records(top):
        chance = " (at chance: " + ("both" if row["both_at_chance"] else "one") + ")" if row["any_at_chance"] else ""
        print(f"{row['abs_gap']:.4f}  {row['pair_id']}  {row['architecture']}  winner {row['winner']}{chance}")
        settings = ", ".join(f"{name}={row[name]}" for name in shown if row[name] is not None)
        print(f"        {row['accuracy_a']:.4f} vs {row['accuracy_b']:.4f}; status {row['status_a']} / "
              f"{row['status_b']}; {settings}")
    if top.empty:
        print("no pairs" + (f" of architecture {args.arch!r}" if args.arch else ""))
    return EXIT_OK


def _catalog_folder(ref: str) -> Path:
    """A catalog folder given as a path, or a release version downloaded and checked."""
    from cwcontrib.catalog.api import catalog_source

    path = Path(ref)
    if (path / "catalog.json").is_file():
        return path
    return catalog_source(ref).folder


def cmd_diff(args: argparse.Namespace) -> int:
    from cwcontrib.catalog.api import CatalogError
    from cwcontrib.catalog.diff import diff_catalogs

    try:
        old, new = _catalog_folder(args.old), _catalog_folder(args.new)
    except CatalogError as exc:
        print(f"cwcontrib: {exc}", file=sys.stderr)
        return EXIT_USAGE
    changes = diff_catalogs(old, new)
    if args.json:
        print(json.dumps(changes, indent=2, sort_keys=True))
        return EXIT_OK
    for section, items in changes.items():
        for item in items:
            print(f"{section}: {item}")
    if not any(changes.values()):
        print("no differences")
    return EXIT_OK


def cmd_docs(args: argparse.Namespace) -> int:
    from cwcontrib.catalog.docs import catalog_markdown

    sys.stdout.write(catalog_markdown())
    return EXIT_OK


def add_commands(commands: Any) -> None:
    index = commands.add_parser("index", help="rebuild catalog/ from submissions/ and verifications/")
    index.add_argument("--repo", default=".", help="the repository folder (default: the current folder)")
    index.add_argument("--quiet", "-q", action="store_true", help="no progress")
    index.set_defaults(func=cmd_index)

    catalog = commands.add_parser("catalog", help="read the catalog: show, top, diff")
    sub = catalog.add_subparsers(dest="catalog_command", required=True)
    version_help = "a release version (default: this checkout's catalog/, else the latest release)"
    show = sub.add_parser("show", help="every column of one run or pair")
    show.add_argument("id", help="a run id (<submission>/<trial>/<key>) or a pair id (…/<key a>~<key b>)")
    show.add_argument("--version", help=version_help)
    show.set_defaults(func=cmd_show)
    top = sub.add_parser("top", help="the most divergent pairs, with hyperparameters and verification status")
    top.add_argument("--arch", help="only this architecture (registry name)")
    top.add_argument("-n", type=int, default=10, help="how many pairs (default %(default)s)")
    top.add_argument("--version", help=version_help)
    top.set_defaults(func=cmd_top)
    diff = sub.add_parser("diff", help="what changed between two catalogs (folders or release versions)")
    diff.add_argument("old", help="a catalog folder or a release version")
    diff.add_argument("new", help="a catalog folder or a release version")
    diff.add_argument("--json", action="store_true", help="machine-readable output")
    diff.set_defaults(func=cmd_diff)
    docs = sub.add_parser("docs", help="print docs/catalog.md (every table and column)")
    docs.set_defaults(func=cmd_docs)

    from cwcontrib.catalog.release_cli import add_release_commands

    add_release_commands(commands)  # release, retract, verify-release

    from cwcontrib.catalog.audit import add_audit_command

    add_audit_command(commands)
