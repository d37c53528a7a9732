"""Loading a manifest safely, keeping the line of every value.

YAML is read from libyaml's *event* stream and the tree is built here, iteratively, so that:
duplicate keys, anchors/aliases and explicit tags are findings (PyYAML's `safe_load` keeps duplicate
keys silently and expands aliases); nesting depth and value count are bounded (no recursion, no stack
overflow); scalars are resolved with the YAML 1.2 core schema (so `1e-7` is a number and `no` stays a
string); and every value's JSON pointer maps to its line for findings.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cwcontrib.codes import finding
from cwcontrib.findings import Finding, Location
from cwcontrib.limits import Limits
from cwcontrib.safefs import UnsafeFile, read_confined

MANIFEST_NAMES = ("submission.yaml", "submission.yml", "submission.json")

class _PythonLoader(yaml.SafeLoader):
    """PyYAML's pure-Python parser, refusing the directives libyaml refuses, so whether a manifest loads does not
    depend on how PyYAML was built: it reads `%YAML 1.0` and `1.3` (libyaml only 1.1 and 1.2) and skips a
    directive it does not know (`%FOO`), which libyaml calls an error."""

    def scan_directive_name(self, start_mark: yaml.Mark) -> str:
        name: str = super().scan_directive_name(start_mark)  # type: ignore[no-untyped-call]  # untyped stubs
        if name not in ("YAML", "TAG"):
            raise yaml.scanner.ScannerError("while scanning a directive", start_mark, "found unknown directive name",
                                            self.get_mark())
        return name

    def process_directives(self) -> Any:
        if self.check_token(yaml.DirectiveToken):
            token = self.peek_token()  # type: ignore[no-untyped-call]
            if token.name == "YAML" and token.value not in ((1, 1), (1, 2)):
                raise yaml.parser.ParserError(None, None, "found incompatible YAML document", token.start_mark)
        return super().process_directives()  # type: ignore[no-untyped-call]


# Both parsers give the same findings (tests run the loader corpus through each): libyaml when PyYAML was
# built with it, for speed, else PyYAML's pure-Python parser.
YAML_LOADERS: dict[str, type[Any]] = {"python": _PythonLoader}
if hasattr(yaml, "CSafeLoader"):
    YAML_LOADERS["libyaml"] = yaml.CSafeLoader
_YamlLoader: type[Any] = YAML_LOADERS.get("libyaml", _PythonLoader)

# Problems a YAML parser reports when one of *its own* bounds is reached, not a syntax error: libyaml >= 0.2.6
# (the libyaml in PyYAML 6.0.4's wheels) stops flow nesting at 1,000 levels while scanning ahead, before any
# event of the nested part reaches the builder and its shallower limit.
_PARSER_LIMIT_PROBLEMS = ("exceeded maximum nesting depth",)

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_INT_OCT = re.compile(r"^0o[0-7]+$")
_INT_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")
_MAX_NUMBER_CHARS = 400


class _NonFinite(ValueError):
    pass


def resolve_plain_scalar(text: str) -> Any:
    """YAML 1.2 core schema resolution of an untagged plain scalar."""
    if _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if len(text) <= _MAX_NUMBER_CHARS:
        if _INT.match(text):
            return int(text)
        if _INT_OCT.match(text):
            return int(text[2:], 8)
        if _INT_HEX.match(text):
            return int(text[2:], 16)
        if _FLOAT.match(text):
            value = float(text)
            if not math.isfinite(value):
                raise _NonFinite(f"{text!r} overflows to infinity")
            return value
    elif _INT.match(text) or _FLOAT.match(text):
        raise _NonFinite(f"a number of {len(text)} characters is too long")
    if _INF.match(text) or _NAN.match(text):
        raise _NonFinite(f"{text!r} is not a finite number")
    return text


def escape_pointer_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def join_pointer(base: str, token: str | int) -> str:
    return f"{base}/{escape_pointer_token(str(token))}"


@dataclass
class LoadedManifest:
    """A manifest as data, with the line of each JSON pointer, and the findings met on the way."""

    file: str
    data: Any = None
    lines: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def location(self, pointer: str) -> Location:
        """The location of `pointer`, or of its nearest ancestor that has a known line."""
        probe = pointer
        while probe and probe not in self.lines:
            parent, slash, _ = probe.rpartition("/")
            probe = parent if slash else ""  # a pointer not starting with '/' ends at the root, not in a loop
        return Location(file=self.file, line=self.lines.get(probe), pointer=pointer)

    @property
    def usable(self) -> bool:
        return self.data is not None and not any(f.severity.value == "error" for f in self.findings)


def pointer_location(manifest: LoadedManifest | None, pointer: str) -> Location:
    """Where a JSON pointer of the manifest is (its line when known); only the pointer when there is no manifest.
    The one way checks (`Context.at`) and trials written in the manifest (`Where.of`) name a place in it."""
    return Location(pointer=pointer) if manifest is None else manifest.location(pointer)


@dataclass
class _Frame:
    container: dict[str, Any] | list[Any]
    pointer: str
    key: str | None = None
    awaiting_key: bool = True


class _TreeBuilder:
    """Builds plain Python data from parser events, with locations and safety findings."""

    def __init__(self, file: str, limits: Limits) -> None:
        self.out = LoadedManifest(file=file)
        self.limits = limits
        self.stack: list[_Frame] = []
        self.values = 0
        self.documents = 0
        self.stopped = False
        self.parser_bound = False  # the parser refused the text at one of its own limits

    def add(self, code: str, message: str, line: int | None, pointer: str | None) -> None:
        self.out.findings.append(finding(code, message, Location(self.out.file, line, pointer)))

    def _target_pointer(self) -> str:
        if not self.stack:
            return ""
        top = self.stack[-1]
        if isinstance(top.container, list):
            return join_pointer(top.pointer, len(top.container))
        if top.awaiting_key:  # a key's own node: its mapping, as CW113 says (top.key is the previous key)
            return top.pointer
        return join_pointer(top.pointer, top.key or "")

    def _attach(self, value: Any, line: int) -> str:
        pointer = self._target_pointer()
        self.out.lines.setdefault(pointer, line)
        if not self.stack:
            self.out.data = value
            return pointer
        top = self.stack[-1]
        if isinstance(top.container, list):
            top.container.append(value)
        else:
            if top.key is not None and top.key not in top.container:
                top.container[top.key] = value
            top.awaiting_key = True
        return pointer

    def _count(self, line: int) -> bool:
        self.values += 1
        if self.values > self.limits.manifest_values:
            self.add("CW109", f"more than {self.limits.manifest_values} values", line, None)
            self.stopped = True
        return not self.stopped

    def _key(self, value: Any, line: int, top: _Frame) -> None:
        if not isinstance(value, str):
            self.add("CW113", f"mapping key {value!r} is a {type(value).__name__}, not a string",
                     line, top.pointer)
            value = str(value)
        assert isinstance(top.container, dict)
        if value in top.container:
            self.add("CW105", f"key {value!r} appears more than once in this mapping (the first is kept)",
                     line, join_pointer(top.pointer, value))
        top.key = value  # a repeat's value is read at its key's pointer; _attach keeps the first value
        top.awaiting_key = False

    def _check_node(self, event: Any, line: int) -> None:
        pointer = self._target_pointer()
        if getattr(event, "anchor", None) is not None:
            # One finding is enough: the document is refused, and aliases are never expanded.
            self.add("CW106", f"anchor &{event.anchor} is not allowed (the rest of the document is not read)",
                     line, pointer)
            self.stopped = True
            return
        tag = getattr(event, "tag", None)
        implicit = getattr(event, "implicit", True)
        explicit = tag is not None and (implicit is False or implicit == (False, False))
        if explicit:
            self.add("CW107", f"explicit tag {tag} is not allowed", line, pointer)

    def feed(self, event: Any) -> None:
        if self.stopped:
            return
        line = event.start_mark.line + 1
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                self.add("CW111", "a second YAML document starts here", line, None)
                self.stopped = True
            return
        top = self.stack[-1] if self.stack else None
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            self.stack.pop()
            return
        if isinstance(event, yaml.AliasEvent):
            self.add("CW106", f"alias *{event.anchor} is not allowed (the rest of the document is not read)",
                     line, self._target_pointer())
            self.stopped = True
            return
        if not isinstance(event, (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            return
        if isinstance(event, yaml.ScalarEvent) and _has_lone_surrogate(event.value):
            # A \ud800 escape: libyaml refuses it while scanning; the pure-Python parser reads it into text that no
            # report could write as UTF-8. The same finding, whichever parser.
            self.add("CW104", "while parsing a quoted scalar found invalid Unicode character escape code", line, None)
            self.out.data = None
            self.stopped = True
            return
        if not self._count(line):
            return
        self._check_node(event, line)
        if self.stopped:
            return
        if isinstance(event, yaml.ScalarEvent):
            value = self._scalar(event, line)
            if top is not None and isinstance(top.container, dict) and top.awaiting_key:
                self._key(value, line, top)
            else:
                self._attach(value, line)
            return
        if top is not None and isinstance(top.container, dict) and top.awaiting_key:
            self.add("CW113", "a mapping or list is used as a key", line, top.pointer)
            self.stopped = True
            return
        if len(self.stack) >= self.limits.manifest_depth:
            self.add("CW109", f"nesting deeper than {self.limits.manifest_depth} levels", line,
                     self._target_pointer())
            self.stopped = True
            return
        container: dict[str, Any] | list[Any] = {} if isinstance(event, yaml.MappingStartEvent) else []
        pointer = self._attach(container, line)
        self.stack.append(_Frame(container=container, pointer=pointer))

    def _scalar(self, event: Any, line: int) -> Any:
        plain = event.style in (None, "") and event.implicit[0] and event.tag is None
        if not plain:
            return event.value
        try:
            return resolve_plain_scalar(event.value)
        except _NonFinite as exc:
            self.add("CW108", str(exc), line, self._target_pointer())
            return None


def _build(text: str, file: str, limits: Limits, loader: type[Any]) -> _TreeBuilder:
    """Feed the parser's events to the tree builder; a parser error becomes CW104 (or CW109, for a bound)."""
    builder = _TreeBuilder(file, limits)
    try:
        for event in yaml.parse(text, Loader=loader):
            builder.feed(event)
            if builder.stopped:
                break
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        builder.parser_bound = any(limit in problem for limit in _PARSER_LIMIT_PROBLEMS)
        code = "CW109" if builder.parser_bound else "CW104"
        builder.out.findings.append(finding(code, problem or "invalid YAML", Location(file, line)))
        builder.out.data = None
    except yaml.YAMLError as exc:
        builder.out.findings.append(finding("CW104", str(exc).splitlines()[0], Location(file)))
        builder.out.data = None
    return builder


def parse_yaml(text: str, file: str, limits: Limits) -> LoadedManifest:
    first = _build(text, file, limits, _YamlLoader)
    if first.parser_bound and _YamlLoader is not _PythonLoader:
        # The parser's own bound stopped it before cwcontrib's could: the pure-Python parser, which has none and
        # streams its events, finds where cwcontrib's limit is crossed, so the finding (line, pointer, message)
        # is the same whichever parser this machine has.
        exact = _build(text, file, limits, _PythonLoader).out
        if any(f.code == "CW109" for f in exact.findings):
            return exact
    return first.out


def _reject_constant(name: str) -> Any:
    raise _NonFinite(f"{name} is not a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(f"{text!r} overflows to infinity")
    return value


def _bounded_int(text: str) -> int:
    # int() refuses more than 4300 digits with a ValueError; long numbers are findings, as in YAML.
    if len(text) > _MAX_NUMBER_CHARS:
        raise _NonFinite(f"a number of {len(text)} characters is too long")
    return int(text)


def _has_lone_surrogate(data: Any) -> bool:
    """Whether a string or key holds a lone surrogate, which JSON's \\uD800 escapes can produce (YAML refuses
    them): such text cannot be written as UTF-8, so no report could quote it."""
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


class _FirstValueWins:
    """`object_pairs_hook` for json.loads: keeps the first value of a repeated key, as the YAML builder does (the
    json module alone keeps the last), and remembers each repeat, so duplicates are found whatever YAML can read."""

    def __init__(self) -> None:
        self.repeats: list[tuple[dict[str, Any], str]] = []  # the mapping is kept alive: its id() stays unique

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        mapping: dict[str, Any] = {}
        for key, value in pairs:
            if key in mapping:
                self.repeats.append((mapping, key))
            else:
                mapping[key] = value
        return mapping


@dataclass
class _Repeats:
    """A mapping's repeated keys, in the walk's stack after the mapping's values."""

    keys: list[str]


def _duplicate_message(key: str) -> str:
    return f"key {key!r} appears more than once in this mapping (the first is kept)"


def _walk_json(data: Any, repeats: list[tuple[dict[str, Any], str]], file: str, limits: Limits,
               duplicate_lines: dict[str, list[int]], enforce_limits: bool) -> list[Finding]:
    """CW105 for every repeated key, with its JSON pointer (and its line, the next of `duplicate_lines`), in document
    order; CW109 when `enforce_limits` (the event parser could not read the text, so its bounds were not
    applied), counting depth and values as the event builder does."""
    repeated_in: dict[int, list[str]] = {}
    for mapping, key in repeats:
        repeated_in.setdefault(id(mapping), []).append(key)
    findings: list[Finding] = []
    values = 0
    pending: list[tuple[str, Any, int]] = [("", data, 0)]
    while pending:
        pointer, value, depth = pending.pop()
        if isinstance(value, _Repeats):
            for key in value.keys:
                where = join_pointer(pointer, key)
                line = duplicate_lines[where].pop(0) if duplicate_lines.get(where) else None
                findings.append(finding("CW105", _duplicate_message(key), Location(file, line, where)))
            continue
        values += 1
        if enforce_limits and values > limits.manifest_values:
            findings.append(finding("CW109", f"more than {limits.manifest_values} values", Location(file)))
            break
        if not isinstance(value, (dict, list)):
            continue
        if enforce_limits and depth >= limits.manifest_depth:
            msg = f"nesting deeper than {limits.manifest_depth} levels"
            findings.append(finding("CW109", msg, Location(file, pointer=pointer)))
            break
        if isinstance(value, dict):
            values += len(value)  # keys count as values, as in the event builder
            if id(value) in repeated_in:  # reported after the mapping's values: the repeats come last in the text
                pending.append((pointer, _Repeats(repeated_in.pop(id(value))), depth))
            children = [(join_pointer(pointer, k), v, depth + 1) for k, v in value.items()]
        else:
            children = [(join_pointer(pointer, i), v, depth + 1) for i, v in enumerate(value)]
        pending.extend(reversed(children))  # depth first, in document order
    for keys in repeated_in.values():  # repeats inside a repeated key's discarded value
        findings.extend(finding("CW105", _duplicate_message(key), Location(file)) for key in keys)
    return findings


def parse_json(text: str, file: str, limits: Limits) -> LoadedManifest:
    """JSON values and duplicate keys come from the json module; lines and limits from the YAML event builder,
    which reads most JSON (not all: libyaml refuses a \\ud83d\\ude00 escape pair or a key over 1,024 characters,
    the pure-Python parser refuses tabs); where it cannot, the limits are applied to the json module's tree."""
    first_value_wins = _FirstValueWins()
    try:
        data = json.loads(text, object_pairs_hook=first_value_wins, parse_constant=_reject_constant,
                          parse_float=_finite_float, parse_int=_bounded_int)
    except _NonFinite as exc:
        return LoadedManifest(file=file, findings=[finding("CW108", str(exc), Location(file))])
    except json.JSONDecodeError as exc:
        return LoadedManifest(file=file, findings=[finding("CW104", exc.msg, Location(file, exc.lineno))])
    except RecursionError:
        # JSON is YAML: the event parser finds where cwcontrib's own depth limit is crossed, with its line.
        located = parse_yaml(text, file, limits)
        if any(f.code == "CW109" for f in located.findings):
            return located
        msg = "nesting too deep to parse"
        return LoadedManifest(file=file, findings=[finding("CW109", msg, Location(file))])
    if _has_lone_surrogate(data):
        msg = "a \\u escape names half of a UTF-16 surrogate pair, which is not a character"
        return LoadedManifest(file=file, findings=[finding("CW103", msg, Location(file))])
    located = parse_yaml(text, file, limits)
    readable = not any(f.code == "CW104" for f in located.findings)
    lines: dict[str, list[int]] = {}  # the lines of each pointer's repeats, in document order
    for f in located.findings:
        if f.code == "CW105" and f.location.pointer is not None and f.location.line is not None:
            lines.setdefault(f.location.pointer, []).append(f.location.line)
    found = _walk_json(data, first_value_wins.repeats, file, limits, lines, enforce_limits=not readable)
    if readable:  # the event builder's own findings, but its duplicates: the json module's are authoritative
        found += [f for f in located.findings if f.code != "CW105"]
    return LoadedManifest(file=file, data=data, lines=located.lines if readable else {}, findings=found)


def decode_text(raw: bytes, file: str) -> tuple[str | None, list[Finding]]:
    """UTF-8 without BOM or NUL, or a finding with the line of the first bad byte."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return None, [finding("CW103", "the file starts with a UTF-8 byte-order mark", Location(file, 1))]
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        return None, [finding("CW103", "the file contains a NUL byte", Location(file, line))]
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        msg = f"byte {raw[exc.start]:#04x} at offset {exc.start} is not valid UTF-8"
        return None, [finding("CW103", msg, Location(file, line))]


def find_manifest(root: Path) -> tuple[str | None, list[Finding]]:
    present = [name for name in MANIFEST_NAMES if (root / name).exists() or (root / name).is_symlink()]
    if not present:
        return None, [finding("CW100", f"none of {', '.join(MANIFEST_NAMES)} found", Location("."))]
    if len(present) > 1:
        return None, [finding("CW101", f"found {', '.join(present)}", Location(present[1]))]
    return present[0], []


def load_manifest(root: Path, limits: Limits) -> LoadedManifest:
    """Find, read (confined, bounded) and parse the manifest of the submission at `root`."""
    name, problems = find_manifest(root)
    if name is None:
        return LoadedManifest(file=".", findings=problems)
    try:
        raw = read_confined(root, name, limits.manifest_bytes)
    except UnsafeFile as exc:
        code = "CW102" if exc.code == "CW207" else "CW114"  # a link, folder, FIFO or device: not a manifest
        return LoadedManifest(file=name, findings=[finding(code, str(exc), Location(name))])
    text, problems = decode_text(raw, name)
    if text is None:
        return LoadedManifest(file=name, findings=problems)
    parse = parse_json if name.endswith(".json") else parse_yaml
    return parse(text, name, limits)
