"""What stages 4 and 5 do with a run whose weights are an ONNX graph, as two calls the stages can make (issue 15).

- `check_graph` (stage 4): the graph is read and checked as data (`cwcontrib.onnx.check`: CW416-CW423), then
  fingerprinted at the declared input shape and layout; a graph that does not take the declared input or does not
  give `num_classes` scores is CW408, a declared parameter count that is not the graph's is CW411. The graph itself
  is the run's architecture: there is no reference builder to match (no CW412), and the fingerprint is what the
  report, the catalog and pair verdicts (`cwcontrib.architectures.compare`) use.
- `evaluate_graph` (stage 5): the checked graph re-evaluated by the ONNX Runtime harness, recorded as an
  `Evaluation` whose harness is the ONNX Runtime harness's identity, evidence "onnxruntime" ("reproduced in ONNX
  Runtime"), never the framework harness's.

`cwcontrib.checks.weights` calls the first for runs declared `format: onnx`; `cwcontrib.checks.evaluation` runs the
same harness (docs/onnx.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cwcontrib.codes import finding
from cwcontrib.evaluate import Evaluation
from cwcontrib.findings import Finding, Location


@dataclass(frozen=True)
class CheckedGraph:
    """A run's graph that passed stage 4: the ModelProto and its fingerprint."""

    model: Any
    fingerprint: Any


def check_graph(root: Path, rel: str, *, input_shape: tuple[int, int, int], layout: str, num_classes: int,
                parameter_count: int | None, where: Location | None = None,
                label: str = "onnx") -> tuple[list[Finding], CheckedGraph | None]:
    """Stage 4 for one graph: its findings, and the checked graph when there are none."""
    from cwcontrib.architectures.fingerprint import FingerprintError
    from cwcontrib.onnx.check import read_onnx
    from cwcontrib.onnx.fingerprint import onnx_fingerprint, output_shape
    from cwcontrib.weights import WeightsError

    where = where or Location(rel)
    try:
        model = read_onnx(root, rel)
    except WeightsError as exc:
        return [finding(exc.code, f"{rel}: {exc}", where)], None
    try:
        fingerprint = onnx_fingerprint(model, input_shape, layout, label)
        scores = output_shape(model, input_shape, layout)
    except FingerprintError as exc:
        return [finding("CW408", f"{rel}: {exc}", where)], None
    problems = []
    if scores != (1, num_classes):
        problems.append(finding("CW408", f"{rel}: the graph gives scores of shape {list(scores)} for one example; "
                                         f"the declared architecture has {num_classes} classes", where))
    if parameter_count is not None and parameter_count != fingerprint.parameters:
        problems.append(finding("CW411", f"{rel}: the graph has {fingerprint.parameters:,} parameters, declared "
                                         f"{parameter_count:,}", where))
    return problems, (None if problems else CheckedGraph(model, fingerprint))


def evaluate_graph(graph: CheckedGraph, x_nhwc: np.ndarray, labels: np.ndarray, *, claimed_accuracy: float,
                   tolerance: int, layout: str, device: str = "cpu", trial: str = "",
                   framework: str = "") -> Evaluation:
    """Stage 5 for one graph; raises EvaluationError (CW502) when ONNX Runtime refuses the graph or the input."""
    from cwcontrib.onnx.harness import onnx_harness_identity, predict_onnx, resolve_onnx_device

    used = resolve_onnx_device(device)
    predictions = predict_onnx(graph.model, x_nhwc, layout, used)
    n = len(labels)
    return Evaluation(trial=trial, framework=framework, n=n, claimed_correct=round(claimed_accuracy * n),
                      measured_correct=int(np.sum(predictions == labels)), tolerance=tolerance, device=used,
                      harness=onnx_harness_identity(used), predictions=predictions.tobytes(),
                      dtype=predictions.dtype.str)
