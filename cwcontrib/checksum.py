"""`cwcontrib checksum`: the manifest's `artifacts` made true to the folder, so nobody edits digests by hand.

Every declared file gets its real `size` and `sha256` (and a `format` where it has none); every file of the folder
that is not declared gets an entry; the change is shown as a unified diff of the manifest, then written atomically
(or, with `--check`, only reported: exit 1 when anything would change). Files are read through the confined file
layer (`safefs`): a symbolic link or a special file anywhere in the folder stops the command before anything is
read through it or written. What CONTRIBUTING.md forbids in a submission (`__pycache__`, `.DS_Store`, hidden files,
...) is never declared: it is named, to be deleted.

How the manifest is rewritten. A JSON manifest is rewritten whole by the json module, keys in their order. A YAML
manifest is edited as text, because no round-trip YAML library is available (PyYAML drops comments): only the
top-level `artifacts:` block (from its key line to its last indented or `-` line) is replaced by a freshly dumped
one, in the sequence style the file already uses, keeping the comment on the key line. Every other byte of the file,
comments included, stays as it was. Comments *inside* the old block are not kept: the block is generated, and
editing digests line by line would be more fragile than regenerating a list that is machine-made anyway. The
result is parsed again and must equal the old manifest with only `artifacts` changed, otherwise nothing is written.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from cwcontrib.artifacts import format_for, is_clutter
from cwcontrib.atomic import write_bytes_atomic
from cwcontrib.hashing import sha256_confined
from cwcontrib.limits import DEFAULT_LIMITS, Limits
from cwcontrib.manifest import decode_text, find_manifest, parse_json, parse_yaml
from cwcontrib.safefs import UnsafeFile, read_confined, scan_tree

EXIT_OK, EXIT_CHANGES, EXIT_USAGE = 0, 1, 2
FILL_IN = "FILL-IN"


class ChecksumError(Exception):
    """The folder or manifest cannot be checksummed safely; nothing was written."""


@dataclass
class Plan:
    """What `checksum` would write, and what it has to tell the contributor."""

    manifest: str
    old_text: str
    new_text: str
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.old_text != self.new_text

    def diff(self) -> str:
        return "".join(difflib.unified_diff(self.old_text.splitlines(keepends=True),
                                            self.new_text.splitlines(keepends=True),
                                            fromfile=f"a/{self.manifest}", tofile=f"b/{self.manifest}"))


def _hidden(rel: str) -> bool:
    return any(part.startswith(".") for part in rel.split("/"))


def _folder_files(root: Path, limits: Limits, manifest: str, notes: list[str]) -> dict[str, int]:
    """The files a submission may declare, by path, with their sizes; refuses links and special files."""
    index = scan_tree(root, limits)
    if index.truncated:
        raise ChecksumError(f"the folder cannot be listed completely: {index.truncated}")
    refused = [(rel, e.kind) for rel, e in sorted(index.entries.items()) if e.kind in ("symlink", "special")]
    if refused:
        rel, kind = refused[0]
        what = "a symbolic link (CW201)" if kind == "symlink" else "not a regular file or folder (CW202)"
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise ChecksumError(f"{rel!r} is {what}{more}: a submission holds regular files only; replace it with the "
                            "file itself")
    files: dict[str, int] = {}
    for rel, entry in sorted(index.files.items()):
        if rel == manifest:
            continue
        if is_clutter(rel) or _hidden(rel):
            notes.append(f"not declared, delete it (CONTRIBUTING.md: a submission holds no tool clutter or hidden "
                         f"files): {rel!r}")
            continue
        files[rel] = entry.size
    return files


def _entry_for(root: Path, rel: str, size: int) -> dict[str, Any]:
    fmt = format_for(rel)
    return {"path": rel, "format": fmt.value if fmt else FILL_IN, "size": size, "sha256": sha256_confined(root, rel)}


def updated_artifacts(root: Path, declared: list[Any], files: dict[str, int], notes: list[str]) -> list[Any]:
    """The declared entries with true sizes and digests, in their order, then the undeclared files, sorted."""
    result: list[Any] = []
    seen: set[str] = set()
    for index, entry in enumerate(declared):
        if not isinstance(entry, dict):
            raise ChecksumError(f"artifacts[{index}] is not a mapping; fix it by hand first")
        path = entry.get("path")
        if not isinstance(path, str) or path not in files:
            if isinstance(path, str):
                notes.append(f"declared but not in the folder (left as it is): {path!r}")
            result.append(entry)  # a remote (uri) entry, or a missing file: validate says what is wrong
            continue
        seen.add(path)
        fresh = _entry_for(root, path, files[path])
        updated = dict(entry)
        if updated.get("format") in (None, "", FILL_IN) and fresh["format"] != FILL_IN:
            updated["format"] = fresh["format"]
        updated.setdefault("format", fresh["format"])
        updated["size"] = fresh["size"]
        updated["sha256"] = fresh["sha256"]
        result.append(updated)
    for rel in sorted(set(files) - seen):
        entry = _entry_for(root, rel, files[rel])
        result.append(entry)
    for entry in result:
        if isinstance(entry, dict) and entry.get("format") == FILL_IN:
            notes.append(f"set the format of {entry.get('path')!r} by hand: its name implies none "
                         "(`cwcontrib schema` lists the formats)")
    return result


# --- YAML: replace the top-level `artifacts:` block, and nothing else ---------------------------------------------

_KEY_LINE = re.compile(r"^artifacts[ \t]*:(?P<value>[^#\n]*?)[ \t]*(?P<comment>#.*)?$")
_SEQUENCE_ITEM = re.compile(r"^(?P<indent> *)-(?: |$)")


def _content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _block_span(lines: list[str]) -> tuple[int, int] | None:
    """[start, end) of the top-level `artifacts:` block: its key line and the lines that belong to it. Comment and
    blank lines after its last content line are left to what follows."""
    starts = [i for i, line in enumerate(lines) if _KEY_LINE.match(line.rstrip("\r\n"))]
    if not starts:
        return None
    if len(starts) > 1:
        raise ChecksumError("the manifest has `artifacts:` twice at the top level; fix it by hand first")
    start = end = starts[0]
    for i in range(start + 1, len(lines)):
        line = lines[i].rstrip("\r\n")
        if not _content(line):
            continue
        if line.startswith((" ", "\t", "-")):
            end = i
            continue
        break
    return start, end + 1


class _IndentedDumper(yaml.SafeDumper):
    """Block sequences indented under their key (`key:\\n  - item`), as `cwcontrib init` writes them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _indented_style(lines: list[str], span: tuple[int, int] | None) -> bool:
    """Whether block sequences sit indented under their key (`key:\n  - item`): as the old artifacts block has
    them, else as the file's first block sequence under a key does; indented when the file has none."""
    if span is not None:
        for i in range(span[0] + 1, span[1]):
            item = _SEQUENCE_ITEM.match(lines[i])
            if item:
                return len(item.group("indent")) > 0
    for i, line in enumerate(lines):
        item = _SEQUENCE_ITEM.match(line)
        if not item:
            continue
        previous = next((lines[j] for j in range(i - 1, -1, -1) if _content(lines[j])), "")
        key = re.sub(r"\s+#.*$", "", previous.rstrip("\r\n"))
        if key.endswith(":") and not _SEQUENCE_ITEM.match(key):
            return len(item.group("indent")) > len(key) - len(key.lstrip(" "))
    return True


def _dump_block(artifacts: list[Any], comment: str | None, indented: bool) -> list[str]:
    dumper: type[yaml.SafeDumper] = _IndentedDumper if indented else yaml.SafeDumper
    text = yaml.dump({"artifacts": artifacts}, Dumper=dumper, sort_keys=False, allow_unicode=True, width=4096,
                     default_flow_style=False)
    lines = text.splitlines(keepends=True)
    if comment:
        lines[0] = lines[0].rstrip("\n").rstrip() + f"  {comment}\n"
    return lines


def rewrite_yaml(text: str, artifacts: list[Any]) -> str:
    lines = text.splitlines(keepends=True)
    span = _block_span(lines)
    indented = _indented_style(lines, span)
    if span is None:
        prefix = text if not text or text.endswith("\n") else text + "\n"
        return prefix + "".join(_dump_block(artifacts, None, indented))
    start, end = span
    key = _KEY_LINE.match(lines[start].rstrip("\r\n"))
    assert key is not None
    value = key.group("value").strip()
    # The key line's comment is kept where the value is empty or an empty flow list (`artifacts: []  # ...`);
    # with any other value on the line a `#` may sit inside a quoted string, so nothing is kept.
    comment = key.group("comment") if value in ("", "[]") else None
    block = _dump_block(artifacts, comment, indented)
    newline = "\r\n" if lines[start].endswith("\r\n") else "\n"
    if newline != "\n":
        block = [line.replace("\n", newline) for line in block]
    if end == len(lines) and not lines[-1].endswith("\n"):
        block[-1] = block[-1].rstrip("\r\n")
    return "".join(lines[:start] + block + lines[end:])


def rewrite_json(text: str, data: dict[str, Any], artifacts: list[Any]) -> str:
    indent = 2
    found = re.search(r"^\{\s*\n( +)\"", text)
    if found:
        indent = len(found.group(1))
    updated = dict(data)
    updated["artifacts"] = artifacts
    return json.dumps(updated, indent=indent, ensure_ascii=False) + "\n"


def _parse(text: str, name: str, limits: Limits) -> Any:
    parse = parse_json if name.endswith(".json") else parse_yaml
    loaded = parse(text, name, limits)
    errors = [f for f in loaded.findings if f.severity.value == "error"]
    if loaded.data is None or errors:
        first = errors[0] if errors else None
        why = f"{first.code} {first.message}" if first else "it holds no data"
        raise ChecksumError(f"{name} cannot be read ({why}); `cwcontrib validate` says more")
    if not isinstance(loaded.data, dict):
        raise ChecksumError(f"{name} is not a mapping at the top level")
    return loaded.data


def plan(root: Path, limits: Limits = DEFAULT_LIMITS) -> Plan:
    """Everything `checksum` would do, without writing anything."""
    name, problems = find_manifest(root)
    if name is None:
        raise ChecksumError(problems[0].message if problems else "no manifest")
    try:
        raw = read_confined(root, name, limits.manifest_bytes)
    except UnsafeFile as exc:
        raise ChecksumError(f"{name}: {exc} ({exc.code})") from None
    text, problems = decode_text(raw, name)
    if text is None:
        raise ChecksumError(f"{name}: {problems[0].message}")
    data = _parse(text, name, limits)
    declared = data.get("artifacts", [])
    if declared is None:
        declared = []
    if not isinstance(declared, list):
        raise ChecksumError("`artifacts` is not a list; fix it by hand first")
    notes: list[str] = []
    try:
        files = _folder_files(root, limits, name, notes)
        artifacts = updated_artifacts(root, declared, files, notes)
    except UnsafeFile as exc:  # a file swapped for a link or a FIFO after the listing
        raise ChecksumError(f"{exc} ({exc.code})") from None
    if artifacts == declared and "artifacts" in data:
        return Plan(name, text, text, notes)
    new_text = rewrite_json(text, data, artifacts) if name.endswith(".json") else rewrite_yaml(text, artifacts)
    expected = dict(data)
    expected["artifacts"] = artifacts
    if _parse(new_text, name, limits) != expected:
        block = yaml.safe_dump({"artifacts": artifacts}, sort_keys=False, width=4096)
        raise ChecksumError(f"cannot edit the `artifacts` of {name} without touching anything else (an unusual "
                            f"layout); replace them by hand with:\n{block}")
    return Plan(name, text, new_text, notes)


def write_preserving_mode(path: Path, data: bytes) -> None:
    """Atomic replace that keeps the file's permission bits."""
    write_bytes_atomic(path, data, mode=os.stat(path, follow_symlinks=False).st_mode & 0o7777)


def run_checksum(root: Path, *, check: bool, out: TextIO, err: TextIO) -> int:
    """The command: 0 up to date (or updated), 1 with --check when something would change, 2 when refused."""
    if not root.is_dir():
        print(f"cwcontrib: {root} is not a folder", file=err)
        return EXIT_USAGE
    try:
        result = plan(root)
    except ChecksumError as exc:
        print(f"cwcontrib: {exc}", file=err)
        return EXIT_USAGE
    for note in result.notes:
        print(f"cwcontrib: {note}", file=err)
    if not result.changed:
        print(f"{result.manifest}: artifacts up to date", file=err)
        return EXIT_OK
    out.write(result.diff())
    out.flush()
    if check:
        print(f"{result.manifest}: artifacts out of date; `cwcontrib checksum {root}` updates them", file=err)
        return EXIT_CHANGES
    write_preserving_mode(root / result.manifest, result.new_text.encode("utf-8"))
    print(f"{result.manifest}: artifacts updated", file=err)
    return EXIT_OK
