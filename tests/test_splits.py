"""Splits are data: each registered dataset's evaluation split is defined exactly, printed, loadable as arrays,
and `dataset.sha256` is checked against it."""

from __future__ import annotations

import numpy as np
import pytest

from cwcontrib import cli
from cwcontrib import datasets as ds
from cwcontrib.checks import Options
from cwcontrib.checks.evaluation import accepted_dataset_digests
from cwcontrib.validate import Report, validate
from tests.conftest import Submission

PINNED_DIGITS = "a00ccc4978c46a4d561d65df875cc49bdfe829dc20aad2a6748276ea741c1829"


def codes(report: Report) -> list[str]:
    return [f.code for f in report.findings]


def test_every_dataset_defines_its_evaluation_split() -> None:
    for info in ds.REGISTRY.values():
        split = info.evaluation
        assert split.name == "test" and split.size == info.split_sizes["test"]
        assert split.examples and split.order
        assert split.sha256 is None or len(split.sha256) == 64
    assert ds.REGISTRY["sklearn-digits"].evaluation.sha256 == PINNED_DIGITS


def test_show_prints_the_split_exactly(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["datasets", "--show", "sklearn-digits"]) == 0
    out = capsys.readouterr().out
    assert "rows 1437..1796" in out and "file order" in out and PINNED_DIGITS in out
    assert "dataset.sha256" in out and "cwcontrib.datasets.load('sklearn-digits', split='test')" in out


def test_show_names_the_pinned_files_of_an_unpinned_split(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["datasets", "--show", "mnist"]) == 0
    out = capsys.readouterr().out
    assert "not pinned" in out and ds.PINNED["mnist/t10k-labels-idx1-ubyte"].hexdigest in out


def test_show_of_an_unknown_dataset_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["datasets", "--show", "imagenet"]) == 2
    assert "known: cifar10" in capsys.readouterr().err


def test_load_returns_the_evaluation_split_as_arrays() -> None:
    images, labels = ds.load("sklearn-digits", split="test")
    assert images.shape == (360, 8, 8, 1) and images.dtype == np.uint8 and labels.dtype == np.int64
    assert ds.split_sha256(images, labels) == PINNED_DIGITS


def test_load_train_is_the_rest_of_digits_in_file_order() -> None:
    from sklearn.datasets import load_digits

    images, labels = ds.load("sklearn-digits", split="train")
    assert images.shape == (1437, 8, 8, 1)
    bunch = load_digits()
    assert np.array_equal(images[:, :, :, 0], bunch.images[:1437].astype(np.uint8))
    assert np.array_equal(labels, bunch.target[:1437])


@pytest.mark.parametrize(("name", "split"), [("cifar10", "train"), ("sklearn-digits", "validation"),
                                             ("imagenet", "test")])
def test_load_refuses_what_it_does_not_define(name: str, split: str) -> None:
    with pytest.raises(ds.DatasetError):
        ds.load(name, split=split)


def test_a_made_up_dataset_digest_is_an_error_naming_both(submission: Submission) -> None:
    submission.edit(lambda d: d["dataset"].update(sha256="deadbeef" * 8))
    report = validate(submission.root, options=Options(reeval=False))
    assert codes(report) == ["CW506"]
    message = report.findings[0].message
    assert "deadbeef" * 8 in message and PINNED_DIGITS in message
    assert report.findings[0].location.pointer == "/dataset/sha256"


def test_the_pinned_digest_and_an_absent_one_pass(submission: Submission) -> None:
    assert submission.manifest()["dataset"]["sha256"] == PINNED_DIGITS
    assert validate(submission.root, options=Options(reeval=False)).ok
    submission.edit(lambda d: d["dataset"].pop("sha256"))
    assert validate(submission.root, options=Options(reeval=False)).ok


def test_without_a_pinned_digest_the_loaded_split_decides(submission: Submission,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # As for cifar10 and mnist: no split digest pinned, so stage 5 compares with the split it loaded.
    import dataclasses

    info = ds.REGISTRY["sklearn-digits"]
    unpinned = dataclasses.replace(info, evaluation=dataclasses.replace(info.evaluation, sha256=None))
    monkeypatch.setitem(ds.REGISTRY, "sklearn-digits", unpinned)
    submission.edit(lambda d: d["dataset"].update(sha256="deadbeef" * 8))
    assert validate(submission.root, options=Options(reeval=False)).ok  # nothing to compare with yet
    report = validate(submission.root, options=Options(device="cpu", seed="5eed", sample=1))
    assert codes(report) == ["CW506"] and PINNED_DIGITS in report.findings[0].message


def test_pinned_file_digests_are_accepted_as_dataset_digests() -> None:
    accepted = accepted_dataset_digests("mnist", None)
    assert ds.PINNED["mnist/t10k-images-idx3-ubyte"].hexdigest in accepted
    assert ds.PINNED["mnist/t10k-images-idx3-ubyte.gz"].hexdigest not in accepted  # md5, not sha256
