"""Bind validate's untrusted artifact to a pull request before comment.yml posts anything (trusted code, API only).

    check_pr.py --repo OWNER/NAME --number-file pr-number.txt --head-sha SHA --head-repo OWNER/NAME
                --head-branch BRANCH --reports DIR

validate.yml runs the pull request's own workflow file, so everything in its artifact is the contributor's to
write, including the number of the pull request to comment on and the reports. This checks, from GitHub's side:

- the number is digits (at most 9);
- that pull request comes from the same head repository and branch as the validate run (GitHub's
  `workflow_run`), so an artifact cannot point the bot at somebody else's pull request;
- when the pull request's head is still the validated commit and the artifact carries submission reports: the
  pull request's files (GitHub's list, not the artifact's) stay under `submissions/<id>/`, touch none of
  `verifications/`, `catalog/`, `retractions/`, and every report is named after a submission it touches. A pull
  request that rewrote validate.yml to skip `cwcontrib github changed` is stopped here.

Prints `number=N` and `stale=true|false` (for `$GITHUB_OUTPUT`); exit 1 with the reason otherwise, 2 when the API
fails. `$GITHUB_API_URL` and `$GITHUB_TOKEN` as in approved_records.py.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from approved_records import Api, ApiError

NUMBER = re.compile(r"[0-9]{1,9}")
ID = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")
PROTECTED = ("verifications/", "catalog/", "retractions/")
MAX_FILES = 3000  # GitHub lists at most 3000 files of a pull request


class Refused(Exception):
    pass


def read_number(path: Path) -> int:
    raw = path.read_bytes()[:32].decode("ascii", errors="replace").strip()
    if not NUMBER.fullmatch(raw):
        raise Refused("the artifact's pull request number is not a number")
    return int(raw)


def report_ids(folder: Path) -> list[str]:
    """The submissions the artifact carries reports of (`<id>.json`; changed.json is no report)."""
    names = sorted(p.name for p in folder.glob("*.json") if p.name != "changed.json")
    bad = [n for n in names if not ID.fullmatch(n[: -len(".json")])]
    if bad:
        raise Refused(f"report files not named after a submission id: {bad[:5]}")
    return [n[: -len(".json")] for n in names]


def pr_files(api: Api, repo: str, number: int) -> list[str]:
    paths: list[str] = []
    for item in api.pages(f"repos/{repo}/pulls/{number}/files"):
        paths.append(str(item["filename"]))
        if item.get("previous_filename"):
            paths.append(str(item["previous_filename"]))
    return paths


def check_files(paths: list[str], ids: list[str]) -> None:
    if len(paths) >= MAX_FILES:
        raise Refused(f"the pull request changes {MAX_FILES} files or more: GitHub does not list them all")
    protected = sorted(p for p in paths if p.startswith(PROTECTED))
    if protected:
        raise Refused(f"the pull request changes {protected[:5]} (trusted jobs write those)")
    outside = sorted(p for p in paths if not re.match(r"submissions/[^/]+/.", p))
    if outside:
        raise Refused(f"the pull request changes a submission and {outside[:5]} outside submissions/<id>/")
    touched = {p.split("/")[1] for p in paths}
    stray = sorted(set(ids) - touched)
    if stray:
        raise Refused(f"reports of submissions the pull request does not touch: {stray[:5]}")


def check(api: Api, repo: str, number_file: Path, head_sha: str, head_repo: str, head_branch: str,
          reports: Path) -> tuple[int, bool]:
    number = read_number(number_file)
    pr = api.get(f"repos/{repo}/pulls/{number}")
    source = ((pr.get("head") or {}).get("repo") or {}).get("full_name")
    branch = (pr.get("head") or {}).get("ref")
    if (source, branch) != (head_repo, head_branch):
        raise Refused(f"pull request {number} comes from {source}:{branch}, the validate run from "
                      f"{head_repo}:{head_branch}")
    stale = (pr.get("head") or {}).get("sha") != head_sha
    ids = report_ids(reports)
    if ids and not stale:
        check_files(pr_files(api, repo, number), ids)
    return number, stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True)
    parser.add_argument("--number-file", type=Path, required=True)
    parser.add_argument("--head-sha", required=True)
    parser.add_argument("--head-repo", required=True)
    parser.add_argument("--head-branch", required=True)
    parser.add_argument("--reports", type=Path, required=True)
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", args.repo):
        print("--repo must be OWNER/NAME", file=sys.stderr)
        return 2
    api = Api(os.environ.get("GITHUB_API_URL") or "https://api.github.com", os.environ.get("GITHUB_TOKEN", ""))
    try:
        number, stale = check(api, args.repo, args.number_file, args.head_sha, args.head_repo, args.head_branch,
                              args.reports)
    except Refused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    except (ApiError, OSError, KeyError, TypeError) as exc:
        print(f"GitHub API: {exc}", file=sys.stderr)
        return 2
    print(f"number={number}")
    print(f"stale={'true' if stale else 'false'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
