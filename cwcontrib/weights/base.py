"""What every safe weights reader shares: its error type and its bounds."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cwcontrib.findings import CodedError
from cwcontrib.limits import GiB, MiB


class WeightsError(CodedError):
    """The file must not be (or cannot be) loaded; `code` is the finding code that says why.

    Any parser or scanner error is a failure, never "clean": readers raise this instead.
    """


@dataclass(frozen=True)
class WeightsLimits:
    header_bytes: int = 16 * MiB  # safetensors JSON header
    tensors: int = 20_000
    tensor_bytes: int = 4 * GiB  # all tensors of one file, as declared by its own header
    pickle_bytes: int = 64 * MiB  # data.pkl of a torch zip checkpoint
    pickle_opcodes: int = 5_000_000
    zip_members: int = 100_000
    h5_objects: int = 20_000
    h5_depth: int = 32


DEFAULT_WEIGHTS_LIMITS = WeightsLimits()


def raised_within(exc: BaseException, libraries: tuple[str, ...]) -> bool:
    """Whether `exc` was raised while one of `libraries` (top-level module names) was running: one of their
    frames (Cython's included) is on its traceback. A library failing on a file's bytes is the file's problem;
    an exception raised by cwcontrib's own code between library calls is cwcontrib's bug."""
    prefixes = tuple(f"{library}." for library in libraries)
    frame = exc.__traceback__
    while frame is not None:
        module = str(frame.tb_frame.f_globals.get("__name__", ""))
        if module in libraries or module.startswith(prefixes):
            return True
        frame = frame.tb_next
    return False


@contextmanager
def library_failures(code: str, what: str, libraries: tuple[str, ...],
                     expected: tuple[type[Exception], ...]) -> Iterator[None]:
    """Turn the failures a reader expects (these exception types, raised inside these libraries) into a
    WeightsError with `code`; anything else propagates, to become CW001 naming the file, never the
    contributor's fault."""
    try:
        yield
    except expected as exc:
        if isinstance(exc, WeightsError) or not raised_within(exc, libraries):
            raise
        raise WeightsError(code, f"{what}: {type(exc).__name__}: {exc}") from None


class BufferReader(io.RawIOBase):
    """A read-only, seekable file over bytes already in memory (and already verified), without copying them:
    `io.BytesIO(bytearray)` would copy the whole file. What zipfile, torch.load and h5py need of a file."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        super().__init__()
        self._view = memoryview(data).cast("B")
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        chunk = self._view[self._position:self._position + len(target)]
        target[:len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        return self._position

