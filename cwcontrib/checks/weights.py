"""Stage 4: weights are data that load strictly into trusted reference architectures.

For each framework of the submission a reference model is built by cwcontrib's own code and
fingerprinted; each run's weights are read by a safe reader and compared with the reference tensor
by tensor (keys, shapes, dtypes, finiteness). The two frameworks' references get a pair verdict.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from pathlib import Path

from cwcontrib.checks.base import Context, check
from cwcontrib.codes import finding
from cwcontrib.findings import Finding, printable
from cwcontrib.models import Manifest
from cwcontrib.reference_models import Reference as Reference  # imported from here by the audit
from cwcontrib.reference_models import ReferenceSpec, build_from_spec
from cwcontrib.report_sections import FrameworkPairVerdict
from cwcontrib.trials import ResolvedRun
from cwcontrib.weights import FORMATS_FOR_FRAMEWORK, TensorSummary, WeightsError, model_tensors, read_weights, summarise
from cwcontrib.workers import Pending, Worker, WorkerFailure, completed


def reference_name(model: Manifest, key: str) -> str:
    """What a framework key's reference is built from: the architecture's name, except in a pair of library models
    where the key's implementation names a builder of its own framework (`torchvision.models.resnet18` with a
    `keras.applications.ResNet50V2` key): then that builder, so that a pair outside the table of equivalents gets
    both references and a verdict naming their differences, instead of CW412 for the side with no equivalent."""
    from cwcontrib.architectures.library import parse

    name = model.architecture.name
    implementation = model.architecture.implementations.get(key)
    own = parse(implementation.definition) if implementation is not None and implementation.definition else None
    if parse(name) is not None and own is not None and own.framework == model.frameworks[key].name.value:
        return own.name
    return name


def reference_spec(model: Manifest, key: str) -> ReferenceSpec:
    architecture = model.architecture
    implementation = architecture.implementations.get(key)
    modifications = tuple(implementation.modifications) if implementation else ()
    shape = (architecture.input_shape.height, architecture.input_shape.width, architecture.input_shape.channels)
    return ReferenceSpec(key, reference_name(model, key), model.frameworks[key].name.value, architecture.num_classes,
                         shape, modifications)


def build_reference(model: Manifest, key: str) -> Reference:
    """Raises ArchitectureError (unknown name/modification) or ImportError (framework missing). In this process
    (the audit's Ray tasks, `CWCONTRIB_WORKERS=0`); `cwcontrib validate` builds in a framework worker."""
    return build_from_spec(reference_spec(model, key))


def start_reference(ctx: Context, model: Manifest, key: str) -> Pending:
    """A key's reference being built: by its framework's worker when the validation has workers (the worker keeps
    the model; the Reference holds the worker, the expected tensors and the fingerprint), else here and now."""
    spec = reference_spec(model, key)
    worker = ctx.workers.get(spec.framework) if ctx.workers is not None else None
    if worker is None:
        return completed(lambda: build_from_spec(spec))
    building = ctx.workers.take(spec) or worker.submit(f"building the {spec.name} reference model of {key}",
                                                       "build", spec)
    return RemoteReference(building, spec, worker)


class RemoteReference(Pending):
    """A reference a worker builds: its answer (expected tensors, fingerprint) becomes a Reference."""

    def __init__(self, building: Pending, spec: ReferenceSpec, worker: Worker):
        super().__init__(None, building.doing)
        self.building, self.spec, self.remote = building, spec, worker

    def result(self) -> Reference:
        expected, fingerprint = self.building.result()
        return Reference(self.spec.key, self.spec.framework, None, expected, fingerprint, worker=self.remote)


# The frameworks a reference model needs; only their absence is CW414.
FRAMEWORK_MODULES = frozenset({"torch", "torchvision", "tensorflow", "keras"})


def _framework_missing(exc: ImportError) -> bool:
    return (exc.name or "").split(".")[0] in FRAMEWORK_MODULES


@check("weights", "CW411", "CW412", "CW413", "CW414", "CW415", needs=("model",), provides=("references",))
def reference_architectures_match_the_declaration(ctx: Context) -> Iterator[Finding]:
    from cwcontrib.architectures import ArchitectureError, compare

    model = ctx.model
    if model is None or not ctx.trials:
        return
    shape = model.architecture.input_shape
    if shape.height * shape.width > ctx.limits.reference_pixels:
        yield finding("CW415", f"input {shape.height}x{shape.width} has {shape.height * shape.width:,} pixels, over "
                               f"the limit of {ctx.limits.reference_pixels:,}", ctx.at("/architecture/input_shape"))
        return
    graphs = onnx_keys(ctx)
    started: dict[str, Pending] = {}
    for key in sorted(model.frameworks):  # every build starts before any is awaited: the workers build in parallel
        if key in graphs:  # the run's own ONNX graph is its architecture: checked per run in weights_load_strictly
            ctx.references[key] = Reference(key, "onnx", None, {}, None)
            continue
        started[key] = start_reference(ctx, model, key)
    for key, pending in started.items():
        try:
            reference = pending.result()
        except ArchitectureError as exc:
            yield finding("CW412", f"{key}: {exc}", ctx.at("/architecture/name"))
            continue
        except ImportError as exc:
            if not _framework_missing(exc):
                raise  # cwcontrib's own import failed: an internal error (CW001), not the submission's
            yield finding("CW414", f"{key}: cannot build the reference model: {exc}", ctx.at(f"/frameworks/{key}"))
            continue
        except WorkerFailure as exc:  # cwcontrib's own failure, never the submission's: no reference, said why
            yield finding("CW001", f"{key}: {exc}", ctx.at(f"/frameworks/{key}"))
            continue
        ctx.references[key] = reference
    # One declared count for the architecture, but a pair's references may differ (Keras' ResNet50 has biased
    # convolutions, torchvision's has not): the count must be one of theirs, and the pair verdict (CW413) names
    # the difference between them.
    declared = model.architecture.parameter_count
    built = {key: reference for key, reference in sorted(ctx.references.items()) if reference.fingerprint is not None}
    counts = {key: reference.fingerprint.parameters for key, reference in built.items()}
    if declared not in counts.values():
        for key, counted in counts.items():
            yield finding("CW411", f"{key}: the reference {model.architecture.name} has {counted:,} parameters, "
                                   f"declared {declared:,}", ctx.at("/architecture/parameter_count"))
    ctx.results.architectures = {k: r.fingerprint for k, r in built.items()}
    verdicts = []
    for a, b in combinations(sorted(built), 2):
        verdict = compare(built[a].fingerprint, built[b].fingerprint)
        verdicts.append(FrameworkPairVerdict((a, b), verdict))
        if not verdict.equivalent:
            yield finding("CW413", f"{a} vs {b}: {verdict.summary()}", ctx.at("/architecture"))
    ctx.results.pair_verdicts = verdicts


def _compare(reference: Reference, present: dict[str, TensorSummary], run: ResolvedRun) -> Iterator[Finding]:
    where = run.at("weights")
    missing = sorted(set(reference.expected) - set(present))
    unexpected = sorted(set(present) - set(reference.expected))
    if missing or unexpected:
        parts = [f"missing {', '.join(missing[:5])}" if missing else "",  # reference names: trusted
                 f"unexpected {', '.join(map(printable, unexpected[:5]))}" if unexpected else ""]
        yield finding("CW407", f"{run.run.weights}: " + "; ".join(p for p in parts if p)
                      + f" ({len(missing)} missing, {len(unexpected)} unexpected)", where)
    for name in sorted(set(present) & set(reference.expected)):
        shape, dtype = reference.expected[name]
        tensor = present[name]
        if tensor.shape != tuple(shape):
            yield finding("CW408", f"{run.run.weights}: {name} has shape {tensor.shape}, the reference "
                                   f"{tuple(shape)}", where)
        elif tensor.dtype != dtype:
            yield finding("CW409", f"{run.run.weights}: {name} is {tensor.dtype}, the reference {dtype}", where)
        elif tensor.nonfinite:
            yield finding("CW410", f"{run.run.weights}: {name} has {tensor.nonfinite} NaN or infinite values", where)


def _summaries(ctx: Context, path: str, location: tuple[Path, str], fmt: str) -> dict[str, TensorSummary]:
    """A run's tensor summaries: those the files stage made from the bytes it verified (read once), or, for
    weights fetched by URI (verified by the download into the private cache), read and summarised here."""
    if path in ctx.weights_read:
        read = ctx.weights_read[path]
        if isinstance(read, BaseException):
            raise read  # a WeightsError becomes its finding; anything else is cwcontrib's bug (CW001)
        return dict(read)
    tensors = read_weights(*location, fmt)
    return {name: summarise(array) for name, array in tensors.items()}


def weights_location(ctx: Context, weights: str) -> tuple[Path, str] | None:
    """Where a run's weights are read from: the submission folder once stage 2 verified the file, the private
    cache once `--fetch` downloaded and verified a URI; None otherwise (stage 2 said why)."""
    if weights in ctx.fetched:
        return ctx.fetched[weights]
    return (ctx.root, weights) if weights in ctx.verified else None


def onnx_keys(ctx: Context) -> set[str]:
    """Framework keys whose every run with weights ships an ONNX graph (`format: onnx`, issue 15): no reference
    builder is needed for them, the graph is the architecture."""
    assert ctx.model is not None
    formats = weights_formats(ctx.model)
    seen: dict[str, set[str]] = {}
    for trial in ctx.trials:
        for key, run in trial.runs.items():
            if run.run.weights:
                seen.setdefault(key, set()).add(formats.get(run.run.weights, ""))
    return {key for key, found in seen.items() if found == {"onnx"}}


def _onnx_run(ctx: Context, run: ResolvedRun, path: str, location: tuple[Path, str]) -> list[Finding]:
    """A run's ONNX graph: read and checked as data (CW416-CW423), then against the declaration (CW408, CW411)."""
    import importlib.util

    from cwcontrib.onnx.stage import check_graph

    assert ctx.model is not None
    missing = [m for m in ("onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        return [finding("CW414", f"{path}: checking an ONNX graph needs {' and '.join(missing)} (cwcontrib[onnx])",
                        run.at("weights"))]
    architecture = ctx.model.architecture
    shape = architecture.input_shape
    implementation = architecture.implementations.get(run.framework)
    layout = implementation.layout.value if implementation is not None else "NCHW"
    problems, graph = check_graph(*location, input_shape=(shape.height, shape.width, shape.channels), layout=layout,
                                  num_classes=architecture.num_classes, parameter_count=architecture.parameter_count,
                                  where=run.at("weights"), label=run.framework)
    if graph is not None:
        ctx.results.onnx_graphs[path] = graph.fingerprint
    return problems


def weights_formats(model: Manifest) -> dict[str, str]:
    """Artifact format by the name a run's `weights` uses: its path, or its URI when declared by URI only."""
    return {(a.path or a.uri or ""): a.format.value for a in model.artifacts}


@check("weights", "CW400", "CW401", "CW402", "CW403", "CW404", "CW405", "CW406", "CW407", "CW408", "CW409",
       "CW410", "CW411", "CW414", "CW416", "CW417", "CW418", "CW419", "CW420", "CW421", "CW422", "CW423",
       needs=("model", "trials", "verified", "fetched", "references"),
       provides=("weights_ok",))
def weights_load_strictly(ctx: Context) -> Iterator[Finding]:
    model = ctx.model
    if model is None:
        return
    runs = [(t.id, r) for t in ctx.trials for r in t.runs.values() if r.run.weights and r.framework in ctx.references]
    formats = weights_formats(model)  # one lookup per run, not a scan
    ctx.progress.start("checking weights", len(runs))
    try:
        for trial_id, run in runs:
            ctx.progress.advance(1)
            path = run.run.weights
            assert path is not None
            location = weights_location(ctx, path)
            if location is None:
                continue  # missing, unsafe, altered or remote: stage 2 said so
            reference = ctx.references[run.framework]
            fmt = formats.get(path, "")
            if reference.framework == "onnx":
                ctx.looking_at = path
                problems = _onnx_run(ctx, run, path, location)
                yield from problems
                if not problems:
                    ctx.weights_ok.add((trial_id, run.framework))
                continue
            allowed = FORMATS_FOR_FRAMEWORK.get(reference.framework, ())
            if fmt not in allowed:
                yield finding("CW400", f"{path} is declared as {fmt or 'undeclared'}; {reference.framework} runs "
                                       f"may use {', '.join(allowed)}", run.at("weights"))
                continue
            ctx.looking_at = path
            try:
                summaries = _summaries(ctx, path, location, fmt)
            except WeightsError as exc:
                yield finding(exc.code, f"{path}: {exc}", run.at("weights"))
                continue
            problems = list(_compare(reference, model_tensors(summaries, fmt), run))
            yield from problems
            if not problems:
                ctx.weights_ok.add((trial_id, run.framework))
    finally:
        ctx.progress.finish()


@check("weights", "CW413", needs=("model", "trials", "references", "weights_ok"))
def onnx_keys_get_pair_verdicts(ctx: Context) -> Iterator[Finding]:
    """Pair verdicts for keys whose runs ship ONNX graphs (issue 15). Such a key has no reference builder: its
    architecture is the fingerprint its checked graphs share (the first in trial order), compared with the other
    keys' references or graphs like any pair; a key whose graphs differ from trial to trial is named too (one
    study, one architecture). Runs after weights_load_strictly, which fingerprints each graph."""
    from cwcontrib.architectures import compare
    from cwcontrib.architectures.fingerprint import Fingerprint

    graphs = ctx.results.onnx_graphs
    onnx = sorted(key for key, reference in ctx.references.items() if reference.framework == "onnx")
    if not graphs or not onnx:
        return
    shared: dict[str, Fingerprint] = {}
    for key in onnx:
        first: tuple[str, Fingerprint] | None = None
        seen: set[str] = set()
        for trial in ctx.trials:
            run = trial.runs.get(key)
            path = run.run.weights if run is not None else None
            if path is None or path not in graphs or (trial.id, key) not in ctx.weights_ok:
                continue
            found = graphs[path]
            if first is None:
                first = (trial.id, found)
                continue
            verdict = compare(first[1], found)
            if not verdict.equivalent and verdict.summary() not in seen:
                seen.add(verdict.summary())
                yield finding("CW413", f"{key}: {trial.id}'s graph is not {first[0]}'s architecture: "
                                       f"{verdict.summary()}", run.at("weights") if run else ctx.at("/architecture"))
        if first is not None:
            shared[key] = first[1]
    if not shared:
        return
    built = {key: r.fingerprint for key, r in ctx.references.items() if r.fingerprint is not None}
    fingerprints = {**built, **shared}
    ctx.results.architectures = {key: fingerprints[key] for key in sorted(fingerprints)}
    verdicts = list(ctx.results.pair_verdicts or [])
    for a, b in combinations(sorted(fingerprints), 2):
        if a not in shared and b not in shared:
            continue  # a pair of references: reference_architectures_match_the_declaration judged it
        verdict = compare(fingerprints[a], fingerprints[b])
        verdicts.append(FrameworkPairVerdict((a, b), verdict))
        if not verdict.equivalent:
            yield finding("CW413", f"{a} vs {b}: {verdict.summary()}", ctx.at("/architecture"))
    ctx.results.pair_verdicts = sorted(verdicts, key=lambda v: v.frameworks)
