"""Retractions: a submission removed for cause leaves a tombstone, so that an old citation of it (or of one of its
trials, runs or pairs) resolves to an explanation rather than to nothing.

`cwcontrib retract ID --reason "..."` (a maintainer command) removes `submissions/<ID>/` and writes
`retractions/<ID>.json`: when, why, by whom, the last release that held it, and every id it had in the catalog.
`retracted_in` stays null until `cwcontrib release` publishes the first release without it and fills it in.
The indexer turns each tombstone into rows of the `retracted` table (one per cited id), and refuses a
tombstone whose submission folder is still there.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cwcontrib.atomic import write_bytes_atomic

TOMBSTONE_FORMAT = "1"
RETRACTIONS_DIR = "retractions"
SUBMISSION_ID = re.compile(r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$")  # models.Slug: an id is also a safe file name
KINDS = ("submission", "trial", "run", "pair")
_ID_TABLES = {"trial": ("trials", "trial_key"), "run": ("runs", "run_id"), "pair": ("pairs", "pair_id")}


class RetractionError(Exception):
    """A retraction that cannot be made, or tombstones that cannot be read; `refused` maps a name to problems."""

    def __init__(self, refused: dict[str, list[str]]) -> None:
        self.refused = refused
        super().__init__("; ".join(f"{name}: {' '.join(problems)}" for name, problems in sorted(refused.items())))


@dataclass
class Tombstone:
    submission_id: str
    reason: str
    retracted_on: str  # ISO 8601 date
    retracted_by: str | None
    title: str | None
    content_digest: str | None
    last_release: str | None  # the last release that held the submission (None: never released)
    retracted_in: str | None  # the first release without it (None until `cwcontrib release` publishes one)
    records: dict[str, list[str]] = field(default_factory=dict)  # kind -> the ids it had: trial, run, pair
    format: str = TOMBSTONE_FORMAT

    def to_bytes(self) -> bytes:
        return (json.dumps(asdict(self), indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()

    def rows(self) -> list[dict[str, Any]]:
        """The `retracted` table's rows: the submission and each of its trials, runs and pairs."""
        ids = [("submission", self.submission_id)] + [(kind, i) for kind in KINDS[1:]
                                                      for i in self.records.get(kind, [])]
        return [{"retracted_id": rid, "kind": kind, "submission_id": self.submission_id, "title": self.title,
                 "content_digest": self.content_digest, "reason": self.reason, "retracted_on": self.retracted_on,
                 "retracted_by": self.retracted_by, "last_release": self.last_release,
                 "retracted_in": self.retracted_in or "unreleased"} for kind, rid in ids]


_REQUIRED_TEXT = ("submission_id", "reason", "retracted_on")
_OPTIONAL_TEXT = ("retracted_by", "title", "content_digest", "last_release", "retracted_in")


def _problems(data: Any, stem: str) -> list[str]:
    if not isinstance(data, dict):
        return ["not a JSON object"]
    problems = [f"unknown key {k!r}" for k in sorted(set(data) - set(Tombstone.__dataclass_fields__))]
    if data.get("format") != TOMBSTONE_FORMAT:
        problems.append(f"format must be {TOMBSTONE_FORMAT!r}")
    problems += [f"{k} must be a non-empty string" for k in _REQUIRED_TEXT
                 if not isinstance(data.get(k), str) or not data[k].strip()]
    problems += [f"{k} must be a string or null" for k in _OPTIONAL_TEXT if not isinstance(data.get(k), str | None)]
    if data.get("submission_id") != stem:
        problems.append(f"submission_id {data.get('submission_id')!r} differs from the file name {stem!r}")
    records = data.get("records", {})
    if not isinstance(records, dict) or set(records) - set(_ID_TABLES) or not all(
            isinstance(v, list) and all(isinstance(i, str) for i in v) for v in records.values()):
        problems.append("records must map trial/run/pair to lists of ids")
    try:
        dt.date.fromisoformat(str(data.get("retracted_on")))
    except ValueError:
        problems.append("retracted_on must be an ISO 8601 date")
    return problems


def read_tombstones(folder: Path) -> list[Tombstone]:
    """Every `retractions/*.json`, checked; RetractionError names each file that is not a valid tombstone."""
    tombstones, refused = [], {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        name = f"{RETRACTIONS_DIR}/{path.name}"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            refused[name] = [f"unreadable: {exc}"]
            continue
        problems = _problems(data, path.stem)
        if problems:
            refused[name] = problems
            continue
        tombstones.append(Tombstone(**data))
    if refused:
        raise RetractionError(refused)
    return tombstones


def tombstone_rows(retractions: Path, submissions: Path) -> list[dict[str, Any]]:
    """The `retracted` table's rows; a tombstone whose submission folder still exists is refused."""
    tombstones = read_tombstones(retractions)
    alive = {t.submission_id: [f"retracted by {RETRACTIONS_DIR}/{t.submission_id}.json but its folder is still "
                               "under submissions/: remove the folder (cwcontrib retract does) or the tombstone"]
             for t in tombstones if (submissions / t.submission_id).exists()}
    if alive:
        raise RetractionError(alive)
    return [row for t in tombstones for row in t.rows()]


def _catalog_ids(catalog: Path, submission_id: str) -> tuple[dict[str, Any], dict[str, list[str]]]:
    from cwcontrib.catalog.api import read_table

    submissions = read_table(catalog, "submissions")
    match = submissions[submissions["submission_id"] == submission_id]
    if match.empty:
        raise RetractionError({submission_id: ["is not in catalog/: run `cwcontrib index` first (a submission "
                                               "that never entered the catalog has nothing to cite; remove its "
                                               "folder instead)"]})
    row = match.iloc[0]
    records = {}
    for kind, (table, key) in _ID_TABLES.items():
        frame = read_table(catalog, table)
        records[kind] = sorted(str(i) for i in frame[frame["submission_id"] == submission_id][key])
    return {"title": str(row["title"]), "content_digest": str(row["content_digest"])}, records


def _last_release(repo: Any, submission_id: str) -> str | None:
    from cwcontrib.catalog.tags import catalog_at, release_tags

    for version, tag in sorted(release_tags(repo).items(), reverse=True):
        folder = catalog_at(repo, tag.name)
        if folder is not None and submission_id in json.loads((folder / "catalog.json").read_text())["submissions"]:
            return str(version)
    return None


def retract(root: Path, submission_id: str, reason: str, by: str | None = None, commit: bool = True,
            today: dt.date | None = None) -> Tombstone:
    """Remove a submission for cause: its folder goes (from the work tree and the git index), a tombstone is
    written in its place, and both are committed together unless `commit` is False."""
    from cwcontrib.catalog.tags import open_repo

    if not SUBMISSION_ID.match(submission_id):
        raise RetractionError({submission_id: ["is not a submission id (lower-case letters, digits, - _ .)"]})
    if not reason.strip():
        raise RetractionError({submission_id: ["a retraction needs a --reason: it is what an old citation shows"]})
    repo = open_repo(root)
    if repo is None:
        raise RetractionError({str(root): ["is not a git work tree (retractions are recorded in git history)"]})
    path = root / RETRACTIONS_DIR / f"{submission_id}.json"
    if path.exists():
        raise RetractionError({submission_id: [f"is already retracted ({RETRACTIONS_DIR}/{path.name})"]})
    folder = root / "submissions" / submission_id
    if not folder.is_dir():
        raise RetractionError({submission_id: ["has no folder under submissions/"]})
    about, records = _catalog_ids(root / "catalog", submission_id)
    who = by or repo.config_reader().get_value("user", "name", "") or None
    tombstone = Tombstone(submission_id=submission_id, reason=reason.strip(),
                          retracted_on=(today or dt.datetime.now(dt.UTC).date()).isoformat(),
                          retracted_by=str(who) if who else None, title=about["title"],
                          content_digest=about["content_digest"], last_release=_last_release(repo, submission_id),
                          retracted_in=None, records=records)
    write_bytes_atomic(path, tombstone.to_bytes())
    repo.git.rm("-r", "-q", "--", str(folder.relative_to(root)))
    shutil.rmtree(folder, ignore_errors=True)  # what git did not track (ignored files) goes too
    repo.git.add("--", str(path.relative_to(root)))
    if commit:
        repo.git.commit("-q", "-m", f"Retract {submission_id}", "-m", tombstone.reason)
    return tombstone


def mark_released(retractions: Path, version: str) -> list[Path]:
    """Fill `retracted_in` of every pending tombstone with the release that publishes it; the files changed."""
    changed = []
    for tombstone in read_tombstones(retractions):
        if tombstone.retracted_in is None:
            tombstone.retracted_in = version
            path = retractions / f"{tombstone.submission_id}.json"
            write_bytes_atomic(path, tombstone.to_bytes())
            changed.append(path)
    return changed
