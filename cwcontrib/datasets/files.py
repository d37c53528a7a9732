"""Data directory and bounded reads."""

from __future__ import annotations

import gzip
import io
import os
import stat
import zlib
from pathlib import Path
from typing import BinaryIO

from cwcontrib.datasets.errors import DatasetError

DATA_ENV_VAR = "CWCONTRIB_DATA"
DEFAULT_DATA_DIR = Path("~/.cache/cwcontrib/datasets")


def resolve_data_dir(data_dir: Path | str | None = None) -> Path:
    """The argument, else $CWCONTRIB_DATA, else ~/.cache/cwcontrib/datasets. Each dataset has a subfolder."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    from_env = os.environ.get(DATA_ENV_VAR, "")
    return Path(from_env).expanduser() if from_env else DEFAULT_DATA_DIR.expanduser()


def open_regular(path: Path) -> BinaryIO:
    """Open a regular file for reading. O_NONBLOCK so that a FIFO in its place cannot hang the open itself.
    Symlinks are followed: the data directory is the operator's own, not part of a submission."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise DatasetError(f"cannot open {path}: {exc.strerror}") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise DatasetError(f"{path} is not a regular file")
    return os.fdopen(fd, "rb")


def read_bounded(path: Path, limit: int) -> bytes:
    with open_regular(path) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise DatasetError(f"{path} is larger than the {limit} bytes expected")
    return data


def gunzip_bounded(data: bytes, path: Path, limit: int) -> bytes:
    """Decompress at most limit + 1 bytes: GzipFile.read(n) never inflates more than n, so a gzip bomb is cut off."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            out = stream.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError; truncation is an EOFError
        raise DatasetError(f"{path} is not a valid gzip file: {exc}") from exc
    if len(out) > limit:
        raise DatasetError(f"{path} decompresses to more than the {limit} bytes expected")
    return out


def gzip_input_limit(raw_limit: int) -> int:
    # deflate expands incompressible data by well under 1 %; the slack covers headers and odd encoders
    return raw_limit + raw_limit // 100 + 64 * 1024
