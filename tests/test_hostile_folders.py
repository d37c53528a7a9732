"""Whole hostile folders through `validate()`.

Each case gives its finding code and never an internal error (CW001); validation finishes; every report
renders as UTF-8; and the submission folder and the folder around it are exactly as they were before
(same entries, sizes, modes and mtimes; nothing new: a private temp dir may come and must go).
"""

from __future__ import annotations

import dataclasses
import faulthandler
import hashlib
import io
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cwcontrib.checks import base as checks_base
from cwcontrib.checks.base import Options, ProgressSink
from cwcontrib.cli import main
from cwcontrib.limits import DEFAULT_LIMITS, GiB, Limits, MiB
from cwcontrib.reporters import RENDERERS, render_markdown
from cwcontrib.tables import TableError, read_table
from cwcontrib.trials import flatten
from cwcontrib.validate import Report, validate
from cwcontrib.weights import WeightsError, read_weights
from tests.conftest import DEMO, REPO, Submission
from tests.hostile_files import safetensors_bytes

NO_REEVAL = Options(reeval=False)
MARKER = "cwcontrib-pwned-marker"
FORMULA = "=cmd|' /C calc'!A0"
HUGE = 5 * GiB


@contextmanager
def no_hang(seconds: int) -> Iterator[None]:
    """A hang kills the test run (with every thread's traceback) instead of blocking it forever.

    A watchdog thread, so it works even when the main thread is stuck inside C code (libhdf5, a FIFO
    open). It is a guard against hangs only, far above any normal running time.
    """
    faulthandler.dump_traceback_later(seconds, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


Snapshot = dict[str, tuple[int, int, int, str]]


def snapshot(root: Path) -> Snapshot:
    """Every entry under `root`, never following links: mode, size, mtime and link target."""
    found: Snapshot = {}
    pending = [str(root)]
    while pending:
        folder = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                target = os.readlink(entry.path) if stat.S_ISLNK(st.st_mode) else ""
                found[os.path.relpath(entry.path, root)] = (st.st_mode, st.st_size, st.st_mtime_ns, target)
                if stat.S_ISDIR(st.st_mode):
                    pending.append(entry.path)
    return found


@pytest.fixture(scope="module", autouse=True)
def _once_per_process_side_effects() -> None:
    """torch makes $TMPDIR/torchinductor_<user> the first time a process fingerprints a reference model
    (see test_validation_writes_nothing_to_the_system_temp_folder): validate once before the cases, so
    that each case's snapshot shows only what that validation did."""
    validate(DEMO, options=NO_REEVAL)


def codes(report: Report) -> set[str]:
    return {f.code for f in report.findings}


def validate_untouched(sub: Submission, monkeypatch: pytest.MonkeyPatch, limits: Limits = DEFAULT_LIMITS,
                       progress: ProgressSink | None = None, options: Options = NO_REEVAL) -> Report:
    """Validate, checking that nothing in or beside the submission changes and nothing is left behind.

    Temporary files go to the submission's parent folder for the duration, so that a private temp dir
    that outlived the validation would show there.
    """
    around = sub.root.parent
    monkeypatch.setattr(tempfile, "tempdir", str(around))
    before = snapshot(around)
    with no_hang(600):
        report = validate(sub.root, limits=limits, progress=progress, options=options)
    assert snapshot(around) == before
    assert "CW001" not in codes(report), report.findings
    for f in report.findings:
        assert f.location.file, f
    for render in RENDERERS.values():
        render(report).encode("utf-8")
    return report


# --- The cases -----------------------------------------------------------------------------------------------

def _demo_yaml(sub: Submission) -> str:
    return sub.manifest_path.read_text(encoding="utf-8")


def _to_json(sub: Submission, edit: Callable[[str], str]) -> None:
    text = json.dumps(sub.manifest(), indent=2)
    sub.manifest_path.unlink()
    (sub.root / "submission.json").write_text(edit(text), encoding="utf-8")


def _replace_once(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def symlink_loop(sub: Submission) -> None:
    (sub.root / "loop-a.csv").symlink_to("loop-b.csv")
    (sub.root / "loop-b.csv").symlink_to("loop-a.csv")


def symlink_to_passwd(sub: Submission) -> None:
    """A declared curve replaced by a link to a host file, declared with that file's real checksum."""
    rel = "curves/t01-pytorch.csv"
    (sub.root / rel).unlink()
    (sub.root / rel).symlink_to("/etc/passwd")
    raw = Path("/etc/passwd").read_bytes()
    sub.edit(lambda d: next(a for a in d["artifacts"] if a["path"] == rel).update(
        size=len(raw), sha256=hashlib.sha256(raw).hexdigest()))


def symlinked_folders(sub: Submission) -> None:
    outside = sub.root.parent / "outside-weights"
    (sub.root / "weights").rename(outside)
    (sub.root / "weights").symlink_to(outside)
    (sub.root / "everything").symlink_to("/")


def fifo_as_weights(sub: Submission) -> None:
    rel = sub.root / "weights" / "t01-pytorch.safetensors"
    rel.unlink()
    os.mkfifo(rel)


def fifo_as_manifest(sub: Submission) -> None:
    sub.manifest_path.unlink()
    os.mkfifo(sub.manifest_path)


def manifest_is_a_folder(sub: Submission) -> None:
    sub.manifest_path.unlink()
    sub.manifest_path.mkdir()


def manifest_is_a_symlink(sub: Submission) -> None:
    outside = sub.root.parent / "outside.yaml"
    sub.manifest_path.rename(outside)
    sub.manifest_path.symlink_to(outside)


def non_utf8_name(sub: Submission) -> None:
    with open(os.fsencode(sub.root) + b"/caf\xe9-\xff.csv", "wb") as handle:
        handle.write(b"epoch,loss\n")


def confusable_name(sub: Submission) -> None:
    sub.write_file("d\u0430ta.csv", "epoch,loss\n1,0.5\n", "csv")  # Cyrillic a, declared like any other file


def deep_folders(sub: Submission) -> None:
    deep = sub.root.joinpath(*["d"] * (DEFAULT_LIMITS.tree_depth + 4))
    deep.mkdir(parents=True)
    (deep / "bottom.csv").write_text("epoch,loss\n")


def many_files(sub: Submission) -> None:
    extra = sub.root / "extra"
    extra.mkdir()
    for i in range(120):
        (extra / f"f{i:03d}.csv").write_text("")


def hard_link_outside(sub: Submission) -> None:
    outside = sub.root.parent / "outside.csv"
    outside.write_text("epoch,loss\n1,0.5\n")
    os.link(outside, sub.root / "linked.csv")
    sub.redeclare("linked.csv", "csv")


def alias_bomb(sub: Submission) -> None:
    lines = ['lol0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    sub.manifest_path.write_text(_demo_yaml(sub) + "\n".join(lines) + "\n", encoding="utf-8")


def python_tags(sub: Submission) -> None:
    command = f"touch {sub.root.parent / MARKER}"
    tagged = [f"extra_a: !!python/object/apply:os.system [{command!r}]",
              f"extra_b: !!python/object/new:subprocess.Popen [[sh, -c, {command!r}]]",
              "extra_c: !!python/name:os.system ''"]
    sub.manifest_path.write_text(_demo_yaml(sub) + "\n".join(tagged) + "\n", encoding="utf-8")


def _rename_tensors(sub: Submission, renames: dict[str, str]) -> None:
    rel = "weights/t01-pytorch.safetensors"
    raw = (sub.root / rel).read_bytes()
    length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + length])
    for old, new in renames.items():
        header[new] = header.pop(old)
    sub.write_file(rel, safetensors_bytes(header, raw[8 + length:]), "safetensors")


def strange_tensor_names(sub: Submission) -> None:
    """Real weights whose tensor names hold a control character and a forged report line."""
    _rename_tensors(sub, {"fc2.weight": "fc2.w\x1b[2J", "fc2.bias": "fc2.b\nsubmission.yaml: error CW000 forged"})


def surrogate_tensor_name(sub: Submission) -> None:
    """A lone surrogate in a tensor name: not text, refused like the safetensors library refuses it."""
    _rename_tensors(sub, {"fc2.weight": "fc2.w\ud800"})


@dataclass(frozen=True)
class Case:
    build: Callable[[Submission], object]
    expected: tuple[str, ...]
    limits: Limits = DEFAULT_LIMITS
    fails: bool = True  # whether the findings include an error (exit code 1)


CASES: dict[str, Case] = {
    "symlink-loop": Case(symlink_loop, ("CW201",)),
    "symlink-to-etc-passwd": Case(symlink_to_passwd, ("CW201",)),
    "symlinked-folders": Case(symlinked_folders, ("CW201", "CW203")),
    "fifo-declared-as-weights": Case(fifo_as_weights, ("CW202",)),
    "fifo-as-manifest": Case(fifo_as_manifest, ("CW114",)),
    "manifest-is-a-folder": Case(manifest_is_a_folder, ("CW114",)),
    "manifest-is-a-symlink": Case(manifest_is_a_symlink, ("CW114",)),
    "newline-in-name": Case(lambda sub: sub.write_file("bad\nname.csv", "epoch,loss\n"), ("CW214", "CW204")),
    "non-utf8-name": Case(non_utf8_name, ("CW214", "CW204")),
    "confusable-name": Case(confusable_name, ("CW214",)),
    "manifest-bom": Case(lambda sub: sub.manifest_path.write_bytes(b"\xef\xbb\xbf" + sub.manifest_path.read_bytes()),
                         ("CW103",)),
    "manifest-nul": Case(lambda sub: sub.manifest_path.write_bytes(sub.manifest_path.read_bytes() + b"x: \x00\n"),
                         ("CW103",)),
    "manifest-too-large": Case(lambda sub: sub.manifest_path.write_text(
        _demo_yaml(sub) + ("#" * 1023 + "\n") * 5 * 1024), ("CW102",)),
    "yaml-alias-bomb": Case(alias_bomb, ("CW106",)),
    "yaml-python-tags": Case(python_tags, ("CW107",)),
    "json-duplicate-keys": Case(lambda sub: _to_json(sub, lambda t: _replace_once(
        t, '"schema_version": "1.1",', '"schema_version": "1.1", "schema_version": "2.0",')), ("CW105",)),
    "json-1e999": Case(lambda sub: _to_json(sub, lambda t: _replace_once(t, '"test_size": 360', '"test_size": 1e999')),
                       ("CW108",)),
    "json-lone-surrogate": Case(lambda sub: _to_json(sub, lambda t: _replace_once(
        t, '"schema_version": "1.1",', '"schema_version": "1.1", "caf\\udce9": "\\ud800",')), ("CW103",)),
    "tensor-names-with-escape-and-newline": Case(strange_tensor_names, ("CW407",)),
    "tensor-name-with-lone-surrogate": Case(surrogate_tensor_name, ("CW402",)),
    "json-5000-digit-integer": Case(lambda sub: _to_json(sub, lambda t: _replace_once(
        t, '"test_size": 360', '"test_size": ' + "9" * 5000)), ("CW108",)),
    "hard-link-outside": Case(hard_link_outside, ("CW212",), fails=False),
    "folders-too-deep": Case(deep_folders, ("CW208",)),
    "too-many-files": Case(many_files, ("CW208",), Limits(files=100)),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_hostile_folder_gives_its_code(submission: Submission, monkeypatch: pytest.MonkeyPatch, case: Case) -> None:
    case.build(submission)
    report = validate_untouched(submission, monkeypatch, limits=case.limits)
    assert set(case.expected) <= codes(report), report.findings
    assert report.ok is not case.fails
    assert not (submission.root.parent / MARKER).exists(), "a YAML tag ran a command"


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_hostile_folder_through_the_cli(submission: Submission, tmp_path_factory: pytest.TempPathFactory,
                                        case: Case) -> None:
    """The CLI writes its report (UTF-8, whatever the names in the folder) and exits 1, not with a traceback."""
    case.build(submission)
    out = tmp_path_factory.mktemp("reports")
    before = snapshot(submission.root.parent)
    formats = ("text", "markdown", "json", "github")
    for fmt in formats:
        report = out / f"report.{fmt}"
        with no_hang(600):
            exit_code = main(["validate", str(submission.root), "--no-reeval", "--quiet", "--format", fmt,
                              "--output", str(report)])
        assert exit_code == (1 if case.fails else 0)
        assert "CW001" not in report.read_text(encoding="utf-8")
    assert snapshot(submission.root.parent) == before
    assert sorted(p.name for p in out.iterdir()) == sorted(f"report.{f}" for f in formats)


def test_yaml_tags_never_run(submission: Submission, monkeypatch: pytest.MonkeyPatch) -> None:
    python_tags(submission)
    report = validate_untouched(submission, monkeypatch)
    assert [f.code for f in report.findings if f.code == "CW107"] == ["CW107"] * 3
    assert not (submission.root.parent / MARKER).exists()


def test_host_file_behind_a_symlink_is_never_read(submission: Submission, monkeypatch: pytest.MonkeyPatch) -> None:
    symlink_to_passwd(submission)
    report = validate_untouched(submission, monkeypatch)
    first_line = Path("/etc/passwd").read_text().splitlines()[0]
    for render in RENDERERS.values():
        assert first_line not in render(report)
    with pytest.raises(TableError) as info:
        read_table(submission.root, "curves/t01-pytorch.csv", "csv", DEFAULT_LIMITS)
    assert info.value.code == "CW313" and "symbolic link" in str(info.value)


def test_links_and_fifos_are_refused_by_the_readers(submission: Submission) -> None:
    """The readers themselves refuse what the folder listing flags: no following, no blocking."""
    symlinked_folders(submission)
    with pytest.raises(WeightsError) as info:
        read_weights(submission.root, "weights/t01-pytorch.safetensors", "safetensors")
    assert info.value.code == "CW416" and "symbolic link" in str(info.value)
    symlink_loop(submission)
    with pytest.raises(TableError) as loop_info:
        read_table(submission.root, "loop-a.csv", "csv", DEFAULT_LIMITS)
    assert loop_info.value.code == "CW313"
    os.mkfifo(submission.root / "pipe.safetensors")
    os.mkfifo(submission.root / "pipe.csv")
    with no_hang(60):
        with pytest.raises(WeightsError) as info:
            read_weights(submission.root, "pipe.safetensors", "safetensors")
        assert info.value.code == "CW416"
        with pytest.raises(TableError) as table_info:
            read_table(submission.root, "pipe.csv", "csv", DEFAULT_LIMITS)
        assert table_info.value.code == "CW313"


def test_strange_tensor_names_stay_on_one_line(submission: Submission, monkeypatch: pytest.MonkeyPatch) -> None:
    strange_tensor_names(submission)
    report = validate_untouched(submission, monkeypatch)
    text = RENDERERS["text"](report)
    assert "forged" in text
    assert not [line for line in text.splitlines() if line.startswith("submission.yaml: error CW000")]
    assert "\x1b" not in text and "fc2.w\\x1b[2J" in text


def test_hard_link_is_only_a_warning(submission: Submission, monkeypatch: pytest.MonkeyPatch) -> None:
    hard_link_outside(submission)
    report = validate_untouched(submission, monkeypatch)
    assert codes(report) == {"CW212"}, report.findings
    assert report.warnings and report.ok


def test_private_temp_dir_comes_and_goes(submission: Submission, monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-evaluation hands Keras a clean copy of the weights in a private temp dir: it is made in the
    temp folder, never in the submission, and removed before validation returns."""
    made: list[Path] = []
    real_mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(*args: Any, **kwargs: Any) -> str:
        path = str(real_mkdtemp(*args, **kwargs))
        made.append(Path(path))
        return path

    monkeypatch.setattr(tempfile, "mkdtemp", recording_mkdtemp)
    report = validate_untouched(submission, monkeypatch, options=Options(reeval=True, device="cpu"))
    assert report.ok, report.findings
    assert report.as_dict()["evaluation"]["runs"]
    assert made
    assert all(path.parent == submission.root.parent and not path.exists() for path in made), made


# --- Huge sparse files: sizes are compared before a byte is hashed ---------------------------------------------

class CountingProgress(ProgressSink):
    """Counts the bytes the validator announces and hashes."""

    def __init__(self) -> None:
        self.task = ""
        self.announced = 0
        self.hashed = 0

    def start(self, description: str, total: int) -> None:
        self.task = description
        if description == "hashing files":
            self.announced += total

    def advance(self, amount: int) -> None:
        if self.task == "hashing files":
            self.hashed += amount


DEMO_BYTES = sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file())


def sparse_file(sub: Submission, rel: str) -> None:
    with open(sub.root / rel, "wb") as handle:
        handle.truncate(HUGE)


def declare(sub: Submission, rel: str, size: int) -> None:
    sub.edit(lambda d: d["artifacts"].append({"path": rel, "format": "safetensors", "size": size,
                                              "sha256": hashlib.sha256(b"").hexdigest()}))


# file_bytes is raised above the file's size so that the size comparison is reached; total_bytes stays far
# below it, so that a huge file planned for hashing would also give CW208.
ROOMY = Limits(file_bytes=8 * GiB, total_bytes=64 * MiB)


@pytest.mark.parametrize(
    ("declared", "limits", "expected"),
    [
        (1234, ROOMY, "CW205"),  # declared with a wrong size
        (HUGE - 1, ROOMY, "CW205"),  # off by one byte
        (1234, DEFAULT_LIMITS, "CW207"),  # over the per-file limit, whatever it declares
        (HUGE, DEFAULT_LIMITS, "CW207"),  # declared honestly, still over the limit
        (None, ROOMY, "CW204"),  # not declared at all
    ],
    ids=["wrong-size", "off-by-one", "over-limit-wrong-size", "over-limit-right-size", "undeclared"],
)
def test_huge_sparse_file_is_never_hashed(submission: Submission, monkeypatch: pytest.MonkeyPatch,
                                          declared: int | None, limits: Limits, expected: str) -> None:
    rel = "weights/huge.safetensors"
    sparse_file(submission, rel)
    if declared is not None:
        declare(submission, rel, declared)
    progress = CountingProgress()
    report = validate_untouched(submission, monkeypatch, limits=limits, progress=progress)
    assert expected in codes(report), report.findings
    assert "CW208" not in codes(report), report.findings
    huge = [f for f in report.findings if rel in f.message or f.location.file == rel]
    assert huge and all(f.code in ("CW204", "CW205", "CW207") for f in huge), huge
    assert progress.announced <= DEMO_BYTES
    assert progress.hashed <= DEMO_BYTES


# --- Markdown reports never carry spreadsheet formulas ---------------------------------------------------------

_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def markdown_cells(markdown: str) -> Iterator[str]:
    for line in markdown.splitlines():
        if not line.startswith("|") or set(line) <= set("|- "):
            continue  # not a table row, or the header separator
        yield from (cell.strip() for cell in _UNESCAPED_PIPE.split(line)[1:-1])


def formula_trials_table(sub: Submission) -> None:
    """Trials moved into a CSV table whose cells are formulas, plus files whose names look like formulas."""
    data = sub.manifest()
    rows = []
    for trial in data.pop("trials"):
        row = {"id": trial["id"]} | {f"hyperparameters.{k}": v for k, v in flatten(trial["hyperparameters"]).items()}
        for framework, run in trial["runs"].items():
            row |= {f"{framework}.{k}": v for k, v in run.items()}
        rows.append(row)
    rows[0]["id"] = FORMULA
    rows[1]["pytorch.weights"] = FORMULA
    rows[2]["keras.curves"] = "@SUM(1+1)*cmd|' /C calc'!A0"
    rows[3]["pytorch.test_accuracy"] = "+1+cmd|' /C calc'!A0"
    rows[4]["hyperparameters.learning_rate"] = "-2+3+cmd|' /C calc'!A0"
    out = io.StringIO()
    columns = list(rows[0])
    out.write(",".join(columns) + "\n")
    for row in rows:
        out.write(",".join('"' + str(row[c]).replace('"', '""') + '"' for c in columns) + "\n")
    data["trials_table"] = {"path": "trials.csv", "format": "csv"}
    sub.write_manifest(data)
    sub.write_file("trials.csv", out.getvalue(), "csv")
    for name in ("=1+2.csv", "+cmd.csv", "-2+3.csv", "@SUM(A1).csv", "=cmd|' \u2044C calc'!A0.csv"):
        (sub.root / name).write_text("epoch,loss\n")


def test_markdown_report_escapes_formula_cells(submission: Submission, monkeypatch: pytest.MonkeyPatch) -> None:
    formula_trials_table(submission)
    report = validate_untouched(submission, monkeypatch)
    assert {"CW204", "CW314"} <= codes(report), report.findings
    markdown = render_markdown(report)
    cells = list(markdown_cells(markdown))
    assert cells
    leading = [c for c in cells if c.startswith(("=", "+", "-", "@"))]
    assert not leading, leading
    assert any(c.startswith("\\=") for c in cells)  # the formula-named files were reported, escaped
    assert FORMULA not in markdown  # its pipe is escaped wherever it appears


# --- An unexpected exception inside a check ---------------------------------------------------------------------

def _replace_check(monkeypatch: pytest.MonkeyPatch, name: str, run: Callable[[Any], Any]) -> None:
    """Swap one registered check's function; the pipeline finds checks through `checks.base.CHECKS`."""
    assert any(c.name == name for c in checks_base.CHECKS), name
    replaced = [dataclasses.replace(c, run=run) if c.name == name else c for c in checks_base.CHECKS]
    monkeypatch.setattr(checks_base, "CHECKS", replaced)


def test_exception_in_a_check_is_one_internal_error(submission: Submission, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    rel = "weights/t01-pytorch.safetensors"

    def explode(ctx: Any) -> Iterator[Any]:
        ctx.looking_at = rel  # as the real check does before it reads a file
        yield from ()
        raise RuntimeError("boom")

    _replace_check(monkeypatch, "weights_load_strictly", explode)
    exit_code = main(["validate", str(submission.root), "--format", "json", "--quiet"])
    report = json.loads(capsys.readouterr().out)
    assert exit_code == 1
    internal = [f for f in report["findings"] if f["code"] == "CW001"]
    assert len(internal) == 1, internal
    assert internal[0]["location"]["file"] == rel
    assert "weights_load_strictly" in internal[0]["message"] and "RuntimeError: boom" in internal[0]["message"]
    assert report["stages"]["weights"] == "failed"
    assert report["valid"] is False


def test_exception_in_a_check_through_the_cli_default(submission: Submission, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Exactly `cwcontrib validate PATH`: the text report names the code and the file, and the exit code is 1."""
    def explode(ctx: Any) -> list[Any]:
        ctx.looking_at = "curves/t01-keras.csv"
        raise KeyError("surprise")

    _replace_check(monkeypatch, "curves_match_training", explode)
    exit_code = main(["validate", str(submission.root)])
    text = capsys.readouterr().out
    assert exit_code == 1
    lines = [line for line in text.splitlines() if " CW001 " in line]
    assert len(lines) == 1, text
    assert lines[0].startswith("curves/t01-keras.csv: error CW001 [internal-error] check curves_match_training")


# --- Damaged torch checkpoints reach the validator as findings --------------------------------------------------

def _torch_checkpoint() -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(torch.nn.Linear(3, 2).state_dict(), buffer)
    return buffer.getvalue()


def _central_entry(raw: bytes) -> int:
    """Offset of the first central-directory header of a zip."""
    return raw.index(b"PK\x01\x02")


def _delete_byte_4(raw: bytes) -> bytes:
    return raw[:4] + raw[5:]  # every offset shifts: zipfile seeks before the start of the file


def _utf8_flag_bad_name(raw: bytes) -> bytes:
    at = _central_entry(raw)
    data = bytearray(raw)
    data[at + 8] |= 0x08  # general purpose flag bit 11 (0x0800): "names are UTF-8"
    name_at = at + 46
    data[name_at] = 0xFF  # ... and a name that is not
    return bytes(data)


def _future_zip_version(raw: bytes) -> bytes:
    at = _central_entry(raw)
    data = bytearray(raw)
    data[at + 6] = 0xC4  # "version needed to extract" 19.6: zipfile raises NotImplementedError
    return bytes(data)


@pytest.mark.parametrize("damage", [_delete_byte_4, _utf8_flag_bad_name, _future_zip_version],
                         ids=["shifted-offsets", "utf8-flag-bad-name", "future-zip-version"])
def test_damaged_torch_checkpoint_is_a_weights_finding(submission: Submission, monkeypatch: pytest.MonkeyPatch,
                                                       damage: Callable[[bytes], bytes]) -> None:
    rel = "weights/t01-pytorch.pt"
    submission.write_file(rel, damage(_torch_checkpoint()), "pytorch")
    submission.edit(lambda d: d["trials"][0]["runs"]["pytorch"].update(weights=rel))
    with pytest.raises(WeightsError):
        read_weights(submission.root, rel, "pytorch")
    report = validate_untouched(submission, monkeypatch)
    assert codes(report) & {"CW401", "CW402", "CW403"}, report.findings


def test_validation_writes_nothing_to_the_system_temp_folder(tmp_path: Path) -> None:
    """In a fresh interpreter, as the CLI runs: the system temp folder holds nothing new afterwards."""
    system_tmp = tmp_path / "tmp"
    system_tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "TORCHINDUCTOR_CACHE_DIR"} | {"TMPDIR": str(system_tmp)}
    program = ("import sys; from pathlib import Path; from cwcontrib.validate import validate; "
               "from cwcontrib.checks.base import Options; "
               "sys.exit(0 if validate(Path(sys.argv[1]), options=Options(reeval=False)).ok else 1)")
    subprocess.run([sys.executable, "-c", program, str(DEMO)], env=env, cwd=REPO, check=True, timeout=600,
                   capture_output=True)
    assert sorted(os.listdir(system_tmp)) == []
