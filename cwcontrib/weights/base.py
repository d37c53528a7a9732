"""What every safe weights reader shares: its error type and its bounds."""

from __future__ import annotations

from dataclasses import dataclass

from cwcontrib.limits import GiB, MiB


class WeightsError(Exception):
    """The file must not be (or cannot be) loaded; `code` is the finding code that says why.

    Any parser or scanner error is a failure, never "clean": readers raise this instead.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


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
