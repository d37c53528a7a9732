"""Stage 2: every file is confined, regular, declared, within limits, and matches its checksum."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cwcontrib.checks.base import Context, check
from cwcontrib.codes import finding
from cwcontrib.findings import Finding, Location, printable
from cwcontrib.hashing import read_hashed_confined, sha256_confined
from cwcontrib.manifest import MANIFEST_NAMES
from cwcontrib.models import EXTENSIONS, Artifact, ArtifactFormat
from cwcontrib.safefs import UnsafeFile, name_problem, path_problem, scan_tree


def _artifact_pointer(index: int, field: str = "path") -> str:
    return f"/artifacts/{index}/{field}"


@check("files", "CW201", "CW202", "CW208", "CW212", "CW214", provides=("tree",))
def folder_holds_only_plain_files(ctx: Context) -> Iterator[Finding]:
    ctx.tree = scan_tree(ctx.root, ctx.limits)
    if ctx.tree.truncated:
        yield finding("CW208", f"stopped listing the folder: {ctx.tree.truncated}", Location("."))
    for rel, entry in sorted(ctx.tree.entries.items()):
        problem = name_problem(rel.rsplit("/", 1)[-1])
        if problem:
            yield finding("CW214", f"the name {rel!r} is unsafe: {problem}", Location(printable(rel)))
        if entry.kind == "symlink":
            yield finding("CW201", "this is a symbolic link", Location(printable(rel)))
        elif entry.kind == "special":
            yield finding("CW202", "this is a FIFO, socket or device, not a regular file", Location(printable(rel)))
        elif entry.kind == "file" and entry.nlink > 1:
            yield finding("CW212", f"this file has {entry.nlink} hard links", Location(printable(rel)))


@check("files", "CW200", "CW209", "CW211", "CW213", needs=("model",))
def artifact_declarations_are_sound(ctx: Context) -> Iterator[Finding]:
    if ctx.model is None:
        return
    seen: set[str] = set()
    for i, artifact in enumerate(ctx.model.artifacts):
        if artifact.path is None:  # then it has a `uri`: the schema requires one of the two
            if artifact.format not in REMOTE_WEIGHTS_FORMATS:  # remote weights: CW215 with the count, or fetched
                yield finding("CW213", f"{artifact.uri} is declared by URI only", ctx.at(_artifact_pointer(i, "uri")))
            continue
        problem = path_problem(artifact.path)
        if problem:
            yield finding("CW200", f"{artifact.path!r}: {problem}", ctx.at(_artifact_pointer(i)))
        if artifact.path in seen:
            yield finding("CW209", f"{artifact.path!r} is declared more than once", ctx.at(_artifact_pointer(i)))
        seen.add(artifact.path)
        extensions = EXTENSIONS[artifact.format]
        if not artifact.path.lower().endswith(extensions):
            yield finding("CW211", f"{artifact.path!r} is declared as {artifact.format.value}, which needs a name "
                                   f"ending in {' or '.join(extensions)}", ctx.at(_artifact_pointer(i, "format")))


def _local_artifacts(ctx: Context) -> Iterator[tuple[int, Artifact, str]]:
    assert ctx.model is not None
    seen: set[str] = set()
    for i, artifact in enumerate(ctx.model.artifacts):
        path = artifact.path
        if path is None or path in seen or path_problem(path):
            continue
        seen.add(path)
        yield i, artifact, path


@check("files", "CW201", "CW202", "CW203", "CW205", "CW206", "CW207", "CW208", needs=("model", "tree"),
       provides=("verified",))
def artifacts_match_their_checksums(ctx: Context) -> Iterator[Finding]:
    if ctx.model is None or ctx.tree is None:
        return
    entries = ctx.tree.entries
    planned: list[tuple[int, Artifact, str]] = []
    total = 0
    for i, artifact, path in _local_artifacts(ctx):
        entry = entries.get(path)
        where = ctx.at(_artifact_pointer(i))
        if entry is None:
            if not ctx.tree.truncated:
                yield finding("CW203", f"{path!r} does not exist", where)
            continue
        if entry.kind != "file":
            if entry.kind == "dir":
                yield finding("CW202", f"{path!r} is a folder, not a file", where)
            continue  # links and special files are reported where the folder is listed
        if entry.size > ctx.limits.file_bytes:
            yield finding("CW207", f"{path!r} has {entry.size} bytes, over the limit of {ctx.limits.file_bytes}", where)
            continue
        if entry.size != artifact.size:
            yield finding("CW205", f"{path!r} has {entry.size} bytes, declared {artifact.size}",
                          ctx.at(_artifact_pointer(i, "size")), hint=f"Set `size: {entry.size}` if the file is right.")
            continue
        total += entry.size
        planned.append((i, artifact, path))
    if total > ctx.limits.total_bytes:
        yield finding("CW208", f"declared files total {total} bytes, over the limit of {ctx.limits.total_bytes}",
                      Location("."))
        return
    yield from _verify_checksums(ctx, planned, total)


# Threads that hash (and read whole weights files) at once: hashlib and file reads release the GIL. Each holds
# at most one weights file in memory, so peak memory grows by at most this many times the largest file.
HASH_WORKERS = 2


def _workers() -> int:
    return max(1, min(HASH_WORKERS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else os.cpu_count() or 1))


_LOCAL = threading.local()


def _thread_buffer(size: int) -> bytearray:
    """This hashing thread's buffer for whole weights files, reused from file to file (it dies with the thread):
    at most the largest weights file it read, and nothing of one file outlives its summary."""
    buffer: bytearray | None = getattr(_LOCAL, "buffer", None)
    if buffer is None or len(buffer) < size:
        _LOCAL.buffer = buffer = None  # the old one is freed before the new one is allocated
        _LOCAL.buffer = buffer = bytearray(size)
    return buffer


@dataclass
class _Checked:
    digest: str | None = None
    unsafe: UnsafeFile | None = None
    weights: Any = None  # a weights artifact's summaries or its reader's exception, once its digest matched


def _check_one(ctx: Context, artifact: Artifact, path: str) -> _Checked:
    """One declared file: hashed by streaming, or, for weights, read once into memory, hashed, and (when the
    digest is the declared one) summarised by its safe reader from those same bytes, which are then dropped."""
    from cwcontrib.weights import summarise_weights

    try:
        if artifact.format not in WEIGHTS_FORMATS:
            return _Checked(sha256_confined(ctx.root, path))
        data, digest = read_hashed_confined(ctx.root, path, artifact.size, into=_thread_buffer(artifact.size))
    except UnsafeFile as exc:
        return _Checked(unsafe=exc)
    if data is None or digest != artifact.sha256:
        return _Checked(digest)
    try:
        summary: Any = summarise_weights(data, artifact.format.value)
    except Exception as exc:
        summary = exc
    return _Checked(digest, weights=summary)


def _verify_checksums(ctx: Context, planned: list[tuple[int, Artifact, str]], total: int) -> Iterator[Finding]:
    ctx.progress.start("hashing files", total)
    try:
        with ThreadPoolExecutor(_workers(), thread_name_prefix="cwcontrib-hash") as pool:
            # map hands results back in the order submitted: findings come out in declaration order.
            results = pool.map(lambda job: _check_one(ctx, job[1], job[2]), planned)
            for (i, artifact, path), checked in zip(planned, results, strict=True):
                ctx.looking_at = path
                ctx.progress.advance(artifact.size)
                if checked.unsafe is not None:
                    exc = checked.unsafe
                    yield finding(exc.code, f"{path!r}: {exc}", ctx.at(_artifact_pointer(i)))
                    continue
                digest = checked.digest
                if digest != artifact.sha256:
                    yield finding("CW206", f"{path!r} has sha256 {digest}, declared {artifact.sha256}",
                                  ctx.at(_artifact_pointer(i, "sha256")),
                                  hint=f"Set `sha256: {digest}` if the file is the one you meant to submit.")
                    continue
                ctx.verified.add(path)
                if checked.weights is not None:
                    ctx.weights_read[path] = checked.weights
    finally:
        ctx.progress.finish()


@check("files", "CW204", needs=("model", "tree"))
def no_undeclared_files(ctx: Context) -> Iterator[Finding]:
    if ctx.model is None or ctx.tree is None:
        return
    declared = {a.path for a in ctx.model.artifacts if a.path}
    for rel, _entry in sorted(ctx.tree.files.items()):
        if rel not in declared and rel not in MANIFEST_NAMES:
            yield finding("CW204", f"{rel!r} is not declared in `artifacts`", Location(printable(rel)))


WEIGHTS_FORMATS = (ArtifactFormat.SAFETENSORS, ArtifactFormat.PYTORCH, ArtifactFormat.KERAS_H5)
# What a run may name by URI and `--fetch` downloads: the weights formats and ONNX graphs (read once by their own
# check in stage 4, not by the weights readers, so not among WEIGHTS_FORMATS).
REMOTE_WEIGHTS_FORMATS = (*WEIGHTS_FORMATS, ArtifactFormat.ONNX)


def _remote_weights(ctx: Context) -> list[tuple[int, Artifact]]:
    assert ctx.model is not None
    return [(i, a) for i, a in enumerate(ctx.model.artifacts)
            if a.path is None and a.uri is not None and a.format in REMOTE_WEIGHTS_FORMATS]


def _private_cache() -> Path:
    """The weights cache, readable by this user only: downloaded bytes wait there until their sha256 is checked."""
    from cwcontrib.catalog.fetch import cache_root

    folder = cache_root() / "weights"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


@check("files", "CW215", "CW216", needs=("model",), provides=("fetched",))
def remote_weights_are_fetched(ctx: Context) -> Iterator[Finding]:
    """Weights declared by URI only: with --fetch, downloaded over HTTPS into a private cache, at most the declared
    size, and kept only when their sha256 is the declared one (cwcontrib.catalog.fetch.fetch_verified), so that the
    weights and evaluation stages read them like local files; without it, one warning with the count."""
    from cwcontrib.catalog.fetch import FetchError, fetch_verified

    if ctx.model is None:
        return
    remote = _remote_weights(ctx)
    if not remote:
        return
    if not ctx.options.fetch:
        yield finding("CW215", f"{len(remote)} weights file{'s are' if len(remote) > 1 else ' is'} remote, not "
                               f"verified (declared by URI only, e.g. {remote[0][1].uri}): pass --fetch",
                      ctx.at(_artifact_pointer(remote[0][0], "uri")))
        return
    cache = _private_cache()
    for i, artifact in remote:
        assert artifact.uri is not None
        name = f"{artifact.sha256}{EXTENSIONS[artifact.format][0]}"  # content-addressed: one file per digest
        ctx.looking_at = artifact.uri
        try:
            fetch_verified(artifact.uri, artifact.sha256, artifact.size, cache / name)
        except FetchError as exc:
            yield finding("CW216", str(exc), ctx.at(_artifact_pointer(i, "uri")))
            continue
        ctx.fetched[artifact.uri] = (cache, name)
