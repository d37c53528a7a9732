"""cwcontrib parses safetensors by hand; the `safetensors` library's own (Rust) parser is the reference.
Nothing cwcontrib accepts may be refused by the library, and what both accept must be the same tensors.
cwcontrib may refuse more (duplicate names, extra fields, unknown dtypes, hidden bytes)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from cwcontrib.weights import WeightsError, WeightsLimits, read_weights
from cwcontrib.weights.safetensors_reader import read_safetensors
from tests import hostile_files as hostile
from tests.conftest import DEMO

# The format's dtypes as numpy reads them (the specification, independent of the reader under test).
_NUMPY = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
          "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}

Tensors = dict[str, tuple[tuple[int, ...], bytes]]


def library(data: bytes) -> Tensors | None:
    """The library's reading as shape and raw little-endian bytes per name, or None when it refuses."""
    import safetensors

    try:
        parsed = safetensors.deserialize(data)
    except safetensors.SafetensorError:
        return None
    return {name: (tuple(t["shape"]), bytes(t["data"])) for name, t in parsed}


def _raw(array: np.ndarray, dtype: str) -> bytes:
    if dtype == "BF16":  # cwcontrib widens bfloat16 to float32: its top half is the stored value
        return (array.astype("<f4").view("<u4") >> 16).astype("<u2").tobytes()
    return array.astype(_NUMPY[dtype]).tobytes()


def cwcontrib(data: bytes) -> Tensors | None:
    try:
        arrays = read_safetensors(io.BytesIO(data), len(data), WeightsLimits())
    except WeightsError:
        return None
    dtypes = _declared_dtypes(data)
    return {name: (tuple(a.shape), _raw(a, dtypes[name])) for name, a in arrays.items()}


def _declared_dtypes(data: bytes) -> dict[str, str]:
    import json

    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + length])
    return {name: spec["dtype"] for name, spec in header.items() if name != "__metadata__"}


def assert_never_more_lenient(data: bytes, label: str) -> bool:
    """Whatever cwcontrib accepts, the library accepts as the same tensors; returns whether cwcontrib accepted."""
    ours = cwcontrib(data)
    if ours is None:
        return False
    theirs = library(data)
    assert theirs is not None, f"{label}: cwcontrib accepts a file the safetensors library refuses"
    assert ours == theirs, f"{label}: cwcontrib reads other tensors than the library"
    return True


EDGE_CASES = hostile.edge_case_safetensors()


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases_against_the_library(name: str) -> None:
    assert_never_more_lenient(EDGE_CASES[name], name)


@pytest.mark.parametrize(("name", "code"), [
    ("metadata-number", "CW402"), ("metadata-nested", "CW402"), ("metadata-list", "CW402"),
    ("metadata-lone-surrogate", "CW402"), ("name-lone-surrogate", "CW402"), ("negative-zero-offset", "CW402"),
    ("zero-size-dim-over-u64", "CW402"), ("five-thousand-digit-dim", "CW402"),  # before: CW001 (int() limit)
    ("zero-size-overflowing-count", "CW406"),
])
def test_what_the_library_refuses_cwcontrib_refuses_with_its_code(name: str, code: str) -> None:
    assert library(EDGE_CASES[name]) is None
    with pytest.raises(WeightsError) as info:
        read_safetensors(io.BytesIO(EDGE_CASES[name]), len(EDGE_CASES[name]), WeightsLimits())
    assert info.value.code == code, info.value


def test_empty_tensor_with_huge_dimensions_is_refused_not_a_crash() -> None:
    """The library accepts [0, 2**40, 2**40]; numpy cannot make that array: a bounded refusal, not CW001."""
    data = EDGE_CASES["zero-size-late-huge-dims"]
    assert library(data) is not None
    with pytest.raises(WeightsError) as info:
        read_safetensors(io.BytesIO(data), len(data), WeightsLimits())
    assert info.value.code == "CW406", info.value


def test_valid_edge_cases_are_read_like_the_library() -> None:
    accepted = {n for n, data in EDGE_CASES.items() if assert_never_more_lenient(data, n)}
    assert {"plain", "leading-space", "trailing-spaces", "empty-header", "metadata-strings", "metadata-null",
            "name-surrogate-pair", "name-empty", "scalar", "zero-size", "bf16",
            "bool-not-0-or-1"} <= accepted


def test_hostile_corpus_against_the_library(tmp_path: Path) -> None:
    for name, write in hostile.WRITERS.items():
        if name.startswith("safetensors_"):
            assert not assert_never_more_lenient(write(tmp_path).read_bytes(), name)  # all of them are refused


def test_real_files_are_read_like_the_library(tmp_path: Path) -> None:
    import safetensors.torch
    import torch

    tensors = {f"t.{dtype}": torch.arange(6).reshape(2, 3).to(dtype) for dtype in
               (torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.int16,
                torch.int8, torch.uint8, torch.bool)}
    tensors |= {"scalar": torch.tensor(3.5), "empty": torch.zeros(0, 4), "view": torch.arange(10.0)[2:5]}
    safetensors.torch.save_file({k: v.contiguous() for k, v in tensors.items()}, tmp_path / "all.safetensors",
                                metadata={"format": "pt"})
    files = [tmp_path / "all.safetensors", *sorted((DEMO / "weights").glob("*.safetensors"))]
    for path in files:
        assert assert_never_more_lenient(path.read_bytes(), path.name), path
    assert read_weights(tmp_path, "all.safetensors", "safetensors")["t.torch.bfloat16"].tolist()[1] == [3, 4, 5]


# Bytes that change a header's meaning when put in place of one of its bytes.
_REPLACEMENTS = b' -09"\\{}[],:e.\x00\xff'


def test_every_one_byte_edit_of_a_header_against_the_library() -> None:
    """Each header byte of a small real file replaced by each of a few meaningful bytes: about 2,000 files."""
    original = EDGE_CASES["metadata-strings"][:-4] + b"\x00\x00\x80\x3f"
    length = int.from_bytes(original[:8], "little")
    accepted = 0
    for at in range(8, 8 + length):
        for byte in _REPLACEMENTS:
            edited = original[:at] + bytes([byte]) + original[at + 1:]
            accepted += assert_never_more_lenient(edited, f"byte {at} set to {byte:#04x}")
    assert accepted  # some edits (a space for a space, a digit in a name) stay valid
