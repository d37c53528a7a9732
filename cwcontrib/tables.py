"""Reading submitted tables (CSV, Parquet) within bounds, keeping the line of each CSV row."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cwcontrib.findings import CodedError
from cwcontrib.limits import Limits
from cwcontrib.safefs import UnsafeFile, read_confined


class TableError(CodedError):
    """The table cannot be read; `code` says which finding describes why (most often CW313, hence the default)."""

    def __init__(self, message: str, code: str = "CW313", line: int | None = None) -> None:
        super().__init__(code, message, line=line)


Cell = str | int | float | bool | None


@dataclass
class Table:
    file: str
    columns: list[str]
    rows: list[dict[str, Cell]] = field(default_factory=list)
    lines: list[int | None] = field(default_factory=list)  # the file line of each row, when known

    def line_of(self, row_index: int) -> int | None:
        return self.lines[row_index] if row_index < len(self.lines) else None


def _decode_csv(raw: bytes) -> str:
    # Spreadsheet programs write a byte-order mark; it is harmless in a table, so it is dropped.
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if b"\x00" in raw:
        raise TableError("the table contains a NUL byte")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TableError(f"byte offset {exc.start} is not valid UTF-8",
                         line=raw[: exc.start].count(b"\n") + 1) from None


def _check_header(columns: list[str], limits: Limits) -> None:
    if not columns or all(not c for c in columns):
        raise TableError("the table has no header row")
    if len(columns) > limits.table_columns:
        raise TableError(f"{len(columns)} columns, over the limit of {limits.table_columns}", code="CW315")
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise TableError(f"duplicate column names: {', '.join(duplicates)}", line=1)


def parse_csv(raw: bytes, file: str, limits: Limits) -> Table:
    text = _decode_csv(raw)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise TableError("the table is empty")
        columns = [c.strip() for c in header]
        _check_header(columns, limits)
        table = Table(file=file, columns=columns)
        for record in reader:
            if not record:
                continue
            if len(table.rows) >= limits.table_rows:
                raise TableError(f"more than {limits.table_rows} rows", code="CW315", line=reader.line_num)
            if len(record) != len(columns):
                raise TableError(f"row has {len(record)} cells, the header has {len(columns)}",
                                 line=reader.line_num)
            if any(len(cell) > limits.cell_chars for cell in record):
                raise TableError(f"a cell is longer than {limits.cell_chars} characters", line=reader.line_num)
            table.rows.append({c: (v.strip() or None) for c, v in zip(columns, record, strict=True)})
            table.lines.append(reader.line_num)
    except csv.Error as exc:
        raise TableError(f"malformed CSV: {exc}", line=reader.line_num) from None
    return table


def _plain(value: Any) -> Cell:
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    raise TableError(f"a cell holds a {type(value).__name__}; only strings, numbers and booleans are allowed")


def _parquet_bounds(meta: Any, schema: Any, limits: Limits) -> None:
    """What the metadata declares, checked before a value is decoded: a few hundred compressed bytes can
    decode into hundreds of megabytes (dictionary and run-length encodings), which the CSV limits forbid."""
    import pyarrow.types as pt

    if meta.num_rows > limits.table_rows:
        raise TableError(f"{meta.num_rows} rows, over the limit of {limits.table_rows}", code="CW315")
    nested = [field.name for field in schema if pt.is_nested(field.type)]
    if nested:
        raise TableError(f"column {nested[0]!r} holds lists or records; only strings, numbers and booleans are "
                         "allowed")
    groups = [meta.row_group(i) for i in range(meta.num_row_groups)]
    decompressed = sum(group.total_byte_size for group in groups)
    if decompressed > limits.table_bytes:
        raise TableError(f"decompresses to {decompressed} bytes, over the limit of {limits.table_bytes}",
                         code="CW315")
    values = sum(group.column(i).num_values for group in groups for i in range(group.num_columns))
    if values > limits.table_rows * max(1, meta.num_columns):
        raise TableError(f"{values} values for {meta.num_rows} rows", code="CW315")


def _cell_lengths(column: Any) -> Any:
    """Characters (bytes for binary) per cell of a string column, computed without expanding a dictionary."""
    import pyarrow as pa
    import pyarrow.compute as pc

    chunks = []
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):
            chunks.append(pc.take(_cell_lengths(pa.chunked_array([chunk.dictionary])), chunk.indices))
        elif pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type):
            chunks.append(pc.utf8_length(chunk))
        elif pa.types.is_binary(chunk.type) or pa.types.is_large_binary(chunk.type):
            chunks.append(pc.binary_length(chunk))
    return pa.chunked_array([c.cast(pa.int64()) for c in chunks], type=pa.int64()) if chunks else None


def _text_bounds(table: Any, limits: Limits) -> None:
    """The cell and total-size limits of CSV, on the decoded text: no cell over `cell_chars`, and no more text in
    all cells than a CSV file may hold."""
    import pyarrow.compute as pc

    total = 0
    for name, column in zip(table.column_names, table.columns, strict=True):
        lengths = _cell_lengths(column)
        if lengths is None or lengths.null_count == len(lengths):
            continue
        longest = pc.max(lengths).as_py() or 0
        if longest > limits.cell_chars:
            raise TableError(f"a cell of column {name!r} is longer than {limits.cell_chars} characters")
        total += pc.sum(lengths).as_py() or 0
        if total > limits.table_bytes:
            raise TableError(f"the cells hold more than {limits.table_bytes} characters of text", code="CW315")


def parse_parquet(raw: bytes, file: str, limits: Limits) -> Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(pa.BufferReader(raw))
        columns = list(handle.schema_arrow.names)
        _check_header(columns, limits)
        _parquet_bounds(handle.metadata, handle.schema_arrow, limits)
        # Strings are read as dictionaries where the file stores them so: the bounds are checked on the
        # dictionary and its indices, before a repeated value is copied once per row.
        text = [f.name for f in handle.schema_arrow if pa.types.is_string(f.type) or pa.types.is_binary(f.type)]
        arrow = pq.ParquetFile(pa.BufferReader(raw), read_dictionary=text).read()
        _text_bounds(arrow, limits)
        data = arrow.to_pylist()
    except TableError:
        raise
    except Exception as exc:  # pyarrow raises many types for corrupt files; any is "unreadable"
        raise TableError(f"not a readable Parquet file: {type(exc).__name__}: {exc}") from None
    table = Table(file=file, columns=columns)
    for record in data:
        table.rows.append({c: _plain(record[c]) for c in columns})
        table.lines.append(None)
    return table


def read_table(root: Path, rel: str, fmt: str, limits: Limits) -> Table:
    """Read a confined CSV or Parquet table; raise TableError with a finding code on any problem."""
    try:
        raw = read_confined(root, rel, limits.table_bytes)
    except UnsafeFile as exc:
        # too large is a table limit; a link, folder or vanished file (changed since stage 2) is unreadable
        raise TableError(str(exc), code="CW315" if exc.code == "CW207" else "CW313") from None
    parse = parse_parquet if fmt == "parquet" else parse_csv
    return parse(raw, rel, limits)
