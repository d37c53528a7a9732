"""Stage 1: the manifest is safe, well-formed data that follows the published JSON Schema."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

import jsonschema
from pydantic import ValidationError

from cwcontrib.acknowledgements import of_an_error
from cwcontrib.checks.base import Context, check
from cwcontrib.codes import REGISTRY, finding
from cwcontrib.findings import Finding
from cwcontrib.manifest import join_pointer, load_manifest
from cwcontrib.models import SCHEMA_VERSION, SUPPORTED_SCHEMA_VERSIONS, Manifest, version_tuple
from cwcontrib.schema import generate_schema


@cache
def _schema_validator(version: str = SCHEMA_VERSION) -> jsonschema.Draft202012Validator:
    """The validator of one schema version's published JSON Schema."""
    # Draft 2020-12 makes `format` an annotation unless the validator asserts it: assert every format this
    # jsonschema can check (the schema's patterns already imply the formats it uses).
    cls = jsonschema.Draft202012Validator
    return cls(generate_schema(version), format_checker=cls.FORMAT_CHECKER)


def pointer_of(path: Iterable[Any]) -> str:
    pointer = ""
    for token in path:
        pointer = join_pointer(pointer, token)
    return pointer


def _schema_error_findings(ctx: Context, error: jsonschema.ValidationError) -> Iterator[Finding]:
    if error.validator == "anyOf" and not all("required" in option for option in error.validator_value):
        inner = jsonschema.exceptions.best_match([error])
        if inner.validator == "additionalProperties":  # an optional section (object or null) with an unknown key
            error = inner
    pointer = pointer_of(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        patterns = list(error.schema.get("patternProperties", {}))
        for key in sorted(k for k in error.instance if k not in allowed and not _matches_any(patterns, k)):
            if patterns:  # an open mapping (`extra`): the name's form is wrong
                yield finding("CW110", f"{key!r} is not a name for a hyperparameter under `extra`",
                              ctx.at(join_pointer(pointer, key)),
                              hint="Name it in snake_case: a lowercase letter, then lowercase letters, digits and _ "
                                   "(e.g. dropout, label_smoothing, warmup_epochs), at most 64 characters.")
                continue
            choices = ", ".join(sorted(allowed))
            hint = f"Remove it or fix its spelling; allowed here: {choices}."
            if _in_hyperparameters(error.absolute_path):
                hint += " " + _extra_hint(key, str(ctx.manifest.data.get("schema_version")) if ctx.manifest and
                                          isinstance(ctx.manifest.data, dict) else SCHEMA_VERSION)
            yield finding("CW110", f"unknown field {key!r}", ctx.at(join_pointer(pointer, key)), hint=hint)
        return
    if error.validator == "anyOf" and all("required" in option for option in error.validator_value):
        # "at least one of these fields": say which, rather than "is not valid under any of the given schemas"
        names = " or ".join(f"`{name}`" for option in error.validator_value for name in option["required"])
        yield finding("CW110", f"needs {names}", ctx.at(pointer))
        return
    best = jsonschema.exceptions.best_match([error])
    message = best.message
    description = best.schema.get("description") if isinstance(best.schema, dict) else None
    if best.validator == "pattern" and description:  # the form in words, not the regular expression
        first, _, rest = description.partition(" ")
        if not (len(first) > 1 and first.isupper()):  # "An http(s) URL" -> "an http(s) URL", but "SPDX" stays
            first = first.lower()
        message = f"{best.instance!r}: expected {first} {rest}"
    yield finding("CW110", message, ctx.at(pointer_of(best.absolute_path)))


def _matches_any(patterns: list[str], key: str) -> bool:
    return any(re.search(pattern, key) for pattern in patterns)


def _in_hyperparameters(path: Iterable[Any]) -> bool:
    """Whether a JSON path lies inside a hyperparameters section (shared, a trial's or a run's)."""
    return "hyperparameters" in [str(token) for token in path]


def _extra_hint(key: str, version: str) -> str:
    """Where a hyperparameter without a field of its own goes (`dropout: 0.1` written beside learning_rate)."""
    example = f"`extra: {{{key}: <value>}}` inside `hyperparameters`"
    if key == "extra" or version not in SUPPORTED_SCHEMA_VERSIONS or version_tuple(version) < (1, 2):
        return (f"Further hyperparameters (dropout, label smoothing, ...) go under `extra` from schema 1.2 on: set "
                f"`schema_version: \"1.2\"` and write {example if key != 'extra' else '`extra: {dropout: 0.1}`'}.")
    return f"Further hyperparameters (dropout, label smoothing, ...) go under `extra`: write {example}."


def _pydantic_findings(ctx: Context, exc: ValidationError) -> Iterator[Finding]:
    for error in exc.errors():
        pointer = pointer_of(p for p in error["loc"] if not str(p).startswith("function-"))
        yield finding("CW110", error["msg"], ctx.at(pointer))


@check("manifest", "CW100", "CW101", "CW102", "CW103", "CW104", "CW105", "CW106", "CW107", "CW108",
       "CW109", "CW111", "CW113", "CW114", provides=("manifest",))
def manifest_is_safe_data(ctx: Context) -> Iterable[Finding]:
    ctx.manifest = load_manifest(ctx.root, ctx.limits)
    ctx.looking_at = ctx.manifest.file
    return ctx.manifest.findings


@check("manifest", "CW110", "CW112", needs=("manifest",), provides=("model",))
def manifest_follows_schema(ctx: Context) -> Iterator[Finding]:
    if ctx.manifest is None or not ctx.manifest.usable:
        return
    data = ctx.manifest.data
    if not isinstance(data, dict):
        yield finding("CW110", f"the manifest is a {type(data).__name__}, not a mapping", ctx.at(""))
        return
    version = data.get("schema_version")
    if "schema_version" in data and version not in SUPPORTED_SCHEMA_VERSIONS:
        yield finding("CW112", f"schema_version {version!r} is not supported "
                               f"(supported: {', '.join(SUPPORTED_SCHEMA_VERSIONS)})",
                      ctx.at("/schema_version"))
        return
    # Each version against its own schema; without `schema_version`, the newest says it is required.
    validator = _schema_validator(version if version in SUPPORTED_SCHEMA_VERSIONS else SCHEMA_VERSION)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    found = [f for error in errors for f in _schema_error_findings(ctx, error)]
    if found:
        yield from found
        return
    try:
        ctx.model = Manifest.model_validate(data)
    except ValidationError as exc:  # rules the JSON Schema cannot express
        yield from _pydantic_findings(ctx, exc)


@check("manifest", "CW115", needs=("model",))
def acknowledgements_name_warnings(ctx: Context) -> Iterator[Finding]:
    """Only warnings may be acknowledged: an error means the submission cannot enter the dataset as it is."""
    for i, ack in enumerate(ctx.model.acknowledgements if ctx.model else []):
        if of_an_error(ack):
            yield finding("CW115", f"{ack.code} ({REGISTRY[ack.code].name}) is an error: errors cannot be "
                                   "acknowledged, only fixed", ctx.at(f"/acknowledgements/{i}/code"))
