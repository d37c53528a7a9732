"""Mutants of cwcontrib/weights/pytorch_reader.py that survived tests/test_weights_readers.py and
tests/test_weights_walls.py (mutmut, issue 9), killed here: the exact boundary of each limit, the code and message
of each wall, and the pickle scan's tracking of the names STACK_GLOBAL imports."""

from __future__ import annotations

import io
import pickle
import pickletools
import zipfile
from collections import Counter, OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from cwcontrib.weights import WeightsError, WeightsLimits
from cwcontrib.weights.pytorch_reader import _wall_reason, read_pytorch, scan_pickle, torch_version_ok
from tests import hostile_files as hostile

EMPTY_DICT = b"\x80\x02}."  # PROTO 2, EMPTY_DICT, STOP: three opcodes


def test_the_opcode_limit_is_exact() -> None:
    """A limit of N allows N opcodes, not N + 1 (found by mutmut: `count > N` with a 0-based count)."""
    assert len(list(pickletools.genops(EMPTY_DICT))) == 3
    scan_pickle(EMPTY_DICT, WeightsLimits(pickle_opcodes=3))
    with pytest.raises(WeightsError) as info:
        scan_pickle(EMPTY_DICT, WeightsLimits(pickle_opcodes=2))
    assert (info.value.code, str(info.value)) == ("CW406", "more than 2 pickle opcodes")


# -- the pickle scan -----------------------------------------------------------------------------------------------

def s(text: str) -> bytes:
    """SHORT_BINUNICODE `text`."""
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


PROTO4 = b"\x80\x04"
STACK_GLOBAL, MEMOIZE, EMPTY_TUPLE, REDUCE, STOP = b"\x93", b"\x94", b")", b"R", b"."


def binput(i: int) -> bytes:
    return b"q" + bytes([i])


def binget(i: int) -> bytes:
    return b"h" + bytes([i])


def refusal(data: bytes, limits: WeightsLimits | None = None) -> tuple[str, str]:
    with pytest.raises(WeightsError) as info:
        scan_pickle(data, limits or WeightsLimits())
    return info.value.code, str(info.value)


IMPORT_REFUSED = "; a state dict only needs tensor rebuilds, typed storages and OrderedDict"


def test_stack_global_with_names_pushed_right_before_it() -> None:
    scan_pickle(pickle.dumps(OrderedDict(), protocol=4), WeightsLimits())  # names, MEMOIZE, names, MEMOIZE
    scan_pickle(PROTO4 + s("x") + s("collections") + s("OrderedDict") + STACK_GLOBAL + EMPTY_TUPLE + REDUCE + STOP,
                WeightsLimits())
    data = pickle.dumps(Counter(), protocol=4)
    at = data.index(STACK_GLOBAL)
    assert refusal(data) == ("CW403", f"pickle imports collections.Counter at byte {at}{IMPORT_REFUSED}")
    three = PROTO4 + s("x") + s("collections") + s("Counter") + STACK_GLOBAL + STOP
    assert refusal(three) == (
        "CW403", f"pickle imports collections.Counter at byte {three.index(STACK_GLOBAL)}{IMPORT_REFUSED}")


def test_stack_global_names_may_come_from_the_memo() -> None:
    """Names put in the memo at any index and got back right before STACK_GLOBAL are the names imported."""
    names = PROTO4 + s("collections") + binput(7) + s("OrderedDict") + binput(3) + b"0" + b"0"  # POP POP
    scan_pickle(names + binget(7) + binget(3) + STACK_GLOBAL + EMPTY_TUPLE + REDUCE + STOP, WeightsLimits())
    counter = PROTO4 + s("collections") + binput(7) + s("Counter") + binput(3) + b"00"
    data = counter + binget(7) + binget(3) + STACK_GLOBAL + STOP
    assert refusal(data) == ("CW403", f"pickle imports collections.Counter at byte {len(counter) + 4}"
                                      f"{IMPORT_REFUSED}")
    # MEMOIZE numbers its entries in order; a memo entry put when nothing was pushed holds no name
    scan_pickle(PROTO4 + MEMOIZE + binget(0) + s("collections") + s("OrderedDict") + STACK_GLOBAL + EMPTY_TUPLE
                + REDUCE + STOP, WeightsLimits())


@pytest.mark.parametrize("before", [
    s("OrderedDict"),  # one name only
    binget(5) + binget(6),  # memo entries that were never put
    b"K\x01" + s("OrderedDict"),  # an integer as the module
    s("collections") + s("OrderedDict") + b"}",  # the names were consumed: EMPTY_DICT came after them
])
def test_stack_global_refuses_names_that_are_not_two_plain_strings(before: bytes) -> None:
    data = PROTO4 + before + STACK_GLOBAL + STOP
    assert refusal(data) == ("CW403", f"STACK_GLOBAL at byte {len(PROTO4 + before)} takes names that are not "
                                      "plain strings")


def test_global_refusal_names_the_import_and_its_byte() -> None:
    assert refusal(b"\x80\x02ccollections\nCounter\n)R.") == (
        "CW403", f"pickle imports collections.Counter at byte 2{IMPORT_REFUSED}")
    assert refusal(b"\x80\x02ccollections\nOrderedDict x\n)R.") == (  # the name is everything after the module
        "CW403", f"pickle imports collections.OrderedDict x at byte 2{IMPORT_REFUSED}")


def test_opcode_refusal_names_the_opcode_and_its_byte() -> None:
    data = b"\x80\x02ccollections\nOrderedDict\n)\x81."
    at = data.index(b"\x81")
    assert refusal(data) == ("CW403", f"pickle opcode NEWOBJ at byte {at} is not allowed in a state dict")


def test_a_pickle_without_protocol_opcode_is_scanned() -> None:
    scan_pickle(b"X\x01\x00\x00\x00a.", WeightsLimits())  # BINUNICODE first: protocol 1 has no PROTO


def test_trailing_bytes_are_counted() -> None:
    assert refusal(EMPTY_DICT + b"abc") == ("CW402", "data.pkl has 3 bytes after the end of its pickle")


def test_an_unparseable_pickle_says_so_first() -> None:
    code, message = refusal(b"\x80\x02c")
    assert code == "CW402" and message.startswith("data.pkl is not a complete pickle: ValueError: ")


# -- the zip container ---------------------------------------------------------------------------------------------

def saved(state: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def rezipped(raw: bytes, rename: Callable[[str], str] = lambda n: n, extra: dict[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as source, zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            target.writestr(rename(member.filename), source.read(member))
        for name, data in (extra or {}).items():
            target.writestr(name, data)
    return out.getvalue()


def read(raw: bytes, limits: WeightsLimits | None = None) -> dict[str, Any]:
    return read_pytorch(io.BytesIO(raw), len(raw), limits or WeightsLimits())


def refused(raw: bytes, limits: WeightsLimits | None = None) -> tuple[str, str]:
    with pytest.raises(WeightsError) as info:
        read(raw, limits)
    return info.value.code, str(info.value)


@pytest.fixture(scope="module")
def plain() -> bytes:
    return saved({"w": torch.arange(4, dtype=torch.float32), "b": torch.ones(2)})


NOT_WRITTEN = "which torch.save does not write and torch.load never reads"


@pytest.mark.parametrize("extra", ["byteorder", "data/0", "archive/data/\u0661", "archive/data/x", "archive/notes"])
def test_members_torch_save_does_not_write_are_refused(plain: bytes, extra: str) -> None:
    """Record names count only inside the archive's folder; storages are ASCII digits (U+0661 is a digit)."""
    assert refused(rezipped(plain, extra={extra: b"\x00" * 8})) == (
        "CW402", f"the checkpoint holds {extra!r}, {NOT_WRITTEN}")


def test_exactly_one_data_pickle_one_folder_deep(plain: bytes) -> None:
    assert refused(rezipped(plain, lambda n: f"outer/{n}")) == (
        "CW402", "expected exactly one <name>/data.pkl, found ['outer/archive/data.pkl']")
    name = next(n for n in zipfile.ZipFile(io.BytesIO(plain)).namelist() if n.endswith("data.pkl"))
    assert refused(rezipped(plain, extra={"archive/extra.pkl": b"."})) == (
        "CW402", f"expected exactly one <name>/data.pkl, found [{name!r}, 'archive/extra.pkl']")


def test_zip_limits_are_exact(plain: bytes) -> None:
    members = zipfile.ZipFile(io.BytesIO(plain)).infolist()
    total = sum(m.file_size for m in members)
    pkl = next(m.file_size for m in members if m.filename.endswith("data.pkl"))
    assert sorted(read(plain, WeightsLimits(zip_members=len(members)))) == ["b", "w"]
    assert refused(plain, WeightsLimits(zip_members=len(members) - 1)) == (
        "CW406", f"{len(members)} zip members, over the limit of {len(members) - 1}")
    assert sorted(read(plain, WeightsLimits(tensor_bytes=total - pkl, pickle_bytes=pkl))) == ["b", "w"]
    assert refused(plain, WeightsLimits(tensor_bytes=total - pkl - 1, pickle_bytes=pkl)) == (
        "CW406", "the checkpoint's members are larger than the limit")
    assert refused(plain, WeightsLimits(pickle_bytes=pkl - 1)) == (
        "CW406", f"data.pkl has {pkl} bytes, over {pkl - 1}")


def test_magic_and_damaged_container_messages(plain: bytes) -> None:
    assert refused(b"\x80\x02}q\x00.") == (
        "CW401", "this is a legacy (pre-1.6) torch pickle, not a zip checkpoint; re-save with torch.save or, "
                 "better, export safetensors")
    assert refused(b"\x89HDF\r\n") == ("CW401", "not a torch zip checkpoint (no zip signature)")
    assert refused(b"PK\x03\x04" + b"\x00" * 40) == (
        "CW402", "the zip container is damaged: BadZipFile: File is not a zip file")


@pytest.mark.parametrize(("version", "ok"), [
    ("2.10.0", True), ("2.10", True), ("2.10+cpu", True), ("2.10.0+cu128", True), ("2.11.0a0", True), ("3.0", True),
    ("10.0", True), ("2.9.9", False), ("2.9", False), ("1.13.1", False), ("2.dev.10", False), ("", False),
])
def test_torch_version_boundary(version: str, ok: bool) -> None:
    assert torch_version_ok(version) is ok


def test_an_old_torch_is_refused_before_loading(plain: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch, "__version__", "2.9.1")
    assert refused(plain) == (
        "CW414", "torch 2.9.1 is installed; loading submitted checkpoints needs torch >= 2.10")


# -- what torch.load returns ---------------------------------------------------------------------------------------

def test_only_a_flat_dict_of_tensors_is_a_state_dict() -> None:
    message = ("CW402", "the checkpoint is not a flat state dict of tensors")
    assert refused(saved([torch.zeros(2)])) == message
    assert refused(saved({"w": torch.zeros(2), "n": 3})) == message


def test_a_checkpoint_saved_on_a_gpu_loads_on_the_cpu(plain: bytes) -> None:
    """torch.save records each storage's device; the validator maps them to the CPU."""
    with zipfile.ZipFile(io.BytesIO(plain)) as archive:
        name = next(n for n in archive.namelist() if n.endswith("data.pkl"))
        pickled = archive.read(name)
    assert b"X\x03\x00\x00\x00cpu" in pickled
    gpu_pickle = pickled.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(plain)) as source, zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            target.writestr(member.filename, gpu_pickle if member.filename == name else source.read(member))
    on_gpu = out.getvalue()
    assert read(on_gpu)["w"].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_the_second_wall_holds_when_the_environment_disables_it(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD turns weights_only off only where a caller leaves it unset."""
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    path = hostile.zip_checkpoint_build_on_dict(tmp_path)
    code, message = refused(path.read_bytes())
    assert code == "CW403" and message.startswith("torch.load(weights_only=True) refused the file: ")


def test_the_wall_reason_is_torch_s_reason_alone() -> None:
    long = ("Weights only load failed. In PyTorch 2.6 ... WeightsUnpickler error: Unsupported operand 98\n\n"
            "Check the documentation of torch.load to learn more about types accepted by default.")
    assert _wall_reason(pickle.UnpicklingError(long)) == "Unsupported operand 98"
    twice = "a WeightsUnpickler error: first  reason WeightsUnpickler error: second Check the documentation x"
    assert _wall_reason(pickle.UnpicklingError(twice)) == "first reason WeightsUnpickler error: second"
    assert _wall_reason(pickle.UnpicklingError("no marker,\n  spread   out")) == "no marker, spread out"


def test_a_real_refusal_carries_torch_s_reason(tmp_path: Path) -> None:
    code, message = refused(hostile.zip_checkpoint_build_on_dict(tmp_path).read_bytes())
    reason = message.removeprefix("torch.load(weights_only=True) refused the file: ")
    assert code == "CW403" and reason != message and reason not in ("", "None")
    assert "Check the documentation" not in reason and "weights_only=False" not in reason


def test_a_rebuild_failure_is_damage(plain: bytes) -> None:
    dropped = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(plain)) as source, zipfile.ZipFile(dropped, "w") as target:
        for member in source.infolist():
            if not member.filename.endswith("data/1"):
                target.writestr(member.filename, source.read(member))
    code, message = refused(dropped.getvalue())
    assert code == "CW402" and message.startswith("torch.load cannot rebuild the tensors: ")


def test_unused_storages_are_counted(plain: bytes) -> None:
    assert refused(rezipped(plain, extra={"archive/data/9": b"\x01" * 8})) == (
        "CW402", "the checkpoint holds 3 storages, its tensors use 2: the others are data that no tensor shows")


def test_bfloat16_is_widened_to_float32() -> None:
    tensors = read(saved({"h": torch.tensor([1.5, -2.0], dtype=torch.bfloat16)}))
    assert tensors["h"].dtype == np.float32 and tensors["h"].tolist() == [1.5, -2.0]
