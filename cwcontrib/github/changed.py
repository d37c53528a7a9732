"""Which submissions a pull request adds, changes or deletes, and whether it may: `cwcontrib github changed`.

The pull request's change is the diff from the merge base of base and head to head (`git diff base...head`,
what GitHub shows). GitPython resolves the refs and finds the merge base; the diff is read from
`git diff-tree -z --raw` as bytes and parsed here, because GitPython's own raw-diff parser decodes the whole
output as strict UTF-8 and strips newlines from the ends of names, and a stranger's file names may be neither.
Renames are not detected (`--no-renames`): a rename is the deletion of one path and the addition of another,
so a rename across submissions counts for both, and a rename out of a protected folder is a change to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cwcontrib.findings import printable

SUBMISSIONS = b"submissions"
# Folders only the index workflow writes (verification records, the catalog, retractions): never a pull request.
PROTECTED = (b"verifications", b"catalog", b"retractions")
# The submission id (models.Slug): a submission's folder is named by it.
SUBMISSION_ID = re.compile(rb"[a-z0-9]+(?:[-_.][a-z0-9]+)*")
SUBMISSION_ID_MAX = 64
MODE_SYMLINK, MODE_GITLINK = b"120000", b"160000"

# The rules a refusal names (stable: workflows and docs refer to them).
RULES = {
    "protected-path": "a pull request may not change verifications/, catalog/ or retractions/ "
                      "(only the index workflow writes them)",
    "outside-submissions": "a pull request that changes a submission may change nothing outside submissions/<id>/ "
                           "(send code and data in separate pull requests)",
    "submission-folder-name": "a folder under submissions/ is named by a submission id: lowercase letters and "
                              "digits separated by single '-', '_' or '.', at most 64 characters",
    "symlink-in-submission": "a submission may not contain a symbolic link (git mode 120000)",
    "submodule-in-submission": "a submission may not contain a submodule (git mode 160000)",
}


class ChangedError(Exception):
    """The question cannot be answered: not a repository, an unknown ref, no merge base."""


@dataclass(frozen=True, order=True)
class Refusal:
    path: str  # as written in the repository, undecodable bytes as \xNN
    rule: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "rule": self.rule, "message": RULES[self.rule]}


@dataclass
class Changes:
    base: str  # the sha --base names
    head: str
    merge_base: str = ""  # the diff's base: the merge base of base and head
    submissions: list[str] = field(default_factory=list)  # sorted ids
    deleted: list[str] = field(default_factory=list)  # those of `submissions` whose folder is gone at head
    refused: list[Refusal] = field(default_factory=list)  # sorted
    paths: int = 0  # how many paths the pull request changes

    @property
    def ok(self) -> bool:
        return not self.refused

    def as_dict(self) -> dict[str, Any]:
        return {"base": self.base, "merge_base": self.merge_base, "head": self.head, "submissions": self.submissions,
                "deleted": self.deleted, "refused": [r.as_dict() for r in self.refused]}


@dataclass(frozen=True)
class Entry:
    """One path of `git diff-tree --raw`: the modes before and after, the status letter, the path as bytes."""

    old_mode: bytes
    new_mode: bytes
    status: bytes
    path: bytes


def parse_raw(output: bytes) -> Iterator[Entry]:
    """Entries of `git diff-tree -z --raw --no-renames`: `:old new oldsha newsha S\\0path\\0` each."""
    fields = output.split(b"\0")
    if fields and fields[-1] == b"":
        fields.pop()
    if len(fields) % 2:
        raise ChangedError("git diff-tree printed an odd number of fields")
    for meta, path in zip(fields[0::2], fields[1::2], strict=True):
        parts = meta.split()
        if len(parts) != 5 or not parts[0].startswith(b":") or not path:
            raise ChangedError(f"unexpected git diff-tree line {meta!r}")
        yield Entry(parts[0][1:], parts[1], parts[4][:1], path)


def shown(path: bytes) -> str:
    """A path for JSON and messages: UTF-8 where it is, \\xNN escapes where not."""
    return path.decode("utf-8", errors="backslashreplace")


def classify(entries: list[Entry], base: str, head: str, exists: Callable[[str], bool]) -> Changes:
    """The submissions `entries` touch and the refusals; `exists(id)`: whether the folder is there at head."""
    changes = Changes(base=base, head=head, paths=len(entries))
    touched: set[bytes] = set()
    outside: list[bytes] = []
    refused: set[Refusal] = set()
    for entry in entries:
        parts = entry.path.split(b"/")
        if parts[0] in PROTECTED:
            refused.add(Refusal(shown(entry.path), "protected-path"))
            continue
        if parts[0] != SUBMISSIONS or len(parts) < 3:  # submissions/README.md is no submission's
            outside.append(entry.path)
            continue
        folder = parts[1]
        touched.add(folder)
        if len(folder) > SUBMISSION_ID_MAX or not SUBMISSION_ID.fullmatch(folder):
            refused.add(Refusal(shown(b"/".join(parts[:2])), "submission-folder-name"))
        if entry.new_mode == MODE_SYMLINK:
            refused.add(Refusal(shown(entry.path), "symlink-in-submission"))
        elif entry.new_mode == MODE_GITLINK:
            refused.add(Refusal(shown(entry.path), "submodule-in-submission"))
    if touched:
        refused.update(Refusal(shown(path), "outside-submissions") for path in outside)
    changes.submissions = sorted(folder.decode("ascii") for folder in touched
                                 if len(folder) <= SUBMISSION_ID_MAX and SUBMISSION_ID.fullmatch(folder))
    changes.deleted = [submission for submission in changes.submissions if not exists(submission)]
    changes.refused = sorted(refused)
    return changes


def _commit(repo: Any, ref: str, what: str) -> Any:
    if not ref or ref.startswith("-") or any(not c.isprintable() or c.isspace() for c in ref):
        raise ChangedError(f"{what} {printable(ref)!r} is not a git ref")
    try:
        return repo.commit(ref)
    except Exception as exc:  # GitPython raises BadName, ValueError, GitCommandError... for an unknown ref
        raise ChangedError(f"{what} {printable(ref)!r} does not name a commit in {repo.git_dir}: "
                           f"{type(exc).__name__}") from None


def changed_submissions(repo_path: Path, base: str, head: str = "HEAD") -> Changes:
    """The pull request base...head: the submissions it touches and what it may not change."""
    import git

    try:
        repo = git.Repo(repo_path, search_parent_directories=False)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise ChangedError(f"{repo_path} is not a git repository") from None
    base_commit = _commit(repo, base, "--base")
    head_commit = _commit(repo, head, "--head")
    try:
        bases = repo.merge_base(base_commit, head_commit)
    except git.GitCommandError:
        bases = []
    if not bases:
        raise ChangedError(f"{base} and {head} have no merge base (a shallow clone? fetch the history of both, "
                           f"e.g. actions/checkout with fetch-depth: 0)")
    merge_base = bases[0]
    output = repo.git.diff_tree("-r", "-z", "--raw", "--no-renames", "--no-commit-id", "--full-index",
                                merge_base.hexsha, head_commit.hexsha, stdout_as_string=False)
    tree = head_commit.tree

    def exists(submission: str) -> bool:
        try:
            tree[f"submissions/{submission}"]
        except KeyError:
            return False
        return True

    changes = classify(list(parse_raw(output)), base_commit.hexsha, head_commit.hexsha, exists)
    changes.merge_base = merge_base.hexsha
    return changes
