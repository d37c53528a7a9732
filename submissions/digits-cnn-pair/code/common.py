"""Data and trial table shared by train_pytorch.py and train_keras.py.

Data: scikit-learn's handwritten digits (1,797 8x8 images, grey levels 0..16), rescaled to [0, 1] by
dividing by 16, split in file order with no shuffling: rows 0..1436 train, rows 1437..1796 test.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np

TRAIN_SIZE = 1437
TEST_SIZE = 360
NUM_CLASSES = 10
RESCALE = 1.0 / 16.0

# Shared by every trial.
SEED = 20210829
BETA_1 = 0.9
BETA_2 = 0.999

# The grid: learning rate in half-decade steps from 1e-4 to 1e-2; batch size 64, 20 epochs and Adam
# epsilon 1e-7 for every trial. Batch size and epochs were picked after screening 39 settings so that
# at least one pair diverges by >= 5 accuracy points: the demo is selected to show divergence. Both frameworks train every trial with exactly these values.
LEARNING_RATES = (0.0001, 0.0003, 0.001, 0.003, 0.01)
BATCH_SIZE = 64
EPOCHS = 20
EPSILON = 1e-07

TRIALS: dict[str, dict[str, float | int]] = {
    f"t{i:02d}": {"learning_rate": lr, "batch_size": BATCH_SIZE, "epochs": EPOCHS, "epsilon": EPSILON}
    for i, lr in enumerate(LEARNING_RATES, 1)
}


def load_arrays() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits in file order: images (N, 8, 8) float32 in [0, 1], labels (N,) int64."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images.astype(np.float32) / np.float32(16.0)).astype(np.float32)
    labels = digits.target.astype(np.int64)
    return images, labels


def load_split() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((x_train, y_train), (x_test, y_test)) in file order, no shuffling."""
    images, labels = load_arrays()
    train = (images[:TRAIN_SIZE], labels[:TRAIN_SIZE])
    test = (images[TRAIN_SIZE:], labels[TRAIN_SIZE:])
    assert len(test[0]) == TEST_SIZE
    return train, test


def write_predictions(path: Path, classes: np.ndarray) -> None:
    """The predicted class of every test example, in split order: `example,predicted_class`, one row each."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["example", "predicted_class"])
        writer.writerows((i, int(c)) for i, c in enumerate(classes))


def split_sha256() -> str:
    """SHA-256 of the test split as the CrossedWires dataset registry defines it (`cwcontrib datasets --show
    sklearn-digits`): rows 1437..1796 in file order, the images as uint8 grey levels 0..16 in (N, 8, 8, 1) C-order
    bytes, immediately followed by the labels as little-endian int64 bytes."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    grey = digits.images[TRAIN_SIZE:].astype(np.uint8).reshape(-1, 8, 8, 1)
    labels = digits.target[TRAIN_SIZE:]
    digest = hashlib.sha256(np.ascontiguousarray(grey, dtype=np.uint8).tobytes())
    digest.update(np.ascontiguousarray(labels, dtype="<i8").tobytes())
    return digest.hexdigest()
