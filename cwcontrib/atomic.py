"""Atomic writes: a reader (or a build killed half-way) sees the old bytes or the new ones, never a mix.

Files are written beside their target and renamed over it. A whole folder (the catalog) is built beside its
target and swapped in with one `renameat2(RENAME_EXCHANGE)` where the kernel has it (Linux >= 3.15), so there
is no moment without a complete folder; elsewhere the old folder is renamed aside first, and
`recover_dir` puts it back if the process died between the two renames.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
ASIDE = ".old-"  # `<name>.old-<pid>`: a previous folder moved aside by the fallback swap


def ordinary_mode(bits: int = 0o666) -> int:
    """`bits` under the process's umask: the permissions an ordinary `open()` would give a new file."""
    mask = os.umask(0)
    os.umask(mask)
    return bits & ~mask


def write_bytes_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write beside, fsync, rename over `path`; `mode` sets the new file's permission bits (mkstemp's are 0600).

    A target that exists and is no regular file (`-o /dev/null`, `/dev/stdout`, a FIFO) is written into, not
    renamed over: a rename would replace the device or pipe itself with a file (as root, /dev/null for everyone).
    """
    if _is_special(path):
        with open(path, "wb") as handle:
            handle.write(data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _is_special(path: Path) -> bool:
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically; False where the C library or the file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(a))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def recover_dir(target: Path) -> None:
    """Undo a fallback swap that died half-way: the previous folder, moved aside, goes back in place."""
    if target.exists():
        return
    aside = sorted(target.parent.glob(f"{target.name}{ASIDE}*"))
    if aside:
        os.rename(aside[-1], target)


def replace_dir(staged: Path, target: Path) -> None:
    """Make `staged` (a sibling of `target`) the new `target`; the old content is removed afterwards."""
    recover_dir(target)
    for path in staged.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    if not target.exists():
        os.rename(staged, target)
    elif _exchange(staged, target):
        shutil.rmtree(staged)  # now the old content
    else:
        aside = target.with_name(f"{target.name}{ASIDE}{os.getpid()}")
        os.rename(target, aside)
        os.rename(staged, target)
        shutil.rmtree(aside)
    _fsync_dir(target.parent)
