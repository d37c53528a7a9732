"""Submitted per-example predictions: read, counted against the split's labels, compared with re-evaluation.

A run's `predictions` file is a CSV, `example,predicted_class`, one row per test example in the registry's split
order. It is what makes a claim checkable example by example: its count of correct examples must be the claimed
k, and a re-run of the weights must predict the same class on (nearly) every example. A model evaluated on other
examples, or on the same examples in another order, fails both, whatever its k/N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cwcontrib.statistics import tolerance
from cwcontrib.tables import Table

PREDICTIONS_COLUMNS = ("example", "predicted_class")
MAX_LISTED = 5  # disagreeing examples named in a finding


class PredictionsError(Exception):
    """The file is not one predicted class per example in split order (CW507)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def _whole_number(cell: object, what: str, line: int | None) -> int:
    text = str(cell) if cell is not None else ""
    if not text.isascii() or not text.isdigit():
        raise PredictionsError(f"{what} is {cell!r}, not a whole number", line)
    return int(text)


def parse_predictions(table: Table, n: int, num_classes: int) -> npt.NDArray[np.int64]:
    """The predicted class per example, checked: exactly the two columns, N rows, examples 0..N-1 in order,
    classes 0..num_classes-1."""
    if tuple(table.columns) != PREDICTIONS_COLUMNS:
        header, expected = ",".join(table.columns), ",".join(PREDICTIONS_COLUMNS)
        raise PredictionsError(f"the header is {header!r}; expected {expected}", 1)
    if len(table.rows) != n:
        raise PredictionsError(f"{len(table.rows)} rows, but the test split has {n} examples (one row each)")
    classes = np.empty(n, dtype=np.int64)
    for index, row in enumerate(table.rows):
        line = table.line_of(index)
        example = _whole_number(row["example"], "example", line)
        if example != index:
            raise PredictionsError(f"row {index + 1} is example {example}, expected {index}: rows follow the "
                                   "split's order, example 0 first", line)
        predicted = _whole_number(row["predicted_class"], "predicted_class", line)
        if predicted >= num_classes:
            raise PredictionsError(f"example {index}: class {predicted} is outside 0..{num_classes - 1}", line)
        classes[index] = predicted
    return classes


def allowed_disagreements(n: int, same_hardware_class: bool) -> tuple[int, str]:
    """How many examples a re-run may predict differently from the submitted predictions, and the rule.

    A deterministic CPU re-run of a run trained and evaluated on CPU differs only where two logits tie to the last
    bits: at most one example in a thousand (at least one). Other hardware (GPUs, other kernels) moves more
    near-ties: the Poisson rule the k/N comparison uses (docs/reevaluation.md), in examples."""
    if same_hardware_class:
        return max(1, math.ceil(n * 1e-3)), "CPU re-run of a CPU run: ceil(N/1000), at least 1"
    return tolerance(n), "other hardware: Poisson(max(1, N*1e-3)) 99.9% quantile"


@dataclass(frozen=True)
class Agreement:
    """Submitted predictions against a re-run's."""

    disagreements: int
    allowed: int
    rule: str
    first: tuple[int, ...]  # the first disagreeing examples

    @property
    def reproduced(self) -> bool:
        return self.disagreements <= self.allowed

    def as_dict(self) -> dict[str, object]:
        return {"disagreements": self.disagreements, "allowed": self.allowed, "rule": self.rule,
                "reproduced": self.reproduced, "first": list(self.first)}


def compare(submitted: npt.NDArray[np.int64], measured: npt.NDArray[np.integer],
            same_hardware_class: bool) -> Agreement:
    differ = np.flatnonzero(submitted != measured.astype(np.int64))
    allowed, rule = allowed_disagreements(len(submitted), same_hardware_class)
    return Agreement(int(differ.size), allowed, rule, tuple(int(i) for i in differ[:MAX_LISTED]))
