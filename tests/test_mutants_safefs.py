"""Mutants of cwcontrib/safefs.py that survived tests/test_safefs_confinement.py (mutmut, issue 9), killed here:
each wall of `path_problem` and `name_problem` alone with its exact message, the exact boundaries of the file-count
and depth limits and of `read_confined`'s size limit, the codes and messages of every refusal, and what the walk
records (kinds, names, link counts) and does after it stops listing one folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from cwcontrib import safefs
from cwcontrib.limits import Limits
from cwcontrib.safefs import UnsafeFile, name_problem, open_confined, path_problem, read_confined, scan_tree

# -- path_problem: one wall per case, each with its own message --------------------------------------------------

EMPTY = "the path is empty"
BACKSLASH = "the path contains a backslash; use '/' as the separator"
CONTROL = "the path contains control characters"
ABSOLUTE = "the path is absolute"
DOTDOT = "the path contains '..'"
NOT_NORMAL = "the path is not normalised (empty or '.' components)"


@pytest.mark.parametrize(("path", "problem"), [
    ("", EMPTY),
    ("weights\\w.bin", BACKSLASH),
    ("a\x00b", CONTROL), ("a\x1fb", CONTROL), ("a\x7fb", CONTROL), ("a\nb", CONTROL),
    ("/etc/passwd", ABSOLUTE), ("C:", ABSOLUTE), ("C:/w.bin", ABSOLUTE), ("c:w.bin", ABSOLUTE),
    ("..", DOTDOT), ("../outside/w.bin", DOTDOT), ("a/../b", DOTDOT), ("a/..", DOTDOT),
    ("a//b", NOT_NORMAL), ("a/", NOT_NORMAL), ("a/./b", NOT_NORMAL), (".", NOT_NORMAL),
])
def test_each_unsafe_path_has_its_own_reason(path: str, problem: str) -> None:
    assert path_problem(path) == problem


@pytest.mark.parametrize("path", [
    "w", "a", "weights/w.bin", "a b/c d.txt",  # a space (32) is not a control character
    "caf\u00e9/\x80.bin",  # nor is 128: names are judged by name_problem, paths only for safety
    "ab:c", "ab:", "...", "a/.../b", ".hidden/x", "x..y",
])
def test_clean_relative_paths_have_no_problem(path: str) -> None:
    assert path_problem(path) is None


# -- name_problem ---------------------------------------------------------------------------------------------------

NAME_CONTROL = "it contains control characters or newlines"
NAME_NFC = "it is not in Unicode NFC form, so it can look like another name"
NAME_CHARS = "it contains characters outside letters, digits and -_.+@=,"


@pytest.mark.parametrize(("name", "problem"), [
    ("a\nb", NAME_CONTROL), ("\x00", NAME_CONTROL), ("a\x1f", NAME_CONTROL), ("a\x7f", NAME_CONTROL),
    ("e\u0301.bin", NAME_NFC),  # e + combining acute: looks like é
    ("a b", NAME_CHARS),  # 32: not a control character, not portable either
    ("\x80", NAME_CHARS), ("caf\u00e9.bin", NAME_CHARS),  # NFC, alphanumeric, not ASCII
    ("a/b", NAME_CHARS), ("a:b", NAME_CHARS), ("a*", NAME_CHARS), ("a~", NAME_CHARS),
])
def test_each_unsafe_name_has_its_own_reason(name: str, problem: str) -> None:
    assert name_problem(name) == problem


@pytest.mark.parametrize("name", ["a", "W9", "model-v1_2.3+cpu@x=y,z.bin", "-", ".", "@"])
def test_portable_names_have_no_problem(name: str) -> None:
    assert name_problem(name) is None


# -- refusals: code and message of each ----------------------------------------------------------------------------

@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "weights").mkdir(parents=True)
    (root / "weights" / "w.bin").write_bytes(b"12345")
    (root / "plain").write_bytes(b"x")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "w.bin").write_bytes(b"secret")
    return root


def refusal(root: Path, rel: str) -> tuple[str, str]:
    with pytest.raises(UnsafeFile) as info:
        open_confined(root, rel)
    return info.value.code, str(info.value)


def test_the_path_check_alone_keeps_the_reader_inside(root: Path) -> None:
    """'..' is a real folder entry that O_NOFOLLOW does not refuse: only path_problem stops it."""
    assert refusal(root, "../outside/w.bin") == ("CW200", DOTDOT)
    assert refusal(root, "/etc/passwd") == ("CW200", ABSOLUTE)


def test_refusal_messages_name_what_was_refused(root: Path, tmp_path: Path) -> None:
    (root / "file-link").symlink_to(tmp_path / "outside" / "w.bin")
    (root / "folder-link").symlink_to(tmp_path / "outside", target_is_directory=True)
    assert refusal(root, "weights/missing") == ("CW203", "file 'missing' does not exist")
    assert refusal(root, "missing/w.bin") == ("CW203", "folder 'missing' does not exist")
    assert refusal(root, "file-link") == ("CW201", "file 'file-link' is a symbolic link")
    assert refusal(root, "folder-link/w.bin") == ("CW201", "folder 'folder-link' is a symbolic link")
    assert refusal(root, "plain/w.bin") == ("CW202", "'plain' on the path is not a folder")
    assert refusal(root, "weights") == ("CW202", "the path is not a regular file")


def test_a_fifo_is_refused_without_blocking(root: Path) -> None:
    os.mkfifo(root / "weights" / "pipe.bin")  # no writer: a blocking open would hang here
    assert refusal(root, "weights/pipe.bin") == ("CW202", "the path is not a regular file")


def test_a_name_that_cannot_be_opened_is_named_in_the_message(root: Path) -> None:
    """Neither missing nor a link nor a file on the path: the message says what the system said."""
    long = "x" * 300  # over NAME_MAX: open and lstat both fail with ENAMETOOLONG
    assert refusal(root, f"{long}/w.bin") == ("CW202", f"folder {long!r} cannot be opened: File name too long")
    assert refusal(root, f"weights/{long}") == ("CW202", f"file {long!r} cannot be opened: File name too long")


def test_the_submission_folder_itself_must_be_a_folder(root: Path, tmp_path: Path) -> None:
    assert refusal(root / "plain", "w.bin") == ("CW203", "the submission folder cannot be opened: Not a directory")
    assert refusal(tmp_path / "nowhere", "w.bin") == (
        "CW203", "the submission folder cannot be opened: No such file or directory")


# -- read_confined: the size limit --------------------------------------------------------------------------------

def test_read_confined_size_limit_is_exact(root: Path) -> None:
    assert read_confined(root, "weights/w.bin", 5) == b"12345"
    assert read_confined(root, "weights/w.bin", 6) == b"12345"
    with pytest.raises(UnsafeFile) as info:
        read_confined(root, "weights/w.bin", 4)
    assert (info.value.code, str(info.value)) == ("CW207", "the file is larger than the limit of 4 bytes")
    with pytest.raises(UnsafeFile) as info:
        read_confined(root, "weights/../weights/w.bin", 100)
    assert info.value.code == "CW200"


def test_read_confined_never_reads_more_than_the_limit_and_one_byte(root: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A 4 GiB file with a 4 MiB limit must cost 4 MiB of memory, not 4 GiB: the read itself is bounded."""
    asked: list[Any] = []
    real_open_confined = safefs.open_confined

    class Recording:
        def __init__(self, handle: BinaryIO) -> None:
            self.handle = handle

        def __enter__(self) -> Recording:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def read(self, size: Any = -1) -> bytes:
            asked.append(size)
            return self.handle.read(size)

    monkeypatch.setattr(safefs, "open_confined", lambda r, rel: Recording(real_open_confined(r, rel)))
    with pytest.raises(UnsafeFile):
        read_confined(root, "weights/w.bin", 2)
    assert asked == [3]


# -- scan_tree ------------------------------------------------------------------------------------------------------

def chain(root: Path, levels: int) -> Path:
    """root/d/d/.../d with `levels` folders, a file in the deepest; returns the deepest folder."""
    deepest = root.joinpath(*["d"] * levels)
    deepest.mkdir(parents=True)
    (deepest / "bottom.txt").write_bytes(b"")
    return deepest


def test_depth_limit_boundary(tmp_path: Path) -> None:
    """tree_depth counts the submission folder as the first level: with 4, three nested folders are listed whole,
    a fourth is recorded but not listed."""
    limits = Limits(tree_depth=4)
    ok = tmp_path / "ok"
    chain(ok, 3)
    index = scan_tree(ok, limits)
    assert index.truncated is None
    assert "d/d/d/bottom.txt" in index.files

    deep = tmp_path / "deep"
    deepest = chain(deep, 4)
    (deepest.parent / "z.txt").write_bytes(b"")  # beside the folder that is too deep, listed after it
    index = scan_tree(deep, limits)
    assert index.truncated == "folders nested deeper than 4 levels at 'd/d/d/d'"
    assert index.entries["d/d/d/d"].kind == "dir"
    assert "d/d/d/z.txt" in index.files  # the walk goes on beside the folder it does not enter
    assert "d/d/d/d/bottom.txt" not in index.entries


def test_file_count_limit_boundary(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / name).write_bytes(b"")
    assert scan_tree(tmp_path, Limits(files=3)).truncated is None
    index = scan_tree(tmp_path, Limits(files=2))
    assert index.truncated == "more than 2 files and folders"
    assert len(index.entries) == 3


def test_entries_describe_each_thing_without_following_links(root: Path, tmp_path: Path) -> None:
    (root / "link").symlink_to(tmp_path / "outside" / "w.bin")
    (root / "dangling").symlink_to(tmp_path / "nothing")
    os.mkfifo(root / "pipe")
    os.link(root / "plain", root / "plain-again")
    (root / "weights" / "inner").mkdir()
    (root / "weights" / "inner" / "x.bin").write_bytes(b"abc")
    index = scan_tree(root, Limits())
    assert index.truncated is None
    kinds = {rel: (entry.rel, entry.kind, entry.nlink) for rel, entry in index.entries.items()}
    assert kinds == {
        "dangling": ("dangling", "symlink", 1),
        "link": ("link", "symlink", 1),
        "pipe": ("pipe", "special", 1),
        "plain": ("plain", "file", 2),
        "plain-again": ("plain-again", "file", 2),
        "weights": ("weights", "dir", 2 + 1),
        "weights/inner": ("weights/inner", "dir", 2),
        "weights/inner/x.bin": ("weights/inner/x.bin", "file", 1),
        "weights/w.bin": ("weights/w.bin", "file", 1),
    }
    assert index.entries["link"].size == len(str(tmp_path / "outside" / "w.bin"))  # the link's own size
    assert set(index.files) == {"plain", "plain-again", "weights/inner/x.bin", "weights/w.bin"}


def test_an_unlistable_submission_folder_is_named_dot(tmp_path: Path) -> None:
    index = scan_tree(tmp_path / "nowhere", Limits())
    assert index.entries == {}
    assert index.truncated == ("folder '.' cannot be listed: the submission folder cannot be opened: "
                               "No such file or directory")


@pytest.fixture
def two_folders(tmp_path: Path) -> Path:
    """a/x.bin and b/y.bin: the walk (a stack) lists b before a."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.bin").write_bytes(b"")
    return tmp_path


def test_the_walk_goes_on_after_a_folder_it_refuses(two_folders: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def open_b_as_link(path: Any, *args: Any, **kwargs: Any) -> int:
        if path == "b":
            (two_folders / "b").rename(two_folders / "b-moved")
            (two_folders / "b").symlink_to(two_folders / "a", target_is_directory=True)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_b_as_link)
    index = scan_tree(two_folders, Limits())
    monkeypatch.undo()
    assert index.truncated == "folder 'b/' cannot be listed: folder 'b' is a symbolic link"
    assert "a/a.bin" in index.entries


def test_the_walk_goes_on_after_a_folder_it_cannot_list(two_folders: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_scandir = os.scandir
    calls: list[Any] = []

    def failing_scandir(path: Any) -> Any:
        calls.append(path)
        if len(calls) == 2:  # the root, then b/
            raise OSError(5, "Input/output error")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", failing_scandir)
    index = scan_tree(two_folders, Limits())
    monkeypatch.undo()
    assert index.truncated == "folder 'b/' cannot be listed: Input/output error"
    assert "a/a.bin" in index.entries and "b/b.bin" not in index.entries


def test_nested_names_are_joined_with_one_slash(tmp_path: Path) -> None:
    (tmp_path / "p" / "q").mkdir(parents=True)
    (tmp_path / "p" / "q" / "r.bin").write_bytes(b"")
    assert sorted(scan_tree(tmp_path, Limits()).entries) == ["p", "p/q", "p/q/r.bin"]


def test_an_unreadable_submission_folder_is_named_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_scandir(path: Any) -> Any:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "scandir", failing_scandir)
    index = scan_tree(tmp_path, Limits())
    monkeypatch.undo()
    assert index.truncated == "folder '.' cannot be listed: Input/output error"


def test_a_refused_file_is_described_as_it_is_in_its_folder(root: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The refusal looks at the file in the submission's folder, not at a namesake in the working directory."""
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    (elsewhere / "w.bin").symlink_to(tmp_path / "outside" / "w.bin")
    monkeypatch.chdir(elsewhere)
    real_open = os.open

    def permission_denied(path: Any, *args: Any, **kwargs: Any) -> int:
        if path == "w.bin":
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", permission_denied)
    with pytest.raises(UnsafeFile) as info:
        open_confined(root, "weights/w.bin")
    monkeypatch.undo()
    assert (info.value.code, str(info.value)) == ("CW202", "file 'w.bin' cannot be opened: Permission denied")
