"""Per-submission acknowledgements (schema 1.1): a warning the contributor expects, by code and location, with a
reason, as ruff's `noqa` or conda-forge's lint hints. An acknowledged warning stays in the report, marked; an
acknowledgement of an error, or of nothing, is itself a finding."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from cwcontrib.codes import REGISTRY, finding
from cwcontrib.findings import Finding, Location, Severity
from cwcontrib.manifest import join_pointer
from cwcontrib.models import Acknowledgement, Manifest
from cwcontrib.trials import ResolvedTrial

TRIAL_PREFIX = "trials/"


@dataclass(frozen=True)
class _Scope:
    """What one acknowledgement's `location` covers."""

    files: frozenset[str] = frozenset()  # every finding in these files
    manifest_pointers: tuple[str, ...] = ()  # manifest findings at or below these pointers
    table_rows: frozenset[tuple[str, int]] = frozenset()  # (table file, 1-based row)

    def covers(self, where: Location, manifest_file: str) -> bool:
        if where.file in self.files:
            return True
        if where.row is not None and (where.file, where.row) in self.table_rows:
            return True
        pointer = where.pointer
        return where.file == manifest_file and pointer is not None and any(
            pointer == p or pointer.startswith(p + "/") for p in self.manifest_pointers)


def _trial_scope(trial: ResolvedTrial) -> _Scope:
    where = trial.where
    files = frozenset(path for run in trial.runs.values() for path in (run.run.weights, run.run.curves) if path)
    if where.table is not None:
        return _Scope(files=files, table_rows=frozenset({(where.table.file, where.row + 1)}))
    return _Scope(files=files, manifest_pointers=(where.pointer,))


def scope_of(location: str, trials: Iterable[ResolvedTrial]) -> _Scope:
    """`trials/<id>`: the trial (its manifest entry or table row) and its runs' files; `/...`: a JSON pointer into
    the manifest and everything below it; anything else: a file of the submission."""
    if location.startswith(TRIAL_PREFIX):
        trial_id = location.removeprefix(TRIAL_PREFIX)
        scopes = [_trial_scope(t) for t in trials if t.id == trial_id]
        return _Scope(files=frozenset().union(*(s.files for s in scopes)),
                      manifest_pointers=tuple(p for s in scopes for p in s.manifest_pointers),
                      table_rows=frozenset().union(*(s.table_rows for s in scopes)))
    if location.startswith("/"):
        return _Scope(manifest_pointers=(location.rstrip("/"),))
    return _Scope(files=frozenset({location}))


def of_an_error(ack: Acknowledgement) -> bool:
    entry = REGISTRY.get(ack.code)
    return entry is not None and entry.severity is Severity.ERROR


def apply_acknowledgements(model: Manifest | None, trials: list[ResolvedTrial], findings: list[Finding],
                           manifest_file: str, locate: Callable[[str], Location]) -> list[Finding]:
    """The findings with every acknowledged warning marked (its `acknowledged` reason set), plus CW116 for each
    acknowledgement that matches no finding. (An acknowledgement of an error is CW115, from the manifest stage.)"""
    if model is None or not model.acknowledgements:
        return findings
    marked = list(findings)
    problems: list[Finding] = []
    for index, ack in enumerate(model.acknowledgements):
        if of_an_error(ack):
            continue
        here = join_pointer("/acknowledgements", index)
        scope = scope_of(ack.location, trials)
        matched = [i for i, f in enumerate(marked) if f.code == ack.code and scope.covers(f.location, manifest_file)]
        if not matched:
            known = "" if ack.code in REGISTRY else f" ({ack.code} is not a cwcontrib code)"
            problems.append(finding("CW116", f"no {ack.code} finding at {ack.location!r}{known}: remove the "
                                             "acknowledgement, or fix its code or location",
                                    locate(join_pointer(here, "location"))))
        for i in matched:
            if marked[i].acknowledged is None:  # the first acknowledgement that covers a finding gives its reason
                marked[i] = replace(marked[i], acknowledged=ack.reason)
    return marked + problems
