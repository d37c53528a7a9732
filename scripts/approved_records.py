"""Take the approved GPU re-evaluation records of a merged commit into `verifications/` (index.yml).

    approved_records.py fetch --repo OWNER/NAME --commit SHA --branch main --out verifications --added added.json
    approved_records.py prune --added added.json --catalog catalog/catalog.json

`fetch` finds the pull requests merged by SHA, every commit of them, and the artifacts
`verification-records-<commit>` that reevaluate.yml uploaded for those commits. An artifact counts only when the
run that made it is reevaluate.yml itself, dispatched on the default branch of this repository, and successful
(which means a required reviewer of the `gpu-reevaluation` environment approved it): a pull request's own
workflows can upload artifacts of any name, so the name proves nothing. Each archive is untrusted data: only
`<submission id>/<weights sha256>.<harness prefix>.json` members of at most 64 KiB that parse as a verification
record stored at its own place are taken; an existing record is never overwritten.

`prune` runs after `cwcontrib index`: the index validates every merged submission (the declared sha256 of each
file against its bytes) and lists under `verifications.ignored` of `catalog.json` every record whose weights
sha256 matches no run. Records taken by `fetch` that the index ignored are deleted again, so only records of the
merged files enter the repository; the workflow then indexes once more.

The API is `$GITHUB_API_URL` (default https://api.github.com) with the token in `$GITHUB_TOKEN`; the token is
never sent to the host an artifact download redirects to.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cwcontrib.atomic import write_bytes_atomic
from cwcontrib.catalog.verification import MAX_RECORD_BYTES, VerificationRecord

WORKFLOW = ".github/workflows/reevaluate.yml"
ARTIFACT_PREFIX = "verification-records-"
MEMBER = re.compile(r"^(?P<sub>[a-z0-9]+(?:[-_.][a-z0-9]+)*)/[0-9a-f]{64}\.[0-9a-f]{16}\.json$")
SHA = re.compile(r"^[0-9a-f]{40}$")
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024
MAX_MEMBERS = 100_000
MAX_API_BYTES = 16 * 1024 * 1024


class ApiError(Exception):
    pass


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base = base.rstrip("/")
        self.token = token

    def _open(self, url: str, limit: int) -> bytes:
        request = urllib.request.Request(url, headers={"Accept": "application/vnd.github+json",
                                                       "X-GitHub-Api-Version": "2022-11-28"})
        if self.token:
            # An unredirected header stays with this request: the artifact's storage host never sees the token.
            request.add_unredirected_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                data: bytes = response.read(limit + 1)
        except urllib.error.HTTPError as exc:
            raise ApiError(f"{url}: HTTP {exc.code}") from None
        except OSError as exc:
            raise ApiError(f"{url}: {exc}") from None
        if len(data) > limit:
            raise ApiError(f"{url}: larger than {limit} bytes")
        return data

    def get(self, path: str, **query: str | int) -> Any:
        url = f"{self.base}/{path.lstrip('/')}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        return json.loads(self._open(url, MAX_API_BYTES))

    def pages(self, path: str, key: str | None = None, **query: str | int) -> list[Any]:
        items: list[Any] = []
        for page in range(1, 101):
            data = self.get(path, per_page=100, page=page, **query)
            batch = data[key] if key else data
            items.extend(batch)
            if len(batch) < 100:
                break
        return items

    def download(self, path: str) -> bytes:
        return self._open(f"{self.base}/{path.lstrip('/')}", MAX_ARCHIVE_BYTES)


@dataclass
class Outcome:
    added: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "<what>: <why>"


def trusted_run(run: dict[str, Any], repo: str, branch: str) -> str | None:
    """Why the workflow run cannot vouch for its artifacts, or None when it can."""
    path = str(run.get("path") or "").split("@", 1)[0]
    checks = [
        (path == WORKFLOW, f"made by {path or 'an unknown workflow'}, not {WORKFLOW}"),
        (run.get("event") == "workflow_dispatch", f"triggered by {run.get('event')}, not workflow_dispatch"),
        (run.get("head_branch") == branch, f"dispatched on {run.get('head_branch')}, not {branch}"),
        ((run.get("repository") or {}).get("full_name") == repo, "a run of another repository"),
        ((run.get("head_repository") or {}).get("full_name") == repo, "a run of code from another repository"),
        (run.get("conclusion") == "success", f"concluded {run.get('conclusion')}, not success"),
    ]
    return next((why for ok, why in checks if not ok), None)


def merged_commits(api: Api, repo: str, commit: str, branch: str) -> list[str]:
    """Every commit of the pull requests into `branch` that `commit` merged, the merged commit too, sorted."""
    shas = {commit}
    for pr in api.get(f"repos/{repo}/commits/{commit}/pulls"):
        if pr.get("merged_at") and (pr.get("base") or {}).get("ref") == branch:
            shas.update(c["sha"] for c in api.pages(f"repos/{repo}/pulls/{int(pr['number'])}/commits"))
    return sorted(s for s in shas if SHA.match(s))


def take_archive(data: bytes, label: str, out: Path, submissions: Path, outcome: Outcome) -> None:
    """Write the well-formed records of one artifact archive under `out`, refusing everything else by name."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        outcome.refused.append(f"{label}: not a zip archive ({exc})")
        return
    if len(members) > MAX_MEMBERS:
        outcome.refused.append(f"{label}: more than {MAX_MEMBERS} members")
        return
    for info in members:
        name = info.filename
        if info.is_dir():
            continue
        where = f"{label}:{name!r}"
        match = MEMBER.match(name)
        if not match:
            outcome.refused.append(f"{where}: not <submission>/<weights sha256>.<harness prefix>.json")
            continue
        if info.file_size > MAX_RECORD_BYTES:
            outcome.refused.append(f"{where}: larger than {MAX_RECORD_BYTES} bytes")
            continue
        try:
            with archive.open(info) as member:
                raw = member.read(MAX_RECORD_BYTES + 1)
            if len(raw) > MAX_RECORD_BYTES:
                raise ValueError(f"larger than {MAX_RECORD_BYTES} bytes")
            record = VerificationRecord.model_validate_json(raw)
        except (OSError, ValueError, ValidationError, zipfile.BadZipFile) as exc:
            outcome.refused.append(f"{where}: not a verification record ({str(exc).splitlines()[0]})")
            continue
        if name != f"{record.submission_id}/{record.file_name}":
            outcome.refused.append(f"{where}: its content belongs at {record.submission_id}/{record.file_name}")
            continue
        if not (submissions / record.submission_id).is_dir():
            outcome.refused.append(f"{where}: no submission {record.submission_id} in the merged tree")
            continue
        target = out / name
        if target.exists():
            outcome.kept.append(name)
            continue
        write_bytes_atomic(target, record.to_json())
        outcome.added.append(name)


def fetch(api: Api, repo: str, commit: str, branch: str, out: Path, submissions: Path) -> Outcome:
    outcome = Outcome()
    for sha in merged_commits(api, repo, commit, branch):
        for artifact in api.pages(f"repos/{repo}/actions/artifacts", key="artifacts", name=ARTIFACT_PREFIX + sha):
            label = f"artifact {artifact.get('id')} ({artifact.get('name')})"
            if artifact.get("name") != ARTIFACT_PREFIX + sha or artifact.get("expired"):
                continue
            run_id = int((artifact.get("workflow_run") or {}).get("id") or 0)
            why = trusted_run(api.get(f"repos/{repo}/actions/runs/{run_id}"), repo, branch) if run_id else "no run"
            if why:
                outcome.refused.append(f"{label}: {why}")
                continue
            take_archive(api.download(f"repos/{repo}/actions/artifacts/{int(artifact['id'])}/zip"), label, out,
                         submissions, outcome)
    outcome.added.sort()
    return outcome


def prune(added: list[str], catalog_json: Path, out: Path) -> list[str]:
    """Delete the records `fetch` added that the index ignored; the deleted names."""
    meta = json.loads(catalog_json.read_text(encoding="utf-8"))
    ignored = {item["file"] for item in meta["verifications"]["ignored"]}
    removed = sorted(name for name in added if name in ignored)
    for name in removed:
        (out / name).unlink(missing_ok=True)
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fetch")
    f.add_argument("--repo", required=True)
    f.add_argument("--commit", required=True)
    f.add_argument("--branch", required=True)
    f.add_argument("--out", type=Path, default=Path("verifications"))
    f.add_argument("--submissions", type=Path, default=Path("submissions"))
    f.add_argument("--added", type=Path, required=True, help="where the list of added records goes (JSON)")
    p = sub.add_parser("prune")
    p.add_argument("--added", type=Path, required=True)
    p.add_argument("--catalog", type=Path, default=Path("catalog/catalog.json"))
    p.add_argument("--out", type=Path, default=Path("verifications"))
    args = parser.parse_args(argv)
    if args.command == "prune":
        removed = prune(json.loads(args.added.read_text(encoding="utf-8")), args.catalog, args.out)
        for name in removed:
            print(f"removed {name}: the index ignored it (its weights sha256 matches no merged run)")
        print(f"removed={'true' if removed else 'false'}")
        return 0
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", args.repo) or not SHA.match(args.commit):
        print("--repo must be OWNER/NAME and --commit a 40-hex sha", file=sys.stderr)
        return 2
    api = Api(os.environ.get("GITHUB_API_URL") or "https://api.github.com", os.environ.get("GITHUB_TOKEN", ""))
    try:
        outcome = fetch(api, args.repo, args.commit, args.branch, args.out, args.submissions)
    except ApiError as exc:
        print(f"GitHub API: {exc}", file=sys.stderr)
        return 2
    write_bytes_atomic(args.added, json.dumps(outcome.added, indent=1).encode() + b"\n")
    for name in outcome.added:
        print(f"added {name}")
    for name in outcome.kept:
        print(f"kept {name}: a record is already there")
    for line in outcome.refused:
        print(f"refused {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
