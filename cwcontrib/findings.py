"""Findings are data: what is wrong, where, and what to do. Reporters only render them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class CodedError(Exception):
    """What a reader or a safe file layer raises when it refuses its input: the finding code that says why, the
    message, and the line of the file when known. One shape for `UnsafeFile`, `WeightsError` and `TableError`, so
    a check turns any of them into a finding the same way."""

    def __init__(self, code: str, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled by attributes, not by constructor arguments (subclasses order theirs differently): a refusal
        # raised in a worker process (the audit's Ray tasks) arrives whole, as the same class.
        return _rebuild_coded_error, (type(self), self.code, self.message, self.line)


def _rebuild_coded_error(cls: type[CodedError], code: str, message: str, line: int | None) -> CodedError:
    error = cls.__new__(cls)
    CodedError.__init__(error, code, message, line=line)
    return error


@dataclass(frozen=True, order=True)
class Location:
    """Where a finding points: a file relative to the submission root, plus the finest detail known.

    `pointer` is a JSON pointer into the manifest (RFC 6901); `row` and `column` address a table cell
    (row 1 is the first data row).
    """

    file: str = ""
    line: int | None = None
    pointer: str | None = None
    row: int | None = None
    column: str | None = None

    def render(self) -> str:
        text = self.file or "."
        if self.line is not None:
            text += f":{self.line}"
        details = []
        if self.pointer is not None:
            details.append(f"#{self.pointer}" if self.pointer else "#/")
        if self.row is not None:
            details.append(f"row {self.row}")
        if self.column is not None:
            details.append(f"column {self.column!r}")
        return f"{text} ({', '.join(details)})" if details else text

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None and v != ""} | {"file": self.file}


@dataclass(frozen=True)
class Finding:
    code: str
    name: str
    severity: Severity
    message: str
    location: Location = field(default_factory=Location)
    hint: str = ""
    acknowledged: str | None = None  # the reason, when the manifest acknowledges this warning (schema 1.1)

    def sort_key(self) -> tuple[Any, ...]:
        loc = self.location
        return (
            loc.file,
            loc.line if loc.line is not None else -1,
            loc.row if loc.row is not None else -1,
            loc.pointer or "",
            loc.column or "",
            self.code,
            self.message,
        )

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "code": self.code,
            "name": self.name,
            "severity": self.severity.value,
            "message": self.message,
            "location": self.location.as_dict(),
            "hint": self.hint,
        }
        if self.acknowledged is not None:
            data["acknowledged"] = {"reason": self.acknowledged}
        return data


def printable(text: str) -> str:
    """Text from a stranger's names or values, safe to show: control characters (newlines, terminal
    escapes) and the lone surrogates of undecodable file names are escaped, everything else kept."""
    return text if text.isprintable() else "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def sorted_findings(findings: list[Finding]) -> list[Finding]:
    """One ordering shared by every reporter, so every output is deterministic."""
    return sorted(findings, key=Finding.sort_key)
