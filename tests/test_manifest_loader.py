"""The safe manifest loader: hostile YAML/JSON becomes findings with lines, never crashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from cwcontrib import manifest
from cwcontrib.limits import Limits
from cwcontrib.manifest import decode_text, load_manifest, parse_json, parse_yaml, resolve_plain_scalar

LIMITS = Limits()


@pytest.fixture(autouse=True, params=["libyaml", "python"])
def yaml_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs with libyaml and with the pure-Python parser: a machine without libyaml, or with
    another libyaml, must give the same findings."""
    if request.param not in manifest.YAML_LOADERS:
        pytest.fail("PyYAML here was built without libyaml; the lock's PyYAML wheels include it")
    monkeypatch.setattr(manifest, "_YamlLoader", manifest.YAML_LOADERS[request.param])
    return str(request.param)


def codes(loaded) -> list[str]:
    return [f.code for f in loaded.findings]


def test_values_and_lines_are_kept() -> None:
    text = "a: 1\nb:\n  - x\n  - {c: 2.5}\nd: 'no'\n"
    loaded = parse_yaml(text, "m.yaml", LIMITS)
    assert loaded.findings == []
    assert loaded.data == {"a": 1, "b": ["x", {"c": 2.5}], "d": "no"}
    assert loaded.lines["/a"] == 1
    assert loaded.lines["/b/1/c"] == 4
    assert loaded.location("/b/1/c/deeper").line == 4  # nearest known ancestor


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1e-7", 1e-7), ("no", "no"), ("yes", "yes"), ("on", "on"), ("true", True), ("~", None), ("", None),
     ("0x1F", 31), ("0o17", 15), ("012", 12), ("1_000", "1_000"), ("3.", 3.0), (".5", 0.5),
     ("2024-01-01", "2024-01-01")],
)
def test_core_schema_resolution(text: str, expected: object) -> None:
    assert resolve_plain_scalar(text) == expected


def test_duplicate_key_is_found_with_its_line() -> None:
    loaded = parse_yaml("a: 1\nb: 2\na: 3\n", "m.yaml", LIMITS)
    [problem] = loaded.findings
    assert problem.code == "CW105"
    assert problem.location.line == 3
    assert problem.location.pointer == "/a"
    assert loaded.data["a"] == 1


def test_alias_bomb_is_refused_without_expansion() -> None:
    bomb = "a: &a ['x','x','x','x','x','x','x','x','x']\n"
    for i in range(1, 30):
        bomb += f"a{i}: &a{i} [*a{i - 1 if i > 1 else ''}, *a{i - 1 if i > 1 else ''}]\n".replace("*a0", "*a")
    loaded = parse_yaml(bomb, "m.yaml", LIMITS)
    assert "CW106" in codes(loaded)
    assert not loaded.usable


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system ['touch /tmp/pwned']", "!!str 5", "!custom x"])
def test_explicit_tags_are_refused(tag: str) -> None:
    loaded = parse_yaml(f"a: {tag}\n", "m.yaml", LIMITS)
    assert "CW107" in codes(loaded)


@pytest.mark.parametrize("literal", [".nan", ".inf", "-.Inf", "1e999", "-1e999"])
def test_non_finite_numbers_are_refused(literal: str) -> None:
    loaded = parse_yaml(f"x: 1\ny: {literal}\n", "m.yaml", LIMITS)
    [problem] = loaded.findings
    assert (problem.code, problem.location.line, problem.location.pointer) == ("CW108", 2, "/y")


def test_huge_integer_literal_is_a_finding_not_a_crash() -> None:
    loaded = parse_yaml("x: " + "9" * 5000 + "\n", "m.yaml", LIMITS)
    assert codes(loaded) == ["CW108"]


DEEP = 100_000


@pytest.mark.parametrize(
    ("text", "line", "pointer"),
    [
        ("[" * DEEP + "]" * DEEP, 1, "/0" * 32),
        ("a: 1\nb:\n  c: " + "[" * DEEP + "]" * DEEP + "\n", 3, "/b/c" + "/0" * 30),
        ("a: " + "{b: " * 2000 + "1" + "}" * 2000 + "\n", 1, "/a" + "/b" * 31),
        ("x:\n" + "".join("  " * i + "- \n" for i in range(1, 40)), 33, "/x" + "/0" * 31),
        ("top:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 40)) + "  " * 40 + "v\n", 33,
         "/top" + "".join(f"/k{i}" for i in range(1, 32))),
    ],
    ids=["flow-lists", "flow-lists-under-block", "flow-maps", "block-lists", "block-maps"],
)
def test_deep_nesting_stops_at_the_limit(text: str, line: int, pointer: str) -> None:
    """cwcontrib's depth limit (32) is reached first, whatever the parser's own limit (libyaml stops flow
    nesting at 1,000 levels while scanning ahead): the same CW109, line and pointer from every parser."""
    [problem] = parse_yaml(text, "m.yaml", LIMITS).findings
    assert (problem.code, problem.location.line, problem.location.pointer) == ("CW109", line, pointer)
    assert problem.message == "nesting deeper than 32 levels"


def test_the_parsers_own_nesting_bound_is_cw109_with_its_line() -> None:
    """With cwcontrib's limit set above libyaml's, libyaml's own refusal is still CW109 (not a syntax error)."""
    loaded = parse_yaml("a: 1\nb: " + "[" * 1200 + "]" * 1200 + "\n", "m.yaml", Limits(manifest_depth=2_000))
    if manifest._YamlLoader is manifest.YAML_LOADERS["python"]:
        assert loaded.findings == []  # the pure-Python parser has no bound of its own
    else:
        [problem] = loaded.findings
        assert (problem.code, problem.location.line) == ("CW109", 2)
        assert "nesting depth" in problem.message


def test_value_count_is_bounded() -> None:
    loaded = parse_yaml("[" + "1," * 300 + "1]", "m.yaml", Limits(manifest_values=100))
    assert codes(loaded) == ["CW109"]


def test_second_document_is_refused() -> None:
    loaded = parse_yaml("a: 1\n---\nb: 2\n", "m.yaml", LIMITS)
    assert codes(loaded) == ["CW111"]


def test_non_string_keys_are_refused() -> None:
    loaded = parse_yaml("0: zero\n? [a]\n: b\n", "m.yaml", LIMITS)
    assert codes(loaded)[0] == "CW113"


def test_syntax_error_has_a_line() -> None:
    loaded = parse_yaml("a: 1\nb: [1, 2\nc: 3\n", "m.yaml", LIMITS)
    [problem] = loaded.findings
    assert problem.code == "CW104"
    assert problem.location.line is not None


@pytest.mark.parametrize(
    ("raw", "line"),
    [(b"\xef\xbb\xbfa: 1\n", 1), (b"a: 1\nb: \xff\n", 2), (b"a: 1\n\nb: \x00\n", 3)],
)
def test_encoding_problems(raw: bytes, line: int) -> None:
    text, problems = decode_text(raw, "m.yaml")
    assert text is None
    assert [(p.code, p.location.line) for p in problems] == [("CW103", line)]


def test_json_duplicates_and_lines() -> None:
    loaded = parse_json('{\n  "a": 1,\n  "a": 2\n}\n', "m.json", LIMITS)
    [problem] = loaded.findings
    assert (problem.code, problem.location.line) == ("CW105", 3)


LONG_KEY = "k" * 1100
JSON_SOME_YAML_PARSER_CANNOT_READ = {
    # libyaml refuses an escaped surrogate pair (the json module joins it into one character)
    "surrogate-pair-escape": '{\n  "a": "\\ud83d\\ude00",\n  "a": 2\n}\n',
    # libyaml and the pure-Python parser refuse a flow-mapping key over 1,024 characters
    "long-key": f'{{\n  "{LONG_KEY}": 1,\n  "{LONG_KEY}": 2\n}}\n',
    # the pure-Python parser refuses tabs as indentation
    "tabs": '{\n\t"a": 1,\n\t"a": 2\n}\n',
}


@pytest.mark.parametrize("text", JSON_SOME_YAML_PARSER_CANNOT_READ.values(), ids=JSON_SOME_YAML_PARSER_CANNOT_READ)
def test_json_duplicate_key_is_found_whatever_the_yaml_parser_reads(text: str) -> None:
    """The json module finds the duplicate itself and keeps the first value, as YAML does; the line comes from
    the event parser where it can read the text."""
    readable = "CW104" not in codes(parse_yaml(text, "m.json", LIMITS))
    loaded = parse_json(text, "m.json", LIMITS)
    [problem] = loaded.findings
    key = next(iter(loaded.data))
    assert (problem.code, problem.location.pointer) == ("CW105", "/" + key)
    assert repr(key) in problem.message
    assert problem.location.line == (3 if readable else None)
    assert loaded.data[key] != 2  # the first value is kept
    assert not loaded.usable


def test_json_nested_duplicates_are_all_found_in_document_order() -> None:
    text = '{"a": {"x": 1, "x": 2},\t"b": [{"y": 1, "y": 2}], "a": 3}'
    loaded = parse_json(text, "m.json", LIMITS)
    assert [(f.code, f.location.pointer) for f in loaded.findings] == [
        ("CW105", "/a/x"), ("CW105", "/b/0/y"), ("CW105", "/a")]
    assert loaded.data == {"a": {"x": 1}, "b": [{"y": 1}]}


@pytest.mark.parametrize(
    ("text", "limits", "pointer"),
    [('{"a":\t[1, 2, 3, 4, 5, 6]}', Limits(manifest_values=5), None),
     ('{"a":\t' + "[" * 40 + "]" * 40 + "}", LIMITS, "/a" + "/0" * 31)],
    ids=["values", "depth"],
)
def test_json_limits_hold_when_the_yaml_parser_cannot_read_it(text: str, limits: Limits, pointer: str | None) -> None:
    [problem] = parse_json(text, "m.json", limits).findings
    assert (problem.code, problem.location.pointer) == ("CW109", pointer)


@pytest.mark.parametrize("text", ['{"a": NaN}', '{"a": Infinity}', '{"a": 1e999}'])
def test_json_non_finite(text: str) -> None:
    assert codes(parse_json(text, "m.json", LIMITS)) == ["CW108"]


def test_json_deep_nesting() -> None:
    [problem] = parse_json('{"a": 1,\n "b": ' + "[" * DEEP + "]" * DEEP + "}", "m.json", LIMITS).findings
    assert (problem.code, problem.location.line, problem.location.pointer) == ("CW109", 2, "/b" + "/0" * 31)


def test_missing_and_ambiguous_manifest(tmp_path: Path) -> None:
    assert codes(load_manifest(tmp_path, LIMITS)) == ["CW100"]
    (tmp_path / "submission.yaml").write_text("a: 1\n")
    (tmp_path / "submission.json").write_text("{}")
    assert codes(load_manifest(tmp_path, LIMITS)) == ["CW101"]


def test_oversized_manifest_is_not_read_whole(tmp_path: Path) -> None:
    (tmp_path / "submission.yaml").write_bytes(b"a: 1\n" * 1000)
    assert codes(load_manifest(tmp_path, Limits(manifest_bytes=100))) == ["CW102"]


def test_manifest_symlink_and_fifo_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("secret: 1\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "submission.yaml").symlink_to(outside)
    assert codes(load_manifest(sub, LIMITS)) == ["CW114"]
    (sub / "submission.yaml").unlink()
    import os

    os.mkfifo(sub / "submission.yaml")  # opening must not block
    assert codes(load_manifest(sub, LIMITS)) == ["CW114"]
