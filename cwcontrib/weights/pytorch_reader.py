"""PyTorch state dicts: a zip checkpoint whose pickle is scanned opcode by opcode before
`torch.load(weights_only=True)` sees it.

The scan is an allowlist, not a denylist: only the globals a plain state dict needs (an OrderedDict,
tensor rebuilds, typed storages) and only opcodes that build plain containers. `weights_only=True`
then enforces its own allowlist as a second wall. torch older than 2.10 is refused: its
`weights_only` loader had remote-code-execution and memory-corruption bugs (CVE-2025-32434,
CVE-2026-24747).
"""

from __future__ import annotations

import lzma
import pickle
import pickletools
import zipfile
import zlib
from typing import Any, BinaryIO, cast

import numpy as np

from cwcontrib.weights.base import BufferReader, WeightsError, WeightsLimits, library_failures, raised_within

MINIMUM_TORCH = (2, 10)

# What zipfile raises on a damaged or unsupported archive (bad records, CRCs, names, compression methods, and
# its decompressors' errors); only when raised inside zipfile.
ZIP_ERRORS: tuple[type[Exception], ...] = (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, NotImplementedError,
                                           EOFError, OSError, zlib.error, lzma.LZMAError)
# What torch.load's rebuilds raise on inconsistent records; only when raised inside torch.
TORCH_LOAD_ERRORS: tuple[type[Exception], ...] = (RuntimeError, ValueError, TypeError, KeyError, IndexError,
                                                  AttributeError, EOFError, OverflowError)

_STORAGES = ("Double", "Float", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool")
ALLOWED_GLOBALS = frozenset(
    {("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"),
     ("torch._utils", "_rebuild_parameter")}
    | {("torch", f"{kind}Storage") for kind in _STORAGES}
)

# Opcodes that build plain data. Absent on purpose: INST, OBJ, NEWOBJ, NEWOBJ_EX (construct arbitrary
# objects), EXT1/2/4 (extension registry), PERSID (text persistent ids), and every string-eval opcode.
_PLAIN_OPCODES = frozenset({
    "PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK", "DUP",
    "NONE", "NEWTRUE", "NEWFALSE", "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4",
    "FLOAT", "BINFLOAT", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "UNICODE",
    "BINBYTES", "SHORT_BINBYTES", "BINBYTES8",
    "EMPTY_LIST", "APPEND", "APPENDS", "LIST", "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3",
    "EMPTY_DICT", "DICT", "SETITEM", "SETITEMS",
    "PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE", "GET", "BINGET", "LONG_BINGET",
    "BINPERSID", "REDUCE", "BUILD", "GLOBAL", "STACK_GLOBAL",
})
_STRING_PUSHES = frozenset({"BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "UNICODE"})
_MEMO_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"})
_MEMO_GETS = frozenset({"GET", "BINGET", "LONG_BINGET"})


def scan_pickle(data: bytes, limits: WeightsLimits) -> None:
    """Raise WeightsError unless the pickle only rebuilds tensors into plain containers.

    STACK_GLOBAL takes its module and name from the stack; they are only accepted when pushed as
    strings right before it (memo traffic aside), so the names checked are the names used.
    """
    recent: list[object] = []  # values pushed since the last opcode that was not a push or memo op
    memo: dict[int, object] = {}
    end = 0
    # pickletools raises ValueError (UnicodeDecodeError included) on bytes it cannot parse: a damaged pickle.
    with library_failures("CW402", "data.pkl is not a complete pickle", ("pickletools",), (ValueError,)):
        for count, (op, arg, pos) in enumerate(pickletools.genops(data)):
            if count >= limits.pickle_opcodes:  # 0-based: this is opcode number count + 1
                raise WeightsError("CW406", f"more than {limits.pickle_opcodes} pickle opcodes")
            name = op.name
            if name not in _PLAIN_OPCODES:
                raise WeightsError("CW403", f"pickle opcode {name} at byte {pos} is not allowed in a state dict")
            if name == "GLOBAL":
                module, _, attr = str(arg).partition(" ")
                _allow(module, attr, pos)
            elif name == "STACK_GLOBAL":
                if len(recent) < 2 or not all(isinstance(v, str) for v in recent[-2:]):
                    raise WeightsError("CW403", f"STACK_GLOBAL at byte {pos} takes names that are not plain strings")
                _allow(str(recent[-2]), str(recent[-1]), pos)
            if name in _STRING_PUSHES:
                recent.append(arg)
            elif name in _MEMO_PUTS:
                memo[len(memo) if name == "MEMOIZE" else int(str(arg))] = recent[-1] if recent else None
            elif name in _MEMO_GETS:
                recent.append(memo.get(int(str(arg))))
            else:
                recent = []
            if name == "STOP" and pos is not None:  # genops stops after it; pos is known when reading bytes
                end = pos + 1
    if end != len(data):
        # The unpickler stops at the first STOP: whatever follows (another pickle, any data) rides along unseen.
        raise WeightsError("CW402", f"data.pkl has {len(data) - end} bytes after the end of its pickle")


def _allow(module: str, name: str, pos: int | None) -> None:
    if (module, name) not in ALLOWED_GLOBALS:
        raise WeightsError("CW403", f"pickle imports {module}.{name} at byte {pos}; a state dict only needs "
                                    "tensor rebuilds, typed storages and OrderedDict")


# What torch.save writes under the archive's folder besides data/<storage key>: anything else is a file that
# torch.load never reads, so it could carry anything past both walls.
_RECORDS = frozenset({"data.pkl", "byteorder", "version", ".data/version", ".data/serialization_id",
                      ".format_version", ".storage_alignment"})


def _storage_members(archive: zipfile.ZipFile, folder: str) -> int:
    """How many storages the zip holds; refuses members torch.save does not write."""
    storages = 0
    for name in archive.namelist():
        record = name.removeprefix(f"{folder}/") if name.startswith(f"{folder}/") else None
        if record is not None and record.startswith("data/") and record[5:].isdigit() and record[5:].isascii():
            storages += 1
        elif record not in _RECORDS:
            raise WeightsError("CW402", f"the checkpoint holds {name!r}, which torch.save does not write "
                                        "and torch.load never reads")
    return storages


def _data_pickle(archive: zipfile.ZipFile, limits: WeightsLimits) -> tuple[bytes, int]:
    """data.pkl's bytes and how many storages the checkpoint holds beside it."""
    members = archive.infolist()
    if len(members) > limits.zip_members:
        raise WeightsError("CW406", f"{len(members)} zip members, over the limit of {limits.zip_members}")
    pickles = [m for m in members if m.filename.endswith(".pkl")]
    if len(pickles) != 1 or pickles[0].filename.count("/") != 1 or not pickles[0].filename.endswith("/data.pkl"):
        raise WeightsError("CW402", f"expected exactly one <name>/data.pkl, found {[m.filename for m in pickles]}")
    if sum(m.file_size for m in members) > limits.tensor_bytes + limits.pickle_bytes:
        raise WeightsError("CW406", "the checkpoint's members are larger than the limit")
    if pickles[0].file_size > limits.pickle_bytes:
        raise WeightsError("CW406", f"data.pkl has {pickles[0].file_size} bytes, over {limits.pickle_bytes}")
    storages = _storage_members(archive, pickles[0].filename.split("/")[0])
    return archive.read(pickles[0]), storages


def torch_version_ok(version: str) -> bool:
    numbers = version.split("+")[0].split(".")
    return tuple(int(n) for n in numbers[:2] if n.isdigit()) >= MINIMUM_TORCH


def read_pytorch(handle: BinaryIO, file_size: int, limits: WeightsLimits) -> dict[str, np.ndarray]:
    return read_pytorch_buffer(handle.read(), limits)


def read_pytorch_buffer(raw: bytes | bytearray | memoryview, limits: WeightsLimits) -> dict[str, np.ndarray]:
    """A whole checkpoint already in memory (and verified), read without copying it: zipfile and torch.load
    read it through a BufferReader."""
    magic = bytes(raw[:4])
    if magic != b"PK\x03\x04":
        if magic[:1] == b"\x80":
            raise WeightsError("CW401", "this is a legacy (pre-1.6) torch pickle, not a zip checkpoint; "
                                        "re-save with torch.save or, better, export safetensors")
        raise WeightsError("CW401", "not a torch zip checkpoint (no zip signature)")
    with library_failures("CW402", "the zip container is damaged", ("zipfile",), ZIP_ERRORS):
        archive = zipfile.ZipFile(BufferReader(raw))
        pickled, storages = _data_pickle(archive, limits)
    scan_pickle(pickled, limits)
    import torch

    if not torch_version_ok(torch.__version__):
        raise WeightsError("CW414", f"torch {torch.__version__} is installed; loading submitted checkpoints needs "
                                    f"torch >= {'.'.join(map(str, MINIMUM_TORCH))}")
    state = _torch_load(raw)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError("CW402", "the checkpoint is not a flat state dict of tensors")
    _refuse_hidden_data(list(state.values()), storages)
    return {str(k): _numpy(v) for k, v in state.items()}


def _torch_load(raw: bytes | bytearray | memoryview) -> Any:
    """The second wall. Its refusals are UnpicklingErrors (CW403); a pickle that passed both allowlists can
    still make torch's rebuild functions fail on inconsistent records (missing storages, offsets beyond a
    storage, wrong argument counts): the file is damaged (CW402)."""
    import torch

    try:
        with library_failures("CW402", "torch.load cannot rebuild the tensors", ("torch",), TORCH_LOAD_ERRORS):
            return torch.load(cast(BinaryIO, BufferReader(raw)), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        if not raised_within(exc, ("torch",)):
            raise
        raise WeightsError("CW403", f"torch.load(weights_only=True) refused the file: {_wall_reason(exc)}") from None


def _wall_reason(exc: Exception) -> str:
    """The reason in torch's weights_only message, without its advice to retry with weights_only=False."""
    message = str(exc)
    _, found, rest = message.partition("WeightsUnpickler error:")
    reason = rest.split("Check the documentation")[0] if found else message
    return " ".join(reason.split())


def _refuse_hidden_data(tensors: list[Any], storages: int) -> None:
    """Every stored byte must belong to a tensor of the state dict, as safetensors buffers must tile the
    file: a storage no tensor uses, or storage bytes outside every tensor's extent, carry data unseen."""
    sizes: dict[int, int] = {}
    spans: dict[int, list[tuple[int, int]]] = {}
    for tensor in tensors:
        storage = tensor.untyped_storage()
        key = storage._cdata  # what torch.save itself keys storages by: one per distinct storage
        sizes[key] = storage.nbytes()
        if tensor.numel():
            item = tensor.element_size()
            first = tensor.storage_offset() * item
            last_element = sum((n - 1) * step for n, step in zip(tensor.shape, tensor.stride(), strict=True))
            spans.setdefault(key, []).append((first, first + (last_element + 1) * item))
    if len(sizes) != storages:
        raise WeightsError("CW402", f"the checkpoint holds {storages} storages, its tensors use {len(sizes)}: "
                                    "the others are data that no tensor shows")
    covered = 0
    for intervals in spans.values():
        position = 0
        for begin, end in sorted(intervals):
            covered += max(0, end - max(begin, position))
            position = max(position, end)
    hidden = sum(sizes.values()) - covered
    if hidden:
        raise WeightsError("CW402", f"{hidden} bytes of the checkpoint's storages belong to no tensor")


def _numpy(tensor: object) -> np.ndarray:
    import torch

    assert isinstance(tensor, torch.Tensor)
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    return tensor.detach().cpu().numpy()  # shares the loaded tensor's memory, which nothing else holds
