"""Reading a stranger's folder without being led outside it.

Every file the validator reads goes through `open_confined`: no symlinks anywhere on the path, no
FIFOs (opened non-blocking, so a FIFO can never hang the validator), no devices, regular files only.
"""

from __future__ import annotations

import errno
import os
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cwcontrib.findings import CodedError
from cwcontrib.limits import Limits


class UnsafeFile(CodedError):
    """A path that must not be read; `code` is the finding code that describes why."""


_PORTABLE_EXTRA = set("-_.+@=,")


def path_problem(path: str) -> str | None:
    """Why a declared relative path is unsafe, or None when it is a clean relative POSIX path."""
    if not path:
        return "the path is empty"
    if "\\" in path:
        return "the path contains a backslash; use '/' as the separator"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        return "the path contains control characters"
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return "the path is absolute"
    parts = path.split("/")
    if ".." in parts:
        return "the path contains '..'"
    if any(part in ("", ".") for part in parts):
        return "the path is not normalised (empty or '.' components)"
    return None


def name_problem(name: str) -> str | None:
    """Why a file name found on disk is unsafe to show or archive, or None."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return "it contains control characters or newlines"
    if unicodedata.normalize("NFC", name) != name:
        return "it is not in Unicode NFC form, so it can look like another name"
    if any(not (ch.isascii() and (ch.isalnum() or ch in _PORTABLE_EXTRA)) for ch in name):
        return "it contains characters outside letters, digits and -_.+@=,"
    return None


_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# Each folder is opened relative to its parent's descriptor and never through a link: the open itself is the
# check, so nothing can be swapped between a check and a use (no lstat-then-open race).
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
# Non-blocking, so that opening a FIFO can never hang the validator.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC


def _refusal(parent: int, name: str, what: str, exc: OSError) -> UnsafeFile:
    """Why `name` (in the folder `parent`) could not be opened without following a link, as a finding."""
    if isinstance(exc, FileNotFoundError):
        return UnsafeFile("CW203", f"{what} {name!r} does not exist")
    try:  # only names a refusal that already happened (Linux says ENOTDIR for a link to a folder): no race
        mode = os.lstat(name, dir_fd=parent).st_mode
    except OSError:
        mode = 0
    if exc.errno == errno.ELOOP or stat.S_ISLNK(mode):
        return UnsafeFile("CW201", f"{what} {name!r} is a symbolic link")
    if what == "folder" and mode and not stat.S_ISDIR(mode):
        return UnsafeFile("CW202", f"{name!r} on the path is not a folder")
    return UnsafeFile("CW202", f"{what} {name!r} cannot be opened: {exc.strerror}")


def open_folder_confined(root: Path, folders: list[str]) -> int:
    """A descriptor of `root/folders...`, each folder opened from its parent's descriptor with O_NOFOLLOW.

    `root` itself is the operator's choice and may be reached through links; nothing below it is. The
    caller closes the descriptor.
    """
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
    except OSError as exc:
        raise UnsafeFile("CW203", f"the submission folder cannot be opened: {exc.strerror}") from None
    try:
        for part in folders:
            try:
                child = os.open(part, _FOLDER_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise _refusal(fd, part, "folder", exc) from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_confined(root: Path, rel: str) -> BinaryIO:
    """Open `root/rel` for reading, refusing links, special files and anything outside `root`."""
    problem = path_problem(rel)
    if problem:
        raise UnsafeFile("CW200", problem)
    *folders, name = rel.split("/")
    folder = open_folder_confined(root, folders)
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=folder)
    except OSError as exc:
        raise _refusal(folder, name, "file", exc) from None
    finally:
        os.close(folder)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafeFile("CW202", "the path is not a regular file")
    return os.fdopen(fd, "rb")


def read_confined(root: Path, rel: str, max_bytes: int) -> bytes:
    """Read a whole confined file, never more than `max_bytes` (+1 to detect overflow)."""
    with open_confined(root, rel) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnsafeFile("CW207", f"the file is larger than the limit of {max_bytes} bytes")
    return data


@dataclass(frozen=True)
class Entry:
    """One thing found in the submission folder, described without following links."""

    rel: str
    kind: str  # "file", "dir", "symlink", "special"
    size: int
    nlink: int


@dataclass
class TreeIndex:
    entries: dict[str, Entry]
    truncated: str | None = None  # why the walk stopped early, if it did

    @property
    def files(self) -> dict[str, Entry]:
        return {rel: e for rel, e in self.entries.items() if e.kind == "file"}


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    return "special"


def _list_folder(root: Path, parts: list[str]) -> list[tuple[str, os.stat_result]]:
    """Names and link-free stats of one folder's children, the folder reached as `open_confined` reaches files
    (raises UnsafeFile or OSError)."""
    fd = open_folder_confined(root, parts)
    try:
        with os.scandir(fd) as children:  # stats are taken relative to `fd`: it stays open until they are
            return sorted((child.name, child.stat(follow_symlinks=False)) for child in children)
    finally:
        os.close(fd)


def scan_tree(root: Path, limits: Limits) -> TreeIndex:
    """Walk `root` iteratively without following links, within the file-count and depth limits.

    Each folder is listed through a descriptor opened folder by folder with O_NOFOLLOW: a folder swapped for
    a link after its parent was listed stops the walk instead of leading it outside.
    """
    index = TreeIndex(entries={})
    pending: list[tuple[list[str], int]] = [([], 0)]
    while pending:
        parts, depth = pending.pop()
        prefix = "".join(f"{part}/" for part in parts)
        try:
            children = _list_folder(root, parts)
        except UnsafeFile as exc:
            index.truncated = f"folder {prefix or '.'!r} cannot be listed: {exc}"
            continue
        except OSError as exc:
            index.truncated = f"folder {prefix or '.'!r} cannot be listed: {exc.strerror}"
            continue
        for name, st in children:
            rel = f"{prefix}{name}"
            entry = Entry(rel=rel, kind=_kind(st.st_mode), size=st.st_size, nlink=st.st_nlink)
            index.entries[rel] = entry
            if len(index.entries) > limits.files:
                index.truncated = f"more than {limits.files} files and folders"
                return index
            if entry.kind == "dir":
                if depth + 1 >= limits.tree_depth:
                    index.truncated = f"folders nested deeper than {limits.tree_depth} levels at {rel!r}"
                    continue
                pending.append(([*parts, name], depth + 1))
    return index
