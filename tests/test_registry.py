"""The rule registry keeps its promises at run time: a check emits only the codes it declares."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cwcontrib.checks import base as checks_base
from cwcontrib.checks.base import STRICT_CODES_VARIABLE, Check, Context, UndeclaredCode
from cwcontrib.codes import finding
from cwcontrib.findings import Finding, Location
from cwcontrib.validate import validate
from tests.conftest import Submission


def _rogue(ctx: Context) -> Iterator[Finding]:
    yield finding("CW100", "declared, kept", Location("."))
    yield finding("CW204", "a files-stage code this check never declared", Location("x.bin"))


@pytest.fixture
def rogue_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only one check runs: a manifest-stage check declaring CW100 that also emits CW204."""
    monkeypatch.setattr(checks_base, "CHECKS", [Check("manifest", "rogue_check", ("CW100",), _rogue)])


@pytest.mark.usefixtures("rogue_check")
def test_an_undeclared_code_becomes_cw001_naming_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STRICT_CODES_VARIABLE, raising=False)
    report = validate(tmp_path)
    codes = [f.code for f in report.findings]
    assert "CW204" not in codes
    assert "CW100" in codes
    internal = [f for f in report.findings if f.code == "CW001" and "rogue_check" in f.message]
    assert len(internal) == 1
    assert "CW204" in internal[0].message and internal[0].location == Location("x.bin")
    assert not report.ok


@pytest.mark.usefixtures("rogue_check")
def test_strict_mode_raises_at_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STRICT_CODES_VARIABLE, "1")
    with pytest.raises(UndeclaredCode, match="rogue_check emitted CW204"):
        validate(tmp_path)


def test_cw001_is_the_only_code_every_check_shares() -> None:
    assert {"CW001"} == checks_base.SHARED_CODES
    rogue = Check("manifest", "x", ("CW100",), _rogue)
    assert rogue.declares("CW001") and rogue.declares("CW100") and not rogue.declares("CW204")


def test_the_test_suite_runs_in_strict_mode() -> None:
    import os

    assert os.environ.get(STRICT_CODES_VARIABLE) == "1", "tests/conftest.py sets it"


def test_every_check_declares_only_codes_of_its_own_stage() -> None:
    """`explain` names a code's stage from its number: a check of another stage emitting it would make that a
    lie. Only SHARED_CODES (CW001) cross stages."""
    from cwcontrib.checks import CHECKS
    from cwcontrib.codes import REGISTRY

    foreign = {(c.name, code) for c in CHECKS for code in c.codes
               if code not in checks_base.SHARED_CODES and REGISTRY[code].stage != c.stage}
    assert not foreign


def test_a_check_cannot_declare_a_code_of_another_stage() -> None:
    with pytest.raises(ValueError, match="another stage"):
        checks_base.check("weights", "CW201")
    checks_base.check("weights", "CW001", "CW401")  # shared and own-stage codes are fine (nothing registered yet)


# --- order: a check names what it needs, the registry orders by it -----------------------------------------


def _noop(ctx: Context) -> Iterator[Finding]:
    return iter(())


def test_checks_run_after_those_that_fill_what_they_need() -> None:
    from cwcontrib.checks import CHECKS, STAGES, checks_of

    for stage in STAGES:
        ordered = checks_of(stage)
        assert sorted(c.name for c in ordered) == sorted(c.name for c in CHECKS if c.stage == stage)
        for position, c in enumerate(ordered):
            later = ordered[position + 1:]
            assert not any(set(c.needs) & set(other.provides) for other in later), (stage, c.name)
    semantics = [c.name for c in checks_of("semantics")]
    assert semantics.index("trials_are_well_formed") < semantics.index("trial_ids_are_unique")


def test_order_does_not_depend_on_definition_order() -> None:
    import random

    from cwcontrib.checks import CHECKS, STAGES
    from cwcontrib.checks.base import order_checks

    expected = {stage: order_checks(CHECKS, stage) for stage in STAGES}
    shuffled = list(CHECKS)
    for seed in range(20):
        random.Random(seed).shuffle(shuffled)
        assert {stage: order_checks(shuffled, stage) for stage in STAGES} == expected


def test_unmet_and_circular_needs_are_refused() -> None:
    from cwcontrib.checks.base import order_checks

    lonely = Check("semantics", "a", (), _noop, needs=("weights_ok",))  # filled by the later weights stage only
    with pytest.raises(ValueError, match="no check of its or an earlier stage"):
        order_checks([lonely], "semantics")
    first = Check("semantics", "a", (), _noop, needs=("tables",), provides=("trials",))
    second = Check("semantics", "b", (), _noop, needs=("trials",), provides=("tables",))
    with pytest.raises(ValueError, match="need each other"):
        order_checks([first, second], "semantics")
    with pytest.raises(ValueError, match="not Context fields"):
        checks_base.check("semantics", needs=("trails",))


def test_shuffled_definitions_give_the_same_report(submission: Submission, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real pipeline on a submission with findings in several stages: registration order is irrelevant."""
    import random

    from cwcontrib.checks import CHECKS, Options

    def break_things(data: dict[str, Any]) -> None:
        data["trials"][1]["id"] = data["trials"][0]["id"]  # CW305, semantics, needs the trials
        data["trials"][0]["runs"]["pytorch"]["test_accuracy"] = 0.95123  # CW304
        data["hyperparameters"].pop("loss")  # CW329, every trial

    submission.edit(break_things)
    submission.write_file("notes.txt", "wandb.login(key='0123456789abcdef0123456789abcdef01234567')\n", "text")

    def report_with(order: list[Check]) -> dict[str, Any]:
        monkeypatch.setattr(checks_base, "CHECKS", order)
        return validate(submission.root, options=Options(reeval=False)).as_dict()

    expected = report_with(list(CHECKS))
    assert {"CW304", "CW305", "CW310", "CW329"} <= set(expected["summary"]["by_code"])
    for seed in (1, 2):
        shuffled = list(CHECKS)
        random.Random(seed).shuffle(shuffled)
        assert report_with(shuffled) == expected
    assert report_with(list(reversed(CHECKS))) == expected
