"""The `site` command (registered by cwcontrib.cli): `cwcontrib site build [--out site/] [--catalog catalog/]`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def cmd_site_build(args: argparse.Namespace) -> int:
    from cwcontrib.site.build import SiteError, build_site

    started = time.perf_counter()
    try:
        result = build_site(Path(args.catalog), Path(args.out), repo=Path(args.repo))
    except SiteError as exc:
        print(f"cwcontrib: {exc}", file=sys.stderr)
        return EXIT_USAGE
    elapsed = time.perf_counter() - started
    if not args.quiet:
        print(f"{args.out}: {result.pages} page(s), {result.files} file(s), {result.pairs} pair(s); "
              f"{elapsed:.1f} s", file=sys.stderr)
    return EXIT_OK


def add_commands(commands: Any) -> None:
    site = commands.add_parser("site", help="the catalog as a static website")
    actions = site.add_subparsers(dest="site_command", metavar="ACTION", required=True)
    build = actions.add_parser(
        "build", help="build the static site from the catalog (deterministic; works from file:// and GitHub Pages)")
    build.add_argument("--out", default="site", metavar="DIR", help="the site's folder, replaced atomically (site/)")
    build.add_argument("--catalog", default="catalog", metavar="DIR",
                       help="the catalog folder to render (catalog/)")
    build.add_argument("--repo", default=".", metavar="DIR",
                       help="the repository, for its release tags and dist/ (.)")
    build.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    build.set_defaults(func=cmd_site_build)
