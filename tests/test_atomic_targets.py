"""Atomic writes and what they write to: a regular file is replaced whole, a device or a pipe is written into.

`cwcontrib validate -o /dev/null` once renamed its report over /dev/null (as root, for every process on the
machine: git then read the report as its config). A FIFO stands in for the device here, so that a regression
cannot break the machine running the test.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from cwcontrib import cli
from cwcontrib.atomic import ordinary_mode, write_bytes_atomic


def read_fifo_while(path: Path, write: object) -> bytes:
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(path.read_bytes()))
    reader.start()
    assert callable(write)
    write()
    reader.join(timeout=30)
    assert not reader.is_alive()
    return got[0]


def test_a_fifo_target_is_written_into_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert read_fifo_while(fifo, lambda: write_bytes_atomic(fifo, b"report\n")) == b"report\n"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]  # no temporary file left beside it


def test_the_cli_output_option_writes_into_a_pipe(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert read_fifo_while(fifo, lambda: cli._write("é\n", str(fifo))) == "é\n".encode()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_regular_file_is_replaced_whole_with_ordinary_permissions(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_bytes(b"old, longer than the new bytes\n")
    cli._write("new\n", str(target))
    assert target.read_bytes() == b"new\n"
    assert stat.S_IMODE(target.stat().st_mode) == ordinary_mode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_a_new_file_in_a_new_folder(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.bin"
    write_bytes_atomic(target, b"\x00\x01", mode=0o640)
    assert target.read_bytes() == b"\x00\x01" and stat.S_IMODE(target.stat().st_mode) == 0o640
