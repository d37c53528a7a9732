"""scikit-learn digits."""

from __future__ import annotations

import numpy as np

from cwcontrib.datasets.errors import DatasetError
from cwcontrib.datasets.registry import DIGITS_TRAIN_SIZE
from cwcontrib.datasets.split import TestSplit, _make_split

# The digits split as loaded (see `split_sha256`); computed by cwcontrib from scikit-learn 1.9.1's bundled
# digits.csv.gz (sha256 09f66e6d...aa22). Nobody publishes one: it guards against a modified scikit-learn install.
DIGITS_TEST_SHA256 = "a00ccc4978c46a4d561d65df875cc49bdfe829dc20aad2a6748276ea741c1829"


def _load_digits(verify: bool) -> TestSplit:
    try:
        import sklearn
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise DatasetError("sklearn-digits needs scikit-learn installed (pip install 'cwcontrib[data]')") from exc
    bunch = load_digits()
    grey = np.asarray(bunch.images[DIGITS_TRAIN_SIZE:], dtype=np.float64)
    # load_digits returns float64; the file holds integer grey levels 0..16, kept as such (rescale=1/16 -> [0, 1])
    if not (np.array_equal(grey, np.round(grey)) and grey.min() >= 0 and grey.max() <= 16):
        raise DatasetError("scikit-learn's digits are not integer grey levels 0..16: the installation is modified")
    images = grey.astype(np.uint8).reshape(-1, 8, 8, 1)
    labels = np.asarray(bunch.target[DIGITS_TRAIN_SIZE:], dtype=np.int64)
    source = f"scikit-learn {sklearn.__version__} load_digits() (bundled digits.csv.gz), rows {DIGITS_TRAIN_SIZE}..1796"
    split = _make_split("sklearn-digits", images, labels, [source], [], verify)
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
