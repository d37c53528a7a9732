"""Bounds re-evaluation relies on: the declared classes and split are the registry's, and Parquet tables are
held to the cell and size limits of CSV."""

from __future__ import annotations

import io

import numpy as np
import pytest

from cwcontrib.checks import Options
from cwcontrib.limits import Limits
from cwcontrib.tables import TableError, parse_parquet
from cwcontrib.validate import validate
from tests.conftest import Submission


def codes(report: object) -> list[str]:
    return [f.code for f in report.findings]  # type: ignore[attr-defined]


def test_num_classes_is_tied_to_the_registered_dataset(submission: Submission) -> None:
    submission.edit(lambda d: d["architecture"].update(num_classes=12))
    report = validate(submission.root, options=Options(reeval=False))  # the cheap job refuses it too
    [mismatch] = [f for f in report.findings if f.code == "CW504"]
    assert "num_classes is 12, but sklearn-digits has 10 classes" in mismatch.message
    assert mismatch.location.pointer == "/architecture/num_classes"
    assert report.stages["evaluation"] == "failed"


def test_a_validation_split_is_not_silently_compared_with_the_test_split(submission: Submission) -> None:
    submission.edit(lambda d: d["dataset"].update(split="validation"))
    report = validate(submission.root, options=Options(device="cpu", seed="1", all_trials=True))
    assert not report.ok
    [split] = [f for f in report.findings if f.code == "CW505"]
    assert "'validation'" in split.message and "360 examples" in split.message
    assert "CW500" not in codes(report)  # nothing measured on the test split is compared with these claims
    absent = report.extra["evaluation"]["not_evaluated"]
    assert len(absent) == 10 and {a["reason"] for a in absent} == {"split-not-reevaluable"}


def _parquet(table: object) -> bytes:
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")  # type: ignore[arg-type]
    return buffer.getvalue()


def _repeated(text: str, rows: int) -> object:
    """A table whose one column repeats `text` on every row, stored as a dictionary: tiny on disk, and built
    without materialising the repetition here either."""
    import pyarrow as pa

    column = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, dtype=np.int32)), pa.array([text]))
    return pa.table({"id": column})


def test_a_tiny_parquet_file_cannot_decode_into_megabytes_of_cell_text() -> None:
    raw = _parquet(_repeated("x" * 10_000, 10_000))  # 100 MB of text once decoded
    assert len(raw) < 2_000
    with pytest.raises(TableError, match="longer than 4096 characters") as error:
        parse_parquet(raw, "trials.parquet", Limits())
    assert error.value.code == "CW313"


def test_parquet_text_in_all_cells_is_bounded_like_a_csv_file() -> None:
    raw = _parquet(_repeated("y" * 100, 1_000))  # 100,000 characters, every cell within the cell limit
    with pytest.raises(TableError, match="more than 50000 characters") as error:
        parse_parquet(raw, "trials.parquet", Limits(table_bytes=50_000))
    assert error.value.code == "CW315"
    assert len(parse_parquet(raw, "trials.parquet", Limits()).rows) == 1_000  # within the default limits


def test_parquet_declared_decompressed_size_is_bounded() -> None:
    import pyarrow as pa

    raw = _parquet(pa.table({"x": pa.array(np.arange(20_000, dtype=np.int64))}))
    with pytest.raises(TableError, match="decompresses to") as error:
        parse_parquet(raw, "trials.parquet", Limits(table_bytes=len(raw) + 1_000))
    assert error.value.code == "CW315"


def test_parquet_nested_columns_are_refused_before_decoding() -> None:
    import pyarrow as pa

    raw = _parquet(pa.table({"id": pa.array([["a", "b"]])}))
    with pytest.raises(TableError, match="lists or records"):
        parse_parquet(raw, "trials.parquet", Limits())
