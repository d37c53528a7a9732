"""Mutants of cwcontrib/checks/base.py (the check registry and what checks share; mutmut, issue 9) that
tests/test_registry.py leaves alive, killed here: each refusal of `check(...)` with its exact message, what a
registration records, the order of checks at each of its rules (stage, name, needs met by an earlier stage or by
another check of the same stage, never by the check itself), strict mode's exact switch, and `walk_strings`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cwcontrib.checks import base
from cwcontrib.checks.base import STRICT_CODES_VARIABLE, Check, Context, order_checks, walk_strings
from cwcontrib.findings import Finding


def _noop(ctx: Context) -> Iterator[Finding]:
    return iter(())


def make(stage: str, name: str, needs: tuple[str, ...] = (), provides: tuple[str, ...] = ()) -> Check:
    return Check(stage, name, (), _noop, needs=needs, provides=provides)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> list[Check]:
    """An empty registry for this test: `check(...)` registers into it, never into the real one."""
    registered: list[Check] = []
    monkeypatch.setattr(base, "CHECKS", registered)
    return registered


# -- strict mode ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "strict"), [("1", True), ("0", False), ("", False), ("11", False),
                                               (" 1", False), ("true", False), (None, False)])
def test_only_exactly_1_is_strict(monkeypatch: pytest.MonkeyPatch, value: str | None, strict: bool) -> None:
    assert STRICT_CODES_VARIABLE == "CWCONTRIB_STRICT_CODES"
    if value is None:
        monkeypatch.delenv(STRICT_CODES_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(STRICT_CODES_VARIABLE, value)
    assert base.strict_codes() is strict


# -- registering ------------------------------------------------------------------------------------------------------

def test_a_registration_records_everything_and_returns_the_function(registry: list[Check]) -> None:
    def a_check(ctx: Context) -> Iterator[Finding]:
        return iter(())

    decorated = base.check("weights", "CW401", "CW001", needs=("model", "trials"), provides=("weights_ok",))(a_check)
    assert decorated is a_check
    assert registry == [Check(stage="weights", name="a_check", codes=("CW401", "CW001"), run=a_check,
                              needs=("model", "trials"), provides=("weights_ok",))]
    base.check("manifest", provides=("model", "trials"))(_noop)
    assert [c.name for c in registry] == ["a_check", "_noop"]
    assert registry[1] == Check("manifest", "_noop", (), _noop, (), ("model", "trials"))
    assert base.checks_of("weights") == [registry[0]] and base.checks_of("files") == []


def test_an_unknown_stage_is_refused(registry: list[Check]) -> None:
    with pytest.raises(ValueError) as raised:
        base.check("weight", "CW401")
    assert str(raised.value) == "unknown stage weight"
    assert registry == []


def test_needs_and_provides_must_be_context_fields(registry: list[Check]) -> None:
    with pytest.raises(ValueError) as raised:
        base.check("semantics", needs=("trials", "trails"), provides=("tabels",))
    assert str(raised.value) == "not Context fields: ['trails', 'tabels']"
    with pytest.raises(ValueError) as raised:
        base.check("semantics", provides=("verfied",))
    assert str(raised.value) == "not Context fields: ['verfied']"
    base.check("semantics", needs=("trials",), provides=("tables",))  # real fields: fine
    assert registry == []  # nothing registered until a function is decorated


def test_unknown_removed_and_foreign_codes_are_refused_in_that_order() -> None:
    with pytest.raises(ValueError) as raised:
        base.check("files", "CW201", "CW999", "CW998")
    assert str(raised.value) == "unknown finding codes ['CW999', 'CW998']"
    with pytest.raises(ValueError) as raised:
        base.check("files", "CW201", "CW210")
    assert str(raised.value) == "removed finding codes ['CW210']: emit what replaced them"
    with pytest.raises(ValueError) as raised:
        base.check("files", "CW201", "CW306", "CW401", "CW001")
    assert str(raised.value) == "removed finding codes ['CW306']: emit what replaced them"
    with pytest.raises(ValueError) as raised:
        base.check("files", "CW201", "CW401", "CW001", "CW301")
    assert str(raised.value) == "codes ['CW401', 'CW301'] belong to another stage than files: a code has one stage"


def test_every_stage_and_every_context_field_is_accepted(registry: list[Check]) -> None:
    from dataclasses import fields

    names = tuple(f.name for f in fields(Context))
    assert frozenset(names) == base.CONTEXT_FIELDS
    for stage in base.STAGES:
        base.check(stage, needs=names, provides=names)(_noop)
    assert [c.stage for c in registry] == ["manifest", "files", "semantics", "weights", "evaluation"]


def test_declares_own_and_shared_codes_only() -> None:
    c = Check("weights", "c", ("CW401", "CW402"), _noop)
    assert c.declares("CW401") and c.declares("CW402") and c.declares("CW001")
    assert not c.declares("CW403") and not c.declares("CW4") and not c.declares("")
    assert Check("weights", "d", (), _noop).declares("CW001")


# -- ordering ---------------------------------------------------------------------------------------------------------

def names(checks: list[Check]) -> list[str]:
    return [c.name for c in checks]


def test_a_stage_orders_only_its_own_checks_by_name() -> None:
    checks = [make("semantics", "b"), make("weights", "a"), make("semantics", "a"), make("manifest", "c"),
              make("semantics", "c")]
    assert names(order_checks(checks, "semantics")) == ["a", "b", "c"]
    assert names(order_checks(checks, "weights")) == ["a"]
    assert order_checks(checks, "files") == []


def test_a_need_waits_for_every_provider_of_its_stage() -> None:
    checks = [make("weights", "a", needs=("weights_ok",)), make("weights", "z", provides=("weights_ok",)),
              make("weights", "m", provides=("weights_ok",)), make("weights", "b")]
    assert names(order_checks(checks, "weights")) == ["b", "m", "z", "a"]


def test_a_need_filled_by_an_earlier_stage_does_not_wait() -> None:
    checks = [make("files", "fill", provides=("verified",)), make("weights", "a", needs=("verified",)),
              make("weights", "b")]
    assert names(order_checks(checks, "weights")) == ["a", "b"]


def test_a_need_filled_by_both_an_earlier_stage_and_the_same_stage_waits_for_the_same_stage() -> None:
    checks = [make("files", "fill", provides=("verified",)), make("weights", "a", needs=("verified",)),
              make("weights", "b", provides=("verified",))]
    assert names(order_checks(checks, "weights")) == ["b", "a"]


def test_a_check_that_fills_what_it_needs_itself_is_met_by_no_one_else() -> None:
    alone = [make("weights", "self", needs=("weights_ok",), provides=("weights_ok",))]
    with pytest.raises(ValueError) as raised:
        order_checks(alone, "weights")
    assert str(raised.value) == ("check self needs ['weights_ok'], which no check of its or an earlier stage "
                                 "provides")
    helped = [*alone, make("weights", "zz", provides=("weights_ok",))]
    assert names(order_checks(helped, "weights")) == ["zz", "self"]
    earlier = [*alone, make("semantics", "fill", provides=("weights_ok",))]
    assert names(order_checks(earlier, "weights")) == ["self"]


def test_a_later_stage_meets_no_need() -> None:
    checks = [make("semantics", "a", needs=("trials", "weights_ok")), make("weights", "w", provides=("weights_ok",)),
              make("semantics", "t", provides=("trials",))]
    with pytest.raises(ValueError) as raised:
        order_checks(checks, "semantics")
    assert str(raised.value) == ("check a needs ['weights_ok'], which no check of its or an earlier stage provides")


def test_needs_of_each_other_are_refused_naming_what_is_left() -> None:
    checks = [make("semantics", "free"), make("semantics", "x", needs=("tables",), provides=("trials",)),
              make("semantics", "y", needs=("trials",), provides=("tables",))]
    with pytest.raises(ValueError) as raised:
        order_checks(checks, "semantics")
    assert str(raised.value) == "checks ['x', 'y'] need each other: no order satisfies them"


def test_the_real_registry_in_order() -> None:
    from cwcontrib.checks import CHECKS

    weights = base.checks_of("weights")
    assert weights == order_checks(CHECKS, "weights")
    assert names(weights) == ["reference_architectures_match_the_declaration", "weights_load_strictly",
                              "onnx_keys_get_pair_verdicts"]


# -- walking strings --------------------------------------------------------------------------------------------------

def test_walk_strings_yields_every_string_with_its_pointer_and_key() -> None:
    data = {"a": ["x", {"b/c": "y", "n": 1, "t": True, "z": None}], "d": "z", "e~": {"f": ["deep", 2.5]}}
    assert list(walk_strings(data)) == [
        ("/e~0/f/0", "f", "deep"),
        ("/d", "d", "z"),
        ("/a/1/b~1c", "b/c", "y"),
        ("/a/0", "a", "x"),
    ]
    assert list(walk_strings(data["a"], "/a")) == [("/a/1/b~1c", "b/c", "y"), ("/a/0", "", "x")]
    assert list(walk_strings("alone")) == [("", "", "alone")]
    assert list(walk_strings({1: "one"})) == [("/1", "1", "one")]
    assert list(walk_strings(3)) == [] and list(walk_strings({"k": [[]]})) == []


# -- locations --------------------------------------------------------------------------------------------------------

def test_at_locates_a_pointer_in_the_loaded_manifest(tmp_path: Path) -> None:
    from cwcontrib.findings import Location
    from cwcontrib.validate import run_stage
    from tests.conftest import DEMO

    ctx = Context(root=DEMO)
    assert ctx.at("/x") == Location("", None, pointer="/x")  # no manifest loaded yet
    run_stage(ctx, "manifest")
    assert ctx.at("/architecture/name") == Location("submission.yaml", 37, pointer="/architecture/name")
    assert ctx.at("") == Location("submission.yaml", 2, pointer="")
