"""Mutants of cwcontrib/weights/safetensors_reader.py that survived tests/test_weights_readers.py and
tests/test_weights_safetensors_library.py (mutmut, issue 9), killed here: the code and message of every wall
(the library comparison only asks whether a file is refused), the exact boundary of each limit, the unsigned 64-bit
range of the header's integers, and the order-independence of the layout check. Every file cwcontrib accepts here
is also checked against the `safetensors` library."""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable, Mapping

import numpy as np
import pytest

from cwcontrib.weights import WeightsError, WeightsLimits
from cwcontrib.weights.safetensors_reader import iter_safetensors_buffer, read_safetensors
from tests.test_weights_safetensors_library import EDGE_CASES, assert_never_more_lenient

U64_MAX = 2**64 - 1
W = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
FOUR = b"\x00\x00\x80\x3f"


def file(header: bytes | Mapping[str, object], data: bytes = FOUR, declared: int | None = None) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if declared is None else declared) + raw + data


def entry(shape: object = (1,), offsets: object = (0, 4), dtype: str = "F32") -> dict[str, object]:
    return {"dtype": dtype, "shape": list(shape) if isinstance(shape, tuple) else shape,
            "data_offsets": list(offsets) if isinstance(offsets, tuple) else offsets}


def refused(data: bytes, limits: WeightsLimits | None = None, size: int | None = None) -> tuple[str, str]:
    with pytest.raises(WeightsError) as info:
        read_safetensors(io.BytesIO(data), len(data) if size is None else size, limits or WeightsLimits())
    return info.value.code, str(info.value)


def accepted(data: bytes, limits: WeightsLimits | None = None) -> list[str]:
    """Names cwcontrib reads; the library must read the same tensors."""
    tensors = read_safetensors(io.BytesIO(data), len(data), limits or WeightsLimits())
    assert assert_never_more_lenient(data, "accepted here")
    return sorted(tensors)


# -- the 8-byte length and the header ------------------------------------------------------------------------------

def test_a_file_shorter_than_the_length_prefix_is_not_safetensors() -> None:
    assert refused(b"\x02\x00\x00\x00\x00\x00\x00") == (
        "CW401", "the file is shorter than the 8-byte safetensors header length")


def test_the_header_length_is_unsigned_and_bounded_by_the_file() -> None:
    data = file({"w": W})
    n = len(data) - 8  # the header and the data: all the file has after the length
    assert refused(file({"w": W}, declared=2**63 + 5)) == (
        "CW402", f"the header claims {2**63 + 5} bytes (file has {len(data)}, limit {16 * 1024 * 1024})")
    assert refused(file({"w": W}, declared=n + 1)) == (
        "CW402", f"the header claims {n + 1} bytes (file has {len(data)}, limit {16 * 1024 * 1024})")
    # claiming exactly the rest of the file is within bounds: then it is the JSON that is wrong
    assert refused(file({"w": W}, declared=n))[0] == "CW402"
    assert "claims" not in refused(file({"w": W}, declared=n))[1]


def test_the_header_size_limit_is_exact() -> None:
    raw = json.dumps({"w": W}).encode()
    assert accepted(file(raw), WeightsLimits(header_bytes=len(raw))) == ["w"]
    data = file(raw)
    assert refused(data, WeightsLimits(header_bytes=len(raw) - 1)) == (
        "CW402", f"the header claims {len(raw)} bytes (file has {len(data)}, limit {len(raw) - 1})")


@pytest.mark.parametrize("start", [b"[]", b"X{}", b"\n{}", b"\t{}", b"", b"nul"])
def test_a_header_that_does_not_open_an_object_is_not_safetensors(start: bytes) -> None:
    """Only spaces may pad the header before its '{' (the library also takes other whitespace; stricter is allowed)."""
    assert refused(file(start, b"")) == ("CW401", "the header is not a JSON object: not a safetensors file")


def test_leading_spaces_are_padding() -> None:
    assert accepted(file(b"   " + json.dumps({"w": W}).encode())) == ["w"]


def test_a_header_that_is_not_json_names_the_json_error() -> None:
    code, message = refused(file(b"{", b""))
    assert code == "CW402" and message.startswith("the header is not valid JSON: Expecting")
    code, message = refused(file(b'{"\xff": 1}', b""))
    assert code == "CW402" and message.startswith("the header is not valid JSON: 'utf-8' codec can't decode")


def test_duplicate_and_non_unicode_names() -> None:
    w = json.dumps(W).encode()
    assert refused(file(b'{"w": ' + w + b', "w": ' + w + b"}")) == ("CW402", "the header names a tensor twice")
    assert refused(file(b'{"\\ud800": ' + w + b"}")) == (
        "CW402", "the header has a name that is not Unicode text (a lone surrogate escape)")


@pytest.mark.parametrize("metadata", [{"epochs": 3}, ["a"], "text", {"a": "\udc80"}])
def test_metadata_must_map_names_to_strings(metadata: object) -> None:
    raw = json.dumps({"__metadata__": metadata, "w": W}).encode()  # json.dumps escapes a lone surrogate
    assert refused(file(raw)) == ("CW402", "__metadata__ must map names to strings")


# -- integers: unsigned 64-bit -------------------------------------------------------------------------------------

def test_the_largest_unsigned_64_bit_integer_is_an_integer() -> None:
    """2**64 - 1 (20 digits) is read as a number and refused later, as offsets that do not hold the tensor."""
    raw = f'{{"w": {{"dtype": "F32", "shape": [1], "data_offsets": [0, {U64_MAX}]}}}}'.encode()
    assert refused(file(raw)) == (
        "CW402", f"tensor 'w': offsets [0, {U64_MAX}] do not hold [1] F32 inside 4 data bytes")


@pytest.mark.parametrize("literal", [str(2**64), "-0", "-4", "123456789012345678901234567890"])
def test_integers_outside_unsigned_64_bits_are_refused(literal: str) -> None:
    raw = f'{{"w": {{"dtype": "F32", "shape": [1], "data_offsets": [0, {literal}]}}}}'.encode()
    assert refused(file(raw)) == ("CW402", f"the header holds {literal[:24]!r}, not an unsigned 64-bit number")


# -- entries -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "message"), [
    ("not an object", "entry must have exactly dtype, shape, data_offsets"),
    ({"dtype": "F32", "shape": [1]}, "entry must have exactly dtype, shape, data_offsets"),
    ({**W, "extra": 1}, "entry must have exactly dtype, shape, data_offsets"),
    (entry(dtype="F8_E4M3"), "unknown dtype 'F8_E4M3'"),
    (entry(shape=5), "shape 5 is not a list of sizes"),
    (entry(shape="1"), "shape '1' is not a list of sizes"),
    (entry(shape=(1,) * 9), f"shape {[1] * 9!r} is not a list of sizes"),
    (entry(shape=[True]), "shape [True] is not a list of sizes"),
    (entry(shape=[1.0]), "shape [1.0] is not a list of sizes"),
    (entry(offsets=5), "data_offsets must be two integers"),
    (entry(offsets=[0]), "data_offsets must be two integers"),
    (entry(offsets=[0, 4, 4]), "data_offsets must be two integers"),
    (entry(offsets=[False, 4]), "data_offsets must be two integers"),
    (entry(offsets=[4, 0]), "offsets [4, 0] do not hold [1] F32 inside 4 data bytes"),
    (entry(offsets=[0, 8]), "offsets [0, 8] do not hold [1] F32 inside 4 data bytes"),
    (entry(shape=(2,)), "offsets [0, 4] do not hold [2] F32 inside 4 data bytes"),
])
def test_each_entry_wall_names_the_tensor_and_the_fault(spec: object, message: str) -> None:
    assert refused(file({"t": spec})) == ("CW402", f"tensor 't': {message}")


def test_eight_dimensions_are_allowed() -> None:
    assert accepted(file({"w": entry(shape=(1,) * 8)})) == ["w"]


def test_offsets_are_checked_in_exact_arithmetic_whatever_the_limit() -> None:
    """[2**32, 2**32] float32 is 2**66 bytes; in 64-bit arithmetic that is 0, which [0, 0] would 'hold'."""
    huge = WeightsLimits(tensor_bytes=2**80)
    assert refused(file({"w": entry(shape=(2**32, 2**32), offsets=(0, 0))}, b""), huge) == (
        "CW402", f"tensor 'w': offsets [0, 0] do not hold [{2**32}, {2**32}] F32 inside 0 data bytes")


# -- limits --------------------------------------------------------------------------------------------------------

def test_the_tensor_count_limit_is_exact() -> None:
    header = {"a": entry(offsets=(0, 4)), "b": entry(offsets=(4, 8))}
    assert accepted(file(header, FOUR * 2), WeightsLimits(tensors=2)) == ["a", "b"]
    assert refused(file(header, FOUR * 2), WeightsLimits(tensors=1)) == ("CW406", "2 tensors, over the limit of 1")
    with_metadata = {"__metadata__": {"format": "pt"}, **header}  # metadata is not a tensor
    assert accepted(file(with_metadata, FOUR * 2), WeightsLimits(tensors=2)) == ["a", "b"]


def test_the_data_size_limit_is_exact() -> None:
    header = {"a": entry(offsets=(0, 4)), "b": entry(offsets=(4, 8))}  # each under the limit, not both
    assert accepted(file(header, FOUR * 2), WeightsLimits(tensor_bytes=8)) == ["a", "b"]
    assert refused(file(header, FOUR * 2), WeightsLimits(tensor_bytes=7)) == (
        "CW406", "8 bytes of tensors, over the limit of 7")


def test_the_nominal_size_of_an_empty_tensor_is_bounded_exactly() -> None:
    """[0, 25] float32 declares 100 bytes without its zero dimension; [0, 26] declares 104."""
    limits = WeightsLimits(tensor_bytes=100)
    assert accepted(file({"e": entry(shape=(0, 25), offsets=(0, 0))}, b""), limits) == ["e"]
    assert refused(file({"e": entry(shape=(0, 26), offsets=(0, 0))}, b""), limits) == (
        "CW406", "tensor 'e': shape [0, 26] declares 104 bytes without its zero dimensions, over the limit of 100")


# -- layout --------------------------------------------------------------------------------------------------------

def test_overlap_and_gaps_are_named() -> None:
    overlap = {"a": entry(shape=(2,), offsets=(0, 8)), "b": entry(shape=(2,), offsets=(4, 12))}
    assert refused(file(overlap, FOUR * 3)) == ("CW402", "tensor 'b' overlaps another tensor")
    gap = {"a": entry(offsets=(0, 4)), "b": entry(offsets=(8, 12))}
    assert refused(file(gap, FOUR * 3)) == ("CW402", "tensor 'b' leaves unreferenced bytes before it")
    first_gap = {"a": entry(offsets=(4, 8))}
    assert refused(file(first_gap, FOUR * 2)) == ("CW402", "tensor 'a' leaves unreferenced bytes before it")
    assert refused(file({"a": W}, FOUR * 3)) == ("CW402", "8 bytes after the last tensor are unreferenced")


def test_an_empty_tensor_may_sit_where_another_ends_whatever_the_header_order() -> None:
    header = {"z": entry(shape=(0,), offsets=(4, 4)), "a": W}
    assert accepted(file(header)) == ["a", "z"]


def test_a_file_that_shrinks_while_read_is_truncated_at_its_first_tensor_in_file_order() -> None:
    """The size came from fstat; the bytes may be fewer when read (the file was cut meanwhile)."""
    header = {"a": entry(offsets=(8, 12)), "b": entry(offsets=(0, 4)), "c": entry(offsets=(4, 8))}
    whole = file(header, FOUR * 3)
    assert refused(whole[:-6], size=len(whole)) == ("CW402", "tensor 'c' is truncated")


# -- the in-memory reader (views on the verified bytes) must read exactly what read_safetensors reads ---------------

def outcome(reader: Callable[[bytes], dict[str, np.ndarray]], data: bytes) -> object:
    try:
        return {name: (a.dtype.str, a.shape, a.tobytes()) for name, a in reader(data).items()}
    except WeightsError as exc:
        return (exc.code, str(exc))


def from_handle(data: bytes) -> dict[str, np.ndarray]:
    return read_safetensors(io.BytesIO(data), len(data), WeightsLimits())


def from_memory(data: bytes) -> dict[str, np.ndarray]:
    return dict(iter_safetensors_buffer(data, WeightsLimits()))


MIXED = file({"__metadata__": {"format": "pt"},
              "e": entry(shape=(0, 5), offsets=(22, 22), dtype="F64"),  # ends where c ends; listed first
              "c": entry(shape=(2,), offsets=(14, 22), dtype="F32"),
              "a": entry(shape=(2, 3), offsets=(0, 12), dtype="I16"),
              "b": entry(shape=(1,), offsets=(12, 14), dtype="BF16")},
             bytes(range(22)))


@pytest.mark.parametrize("name", [*sorted(EDGE_CASES), "mixed"])
def test_reading_from_memory_is_reading_from_the_file(name: str) -> None:
    data = MIXED if name == "mixed" else EDGE_CASES[name]
    assert outcome(from_memory, data) == outcome(from_handle, data)


def test_reading_from_memory_yields_views_in_file_order() -> None:
    names = [name for name, _ in iter_safetensors_buffer(MIXED, WeightsLimits())]
    assert names == ["a", "b", "c", "e"]
    assert from_memory(MIXED)["c"].tobytes() == bytes(range(14, 22))
