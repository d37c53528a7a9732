"""Reading a stranger's folder without being led outside it.

Every file the validator reads goes through `open_confined`: no symlinks anywhere on the path, no
FIFOs (opened non-blocking, so a FIFO can never hang the validator), no devices, regular files only.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from cwcontrib.limits import Limits


class UnsafeFile(Exception):
    """A path that must not be read; `code` is the finding code that describes why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


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


def open_confined(root: Path, rel: str) -> BinaryIO:
    """Open `root/rel` for reading, refusing links, special files and anything outside `root`."""
    problem = path_problem(rel)
    if problem:
        raise UnsafeFile("CW200", problem)
    current = root
    for part in PurePosixPath(rel).parts[:-1]:
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            raise UnsafeFile("CW203", f"folder {part!r} does not exist") from None
        if stat.S_ISLNK(st.st_mode):
            raise UnsafeFile("CW201", f"folder {part!r} on the path is a symbolic link")
        if not stat.S_ISDIR(st.st_mode):
            raise UnsafeFile("CW202", f"{part!r} on the path is not a folder")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(root / rel, flags)
    except FileNotFoundError:
        raise UnsafeFile("CW203", "the file does not exist") from None
    except OSError as exc:
        if os.path.islink(root / rel):
            raise UnsafeFile("CW201", "the file is a symbolic link") from None
        raise UnsafeFile("CW202", f"the file cannot be opened: {exc.strerror}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
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


def scan_tree(root: Path, limits: Limits) -> TreeIndex:
    """Walk `root` iteratively without following links, within the file-count and depth limits."""
    index = TreeIndex(entries={})
    pending: list[tuple[Path, str, int]] = [(root, "", 0)]
    while pending:
        folder, prefix, depth = pending.pop()
        try:
            with os.scandir(folder) as it:
                children = sorted(it, key=lambda d: d.name)
        except OSError as exc:
            index.truncated = f"folder {prefix or '.'!r} cannot be listed: {exc.strerror}"
            continue
        for child in children:
            rel = f"{prefix}{child.name}"
            st = child.stat(follow_symlinks=False)
            entry = Entry(rel=rel, kind=_kind(st.st_mode), size=st.st_size, nlink=st.st_nlink)
            index.entries[rel] = entry
            if len(index.entries) > limits.files:
                index.truncated = f"more than {limits.files} files and folders"
                return index
            if entry.kind == "dir":
                if depth + 1 >= limits.tree_depth:
                    index.truncated = f"folders nested deeper than {limits.tree_depth} levels at {rel!r}"
                    continue
                pending.append((Path(child.path), rel + "/", depth + 1))
    return index
