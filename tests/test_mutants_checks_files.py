"""Mutants of cwcontrib/checks/files.py that survived tests/test_checks.py (mutmut, issue 9), killed here: every
finding of the files stage with its exact code, message, location (file, pointer, line) and hint; each limit (file
size, total size, file count) at its exact boundary; what is verified and read (and what is not) after each
refusal; a file swapped for a link or grown between the listing and the hashing; the hashing threads' count and
buffer; remote weights counted, fetched into the private cache or refused.

The stages run on a fresh copy of the real demo (`submission` fixture) through `cwcontrib.validate.run_stage`:
the manifest stage, then the files stage, exactly as `validate()` runs them."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from cwcontrib.checks import files
from cwcontrib.checks.base import Context, Options, ProgressSink
from cwcontrib.findings import Finding, Location
from cwcontrib.hashing import read_hashed_confined, sha256_confined
from cwcontrib.limits import DEFAULT_LIMITS, Limits
from cwcontrib.safefs import UnsafeFile, name_problem
from cwcontrib.validate import run_stage
from cwcontrib.weights import WeightsError
from tests.conftest import Submission

Found = tuple[str, str, Location]

CURVE = "curves/t01-pytorch.csv"  # artifact 4
CURVE_INDEX = 4
KERAS = "weights/t01-keras.weights.h5"  # artifact 23, 130,448 bytes: the largest files are the Keras weights
SAFETENSORS = "weights/t01-pytorch.safetensors"  # artifact 24
SAFETENSORS_INDEX = 24
LARGEST = 130448
NEXT = 33  # the index of an artifact appended to the demo's 33


def manifest_stage(sub: Submission, limits: Limits = DEFAULT_LIMITS, options: Options | None = None) -> Context:
    ctx = Context(root=sub.root, limits=limits, options=options or Options())
    assert [f for f in run_stage(ctx, "manifest") if f.severity.value == "error"] == []
    return ctx


def files_stage(sub: Submission, limits: Limits = DEFAULT_LIMITS, options: Options | None = None
                ) -> tuple[Context, list[Found]]:
    ctx = manifest_stage(sub, limits, options)
    return ctx, triples(run_stage(ctx, "files"))


def triples(found: list[Finding]) -> list[Found]:
    return [(f.code, f.message, f.location) for f in found]


def declared(sub: Submission) -> list[dict[str, Any]]:
    artifacts: list[dict[str, Any]] = sub.manifest()["artifacts"]
    return artifacts


def append_artifact(sub: Submission, **artifact: Any) -> None:
    sub.edit(lambda d: d["artifacts"].append(artifact))


def demo_paths(sub: Submission) -> set[str]:
    return {a["path"] for a in declared(sub)}


def weights_paths(sub: Submission) -> set[str]:
    return {a["path"] for a in declared(sub) if a["format"] in ("safetensors", "keras-h5", "pytorch")}


# -- the untouched demo -----------------------------------------------------------------------------------------------

def test_the_demo_is_verified_whole_and_its_weights_read_once(submission: Submission) -> None:
    ctx, found = files_stage(submission)
    assert found == []  # folders have several links: only regular files are counted as hard-linked
    assert ctx.tree is not None and any(e.kind == "dir" and e.nlink > 1 for e in ctx.tree.entries.values())
    assert ctx.verified == demo_paths(submission)
    assert set(ctx.weights_read) == weights_paths(submission)  # tables and code are hashed only
    assert not any(isinstance(summary, Exception) for summary in ctx.weights_read.values())


# -- listing the folder -----------------------------------------------------------------------------------------------

def test_a_listing_stopped_by_the_file_limit_is_said_once_and_hides_no_file(submission: Submission) -> None:
    ctx, found = files_stage(submission, Limits(files=3))
    assert found == [("CW208", "stopped listing the folder: more than 3 files and folders", Location("."))]
    assert ctx.tree is not None and ctx.tree.truncated
    # Declared files the listing never reached are not "missing" (no CW203): the listing stopped, not the files.


def test_unsafe_names_name_their_whole_path(submission: Submission) -> None:
    submission.write_file("curves/bad\nname.csv", "epoch,loss\n")  # undeclared (a declared one is CW200 too)
    submission.write_file("bad\tdir/fine.csv", "epoch,loss\n")
    _, found = files_stage(submission)
    control = name_problem("\n")
    assert control == "it contains control characters or newlines"
    assert [f for f in found if f[0] == "CW214"] == [
        ("CW214", f"the name 'bad\\tdir' is unsafe: {control}", Location("bad\\tdir")),
        ("CW214", f"the name 'curves/bad\\nname.csv' is unsafe: {control}", Location("curves/bad\\nname.csv")),
    ]  # the folder's file "fine.csv" is a safe name: only the last component of each path is judged


def test_a_symbolic_link_is_reported_where_listed_and_never_hashed(submission: Submission) -> None:
    (submission.root / CURVE).unlink()
    (submission.root / CURVE).symlink_to("t02-pytorch.csv")
    ctx, found = files_stage(submission)
    assert found == [("CW201", "this is a symbolic link", Location(CURVE))]
    assert CURVE not in ctx.verified and ctx.verified == demo_paths(submission) - {CURVE}


def test_a_fifo_is_reported_where_listed_and_never_opened(submission: Submission) -> None:
    (submission.root / CURVE).unlink()
    os.mkfifo(submission.root / CURVE)
    ctx, found = files_stage(submission)
    assert found == [("CW202", "this is a FIFO, socket or device, not a regular file", Location(CURVE))]
    assert CURVE not in ctx.verified


@pytest.mark.parametrize("links", [2, 3])
def test_hard_links_are_counted(submission: Submission, tmp_path: Path, links: int) -> None:
    for n in range(links - 1):
        os.link(submission.root / CURVE, tmp_path / f"elsewhere-{n}.csv")
    _, found = files_stage(submission)
    assert found == [("CW212", f"this file has {links} hard links", Location(CURVE))]


def test_a_declared_folder_is_not_a_file(submission: Submission) -> None:
    append_artifact(submission, path="curves", format="text", size=1, sha256="0" * 64)
    ctx, found = files_stage(submission)
    assert found == [("CW211", "'curves' is declared as text, which needs a name ending in "
                               ".txt or .cfg or .toml or .ini or .sh or .lock", ctx.at(f"/artifacts/{NEXT}/format")),
                     ("CW202", "'curves' is a folder, not a file", ctx.at(f"/artifacts/{NEXT}/path"))]


# -- declarations -----------------------------------------------------------------------------------------------------

def test_a_file_declared_by_uri_only(submission: Submission) -> None:
    append_artifact(submission, uri="https://example.org/notes.txt", format="text", size=1, sha256="0" * 64)
    ctx, found = files_stage(submission)
    assert found == [("CW213", "https://example.org/notes.txt is declared by URI only",
                      ctx.at(f"/artifacts/{NEXT}/uri"))]
    assert ctx.at(f"/artifacts/{NEXT}/uri").line is not None


def test_an_unsafe_path_is_refused_and_never_looked_for(submission: Submission) -> None:
    append_artifact(submission, path="../outside.csv", format="csv", size=1, sha256="0" * 64)
    append_artifact(submission, path="/etc/passwd.csv", format="csv", size=1, sha256="0" * 64)
    ctx, found = files_stage(submission)
    assert [(code, location) for code, _, location in found] == [
        ("CW200", ctx.at(f"/artifacts/{NEXT}/path")), ("CW200", ctx.at(f"/artifacts/{NEXT + 1}/path"))]
    assert found[0][1].startswith("'../outside.csv': ") and found[1][1].startswith("'/etc/passwd.csv': ")
    assert "/etc/passwd.csv" not in ctx.verified  # no CW203 either: an unsafe path is not looked for


def test_each_duplicate_declaration_is_reported_and_only_the_first_is_checked(submission: Submission) -> None:
    first = declared(submission)[CURVE_INDEX]
    append_artifact(submission, **first)
    append_artifact(submission, **{**first, "size": first["size"] + 1})  # the copy's size is never compared
    ctx, found = files_stage(submission)
    message = f"{CURVE!r} is declared more than once"
    assert found == [("CW209", message, ctx.at(f"/artifacts/{NEXT}/path")),
                     ("CW209", message, ctx.at(f"/artifacts/{NEXT + 1}/path"))]
    assert CURVE in ctx.verified


def test_a_name_that_does_not_fit_its_format(submission: Submission) -> None:
    submission.edit(lambda d: d["artifacts"][CURVE_INDEX].update(format="parquet"))
    submission.edit(lambda d: d["artifacts"][CURVE_INDEX - 1].update(format="yaml"))
    ctx, found = files_stage(submission)
    assert found == [
        ("CW211", "'curves/t01-keras.csv' is declared as yaml, which needs a name ending in .yaml or .yml",
         ctx.at(f"/artifacts/{CURVE_INDEX - 1}/format")),
        ("CW211", f"{CURVE!r} is declared as parquet, which needs a name ending in .parquet",
         ctx.at(f"/artifacts/{CURVE_INDEX}/format")),
    ]


def test_an_extension_in_capitals_fits_its_format(submission: Submission) -> None:
    submission.write_file("notes/READ.TXT", "hello\n", "text")
    submission.write_file("notes/more.Md", "# hello\n", "markdown")
    _, found = files_stage(submission)
    assert found == []


# -- what is on disk against what is declared -------------------------------------------------------------------------

def test_a_missing_file(submission: Submission) -> None:
    (submission.root / CURVE).unlink()
    ctx, found = files_stage(submission)
    assert found == [("CW203", f"{CURVE!r} does not exist", ctx.at(f"/artifacts/{CURVE_INDEX}/path"))]
    assert ctx.verified == demo_paths(submission) - {CURVE}


def test_a_missing_file_is_not_reported_when_the_listing_stopped(submission: Submission) -> None:
    (submission.root / CURVE).unlink()
    entries = 1 + len(list(submission.root.rglob("*")))  # more entries than the limit: the listing stops
    _, found = files_stage(submission, Limits(files=entries - 5))
    assert [code for code, _, _ in found] == ["CW208"]


def test_a_file_exactly_at_the_size_limit_passes_one_byte_over_does_not(submission: Submission) -> None:
    ctx, found = files_stage(submission, Limits(file_bytes=LARGEST))
    assert found == []
    ctx, found = files_stage(submission, Limits(file_bytes=LARGEST - 1))
    keras = [a for a in declared(submission) if a["size"] == LARGEST]
    assert len(keras) == 5
    assert found == [("CW207", f"{a['path']!r} has {LARGEST} bytes, over the limit of {LARGEST - 1}",
                      ctx.at(f"/artifacts/{declared(submission).index(a)}/path")) for a in keras]
    assert ctx.verified == demo_paths(submission) - {a["path"] for a in keras}  # neither hashed nor read
    assert set(ctx.weights_read) == weights_paths(submission) - {a["path"] for a in keras}


def test_a_size_that_is_not_the_declared_one(submission: Submission) -> None:
    size = declared(submission)[CURVE_INDEX]["size"]
    submission.edit(lambda d: d["artifacts"][CURVE_INDEX].update(size=size + 1))
    ctx = manifest_stage(submission)
    found = run_stage(ctx, "files")
    assert triples(found) == [("CW205", f"{CURVE!r} has {size} bytes, declared {size + 1}",
                               ctx.at(f"/artifacts/{CURVE_INDEX}/size"))]
    assert found[0].hint == f"Set `size: {size}` if the file is right."
    assert ctx.verified == demo_paths(submission) - {CURVE}  # the files declared after it are still checked


def total(sub: Submission, *leave_out: str) -> int:
    return sum(a["size"] for a in declared(sub) if a["path"] not in leave_out)


def test_the_total_exactly_at_its_limit_passes_one_byte_over_stops_before_hashing(submission: Submission) -> None:
    everything = total(submission)
    ctx, found = files_stage(submission, Limits(total_bytes=everything))
    assert found == [] and ctx.verified == demo_paths(submission)
    (submission.root / CURVE).write_bytes((submission.root / CURVE).read_bytes()[::-1])  # a wrong checksum
    ctx, found = files_stage(submission, Limits(total_bytes=everything - 1))
    assert found == [("CW208", f"declared files total {everything} bytes, over the limit of {everything - 1}",
                      Location("."))]  # and no CW206: nothing was hashed
    assert ctx.verified == set() and ctx.weights_read == {}


def test_the_total_counts_only_files_that_will_be_hashed(submission: Submission) -> None:
    size = declared(submission)[CURVE_INDEX]["size"]
    submission.edit(lambda d: d["artifacts"][CURVE_INDEX].update(size=size + 1))
    _, found = files_stage(submission, Limits(total_bytes=total(submission, CURVE)))
    assert [code for code, _, _ in found] == ["CW205"]
    _, found = files_stage(submission, Limits(total_bytes=total(submission, CURVE, KERAS), file_bytes=LARGEST - 1))
    assert "CW208" not in [code for code, _, _ in found]


def test_a_checksum_that_is_not_the_declared_one(submission: Submission) -> None:
    path = submission.root / CURVE
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n", 1))
    submission.edit(lambda d: d["artifacts"][CURVE_INDEX].update(size=path.stat().st_size))
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    want = declared(submission)[CURVE_INDEX]["sha256"]
    ctx = manifest_stage(submission)
    found = run_stage(ctx, "files")
    assert triples(found) == [("CW206", f"{CURVE!r} has sha256 {actual}, declared {want}",
                               ctx.at(f"/artifacts/{CURVE_INDEX}/sha256"))]
    assert found[0].hint == f"Set `sha256: {actual}` if the file is the one you meant to submit."
    assert ctx.verified == demo_paths(submission) - {CURVE}


def test_weights_with_a_wrong_checksum_are_not_read(submission: Submission) -> None:
    path = submission.root / SAFETENSORS
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    ctx, found = files_stage(submission)
    assert [(code, location) for code, _, location in found] == [
        ("CW206", ctx.at(f"/artifacts/{SAFETENSORS_INDEX}/sha256"))]
    assert SAFETENSORS not in ctx.verified and SAFETENSORS not in ctx.weights_read
    assert set(ctx.weights_read) == weights_paths(submission) - {SAFETENSORS}


def test_weights_their_reader_refuses_are_verified_with_the_reader_s_refusal(submission: Submission) -> None:
    submission.write_file(SAFETENSORS, b"\x08" + b"\x00" * 7 + b"{}garbage", "safetensors")
    ctx, found = files_stage(submission)
    assert found == []  # the weights stage reports it
    assert SAFETENSORS in ctx.verified
    assert isinstance(ctx.weights_read[SAFETENSORS], WeightsError)
    assert set(ctx.weights_read) == weights_paths(submission)


# -- between the listing and the hashing ------------------------------------------------------------------------------

def listed(sub: Submission) -> Context:
    """The manifest read and the folder listed, nothing hashed yet."""
    ctx = manifest_stage(sub)
    assert list(files.folder_holds_only_plain_files(ctx)) == []
    return ctx


@pytest.mark.parametrize(("rel", "index"), [(CURVE, CURVE_INDEX), (SAFETENSORS, SAFETENSORS_INDEX)])
def test_a_file_swapped_for_a_link_after_the_listing_is_refused_when_opened(
        submission: Submission, rel: str, index: int) -> None:
    ctx = listed(submission)
    target = submission.root / rel
    target.rename(target.with_name("moved"))
    target.symlink_to("moved")
    with pytest.raises(UnsafeFile) as refusal:  # what opening it says, for the streaming and the reading path
        sha256_confined(submission.root, rel) if rel == CURVE else read_hashed_confined(submission.root, rel, 1)
    assert refusal.value.code == "CW201"
    assert triples(list(files.artifacts_match_their_checksums(ctx))) == [
        ("CW201", f"{rel!r}: {refusal.value}", ctx.at(f"/artifacts/{index}/path"))]
    assert ctx.verified == demo_paths(submission) - {rel} and rel not in ctx.weights_read


def test_weights_grown_after_the_listing_are_a_wrong_checksum_and_not_read(submission: Submission) -> None:
    ctx = listed(submission)
    with (submission.root / SAFETENSORS).open("ab") as handle:
        handle.write(b"\x00")
    actual = hashlib.sha256((submission.root / SAFETENSORS).read_bytes()).hexdigest()
    want = declared(submission)[SAFETENSORS_INDEX]["sha256"]
    assert triples(list(files.artifacts_match_their_checksums(ctx))) == [
        ("CW206", f"{SAFETENSORS!r} has sha256 {actual}, declared {want}",
         ctx.at(f"/artifacts/{SAFETENSORS_INDEX}/sha256"))]
    assert SAFETENSORS not in ctx.weights_read


class RecordingProgress(ProgressSink):
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...] | tuple[str, str, int] | tuple[str, int]] = []

    def start(self, description: str, total: int) -> None:
        self.calls.append(("start", description, total))

    def advance(self, amount: int) -> None:
        self.calls.append(("advance", amount))

    def finish(self) -> None:
        self.calls.append(("finish",))


def test_hashing_progress_counts_every_declared_byte_in_declaration_order(submission: Submission) -> None:
    progress = RecordingProgress()
    ctx = Context(root=submission.root, progress=progress)
    run_stage(ctx, "manifest")
    assert run_stage(ctx, "files") == []
    sizes = [a["size"] for a in declared(submission)]
    assert progress.calls == [("start", "hashing files", sum(sizes)), *[("advance", s) for s in sizes], ("finish",)]


# -- hashing threads --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("cpus", "workers"), [(1, 1), (2, 2), (8, 2)])
def test_hashing_threads_are_bounded_by_the_cpus_and_by_two(
        monkeypatch: pytest.MonkeyPatch, cpus: int, workers: int) -> None:
    assert files.HASH_WORKERS == 2  # memory: at most this many weights files are held at once
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)), raising=False)
    assert files._workers() == workers


@pytest.mark.parametrize(("cpus", "workers"), [(None, 1), (1, 1), (3, 2)])
def test_without_an_affinity_mask_the_cpu_count_is_used(
        monkeypatch: pytest.MonkeyPatch, cpus: int | None, workers: int) -> None:
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    assert files._workers() == workers


def test_no_more_threads_than_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "HASH_WORKERS", 0)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert files._workers() == 1
    monkeypatch.setattr(files, "HASH_WORKERS", 5)
    assert files._workers() == 3


def test_a_thread_s_buffer_is_reused_until_a_larger_file_comes() -> None:
    def in_a_thread() -> None:
        first = files._thread_buffer(10)
        assert len(first) == 10
        assert files._thread_buffer(10) is first and files._thread_buffer(4) is first
        larger = files._thread_buffer(11)
        assert larger is not first and len(larger) == 11
        assert files._thread_buffer(11) is larger
        buffers.append(larger)

    buffers: list[bytearray] = []
    for _ in range(2):  # each thread has its own
        thread = threading.Thread(target=in_a_thread)
        thread.start()
        thread.join()
    assert len(buffers) == 2 and buffers[0] is not buffers[1]


# -- undeclared files -------------------------------------------------------------------------------------------------

def test_undeclared_files_are_named_and_the_manifest_is_not_one(submission: Submission) -> None:
    submission.write_file("notes.txt", "hello\n")
    submission.write_file("code/odd\x7fname.txt", "hello\n")
    append_artifact(submission, uri="https://example.org/notes.txt", format="text", size=1, sha256="0" * 64)
    ctx, found = files_stage(submission)
    assert found == [  # checks run by name: artifact_declarations_..., folder_holds_..., no_undeclared_files
        ("CW213", "https://example.org/notes.txt is declared by URI only", ctx.at(f"/artifacts/{NEXT}/uri")),
        ("CW214", "the name 'code/odd\\x7fname.txt' is unsafe: it contains control characters or newlines",
         Location("code/odd\\x7fname.txt")),
        ("CW204", "'code/odd\\x7fname.txt' is not declared in `artifacts`", Location("code/odd\\x7fname.txt")),
        ("CW204", "'notes.txt' is not declared in `artifacts`", Location("notes.txt")),
    ]


# -- remote weights ---------------------------------------------------------------------------------------------------

def remote(fmt: str, suffix: str, n: int = 1) -> dict[str, Any]:
    return {"uri": f"https://weights.example.org/{n}{suffix}", "format": fmt, "size": 3, "sha256": f"{n}" * 64}


def test_one_remote_weights_file_without_fetch(submission: Submission) -> None:
    append_artifact(submission, uri="https://example.org/notes.txt", format="text", size=1, sha256="0" * 64)
    submission.edit(lambda d: d.update(schema_version="1.2"))  # ONNX graphs came with schema 1.2
    append_artifact(submission, **remote("onnx", ".onnx"))
    ctx, found = files_stage(submission)
    assert found[-1] == ("CW215", "1 weights file is remote, not verified (declared by URI only, e.g. "
                                  "https://weights.example.org/1.onnx): pass --fetch",
                         ctx.at(f"/artifacts/{NEXT + 1}/uri"))
    assert [code for code, _, _ in found] == ["CW213", "CW215"]


def test_remote_weights_files_are_counted_and_the_first_is_named(submission: Submission) -> None:
    append_artifact(submission, **remote("safetensors", ".safetensors", 1))
    append_artifact(submission, **remote("pytorch", ".pt", 2))
    append_artifact(submission, **remote("keras-h5", ".weights.h5", 3))
    ctx, found = files_stage(submission)
    assert found == [("CW215", "3 weights files are remote, not verified (declared by URI only, e.g. "
                               "https://weights.example.org/1.safetensors): pass --fetch",
                      ctx.at(f"/artifacts/{NEXT}/uri"))]


def test_fetched_weights_come_from_the_private_cache(submission: Submission, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached file whose sha256 is the declared one is used without any download (fetch_verified)."""
    monkeypatch.setenv("CWCONTRIB_CACHE", str(tmp_path / "cache"))
    raw = (submission.root / SAFETENSORS).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    cache = tmp_path / "cache" / "weights"
    cache.mkdir(parents=True)
    (cache / f"{digest}.safetensors").write_bytes(raw)
    uri = "https://127.0.0.1:9/w.safetensors"
    append_artifact(submission, uri=uri, format="safetensors", size=len(raw), sha256=digest)
    refused = "https://127.0.0.1:9/other.pt"  # nothing listens on port 9: the download fails
    append_artifact(submission, uri=refused, format="pytorch", size=3, sha256="0" * 64)
    ctx, found = files_stage(submission, options=Options(fetch=True))
    assert ctx.fetched == {uri: (cache, f"{digest}.safetensors")}
    assert [(code, location) for code, _, location in found] == [("CW216", ctx.at(f"/artifacts/{NEXT + 1}/uri"))]
    assert "127.0.0.1:9" in found[0][1]


def test_the_weights_cache_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CWCONTRIB_CACHE", str(tmp_path / "deep" / "cache"))
    folder = files._private_cache()
    assert folder == tmp_path / "deep" / "cache" / "weights"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert files._private_cache() == folder  # already there: kept


def test_two_remote_weights_files_are_plural(submission: Submission) -> None:
    append_artifact(submission, **remote("safetensors", ".safetensors", 1))
    append_artifact(submission, **remote("pytorch", ".pt", 2))
    ctx, found = files_stage(submission)
    assert found == [("CW215", "2 weights files are remote, not verified (declared by URI only, e.g. "
                               "https://weights.example.org/1.safetensors): pass --fetch",
                      ctx.at(f"/artifacts/{NEXT}/uri"))]


def test_declarations_after_one_by_uri_are_still_checked(submission: Submission) -> None:
    append_artifact(submission, uri="https://example.org/notes.txt", format="text", size=1, sha256="0" * 64)
    append_artifact(submission, **declared(submission)[CURVE_INDEX])
    ctx, found = files_stage(submission)
    assert found == [("CW213", "https://example.org/notes.txt is declared by URI only",
                      ctx.at(f"/artifacts/{NEXT}/uri")),
                     ("CW209", f"{CURVE!r} is declared more than once", ctx.at(f"/artifacts/{NEXT + 1}/path"))]


def test_checks_that_need_the_listing_do_nothing_without_it(submission: Submission) -> None:
    """The listing check failing (a CW001 of its own) leaves no tree: the checks that need it say nothing more."""
    ctx = manifest_stage(submission)
    assert ctx.model is not None and ctx.tree is None
    assert list(files.artifacts_match_their_checksums(ctx)) == []
    assert list(files.no_undeclared_files(ctx)) == []
    assert ctx.verified == set()


def test_each_download_is_asked_for_the_declared_digest_and_size_into_its_content_address(
        submission: Submission, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fetch_verified (tested against a real HTTPS server in tests/test_remote_weights.py) is handed the declared
    sha256 and size, which bound the download, and a cache name made of the digest and the format's extension."""
    from cwcontrib.catalog import fetch

    calls: list[tuple[str, str, int, Path]] = []
    real = fetch.fetch_verified

    def spy(url: str, sha256: str, limit: int, target: Path) -> Path:
        calls.append((url, sha256, limit, target))
        return real(url, sha256, limit, target)

    monkeypatch.setattr(fetch, "fetch_verified", spy)
    monkeypatch.setenv("CWCONTRIB_CACHE", str(tmp_path / "cache"))
    append_artifact(submission, **{**remote("pytorch", ".pt", 2), "uri": "https://127.0.0.1:9/2.pt"})
    append_artifact(submission, **{**remote("keras-h5", ".weights.h5", 3), "uri": "https://127.0.0.1:9/3.weights.h5"})
    files_stage(submission, options=Options(fetch=True))  # nothing listens on port 9: both downloads fail
    cache = tmp_path / "cache" / "weights"
    assert calls == [("https://127.0.0.1:9/2.pt", "2" * 64, 3, cache / f"{'2' * 64}.pt"),
                     ("https://127.0.0.1:9/3.weights.h5", "3" * 64, 3, cache / f"{'3' * 64}.weights.h5")]


def test_an_unexpected_failure_while_fetching_names_the_uri(submission: Submission,
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """cwcontrib's own failure is CW001 naming what it was fetching, never a finding against the contributor."""
    from cwcontrib.catalog import fetch

    def broken(url: str, sha256: str, limit: int, target: Path) -> Path:
        raise RuntimeError("a bug")

    monkeypatch.setattr(fetch, "fetch_verified", broken)
    monkeypatch.setenv("CWCONTRIB_CACHE", str(tmp_path / "cache"))
    append_artifact(submission, **{**remote("pytorch", ".pt", 2), "uri": "https://127.0.0.1:9/2.pt"})
    _, found = files_stage(submission, options=Options(fetch=True))
    assert found == [("CW001", "check remote_weights_are_fetched failed: RuntimeError: a bug",
                      Location("https://127.0.0.1:9/2.pt"))]


def test_declared_files_after_one_by_uri_are_still_looked_for(submission: Submission) -> None:
    append_artifact(submission, uri="https://example.org/notes.txt", format="text", size=1, sha256="0" * 64)
    append_artifact(submission, path="notes/missing.txt", format="text", size=1, sha256="0" * 64)
    ctx, found = files_stage(submission)
    assert found[-1] == ("CW203", "'notes/missing.txt' does not exist", ctx.at(f"/artifacts/{NEXT + 1}/path"))


def test_a_name_two_folders_deep_is_judged_by_its_last_component(submission: Submission) -> None:
    submission.write_file("notes/deep/fine.txt", "hello\n", "text")
    _, found = files_stage(submission)
    assert found == []


def test_hashing_runs_on_at_most_the_named_threads(submission: Submission, monkeypatch: pytest.MonkeyPatch) -> None:
    names: set[str] = set()
    real = files._check_one

    def spy(ctx: Context, artifact: Any, path: str) -> Any:
        names.add(threading.current_thread().name)
        return real(ctx, artifact, path)

    monkeypatch.setattr(files, "_check_one", spy)
    _, found = files_stage(submission)
    assert found == []
    assert names and all(name.startswith("cwcontrib-hash") for name in names)
    assert len(names) <= files._workers()


def test_bytes_whose_digest_is_not_the_declared_one_are_never_parsed(
        submission: Submission, monkeypatch: pytest.MonkeyPatch) -> None:
    import cwcontrib.weights

    parsed: list[int] = []
    real = cwcontrib.weights.summarise_weights

    def spy(data: Any, fmt: str) -> Any:
        parsed.append(len(data))
        return real(data, fmt)

    monkeypatch.setattr(cwcontrib.weights, "summarise_weights", spy)
    for rel in sorted(weights_paths(submission)):
        raw = bytearray((submission.root / rel).read_bytes())
        raw[-1] ^= 1
        (submission.root / rel).write_bytes(bytes(raw))
    _, found = files_stage(submission)
    assert [code for code, _, _ in found] == ["CW206"] * 10
    assert parsed == []


class FailingProgress(ProgressSink):
    def advance(self, amount: int) -> None:
        raise RuntimeError("a bug")


def test_an_unexpected_failure_while_hashing_names_the_file(submission: Submission) -> None:
    ctx = Context(root=submission.root, progress=FailingProgress())
    run_stage(ctx, "manifest")
    found = [(f.code, f.message, f.location) for f in run_stage(ctx, "files")]
    assert found == [("CW001", "check artifacts_match_their_checksums failed: RuntimeError: a bug",
                      Location("code/common.py"))]
