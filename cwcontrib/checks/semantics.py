"""Stage 3: the submission means something consistent — trials, accuracies, curves, references."""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from cwcontrib.checks.base import Context, check, walk_strings
from cwcontrib.codes import finding
from cwcontrib.datasets import dataset_info
from cwcontrib.findings import Finding, Location
from cwcontrib.models import Choice, Range, hyperparameter_paths, version_tuple
from cwcontrib.safefs import UnsafeFile, read_confined
from cwcontrib.secrets import is_secret_name, secret_in_value, secrets_in_text
from cwcontrib.spdx import judge_license, license_text_path
from cwcontrib.tables import Table, TableError, read_table
from cwcontrib.trials import (
    ResolvedRun,
    flatten,
    hyperparameter_values,
    inline_trials,
    table_column_problems,
    table_trials,
)

# A claim counts as k/N when it is within this of k/N: enough for six written decimals, far too
# little for a mean of per-batch accuracies (off by up to ~1/batch_size of a batch's share).
K_OVER_N_TOLERANCE = 1e-6
EXPLODING_LOSS = 1e6
CURVE_REQUIRED_COLUMNS = ("epoch", "loss")
EXTRA_PATH = re.compile(r"extra\.[a-z][a-z0-9_]*")


def _table_problem(exc: TableError, file: str) -> Finding:
    return finding(exc.code, str(exc), Location(file, exc.line))


def read_verified_table(ctx: Context, rel: str, fmt: str) -> Table | None:
    """Tables are only read once stage 2 verified their checksum, and only once."""
    if rel not in ctx.verified:
        return None
    if rel not in ctx.tables:
        ctx.looking_at = rel
        try:
            ctx.tables[rel] = read_table(ctx.root, rel, fmt, ctx.limits)
        except TableError as exc:
            ctx.tables[rel] = exc
    cached = ctx.tables[rel]
    if isinstance(cached, TableError):
        raise cached
    assert isinstance(cached, Table)
    return cached


@check("semantics", "CW313", "CW314", "CW315", "CW316", "CW329", needs=("model", "verified"), provides=("trials",))
def trials_are_well_formed(ctx: Context) -> Iterator[Finding]:
    if ctx.model is None or ctx.manifest is None:
        return
    model = ctx.model
    for trial, problems in inline_trials(model, ctx.manifest):
        ctx.trials.append(trial)
        yield from problems
    spec = model.trials_table
    if spec is not None:
        try:
            table = read_verified_table(ctx, spec.path, spec.format)
        except TableError as exc:
            yield _table_problem(exc, spec.path)
            table = None
        if table is not None:
            column_problems = table_column_problems(table, model.schema_version)
            yield from column_problems
            if not column_problems:
                for resolved, problems in table_trials(model, table):
                    if resolved is not None:
                        ctx.trials.append(resolved)
                    yield from problems
    if not model.trials and spec is None:
        yield finding("CW316", "neither `trials` nor `trials_table` is given", ctx.at(""))


@check("semantics", "CW305", needs=("trials",))
def trial_ids_are_unique(ctx: Context) -> Iterator[Finding]:
    counts = Counter(t.id for t in ctx.trials)
    for trial in ctx.trials:
        if counts[trial.id] > 1:
            yield finding("CW305", f"trial id {trial.id!r} is used {counts[trial.id]} times", trial.where.of("id"))


@check("semantics", "CW330", needs=("model", "trials"))
def referenced_files_are_declared(ctx: Context) -> Iterator[Finding]:
    if ctx.model is None:
        return
    model = ctx.model
    declared = {a.path for a in model.artifacts if a.path}
    remote = {a.uri for a in model.artifacts if a.uri and not a.path}  # weights may name one by its `uri`
    if model.trials_table and model.trials_table.path not in declared:
        yield finding("CW330", f"{model.trials_table.path!r} is not declared", ctx.at("/trials_table/path"))
    for i, path in enumerate(model.code.files if model.code else []):
        if path not in declared:
            yield finding("CW330", f"{path!r} is not declared", ctx.at(f"/code/files/{i}"))
    for trial in ctx.trials:
        for run in trial.runs.values():
            for field in ("weights", "curves", "predictions"):
                path = getattr(run.run, field)
                if path is not None and path not in declared and not (field == "weights" and path in remote):
                    yield finding("CW330", f"{path!r} is not declared", run.at(field))


@check("semantics", "CW311", "CW312", needs=("model", "trials"))
def runs_name_declared_frameworks(ctx: Context) -> Iterator[Finding]:
    if ctx.model is None:
        return
    frameworks = set(ctx.model.frameworks)
    for key in ctx.model.architecture.implementations:
        if key not in frameworks:
            yield finding("CW311", f"implementation {key!r} names an undeclared framework",
                          ctx.at(f"/architecture/implementations/{key}"))
    for trial in ctx.trials:
        for key, run in trial.runs.items():
            if key not in frameworks:
                yield finding("CW311", f"run {key!r} of trial {trial.id!r} names an undeclared framework",
                              run.at())
        missing = sorted(frameworks - set(trial.runs))
        if missing:
            yield finding("CW312", f"trial {trial.id!r} has no run for {', '.join(missing)}", trial.where.of("runs"))


@check("semantics", "CW300", needs=("trials",))
def runs_share_hyperparameters(ctx: Context) -> Iterator[Finding]:
    for trial in ctx.trials:
        trial_values = flatten(trial.hyperparameter_values)
        for run in trial.runs.values():
            if run.run.hyperparameters is None:
                continue
            run_values = flatten(hyperparameter_values(run.run.hyperparameters))
            for name, value in sorted(run_values.items()):
                if trial_values.get(name) != value:
                    yield finding("CW300", f"run {run.framework!r} of trial {trial.id!r} has {name}={value!r}, "
                                           f"the trial has {trial_values.get(name)!r}",
                                  run.at("hyperparameters", *name.split(".")))


def _in_space(value: object, dimension: Range | Choice) -> bool:
    if isinstance(dimension, Choice):
        return value in dimension.values
    return isinstance(value, (int, float)) and not isinstance(value, bool) and dimension.low <= value <= dimension.high


@check("semantics", "CW301", "CW320", "CW322", needs=("model", "trials"))
def trials_lie_in_search_space(ctx: Context) -> Iterator[Finding]:
    if ctx.model is None:
        return
    sweep = ctx.model.sweep
    if sweep is None:
        if len(ctx.trials) > 1:
            yield finding("CW320", f"{len(ctx.trials)} trials but no `sweep` says how they were selected", ctx.at(""))
        return
    known = set(hyperparameter_paths())
    extra_allowed = version_tuple(ctx.model.schema_version) >= (1, 2)
    for name in sorted(sweep.search_space):
        if name not in known and not (extra_allowed and EXTRA_PATH.fullmatch(name)):
            yield finding("CW322", f"{name!r} is not a hyperparameter", ctx.at(f"/sweep/search_space/{name}"),
                          hint=f"Known hyperparameters: {', '.join(sorted(known))}"
                               + (", and extra.<name> for those under `extra`." if extra_allowed else
                                  " (schema 1.2 adds extra.<name> for further ones)."))
    for trial in ctx.trials:
        values = flatten(trial.hyperparameter_values)
        for name, dimension in sorted(sweep.search_space.items()):
            key = f"{name}.value" if EXTRA_PATH.fullmatch(name) else name  # extra values are {value[, unit]}
            if key in values and not _in_space(values[key], dimension):
                yield finding("CW301", f"trial {trial.id!r} has {name}={values[key]!r}, outside the search space",
                              trial.where.of("hyperparameters", *name.split(".")))


def nearest_k(accuracy: float, n: int) -> int:
    return round(Fraction(accuracy) * n)  # exact: a float product overflows when a manifest declares a huge N


def chance_ceiling(num_classes: int, n: int) -> float:
    """Accuracies up to three binomial standard deviations above 1/classes are 'at chance'."""
    p = 1.0 / num_classes
    return p + 3.0 * math.sqrt(p * (1 - p) * (1 / n))  # 1 / n, not x / n: a huge int N underflows, never overflows


def is_k_over_n(accuracy: float, n: int) -> bool:
    """Whether a claimed accuracy is k/N for a whole k (within K_OVER_N_TOLERANCE)."""
    return abs(accuracy - nearest_k(accuracy, n) / n) <= K_OVER_N_TOLERANCE


def printed_decimals(accuracy: float) -> int:
    """How many decimals the accuracy was written with: those of its shortest repr (0.8417 -> 4, 1e-05 -> 5)."""
    exponent = Decimal(repr(accuracy)).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def ks_at_printed_precision(accuracy: float, n: int) -> range:
    """Every whole k whose k/N rounds to the accuracy as written: |k/N - a| <= half a unit of its last decimal."""
    value, half = Fraction(repr(accuracy)), Fraction(1, 2 * 10 ** printed_decimals(accuracy))
    low, high = (value - half) * n, (value + half) * n
    return range(max(0, math.ceil(low)), min(n, math.floor(high)) + 1)


def identified_k(accuracy: float, n: int) -> int | None:
    """The k a claimed accuracy stands for: k/N itself (within K_OVER_N_TOLERANCE), or the only k/N that rounds to
    it at its printed precision (0.8417 for 303/360); None when it is neither (or could be several k)."""
    if is_k_over_n(accuracy, n):
        return nearest_k(accuracy, n)
    candidates = ks_at_printed_precision(accuracy, n)
    return candidates[0] if len(candidates) == 1 else None


@check("semantics", "CW303", "CW304", "CW307", "CW327", "CW332", needs=("model", "trials"))
def accuracies_are_counts(ctx: Context) -> Iterator[Finding]:
    if ctx.model is None:
        return
    model = ctx.model
    n = model.dataset.test_size
    ceiling = chance_ceiling(model.architecture.num_classes, n)
    declared_not_counts: Counter[str] = Counter()  # framework key -> runs whose declared measure is not k/N
    for trial in ctx.trials:
        for run in trial.runs.values():
            accuracy = run.run.test_accuracy
            where = run.at("test_accuracy")
            if not 0.0 <= accuracy <= 1.0:
                yield finding("CW303", f"accuracy {accuracy!r} is outside [0, 1]", where)
                continue
            if not is_k_over_n(accuracy, n):
                if run.framework in model.frameworks and model.accuracy_measure_of(run.framework) != "k-over-n":
                    declared_not_counts[run.framework] += 1  # declared: one warning per key below, not per run
                elif (k := identified_k(accuracy, n)) is not None:
                    yield finding("CW332", f"accuracy {accuracy!r} is {k}/{n} = {k / n!r} rounded to "
                                           f"{printed_decimals(accuracy)} decimals (no other k/{n} rounds to it): "
                                           f"read as {k}/{n}", where, hint=f"Write the exact value, {k / n!r}.")
                else:
                    k = nearest_k(accuracy, n)
                    candidates = ks_at_printed_precision(accuracy, n)
                    could_be = (f"; at {printed_decimals(accuracy)} decimals it could be any of "
                                f"{candidates[0]}..{candidates[-1]}/{n}" if len(candidates) > 1 else "")
                    yield finding("CW304", f"accuracy {accuracy!r} is not k/{n}; the nearest is {k}/{n} = {k / n!r}"
                                           f"{could_be}",
                                  where, hint=f"If {k} of {n} test examples were correct, write {k / n!r}; "
                                              "otherwise count correct predictions over the whole test split.")
                    continue
            if accuracy <= ceiling:
                yield finding("CW307", f"run {run.framework!r} of trial {trial.id!r} has accuracy {accuracy:.4f}, "
                                       f"at chance for {model.architecture.num_classes} classes "
                                       f"(at most {ceiling:.4f})", where)
    for key, count in sorted(declared_not_counts.items()):
        runs = sum(1 for trial in ctx.trials if key in trial.runs)
        measure = model.accuracy_measure_of(key).value
        yield finding("CW327", f"{count} of {runs} {key!r} runs have accuracies that are not k/{n} "
                               f"(declared accuracy_measure: {measure})", ctx.at(f"/frameworks/{key}/accuracy_measure"))


def _curve_findings(run: ResolvedRun, table: Table, epochs: int | None) -> Iterator[Finding]:
    missing = [c for c in CURVE_REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        yield finding("CW313", f"the curve has no {', '.join(missing)} column", Location(table.file, 1))
        return
    trained = run.run.epochs_trained
    if trained is not None and (epochs is None or trained <= epochs):
        if len(table.rows) != trained:
            yield finding("CW302", f"the curve has {len(table.rows)} epochs, the run trained {trained} "
                                   "(its `epochs_trained`)", Location(table.file),
                          hint="Write one row per epoch trained, or fix the run's `epochs_trained`.")
    elif epochs is not None and len(table.rows) != epochs:
        stopped = (" If the run stopped early, say so with `epochs_trained` (schema 1.2)."
                   if len(table.rows) < epochs else "")
        yield finding("CW302", f"the curve has {len(table.rows)} epochs, the run trained {epochs}",
                      Location(table.file), hint=f"Write one row per epoch, or fix the trial's `epochs`.{stopped}")
    loss_columns = [c for c in table.columns if c == "loss" or c.endswith("_loss")]
    for index, row in enumerate(table.rows):
        location = Location(table.file, table.line_of(index), row=index + 1)
        for column in ["epoch", *loss_columns]:
            cell = row.get(column)
            try:
                value = float(cell) if cell is not None else math.nan
            except (TypeError, ValueError):
                yield finding("CW314", f"{column} value {cell!r} is not a number",
                              Location(table.file, table.line_of(index), row=index + 1, column=column))
                continue
            if column == "epoch":
                if value != index + 1:
                    yield finding("CW314", f"epoch is {cell!r}, expected {index + 1}", location,
                                  hint="Number epochs 1, 2, 3, ... one row each, in order.")
            elif not math.isfinite(value):
                yield finding("CW308", f"{column} is {cell!r} at epoch {index + 1}", location)
            elif value > EXPLODING_LOSS:
                yield finding("CW309", f"{column} is {value:.3g} at epoch {index + 1}", location)


@check("semantics", "CW302", "CW308", "CW309", "CW313", "CW314", "CW315", needs=("trials", "verified"))
def curves_match_training(ctx: Context) -> Iterator[Finding]:
    done: set[str] = set()
    for trial in ctx.trials:
        epochs = trial.hyperparameters.epochs if trial.hyperparameters else None
        for run in trial.runs.values():
            path = run.run.curves
            if path is None or path in done:
                continue
            done.add(path)
            try:
                table = read_verified_table(ctx, path, "csv")
            except TableError as exc:
                yield _table_problem(exc, path)
                continue
            if table is not None:
                yield from _curve_findings(run, table, epochs)


@check("semantics", "CW331", needs=("trials",))
def epochs_trained_within_epochs(ctx: Context) -> Iterator[Finding]:
    """Early stopping trains fewer epochs than planned, never more."""
    for trial in ctx.trials:
        epochs = trial.hyperparameters.epochs if trial.hyperparameters else None
        for _, run in sorted(trial.runs.items()):
            trained = run.run.epochs_trained
            if trained is not None and epochs is not None and trained > epochs:
                yield finding("CW331", f"run {run.framework!r} of trial {trial.id!r} has epochs_trained {trained}, "
                                       f"more than the trial's {epochs} epochs", run.at("epochs_trained"))


@check("semantics", "CW319", "CW324", "CW325", needs=("model", "verified"))
def license_is_accepted(ctx: Context) -> Iterator[Finding]:
    if ctx.model is None:
        return
    verdict = judge_license(ctx.model.submission.license)
    where = ctx.at("/submission/license")
    if verdict.problem is not None:
        yield finding("CW319", verdict.problem, where)
        return
    if verdict.canonical != verdict.expression:
        yield finding("CW325", f"{verdict.expression!r} is written {verdict.canonical!r} in SPDX", where,
                      hint=f"Write `license: {verdict.canonical}`.")
    texts = {a.path: a for a in ctx.model.artifacts if a.path is not None}
    for reference in verdict.references:
        path = license_text_path(reference)
        text = texts.get(path)
        if text is None or text.size == 0:  # stage 2 verified that a declared text is the declared bytes
            problem = "is not declared" if text is None else "is empty"
            yield finding("CW324", f"the text of {reference}, {path}, {problem}", where,
                          hint=f"Add the text of {reference} as {path} and declare it in `artifacts`.")


# Host names nobody else can resolve: reserved for local networks, tests and examples (RFC 6761, RFC 6762,
# RFC 8375, ICANN's .internal). The schema already refuses URLs that are not http(s) or not well-formed.
_LOCAL_NAMES = ("localhost", "local", "internal", "home.arpa", "test", "invalid", "example")


def unreachable_host(url: str) -> str | None:
    """Why readers could not reach `url`'s host (a local name, a single label, a non-public address), or None."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if "." not in host:
            return f"{host!r} is a single-label host name, which only a local network resolves"
        if any(host == name or host.endswith("." + name) for name in _LOCAL_NAMES):
            return f"{host!r} is a name reserved for local networks or tests"
        return None
    return None if address.is_global else f"{host} is not a public address"


@check("semantics", "CW328", needs=("model",))
def references_resolve(ctx: Context) -> Iterator[Finding]:
    if ctx.model is None:
        return
    for i, ref in enumerate(ctx.model.submission.references):
        problem = unreachable_host(ref.url) if ref.url is not None else None
        if problem is not None:
            yield finding("CW328", f"{ref.url!r}: {problem}", ctx.at(f"/submission/references/{i}/url"))


@check("semantics", "CW317", "CW318", "CW323", needs=("model",))
def dataset_matches_registry(ctx: Context) -> Iterator[Finding]:
    if ctx.model is None:
        return
    dataset, architecture = ctx.model.dataset, ctx.model.architecture
    info = dataset_info(dataset.name)
    if info is None:
        yield finding("CW317", f"dataset {dataset.name!r} is not registered", ctx.at("/dataset/name"))
    else:
        size = info.split_sizes.get(dataset.split)
        if size is not None and size != dataset.test_size:
            yield finding("CW318", f"{dataset.name} {dataset.split} split has {size} examples, declared "
                                   f"{dataset.test_size}", ctx.at("/dataset/test_size"))
    if dataset.label_names is not None and len(dataset.label_names) != architecture.num_classes:
        yield finding("CW323", f"{len(dataset.label_names)} label names for {architecture.num_classes} classes",
                      ctx.at("/dataset/label_names"))


@check("semantics", "CW310", needs=("manifest", "model", "verified"))
def no_secrets_in_data(ctx: Context) -> Iterator[Finding]:
    if ctx.manifest is not None and ctx.manifest.data is not None:
        for pointer, key, value in walk_strings(ctx.manifest.data):
            kind = secret_in_value(value, key)
            if kind:
                yield finding("CW310", f"this value looks like {kind}", ctx.at(pointer))
    if ctx.model is None:
        return
    for path in sorted(p for p in ctx.verified if _table_format(p)):
        try:
            table = read_verified_table(ctx, path, _table_format(path) or "csv")
        except TableError:
            continue  # unreadable tables are reported by the checks that need them
        if table is not None:
            yield from _table_secrets(table)


def _table_format(path: str) -> str | None:
    return "csv" if path.endswith(".csv") else "parquet" if path.endswith(".parquet") else None


def _table_secrets(table: Table) -> Iterator[Finding]:
    for column in table.columns:
        if is_secret_name(column) and any(row.get(column) not in (None, "") for row in table.rows):
            yield finding("CW310", f"column {column!r} holds credentials", Location(table.file, 1, column=column))
    for index, row in enumerate(table.rows):
        for column, cell in row.items():
            if isinstance(cell, str):
                kind = secret_in_value(cell, column)
                if kind:
                    yield finding("CW310", f"this cell looks like {kind}",
                                  Location(table.file, table.line_of(index), row=index + 1, column=column))


# Declared files read as text for credentials: by declared format, or by name whatever the format says (a
# script declared as `text` is still a script). Tables are scanned cell by cell above, and as text here only
# when they cannot be read as tables; weights are binary.
TEXT_FORMATS = frozenset({"python", "text", "markdown", "json", "yaml"})
TEXT_SUFFIXES = frozenset({
    ".py", ".pyi", ".ipynb", ".sh", ".bash", ".zsh", ".ps1", ".bat", ".r", ".jl", ".m", ".js", ".ts", ".lua",
    ".c", ".h", ".cc", ".cpp", ".hpp", ".cu", ".java", ".go", ".rs", ".txt", ".md", ".rst", ".tex", ".log",
    ".json", ".jsonl", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".conf", ".env", ".properties", ".csv", ".tsv",
})
TEXT_NAMES = frozenset({".env", ".netrc", ".npmrc", ".pypirc", "Makefile", "Dockerfile", "credentials"})


def _is_text(path: str, fmt: str) -> bool:
    posix = PurePosixPath(path)  # its suffix is the last one, and a dotfile's leading dot is none (".hidden")
    name, suffix = posix.name, posix.suffix.lower()
    return fmt in TEXT_FORMATS or suffix in TEXT_SUFFIXES or name in TEXT_NAMES or name.startswith(".env.")


def _scanned_as_table(ctx: Context, path: str) -> bool:
    """Whether `no_secrets_in_data` scanned the file cell by cell. An unreadable table was not: it is still text
    that may hold a key (a CSV with a stray line; a file named .parquet but declared, and written, as text)."""
    fmt = _table_format(path)
    if fmt is None or path not in ctx.verified:
        return False
    try:
        read_verified_table(ctx, path, fmt)
    except TableError:
        return False
    return True


@check("semantics", "CW310", "CW326", needs=("model", "verified"))
def no_secrets_in_text_files(ctx: Context) -> Iterator[Finding]:
    """Code, notes and configs are where `wandb.login(key=...)` and `HF_TOKEN=...` usually are."""
    if ctx.model is None:
        return
    formats = {a.path: a.format.value for a in ctx.model.artifacts if a.path is not None}
    for path in sorted(p for p in ctx.verified if p in formats and _is_text(p, formats[p])):
        if _scanned_as_table(ctx, path):
            continue
        ctx.looking_at = path
        try:
            raw = read_confined(ctx.root, path, ctx.limits.secret_scan_bytes)
        except UnsafeFile as exc:  # too large, or changed since stage 2 verified it: not scanned, and said so
            yield finding("CW326", f"{path!r} was not scanned for credentials: {exc}", Location(path))
            continue
        yield from _text_secrets(path, raw)


def _text_secrets(path: str, raw: bytes) -> Iterator[Finding]:
    for number, line in enumerate(raw.split(b"\n"), start=1):
        for match in secrets_in_text(line.decode("utf-8", errors="replace")):
            # The credential itself never reaches the report (which is published): its first characters at most.
            yield finding("CW310", f"this line holds what looks like {match.kind} ({match.masked()})",
                          Location(path, number))


@check("semantics", "CW321", needs=("model",))
def training_code_is_archived(ctx: Context) -> Iterator[Finding]:
    if ctx.model is not None and ctx.model.code is None:
        yield finding("CW321", "no `code` section", ctx.at(""))
