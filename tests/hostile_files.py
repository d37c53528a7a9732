"""Real hostile weight files, written in their true formats. Each payload, if it ever ran, would write
a marker file named MARKER next to itself: tests assert the marker never appears.

Run as a script to write them all into a folder: `python tests/hostile_files.py OUT_DIR`.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

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
    for name, write in WRITERS.items():
        print(f"{name}: {write(out)}")
