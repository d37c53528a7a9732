"""The dataset registry and the loaders of the test splits the validator re-evaluates submitted weights on.

The metadata (`REGISTRY`) is what the semantic checks need. The loaders read the *official* file formats from a
local data directory and never download anything: a validator that fetched data at run time would depend on the
network and on whatever a mirror serves that day.

- sklearn-digits: scikit-learn's bundled copy (`load_digits()`), rows 1437..1796 in file order.
- cifar10: the official *binary* version only (`cifar-10-batches-bin/test_batch.bin`, or the official archive
  `cifar-10-binary.tar.gz` read in memory). The Python version is pickles, and unpickling runs code from the file,
  so it is refused even though it holds the same images.
- mnist, fashion-mnist: the IDX files `t10k-images-idx3-ubyte` / `t10k-labels-idx1-ubyte`, raw or `.gz`.

Every read is bounded by the expected byte count + 1, so a wrong or hostile file cannot exhaust memory.

Where checksums come from (see `PINNED`): only the CIFAR-10 archive md5 (CIFAR page) and the Fashion-MNIST `.gz`
md5s (Zalando's README) are published by the dataset authors. The MNIST `.gz` md5s are torchvision's resource
list, the de-facto reference (LeCun's page publishes none). The digests of the *extracted* files (test_batch.bin,
the decompressed IDX files) are published by nobody official: the pinned values are the ones independent projects
agree on, i.e. derived from the official archives, and are labelled that way in every verification message.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cwcontrib.datasets.cifar import CIFAR_RECORD_BYTES, CIFAR_TEST_BATCH_BYTES, load_cifar10
from cwcontrib.datasets.digests import PINNED, PinnedDigest
from cwcontrib.datasets.digits import DIGITS_TEST_SHA256, digits_rows, load_digits_split
from cwcontrib.datasets.errors import DatasetError
from cwcontrib.datasets.files import DATA_ENV_VAR, DEFAULT_DATA_DIR, resolve_data_dir
from cwcontrib.datasets.idx import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, load_idx_split
from cwcontrib.datasets.registry import (
    DIGITS_TRAIN_SIZE,
    REGISTRY,
    SPLIT_DIGEST_RULE,
    DatasetInfo,
    EvaluationSplit,
    dataset_info,
)
from cwcontrib.datasets.split import TestSplit, preprocess, split_sha256


def load_test_split(name: str, data_dir: Path | None = None, *, verify: bool = True) -> TestSplit:
    """Load the test split of a registered dataset from local files, checking structure and checksums.

    verify=False skips the checksum comparison and accepts fewer examples than the real split (for small files
    written by tests); the structure is still checked strictly and every read is still bounded.
    """
    if name not in REGISTRY:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(sorted(REGISTRY))}")
    if name == "sklearn-digits":
        return load_digits_split(verify)
    root = resolve_data_dir(data_dir)
    try:
        if name == "cifar10":
            return load_cifar10(root, verify)
        return load_idx_split(name, root, verify)
    except DatasetError as exc:
        raise DatasetError(str(exc), portable=_portable(str(exc), root, name)) from None


def load(name: str, split: str = "test", data_dir: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A registered dataset's split as arrays for a training script: (images, labels), images uint8 (N, H, W, C) in
    raw pixel values, labels int64, in the registry's order. `split="test"` is exactly the evaluation split the
    validator re-evaluates on (checked against its pinned digests); `split="train"` is the rest of the dataset
    where cwcontrib defines it (sklearn-digits: rows 0..1436)."""
    info = REGISTRY.get(name)
    if info is None:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(sorted(REGISTRY))}")
    if split == info.evaluation.name:
        loaded = load_test_split(name, data_dir)
        return loaded.images, loaded.labels
    if split == "train" and name == "sklearn-digits":
        return digits_rows(0, DIGITS_TRAIN_SIZE)
    raise DatasetError(f"{name}: cwcontrib provides the {info.evaluation.name} split"
                       + (" and the train split" if name == "sklearn-digits" else "")
                       + f", not {split!r}; read other splits from the official files")


def describe(name: str) -> str:
    """What `cwcontrib datasets --show NAME` prints: the evaluation split exactly, and how to check it."""
    info = REGISTRY.get(name)
    if info is None:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(sorted(REGISTRY))}")
    split = info.evaluation
    digest = split.sha256 or ("not pinned (no official copy was at hand to compute it): the digest of the split "
                              "as loaded, which the pinned digests of its files determine")
    lines = [f"{info.name}: {info.title}",
             f"  classes: {info.num_classes}; image shape (H, W, C): {'x'.join(map(str, info.shape))}",
             f"  splits: {', '.join(f'{s} {n:,}' for s, n in info.split_sizes.items())}",
             f"evaluation split (dataset.split: {split.name}, dataset.test_size: {split.size})",
             f"  examples: {split.examples}",
             f"  order: {split.order}",
             f"  sha256 (dataset.sha256): {digest}",
             f"  digest rule: {SPLIT_DIGEST_RULE}"]
    for key, pin in sorted(PINNED.items()):
        if key.startswith(f"{name}/"):
            lines.append(f"  file <data-dir>/{key}: {pin.algorithm} {pin.hexdigest}")
    if split.files:
        lines.append(f"  read from: {', '.join(f'<data-dir>/{f}' for f in split.files)} ({DATA_DIR_SOURCES})")
    lines.append(f"  in a training script: cwcontrib.datasets.load({name!r}, split={split.name!r}) -> (images, labels)")
    return "\n".join(lines) + "\n"


DATA_DIR_LABEL = "<data-dir>"
DATA_DIR_SOURCES = f"{DATA_DIR_LABEL} is --data-dir, else ${DATA_ENV_VAR}, else {DEFAULT_DATA_DIR}"


def _portable(message: str, root: Path, name: str) -> str:
    """The message with the data directory named by where it is set, not by where it is on this machine.
    Loaders name files as root / name / ..., so replacing that prefix covers every path they mention."""
    text = message.replace(str(root / name), f"{DATA_DIR_LABEL}/{name}")
    if len(str(root)) > 1:  # never replace a bare "/" (the root directory as data directory)
        text = text.replace(str(root), DATA_DIR_LABEL)
    return f"{text} ({DATA_DIR_SOURCES})" if DATA_DIR_LABEL in text else text


__all__ = [
    "CIFAR_RECORD_BYTES",
    "CIFAR_TEST_BATCH_BYTES",
    "DATA_DIR_LABEL",
    "DATA_DIR_SOURCES",
    "DATA_ENV_VAR",
    "DEFAULT_DATA_DIR",
    "DIGITS_TEST_SHA256",
    "DIGITS_TRAIN_SIZE",
    "IDX_IMAGES_MAGIC",
    "IDX_LABELS_MAGIC",
    "PINNED",
    "REGISTRY",
    "SPLIT_DIGEST_RULE",
    "DatasetError",
    "DatasetInfo",
    "EvaluationSplit",
    "PinnedDigest",
    "TestSplit",
    "dataset_info",
    "describe",
    "load",
    "load_test_split",
    "preprocess",
    "resolve_data_dir",
    "split_sha256",
]
