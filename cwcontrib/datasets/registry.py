"""The registered datasets: the metadata the semantic checks need, and each dataset's evaluation split as data."""

from __future__ import annotations

from dataclasses import dataclass

# How every split digest is computed (datasets.split.split_sha256), stated once so that anyone can recompute it.
SPLIT_DIGEST_RULE = ("sha256 of the split's images as uint8 bytes (N, H, W, C) in C order, immediately followed by "
                     "its labels as little-endian int64 bytes; no header, no separator")


@dataclass(frozen=True)
class EvaluationSplit:
    """Exactly which examples a dataset's claims are measured on, in which order, and their digest.

    `sha256` is the split digest (SPLIT_DIGEST_RULE) pinned by cwcontrib, or None where no copy of the official
    files was at hand to compute it: then the loaded split's digest is used, which the pinned digests of the
    files it is read from (`cwcontrib.datasets.PINNED`) already determine.
    """

    name: str  # the `dataset.split` value it answers to
    size: int
    examples: str  # which examples, from which files
    order: str
    sha256: str | None
    files: tuple[str, ...] = ()  # relative to the data directory; empty when an installed package provides them


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    num_classes: int
    split_sizes: dict[str, int]
    shape: tuple[int, int, int]  # height, width, channels
    evaluation: EvaluationSplit
    note: str = ""


DIGITS_TRAIN_SIZE = 1437  # scikit-learn's 1,797 digits in file order: the first 80 % train, the rest test
# The digits split as loaded; computed by cwcontrib from scikit-learn 1.9.1's bundled digits.csv.gz (sha256
# 09f66e6d...aa22). Nobody publishes one: it guards against a modified scikit-learn install.
DIGITS_TEST_SHA256 = "a00ccc4978c46a4d561d65df875cc49bdfe829dc20aad2a6748276ea741c1829"

_IDX_FILES = ("t10k-images-idx3-ubyte[.gz]", "t10k-labels-idx1-ubyte[.gz]")


def _idx_split(name: str) -> EvaluationSplit:
    return EvaluationSplit(
        "test", 10_000, f"all 10,000 records of the official {name} t10k IDX files (images and labels)",
        "file order: record i of the images file with record i of the labels file", None,
        tuple(f"{name}/{file}" for file in _IDX_FILES))


REGISTRY: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("sklearn-digits", "scikit-learn handwritten digits (8x8)", 10,
                    {"train": DIGITS_TRAIN_SIZE, "test": 1797 - DIGITS_TRAIN_SIZE}, (8, 8, 1),
                    EvaluationSplit("test", 1797 - DIGITS_TRAIN_SIZE,
                                    f"rows {DIGITS_TRAIN_SIZE}..1796 (0-based) of sklearn.datasets.load_digits(): "
                                    "images as grey levels 0..16, target as labels",
                                    "file order, no shuffling", DIGITS_TEST_SHA256),
                    "Split in file order, no shuffling: rows 0-1436 train, 1437-1796 test."),
        DatasetInfo("cifar10", "CIFAR-10 (binary version)", 10, {"train": 50_000, "test": 10_000}, (32, 32, 3),
                    EvaluationSplit("test", 10_000, "all 10,000 records of test_batch.bin of the official binary "
                                    "version (cifar-10-binary.tar.gz)",
                                    "file order; each record's R, G, B planes read as H, W, C", None,
                                    ("cifar10/cifar-10-batches-bin/test_batch.bin",
                                     "cifar10/cifar-10-binary.tar.gz"))),
        DatasetInfo("mnist", "MNIST (IDX files)", 10, {"train": 60_000, "test": 10_000}, (28, 28, 1),
                    _idx_split("mnist")),
        DatasetInfo("fashion-mnist", "Fashion-MNIST (IDX files)", 10, {"train": 60_000, "test": 10_000},
                    (28, 28, 1), _idx_split("fashion-mnist")),
    )
}


def dataset_info(name: str) -> DatasetInfo | None:
    return REGISTRY.get(name)
