"""The datasheet's figures, as PNG files whose bytes depend only on the catalog.

No pyplot (a library must not change the process's backend): each figure is a `matplotlib.figure.Figure`
rendered by Agg, with a fixed font, size and resolution, and no Software/date metadata, so that rebuilding the
catalog gives the same bytes. Mutual information uses scikit-learn's estimator with a fixed random_state.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HYPERPARAMETERS = ("learning_rate", "batch_size", "epochs", "optimizer_epsilon")
LOG_SCALE = frozenset({"learning_rate", "batch_size", "optimizer_epsilon"})
MIN_PAIRS_FOR_MI = 10  # the k-nearest-neighbour estimator (k = 3) says little below this
PAIR_BINS = 4  # a pair of hyperparameters becomes one discrete feature: its cell in a 4 x 4 quantile grid
RC: dict[str, Any] = {"font.family": "DejaVu Sans", "font.size": 8, "axes.titlesize": 9, "svg.hashsalt": "cwcontrib",
      "image.cmap": "viridis"}
DPI = 100


def _save(figure: Any, path: Path) -> None:
    figure.savefig(path, format="png", dpi=DPI, metadata={"Software": None})


def _pair_feature(frame: pd.DataFrame, a: str, b: str) -> np.ndarray:
    cells = []
    for name in (a, b):
        ranks = frame[name].rank(method="first").to_numpy(dtype=float)  # ties split by order: equal-sized bins
        cells.append(np.minimum((ranks - 1) * PAIR_BINS // len(frame), PAIR_BINS - 1).astype(int))
    result: np.ndarray = cells[0] * PAIR_BINS + cells[1]
    return result


def mutual_information(frame: pd.DataFrame) -> list[tuple[str, float]]:
    """MI (nats) between |gap| and each hyperparameter and pair of hyperparameters that varies, by name;
    empty with fewer than MIN_PAIRS_FOR_MI pairs."""
    from sklearn.feature_selection import mutual_info_regression

    varying = [h for h in HYPERPARAMETERS if frame[h].notna().all() and frame[h].nunique() > 1]
    if len(frame) < MIN_PAIRS_FOR_MI or not varying:
        return []
    target = frame["abs_gap"].to_numpy(dtype=float)
    result = []
    for name in varying:
        values = frame[[name]].to_numpy(dtype=float)
        result.append((name, float(mutual_info_regression(values, target, random_state=0)[0])))
    for a, b in combinations(varying, 2):
        cell = _pair_feature(frame, a, b).reshape(-1, 1)
        mi = mutual_info_regression(cell, target, discrete_features=True, random_state=0)[0]
        result.append((f"{a} × {b}", float(mi)))
    return result


def _distributions(figure: Any, by_arch: dict[str, pd.DataFrame], runs: pd.DataFrame) -> None:
    axes = figure.subplots(len(by_arch), 2, squeeze=False)
    for row, (arch, pairs) in enumerate(by_arch.items()):
        left, right = axes[row]
        arch_runs = runs[runs["architecture"] == arch]
        bins = np.linspace(0.0, 1.0, 51)
        for framework, group in sorted(arch_runs.groupby("framework")):
            left.hist(group["test_accuracy"], bins=bins, alpha=0.6, label=f"{framework} ({len(group)})")
        left.set_title(f"{arch}: test accuracy")
        left.set_xlabel("accuracy")
        left.legend()
        right.hist(pairs["abs_gap"], bins=np.linspace(0.0, max(0.05, float(pairs["abs_gap"].max())), 41),
                   color="tab:red")
        right.axvline(0.05, color="black", linewidth=0.8, linestyle="--")
        right.set_title(f"{arch}: |gap| of {len(pairs)} pairs (dashed: 0.05)")
        right.set_xlabel("|accuracy a − accuracy b|")


def _space(figure: Any, by_arch: dict[str, pd.DataFrame]) -> None:
    axes = figure.subplots(len(by_arch), 2, squeeze=False)
    for row, (arch, pairs) in enumerate(by_arch.items()):
        top = max(0.05, float(pairs["abs_gap"].max()))
        for ax, (x, y) in zip(axes[row], (("learning_rate", "batch_size"), ("epochs", "optimizer_epsilon")),
                              strict=True):
            shown = pairs.dropna(subset=[x, y]).sort_values("pair_id")
            points = ax.scatter(shown[x], shown[y], c=shown["abs_gap"], vmin=0.0, vmax=top, s=8)
            for axis, name in (("x", x), ("y", y)):
                if name in LOG_SCALE and (shown[name] > 0).all() and len(shown):
                    getattr(ax, f"set_{axis}scale")("log")
            ax.set_xlabel(x)
            ax.set_ylabel(y)
            ax.set_title(f"{arch}: colour = |gap|")
            figure.colorbar(points, ax=ax)


def _information(figure: Any, by_arch: dict[str, pd.DataFrame],
                 information: dict[str, list[tuple[str, float]]]) -> None:
    axes = figure.subplots(len(by_arch), 1, squeeze=False)
    for row, arch in enumerate(by_arch):
        ax = axes[row][0]
        values = information.get(arch, [])
        if not values:
            ax.set_title(f"{arch}: too few pairs, or no hyperparameter varies")
            ax.set_axis_off()
            continue
        names = [name for name, _ in values]
        ax.barh(range(len(values)), [mi for _, mi in values], color="tab:blue")
        ax.set_yticks(range(len(values)), names)
        ax.invert_yaxis()
        ax.set_xlabel("mutual information with |gap| (nats)")
        ax.set_title(f"{arch}: which hyperparameters matter")


def render_figures(folder: Path, prefix: str, runs: pd.DataFrame, by_arch: dict[str, pd.DataFrame],
                   information: dict[str, list[tuple[str, float]]]) -> list[tuple[str, str]]:
    """Write the PNG figures into `folder`, each named `prefix` + its name; return (file name, caption) pairs in
    datasheet order."""
    import matplotlib
    from matplotlib.figure import Figure

    height = 2.6 * max(1, len(by_arch))
    figures: list[tuple[str, str, Callable[[Any], None], tuple[float, float]]] = [
        ("accuracy-and-gap.png", "Accuracy per framework and |gap| per pair, per architecture (the paper's Figure 2)",
         lambda f: _distributions(f, by_arch, runs), (10, height)),
        ("hyperparameter-space.png", "The hyperparameter space coloured by |gap| (the paper's Figure 3)",
         lambda f: _space(f, by_arch), (10, height)),
        ("mutual-information.png", "Mutual information between |gap| and each hyperparameter and pair of "
                                   "hyperparameters (the paper's Figure 4)",
         lambda f: _information(f, by_arch, information), (7, height)),
    ]
    written = []
    with matplotlib.rc_context(RC):  # type: ignore[arg-type]  # keys are valid rcParams
        for name, caption, draw, size in figures:
            figure = Figure(figsize=size, layout="constrained")  # type: ignore[no-untyped-call]
            if by_arch:
                draw(figure)
            _save(figure, folder / f"{prefix}{name}")
            written.append((f"{prefix}{name}", caption))
    return written
