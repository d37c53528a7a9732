"""safetensors without trusting the header: every length, offset and dtype checked before a byte of
tensor data is read. The format is plain data (8-byte header length, JSON header, raw buffers), so it
is parsed here with numpy; no library code runs on the submitted bytes."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import numpy as np

from cwcontrib.weights.base import WeightsError, WeightsLimits

# safetensors dtype -> (numpy dtype, bytes per element). BF16 has no numpy dtype: it is widened.
_DTYPES: dict[str, tuple[str, int]] = {
    "F64": ("<f8", 8), "F32": ("<f4", 4), "F16": ("<f2", 2), "BF16": ("<u2", 2),
    "I64": ("<i8", 8), "I32": ("<i4", 4), "I16": ("<i2", 2), "I8": ("i1", 1),
    "U64": ("<u8", 8), "U32": ("<u4", 4), "U16": ("<u2", 2), "U8": ("u1", 1), "BOOL": ("?", 1),
}


# The header's integers are sizes and offsets, unsigned 64-bit numbers for the safetensors library.
_U64_MAX = 2**64 - 1


def _unicode(text: str) -> bool:
    """Python's json accepts lone surrogate escapes ("\\ud800"); they are not Unicode text, and the library
    refuses the header."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise WeightsError("CW402", "the header names a tensor twice")
    if not all(_unicode(k) for k in keys):
        raise WeightsError("CW402", "the header has a name that is not Unicode text (a lone surrogate escape)")
    return dict(pairs)


def _unsigned(literal: str) -> int:
    """A JSON integer of the header, which must fit an unsigned 64-bit number: no minus sign (not even in -0),
    at most 20 digits (longer ones would also trip Python's int() digit limit inside json)."""
    if literal.startswith("-") or len(literal) > 20 or int(literal) > _U64_MAX:
        raise WeightsError("CW402", f"the header holds {literal[:24]!r}, not an unsigned 64-bit number")
    return int(literal)


def _header(handle: BinaryIO, file_size: int, limits: WeightsLimits) -> tuple[dict[str, Any], int]:
    return _parse_header(handle.read(8), handle.read, file_size, limits)


def _parse_header(prefix: bytes, read: Callable[[int], bytes], file_size: int,
                  limits: WeightsLimits) -> tuple[dict[str, Any], int]:
    """The JSON header; `read(n)` gives the n bytes after the 8-byte length prefix."""
    if len(prefix) < 8:
        raise WeightsError("CW401", "the file is shorter than the 8-byte safetensors header length")
    (length,) = struct.unpack("<Q", prefix)
    if length > limits.header_bytes or length > file_size - 8:
        raise WeightsError("CW402", f"the header claims {length} bytes (file has {file_size}, "
                                    f"limit {limits.header_bytes})")
    raw = read(length)
    if not raw.lstrip(b" ").startswith(b"{"):
        raise WeightsError("CW401", "the header is not a JSON object: not a safetensors file")
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_int=_unsigned)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise WeightsError("CW402", f"the header is not valid JSON: {exc}") from None
    # No "is it an object" check: text that starts with "{" and parses is an object (mutation testing, issue 9).
    return header, 8 + length


Entry = tuple[str, str, list[int], int, int]  # name, dtype, shape, begin, end


def _check_metadata(metadata: Any) -> None:
    """Free text for the saver, but only text: the format (and its library) allows a map of strings, or null."""
    if metadata is None:
        return
    if not isinstance(metadata, dict) or not all(isinstance(v, str) and _unicode(v) for v in metadata.values()):
        raise WeightsError("CW402", "__metadata__ must map names to strings")


def _check_nominal_size(name: str, dtype: str, shape: list[int], limits: WeightsLimits) -> None:
    """An empty tensor may still declare huge dimensions ([0, 2**40, 2**40]): numpy cannot make such an array
    (it multiplies the non-zero dimensions), and the library counts elements in 64 bits from the first
    dimension on, so [2**40, 2**40, 0] overflows there. Bounded like any declared size."""
    nominal = int(np.prod([size for size in shape if size], dtype=object)) * _DTYPES[dtype][1]
    if nominal > limits.tensor_bytes:
        raise WeightsError("CW406", f"tensor {name!r}: shape {shape} declares {nominal} bytes without its zero "
                                    f"dimensions, over the limit of {limits.tensor_bytes}")


def _entries(header: dict[str, Any], data_size: int, limits: WeightsLimits) -> list[Entry]:
    _check_metadata(header.pop("__metadata__", None))
    if len(header) > limits.tensors:
        raise WeightsError("CW406", f"{len(header)} tensors, over the limit of {limits.tensors}")
    entries = []
    for name, spec in header.items():
        if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data_offsets"}:
            raise WeightsError("CW402", f"tensor {name!r}: entry must have exactly dtype, shape, data_offsets")
        dtype, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
        if dtype not in _DTYPES:
            raise WeightsError("CW402", f"tensor {name!r}: unknown dtype {dtype!r}")
        if (not isinstance(shape, list) or len(shape) > 8
                or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
            raise WeightsError("CW402", f"tensor {name!r}: shape {shape!r} is not a list of sizes")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            raise WeightsError("CW402", f"tensor {name!r}: data_offsets must be two integers")
        _check_nominal_size(name, dtype, shape, limits)
        begin, end = offsets
        expected = int(np.prod(shape, dtype=object)) * _DTYPES[dtype][1]
        if not 0 <= begin <= end <= data_size or end - begin != expected:
            raise WeightsError("CW402", f"tensor {name!r}: offsets {offsets} do not hold {shape} {dtype} "
                                        f"inside {data_size} data bytes")
        entries.append((name, dtype, shape, begin, end))
    _check_layout(entries, data_size)
    return entries


def _check_layout(entries: list[Entry], data_size: int) -> None:
    """Buffers must tile the data section exactly: no overlap (aliasing), no hidden bytes."""
    position = 0
    for name, _, _, begin, end in sorted(entries, key=lambda e: (e[3], e[4])):
        if begin != position:
            problem = "overlaps another tensor" if begin < position else "leaves unreferenced bytes before it"
            raise WeightsError("CW402", f"tensor {name!r} {problem}")
        position = end
    if position != data_size:
        raise WeightsError("CW402", f"{data_size - position} bytes after the last tensor are unreferenced")


def _to_array(buffer: bytes | bytearray | memoryview, dtype: str, shape: list[int], offset: int = 0) -> np.ndarray:
    """A view on `buffer` (private to the reader, never copied), or a new array for bfloat16, widened."""
    count = int(np.prod(shape, dtype=object))
    array = np.frombuffer(buffer, dtype=_DTYPES[dtype][0], count=count, offset=offset).reshape(shape)
    if dtype == "BF16":  # bfloat16 is the top half of a float32
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array


def _checked_entries(header: dict[str, Any], data_size: int, limits: WeightsLimits) -> list[Entry]:
    entries = _entries(header, data_size, limits)
    if data_size > limits.tensor_bytes:
        raise WeightsError("CW406", f"{data_size} bytes of tensors, over the limit of {limits.tensor_bytes}")
    return sorted(entries, key=lambda e: e[3])


def read_safetensors(handle: BinaryIO, file_size: int, limits: WeightsLimits) -> dict[str, np.ndarray]:
    header, data_start = _header(handle, file_size, limits)
    data_size = file_size - data_start
    tensors: dict[str, np.ndarray] = {}
    for name, dtype, shape, begin, end in _checked_entries(header, data_size, limits):
        handle.seek(data_start + begin)
        buffer = bytearray(end - begin)  # each tensor's own writable buffer: its array is a view, not a copy
        if handle.readinto(buffer) != end - begin:  # type: ignore[attr-defined]
            raise WeightsError("CW402", f"tensor {name!r} is truncated")
        tensors[name] = _to_array(buffer, dtype, shape)
    return tensors


def iter_safetensors_buffer(data: bytes | bytearray | memoryview,
                            limits: WeightsLimits) -> Iterator[tuple[str, np.ndarray]]:
    """The tensors of a whole safetensors file already in memory (and verified), as views on `data`, in file
    order: nothing is copied, so `data` is what they hold. Every check of `read_safetensors` runs before the
    first tensor is yielded."""
    view = memoryview(data)
    position = 8

    def read(n: int) -> bytes:
        return bytes(view[position:position + n])  # the header only: bounded by limits.header_bytes

    header, data_start = _parse_header(bytes(view[:8]), read, len(data), limits)
    entries = _checked_entries(header, len(data) - data_start, limits)
    for name, dtype, shape, begin, _end in entries:
        yield name, _to_array(data, dtype, shape, data_start + begin)
