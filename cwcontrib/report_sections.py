"""The JSON report's sections beyond findings (docs/report.md), typed.

Stage 4 and stage 5 checks fill these fields of `Context.results`; `ReportSections.as_dict` is the one place they
become the report's top-level keys, so a check cannot add a key the report does not document, and a reader in
this process (the pipeline's stage status, the catalog's extract, verification records) reads typed values
instead of looking up strings in a free dict. A field left at None is absent from the report; an empty one is
present and empty, as before these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cwcontrib.architectures.fingerprint import Fingerprint
    from cwcontrib.architectures.verdict import PairVerdict
    from cwcontrib.checks.evaluation import Seed
    from cwcontrib.evaluate import Evaluation
    from cwcontrib.predictions import Agreement
    from cwcontrib.statistics import McNemar


@dataclass(frozen=True)
class FrameworkPairVerdict:
    """Stage 4: whether the architectures of two framework keys are equivalent."""

    frameworks: tuple[str, str]
    verdict: PairVerdict

    def as_dict(self) -> dict[str, Any]:
        return {"frameworks": list(self.frameworks), **self.verdict.as_dict()}


@dataclass(frozen=True)
class NotEvaluated:
    """A run absent from re-evaluation, with the first reason that applies (docs/report.md lists them)."""

    trial: str
    framework: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"trial": self.trial, "framework": self.framework, "reason": self.reason}


@dataclass(frozen=True)
class DatasetUsed:
    name: str
    sha256: str
    n: int

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "n": self.n}


@dataclass(frozen=True)
class SampleDrawn:
    trials: tuple[str, ...]  # the trials drawn, by id
    of: int  # how many trials could have been drawn
    all: bool  # --all: every trial, no sample

    def as_dict(self) -> dict[str, Any]:
        return {"trials": list(self.trials), "of": self.of, "all": self.all}


@dataclass(frozen=True)
class Tolerance:
    examples: int
    rule: str

    def as_dict(self) -> dict[str, Any]:
        return {"examples": self.examples, "rule": self.rule}


@dataclass(frozen=True)
class RunResult:
    """A re-evaluated run, and how its submitted predictions compare with the re-evaluation's when it has some."""

    evaluation: Evaluation
    submitted_predictions: Agreement | None = None

    def as_dict(self) -> dict[str, Any]:
        entry = self.evaluation.as_dict()
        if self.submitted_predictions is not None:
            entry["submitted_predictions"] = self.submitted_predictions.as_dict()
        return entry


@dataclass(frozen=True)
class PairResult:
    """Both runs of a trial re-evaluated: how far apart the frameworks are on the same examples."""

    trial: str
    frameworks: tuple[str, str]
    claimed_gap: float
    measured_gap: float
    disagreements: int
    disagreement_rate: float
    mcnemar: McNemar

    def as_dict(self) -> dict[str, Any]:
        return {"trial": self.trial, "frameworks": list(self.frameworks), "claimed_gap": self.claimed_gap,
                "measured_gap": self.measured_gap, "disagreements": self.disagreements,
                "disagreement_rate": self.disagreement_rate, "mcnemar": self.mcnemar.as_dict()}


@dataclass(frozen=True)
class EvaluationSection:
    """Stage 5. Only `content_digest`, `not_evaluated` and `reason` when it stopped before drawing a sample."""

    content_digest: str
    not_evaluated: tuple[NotEvaluated, ...]
    reason: str | None = None  # why no run was evaluated; None when at least one was
    seed: Seed | None = None
    sample: SampleDrawn | None = None
    dataset: DatasetUsed | None = None
    tolerance: Tolerance | None = None
    runs: tuple[RunResult, ...] | None = None
    pairs: tuple[PairResult, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        section: dict[str, Any] = {"content_digest": self.content_digest}
        if self.seed is not None:
            section["seed"] = self.seed.as_dict(self.content_digest)
        parts = {"dataset": self.dataset, "sample": self.sample, "tolerance": self.tolerance}
        section |= {name: part.as_dict() for name, part in parts.items() if part is not None}
        if self.runs is not None:
            section["runs"] = [run.as_dict() for run in self.runs]
        if self.pairs is not None:
            section["pairs"] = [pair.as_dict() for pair in self.pairs]
        section["not_evaluated"] = [absent.as_dict() for absent in self.not_evaluated]
        if self.reason is not None:
            section["reason"] = self.reason
        return section


@dataclass
class ReportSections:
    """Everything a validation reports besides its findings, stages and counts."""

    architectures: dict[str, Fingerprint] | None = None  # stage 4: framework key -> reference architecture
    pair_verdicts: list[FrameworkPairVerdict] | None = None  # stage 4, ordered by framework keys
    onnx_graphs: dict[str, Fingerprint] = field(default_factory=dict)  # stage 4: graph path -> its architecture
    evaluation: EvaluationSection | None = None  # stage 5
    skipped_stages: dict[str, str] = field(default_factory=dict)  # stage -> why it did not run or did nothing

    def as_dict(self) -> dict[str, Any]:
        """The report's top-level keys these sections add, in sorted order (docs/report.md)."""
        sections: dict[str, Any] = {}
        if self.architectures is not None:
            sections["architectures"] = {key: print_.as_dict() for key, print_ in self.architectures.items()}
        if self.evaluation is not None:
            sections["evaluation"] = self.evaluation.as_dict()
        if self.onnx_graphs:
            sections["onnx_graphs"] = {path: print_.as_dict() for path, print_ in self.onnx_graphs.items()}
        if self.pair_verdicts is not None:
            sections["pair_verdicts"] = [verdict.as_dict() for verdict in self.pair_verdicts]
        if self.skipped_stages:
            sections["skipped_stages"] = dict(self.skipped_stages)
        return sections
