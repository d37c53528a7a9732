"""The one error every loader raises."""

from __future__ import annotations


class DatasetError(Exception):
    """A test split is missing, malformed, or does not match its pinned checksum.

    `portable` is the same message without the operator's data directory (`<data-dir>` instead, and which option
    or variable sets it): what goes into a report, which is free of absolute paths and the same on every machine.
    """

    def __init__(self, message: str, portable: str | None = None) -> None:
        super().__init__(message)
        self.portable = message if portable is None else portable
