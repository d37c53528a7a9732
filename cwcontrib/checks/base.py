"""What every check shares: the validation context and the registry of checks by stage."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cwcontrib.codes import REGISTRY
from cwcontrib.findings import Finding, Location
from cwcontrib.limits import DEFAULT_LIMITS, Limits
from cwcontrib.manifest import join_pointer, pointer_location
from cwcontrib.report_sections import ReportSections

if TYPE_CHECKING:
    from cwcontrib.manifest import LoadedManifest
    from cwcontrib.models import Manifest
    from cwcontrib.safefs import TreeIndex
    from cwcontrib.trials import ResolvedTrial

STAGES = ("manifest", "files", "semantics", "weights", "evaluation")


class ProgressSink:
    """Receives progress of long work (hashing); the CLI plugs a rich progress bar in."""

    def start(self, description: str, total: int) -> None:
        """A task of `total` units begins."""

    def advance(self, amount: int) -> None:
        """`amount` more units are done."""

    def finish(self) -> None:
        """The current task is over."""


@dataclass(frozen=True)
class Options:
    """How far validation goes: re-evaluation is sampled unless `all_trials`, and can be switched off."""

    reeval: bool = True
    sample: int = 2  # trials re-evaluated (every run of each), drawn with `seed` mixed with the content digest
    all_trials: bool = False
    device: str = "auto"  # "cpu", "cuda" or "auto"
    data_dir: Path | None = None
    seed: str | None = None  # hex, fixed after submission by the runner; else $CWCONTRIB_SEED, else os.urandom
    fetch: bool = False  # download weights declared by URI only (HTTPS, bounded, sha256-checked, cached)
    workers: bool | None = False  # torch and TensorFlow in worker processes; None: unless already imported (CLI)


@dataclass
class Context:
    """Everything the checks of one validation share. Earlier stages fill what later ones read."""

    root: Path
    limits: Limits = DEFAULT_LIMITS
    progress: ProgressSink = field(default_factory=ProgressSink)
    options: Options = field(default_factory=Options)
    manifest: LoadedManifest | None = None
    model: Manifest | None = None
    tree: TreeIndex | None = None
    verified: set[str] = field(default_factory=set)
    # Weights artifacts read once by the files stage: each verified file's tensor summaries (name -> shape,
    # dtype, non-finite count), or what its reader raised, for the weights stage to report.
    weights_read: dict[str, Any] = field(default_factory=dict)
    trials: list[ResolvedTrial] = field(default_factory=list)
    tables: dict[str, Any] = field(default_factory=dict)  # path -> Table or TableError, read once
    references: dict[str, Any] = field(default_factory=dict)  # framework key -> checks.weights.Reference
    weights_ok: set[tuple[str, str]] = field(default_factory=set)  # (trial id, framework key) loaded strictly
    fetched: dict[str, tuple[Path, str]] = field(default_factory=dict)  # uri -> (cache folder, file name), verified
    results: ReportSections = field(default_factory=ReportSections)  # what stages 4-5 report beyond findings
    looking_at: str = ""  # the file a check is reading, named by an internal-error finding
    workers: Any = None  # a cwcontrib.workers.WorkerPool when frameworks work in worker processes, else None

    @property
    def manifest_file(self) -> str:
        return self.manifest.file if self.manifest else "."

    def at(self, pointer: str) -> Location:
        """The manifest location of a JSON pointer, with its line when known."""
        return pointer_location(self.manifest, pointer)


CheckFunction = Callable[[Context], Iterable[Finding]]
CONTEXT_FIELDS = frozenset(f.name for f in fields(Context))


# Codes any check may emit without declaring them: CW001 is a check's report of its own failure (the pipeline
# emits it too, for a check that raised or emitted a code it did not declare).
SHARED_CODES = frozenset({"CW001"})

# Set to "1" (tests/conftest.py does) to make a check that emits an undeclared code raise UndeclaredCode instead
# of being reported as CW001: the test that exercised it fails loudly, at the check that did it.
STRICT_CODES_VARIABLE = "CWCONTRIB_STRICT_CODES"


def strict_codes() -> bool:
    return os.environ.get(STRICT_CODES_VARIABLE) == "1"


class UndeclaredCode(AssertionError):
    """A check emitted a code its `@check(...)` does not declare (raised only in strict mode)."""


@dataclass(frozen=True)
class Check:
    stage: str
    name: str
    codes: tuple[str, ...]
    run: CheckFunction
    needs: tuple[str, ...] = ()  # Context fields it reads that a check of the same or an earlier stage fills
    provides: tuple[str, ...] = ()  # Context fields it fills

    def declares(self, code: str) -> bool:
        return code in self.codes or code in SHARED_CODES


CHECKS: list[Check] = []


def check(stage: str, *codes: str, needs: tuple[str, ...] = (), provides: tuple[str, ...] = ()
          ) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check under its stage, naming every code it can emit, the Context fields it reads that other
    checks fill (`needs`) and those it fills (`provides`): the order of checks follows from them."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage}")
    unknown_fields = [name for name in (*needs, *provides) if name not in CONTEXT_FIELDS]
    if unknown_fields:
        raise ValueError(f"not Context fields: {unknown_fields}")
    unknown = [c for c in codes if c not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown finding codes {unknown}")
    removed = [c for c in codes if not REGISTRY[c].active]
    if removed:
        raise ValueError(f"removed finding codes {removed}: emit what replaced them")
    foreign = [c for c in codes if REGISTRY[c].stage != stage and c not in SHARED_CODES]
    if foreign:
        raise ValueError(f"codes {foreign} belong to another stage than {stage}: a code has one stage")

    def register(func: CheckFunction) -> CheckFunction:
        CHECKS.append(Check(stage=stage, name=func.__name__, codes=codes, run=func, needs=needs, provides=provides))
        return func

    return register


def checks_of(stage: str) -> list[Check]:
    """The checks of a stage in the order their needs impose, ties broken by name: never the order in which
    modules happen to define them (as a linter's rules, each check may be moved or added anywhere)."""
    return order_checks(CHECKS, stage)


def order_checks(registered: Iterable[Check], stage: str) -> list[Check]:
    everything = sorted(registered, key=lambda c: (STAGES.index(c.stage), c.name))
    pending = [c for c in everything if c.stage == stage]
    earlier = {name for c in everything if STAGES.index(c.stage) < STAGES.index(stage) for name in c.provides}
    providers = {name: {c.name for c in pending if name in c.provides} for c in pending for name in c.needs}
    for c in pending:
        missing = [name for name in c.needs if not providers[name] - {c.name} and name not in earlier]
        if missing:
            raise ValueError(f"check {c.name} needs {missing}, which no check of its or an earlier stage provides")
    ordered: list[Check] = []
    while pending:
        done = {c.name for c in ordered}
        ready = [c for c in pending if all(providers[name] - {c.name} <= done for name in c.needs)]
        if not ready:
            raise ValueError(f"checks {[c.name for c in pending]} need each other: no order satisfies them")
        ordered.append(ready[0])  # the first by name among those whose needs are met
        pending.remove(ready[0])
    return ordered


def walk_strings(data: Any, pointer: str = "") -> Iterable[tuple[str, str, str]]:
    """Yield (pointer, key, string) for every string value in plain JSON-like data, iteratively."""
    pending: list[tuple[Any, str, str]] = [(data, pointer, "")]
    while pending:
        value, here, key = pending.pop()
        if isinstance(value, str):
            yield here, key, value
        elif isinstance(value, dict):
            for k, v in value.items():
                pending.append((v, join_pointer(here, k), str(k)))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                pending.append((v, join_pointer(here, i), key))
