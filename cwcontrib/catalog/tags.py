"""Releases as git tags: `v<MAJOR>.<MINOR>.<PATCH>` annotated tags, and the catalog files as they were at a tag.

A release's catalog is read from git objects (GitPython), never from the working tree, so an old version is
exactly what was tagged whatever the checkout holds now. The files land in `<cache>/tags/<commit>/catalog/`:
named by the commit, so a tag moved to another commit can never serve the old files.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cwcontrib.catalog.fetch import cache_root

if TYPE_CHECKING:
    import git

RELEASE = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
CATALOG_DIR = "catalog"


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version | None:
        match = RELEASE.match(text)
        return cls(int(match[1]), int(match[2]), int(match[3])) if match else None

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def tag(self) -> str:
        return f"v{self}"


def open_repo(folder: Path) -> git.Repo | None:
    """The git repository whose work tree is `folder`, or None (not a repository, or GitPython/git missing)."""
    try:
        import git
    except ImportError:  # GitPython is the `release` extra; without it a checkout is read as files only
        return None
    try:
        return git.Repo(folder)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandNotFound):
        return None


def release_tags(repo: git.Repo) -> dict[Version, git.TagReference]:
    """Every tag named v<MAJOR>.<MINOR>.<PATCH>; other tags are not releases."""
    found = {}
    for tag in repo.tags:
        version = Version.parse(tag.name[1:]) if tag.name.startswith("v") else None
        if version is not None:
            found[version] = tag
    return found


def latest_release(repo: git.Repo) -> Version | None:
    return max(release_tags(repo), default=None)


def catalog_at(repo: git.Repo, rev: str) -> Path | None:
    """The catalog files committed at `rev` (a tag or commit), extracted into the cache; None when it has none."""
    import git

    commit = repo.commit(rev)
    try:
        tree = commit.tree / CATALOG_DIR
    except KeyError:
        return None
    folder = cache_root() / "tags" / commit.hexsha / CATALOG_DIR
    if (folder / "catalog.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=".catalog-", dir=folder.parent))
    try:
        for blob in tree.traverse():
            if not isinstance(blob, git.Blob):
                continue
            target = staged / Path(blob.path).relative_to(CATALOG_DIR)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blob.data_stream.read())
        if not (staged / "catalog.json").is_file():
            return None
        try:
            os.rename(staged, folder)  # whole or absent: a reader never sees half a catalog
        except OSError:
            if not (folder / "catalog.json").is_file():
                raise
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return folder


def catalog_at_release(checkout: Path, version: str) -> Path | None:
    """The catalog of release `version` from the tag v<version> of the checkout's git repository, if it has one."""
    parsed = Version.parse(version)
    repo = open_repo(checkout)
    if parsed is None or repo is None:
        return None
    tag = release_tags(repo).get(parsed)
    return catalog_at(repo, tag.name) if tag is not None else None
