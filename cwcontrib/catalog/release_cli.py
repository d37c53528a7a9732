"""The `release`, `retract` and `verify-release` commands (registered by cwcontrib.catalog.cli)."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def cmd_release(args: argparse.Namespace) -> int:
    from cwcontrib.catalog.release import ReleaseRefused, release

    try:
        result = release(Path(args.repo), args.version, key=Path(args.key) if args.key else None,
                         sigstore=args.sigstore, dist=Path(args.dist) if args.dist else None)
    except ReleaseRefused as exc:
        print(f"cwcontrib: release refused (rule: {exc.rule}): {exc}", file=sys.stderr)
        return EXIT_REFUSED
    since = f"{result.bump.upper()} after {result.previous}" if result.previous else "first release"
    print(f"released {result.version} ({since}; the records need {result.required.upper()}): commit "
          f"{result.commit[:12]}, tag {result.version.tag}, catalog digest {result.digest}")
    for asset in result.assets:
        print(f"  {asset}")
    print(f"publish: git push origin {result.version.tag}, then upload {result.dist}/* as the release's assets")
    return EXIT_OK


def cmd_retract(args: argparse.Namespace) -> int:
    from cwcontrib.catalog.retract import RetractionError, retract

    try:
        tombstone = retract(Path(args.repo), args.id, args.reason, by=args.by, commit=not args.no_commit)
    except RetractionError as exc:
        print(f"cwcontrib: retraction refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    runs = len(tombstone.records.get("run", []))
    print(f"retracted {tombstone.submission_id} ({runs} runs; last released in {tombstone.last_release or 'none'}): "
          f"retractions/{tombstone.submission_id}.json" + ("" if args.no_commit else ", committed"))
    print("the next release must be a MAJOR one; `cwcontrib index` shows the tombstone in the retracted table")
    return EXIT_OK


def _download_release(version: str) -> tuple[Path, list[str]]:
    """A release's assets, each checked against its SHA256SUMS as it arrives: a file that differs is named and
    left out (so the signature check names it too)."""
    from cwcontrib.catalog.api import ASSET_LIMIT, asset_base
    from cwcontrib.catalog.assets import SIGNATURE, SUMS
    from cwcontrib.catalog.fetch import FetchError, cache_root, fetch_bytes, fetch_verified, parse_sums

    base = asset_base(version)
    raw = fetch_bytes(f"{base}/{SUMS}", 1 << 20)
    sums = parse_sums(raw.decode("utf-8"))
    folder = cache_root() / "verify" / hashlib.sha256(raw).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SUMS).write_bytes(raw)
    problems = []
    for name, digest in sorted(sums.items()):
        try:
            fetch_verified(f"{base}/{name}", digest, ASSET_LIMIT, folder / name)
        except FetchError as exc:
            problems.append(f"{name}: differs or cannot be downloaded ({exc})")
    try:
        (folder / SIGNATURE).write_bytes(fetch_bytes(f"{base}/{SIGNATURE}", 16 << 20))
    except FetchError as exc:
        (folder / SIGNATURE).unlink(missing_ok=True)
        problems.append(f"{SIGNATURE}: cannot be downloaded ({exc})")
    return folder, problems


def cmd_verify_release(args: argparse.Namespace) -> int:
    from cwcontrib.catalog.assets import verify_folder
    from cwcontrib.catalog.fetch import FetchError
    from cwcontrib.catalog.tags import Version

    key = Path(args.public_key) if args.public_key else None
    if key is None and not args.no_signature:
        print("cwcontrib: give --public-key PEM (the release key's public half), or --no-signature to check only "
              "SHA256SUMS", file=sys.stderr)
        return EXIT_USAGE
    target, early = Path(args.release), list[str]()
    if not target.is_dir():
        if Version.parse(args.release) is None:
            print(f"cwcontrib: {args.release}: neither a folder of release assets nor a version such as 1.0.0",
                  file=sys.stderr)
            return EXIT_USAGE
        try:
            target, early = _download_release(args.release)
        except (FetchError, UnicodeDecodeError) as exc:
            print(f"cwcontrib: cannot read release {args.release}'s SHA256SUMS: {exc}", file=sys.stderr)
            return EXIT_REFUSED
    result = verify_folder(target, key)
    problems = early + [p for p in result.problems if not any(p.split(":")[0] == e.split(":")[0] for e in early)]
    for problem in problems:
        print(f"FAILED {problem}")
    if problems:
        return EXIT_REFUSED
    signed = f"signature verified with {key}" if key else "signature not checked (--no-signature)"
    print(f"verified {target}: {len(result.checked)} file(s) match SHA256SUMS; {signed}")
    return EXIT_OK


def add_release_commands(commands: Any) -> None:
    rel = commands.add_parser("release", help="publish the catalog as version X.Y.Z: changelog, tag, signed assets")
    rel.add_argument("version", help="MAJOR.MINOR.PATCH, the next one after the last release")
    rel.add_argument("--repo", default=".", help="the repository (default: the current folder)")
    sign = rel.add_mutually_exclusive_group()
    sign.add_argument("--key", help="EC private key (PEM) to sign with, offline")
    sign.add_argument("--sigstore", action="store_true", help="keyless Sigstore signing (the release workflow)")
    rel.add_argument("--dist", help="where the assets go (default: dist/v<version>)")
    rel.set_defaults(func=cmd_release)

    ret = commands.add_parser("retract", help="remove a submission for cause, leaving a tombstone (maintainers)")
    ret.add_argument("id", help="the submission id")
    ret.add_argument("--reason", required=True, help="why: what an old citation of it will show")
    ret.add_argument("--repo", default=".", help="the repository (default: the current folder)")
    ret.add_argument("--by", help="who retracts it (default: git's user.name)")
    ret.add_argument("--no-commit", action="store_true", help="stage the removal and the tombstone, do not commit")
    ret.set_defaults(func=cmd_retract)

    ver = commands.add_parser("verify-release", help="check a release's assets against SHA256SUMS and its signature")
    ver.add_argument("release", help="a folder of release assets, or a version downloaded from $CWCONTRIB_RELEASES")
    ver.add_argument("--public-key", help="the release key's public half (PEM)")
    ver.add_argument("--no-signature", action="store_true", help="check SHA256SUMS only")
    ver.set_defaults(func=cmd_verify_release)
