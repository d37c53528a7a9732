"""Data and outputs shared by train_pytorch.py and train_keras.py (a contributor's code, as `cwcontrib init` expects
it under code/): the registry's sklearn-digits split, grey levels 0..16 rescaled by 1/16, batches in file order."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from cwcontrib.datasets import load

RESCALE = 0.0625  # dataset.preprocessing.rescale: the validator re-evaluates with the same factor


def split() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((x_train, y_train), (x_test, y_test)): images float32 NHWC in [0, 1], labels int64, registry order."""
    x_train, y_train = load("sklearn-digits", split="train")
    x_test, y_test = load("sklearn-digits", split="test")
    return ((x_train.astype(np.float32) * np.float32(RESCALE), y_train.copy()),
            (x_test.astype(np.float32) * np.float32(RESCALE), y_test.copy()))


def write_outputs(out: Path, run: str, curve: list[tuple[int, float, float]], classes: np.ndarray) -> None:
    """curves/<run>.csv (epoch,loss,accuracy) and predictions/<run>.csv (example,predicted_class)."""
    with open(out / "curves" / f"{run}.csv", "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["epoch", "loss", "accuracy"])
        writer.writerows((epoch, repr(loss), repr(accuracy)) for epoch, loss, accuracy in curve)
    with open(out / "predictions" / f"{run}.csv", "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["example", "predicted_class"])
        writer.writerows((i, int(c)) for i, c in enumerate(classes))
