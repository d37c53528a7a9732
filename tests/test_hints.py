"""Hints and help that agree with the documentation (issue 10 item 7)."""

from __future__ import annotations

import argparse
import enum
import re
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from cwcontrib import cli
from cwcontrib.artifacts import artifact_entries_yaml
from cwcontrib.codes import REGISTRY
from cwcontrib.datasets import DEFAULT_DATA_DIR
from cwcontrib.models import MANIFEST_SCHEMA_MODELS, SCHEMA_VERSION
from tests.conftest import REPO


def validate_help() -> str:
    parser = cli.build_parser()
    [validate] = [a for a in parser._subparsers._group_actions if a.dest == "command"]  # type: ignore[union-attr]
    return " ".join(validate.choices["validate"].format_help().split())


def test_the_default_data_folder_is_the_same_in_readme_and_help() -> None:
    assert str(DEFAULT_DATA_DIR) == "~/.cache/cwcontrib/datasets"
    assert f"default: $CWCONTRIB_DATA, else {DEFAULT_DATA_DIR}" in validate_help()
    assert f"`$CWCONTRIB_DATA` (default `{DEFAULT_DATA_DIR}`)" in (REPO / "README.md").read_text(encoding="utf-8")


def test_contributing_mentions_the_required_dataset_version() -> None:
    assert "required `version`" in (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")


def test_artifacts_skips_what_contributing_forbids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "code" / "__pycache__").mkdir(parents=True)
    (tmp_path / "code" / "train.py").write_text("print('train')\n")
    (tmp_path / "code" / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"\x00" * 16)
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    text = artifact_entries_yaml(tmp_path)
    assert [e["path"] for e in yaml.safe_load(text)["artifacts"]] == ["code/train.py"]
    assert "'.DS_Store'" in text and "code/__pycache__/train.cpython-311.pyc" in text  # named, to be deleted
    assert cli.main(["artifacts", str(tmp_path)]) == 0
    assert "__pycache__" not in yaml.safe_load(capsys.readouterr().out)["artifacts"][0]["path"]


# --- Every active code's hint names real commands, options, fields, formats and files (issue 10 item 7) ---------

ACTIVE = sorted(code for code, entry in REGISTRY.items() if entry.active)
FIELD_PATH = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")  # `dataset.version`, `size`
FIELD_VALUE = re.compile(r"^([a-z_][a-z0-9_]*): ?(\S*)$")  # `format: csv`, `weights:`
REPO_PATH = re.compile(r"\b(?:docs|schema|cwcontrib|submissions|LICENSES)/[\w./<>-]*|\b[A-Z]+\.md\b")


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def options_of(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


PARSER = cli.build_parser()
ALL_OPTIONS = set().union(*(options_of(sub) for sub in subcommands(PARSER).values()))


def command_problems(command: str) -> list[str]:
    """What in `cwcontrib SUB [SUB2] ... [--option ...]` the real parser does not have."""
    parser, problems = PARSER, []
    words = command.split()[1:]
    if not words or words[0] not in subcommands(PARSER):
        return [f"no subcommand {words[:1]} in {command!r}"]
    for word in words:
        if word in subcommands(parser):
            parser = subcommands(parser)[word]
        elif word.startswith("-") and word.split("=")[0] not in options_of(parser):
            problems.append(f"{parser.prog} has no option {word}")
    return problems


def commands_in(text: str) -> list[str]:
    """Each `cwcontrib ...` command line, to the end of its code span or line, without a trailing comment."""
    spans = re.findall(r"`([^`\n]*)`", text) + re.findall(r"```\w*\n(.*?)```", text, re.S)
    lines = [line for span in spans for line in span.splitlines()]
    return [re.sub(r"\s#.*$", "", m.group(0)) for line in lines for m in re.finditer(r"\bcwcontrib [^`\n]*", line)]


def model_fields() -> dict[str, list[FieldInfo]]:
    """Every field name of the newest schema's manifest models, with its definitions (one per model that has it)."""
    found: dict[str, list[FieldInfo]] = {}
    seen: set[type[BaseModel]] = set()

    def walk(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, info in model.model_fields.items():
            found.setdefault(name, []).append(info)
            for inner in models_in(info.annotation):
                walk(inner)

    walk(MANIFEST_SCHEMA_MODELS[SCHEMA_VERSION])
    return found


def models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in models_in(arg)]


def choices_of(annotation: Any) -> set[str] | None:
    """The values an enum or Literal field accepts; None for free values."""
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {str(member.value) for member in annotation}
    if get_origin(annotation) is Literal:
        return {str(value) for value in get_args(annotation)}
    nested = [c for arg in get_args(annotation) if (c := choices_of(arg)) is not None]
    return set().union(*nested) if nested else None


FIELDS = model_fields()


def resolves(path: str) -> bool:
    """A dotted path is a chain of fields, starting at any model of the manifest (`sweep.search_space`,
    `optimizer.epsilon` within `hyperparameters`)."""
    head, *rest = path.split(".")
    candidates = [info.annotation for info in FIELDS.get(head, [])]
    for name in rest:
        inner = [m.model_fields[name].annotation for a in candidates for m in models_in(a) if name in m.model_fields]
        candidates = inner
    return bool(candidates)


def hint_problems(code: str, hint: str) -> list[str]:
    entry = REGISTRY[code]
    problems = [f"refers to itself: {m.group(0)!r}" for m in re.finditer(r"explain\s+(\S+)", hint)
                if m.group(1).strip("`.,;)").upper() in (code, entry.name.upper())]
    problems += [f"names its own code {code}"] if code in hint else []
    problems += [p for command in commands_in(hint) for p in command_problems(command)]
    named = re.findall(r"(?:\b[Rr]un |`|/)cwcontrib ([a-z][a-z-]*)", hint)  # a command, not "the cwcontrib team"
    problems += [f"no subcommand {name!r}" for name in named if name not in subcommands(PARSER)]
    problems += [f"no option {o} in any subcommand" for o in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", hint)
                 if o not in ALL_OPTIONS]
    for span in re.findall(r"`([^`]*)`", hint):
        if FIELD_PATH.match(span) and not resolves(span):
            problems.append(f"no manifest field `{span}`")
        elif (value := FIELD_VALUE.match(span)) is not None:
            name, given = value.groups()
            allowed = [choices_of(info.annotation) for info in FIELDS.get(name, [])]
            if not allowed:
                problems.append(f"no manifest field `{name}`")
            elif given and all(a is not None and given not in a for a in allowed):
                problems.append(f"`{name}` cannot be {given!r}: {sorted(set().union(*filter(None, allowed)))}")
    problems += [f"no file {p}" for p in REPO_PATH.findall(hint)
                 if "<" not in p and not (REPO / p.rstrip(".")).exists()]
    return problems


@pytest.mark.parametrize("code", ACTIVE)
def test_hint_is_not_circular_and_names_real_commands_options_fields_and_formats(code: str) -> None:
    assert hint_problems(code, REGISTRY[code].fix) == []


@pytest.mark.parametrize(("code", "broken", "problem"), [
    ("CW501", "Run `cwcontrib explain CW501`.", "refers to itself"),
    ("CW501", "See the CW501 entry.", "names its own code"),
    ("CW501", "Set `--data-folder` to the folder.", "no option --data-folder"),
    ("CW501", "Run `cwcontrib datasets --list` to see them.", "datasets has no option --list"),
    ("CW501", "Run cwcontrib download cifar10.", "no subcommand 'download'"),
    ("CW504", "Set `architecture.classes`.", "no manifest field `architecture.classes`"),
    ("CW504", "Set `dataset.versoin`.", "no manifest field `dataset.versoin`"),
    ("CW401", "Declare `format: pytorch-legacy`.", "`format` cannot be 'pytorch-legacy'"),
    ("CW509", "See docs/evaluation.md.", "no file docs/evaluation.md"),
])
def test_hint_checks_catch_a_broken_hint(code: str, broken: str, problem: str) -> None:
    assert any(problem in p for p in hint_problems(code, broken)), hint_problems(code, broken)


def test_the_hints_the_issue_names_are_corrected() -> None:
    """Issue 10 item 7: what a contributor with a checkpoint dict, a legacy pickle or no dataset reads."""
    assert "torch.save(model.state_dict(), path)" in REGISTRY["CW402"].fix
    assert "checkpoint['model']" in REGISTRY["CW402"].fix and "framework's own saving" not in REGISTRY["CW402"].fix
    assert "default format since torch 1.6" in REGISTRY["CW401"].fix
    assert {"safetensors", "pytorch", "keras-h5"} <= set(re.findall(r"`format: ([\w-]+)`", REGISTRY["CW401"].fix))
    assert all(f in REGISTRY["CW501"].fix for f in ("--data-dir", "$CWCONTRIB_DATA", "cwcontrib datasets --show"))


# --- CONTRIBUTING.md and `cwcontrib validate --help` agree ------------------------------------------------------

GUIDE_TEXT = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")


def test_contributing_commands_exist_with_their_options() -> None:
    commands = commands_in(GUIDE_TEXT)
    assert any(c.startswith("cwcontrib validate") for c in commands)
    assert [p for command in commands for p in command_problems(command)] == []


def test_contributing_options_outside_commands_are_validate_options_its_help_shows() -> None:
    inside = {o for command in commands_in(GUIDE_TEXT) for o in re.findall(r"--[a-z][a-z0-9-]*", command)}
    loose = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", GUIDE_TEXT)) - inside
    assert "--data-dir" in loose
    assert {o for o in loose if o not in validate_help()} == set()


def test_contributing_names_the_data_folder_as_validate_help_does() -> None:
    guide = " ".join(GUIDE_TEXT.split())
    assert f"`--data-dir`, else `$CWCONTRIB_DATA`, else `{DEFAULT_DATA_DIR}`" in guide
    assert f"--data-dir DATA_DIR local dataset folder (default: $CWCONTRIB_DATA, else {DEFAULT_DATA_DIR})" \
        in validate_help()
