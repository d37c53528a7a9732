"""Mutants of cwcontrib/weights/pytorch_reader.py that survived tests/test_weights_readers.py and
tests/test_weights_walls.py (mutmut, issue 9), killed here: the exact boundary of each limit, the code and message
of each wall, and the pickle scan's tracking of the names STACK_GLOBAL imports."""

from __future__ import annotations

import pickletools

import pytest

from cwcontrib.weights import WeightsError, WeightsLimits
from cwcontrib.weights.pytorch_reader import scan_pickle

EMPTY_DICT = b"\x80\x02}."  # PROTO 2, EMPTY_DICT, STOP: three opcodes


def test_the_opcode_limit_is_exact() -> None:
    """A limit of N allows N opcodes, not N + 1 (found by mutmut: `count > N` with a 0-based count)."""
    assert len(list(pickletools.genops(EMPTY_DICT))) == 3
    scan_pickle(EMPTY_DICT, WeightsLimits(pickle_opcodes=3))
    with pytest.raises(WeightsError) as info:
        scan_pickle(EMPTY_DICT, WeightsLimits(pickle_opcodes=2))
    assert (info.value.code, str(info.value)) == ("CW406", "more than 2 pickle opcodes")
