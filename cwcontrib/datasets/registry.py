"""The registered datasets: the metadata the semantic checks need."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    num_classes: int
    split_sizes: dict[str, int]
    shape: tuple[int, int, int]  # height, width, channels
    note: str = ""


DIGITS_TRAIN_SIZE = 1437  # scikit-learn's 1,797 digits in file order: the first 80 % train, the rest test

REGISTRY: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("sklearn-digits", "scikit-learn handwritten digits (8x8)", 10,
                    {"train": DIGITS_TRAIN_SIZE, "test": 1797 - DIGITS_TRAIN_SIZE}, (8, 8, 1),
                    "Split in file order, no shuffling: rows 0-1436 train, 1437-1796 test."),
        DatasetInfo("cifar10", "CIFAR-10 (binary version)", 10, {"train": 50_000, "test": 10_000}, (32, 32, 3)),
        DatasetInfo("mnist", "MNIST (IDX files)", 10, {"train": 60_000, "test": 10_000}, (28, 28, 1)),
        DatasetInfo("fashion-mnist", "Fashion-MNIST (IDX files)", 10, {"train": 60_000, "test": 10_000},
                    (28, 28, 1)),
    )
}


def dataset_info(name: str) -> DatasetInfo | None:
    return REGISTRY.get(name)
