"""scikit-learn digits."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cwcontrib.datasets.errors import DatasetError
from cwcontrib.datasets.registry import DIGITS_TEST_SHA256, DIGITS_TRAIN_SIZE
from cwcontrib.datasets.split import TestSplit, make_split

__all__ = ["DIGITS_TEST_SHA256", "digits_rows", "load_digits_split"]


def digits_rows(start: int, stop: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Rows start..stop-1 of load_digits() in file order: uint8 grey levels 0..16 as (N, 8, 8, 1), int64 labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise DatasetError("sklearn-digits needs scikit-learn installed (pip install 'cwcontrib[data]')") from exc
    bunch = load_digits()
    grey = np.asarray(bunch.images[start:stop], dtype=np.float64)
    # load_digits returns float64; the file holds integer grey levels 0..16, kept as such (rescale=1/16 -> [0, 1])
    if not (np.array_equal(grey, np.round(grey)) and grey.min() >= 0 and grey.max() <= 16):
        raise DatasetError("scikit-learn's digits are not integer grey levels 0..16: the installation is modified")
    return grey.astype(np.uint8).reshape(-1, 8, 8, 1), np.asarray(bunch.target[start:stop], dtype=np.int64)


def load_digits_split(verify: bool) -> TestSplit:
    images, labels = digits_rows(DIGITS_TRAIN_SIZE, 1797)  # raises DatasetError without scikit-learn
    import sklearn

    source = f"scikit-learn {sklearn.__version__} load_digits() (bundled digits.csv.gz), rows {DIGITS_TRAIN_SIZE}..1796"
    split = make_split("sklearn-digits", images, labels, [source], [], verify)
    return _verify_digits(split, verify)


def _verify_digits(split: TestSplit, verify: bool) -> TestSplit:
    if not verify:
        check = f"sklearn-digits: NOT verified (verify=False), split sha256 {split.sha256}"
    elif split.sha256 != DIGITS_TEST_SHA256:
        raise DatasetError(f"checksum mismatch for the sklearn-digits test split: sha256 {split.sha256}, "
                           f"expected {DIGITS_TEST_SHA256}. The scikit-learn installation's digits data differ.")
    else:
        check = f"sklearn-digits: split sha256 matches the pinned {DIGITS_TEST_SHA256} (computed by cwcontrib)"
    return TestSplit(name=split.name, images=split.images, labels=split.labels, sha256=split.sha256,
                     source=split.source, verification=(check,))
