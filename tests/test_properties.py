"""Property tests: whatever a stranger submits, every loader and reader answers with findings or with its
own error type, and the validator answers with a report. Never a traceback, never an internal error.

Each property runs a bounded number of examples so that the whole file stays well under a minute.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cwcontrib.checks.base import Options
from cwcontrib.codes import REGISTRY
from cwcontrib.findings import Finding
from cwcontrib.limits import Limits
from cwcontrib.manifest import MANIFEST_NAMES, decode_text, load_manifest, parse_json, parse_yaml
from cwcontrib.reporters import RENDERERS
from cwcontrib.tables import TableError, read_table
from cwcontrib.validate import Report, validate
from cwcontrib.weights import READERS, WeightsError, read_weights
from tests.conftest import DEMO
from tests.test_hostile_folders import no_hang

NO_REEVAL = Options(reeval=False)
LIMITS = Limits()
# CWCONTRIB_FUZZ_SCALE=20 runs twenty times the examples, for a deeper search than a CI run can afford.
_SCALE = float(os.environ.get("CWCONTRIB_FUZZ_SCALE", "1"))
FEW = settings(max_examples=int(150 * _SCALE), deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=int(60 * _SCALE), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_registered(findings: list[Finding]) -> None:
    for f in findings:
        assert f.code in REGISTRY, f
        assert f.name == REGISTRY[f.code].name, f
        assert f.location.file, f


def assert_report_is_sound(report: Report) -> None:
    """No internal error; every code registered, every finding located; every renderer writes UTF-8."""
    assert_registered(report.findings)
    assert not [f for f in report.findings if f.code == "CW001"], report.findings
    for render in RENDERERS.values():
        render(report).encode("utf-8")  # the CLI writes reports as UTF-8: lone surrogates would crash it


def is_plain_data(value: Any) -> bool:
    """JSON-like data only: string keys, finite floats, no tagged objects."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if not all(isinstance(k, str) for k in item):
                return False
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: no report could quote it
                return False
        elif not (item is None or isinstance(item, (str, int, bool))):
            return False
    return True


@contextmanager
def folder() -> Iterator[Path]:
    """A fresh folder per example (hypothesis cannot reuse pytest's function-scoped tmp_path)."""
    with tempfile.TemporaryDirectory(prefix="cwcontrib-prop-") as name:
        yield Path(name)


# --- Manifests as bytes --------------------------------------------------------------------------------------

# Pieces of YAML and JSON syntax, hostile and ordinary, so that random sequences reach deep into the parser.
_FRAGMENTS = [
    "\n", "  ", "- ", ": ", "? ", ", ", "{", "}", "[", "]", "'", '"', "#", "|", ">", "---\n", "...\n", "\t",
    "&a ", "*a", "<<: ", "!!python/object/apply:os.system ['true']", "!!binary ", "!custom ", "!<tag:x> ",
    "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "a", "key", "schema_version", "'1.0'", "submission", "trials",
    "1", "-1", "0x1F", "0o17", "1e-7", "1e999", "-1e999", ".inf", "-.inf", ".nan", "NaN", "Infinity", "~",
    "null", "true", "no", "9" * 401, "9" * 4400, "1." + "5" * 500, "\\u0000", "\\ud800", "\\uDFFF", "\u2028",
    "\u0430", "\ufeff", "é", "💥",
]
_yamlish = st.lists(st.sampled_from(_FRAGMENTS) | st.text(max_size=4), max_size=40).map("".join)
_raw_manifest = st.one_of(
    st.binary(max_size=300),
    _yamlish.map(str.encode),
    st.tuples(st.sampled_from([b"", b"\xef\xbb\xbf", b"\x00", b"\xff\xfe", b"\xc3"]), _yamlish.map(str.encode),
              st.sampled_from([b"", b"\x00", b"\x80", b"\xed\xa0\x80"])).map(b"".join),
)
_limits = st.builds(Limits, manifest_depth=st.integers(1, 40), manifest_values=st.integers(1, 300))


@FEW
@given(raw=_raw_manifest, limits=st.one_of(st.just(LIMITS), _limits))
def test_any_bytes_decode_and_parse_to_findings(raw: bytes, limits: Limits) -> None:
    text, problems = decode_text(raw, "submission.yaml")
    assert_registered(problems)
    if text is None:
        assert [f.code for f in problems] == ["CW103"]
        return
    assert not problems
    for parse in (parse_yaml, parse_json):
        loaded = parse(text, "submission.yaml", limits)
        assert_registered(loaded.findings)
        if loaded.usable:
            assert is_plain_data(loaded.data), loaded.data


@FEW
@given(raw=_raw_manifest, name=st.sampled_from(MANIFEST_NAMES), extra=st.sampled_from([None, *MANIFEST_NAMES]))
def test_any_bytes_as_a_manifest_file_load_to_findings(raw: bytes, name: str, extra: str | None) -> None:
    with folder() as root:
        (root / name).write_bytes(raw)
        if extra is not None:
            (root / extra).write_bytes(raw)
        loaded = load_manifest(root, LIMITS)
    assert_registered(loaded.findings)
    if extra is not None and extra != name:
        assert [f.code for f in loaded.findings] == ["CW101"]
    if loaded.usable:
        assert is_plain_data(loaded.data)


# --- Manifests as arbitrary structured data ------------------------------------------------------------------

_KEYS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["schema_version", "submission", "id", "trials", "runs", "pytorch", "keras", "artifacts",
                     "path", "size", "sha256", "format", "frameworks", "architecture", "dataset", "sweep",
                     "trials_table", "hyperparameters", "~", "/", "~1", "", " ", "\u0430", "$ref", "<<",
                     "caf\udce9", "\ud800", "k\nsubmission.yaml: error", "\x1b[31m"]),
)
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**600), max_value=10**600),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["1.0", "0", "nan", ".inf", "=cmd|' /C calc'!A0", "../../etc/passwd", "/etc/passwd",
                     "weights/t01-pytorch.safetensors", "a" * 3000, "ghp_" + "a" * 36, "caf\udce9.csv", "\udfff",
                     "\ud83d\ude00", "line\nbreak", "\x00", "\x1b[2J"]),
)
_JSON_LIKE = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_KEYS, children, max_size=4),
    max_leaves=25,
)
# YAML keys need not be strings (JSON turns these into strings, sometimes into duplicates such as 1 and "1").
_ANY_KEYS = _KEYS | st.integers() | st.booleans() | st.none() | st.floats()
_WEIRD_KEYED = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_ANY_KEYS, children, max_size=4),
    max_leaves=25,
)


def _nest(value: Any, wrappers: list[bool]) -> Any:
    for as_list in wrappers:
        value = [value] if as_list else {"k": value}
    return value


_DEEP = st.builds(_nest, _JSON_LIKE, st.lists(st.booleans(), min_size=25, max_size=70))
_TOP_KEYS = st.sampled_from(["schema_version", "submission", "frameworks", "architecture", "dataset", "hardware",
                             "hyperparameters", "sweep", "trials", "trials_table", "artifacts", "code", "extra"])
_MANIFEST_DATA = st.one_of(_JSON_LIKE, _WEIRD_KEYED, _DEEP,
                           st.dictionaries(_TOP_KEYS, _JSON_LIKE | _WEIRD_KEYED | _DEEP, max_size=8))


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True, width=100)


@FEW
@given(data=_MANIFEST_DATA, as_json=st.booleans(), ascii_only=st.booleans())
def test_any_structured_manifest_validates_to_findings(data: Any, as_json: bool, ascii_only: bool) -> None:
    text = json.dumps(data, ensure_ascii=ascii_only) if as_json else dump_yaml(data)
    with folder() as root:
        (root / ("submission.json" if as_json else "submission.yaml")).write_bytes(
            text.encode("utf-8", "surrogatepass"))
        report = validate(root, options=NO_REEVAL)
    assert_report_is_sound(report)
    assert report.stages["manifest"] in ("passed", "failed")


@pytest.mark.parametrize("digits", [401, 4301, 10_000])
def test_long_integers_are_findings_in_yaml_and_json(tmp_path: Path, digits: int) -> None:
    """Python refuses to convert integers of more than 4300 digits: that must be a finding, not a crash."""
    number = "9" * digits
    for name, text in (("submission.json", f'{{"schema_version": {number}}}'),
                       ("submission.yaml", f"schema_version: {number}\n")):
        for other in MANIFEST_NAMES:
            (tmp_path / other).unlink(missing_ok=True)
        (tmp_path / name).write_text(text)
        loaded = load_manifest(tmp_path, LIMITS)
        assert [f.code for f in loaded.findings] == ["CW108"], (name, loaded.findings)


@pytest.mark.parametrize(
    ("text", "expected"),
    [('{"a": "\\ud800"}', ["CW103"]), ('{"caf\\udce9": 1}', ["CW103"]), ('["\\udfff\\ud800"]', ["CW103"]),
     ('{"a": "\\ud83d\\ude00"}', []), ('{"a": "\\\\ud800"}', [])],
    ids=["lone-high", "lone-low-in-key", "reversed-pair", "real-pair", "escaped-backslash"],
)
def test_json_lone_surrogates_are_findings(text: str, expected: list[str]) -> None:
    """JSON may escape half a surrogate pair (YAML may not): such text could never be written in a report."""
    loaded = parse_json(text, "submission.json", LIMITS)
    assert [f.code for f in loaded.findings] == expected
    assert is_plain_data(loaded.data)


# --- Mutations of the real demo manifest -----------------------------------------------------------------------

_DEMO_DATA: dict[str, Any] = yaml.safe_load((DEMO / "submission.yaml").read_text(encoding="utf-8"))


def _pointers(value: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield here
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _pointers(child, (*here, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _pointers(child, (*here, index))


def _leaves(value: Any) -> Iterator[Any]:
    for path in _pointers(value):
        node = value
        for token in path:
            node = node[token]
        if not isinstance(node, (dict, list)):
            yield node


SOURCES = sorted(_pointers(_DEMO_DATA), key=repr)  # what a "copy" mutation may copy: any value, the whole too
POINTERS = [p for p in SOURCES if p]  # where a mutation may act: anything but the root
LEAVES = sorted({repr(v): v for v in _leaves(_DEMO_DATA)}.values(), key=repr)

# What a mutation puts somewhere: the demo's own values in the wrong place (so that the manifest stays
# plausible enough to reach the later stages), or arbitrary data.
_REPLACEMENT = st.one_of(
    st.sampled_from(LEAVES), _SCALARS, _JSON_LIKE,
    st.sampled_from([{}, [], 0, -1, 10**399, -(10**399), 1e308, 5e-324, 2**63, "", "x"]),
)


@st.composite
def _mutation(draw: st.DrawFn) -> tuple[str, tuple[Any, ...], Any]:
    kind = draw(st.sampled_from(["drop", "replace", "replace", "rename", "copy", "append"]))
    pointer = draw(st.sampled_from(POINTERS))
    if kind == "copy":
        return kind, pointer, draw(st.sampled_from(SOURCES))
    if kind == "rename":
        return kind, pointer, draw(_KEYS)
    return kind, pointer, draw(_REPLACEMENT)


def _apply(data: Any, mutation: tuple[str, tuple[Any, ...], Any]) -> None:
    kind, pointer, argument = mutation
    argument = copy.deepcopy(argument)  # hypothesis may hand the same object to two mutations: no cycles
    parent = data
    for token in pointer[:-1]:
        try:
            parent = parent[token]
        except (KeyError, IndexError, TypeError):
            return  # an earlier mutation removed the way there
    last = pointer[-1]
    if not isinstance(parent, (dict, list)) or (isinstance(parent, list) and not isinstance(last, int)):
        return
    if isinstance(parent, list) and last >= len(parent):
        return
    if isinstance(parent, dict) and last not in parent:
        return
    if kind == "drop":
        del parent[last]
    elif kind == "replace":
        parent[last] = argument
    elif kind == "rename" and isinstance(parent, dict):
        parent[argument] = parent.pop(last)
    elif kind == "copy":
        source: Any = _DEMO_DATA
        for token in argument:
            source = source[token]
        parent[last] = json.loads(json.dumps(source))
    elif kind == "append":
        target = parent[last]
        if isinstance(target, list):
            target.append(argument)
        elif isinstance(target, dict):
            target[f"extra{len(target)}"] = argument


@pytest.fixture(scope="module")
def demo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mutated") / "digits-cnn-pair"
    shutil.copytree(DEMO, root)
    return root


@SOME
@given(mutations=st.lists(_mutation(), min_size=1, max_size=4), as_json=st.booleans())
def test_mutated_demo_manifest_never_breaks_a_check(demo_copy: Path, mutations: list[Any], as_json: bool) -> None:
    data = json.loads(json.dumps(_DEMO_DATA))
    for mutation in mutations:
        _apply(data, mutation)
    for name in MANIFEST_NAMES:
        (demo_copy / name).unlink(missing_ok=True)
    if as_json:
        (demo_copy / "submission.json").write_text(json.dumps(data), encoding="utf-8")
    else:
        (demo_copy / "submission.yaml").write_text(dump_yaml(data), encoding="utf-8")
    report = validate(demo_copy, options=NO_REEVAL)
    assert_report_is_sound(report)


def _numeric_pointers() -> list[tuple[Any, ...]]:
    """One pointer per numeric field of the demo (the first trial, run and artifact stand for the others)."""
    chosen: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for pointer in POINTERS:
        node: Any = _DEMO_DATA
        for token in pointer:
            node = node[token]
        if isinstance(node, (int, float)) and not isinstance(node, bool):
            chosen.setdefault(tuple("*" if isinstance(t, int) else t for t in pointer), pointer)
    return sorted(chosen.values(), key=repr)


EXTREMES = [10**399, -(10**398), 2**63, -1, 0, 5e-324, 1e308]  # the longest integers YAML lets through, etc.


@pytest.mark.parametrize("pointer", _numeric_pointers(), ids=lambda p: "/".join(map(str, p)))
def test_extreme_numbers_in_every_numeric_field(demo_copy: Path, pointer: tuple[Any, ...]) -> None:
    """Arithmetic on declared numbers (k/N, chance levels, sizes) must not overflow into an internal error."""
    for value in EXTREMES:
        data = json.loads(json.dumps(_DEMO_DATA))
        _apply(data, ("replace", pointer, value))
        (demo_copy / "submission.yaml").write_text(dump_yaml(data), encoding="utf-8")
        report = validate(demo_copy, options=NO_REEVAL)
        assert_report_is_sound(report)


# --- Trials tables through the validator -----------------------------------------------------------------------

# Mostly columns the table format accepts one by one (some of which clash with each other), and now and
# then one it refuses, which stops the rows from being read at all.
_GOOD_COLUMNS = st.sampled_from([
    "hyperparameters", "hyperparameters.learning_rate", "hyperparameters.batch_size", "hyperparameters.epochs",
    "hyperparameters.optimizer", "hyperparameters.optimizer.epsilon", "hyperparameters.optimizer.name",
    "hyperparameters.unknown", "pytorch.weights", "pytorch.weights.x", "pytorch.test_accuracy", "pytorch.curves",
    "pytorch.hyperparameters.learning_rate", "keras.weights", "keras.test_accuracy", "keras.curves",
    "jax.test_accuracy", "runs.pytorch", "id.x", "a..b", "pytorch.test_accuracy.", ".x", "id.",
])
_BAD_COLUMNS = st.sampled_from(["pytorch", "runs", "", "=cmd|' /C calc'!A0", "wandb_api_key"]) | st.text(max_size=8)
_COLUMNS = st.builds(
    lambda with_id, good, bad: list(dict.fromkeys([*(["id"] if with_id else []), *good, *bad])),
    st.integers(0, 9).map(bool), st.lists(_GOOD_COLUMNS, max_size=7), st.lists(_BAD_COLUMNS, max_size=1),
).filter(bool)
_CELLS = st.one_of(
    st.sampled_from(LEAVES), st.sampled_from(["", "nan", "1e999", "-1", "0", "0.5", "t01", "t01 ", "true", "None",
                                             "=cmd|' /C calc'!A0", "ghp_" + "a" * 36, "{}", "[1]", "9" * 500]),
    st.text(max_size=10),
)


@pytest.fixture(scope="module")
def table_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tables") / "digits-cnn-pair"
    shutil.copytree(DEMO, root)
    return root


@SOME
@given(columns=_COLUMNS, rows=st.lists(st.lists(_CELLS, min_size=9, max_size=9), min_size=1, max_size=6),
       as_parquet=st.booleans())
def test_any_trials_table_validates_to_findings(table_copy: Path, columns: list[str], rows: list[list[Any]],
                                                as_parquet: bool) -> None:
    """The demo with its trials moved into a table of arbitrary columns and cells."""
    cells = [[str(value) for value in row[:len(columns)]] for row in rows]
    if as_parquet:
        import pyarrow as pa
        import pyarrow.parquet as pq

        buffer = io.BytesIO()
        pq.write_table(pa.table({c: [row[i] for row in cells] for i, c in enumerate(columns)}), buffer)
        raw, rel = buffer.getvalue(), "trials.parquet"
    else:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(cells)
        raw, rel = text.getvalue().encode(), "trials.csv"
    data = json.loads(json.dumps(_DEMO_DATA))
    del data["trials"]
    data["trials_table"] = {"path": rel, "format": "parquet" if as_parquet else "csv"}
    data["artifacts"].append({"path": rel, "format": data["trials_table"]["format"], "size": len(raw),
                              "sha256": hashlib.sha256(raw).hexdigest()})
    for name in ("trials.csv", "trials.parquet"):
        (table_copy / name).unlink(missing_ok=True)
    (table_copy / rel).write_bytes(raw)
    (table_copy / "submission.yaml").write_text(dump_yaml(data), encoding="utf-8")
    report = validate(table_copy, options=NO_REEVAL)
    assert_report_is_sound(report)


# --- Weights files -------------------------------------------------------------------------------------------

def _torch_checkpoint() -> bytes:
    import torch

    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.Linear(3, 2))
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


REAL_WEIGHTS: dict[str, Callable[[], bytes]] = {
    "safetensors": lambda: (DEMO / "weights" / "t01-pytorch.safetensors").read_bytes(),
    "keras-h5": lambda: (DEMO / "weights" / "t01-keras.weights.h5").read_bytes(),
    "pytorch": _torch_checkpoint,
}
_SUFFIX = {"safetensors": ".safetensors", "keras-h5": ".weights.h5", "pytorch": ".pt"}
_MAGIC = {"safetensors": b"", "keras-h5": b"\x89HDF\r\n\x1a\n", "pytorch": b"PK\x03\x04"}


def read_only_weights_error(data: bytes, fmt: str) -> None:
    """Reading `data` as `fmt` gives tensors or a WeightsError with a registered code; nothing else."""
    with folder() as root:
        rel = "w" + _SUFFIX[fmt]
        (root / rel).write_bytes(data)
        with no_hang(120):
            try:
                read_weights(root, rel, fmt)
            except WeightsError as exc:
                assert exc.code in REGISTRY, exc.code


@SOME
@given(fmt=st.sampled_from(sorted(READERS)), body=st.binary(max_size=400), magic=st.booleans())
def test_any_bytes_as_weights_raise_only_weights_errors(fmt: str, body: bytes, magic: bool) -> None:
    read_only_weights_error((_MAGIC[fmt] if magic else b"") + body, fmt)


@SOME
@given(length=st.integers(0, 2**64 - 1), header=_JSON_LIKE, tail=st.binary(max_size=64))
def test_any_safetensors_header_raises_only_weights_errors(length: int, header: Any, tail: bytes) -> None:
    raw = json.dumps(header).encode()
    for declared in (len(raw), length):
        read_only_weights_error(declared.to_bytes(8, "little") + raw + tail, "safetensors")


Edit = tuple[str, int, bytes]
_EDITS = st.lists(
    st.tuples(st.sampled_from(["flip", "set", "truncate", "extend", "insert", "delete"]),
              st.integers(0, 2**31), st.binary(min_size=1, max_size=16)),
    min_size=1, max_size=6,
)


def mutate_bytes(original: bytes, edits: list[Edit]) -> bytes:
    data = bytearray(original)
    for kind, where, payload in edits:
        if not data and kind != "extend":
            continue
        at = where % max(len(data), 1)
        if kind == "flip":
            data[at] ^= 1 << (payload[0] % 8)
        elif kind == "set":
            data[at:at + len(payload)] = payload
        elif kind == "truncate":
            del data[at:]
        elif kind == "extend":
            data += payload * (1 + where % 64)
        elif kind == "insert":
            data[at:at] = payload
        elif kind == "delete":
            del data[at:at + 1 + payload[0]]
    return bytes(data)


@cache
def real_weights(fmt: str) -> bytes:
    """Read once, and not a test argument: hypothesis would print half a megabyte with every failure."""
    return REAL_WEIGHTS[fmt]()


@pytest.mark.parametrize("fmt", sorted(REAL_WEIGHTS))
def test_real_weights_load(fmt: str) -> None:
    """The unmutated files load: the mutations below start from files the readers accept."""
    with folder() as root:
        (root / ("w" + _SUFFIX[fmt])).write_bytes(real_weights(fmt))
        assert read_weights(root, "w" + _SUFFIX[fmt], fmt)


@pytest.mark.parametrize("fmt", sorted(REAL_WEIGHTS))
@SOME
@given(edits=_EDITS)
def test_mutated_real_weights_raise_only_weights_errors(fmt: str, edits: list[Edit]) -> None:
    mutated = mutate_bytes(real_weights(fmt), edits)
    assume(mutated != real_weights(fmt))
    read_only_weights_error(mutated, fmt)


# --- Tables --------------------------------------------------------------------------------------------------

_CSV_PIECES = ["id", "epoch", "loss", ",", "\n", "\r\n", "\r", '"', '""', "=cmd|' /C calc'!A0", "nan", "1e999",
               "\x00", "\ufeff", "a" * 5000, "hyperparameters.lr", "pytorch.weights"]
_csvish = st.lists(st.sampled_from(_CSV_PIECES) | st.text(max_size=4), max_size=40).map(lambda p: "".join(p).encode())
_table_limits = st.builds(Limits, table_rows=st.integers(1, 20), table_columns=st.integers(1, 20),
                          cell_chars=st.integers(1, 100), table_bytes=st.integers(1, 10_000))


def _parquet_bytes() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": ["t01", "t02"], "pytorch.test_accuracy": [0.5, 0.25], "n": [1, None],
                      "when": pa.array([1, 2], pa.timestamp("s")), "blob": [b"\x00", b"\x01"]})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


PARQUET = _parquet_bytes()


def read_only_table_error(data: bytes, fmt: str, limits: Limits) -> None:
    with folder() as root:
        rel = "t." + fmt
        (root / rel).write_bytes(data)
        try:
            read_table(root, rel, fmt, limits)
        except TableError as exc:
            assert exc.code in REGISTRY, exc.code


@FEW
@given(data=st.one_of(st.binary(max_size=300), _csvish), limits=st.one_of(st.just(LIMITS), _table_limits))
def test_any_bytes_as_csv_raise_only_table_errors(data: bytes, limits: Limits) -> None:
    read_only_table_error(data, "csv", limits)


@SOME
@given(data=st.one_of(st.binary(max_size=300), st.builds(mutate_bytes, st.just(PARQUET), _EDITS)),
       limits=st.one_of(st.just(LIMITS), _table_limits))
def test_any_bytes_as_parquet_raise_only_table_errors(data: bytes, limits: Limits) -> None:
    read_only_table_error(data, "parquet", limits)
