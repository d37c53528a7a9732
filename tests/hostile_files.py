"""Real hostile weight files, written in their true formats. Each payload, if it ever ran, would write
a marker file named MARKER next to itself: tests assert the marker never appears.

Run as a script to write them all into a folder: `python tests/hostile_files.py OUT_DIR`.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import sys
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

MARKER = "cwcontrib-pwned-marker"


class WritesMarker:
    """Unpickling this calls os.system: the classic pickle remote-code-execution payload."""

    def __init__(self, folder: Path) -> None:
        self.command = f"touch {folder / MARKER}"

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str]]:
        return (os.system, (self.command,))


def malicious_pickle(folder: Path) -> bytes:
    return pickle.dumps({"conv.weight": WritesMarker(folder)}, protocol=2)


def legacy_pickle_checkpoint(folder: Path) -> Path:
    """A raw pickle (the pre-1.6 torch format), carrying the payload."""
    path = folder / "legacy.pt"
    path.write_bytes(malicious_pickle(folder))
    return path


def zip_checkpoint_with_payload(folder: Path, protocol: int = 2) -> Path:
    """A torch-style zip checkpoint whose data.pkl carries the payload (what torch.load would unpickle)."""
    path = folder / f"payload-p{protocol}.pt"
    payload = pickle.dumps({"conv.weight": WritesMarker(folder)}, protocol=protocol)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
    return path


def zip_checkpoint_stack_global_via_memo(folder: Path) -> Path:
    """STACK_GLOBAL whose module/name come from the memo, after an innocent-looking GLOBAL-free prefix."""
    body = (
        b"\x80\x04"  # PROTO 4
        + b"\x8c\x05posix\x94"  # SHORT_BINUNICODE 'posix', MEMOIZE (0)
        + b"\x8c\x06system\x94"  # SHORT_BINUNICODE 'system', MEMOIZE (1)
        + b"0"  # POP (drop 'system')
        + b"0"  # POP (drop 'posix')
        + b"h\x00h\x01"  # BINGET 0, BINGET 1 -> 'posix' 'system' via the memo
        + b"\x93"  # STACK_GLOBAL -> posix.system
        + b"\x8c" + bytes([len(f"touch {folder / MARKER}")]) + f"touch {folder / MARKER}".encode()
        + b"\x85R."  # TUPLE1, REDUCE, STOP
    )
    path = folder / "memo-stack-global.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", body)
    return path


# --- PyTorch checkpoints that test each wall alone ------------------------------------------------------
# `torch.load(weights_only=True)` accepts the first group, so only cwcontrib's allowlist scan (and its
# hidden-data checks) can refuse them; cwcontrib's scan passes the second group, so only weights_only can.


def _state_dict() -> Any:
    import torch

    return OrderedDict([("w", torch.arange(4, dtype=torch.float32)), ("b", torch.ones(2))])


def _torch_saved(state: object) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _rewritten(raw: bytes, path: Path, pickle: Callable[[bytes], bytes] = lambda p: p,
               extra: dict[str, bytes] | None = None) -> Path:
    """`raw` (a torch.save zip) written to `path` with its data.pkl edited and extra members added."""
    with zipfile.ZipFile(io.BytesIO(raw)) as source, zipfile.ZipFile(path, "w") as target:
        for member in source.infolist():
            data = source.read(member)
            target.writestr(member.filename, pickle(data) if member.filename.endswith("/data.pkl") else data)
        for name, data in (extra or {}).items():
            target.writestr(name, data)
    return path


def _replaced(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    def edit(pickled: bytes) -> bytes:
        assert old in pickled, old
        return pickled.replace(old, new, 1)

    return edit


def zip_checkpoint_counter(folder: Path) -> Path:
    """The state dict is a collections.Counter (a dict of tensors to torch), not an OrderedDict."""
    return _rewritten(_torch_saved(_state_dict()), folder / "counter.pt",
                      _replaced(b"collections\nOrderedDict\n", b"collections\nCounter\n"))


def zip_checkpoint_newobj(folder: Path) -> Path:
    """The allowed OrderedDict, built with NEWOBJ (cls.__new__) instead of a call."""
    return _rewritten(_torch_saved(_state_dict()), folder / "newobj.pt",
                      _replaced(b"collections\nOrderedDict\nq\x00)R", b"collections\nOrderedDict\nq\x00)\x81"))


def zip_checkpoint_tensor_attributes(folder: Path) -> Path:
    """A tensor carrying Python attributes: rebuilt by torch._tensor._rebuild_from_type_v2."""
    import torch

    tensor = torch.zeros(2)
    tensor.note = "anything at all rides along"  # type: ignore[attr-defined]
    path = folder / "tensor-attributes.pt"
    path.write_bytes(_torch_saved({"w": tensor}))
    return path


def zip_checkpoint_parameter_state(folder: Path) -> Path:
    """An nn.Parameter with attributes: torch._utils._rebuild_parameter_with_state."""
    import torch

    parameter = torch.nn.Parameter(torch.zeros(2))
    parameter.note = 1  # type: ignore[attr-defined]
    path = folder / "parameter-state.pt"
    path.write_bytes(_torch_saved({"w": parameter}))
    return path


def _with_metadata(metadata: dict[str, object], name: str) -> Callable[[Path], Path]:
    """Torch's allowed globals hidden in the OrderedDict's attributes, beside plain tensors."""
    def write(folder: Path) -> Path:
        state = _state_dict()
        state._metadata = metadata
        path = folder / f"{name}.pt"
        path.write_bytes(_torch_saved(state))
        return path

    write.__name__ = f"zip_checkpoint_{name.replace('-', '_')}"
    return write


def _metadata_writers() -> dict[str, Callable[[Path], Path]]:
    import torch

    return {
        "dtype-in-metadata": _with_metadata({"x": torch.float32}, "dtype-in-metadata"),
        "bytes-in-metadata": _with_metadata({"x": b"\x00hidden bytes"}, "bytes-in-metadata"),  # _codecs.encode
        "set-in-metadata": _with_metadata({"x": {1, 2}}, "set-in-metadata"),  # builtins.set
        "device-in-metadata": _with_metadata({"x": torch.device("cpu"), "y": torch.Size([2])}, "device-in-metadata"),
    }


def zip_checkpoint_data_after_stop(folder: Path) -> Path:
    """A second pickle after the state dict's STOP: the unpickler never looks past the first."""
    second = pickle.dumps({"hidden": "a second object"}, protocol=2)
    return _rewritten(_torch_saved(_state_dict()), folder / "after-stop.pt", lambda p: p + second)


def zip_checkpoint_extra_member(folder: Path) -> Path:
    """A zip member torch.load never reads, holding another pickle."""
    return _rewritten(_torch_saved(_state_dict()), folder / "extra-member.pt",
                      extra={"archive/notes": pickle.dumps({"hidden": 1}, protocol=2)})


def zip_checkpoint_unused_storage(folder: Path) -> Path:
    """A storage record that no tensor of the pickle refers to."""
    return _rewritten(_torch_saved(_state_dict()), folder / "unused-storage.pt",
                      extra={"archive/data/9": b"\x01" * 64})


def zip_checkpoint_view_of_larger_storage(folder: Path) -> Path:
    """A 2-element tensor that is a view of a 1,000-element storage: 3,992 bytes no tensor shows."""
    import torch

    path = folder / "view.pt"
    path.write_bytes(_torch_saved({"w": torch.arange(1000, dtype=torch.float32)[10:12]}))
    return path


def _zip_with_pickle(folder: Path, name: str, body: bytes) -> Path:
    return _rewritten(_torch_saved(_state_dict()), folder / name, lambda _: body)


def zip_checkpoint_build_on_dict(folder: Path) -> Path:
    """BUILD (set attributes) on a plain dict: only allowlisted opcodes and no import at all."""
    return _zip_with_pickle(folder, "build-dict.pt", b"\x80\x02}}b.")


def zip_checkpoint_build_on_allowed_class(folder: Path) -> Path:
    """BUILD with slot state on the allowlisted storage class itself: plain pickle would setattr on torch's
    class (torch.FloatStorage.is_pinned = 1); no opcode or name is outside the allowlist."""
    return _zip_with_pickle(folder, "build-class.pt",
                            b"\x80\x02ctorch\nFloatStorage\nN}X\t\x00\x00\x00is_pinnedK\x01s\x86b0}.")


def zip_checkpoint_setitem_on_list(folder: Path) -> Path:
    return _zip_with_pickle(folder, "setitem-list.pt", b"\x80\x02]K\x01K\x02s.")


def zip_checkpoint_persistent_id_not_storage(folder: Path) -> Path:
    """A persistent id that is not a storage record: torch.load's persistent_load would be asked for a module."""
    return _zip_with_pickle(folder, "persid-module.pt", b"\x80\x02X\x06\x00\x00\x00module\x85Q.")


def zip_checkpoint_append_to_ordered_dict(folder: Path) -> Path:
    return _zip_with_pickle(folder, "append-ordereddict.pt", b"\x80\x02ccollections\nOrderedDict\n)RK\x01a.")


def weights_only_accepts() -> dict[str, tuple[Callable[[Path], Path], str]]:
    """Checkpoints `torch.load(weights_only=True)` loads, with the code cwcontrib must refuse them with."""
    return {
        "counter": (zip_checkpoint_counter, "CW403"),
        "newobj": (zip_checkpoint_newobj, "CW403"),
        "tensor-attributes": (zip_checkpoint_tensor_attributes, "CW403"),
        "parameter-state": (zip_checkpoint_parameter_state, "CW403"),
        **{name: (write, "CW403") for name, write in _metadata_writers().items()},
        "data-after-stop": (zip_checkpoint_data_after_stop, "CW402"),
        "extra-member": (zip_checkpoint_extra_member, "CW402"),
        "unused-storage": (zip_checkpoint_unused_storage, "CW402"),
        "view-of-larger-storage": (zip_checkpoint_view_of_larger_storage, "CW402"),
    }


ALLOWLIST_PASSES: dict[str, Callable[[Path], Path]] = {
    "build-on-dict": zip_checkpoint_build_on_dict,
    "build-on-allowed-class": zip_checkpoint_build_on_allowed_class,
    "setitem-on-list": zip_checkpoint_setitem_on_list,
    "persistent-id-not-storage": zip_checkpoint_persistent_id_not_storage,
    "append-to-ordered-dict": zip_checkpoint_append_to_ordered_dict,
}
"""Checkpoints cwcontrib's allowlist scan passes and only `torch.load(weights_only=True)` refuses."""


def npy_object_array(folder: Path) -> Path:
    path = folder / "object-array.npy"
    with path.open("wb") as handle:
        np.save(handle, np.array([WritesMarker(folder)], dtype=object), allow_pickle=True)
    return path


def safetensors_bytes(header: dict[str, object], data: bytes, declared_length: int | None = None) -> bytes:
    raw = json.dumps(header).encode()
    length = len(raw) if declared_length is None else declared_length
    return struct.pack("<Q", length) + raw + data


def safetensors_lying_header_length(folder: Path) -> Path:
    path = folder / "lying-length.safetensors"
    path.write_bytes(safetensors_bytes({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}},
                                       b"\0" * 4, declared_length=2**62))
    return path


def safetensors_overlapping(folder: Path) -> Path:
    header = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
              "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}
    path = folder / "overlap.safetensors"
    path.write_bytes(safetensors_bytes(header, b"\0" * 12))
    return path


def safetensors_huge_shape(folder: Path) -> Path:
    header = {"a": {"dtype": "F32", "shape": [2**31, 2**31], "data_offsets": [0, 8]}}
    path = folder / "huge-shape.safetensors"
    path.write_bytes(safetensors_bytes(header, b"\0" * 8))
    return path


def _tensor_header(entries: dict[str, object], prefix: bytes = b"", suffix: bytes = b"") -> bytes:
    return prefix + json.dumps(entries).encode() + suffix


def edge_case_safetensors() -> dict[str, bytes]:
    """Whole safetensors files at the edges of the format, valid and not: cwcontrib may refuse more than the
    `safetensors` library, never less."""
    w = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
    four = b"\x00\x00\x80\x3f"

    def file(header: bytes, data: bytes = four) -> bytes:
        return struct.pack("<Q", len(header)) + header + data

    def raw_entry(shape: str, offsets: str = "[0, 4]", dtype: str = "F32") -> bytes:
        return f'{{"w": {{"dtype": "{dtype}", "shape": {shape}, "data_offsets": {offsets}}}}}'.encode()

    return {
        "plain": file(_tensor_header({"w": w})),
        "leading-space": file(_tensor_header({"w": w}, prefix=b" ")),
        "trailing-spaces": file(_tensor_header({"w": w}, suffix=b"    ")),
        "trailing-newline": file(_tensor_header({"w": w}, suffix=b"\n")),
        "trailing-nul": file(_tensor_header({"w": w}, suffix=b"\x00")),
        "byte-order-mark": file(_tensor_header({"w": w}, prefix=b"\xef\xbb\xbf")),
        "empty-header": file(b"{}", b""),
        "metadata-strings": file(_tensor_header({"__metadata__": {"format": "pt"}, "w": w})),
        "metadata-last": file(_tensor_header({"w": w, "__metadata__": {"format": "pt"}})),
        "metadata-null": file(_tensor_header({"__metadata__": None, "w": w})),
        "metadata-number": file(_tensor_header({"__metadata__": {"epochs": 3}, "w": w})),
        "metadata-nested": file(_tensor_header({"__metadata__": {"a": {"b": "c"}}, "w": w})),
        "metadata-list": file(_tensor_header({"__metadata__": ["a"], "w": w})),
        "metadata-lone-surrogate": file(b'{"__metadata__": {"a": "\\udc80"}, "w": ' + json.dumps(w).encode() + b"}"),
        "name-lone-surrogate": file(b'{"\\ud800": ' + json.dumps(w).encode() + b"}"),
        "name-surrogate-pair": file(b'{"\\ud83d\\ude00": ' + json.dumps(w).encode() + b"}"),
        "name-empty": file(_tensor_header({"": w})),
        "name-duplicate": file(b'{"w": ' + json.dumps(w).encode() + b', "w": ' + json.dumps(w).encode() + b"}"),
        "entry-extra-field": file(_tensor_header({"w": {**w, "note": "x"}})),
        "scalar": file(raw_entry("[]")),
        "zero-size": file(raw_entry("[0]", "[0, 0]"), b""),
        "zero-size-overflowing-count": file(raw_entry(f"[{2**40}, {2**40}, 0]", "[0, 0]"), b""),
        "zero-size-late-huge-dims": file(raw_entry(f"[0, {2**40}, {2**40}]", "[0, 0]"), b""),
        "zero-size-dim-over-u64": file(raw_entry(f"[{2**64}, 0]", "[0, 0]"), b""),
        "negative-zero-offset": file(raw_entry("[1]", "[-0, 4]")),
        "negative-dim": file(raw_entry("[-1]")),
        "float-dim": file(raw_entry("[1.0]")),
        "exponent-offset": file(raw_entry("[1]", "[0, 4e0]")),
        "five-thousand-digit-dim": file(raw_entry("[" + "9" * 5000 + "]")),
        "nine-dims": file(raw_entry("[1, 1, 1, 1, 1, 1, 1, 1, 1]")),
        "bool-not-0-or-1": file(raw_entry("[1]", "[0, 1]", "BOOL"), b"\x02"),
        "bf16": file(raw_entry("[2]", "[0, 4]", "BF16")),
        "f8-unknown-here": file(raw_entry("[1]", "[0, 1]", "F8_E4M3"), b"\x00"),
        "nan-constant-in-metadata": file(b'{"__metadata__": {"a": NaN}, "w": ' + json.dumps(w).encode() + b"}"),
        "hidden-bytes": file(_tensor_header({"w": w}), four * 2),
        "short-data": file(_tensor_header({"w": w}), four[:2]),
        "offsets-reversed": file(raw_entry("[0]", "[4, 0]")),
    }


def h5_external_link(folder: Path) -> Path:
    import h5py

    secret = folder / "host-secret.h5"
    with h5py.File(secret, "w") as h5:
        h5["data"] = np.arange(4, dtype=np.float32)
    path = folder / "external-link.weights.h5"
    with h5py.File(path, "w") as h5:
        h5.create_group("layers/dense/vars")
        h5["layers/dense/vars/0"] = h5py.ExternalLink(str(secret), "/data")
    return path


def h5_soft_link(folder: Path) -> Path:
    import h5py

    path = folder / "soft-link.weights.h5"
    with h5py.File(path, "w") as h5:
        h5["layers/dense/vars/0"] = np.zeros((2, 2), dtype=np.float32)
        h5["layers/dense/vars/1"] = h5py.SoftLink("/layers/dense/vars/0")
    return path


def h5_external_storage(folder: Path) -> Path:
    import h5py

    outside = folder / "outside.bin"
    outside.write_bytes(b"\x01" * 16)
    path = folder / "external-storage.weights.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("layers/dense/vars/0", shape=(4,), dtype=np.float32, external=[(str(outside), 0, 16)])
    return path


def h5_virtual_dataset(folder: Path) -> Path:
    import h5py

    source = folder / "vds-source.h5"
    with h5py.File(source, "w") as h5:
        h5["data"] = np.arange(4, dtype=np.float32)
    layout = h5py.VirtualLayout(shape=(4,), dtype=np.float32)
    layout[:] = h5py.VirtualSource(str(source), "data", shape=(4,))
    path = folder / "virtual.weights.h5"
    with h5py.File(path, "w") as h5:
        h5.create_group("layers/dense/vars").create_virtual_dataset("0", layout)
    return path


def h5_huge_declared_dataset(folder: Path) -> Path:
    import h5py

    path = folder / "huge.weights.h5"
    with h5py.File(path, "w") as h5:  # chunked and never written: tiny on disk, 4 PB when read
        h5.create_dataset("layers/dense/vars/0", shape=(2**25, 2**25), dtype=np.float32, chunks=(1, 1024))
    return path


def h5_object_reference(folder: Path) -> Path:
    import h5py

    path = folder / "reference.weights.h5"
    with h5py.File(path, "w") as h5:
        target = h5.create_dataset("layers/dense/vars/0", data=np.zeros(2, dtype=np.float32))
        refs = h5.create_dataset("layers/dense/vars/1", shape=(1,), dtype=h5py.ref_dtype)
        refs[0] = target.ref
    return path


WRITERS: dict[str, Callable[[Path], Path]] = {
    name: func
    for name, func in list(globals().items())
    if callable(func) and name.startswith(("legacy_", "zip_", "npy_", "safetensors_", "h5_"))
    and name != "safetensors_bytes"
}


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, write in {**WRITERS, **{w.__name__: w for w, _ in weights_only_accepts().values()}}.items():
        print(f"{name}: {write(out)}")
