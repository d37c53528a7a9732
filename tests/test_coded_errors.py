"""One exception shape for the refusals of the safe layers (issue 9): code, message, line; and each survives a
trip through pickle (a worker process's refusal reaches the driver whole)."""

from __future__ import annotations

import pickle

import pytest

from cwcontrib.findings import CodedError
from cwcontrib.safefs import UnsafeFile
from cwcontrib.tables import TableError
from cwcontrib.weights.base import WeightsError


@pytest.mark.parametrize("error", [UnsafeFile("CW202", "not a regular file"), WeightsError("CW402", "bad header"),
                                   TableError("row has 3 cells", code="CW315", line=7), TableError("empty")])
def test_every_refusal_has_the_one_shape_and_pickles_whole(error: CodedError) -> None:
    assert isinstance(error, CodedError)
    assert str(error) == error.message and error.code.startswith("CW")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert (again.code, again.message, again.line, str(again)) == (error.code, error.message, error.line, str(error))


def test_a_table_error_defaults_to_the_unreadable_table_code() -> None:
    assert (TableError("x").code, TableError("x").line) == ("CW313", None)
