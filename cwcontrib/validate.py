"""The validation pipeline: stages in order, each check isolated, the result a `Report`."""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cwcontrib import __version__
from cwcontrib.acknowledgements import apply_acknowledgements
from cwcontrib.checks import STAGES, Context, checks_of
from cwcontrib.checks.base import Check, Options, ProgressSink, UndeclaredCode, strict_codes
from cwcontrib.codes import finding
from cwcontrib.findings import Finding, Location, Severity, sorted_findings
from cwcontrib.limits import DEFAULT_LIMITS, Limits
from cwcontrib.models import SCHEMA_VERSION

REPORT_FORMAT_VERSION = "1"
# Codes the pipeline emits itself rather than a check: CW001 (a check failed or emitted an undeclared code, or a
# stage left no submission), CW110 (an empty manifest), CW116 (an acknowledgement that matches no finding).
PIPELINE_CODES = frozenset({"CW001", "CW110", "CW116"})


class ListedFindings(list[Finding]):
    """The findings a report lists (at most the per-code cap of each code, in report order), and the true
    number of findings per code, severity and file, listed or not (and of those, how many are acknowledged)."""

    def __init__(self, listed: Iterable[Finding] = (), totals: Counter[tuple[str, Severity, str]] | None = None,
                 acknowledged: Counter[tuple[str, Severity, str]] | None = None):
        super().__init__(listed)
        self.totals = totals if totals is not None else count_findings(self)
        self.acknowledged = acknowledged if acknowledged is not None else count_findings(self, acknowledged=True)


def count_findings(findings: Iterable[Finding], acknowledged: bool = False) -> Counter[tuple[str, Severity, str]]:
    """Findings per (code, severity, file); only the acknowledged ones when `acknowledged`."""
    return Counter((f.code, f.severity, f.location.file) for f in findings
                   if not acknowledged or f.acknowledged is not None)


@dataclass
class Report:
    submission: str  # the submission id, or the folder name when the manifest is unreadable
    findings: list[Finding]  # what is listed; a `ListedFindings` also knows what was left out
    stages: dict[str, str]  # stage -> "passed" | "failed" | "skipped"
    trials: int = 0
    runs: int = 0
    # The JSON form of the typed sections (report_sections.ReportSections.as_dict), what reporters render; a
    # report read back from JSON (github/report.py) carries only the parts it renders, checked.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def totals(self) -> Counter[tuple[str, Severity, str]]:
        """The true number of findings per (code, severity, file): the per-code cap limits only the list."""
        if isinstance(self.findings, ListedFindings):
            return self.findings.totals
        return count_findings(self.findings)

    @property
    def acknowledged(self) -> Counter[tuple[str, Severity, str]]:
        """Per (code, severity, file), how many of the counted warnings the manifest acknowledges."""
        if isinstance(self.findings, ListedFindings):
            return self.findings.acknowledged
        return count_findings(self.findings, acknowledged=True)

    @property
    def errors(self) -> list[Finding]:
        """The errors listed (see `error_count` for how many there are)."""
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        """The warnings listed (see `warning_count` for how many there are)."""
        return [f for f in self.findings if f.severity is Severity.WARNING]

    @property
    def error_count(self) -> int:
        return sum(n for (_, severity, _), n in self.totals.items() if severity is Severity.ERROR)

    @property
    def warning_count(self) -> int:
        return sum(n for (_, severity, _), n in self.totals.items() if severity is Severity.WARNING)

    @property
    def by_code(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for (code, _, _), n in self.totals.items():
            counts[code] += n
        return dict(sorted(counts.items()))

    @property
    def truncated(self) -> dict[str, int]:
        """Per code, how many findings are counted but not listed (only codes over the cap)."""
        listed = Counter(f.code for f in self.findings)
        return {code: n - listed[code] for code, n in self.by_code.items() if n > listed[code]}

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def as_dict(self) -> dict[str, Any]:
        """The documented JSON report (docs/report.md); deterministic for the same input."""
        return {
            "report_format": REPORT_FORMAT_VERSION,
            "tool": {"name": "cwcontrib", "version": __version__},
            "schema_version": SCHEMA_VERSION,
            "submission": self.submission,
            "valid": self.ok,
            "summary": {
                "errors": self.error_count,
                "warnings": self.warning_count,
                "trials": self.trials,
                "runs": self.runs,
                "by_code": self.by_code,
                "listed": len(self.findings),
                "truncated": self.truncated,
                "acknowledged": sum(self.acknowledged.values()),
            },
            "stages": self.stages,
            "findings": [f.as_dict() for f in self.findings],
            **self.extra,
        }


def _cap_per_code(findings: list[Finding], limit: int) -> ListedFindings:
    """List at most `limit` findings per code (the first in report order), counting all of them."""
    seen: Counter[str] = Counter()
    listed: list[Finding] = []
    for f in findings:
        seen[f.code] += 1
        if seen[f.code] <= limit:
            listed.append(f)
    return ListedFindings(listed, count_findings(findings), count_findings(findings, acknowledged=True))


def _run_check(ctx: Context, registered: Check) -> list[Finding]:
    found: list[Finding] = []
    ctx.looking_at = ctx.manifest_file if ctx.manifest else "."
    try:
        found.extend(registered.run(ctx))  # what it yielded before a failure is kept
    except Exception as exc:  # a failing check must surface as a finding, never as a traceback
        message = f"check {registered.name} failed: {type(exc).__name__}: {exc}"
        found.append(finding("CW001", message, Location(ctx.looking_at)))
    return found


def _declared_only(registered: Check, found: list[Finding]) -> list[Finding]:
    """A check emits only the codes it declares (as ruff's rules): `explain`, the docs and the stage of a code
    are only true if so. An undeclared code is cwcontrib's bug, so it becomes CW001 naming the check (strict
    mode, for tests: UndeclaredCode is raised)."""
    kept: list[Finding] = []
    for f in found:
        if registered.declares(f.code):
            kept.append(f)
            continue
        message = f"check {registered.name} emitted {f.code}, which it does not declare: {f.message}"
        if strict_codes():
            raise UndeclaredCode(message)
        kept.append(finding("CW001", message, f.location))
    return kept


def run_stage(ctx: Context, stage: str) -> list[Finding]:
    found: list[Finding] = []
    for registered in checks_of(stage):
        found.extend(_declared_only(registered, _run_check(ctx, registered)))
    return found


_NO_SUBMISSION = "the manifest could not be read as a submission (see the manifest findings)"


def _skipped(ctx: Context, stage: str) -> str | None:
    """Why a stage cannot run at all, or None. `--no-reeval` is not such a reason: the evaluation stage still
    checks that the submission could be re-evaluated, and only the re-evaluation itself is left out."""
    if stage == "manifest" or ctx.model is not None:
        return None
    return _NO_SUBMISSION


def _evaluated_nothing(ctx: Context) -> str | None:
    """Why the evaluation stage evaluated no run, or None when it evaluated at least one."""
    section = ctx.results.evaluation
    if section is None:
        return "no run could be re-evaluated"
    if section.runs:
        return None
    return section.reason or "no run could be re-evaluated"


def _status(ctx: Context, stage: str, found: list[Finding]) -> tuple[str, str | None]:
    """A stage passed only when it did its work: the evaluation stage never passes with nothing evaluated."""
    if any(f.severity is Severity.ERROR for f in found):
        return "failed", None
    reason = _evaluated_nothing(ctx) if stage == "evaluation" else None
    return ("skipped", reason) if reason else ("passed", None)


def _unexplained(ctx: Context, stage: str, found: list[Finding]) -> list[Finding]:
    """Fail closed: when a stage leaves nothing for the later ones (no submission model) and none of its checks
    reported an error saying why, the pipeline adds one: "valid" requires that every stage ran."""
    if ctx.model is not None or any(f.severity is Severity.ERROR for f in found):
        return []
    if ctx.manifest is not None and ctx.manifest.data is None:
        from cwcontrib.schema import generate_schema

        required = ", ".join(generate_schema().get("required", []))
        return [finding("CW110", f"the manifest holds no data (it is empty or only comments); a submission is a "
                                 f"mapping with at least {required}", Location(ctx.manifest.file, 1, pointer=""))]
    return [finding("CW001", f"the {stage} stage left no submission to check and no check said why",
                    Location(ctx.manifest_file))]


def _acknowledge(ctx: Context, findings: list[Finding]) -> list[Finding]:
    """Mark the warnings the manifest acknowledges (schema 1.1), once every stage has reported."""
    try:
        return apply_acknowledgements(ctx.model, ctx.trials, findings, ctx.manifest_file, ctx.at)
    except Exception as exc:  # cwcontrib's own bug: reported, never a traceback, never blamed on the input
        return [*findings, finding("CW001", f"applying acknowledgements failed: {type(exc).__name__}: {exc}",
                                   Location(ctx.manifest_file))]


# Caches frameworks create on first use (torch's inductor cache appears in $TMPDIR when the fingerprint
# traces a model): pointed into the run's private temporary directory, so nothing is left behind.
_CACHE_VARIABLES = ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR")


@contextmanager
def private_caches() -> Iterator[None]:
    with tempfile.TemporaryDirectory(prefix="cwcontrib-") as private:
        saved = {name: os.environ.get(name) for name in _CACHE_VARIABLES}
        os.environ.update({name: os.path.join(private, name.lower()) for name in _CACHE_VARIABLES})
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@dataclass
class Validation:
    """A report and the context its checks filled (the manifest as models, resolved trials, fingerprints): what
    the indexer reads, so that the catalog never has a second reader of submissions."""

    report: Report
    context: Context


def validate(root: Path, limits: Limits = DEFAULT_LIMITS, progress: ProgressSink | None = None,
             options: Options | None = None) -> Report:
    return run_validation(root, limits, progress, options).report


def run_validation(root: Path, limits: Limits = DEFAULT_LIMITS, progress: ProgressSink | None = None,
                   options: Options | None = None) -> Validation:
    from cwcontrib.workers import WorkerLimits, wanted, worker_pool

    options = options or Options()
    with private_caches(), worker_pool(wanted(options.workers), WorkerLimits.for_files(limits.file_bytes)) as pool:
        return _validate(root, limits, progress, options, pool)


def _start_workers(ctx: Context) -> None:
    """Once the manifest stage knows the frameworks, their workers start importing them and each framework's first
    reference starts building, overlapping the files stage's hashing (cwcontrib/workers.py). A submission whose every
    weights file is an ONNX graph needs none: its graphs are its architectures. A worker or build started here that
    turns out unneeded only costs CPU; one not started here starts when the weights stage first asks for it, and a
    failure here is left for the weights stage to meet and report (no traceback from outside a check)."""
    from cwcontrib.checks.weights import reference_spec
    from cwcontrib.models import ArtifactFormat

    if ctx.workers is None or ctx.model is None:
        return
    try:
        weights = [a.format for a in ctx.model.artifacts
                   if a.format.value in ("onnx", "safetensors", "pytorch", "keras-h5")]
        if weights and all(fmt is ArtifactFormat.ONNX for fmt in weights):
            return
        ctx.workers.start({framework.name.value for framework in ctx.model.frameworks.values()})
        shape = ctx.model.architecture.input_shape
        if shape.height * shape.width > ctx.limits.reference_pixels:
            return  # CW415: the weights stage builds nothing, so nothing is built ahead
        for key in sorted(ctx.model.frameworks):  # the builds the weights stage will ask for, started now
            ctx.workers.prebuild(reference_spec(ctx.model, key))
    except Exception:  # the weights stage starts (or fails to start) what is missing, and says so
        pass


def _validate(root: Path, limits: Limits, progress: ProgressSink | None, options: Options,
              pool: Any = None) -> Validation:
    ctx = Context(root=root, limits=limits, progress=progress or ProgressSink(), options=options, workers=pool)
    findings: list[Finding] = []
    stages: dict[str, str] = {}
    skipped: dict[str, str] = {}  # stage -> why it did not run, or why it evaluated nothing
    for stage in STAGES:
        reason = _skipped(ctx, stage)
        if reason is None:
            found = run_stage(ctx, stage)
            found += _unexplained(ctx, stage, found) if stage == "manifest" else []
            findings.extend(found)
            stages[stage], reason = _status(ctx, stage, found)
            if stage == "manifest":
                _start_workers(ctx)
        else:
            stages[stage] = "skipped"
        if reason is not None:
            skipped[stage] = reason
    findings = _acknowledge(ctx, findings)
    name = ctx.model.submission.id if ctx.model else root.resolve().name
    ordered = _cap_per_code(sorted_findings(findings), limits.findings_per_code)
    ctx.results.skipped_stages = skipped
    report = Report(
        submission=name,
        findings=ordered,
        stages=stages,
        trials=len(ctx.trials),
        runs=sum(len(t.runs) for t in ctx.trials),
        extra=ctx.results.as_dict(),
    )
    return Validation(report=report, context=ctx)
