"""Mutants of cwcontrib/manifest.py that survived tests/test_manifest_loader.py and tests/test_corpus.py (mutmut,
issue 9), killed here: every wall's code, message, line and pointer; every limit (values, depth, number length) at
its exact boundary, in YAML and in JSON that the YAML parsers cannot read; each rule of the core schema alone;
duplicate keys in YAML and JSON, anchors, aliases, tags and non-finite numbers; how the manifest is found and read."""

from __future__ import annotations

from pathlib import Path

import pytest

from cwcontrib import manifest
from cwcontrib.codes import finding
from cwcontrib.findings import Finding, Location
from cwcontrib.limits import Limits
from cwcontrib.manifest import (
    LoadedManifest,
    decode_text,
    escape_pointer_token,
    find_manifest,
    join_pointer,
    load_manifest,
    parse_json,
    parse_yaml,
    pointer_location,
    resolve_plain_scalar,
)

LIMITS = Limits()
LONG_KEY = "k" * 1100  # no YAML parser reads a flow key this long: the json module's tree alone is checked
DUP = "appears more than once in this mapping (the first is kept)"


@pytest.fixture(autouse=True, params=["libyaml", "python"])
def yaml_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param not in manifest.YAML_LOADERS:
        pytest.fail("PyYAML here was built without libyaml; the lock's PyYAML wheels include it")
    monkeypatch.setattr(manifest, "_YamlLoader", manifest.YAML_LOADERS[request.param])
    return str(request.param)


def found(loaded: LoadedManifest) -> list[tuple[str, str, int | None, str | None]]:
    return [(f.code, f.message, f.location.line, f.location.pointer) for f in loaded.findings]


# -- the core schema, one rule at a time ----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("~", None), ("null", None), ("Null", None), ("NULL", None), ("", None),
    ("nULL", "nULL"), ("null!", "null!"), ("~~", "~~"),
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("False", False), ("FALSE", False),
    ("tRUE", "tRUE"), ("yes", "yes"),
    ("+5", 5), ("-5", -5), ("007", 7), ("5a", "5a"), ("a5", "a5"),
    ("0o17", 15), ("0o8", "0o8"), ("0o", "0o"), ("0O17", "0O17"), ("x0o17", "x0o17"),
    ("0x1F", 31), ("0xfF", 255), ("0xg", "0xg"), ("0x", "0x"), ("0X1F", "0X1F"), ("x0x1", "x0x1"),
    ("1.5", 1.5), ("-.5", -0.5), ("+1.", 1.0), ("1e3", 1000.0), ("1E+3", 1000.0), ("2.5e-1", 0.25),
    (".", "."), ("e5", "e5"), ("1.5x", "1.5x"), ("x1.5", "x1.5"), ("1e", "1e"), ("1.2.3", "1.2.3"),
    ("-.nan", "-.nan"), ("x.inf", "x.inf"), (".infinity", ".infinity"), (".nanx", ".nanx"),
])
def test_each_core_schema_rule_alone(text: str, expected: object) -> None:
    value = resolve_plain_scalar(text)
    assert (type(value), value) == (type(expected), expected)


@pytest.mark.parametrize("text", [".inf", ".Inf", ".INF", "+.inf", "-.inf", "-.Inf", "+.INF",
                                  ".nan", ".NaN", ".NAN"])
def test_infinities_and_nans_are_refused_with_their_text(text: str) -> None:
    with pytest.raises(ValueError, match=r"^" + repr(text).replace(".", r"\.").replace("+", r"\+")
                       + " is not a finite number$"):
        resolve_plain_scalar(text)


def test_a_float_that_overflows_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^'1e999' overflows to infinity$"):
        resolve_plain_scalar("1e999")
    with pytest.raises(ValueError, match=r"^'-1e999' overflows to infinity$"):
        resolve_plain_scalar("-1e999")


def test_number_length_at_its_exact_limit() -> None:
    """400 characters is a number; 401 is refused with its length, whether integer or float; long text that is
    not a number stays text."""
    assert resolve_plain_scalar("1" * 400) == int("1" * 400)
    assert resolve_plain_scalar("1." + "0" * 398) == 1.0
    for text in ("1" * 401, "1." + "0" * 399):
        with pytest.raises(ValueError, match=r"^a number of 401 characters is too long$"):
            resolve_plain_scalar(text)
    assert resolve_plain_scalar("x" * 401) == "x" * 401
    assert resolve_plain_scalar("1x" + "0" * 399) == "1x" + "0" * 399
    assert resolve_plain_scalar("0x" + "f" * 399) == "0x" + "f" * 399  # hex over the limit: text, not a number
    with pytest.raises(ValueError, match="is not a finite number"):
        resolve_plain_scalar(".inf")  # short: reached after the length branch


# -- JSON pointers and locations ------------------------------------------------------------------------------------

def test_pointer_tokens_are_escaped_tilde_first() -> None:
    assert escape_pointer_token("a~b/c") == "a~0b~1c"
    assert escape_pointer_token("~/") == "~0~1"
    assert escape_pointer_token("/~") == "~1~0"
    assert join_pointer("/a", "x/y") == "/a/x~1y"
    assert join_pointer("", 3) == "/3"


def test_location_is_the_nearest_known_ancestor() -> None:
    loaded = LoadedManifest(file="m.yaml", lines={"": 1, "/a": 2, "/a/b": 5})
    assert loaded.location("/a/b/c/d") == Location("m.yaml", 5, "/a/b/c/d")
    assert loaded.location("/a/x") == Location("m.yaml", 2, "/a/x")
    assert loaded.location("/a/b/c") == Location("m.yaml", 5, "/a/b/c")  # one level up at a time
    assert loaded.location("/z") == Location("m.yaml", 1, "/z")
    assert loaded.location("") == Location("m.yaml", 1, "")
    assert LoadedManifest(file="m.yaml", lines={"/a": 2}).location("/z/y") == Location("m.yaml", None, "/z/y")


def test_a_pointer_without_a_leading_slash_ends_at_the_root() -> None:
    """It used to loop forever ('a'.rsplit('/', 1)[0] is 'a'): found by mutation testing of the checks. Asked on a
    daemon thread, so that a regression fails here instead of hanging the suite."""
    import threading

    loaded = LoadedManifest(file="m.yaml", lines={"": 1, "/a": 2})
    found: list[Location] = []
    asking = threading.Thread(target=lambda: found.extend([loaded.location("a"), loaded.location("a/b")]), daemon=True)
    asking.start()
    asking.join(timeout=10)
    assert found == [Location("m.yaml", 1, "a"), Location("m.yaml", 1, "a/b")]


def test_pointer_location_with_and_without_a_manifest() -> None:
    loaded = LoadedManifest(file="m.yaml", lines={"/a": 4})
    assert pointer_location(loaded, "/a/b") == Location("m.yaml", 4, "/a/b")
    assert pointer_location(None, "/a/b") == Location(pointer="/a/b")


def test_usable_means_data_and_no_error() -> None:
    assert LoadedManifest(file="m", data={}).usable  # empty data is still data
    assert not LoadedManifest(file="m").usable
    warning = finding("CW116", "unused", Location("m"))
    assert LoadedManifest(file="m", data={"a": 1}, findings=[warning]).usable
    error = finding("CW105", "dup", Location("m"))
    assert not LoadedManifest(file="m", data={"a": 1}, findings=[warning, error]).usable


# -- the YAML tree builder's walls ----------------------------------------------------------------------------------

def test_value_count_at_its_exact_limit() -> None:
    """A list counts itself and each item; a mapping itself, each key and each value."""
    assert parse_yaml("[1, 2, 3]", "m.yaml", Limits(manifest_values=4)).findings == []
    loaded = parse_yaml("[1, 2, 3]", "m.yaml", Limits(manifest_values=3))
    assert found(loaded) == [("CW109", "more than 3 values", 1, None)]
    assert parse_yaml("{a: 1}\n", "m.yaml", Limits(manifest_values=3)).findings == []
    loaded = parse_yaml("a: 1\nb: 2\n", "m.yaml", Limits(manifest_values=4))
    assert found(loaded) == [("CW109", "more than 4 values", 2, None)]
    assert not loaded.usable
    loaded = parse_yaml("[1, 2, 3,\n 4]\n", "m.yaml", Limits(manifest_values=2))  # crossed before the end
    assert found(loaded) == [("CW109", "more than 2 values", 1, None)]  # once: the reading stops there
    assert loaded.data == [1]


def test_depth_at_its_exact_limit() -> None:
    assert parse_yaml("[[1]]", "m.yaml", Limits(manifest_depth=2)).findings == []
    loaded = parse_yaml("a: 1\nb: [[1]]\n", "m.yaml", Limits(manifest_depth=2))
    assert found(loaded) == [("CW109", "nesting deeper than 2 levels", 2, "/b/0")]


def test_duplicate_key_keeps_the_first_value_and_goes_on() -> None:
    loaded = parse_yaml("a: 1\na: [2, {c: 3}]\nb: 4\nc: {x: 1, x: 2}\n", "m.yaml", LIMITS)
    assert loaded.data == {"a": 1, "b": 4, "c": {"x": 1}}
    assert found(loaded) == [("CW105", f"key 'a' {DUP}", 2, "/a"), ("CW105", f"key 'x' {DUP}", 4, "/c/x")]
    assert loaded.lines["/b"] == 3
    assert loaded.lines["/c/x"] == 4


def test_anchor_and_alias_stop_the_reading() -> None:
    loaded = parse_yaml("a: 1\nb: &x {c: 1}\nd: *x\n", "m.yaml", LIMITS)
    assert found(loaded) == [("CW106", "anchor &x is not allowed (the rest of the document is not read)", 2, "/b")]
    assert loaded.data == {"a": 1}
    loaded = parse_yaml("a: 1\nb: [1, *y]\nc: &z 2\n", "m.yaml", LIMITS)
    assert found(loaded) == [("CW106", "alias *y is not allowed (the rest of the document is not read)", 2, "/b/1")]
    assert loaded.data == {"a": 1, "b": [1]}


@pytest.mark.parametrize(("text", "tag", "data"), [
    ("a: !!str 5\n", "tag:yaml.org,2002:str", {"a": "5"}),
    ("a: !!str '5'\n", "tag:yaml.org,2002:str", {"a": "5"}),
    ("a: !!map {b: 1}\n", "tag:yaml.org,2002:map", {"a": {"b": 1}}),
    ("a: !!seq [1]\n", "tag:yaml.org,2002:seq", {"a": [1]}),
    ("a: !t\n  - 1\n", "!t", {"a": [1]}),
])
def test_each_explicit_tag_is_refused(text: str, tag: str, data: object) -> None:
    loaded = parse_yaml(text, "m.yaml", LIMITS)
    assert found(loaded) == [("CW107", f"explicit tag {tag} is not allowed", 1, "/a")]
    assert loaded.data == data  # read as plain data (the tag is not applied), and refused
    assert not loaded.usable


@pytest.mark.parametrize("text", ["a: '5'\n", 'a: "5"\n', "a: |\n  5\n", "a: [1]\n", "a: {b: 1}\n", "a: 5\n"])
def test_untagged_nodes_are_not_tags(text: str) -> None:
    assert parse_yaml(text, "m.yaml", LIMITS).findings == []


@pytest.mark.parametrize(("text", "value"), [
    ("a: '5'\n", "5"), ('a: "true"\n', "true"), ("a: '~'\n", "~"), ("a: '.nan'\n", ".nan"),
    ("a: |\n  5\n", "5\n"), ("a: >\n  null\n", "null\n"), ("a: 5\n", 5), ("a: null\n", None),
])
def test_only_plain_scalars_are_resolved(text: str, value: object) -> None:
    loaded = parse_yaml(text, "m.yaml", LIMITS)
    assert loaded.findings == []
    assert (type(loaded.data["a"]), loaded.data["a"]) == (type(value), value)


def test_non_finite_yaml_number_is_refused_where_it_is() -> None:
    loaded = parse_yaml("a: 1\nb:\n  - 2\n  - .inf\n", "m.yaml", LIMITS)
    assert found(loaded) == [("CW108", "'.inf' is not a finite number", 4, "/b/1")]
    assert loaded.data == {"a": 1, "b": [2, None]}


def test_second_document() -> None:
    loaded = parse_yaml("---\na: 1\n---\nb: 2\n", "m.yaml", LIMITS)
    assert found(loaded) == [("CW111", "a second YAML document starts here", 3, None)]
    assert loaded.data == {"a": 1}
    assert parse_yaml("---\na: 1\n...\n", "m.yaml", LIMITS).findings == []


def test_non_string_keys() -> None:
    loaded = parse_yaml("x: 0\ny:\n  1: a\n  ? \n  : b\n", "m.yaml", LIMITS)
    assert found(loaded) == [("CW113", "mapping key 1 is a int, not a string", 3, "/y"),
                             ("CW113", "mapping key None is a NoneType, not a string", 4, "/y")]
    assert loaded.data == {"x": 0, "y": {"1": "a", "None": "b"}}
    loaded = parse_yaml("a: 1\nb:\n  ? [c]\n  : d\ne: 2\n", "m.yaml", LIMITS)
    assert found(loaded) == [("CW113", "a mapping or list is used as a key", 3, "/b")]
    assert loaded.data == {"a": 1, "b": {}}  # the rest is not read


def test_syntax_errors(yaml_loader: str) -> None:
    loaded = parse_yaml("a: 1\nb: [1, 2\nc: 3\n", "m.yaml", LIMITS)
    [problem] = loaded.findings
    assert (problem.code, problem.location.file) == ("CW104", "m.yaml")
    assert problem.message.startswith("while parsing a flow sequence ")  # context, then the problem
    assert "expected ',' or ']'" in problem.message
    assert problem.location.line == 3  # the problem's line, not the context's (the '[' on line 2)
    assert loaded.data is None
    loaded = parse_yaml("a: 1\nb: \x07\n", "m.yaml", LIMITS)  # the reader's error: no mark
    [problem] = loaded.findings
    kind = "control" if yaml_loader == "libyaml" else "special"
    assert found(loaded) == [("CW104", f"unacceptable character #x0007: {kind} characters are not allowed",
                              None, None)]
    assert problem.location.file == "m.yaml"
    assert loaded.data is None


# -- JSON -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    ('{"a": NaN}', "NaN is not a finite number"),
    ('{"a": Infinity}', "Infinity is not a finite number"),
    ('{"a": -Infinity}', "-Infinity is not a finite number"),
    ('{"a": 1e999}', "'1e999' overflows to infinity"),
    ('{"a": -1e999}', "'-1e999' overflows to infinity"),
    ('{"a": ' + "1" * 401 + "}", "a number of 401 characters is too long"),
])
def test_json_non_finite_and_long_numbers(text: str, message: str) -> None:
    loaded = parse_json(text, "m.json", LIMITS)
    assert found(loaded) == [("CW108", message, None, None)]
    assert loaded.data is None
    assert loaded.file == loaded.findings[0].location.file == "m.json"


def test_json_numbers_at_their_limit() -> None:
    loaded = parse_json('{"a": ' + "1" * 400 + ', "b": 1.5, "c": 1e308}', "m.json", LIMITS)
    assert loaded.findings == []
    assert loaded.data == {"a": int("1" * 400), "b": 1.5, "c": 1e308}


def test_json_syntax_error_has_its_line() -> None:
    loaded = parse_json('{"a": 1,\n}', "m.json", LIMITS)
    assert found(loaded) == [("CW104", "Expecting property name enclosed in double quotes", 2, None)]
    assert loaded.file == loaded.findings[0].location.file == "m.json"
    assert loaded.data is None


def test_json_too_deep_for_every_parser() -> None:
    """Too deep for the json module, in text no YAML parser reads (a key over 1,024 characters)."""
    loaded = parse_json(f'{{"{LONG_KEY}": ' + "[" * 100_000 + "]" * 100_000 + "}", "m.json", LIMITS)
    assert found(loaded) == [("CW109", "nesting too deep to parse", None, None)]
    assert loaded.file == loaded.findings[0].location.file == "m.json"
    assert loaded.data is None


@pytest.mark.parametrize("text", ['{"\\ud800": 1}', '{"a": ["x", "\\udfff"]}', '[{"b": {"\\ud83d": 1}}]',
                                  '{"a": {"b": "\\ud800"}}'])
def test_json_lone_surrogates_anywhere(text: str) -> None:
    loaded = parse_json(text, "m.json", LIMITS)
    msg = "a \\u escape names half of a UTF-16 surrogate pair, which is not a character"
    assert found(loaded) == [("CW103", msg, None, None)]
    assert loaded.file == loaded.findings[0].location.file == "m.json"
    assert loaded.data is None


def test_json_surrogate_pair_is_one_character() -> None:
    loaded = parse_json('{"a": "\\ud83d\\ude00", "b": ["\\u00e9"]}', "m.json", LIMITS)
    assert loaded.findings == []
    assert loaded.data == {"a": "\U0001f600", "b": ["\u00e9"]}


def test_json_readable_by_yaml_keeps_lines_and_limits() -> None:
    loaded = parse_json('{\n  "a": 1,\n  "b": [\n    2\n  ]\n}\n', "m.json", LIMITS)
    assert loaded.findings == []
    assert (loaded.lines["/a"], loaded.lines["/b"], loaded.lines["/b/0"]) == (2, 3, 4)
    loaded = parse_json('{"a": [1, 2, 3]}', "m.json", Limits(manifest_values=5))
    assert found(loaded) == [("CW109", "more than 5 values", 1, None)]  # the event builder's, with its line
    assert parse_json('{"a": [1, 2, 3]}', "m.json", Limits(manifest_values=6)).findings == []


def test_json_unreadable_by_yaml_has_its_limits_at_the_exact_boundary() -> None:
    """The json module's tree is counted as the event builder counts: the mapping, each key, each value."""
    text = f'{{"{LONG_KEY}": [1, 2, 3]}}'  # 1 + 1 + (1 + 3) = 6 values
    loaded = parse_json(text, "m.json", Limits(manifest_values=6))
    assert loaded.findings == []
    assert loaded.data == {LONG_KEY: [1, 2, 3]}
    assert loaded.lines == {}  # no YAML parser could say where
    loaded = parse_json(text, "m.json", Limits(manifest_values=5))
    assert found(loaded) == [("CW109", "more than 5 values", None, None)]
    assert loaded.findings[0].location.file == "m.json"
    text = f'{{"{LONG_KEY}": [[1]], "b": 2}}'
    assert parse_json(text, "m.json", Limits(manifest_depth=3)).findings == []
    loaded = parse_json(text, "m.json", Limits(manifest_depth=2))
    assert found(loaded) == [("CW109", "nesting deeper than 2 levels", None, f"/{LONG_KEY}/0")]
    assert loaded.findings[0].location.file == "m.json"
    assert found(parse_json('{"b": 1, "' + LONG_KEY + '": {"c": {"d": 1}}}', "m.json",
                            Limits(manifest_depth=2))) == [
        ("CW109", "nesting deeper than 2 levels", None, f"/{LONG_KEY}/c")]


def test_json_duplicates_where_yaml_cannot_read_them() -> None:
    text = (f'{{"{LONG_KEY}": 1, "b": {{"x": 1, "x": 2}}, "c": [{{"~/": 1, "~/": 2}}], '
            f'"{LONG_KEY}": {{"y": 1, "y": 2}}}}')
    loaded = parse_json(text, "m.json", LIMITS)
    assert found(loaded) == [
        ("CW105", f"key 'x' {DUP}", None, "/b/x"),
        ("CW105", f"key '~/' {DUP}", None, "/c/0/~0~1"),
        ("CW105", f"key {LONG_KEY!r} {DUP}", None, "/" + LONG_KEY),
        ("CW105", f"key 'y' {DUP}", None, None),  # inside the discarded value: no pointer
    ]
    assert all(f.location.file == "m.json" for f in loaded.findings)
    assert loaded.data == {LONG_KEY: 1, "b": {"x": 1}, "c": [{"~/": 1}]}


def test_json_duplicates_readable_by_yaml_have_their_lines_once() -> None:
    loaded = parse_json('{\n "a": {"x": 1,\n  "x": 2},\n "a": 3,\n "b": 1\n}', "m.json", LIMITS)
    assert found(loaded) == [("CW105", f"key 'x' {DUP}", 3, "/a/x"), ("CW105", f"key 'a' {DUP}", 4, "/a")]
    assert loaded.data == {"a": {"x": 1}, "b": 1}


def test_json_event_builder_findings_other_than_duplicates_are_kept() -> None:
    # JSON is YAML 1.2: the event builder's depth finding (with its line) comes through, its duplicates do not
    loaded = parse_json('{"a": 1, "a": 2,\n "b": [[[1]]]}', "m.json", Limits(manifest_depth=2))
    assert found(loaded) == [("CW105", f"key 'a' {DUP}", 1, "/a"),
                             ("CW109", "nesting deeper than 2 levels", 2, "/b/0")]
    assert loaded.file == "m.json"
    assert [f.location.file for f in loaded.findings] == ["m.json", "m.json"]


def test_json_duplicate_lines_come_only_from_the_builders_duplicates() -> None:
    """The event builder stops at the depth limit on /a before it meets the second "a": that duplicate has no
    line, even though the depth finding has one for the same pointer."""
    loaded = parse_json('{"a":\n [[1]],\n "a": 2}', "m.json", Limits(manifest_depth=1))
    assert found(loaded) == [("CW105", f"key 'a' {DUP}", None, "/a"),
                             ("CW109", "nesting deeper than 1 levels", 2, "/a")]


def test_json_too_deep_for_the_json_module_is_located_by_the_event_parser() -> None:
    loaded = parse_json('{"a": 1,\n "b": ' + "[" * 100_000 + "]" * 100_000 + "}", "m.json", LIMITS)
    assert found(loaded) == [("CW109", "nesting deeper than 32 levels", 2, "/b" + "/0" * 31)]
    assert loaded.file == loaded.findings[0].location.file == "m.json"


# -- decoding, finding and reading the file -------------------------------------------------------------------------

def test_decoding_messages() -> None:
    assert found_of(decode_text(b"\xef\xbb\xbfa: 1\n", "m.yaml")) == [
        ("CW103", "the file starts with a UTF-8 byte-order mark", 1, None)]
    assert found_of(decode_text(b"a: 1\n\nb: \x00\nc: \x00\n", "m.yaml")) == [
        ("CW103", "the file contains a NUL byte", 3, None)]  # the first NUL's line
    assert found_of(decode_text(b"a: 1\nb: \xff\n", "m.yaml")) == [
        ("CW103", "byte 0xff at offset 8 is not valid UTF-8", 2, None)]
    assert found_of(decode_text(b"\x80", "m.yaml")) == [("CW103", "byte 0x80 at offset 0 is not valid UTF-8", 1, None)]
    assert decode_text(b"a: \xef\xbb\xbf\n", "m.yaml") == ("a: \ufeff\n", [])  # not at the start: a character
    assert decode_text("a: \u00e9\n".encode(), "m.yaml") == ("a: \u00e9\n", [])
    for raw in (b"\xef\xbb\xbfa", b"a\x00", b"a\xff"):
        assert [f.location.file for f in decode_text(raw, "m.yaml")[1]] == ["m.yaml"]


def found_of(result: tuple[str | None, list[Finding]]) -> list[tuple[str, str, int | None, str | None]]:
    text, problems = result
    assert text is None
    return [(f.code, f.message, f.location.line, f.location.pointer) for f in problems]


def test_finding_the_manifest(tmp_path: Path) -> None:
    assert find_manifest(tmp_path)[0] is None
    [problem] = find_manifest(tmp_path)[1]
    assert (problem.code, problem.message, problem.location.file) == (
        "CW100", "none of submission.yaml, submission.yml, submission.json found", ".")
    (tmp_path / "submission.yml").write_text("a: 1\n")
    assert find_manifest(tmp_path) == ("submission.yml", [])
    (tmp_path / "submission.json").symlink_to(tmp_path / "absent")  # a dangling link is there too
    name, [problem] = find_manifest(tmp_path)
    assert name is None
    assert (problem.code, problem.message, problem.location.file) == (
        "CW101", "found submission.yml, submission.json", "submission.json")


def test_loading_refusals_keep_the_file_name(tmp_path: Path) -> None:
    loaded = load_manifest(tmp_path, LIMITS)
    assert (loaded.file, [f.code for f in loaded.findings]) == (".", ["CW100"])
    (tmp_path / "submission.yaml").write_bytes(b"a: 1\n" * 20)
    loaded = load_manifest(tmp_path, Limits(manifest_bytes=99))
    assert found(loaded) == [("CW102", "the file is larger than the limit of 99 bytes", None, None)]
    assert loaded.file == loaded.findings[0].location.file == "submission.yaml"
    assert load_manifest(tmp_path, Limits(manifest_bytes=100)).data == {"a": 1}  # exactly the limit
    (tmp_path / "submission.yaml").unlink()
    (tmp_path / "submission.yaml").mkdir()
    loaded = load_manifest(tmp_path, LIMITS)
    assert [(f.code, f.location.file) for f in loaded.findings] == [("CW114", "submission.yaml")]
    assert loaded.file == "submission.yaml"
    (tmp_path / "submission.yaml").rmdir()
    (tmp_path / "submission.yaml").write_bytes(b"a: \xff\n")
    loaded = load_manifest(tmp_path, LIMITS)
    assert (loaded.file, found(loaded)) == ("submission.yaml", [
        ("CW103", "byte 0xff at offset 3 is not valid UTF-8", 1, None)])
    assert loaded.findings[0].location.file == "submission.yaml"


@pytest.mark.parametrize(("name", "data"), [("submission.yaml", {"a": 1}), ("submission.yml", {"a": 1}),
                                            ("submission.json", None)])
def test_json_is_parsed_as_json_and_yaml_as_yaml(tmp_path: Path, name: str, data: object) -> None:
    (tmp_path / name).write_text("a: 1\n")  # YAML, not JSON
    loaded = load_manifest(tmp_path, LIMITS)
    assert loaded.file == name
    assert loaded.data == data
    assert [f.code for f in loaded.findings] == ([] if data else ["CW104"])
    (tmp_path / name).write_text(f'{{"{LONG_KEY}": 1}}')  # JSON, which no YAML parser reads
    assert load_manifest(tmp_path, LIMITS).data == (None if data else {LONG_KEY: 1})


# -- where a key's own node and a repeated key's value are ----------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("x:\n  a: 1\n  &y b: 2\n",
     [("CW106", "anchor &y is not allowed (the rest of the document is not read)", 3, "/x")]),
    ("a: 1\n*k : 2\n", [("CW106", "alias *k is not allowed (the rest of the document is not read)", 2, "")]),
    ("a: 1\n!!str b: 2\n", [("CW107", "explicit tag tag:yaml.org,2002:str is not allowed", 2, "")]),
    ("!!str a: 1\n", [("CW107", "explicit tag tag:yaml.org,2002:str is not allowed", 1, "")]),
    ("x:\n  a: 1\n  .inf: 2\n", [("CW108", "'.inf' is not a finite number", 3, "/x"),
                                 ("CW113", "mapping key None is a NoneType, not a string", 3, "/x")]),
])
def test_a_key_nodes_finding_points_at_its_mapping(text: str, expected: list[object]) -> None:
    """As CW113 does: not at the previous key's value (it pointed at /x/a, the value 1, or at '/', the key '')."""
    assert found(parse_yaml(text, "m.yaml", LIMITS)) == expected


def test_a_repeated_keys_value_is_read_at_that_key() -> None:
    """Not at the key '' of the same mapping, whose line and findings it took."""
    loaded = parse_yaml("a: 1\na: 2\n'': 3\n", "m.yaml", LIMITS)
    assert found(loaded) == [("CW105", f"key 'a' {DUP}", 2, "/a")]
    assert loaded.data == {"a": 1, "": 3}
    assert loaded.lines == {"": 1, "/a": 1, "/": 3}
    loaded = parse_yaml("a: 1\na: {x: !!str 1, y: .inf}\n'': {x: 2}\n", "m.yaml", LIMITS)
    assert found(loaded) == [("CW105", f"key 'a' {DUP}", 2, "/a"),
                             ("CW107", "explicit tag tag:yaml.org,2002:str is not allowed", 2, "/a/x"),
                             ("CW108", "'.inf' is not a finite number", 2, "/a/y")]
    assert loaded.data == {"a": 1, "": {"x": 2}}
    assert (loaded.lines["/"], loaded.lines["//x"]) == (3, 3)


def test_the_empty_key_is_a_pointer_token() -> None:
    loaded = parse_yaml("'': [1, .inf]\n", "m.yaml", LIMITS)
    assert found(loaded) == [("CW108", "'.inf' is not a finite number", 1, "//1")]
    assert loaded.lines == {"": 1, "/": 1, "//0": 1, "//1": 1}


def test_json_each_repeat_has_its_own_line() -> None:
    """A key repeated twice: each repeat its line (both had the last one's); a repeat inside the kept value keeps
    its line when the discarded value has the same repeat further on."""
    loaded = parse_json('{"a": 1,\n"a": 2,\n"a": 3}', "m.json", LIMITS)
    assert found(loaded) == [("CW105", f"key 'a' {DUP}", 2, "/a"), ("CW105", f"key 'a' {DUP}", 3, "/a")]
    loaded = parse_json('{"a": {"y": 1,\n"y": 2},\n"a": {"y": 1,\n"y": 2}}', "m.json", LIMITS)
    assert found(loaded) == [("CW105", f"key 'y' {DUP}", 2, "/a/y"), ("CW105", f"key 'a' {DUP}", 3, "/a"),
                             ("CW105", f"key 'y' {DUP}", None, None)]


@pytest.mark.parametrize("text", ['a: 1\nb: "x\\ud800"\nc: 2\n', 'a: 1\n"\\udfff": 1\n', 'a: 1\nb: ["\\U0000d800"]\n',
                                  'a: 1\nb: "\\ud83d\\ude00"\n'])
def test_a_yaml_surrogate_escape_is_refused_by_both_parsers(text: str) -> None:
    """libyaml refuses a \\u escape of a surrogate (half or pair); the pure-Python parser read it into a string that
    cannot be written as UTF-8 (no report could quote it): now the same finding, whichever parser."""
    loaded = parse_yaml(text, "m.yaml", LIMITS)
    assert found(loaded) == [
        ("CW104", "while parsing a quoted scalar found invalid Unicode character escape code", 2, None)]
    assert loaded.data is None
    assert loaded.findings[0].location.file == "m.yaml"


def test_libyaml_nesting_bound_under_a_higher_cwcontrib_limit(yaml_loader: str) -> None:
    """libyaml stops flow nesting at 1,000 levels: under a cwcontrib depth limit above that, its own bound is the
    finding (CW109, not a syntax error); the pure-Python parser, which has no bound, reads the text."""
    loaded = parse_yaml("a: 1\nb: " + "[" * 1100 + "]" * 1100 + "\n", "m.yaml", Limits(manifest_depth=2000))
    if yaml_loader == "libyaml":
        assert found(loaded) == [("CW109", "while increasing flow level exceeded maximum nesting depth", 2, None)]
        assert loaded.data is None
    else:
        assert loaded.findings == []


@pytest.mark.parametrize(("text", "expected"), [
    ("%YAML 1.0\n---\n[1]\n", ("CW104", "found incompatible YAML document", 1, None)),
    ("# a comment\n%YAML 1.3\n---\n[1]\n", ("CW104", "found incompatible YAML document", 2, None)),
    ("%YAML 2.0\n---\n[1]\n", ("CW104", "found incompatible YAML document", 1, None)),
    ("%FOO bar\n---\n[1]\n", ("CW104", "while scanning a directive found unknown directive name", 1, None)),
    ("a: 1\n...\n%YAMLX 1.1\n---\nb\n", ("CW104", "while scanning a directive found unknown directive name", 3,
                                          None)),
    ("%YAML 1.1\n---\n[1]\n", None),
    ("%YAML 1.2\n---\n[1]\n", None),
    ("%TAG !e! tag:example.com,2000:\n---\n[1]\n", None),
])
def test_both_parsers_refuse_the_directives_libyaml_refuses(yaml_loader: str, text: str,
                                                             expected: tuple[str, str, int, None] | None) -> None:
    """PyYAML's pure-Python parser reads %YAML 1.0 and 1.3 and skips unknown directives; libyaml refuses them.
    cwcontrib's pure-Python loader refuses them too: a manifest loads, or not, whichever parser this machine has."""
    loaded = parse_yaml(text, "m.yaml", Limits())
    if expected is None:
        assert loaded.findings == [] and loaded.data == [1]
    else:
        assert found(loaded) == [expected] and loaded.data is None


def test_the_pure_python_parser_reruns_only_for_libyamls_own_bound(yaml_loader: str) -> None:
    """A refusal that is not libyaml's own bound stands as it is (both parsers refuse %YAML 1.3 the same way)."""
    loaded = parse_yaml("%YAML 1.3\n---\n[1, 2, 3]\n", "m.yaml", Limits(manifest_values=3))
    assert found(loaded) == [("CW104", "found incompatible YAML document", 1, None)]
