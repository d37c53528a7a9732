"""Streaming sha256 at disk speed with memory bounded by one buffer."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from cwcontrib.safefs import open_confined

_CHUNK = 4 * 1024 * 1024


def _ignore(_: int) -> None:
    """Default progress callback."""


def sha256_confined(root: Path, rel: str, on_bytes: Callable[[int], None] = _ignore) -> str:
    """Hex sha256 of `root/rel`, read through `open_confined` in fixed-size chunks."""
    digest = hashlib.sha256()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with open_confined(root, rel) as handle:
        while True:
            n = handle.readinto(view)  # type: ignore[attr-defined]
            if not n:
                break
            digest.update(view[:n])
            on_bytes(n)
    return digest.hexdigest()


def read_hashed_confined(root: Path, rel: str, size: int, on_bytes: Callable[[int], None] = _ignore,
                         into: bytearray | None = None) -> tuple[bytearray | memoryview | None, str]:
    """`root/rel` read once, through `open_confined`, into one private buffer of `size` bytes (the declared size,
    already checked against the listing and the limits), hashed chunk by chunk as it arrives: the bytes that
    were hashed are the bytes returned. The buffer is None when the file no longer has `size` bytes; the
    digest is then the whole file's (read on into a scratch chunk, never into memory beyond `size`).

    With `into` (a private buffer of at least `size` bytes, reused from file to file to spare allocating and
    faulting in fresh pages), the bytes are returned as a view of its first `size` bytes."""
    digest = hashlib.sha256()
    data: bytearray | memoryview = bytearray(size) if into is None else memoryview(into)[:size]
    view = memoryview(data)
    filled = 0
    with open_confined(root, rel) as handle:
        while filled < size:
            n = handle.readinto(view[filled:filled + _CHUNK])  # type: ignore[attr-defined]
            if not n:
                break
            digest.update(view[filled:filled + n])
            filled += n
            on_bytes(n)
        scratch = bytearray(1 if filled < size else _CHUNK)
        longer = False
        while n := handle.readinto(scratch):  # type: ignore[attr-defined]
            digest.update(memoryview(scratch)[:n])
            longer = True
    view.release()
    return (data if filled == size and not longer else None), digest.hexdigest()


def sha256_file(path: Path) -> str:
    """sha256 of one of cwcontrib's own files (a catalog, a download, release assets): no confinement needed,
    unlike a submission's files, which go through `sha256_confined`."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
