"""Confinement without a check-then-open race: every folder on a path is opened from its parent's descriptor
with O_NOFOLLOW, so the open itself refuses a link, and a folder swapped for a link to outside between any
two steps can never lead the reader out of the submission.

The swaps are made deterministically by wrapping os.open (no timing involved): they happen exactly between
"the path was checked" and "the file was opened" for a reader that checks first.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cwcontrib import safefs
from cwcontrib.limits import Limits
from cwcontrib.safefs import UnsafeFile, open_confined, scan_tree

SECRET = b"host secret outside the submission"
INSIDE = b"the submission's own file"


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """root/weights/w.bin inside the submission; outside/w.bin beside it."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "weights").mkdir(parents=True)
    (root / "weights" / "w.bin").write_bytes(INSIDE)
    outside.mkdir()
    (outside / "w.bin").write_bytes(SECRET)
    return root, outside


def swap_for_link(root: Path, outside: Path) -> None:
    """Replace the folder root/weights by a symbolic link to `outside` (the folder itself moves aside)."""
    (root / "weights").rename(root / "weights-moved")
    (root / "weights").symlink_to(outside, target_is_directory=True)


def swapping_open(monkeypatch: pytest.MonkeyPatch, when: Callable[[Any], bool], swap: Callable[[], None]) -> None:
    real_open = os.open
    done: list[bool] = []

    def open_after_swap(path: Any, *args: Any, **kwargs: Any) -> int:
        if not done and when(path):
            done.append(True)
            swap()
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(safefs.os, "open", open_after_swap)


def read_or_refuse(root: Path) -> bytes | UnsafeFile:
    try:
        with open_confined(root, "weights/w.bin") as handle:
            return handle.read()
    except UnsafeFile as exc:
        return exc


def test_folder_swapped_before_the_first_open_is_refused(tree: tuple[Path, Path],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The swap lands after any lstat-style check and before any open: the open of the folder refuses it."""
    root, outside = tree
    swapping_open(monkeypatch, lambda path: True, lambda: swap_for_link(root, outside))
    result = read_or_refuse(root)
    monkeypatch.undo()
    assert result != SECRET, "followed a folder swapped for a link to outside"
    assert isinstance(result, UnsafeFile) and result.code == "CW201", result


def test_folder_swapped_just_before_the_file_is_opened(tree: tuple[Path, Path],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The swap lands right before the file's own open: the folder already opened is the one read from."""
    root, outside = tree
    swapping_open(monkeypatch, lambda path: str(path).endswith("w.bin"), lambda: swap_for_link(root, outside))
    result = read_or_refuse(root)
    monkeypatch.undo()
    assert result != SECRET, "followed a folder swapped for a link to outside"
    assert result == INSIDE


def test_the_open_refuses_a_linked_folder_whatever_lstat_says(tree: tuple[Path, Path],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """No decision rests on lstat: even a lying lstat (a folder replaced between lstat and open would look
    the same) cannot make the reader follow a linked folder."""
    root, outside = tree
    swap_for_link(root, outside)
    real_lstat, folder_stat = os.lstat, os.lstat(root / "weights-moved")

    def lying_lstat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        return folder_stat if str(path).endswith("weights") else real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(safefs.os, "lstat", lying_lstat)
    result = read_or_refuse(root)
    monkeypatch.undo()
    assert result != SECRET, "followed a linked folder because lstat said it was a folder"
    assert isinstance(result, UnsafeFile) and result.code in {"CW201", "CW202"}, result


def test_linked_and_missing_path_parts_keep_their_codes(tree: tuple[Path, Path]) -> None:
    root, outside = tree
    (root / "file-link").symlink_to(outside / "w.bin")
    (root / "dangling").symlink_to(outside / "nothing")
    (root / "plain").write_bytes(b"x")
    cases = {"file-link": "CW201", "dangling": "CW201", "missing/w.bin": "CW203", "weights/missing": "CW203",
             "plain/w.bin": "CW202", "weights": "CW202"}
    for rel, code in cases.items():
        with pytest.raises(UnsafeFile) as info:
            open_confined(root, rel)
        assert info.value.code == code, (rel, info.value)
    swap_for_link(root, outside)
    with pytest.raises(UnsafeFile) as info:
        open_confined(root, "weights/w.bin")
    assert info.value.code == "CW201" and "folder 'weights' is a symbolic link" in str(info.value)
    with open_confined(root, "weights-moved/w.bin") as handle:
        assert handle.read() == INSIDE


def test_no_descriptor_is_left_open(tree: tuple[Path, Path]) -> None:
    root, outside = tree
    before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    for _ in range(50):
        with open_confined(root, "weights/w.bin") as handle:
            handle.read()
        with pytest.raises(UnsafeFile):
            open_confined(root, "weights/missing")
    swap_for_link(root, outside)
    for _ in range(50):
        with pytest.raises(UnsafeFile):
            open_confined(root, "weights/w.bin")
    if before is not None:
        assert len(os.listdir("/proc/self/fd")) == before


def test_folder_swapped_after_its_parent_was_listed_is_not_followed(tree: tuple[Path, Path],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """root is listed, then weights/ is swapped for a link before it is listed itself."""
    root, outside = tree
    (outside / "outside-only.txt").write_bytes(SECRET)
    real_scandir = os.scandir
    calls: list[object] = []

    def scandir_after_swap(path: Any) -> Any:
        calls.append(path)
        if len(calls) == 2:  # the root was listed; weights/ is next
            swap_for_link(root, outside)
        return real_scandir(path)

    monkeypatch.setattr(safefs.os, "scandir", scandir_after_swap)
    index = scan_tree(root, Limits())
    monkeypatch.undo()
    assert "weights/outside-only.txt" not in index.entries, "listed a folder outside the submission"
    assert index.entries["weights/w.bin"].size == len(INSIDE)  # the folder opened before the swap


def test_folder_swapped_before_the_walk_opens_it_stops_the_walk(tree: tuple[Path, Path],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    root, outside = tree
    (outside / "outside-only.txt").write_bytes(SECRET)
    swapping_open(monkeypatch, lambda path: path == "weights", lambda: swap_for_link(root, outside))
    index = scan_tree(root, Limits())
    monkeypatch.undo()
    assert "weights/outside-only.txt" not in index.entries, "listed a folder outside the submission"
    assert index.truncated and "'weights/'" in index.truncated and "symbolic link" in index.truncated
