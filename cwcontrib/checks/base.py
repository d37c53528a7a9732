"""What every check shares: the validation context and the registry of checks by stage."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cwcontrib.codes import REGISTRY
from cwcontrib.findings import Finding, Location
from cwcontrib.limits import DEFAULT_LIMITS, Limits
from cwcontrib.manifest import join_pointer

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
    trials: list[ResolvedTrial] = field(default_factory=list)
    tables: dict[str, Any] = field(default_factory=dict)  # path -> Table or TableError, read once
    references: dict[str, Any] = field(default_factory=dict)  # framework key -> checks.weights.Reference
    weights_ok: set[tuple[str, str]] = field(default_factory=set)  # (trial id, framework key) loaded strictly
    results: dict[str, Any] = field(default_factory=dict)  # report sections beyond findings
    looking_at: str = ""  # the file a check is reading, named by an internal-error finding

    @property
    def manifest_file(self) -> str:
        return self.manifest.file if self.manifest else "."

    def at(self, pointer: str) -> Location:
        """The manifest location of a JSON pointer, with its line when known."""
        if self.manifest is None:
            return Location(pointer=pointer)
        return self.manifest.location(pointer)


CheckFunction = Callable[[Context], Iterable[Finding]]


@dataclass(frozen=True)
class Check:
    stage: str
    name: str
    codes: tuple[str, ...]
    run: CheckFunction


CHECKS: list[Check] = []


def check(stage: str, *codes: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check under its stage, naming every code it can emit."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage}")
    unknown = [c for c in codes if c not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown finding codes {unknown}")
    removed = [c for c in codes if not REGISTRY[c].active]
    if removed:
        raise ValueError(f"removed finding codes {removed}: emit what replaced them")

    def register(func: CheckFunction) -> CheckFunction:
        CHECKS.append(Check(stage=stage, name=func.__name__, codes=codes, run=func))
        return func

    return register


def checks_of(stage: str) -> list[Check]:
    return [c for c in CHECKS if c.stage == stage]


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
