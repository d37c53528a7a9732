"""`cwcontrib release X.Y.Z`: publish the catalog as a semantic version, a changelog, an annotated git tag and
signed assets, so that a paper citing "CrossedWires 1.2.0" can get exactly that catalog back and check it.

The version says what changed in the records (the rows of submissions, trials, runs and pairs, compared by key,
value by value), following Croissant's recommendation for datasets:

- PATCH: the same records; only metadata or documentation changed (datasheet, docs, the tool);
- MINOR: records added, none changed or removed;
- MAJOR: a record changed or removed (a retraction, a corrected submission, a new verification status, a
  changed column).

A larger bump than needed is allowed, a smaller one is refused; so are a dirty tree, an existing tag, a version
not greater than the last release, a version that skips one (1.0.0 -> 1.2.0), and a submission removed without
`cwcontrib retract`. Each refusal names its rule and what to do. Nothing is written before every check passed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cwcontrib.catalog.assets import SIGNATURE, check_private_key, sign_with_key, sign_with_sigstore, write_assets
from cwcontrib.catalog.tags import Version, catalog_at, latest_release, open_repo, release_tags

RECORD_TABLES = ("submissions", "trials", "runs", "pairs")
BUMPS = ("patch", "minor", "major")
LISTED = 20  # items per changelog list before "and N more"
CHANGELOG = "CHANGELOG.md"
CHANGELOG_HEAD = ("# Changelog\n\nWritten by `cwcontrib release` from the catalogs of consecutive releases and the "
                  "git history between them. Ids are submission ids, run ids (`<submission>/<trial>/<framework "
                  "key>`) and pair ids.\n")


class ReleaseRefused(Exception):
    """A release that breaks a rule: `rule` names it, the message says what is wrong and what to do."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(message)


@dataclass
class RecordChanges:
    """Rows added, changed and removed per table between two catalogs (by key), and tables whose columns differ."""

    added: dict[str, list[str]] = field(default_factory=dict)
    changed: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    changed_columns: dict[str, list[str]] = field(default_factory=dict)  # "<table> <key>" -> columns that differ

    @property
    def required(self) -> str:
        if self.columns or any(self.changed.values()) or any(self.removed.values()):
            return "major"
        return "minor" if any(self.added.values()) else "patch"

    def why(self) -> str:
        """What makes the required bump necessary, with a few ids."""
        parts = [f"the columns of {', '.join(self.columns)} changed"] if self.columns else []
        for verb, found in (("removed", self.removed), ("changed", self.changed), ("added", self.added)):
            for table in RECORD_TABLES:
                keys = found.get(table, [])
                if keys:
                    parts.append(f"{len(keys)} {table} {verb} ({_sample(keys, 3)})")
        return "; ".join(parts) or "no record changed"


def _sample(items: list[str], n: int) -> str:
    shown = ", ".join(items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")


def _rows(folder: Path | None, table: str) -> tuple[list[str], dict[str, dict[str, Any]]]:
    import pyarrow.parquet as pq

    from cwcontrib.catalog.columns import TABLES

    if folder is None or not (folder / f"{table}.parquet").is_file():
        return [c.name for c in TABLES[table].columns], {}
    arrow = pq.read_table(folder / f"{table}.parquet")
    key = TABLES[table].key
    return arrow.schema.names, {str(row[key]): row for row in arrow.to_pylist()}


def compare_records(old: Path | None, new: Path) -> RecordChanges:
    """The record changes from catalog folder `old` (None: no previous release) to `new`."""
    changes = RecordChanges()
    for table in RECORD_TABLES:
        (old_names, before), (new_names, after) = _rows(old, table), _rows(new, table)
        if old is not None and old_names != new_names:
            changes.columns.append(table)
        changes.added[table] = sorted(set(after) - set(before))
        changes.removed[table] = sorted(set(before) - set(after))
        changed = []
        for key in sorted(set(before) & set(after)):
            differ = sorted(c for c in set(before[key]) | set(after[key]) if before[key].get(c) != after[key].get(c))
            if differ:
                changed.append(key)
                changes.changed_columns[f"{table} {key}"] = differ
        changes.changed[table] = changed
    return changes


def next_version(previous: Version | None, bump: str) -> Version:
    if previous is None:
        return Version(1, 0, 0)
    if bump == "major":
        return Version(previous.major + 1, 0, 0)
    if bump == "minor":
        return Version(previous.major, previous.minor + 1, 0)
    return Version(previous.major, previous.minor, previous.patch + 1)


def bump_of(previous: Version, requested: Version) -> str:
    """Which bump `requested` is from `previous`; refused when it is not greater or skips a version."""
    if requested <= previous:
        raise ReleaseRefused("greater", f"{requested} is not greater than the last release {previous}: choose "
                                        f"{next_version(previous, 'patch')}, {next_version(previous, 'minor')} or "
                                        f"{next_version(previous, 'major')}")
    for bump in BUMPS:
        if requested == next_version(previous, bump):
            return bump
    raise ReleaseRefused("consecutive", f"{requested} does not follow {previous}: the next versions are "
                                        f"{next_version(previous, 'patch')} (PATCH), {next_version(previous, 'minor')} "
                                        f"(MINOR) and {next_version(previous, 'major')} (MAJOR)")


@dataclass
class ReleaseResult:
    version: Version
    previous: Version | None
    bump: str
    required: str
    digest: str
    commit: str
    dist: Path
    assets: list[Path]


def _refuse_dirty(repo: Any) -> None:
    if repo.is_dirty(untracked_files=True):
        lines = repo.git.status("--porcelain").splitlines()
        raise ReleaseRefused("clean tree", f"the work tree has uncommitted changes ({_sample(lines, 5)}): commit or "
                                           "remove them, so that the release is exactly a commit")


def _check_request(repo: Any, version: Version) -> tuple[Version | None, str]:
    _refuse_dirty(repo)
    if version.tag in {t.name for t in repo.tags}:
        raise ReleaseRefused("new tag", f"tag {version.tag} already exists: a release is never re-made; publish "
                                        "a new version instead")
    previous = latest_release(repo)
    if previous is None:
        return None, "first"
    bump = bump_of(previous, version)
    if repo.commit(previous.tag) == repo.head.commit:
        raise ReleaseRefused("something changed", f"HEAD is the commit of {previous.tag}: nothing to release")
    return previous, bump


def _check_bump(previous: Version | None, version: Version, bump: str, changes: RecordChanges) -> None:
    if previous is None:
        return
    needed = changes.required
    if BUMPS.index(bump) < BUMPS.index(needed):
        rule = {"minor": "MINOR = records added only", "patch": "PATCH = same records"}[bump]
        raise ReleaseRefused(f"semver: {rule}", f"{version} is a {bump.upper()} release, but since {previous} "
                                                f"{changes.why()}, which needs a {needed.upper()} release: release "
                                                f"{next_version(previous, needed)}")


def _check_removals(changes: RecordChanges, retracted: set[str]) -> None:
    silent = [s for s in changes.removed.get("submissions", []) if s not in retracted]
    if silent:
        raise ReleaseRefused("tombstone", f"submission(s) {', '.join(silent)} left the catalog without a retraction "
                                          "record: run `cwcontrib retract ID --reason ...` so that old citations "
                                          "resolve to why")


def release_date(repo: Any) -> dt.date:
    """The release's date: $SOURCE_DATE_EPOCH (reproducible builds), else the date of the released commit; never
    the clock, so the same history gives the same changelog."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.UTC).date()
    return dt.datetime.fromtimestamp(repo.head.commit.committed_date, dt.UTC).date()


def release(root: Path, version_text: str, key: Path | None = None, key_password: str | None = None,
            sigstore: bool = False, dist: Path | None = None) -> ReleaseResult:
    """Check, rebuild, write the changelog and assets, commit and tag (see the module's docstring)."""
    from cwcontrib.catalog.index import IndexRefused, build_catalog
    from cwcontrib.catalog.retract import RETRACTIONS_DIR, mark_released, read_tombstones

    version = Version.parse(version_text)
    if version is None:
        raise ReleaseRefused("version", f"{version_text!r} is not MAJOR.MINOR.PATCH (e.g. 1.0.0)")
    repo = open_repo(root)
    if repo is None:
        raise ReleaseRefused("git", f"{root} is not the top of a git work tree (GitPython and git are needed)")
    previous, bump = _check_request(repo, version)
    if key is None and not sigstore:
        raise ReleaseRefused("signed", "a release is signed: give --key EC_PRIVATE_KEY.pem (offline) or --sigstore "
                                       "(keyless, in the release workflow)")
    if key is not None and (problem := check_private_key(key, key_password)):
        raise ReleaseRefused("signed", problem)
    old = catalog_at(repo, previous.tag) if previous else None
    with tempfile.TemporaryDirectory(prefix="cwcontrib-release-") as tmp:
        try:  # a candidate first: nothing in the repository changes until every rule holds
            build_catalog(root, out=Path(tmp) / "catalog", version=str(version))
        except IndexRefused as exc:
            problems = "; ".join(f"{name}: {' / '.join(found[:3])}" for name, found in sorted(exc.refused.items()))
            raise ReleaseRefused("index", f"the catalog cannot be built ({problems}): fix the submission "
                                          "(`cwcontrib validate` and `cwcontrib index` show the findings)") from None
        changes = compare_records(old, Path(tmp) / "catalog")
    tombstones = read_tombstones(root / RETRACTIONS_DIR)
    _check_removals(changes, {t.submission_id for t in tombstones})
    _check_bump(previous, version, bump, changes)

    mark_released(root / RETRACTIONS_DIR, str(version))
    built = build_catalog(root, version=str(version))
    section = changelog_section(repo, version, previous, changes, built.catalog, old)
    from cwcontrib.atomic import write_bytes_atomic

    write_bytes_atomic(built.catalog / CHANGELOG, (CHANGELOG_HEAD + "\n" + section + _older_sections(old)).encode())
    dist = dist or root / "dist" / version.tag
    assets = write_assets(built.catalog, dist, str(version))
    signature = sign_with_key(dist, key, key_password) if key is not None else sign_with_sigstore(dist)
    paths = [p for p in ("catalog", RETRACTIONS_DIR) if (root / p).exists()]
    repo.git.add("--", *paths)
    repo.git.commit("-q", "-m", f"Release {version}", "-m", f"Catalog digest {built.digest}.")
    repo.create_tag(version.tag, message=f"CrossedWires catalog {version}\n\nCatalog digest {built.digest}.")
    return ReleaseResult(version, previous, bump, changes.required, built.digest, repo.head.commit.hexsha, dist,
                         [*assets, signature])


def _older_sections(old: Path | None) -> str:
    if old is None or not (old / CHANGELOG).is_file():
        return ""
    text = (old / CHANGELOG).read_text(encoding="utf-8")
    start = text.find("\n## ")
    return text[start:] if start >= 0 else ""


def _bullets(items: list[str]) -> list[str]:
    lines = [f"- {item}" for item in items[:LISTED]]
    if len(items) > LISTED:
        lines.append(f"- … and {len(items) - LISTED} more")
    return lines


def _commit_line(commit: Any) -> str:
    when = dt.datetime.fromtimestamp(commit.committed_date, dt.UTC).date().isoformat()
    return f"`{commit.hexsha[:10]}` {commit.summary} ({commit.author.name}, {when})"


def _meta(folder: Path | None) -> dict[str, Any]:
    if folder is None:
        return {"submissions": {}}
    data: dict[str, Any] = json.loads((folder / "catalog.json").read_text(encoding="utf-8"))
    return data


def changelog_section(repo: Any, version: Version, previous: Version | None, changes: RecordChanges,
                      new: Path, old: Path | None) -> str:
    """One release's changelog: submissions and runs by id from the two catalogs, commits from git history."""
    from cwcontrib.catalog.retract import RETRACTIONS_DIR, read_tombstones

    since = f"{previous.tag}..HEAD" if previous else "HEAD"
    meta, before = _meta(new), _meta(old)
    head = [f"## {version} — {release_date(repo).isoformat()}", "",
            f"{changes.required.upper()} changes since {previous or 'the beginning'}. Catalog digest "
            f"`{meta['digest']}`; {len(meta['submissions'])} submission(s), {meta['tables']['runs']['rows']} runs, "
            f"{meta['tables']['pairs']['rows']} pairs.", ""]
    sections: list[tuple[str, list[str]]] = []
    added = changes.added["submissions"]
    sections.append(("Added", [_added_line(repo, since, new, sid) for sid in added]))
    changed_subs = [s for s in changes.changed["submissions"]
                    if before["submissions"].get(s, {}).get("content_digest")
                    != meta["submissions"].get(s, {}).get("content_digest")]
    sections.append(("Changed", [_changed_line(repo, since, sid, changes, before, meta) for sid in changed_subs]))
    stones = [t for t in read_tombstones(Path(repo.working_tree_dir) / RETRACTIONS_DIR)
              if t.retracted_in == str(version)]
    sections.append(("Retracted", [f"`{t.submission_id}` — {t.title or ''}: {t.reason} (retracted on "
                                   f"{t.retracted_on}{' by ' + t.retracted_by if t.retracted_by else ''}; last in "
                                   f"{t.last_release or 'no release'}; {len(t.records.get('run', []))} runs)"
                                   for t in stones]))
    explained = set(added) | set(changed_subs) | set(changes.removed["submissions"])
    sections.append(("Other record changes", _other_changes(changes, explained)))
    commits = list(repo.iter_commits(since))
    sections.append((f"Commits since {previous or 'the beginning'}", [_commit_line(c) for c in commits]))
    lines = head
    for title, items in sections:
        if items:
            lines += [f"### {title}", "", *_bullets(items), ""]
    if not any(changes.added.values()) and not any(changes.changed.values()) and not any(changes.removed.values()):
        lines += ["No record changed: metadata and documentation only.", ""]
    return "\n".join(lines)


def _added_line(repo: Any, since: str, new: Path, sid: str) -> str:
    import pyarrow.parquet as pq

    row = next(r for r in pq.read_table(new / "submissions.parquet").to_pylist() if r["submission_id"] == sid)
    commits = list(repo.iter_commits(since, paths=f"submissions/{sid}"))
    origin = f"; added in {_commit_line(commits[-1])}" if commits else ""
    return (f"`{sid}` — {row['title']}: {row['architecture']} on {row['dataset']}, {row['trials']} trials, "
            f"{row['runs']} runs, {row['pairs']} pairs{origin}")


def _changed_line(repo: Any, since: str, sid: str, changes: RecordChanges, before: dict[str, Any],
                  meta: dict[str, Any]) -> str:
    mine = {verb: [k for k in found.get("runs", []) if k.startswith(f"{sid}/")]
            for verb, found in (("added", changes.added), ("changed", changes.changed), ("removed", changes.removed))}
    counts = ", ".join(f"{len(keys)} runs {verb}" for verb, keys in mine.items() if keys) or "no run changed"
    commits = list(repo.iter_commits(since, paths=f"submissions/{sid}"))
    last = f"; last changed in {_commit_line(commits[0])}" if commits else ""
    return (f"`{sid}`: content digest `{before['submissions'][sid]['content_digest'][:12]}…` → "
            f"`{meta['submissions'][sid]['content_digest'][:12]}…`; {counts}{last}")


def _other_changes(changes: RecordChanges, explained: set[str]) -> list[str]:
    """Rows that changed without their submission's content changing: verification statuses, derived columns."""
    lines = []
    for table in ("runs", "pairs", "trials"):
        for key in changes.changed.get(table, []):
            if key.split("/", 1)[0] not in explained:
                lines.append(f"{table[:-1]} `{key}`: {', '.join(changes.changed_columns[f'{table} {key}'])}")
    for table in ("runs", "pairs"):
        for verb, found in (("added", changes.added), ("removed", changes.removed)):
            lines += [f"{table[:-1]} `{k}` {verb}" for k in found.get(table, []) if k.split("/", 1)[0] not in explained]
    if changes.columns:
        lines.insert(0, f"columns changed in: {', '.join(changes.columns)}")
    return lines


def releases(root: Path) -> list[str]:
    repo = open_repo(root)
    return [str(v) for v in sorted(release_tags(repo))] if repo is not None else []


__all__ = ["SIGNATURE", "ReleaseRefused", "ReleaseResult", "compare_records", "release"]
