"""Trials as the checks see them: inline manifest trials and trials-table rows, merged over the
shared hyperparameter defaults, each value still knowing where it was written."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from cwcontrib.codes import finding
from cwcontrib.findings import Finding, Location
from cwcontrib.manifest import LoadedManifest, join_pointer, pointer_location
from cwcontrib.models import SCHEMA_VERSION, Hyperparameters, Manifest, Run, Trial, field_since, version_tuple
from cwcontrib.tables import Table

RESERVED_COLUMNS = ("id", "hyperparameters")


@dataclass(frozen=True)
class Where:
    """Where a trial was written: a manifest pointer, or a table row whose columns are dotted paths."""

    manifest: LoadedManifest | None = None
    pointer: str = ""
    table: Table | None = None
    row: int = 0  # 0-based index into the table's rows

    def of(self, *path: str | int) -> Location:
        if self.table is not None:
            column = _column_of(path) if path else None
            return Location(self.table.file, self.table.line_of(self.row), row=self.row + 1, column=column)
        pointer = self.pointer
        for token in path:
            pointer = join_pointer(pointer, token)
        return pointer_location(self.manifest, pointer)


def _column_of(path: Sequence[str | int]) -> str:
    """Table column for a model path: ('runs', 'pytorch', 'test_accuracy') -> 'pytorch.test_accuracy'."""
    parts = [str(p) for p in path]
    if parts and parts[0] == "runs":
        parts = parts[1:]
    return ".".join(parts)


@dataclass
class ResolvedRun:
    framework: str
    run: Run
    where: Where
    base: tuple[str, ...]  # path of this run inside its trial, e.g. ("runs", "pytorch")

    def at(self, *path: str) -> Location:
        return self.where.of(*self.base, *path)


@dataclass
class ResolvedTrial:
    id: str
    where: Where
    hyperparameter_values: dict[str, Any]
    hyperparameters: Hyperparameters | None
    runs: dict[str, ResolvedRun] = field(default_factory=dict)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'optimizer': {'epsilon': 1e-7}} -> {'optimizer.epsilon': 1e-7}."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


REPLACED_WHOLE = ("lr_schedule",)  # a trial's schedule is another schedule, never the shared one's fields mixed in


def hyperparameter_values(section: Any) -> dict[str, Any]:
    """A hyperparameters section (shared, trial or run) as plain values, `extra` entries as {value[, unit]}: a bare
    value and `{value: ...}` mean the same, so that they compare equal and a bare override keeps the shared unit."""
    if section is None:
        return {}
    values: dict[str, Any] = section.model_dump(exclude_none=True)
    extra = values.get("extra")
    if isinstance(extra, dict):
        values["extra"] = {name: entry if isinstance(entry, dict) else {"value": entry}
                           for name, entry in extra.items()}
    return values


def merge_hyperparameters(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = deep_merge(base, {k: v for k, v in override.items() if k not in REPLACED_WHOLE})
    merged.update({k: v for k, v in override.items() if k in REPLACED_WHOLE})
    return merged


def _defaults(model: Manifest) -> dict[str, Any]:
    return hyperparameter_values(model.hyperparameters)


def _resolve(model: Manifest, trial: Trial, where: Where) -> tuple[ResolvedTrial, list[Finding]]:
    values = merge_hyperparameters(_defaults(model), hyperparameter_values(trial.hyperparameters))
    problems: list[Finding] = []
    hyperparameters: Hyperparameters | None = None
    try:
        hyperparameters = Hyperparameters.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors():
            path = ("hyperparameters", *map(str, error["loc"]))
            msg = f"hyperparameter {'.'.join(map(str, error['loc']))}: {error['msg']}"
            if error["type"] == "missing":
                msg += " (neither the shared `hyperparameters` nor this trial sets it)"
                path = ()
            problems.append(finding("CW329", msg, where.of(*path)))
    resolved = ResolvedTrial(trial.id, where, values, hyperparameters)
    for framework, run in trial.runs.items():
        resolved.runs[framework] = ResolvedRun(framework, run, where, ("runs", framework))
    return resolved, problems


def inline_trials(model: Manifest, manifest: LoadedManifest) -> Iterator[tuple[ResolvedTrial, list[Finding]]]:
    for i, trial in enumerate(model.trials):
        yield _resolve(model, trial, Where(manifest=manifest, pointer=f"/trials/{i}"))


def _column_path(column: str) -> list[str]:
    """Where a dotted column goes in a Trial; framework columns go under `runs`."""
    parts = column.split(".")
    return parts if parts[0] in RESERVED_COLUMNS else ["runs", *parts]


_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def csv_scalar(text: str) -> bool | int | float | str:
    """A CSV cell of an `extra` column as the value it spells: true/false, a whole number, a finite decimal, or
    the text itself. (Typed fields need no help: their type says what to parse; `extra` values have none.)"""
    if text in ("true", "True", "false", "False"):
        return text.lower() == "true"
    if _INTEGER.fullmatch(text):
        return int(text)
    if _DECIMAL.fullmatch(text) and math.isfinite(float(text)):
        return float(text)
    return text


def _is_extra_value(parts: list[str]) -> bool:
    """Whether a column path is an `extra` hyperparameter's value (not its unit)."""
    if "extra" not in parts or parts.index("extra") == 0 or parts[parts.index("extra") - 1] != "hyperparameters":
        return False
    return parts[-1] != "unit"


def _nest(row: dict[str, Any], csv_cells: bool = False) -> dict[str, Any]:
    """Dotted columns to the shape of a Trial (columns never nest inside another: table_column_problems)."""
    nested: dict[str, Any] = {}
    for column, value in row.items():
        if value is None:
            continue
        parts = _column_path(column)
        if csv_cells and isinstance(value, str) and _is_extra_value(parts):
            value = csv_scalar(value)
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return nested


def _column_since(column: str) -> str:
    """The schema version a trials-table column's field first appeared in."""
    parts = _column_path(column)
    if parts[0] == "runs" and len(parts) >= 4 and parts[2] == "hyperparameters":
        return field_since(parts[3])
    if parts[0] == "runs" and len(parts) >= 3:
        return field_since(parts[2])
    if parts[0] == "hyperparameters" and len(parts) >= 2:
        return field_since(parts[1])
    return "1.0"


def table_column_problems(table: Table, schema_version: str = SCHEMA_VERSION) -> list[Finding]:
    problems = []
    for column in table.columns:
        head, _, rest = column.partition(".")
        if head not in RESERVED_COLUMNS and not rest:
            problems.append(finding(
                "CW313", f"column {column!r} is neither `id`, `hyperparameters.<name>` nor `<framework>.<field>`",
                Location(table.file, 1, column=column),
                hint="Name columns like id, hyperparameters.learning_rate, pytorch.test_accuracy, pytorch.weights."))
            continue
        since = _column_since(column)
        if version_tuple(schema_version) < version_tuple(since):
            problems.append(finding(
                "CW313", f"column {column!r} sets a field that came in schema {since}; the manifest declares "
                         f"schema_version {schema_version}", Location(table.file, 1, column=column),
                hint=f"Set `schema_version: \"{since}\"` in the manifest (newer versions read older manifests "
                     "unchanged), or drop the column."))
    if "id" not in table.columns:
        problems.append(finding("CW313", "the table has no `id` column", Location(table.file, 1)))
    holders = {tuple(_column_path(column)): column for column in table.columns}
    for column in table.columns:
        path = tuple(_column_path(column))
        holder = next((holders[path[:n]] for n in range(1, len(path)) if path[:n] in holders), None)
        if holder is not None:
            problems.append(finding("CW313", f"column {column!r} sets a field inside column {holder!r}, "
                                             "which holds a value itself", Location(table.file, 1, column=column)))
    return problems


def table_trials(model: Manifest, table: Table) -> Iterator[tuple[ResolvedTrial | None, list[Finding]]]:
    csv_cells = model.trials_table is not None and model.trials_table.format == "csv"
    for index, row in enumerate(table.rows):
        where = Where(table=table, row=index)
        try:
            trial = Trial.model_validate(_nest(row, csv_cells=csv_cells))
        except ValidationError as exc:
            yield None, [_cell_problem(e, where, model.schema_version) for e in exc.errors()]
            continue
        yield _resolve(model, trial, where)


def _cell_problem(error: Any, where: Where, schema_version: str) -> Finding:
    loc = [str(token) for token in error["loc"]]
    hint = None
    if error["type"] == "extra_forbidden" and "hyperparameters" in loc:
        name = loc[-1]
        column = _column_of([*loc[:loc.index("hyperparameters")], "hyperparameters", "extra", name])
        hint = f"{name} has no field of its own: name the column {column}"
        hint += (" (schema 1.2; set `schema_version: \"1.2\"` in the manifest)."
                 if version_tuple(schema_version) < (1, 2) else ".")
    return finding("CW314", f"{error['msg']}: {_column_of(loc)}", where.of(*loc), hint=hint)
