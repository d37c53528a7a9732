"""Mutants of cwcontrib/checks/semantics.py that survived tests/test_checks.py, tests/test_secrets.py and
tests/test_licenses.py (mutmut, issue 9), killed here: each semantic finding with its exact code, message, location
and hint; the k/N arithmetic at its exact tolerance and its rounding at the edges of [0, N]; the chance ceiling,
the exploding-loss threshold and the search space's bounds at their exact boundary; which tables are read (once)
and which text files are scanned for credentials; host names nobody else can resolve.

The stages run on a fresh copy of the real demo (`submission` fixture) through `cwcontrib.validate.run_stage`:
manifest, files, then semantics, as `validate()` runs them."""

from __future__ import annotations

import math
from typing import Any

import pytest

from cwcontrib.checks import semantics
from cwcontrib.checks.base import Context
from cwcontrib.checks.semantics import (
    chance_ceiling,
    identified_k,
    is_k_over_n,
    ks_at_printed_precision,
    nearest_k,
    printed_decimals,
    read_verified_table,
    unreachable_host,
)
from cwcontrib.findings import Finding, Location
from cwcontrib.limits import DEFAULT_LIMITS, Limits
from cwcontrib.models import Choice, Range
from cwcontrib.tables import TableError, read_table
from cwcontrib.validate import run_stage
from tests.conftest import Submission

Found = tuple[str, str, Location]
CURVE = "curves/t01-pytorch.csv"  # trial t01's pytorch run


def semantics_stage(sub: Submission, limits: Limits = DEFAULT_LIMITS) -> tuple[Context, list[Finding]]:
    ctx = Context(root=sub.root, limits=limits)
    assert [f for f in run_stage(ctx, "manifest") if f.severity.value == "error"] == []
    run_stage(ctx, "files")  # its findings are not this module's (a `.env` declared as text is CW211)
    return ctx, run_stage(ctx, "semantics")


def found_in(sub: Submission, limits: Limits = DEFAULT_LIMITS) -> tuple[Context, list[Found]]:
    ctx, found = semantics_stage(sub, limits)
    return ctx, [(f.code, f.message, f.location) for f in found]


def run_at(ctx: Context, trial: int, framework: str, *path: str | int) -> Location:
    return ctx.at("/".join(["", "trials", str(trial), "runs", framework, *map(str, path)]))


def first_run(data: dict[str, Any], framework: str = "pytorch", trial: int = 0) -> dict[str, Any]:
    run: dict[str, Any] = data["trials"][trial]["runs"][framework]
    return run


def write_curve(sub: Submission, text: str, rel: str = CURVE) -> None:
    sub.write_file(rel, text, "csv")


def curve(rows: int, loss: str = "0.5", columns: str = "epoch,loss") -> str:
    extra = columns.count(",") - 1
    return columns + "\n" + "".join(f"{i},{loss}" + ",0.1" * extra + "\n" for i in range(1, rows + 1))


# -- the demo ---------------------------------------------------------------------------------------------------------

def test_the_demo_has_no_semantic_finding_and_five_trials_of_two_runs(submission: Submission) -> None:
    ctx, found = found_in(submission)
    assert found == []
    assert [t.id for t in ctx.trials] == ["t01", "t02", "t03", "t04", "t05"]
    assert all(sorted(t.runs) == ["keras", "pytorch"] for t in ctx.trials)


# -- the k/N arithmetic -----------------------------------------------------------------------------------------------

def test_the_tolerance_of_k_over_n_is_inclusive() -> None:
    assert semantics.K_OVER_N_TOLERANCE == 1e-6
    assert is_k_over_n(1e-6, 1)  # |1e-6 - 0/1| is exactly the tolerance
    assert not is_k_over_n(1.0000000000000002e-06, 1)
    assert is_k_over_n(0.5 + 2**-20, 2) and not is_k_over_n(0.5 + 2**-19, 2)
    assert is_k_over_n(1 - 2**-20, 1)


def test_nearest_k_is_exact_for_huge_n() -> None:
    assert nearest_k(0.25, 8) == 2 and nearest_k(0.3, 10) == 3 and nearest_k(0.35, 2) == 1  # round half to even
    assert nearest_k(0.5, 10**400) == 5 * 10**399


def test_the_chance_ceiling_is_three_standard_deviations_above_one_over_classes() -> None:
    assert chance_ceiling(10, 360) == pytest.approx(0.1 + 3 * math.sqrt(0.1 * 0.9 / 360), rel=1e-15)
    assert chance_ceiling(4, 100) == pytest.approx(0.25 + 3 * math.sqrt(0.25 * 0.75 / 100), rel=1e-15)
    assert chance_ceiling(2, 10**400) == 0.5  # no overflow: 1 / n underflows to 0


@pytest.mark.parametrize(("accuracy", "decimals"), [
    (0.8417, 4), (1e-05, 5), (0.5, 1), (1.0, 1), (0.0, 1), (1.5e-10, 11), (1e16, 0), (123.25, 2)])
def test_printed_decimals(accuracy: float, decimals: int) -> None:
    assert printed_decimals(accuracy) == decimals


@pytest.mark.parametrize(("accuracy", "n", "ks"), [
    (0.8417, 360, range(303, 304)),
    (0.5, 20, range(9, 12)),  # 0.45 and 0.55 are exactly half a unit away: both ends included
    (0.0, 20, range(0, 2)),  # never below 0
    (1.0, 20, range(19, 21)),  # never above N
    (0.84, 360, range(301, 305)),  # [0.835, 0.845] x 360 = [300.6, 304.2]
])
def test_the_ks_at_printed_precision(accuracy: float, n: int, ks: range) -> None:
    assert ks_at_printed_precision(accuracy, n) == ks


def test_identified_k() -> None:
    assert identified_k(0.8416666666666667, 360) == 303  # k/N itself
    assert identified_k(0.8417, 360) == 303  # the only k/N that rounds to it
    assert identified_k(0.84, 360) is None  # four of them do
    assert identified_k(0.84171, 360) is None  # none does


# -- accuracies -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("accuracy", [-0.1, 1.0000001, 93.0])
def test_an_accuracy_outside_0_1(submission: Submission, accuracy: float) -> None:
    submission.edit(lambda d: first_run(d).update(test_accuracy=accuracy))
    ctx, found = found_in(submission)
    assert found == [("CW303", f"accuracy {accuracy!r} is outside [0, 1]", run_at(ctx, 0, "pytorch", "test_accuracy"))]


def test_accuracies_of_exactly_0_and_1_are_in_range(submission: Submission) -> None:
    submission.edit(lambda d: first_run(d).update(test_accuracy=1.0))
    submission.edit(lambda d: first_run(d, "keras").update(test_accuracy=0.0))
    ctx, found = found_in(submission)
    ceiling = chance_ceiling(10, 360)
    assert found == [("CW307", f"run 'keras' of trial 't01' has accuracy 0.0000, at chance for 10 classes "
                               f"(at most {ceiling:.4f})", run_at(ctx, 0, "keras", "test_accuracy"))]


def test_a_rounded_accuracy_is_read_as_its_only_k(submission: Submission) -> None:
    submission.edit(lambda d: first_run(d).update(test_accuracy=0.8417))
    ctx, found = semantics_stage(submission)
    assert [(f.code, f.message, f.location, f.hint) for f in found] == [(
        "CW332", f"accuracy 0.8417 is 303/360 = {303 / 360!r} rounded to 4 decimals (no other k/360 rounds to it): "
                 "read as 303/360", run_at(ctx, 0, "pytorch", "test_accuracy"),
        f"Write the exact value, {303 / 360!r}.")]


def test_an_accuracy_that_is_no_k_over_n(submission: Submission) -> None:
    submission.edit(lambda d: first_run(d).update(test_accuracy=0.84171))
    submission.edit(lambda d: first_run(d, "keras").update(test_accuracy=0.84))
    ctx, found = semantics_stage(submission)
    k = 303
    assert [(f.code, f.message, f.location, f.hint) for f in found] == [
        ("CW304", f"accuracy 0.84171 is not k/360; the nearest is {k}/360 = {k / 360!r}",
         run_at(ctx, 0, "pytorch", "test_accuracy"),
         f"If {k} of 360 test examples were correct, write {k / 360!r}; "
         "otherwise count correct predictions over the whole test split."),
        ("CW304", f"accuracy 0.84 is not k/360; the nearest is 302/360 = {302 / 360!r}; at 2 decimals it could be "
                  "any of 301..304/360", run_at(ctx, 0, "keras", "test_accuracy"),
         f"If 302 of 360 test examples were correct, write {302 / 360!r}; "
         "otherwise count correct predictions over the whole test split."),
    ]


def declare_mean_of_batches(sub: Submission) -> None:
    sub.edit(lambda d: d["frameworks"]["pytorch"].update(accuracy_measure="mean-of-batch-accuracies"))


def test_a_declared_measure_gives_one_warning_per_framework_with_the_count(submission: Submission) -> None:
    declare_mean_of_batches(submission)
    submission.edit(lambda d: first_run(d).update(test_accuracy=0.84171))
    submission.edit(lambda d: first_run(d, trial=1).update(test_accuracy=0.9))  # 324/360: a count anyway
    submission.edit(lambda d: first_run(d, trial=2).update(test_accuracy=0.95123))
    ctx, found = found_in(submission)
    assert found == [("CW327", "2 of 5 'pytorch' runs have accuracies that are not k/360 (declared "
                               "accuracy_measure: mean-of-batch-accuracies)",
                      ctx.at("/frameworks/pytorch/accuracy_measure"))]


def test_an_accuracy_exactly_at_the_chance_ceiling_is_at_chance(submission: Submission) -> None:
    ceiling = chance_ceiling(10, 360)
    declare_mean_of_batches(submission)  # the ceiling is no k/360: declared, it is judged against chance alone
    submission.edit(lambda d: first_run(d).update(test_accuracy=ceiling))
    submission.edit(lambda d: first_run(d, trial=1).update(test_accuracy=math.nextafter(ceiling, 1)))
    ctx, found = found_in(submission)
    assert found[0] == ("CW307", f"run 'pytorch' of trial 't01' has accuracy {ceiling:.4f}, at chance for 10 classes "
                                 f"(at most {ceiling:.4f})", run_at(ctx, 0, "pytorch", "test_accuracy"))
    assert [code for code, _, _ in found] == ["CW307", "CW327"]
    assert found[1][1].startswith("2 of 5 'pytorch' runs")


# -- trials -----------------------------------------------------------------------------------------------------------

def test_no_trials_at_all(submission: Submission) -> None:
    submission.edit(lambda d: d.update(trials=[]))
    ctx, found = found_in(submission)
    assert ("CW316", "neither `trials` nor `trials_table` is given", ctx.at("")) in found


@pytest.mark.parametrize("times", [2, 3])
def test_a_trial_id_used_twice_or_more_is_reported_at_each(submission: Submission, times: int) -> None:
    def same_id(data: dict[str, Any]) -> None:
        for trial in data["trials"][:times]:
            trial["id"] = "t01"

    submission.edit(same_id)
    ctx, found = found_in(submission)
    duplicates = [f for f in found if f[0] == "CW305"]
    assert duplicates == [("CW305", f"trial id 't01' is used {times} times", ctx.at(f"/trials/{i}/id"))
                          for i in range(times)]


def test_files_a_trial_names_must_be_declared(submission: Submission) -> None:
    submission.edit(lambda d: first_run(d).update(curves="curves/nowhere.csv", weights="w/nowhere.safetensors"))
    submission.edit(lambda d: d["code"]["files"].append("code/nowhere.py"))
    ctx, found = found_in(submission)
    assert [f for f in found if f[0] == "CW330"] == [
        ("CW330", "'code/nowhere.py' is not declared", ctx.at("/code/files/3")),
        ("CW330", "'w/nowhere.safetensors' is not declared", run_at(ctx, 0, "pytorch", "weights")),
        ("CW330", "'curves/nowhere.csv' is not declared", run_at(ctx, 0, "pytorch", "curves")),
    ]


def test_weights_may_be_declared_by_uri_other_files_not(submission: Submission) -> None:
    uri = "https://weights.example.org/t01.safetensors"
    submission.edit(lambda d: d["artifacts"].append({"uri": uri, "format": "safetensors", "size": 3,
                                                     "sha256": "0" * 64}))
    submission.edit(lambda d: first_run(d).update(weights=uri, predictions=uri))
    ctx, found = found_in(submission)
    assert [f for f in found if f[0] == "CW330"] == [
        ("CW330", f"{uri!r} is not declared", run_at(ctx, 0, "pytorch", "predictions"))]


def test_runs_name_declared_frameworks(submission: Submission) -> None:
    submission.edit(lambda d: d["architecture"]["implementations"].update(
        jax={"definition": "code/common.py:f", "layout": "NHWC"}))
    submission.edit(lambda d: d["trials"][0]["runs"].update(jax=first_run(d)))
    submission.edit(lambda d: d["trials"][1]["runs"].pop("keras"))
    ctx, found = found_in(submission)
    assert [f for f in found if f[0] in ("CW311", "CW312")] == [
        ("CW311", "implementation 'jax' names an undeclared framework", ctx.at("/architecture/implementations/jax")),
        ("CW311", "run 'jax' of trial 't01' names an undeclared framework", ctx.at("/trials/0/runs/jax")),
        ("CW312", "trial 't02' has no run for keras", ctx.at("/trials/1/runs")),
    ]


def test_a_trial_missing_every_run_names_each_framework_in_order(submission: Submission) -> None:
    submission.edit(lambda d: d["trials"][0].update(runs={}))
    ctx, found = found_in(submission)
    assert ("CW312", "trial 't01' has no run for keras, pytorch", ctx.at("/trials/0/runs")) in found


def test_a_run_s_hyperparameters_must_be_its_trial_s(submission: Submission) -> None:
    submission.edit(lambda d: first_run(d).update(hyperparameters={"optimizer": {"epsilon": 1e-8},
                                                                   "learning_rate": 0.0001}))
    ctx, found = found_in(submission)
    assert found == [("CW300", "run 'pytorch' of trial 't01' has optimizer.epsilon=1e-08, the trial has 1e-07",
                      run_at(ctx, 0, "pytorch", "hyperparameters", "optimizer", "epsilon"))]


# -- the search space -------------------------------------------------------------------------------------------------

def test_one_trial_needs_no_sweep_two_do(submission: Submission) -> None:
    submission.edit(lambda d: d.pop("sweep"))
    submission.edit(lambda d: d.update(trials=d["trials"][:2]))
    ctx, found = found_in(submission)
    assert found == [("CW320", "2 trials but no `sweep` says how they were selected", ctx.at(""))]
    submission.edit(lambda d: d.update(trials=d["trials"][:1]))
    assert found_in(submission)[1] == []


def range_space(low: float, high: float) -> Any:
    return lambda d: d["sweep"]["search_space"].update(learning_rate={"low": low, "high": high})


def test_a_range_includes_both_bounds(submission: Submission) -> None:
    submission.edit(range_space(0.0001, 0.01))  # the demo's smallest and largest learning rates
    assert found_in(submission)[1] == []
    submission.edit(range_space(0.00011, 0.009))
    ctx, found = found_in(submission)
    assert found == [
        ("CW301", "trial 't01' has learning_rate=0.0001, outside the search space",
         ctx.at("/trials/0/hyperparameters/learning_rate")),
        ("CW301", "trial 't05' has learning_rate=0.01, outside the search space",
         ctx.at("/trials/4/hyperparameters/learning_rate")),
    ]


def test_a_choice_and_a_nested_name(submission: Submission) -> None:
    submission.edit(lambda d: d["sweep"]["search_space"].update({"optimizer.epsilon": {"values": [1e-8]}}))
    ctx, found = found_in(submission)
    assert found == [(
        "CW301", f"trial '{t}' has optimizer.epsilon=1e-07, outside the search space",
        ctx.at(f"/trials/{i}/hyperparameters/optimizer/epsilon")) for i, t in enumerate(["t01", "t02", "t03", "t04",
                                                                                          "t05"])]


def test_a_boolean_is_not_a_number_in_a_range() -> None:
    assert semantics._in_space(True, Range(low=0, high=2)) is False
    assert semantics._in_space(1, Range(low=0, high=2)) is True
    assert semantics._in_space("1", Range(low=0, high=2)) is False
    assert semantics._in_space(True, Choice(values=[True])) is True


def test_a_name_that_is_no_hyperparameter(submission: Submission) -> None:
    submission.edit(lambda d: d["sweep"]["search_space"].update(dropout={"values": [0.1]}))
    ctx, found = semantics_stage(submission)
    assert [(f.code, f.message, f.location) for f in found] == [
        ("CW322", "'dropout' is not a hyperparameter", ctx.at("/sweep/search_space/dropout"))]
    assert found[0].hint.endswith(" (schema 1.2 adds extra.<name> for further ones).")
    assert found[0].hint.startswith("Known hyperparameters: batch_size, ")


def test_extra_names_are_hyperparameters_from_schema_1_2(submission: Submission) -> None:
    submission.edit(lambda d: d.update(schema_version="1.2"))
    submission.edit(lambda d: d["sweep"]["search_space"].update({"dropout": {"values": [0.1]},
                                                                 "extra.dropout": {"low": 0.1, "high": 0.2}}))
    submission.edit(lambda d: d["trials"][0]["hyperparameters"].update(extra={"dropout": {"value": 0.3}}))
    ctx, found = semantics_stage(submission)
    assert [(f.code, f.message, f.location) for f in found] == [
        ("CW322", "'dropout' is not a hyperparameter", ctx.at("/sweep/search_space/dropout")),
        ("CW301", "trial 't01' has extra.dropout=0.3, outside the search space",
         ctx.at("/trials/0/hyperparameters/extra/dropout")),
    ]
    assert found[0].hint.endswith(", and extra.<name> for those under `extra`.")


# -- curves -----------------------------------------------------------------------------------------------------------

def test_a_curve_without_its_columns(submission: Submission) -> None:
    write_curve(submission, "step,acc\n" + "".join(f"{i},0.5\n" for i in range(1, 21)))
    _, found = found_in(submission)
    assert found == [("CW313", "the curve has no epoch, loss column", Location(CURVE, 1))]


def test_a_curve_with_one_row_per_epoch_too_few_or_too_many(submission: Submission) -> None:
    write_curve(submission, curve(19))
    _, found = semantics_stage(submission)
    assert [(f.code, f.message, f.location, f.hint) for f in found] == [
        ("CW302", "the curve has 19 epochs, the run trained 20", Location(CURVE),
         "Write one row per epoch, or fix the trial's `epochs`. If the run stopped early, say so with "
         "`epochs_trained` (schema 1.2).")]
    write_curve(submission, curve(21))
    _, found = semantics_stage(submission)
    assert [(f.code, f.message, f.hint) for f in found] == [
        ("CW302", "the curve has 21 epochs, the run trained 20",
         "Write one row per epoch, or fix the trial's `epochs`.")]
    write_curve(submission, curve(20))
    assert found_in(submission)[1] == []


def test_a_run_that_stopped_early_is_held_to_its_epochs_trained(submission: Submission) -> None:
    submission.edit(lambda d: d.update(schema_version="1.2"))
    submission.edit(lambda d: first_run(d).update(epochs_trained=12))
    write_curve(submission, curve(13))
    _, found = semantics_stage(submission)
    assert [(f.code, f.message, f.location, f.hint) for f in found] == [
        ("CW302", "the curve has 13 epochs, the run trained 12 (its `epochs_trained`)", Location(CURVE),
         "Write one row per epoch trained, or fix the run's `epochs_trained`.")]
    write_curve(submission, curve(12))
    assert found_in(submission)[1] == []
    submission.edit(lambda d: first_run(d).update(epochs_trained=20))  # as many as planned: still held to it
    write_curve(submission, curve(20))
    assert found_in(submission)[1] == []


def test_epochs_trained_beyond_the_trial_s_epochs(submission: Submission) -> None:
    submission.edit(lambda d: d.update(schema_version="1.2"))
    submission.edit(lambda d: first_run(d).update(epochs_trained=21))
    ctx, found = found_in(submission)
    assert found == [("CW331", "run 'pytorch' of trial 't01' has epochs_trained 21, more than the trial's 20 epochs",
                      run_at(ctx, 0, "pytorch", "epochs_trained"))]  # and the curve is held to the 20 epochs


def test_curve_cells_each_with_its_row_and_column(submission: Submission) -> None:
    rows = ["epoch,loss,val_loss,accuracy"] + [f"{i},0.5,0.6,0.1" for i in range(1, 21)]
    rows[2] = "2,low,nan,x"  # accuracy is not checked: only epoch and the losses, each of them
    rows[3] = "4,0.5,0.6,0.1"
    rows[4] = "4,nan,inf,0.1"
    rows[5] = "5,1000000,1000000.5,0.1"
    rows[6] = "6,0.5,,0.1"
    write_curve(submission, "\n".join(rows) + "\n")
    _, found = semantics_stage(submission)
    assert [(f.code, f.message, f.location) for f in found] == [
        ("CW314", "loss value 'low' is not a number", Location(CURVE, 3, row=2, column="loss")),
        ("CW308", "val_loss is 'nan' at epoch 2", Location(CURVE, 3, row=2)),
        ("CW314", "epoch is '4', expected 3", Location(CURVE, 4, row=3)),
        ("CW308", "loss is 'nan' at epoch 4", Location(CURVE, 5, row=4)),
        ("CW308", "val_loss is 'inf' at epoch 4", Location(CURVE, 5, row=4)),
        ("CW309", "val_loss is 1e+06 at epoch 5", Location(CURVE, 6, row=5)),
        ("CW308", "val_loss is None at epoch 6", Location(CURVE, 7, row=6)),  # an empty cell is no value
    ]
    assert semantics.EXPLODING_LOSS == 1e6  # 1000000 itself is not exploding
    epoch_finding = next(f for f in found if f.message == "epoch is '4', expected 3")
    assert epoch_finding.hint == "Number epochs 1, 2, 3, ... one row each, in order."


def test_a_curve_shared_by_two_runs_is_read_and_reported_once(submission: Submission) -> None:
    write_curve(submission, curve(19))
    submission.edit(lambda d: first_run(d, trial=1).update(curves=CURVE))
    _, found = found_in(submission)
    assert [code for code, _, _ in found] == ["CW302"]


def test_an_unreadable_curve_is_its_table_error(submission: Submission) -> None:
    write_curve(submission, curve(20).replace("0.5", "5" * (DEFAULT_LIMITS.cell_chars + 1), 1))
    _, found = found_in(submission)
    with pytest.raises(TableError) as refusal:
        read_table(submission.root, CURVE, "csv", DEFAULT_LIMITS)
    assert refusal.value.line == 2
    assert found == [(refusal.value.code, str(refusal.value), Location(CURVE, 2))]


# -- tables are read once, and only once verified ----------------------------------------------------------------------

def test_a_table_is_read_only_once_verified_and_only_once(submission: Submission) -> None:
    ctx = Context(root=submission.root)
    run_stage(ctx, "manifest")
    assert read_verified_table(ctx, CURVE, "csv") is None and ctx.tables == {}  # not verified yet
    run_stage(ctx, "files")
    table = read_verified_table(ctx, CURVE, "csv")
    assert table is not None and ctx.looking_at == CURVE
    ctx.looking_at = ""
    assert read_verified_table(ctx, CURVE, "csv") is table and ctx.looking_at == ""


def test_a_table_error_is_kept_and_raised_again(submission: Submission) -> None:
    ctx = Context(root=submission.root, limits=Limits(table_rows=2))
    run_stage(ctx, "manifest")
    run_stage(ctx, "files")
    with pytest.raises(TableError) as first:
        read_verified_table(ctx, CURVE, "csv")
    with pytest.raises(TableError) as second:
        read_verified_table(ctx, CURVE, "csv")
    assert second.value is first.value and ctx.tables[CURVE] is first.value


# -- licence, references, dataset, code -------------------------------------------------------------------------------

def test_a_license_that_is_not_accepted(submission: Submission) -> None:
    submission.edit(lambda d: d["submission"].update(license="SSPL-1.0 OR Beerware OR SSPL-1.0"))
    ctx, found = found_in(submission)
    assert found == [("CW319", "SSPL-1.0, Beerware is not among the licenses cwcontrib accepts",
                      ctx.at("/submission/license"))]


def test_a_license_written_otherwise_in_spdx(submission: Submission) -> None:
    submission.edit(lambda d: d["submission"].update(license="cc-by-4.0"))
    ctx, found = semantics_stage(submission)
    assert [(f.code, f.message, f.location, f.hint) for f in found] == [
        ("CW325", "'cc-by-4.0' is written 'CC-BY-4.0' in SPDX", ctx.at("/submission/license"),
         "Write `license: CC-BY-4.0`.")]


def test_a_license_ref_needs_its_text_declared_and_not_empty(submission: Submission) -> None:
    submission.edit(lambda d: d["submission"].update(license="LicenseRef-mine AND LicenseRef-ours"))
    submission.write_file("LICENSES/LicenseRef-ours.txt", "", "text")
    ctx, found = semantics_stage(submission)
    hint = "Add the text of {0} as LICENSES/{0}.txt and declare it in `artifacts`."
    assert [(f.code, f.message, f.location, f.hint) for f in found] == [
        ("CW324", "the text of LicenseRef-mine, LICENSES/LicenseRef-mine.txt, is not declared",
         ctx.at("/submission/license"), hint.format("LicenseRef-mine")),
        ("CW324", "the text of LicenseRef-ours, LICENSES/LicenseRef-ours.txt, is empty",
         ctx.at("/submission/license"), hint.format("LicenseRef-ours")),
    ]
    submission.write_file("LICENSES/LicenseRef-ours.txt", "Ours.\n", "text")
    submission.write_file("LICENSES/LicenseRef-mine.txt", "Mine.\n", "text")
    assert found_in(submission)[1] == []


@pytest.mark.parametrize(("url", "problem"), [
    ("http://wiki/study", "'wiki' is a single-label host name, which only a local network resolves"),
    ("https://LOCALHOST./x", "'localhost' is a single-label host name, which only a local network resolves"),
    ("https://lab.local/x", "'lab.local' is a name reserved for local networks or tests"),
    ("https://a.b.home.arpa/x", "'a.b.home.arpa' is a name reserved for local networks or tests"),
    ("https://Study.Example./x", "'study.example' is a name reserved for local networks or tests"),
    ("https://10.1.2.3/x", "10.1.2.3 is not a public address"),
    ("https://[fe80::1]/x", "fe80::1 is not a public address"),
    ("https://127.0.0.1:8080/x", "127.0.0.1 is not a public address"),
    ("https://example.com/x", None),  # a real domain, only named like a reserved one
    ("https://mytest.org/x", None),
    ("https://homearpa.org/x", None),
    ("https://8.8.8.8/x", None),
    ("https://arxiv.org/abs/2108.12768", None),
    ("https:///x", "'' is a single-label host name, which only a local network resolves"),  # no host at all
])
def test_hosts_nobody_else_can_resolve(url: str, problem: str | None) -> None:
    assert unreachable_host(url) == problem


def test_a_reference_to_a_private_host(submission: Submission) -> None:
    submission.edit(lambda d: d["submission"]["references"].extend([
        {"url": "https://arxiv.org/abs/2108.12768"}, {"url": "http://192.168.1.20/wiki"}]))
    ctx, found = found_in(submission)
    assert found == [("CW328", "'http://192.168.1.20/wiki': 192.168.1.20 is not a public address",
                      ctx.at("/submission/references/3/url"))]


def test_the_dataset_against_the_registry(submission: Submission) -> None:
    submission.edit(lambda d: d["dataset"].update(test_size=400, label_names=["a", "b"]))
    ctx, found = found_in(submission)
    assert [f for f in found if f[0] in ("CW318", "CW323")] == [
        ("CW318", "sklearn-digits test split has 360 examples, declared 400", ctx.at("/dataset/test_size")),
        ("CW323", "2 label names for 10 classes", ctx.at("/dataset/label_names")),
    ]
    submission.edit(lambda d: d["dataset"].update(name="imagenet-tiny", test_size=360, label_names=None))
    ctx, found = found_in(submission)
    assert found == [("CW317", "dataset 'imagenet-tiny' is not registered", ctx.at("/dataset/name"))]


def test_no_code_section(submission: Submission) -> None:
    submission.edit(lambda d: d.pop("code"))
    ctx, found = found_in(submission)
    assert found == [("CW321", "no `code` section", ctx.at(""))]


# -- credentials ------------------------------------------------------------------------------------------------------

GITHUB = "ghp_" + "a" * 36
HEX40 = "0123456789abcdef0123456789abcdef01234567"


def test_a_credential_in_the_manifest(submission: Submission) -> None:
    submission.edit(lambda d: d["submission"].update(description=f"token {GITHUB}"))
    ctx, found = found_in(submission)
    assert found == [("CW310", "this value looks like a GitHub token", ctx.at("/submission/description"))]


def test_credentials_in_a_table_by_column_and_by_cell(submission: Submission) -> None:
    rows = ["epoch,loss,wandb_api_key,api_token,note"] + [f"{i},0.5,,,ok" for i in range(1, 21)]
    rows[3] = f"3,0.5,{HEX40},,{GITHUB}"
    write_curve(submission, "\n".join(rows) + "\n")
    _, found = found_in(submission)
    assert found == [
        ("CW310", "column 'wandb_api_key' holds credentials", Location(CURVE, 1, column="wandb_api_key")),
        ("CW310", "this cell looks like a 40-hex-digit API key (as Weights & Biases issues)",
         Location(CURVE, 4, row=3, column="wandb_api_key")),
        ("CW310", "this cell looks like a GitHub token", Location(CURVE, 4, row=3, column="note")),
    ]  # `api_token` is a credential's name but holds nothing: not reported


def test_credentials_in_text_files_by_line(submission: Submission) -> None:
    code = "import wandb\n\nwandb.login(key=\"" + HEX40 + "\")\n"
    submission.write_file("code/login.py", code, "python")
    submission.write_file("notes/setup.sh", f"export GH={GITHUB}\n", "text")
    submission.write_file(".env", f"HF_TOKEN=hf_{'b' * 34}\n", "text")
    submission.write_file("notes/plain.dat", f"{GITHUB}\n", "text")  # declared as text: scanned whatever its name
    _, found = found_in(submission)
    assert found == [
        ("CW310", "this line holds what looks like a Hugging Face token (hf_b…)", Location(".env", 1)),
        ("CW310", "this line holds what looks like a 40-hex-digit API key (as Weights & Biases issues) (0123…)",
         Location("code/login.py", 3)),
        ("CW310", "this line holds what looks like a GitHub token (ghp_…)", Location("notes/plain.dat", 1)),
        ("CW310", "this line holds what looks like a GitHub token (ghp_…)", Location("notes/setup.sh", 1)),
    ]


@pytest.mark.parametrize(("path", "fmt", "text"), [
    ("code/x.py", "text", True), ("notes/x.MD", "markdown", True), ("x.weights.h5", "keras-h5", False),
    ("notes/.env.local", "keras-h5", True), ("notes/.env", "keras-h5", True), ("Makefile", "pytorch", True),
    ("notes/run.SH", "pytorch", True), ("notes/data.bin", "pytorch", False), (".hidden", "pytorch", False),
    ("a.b/c", "pytorch", False), ("notes/x.csv", "pytorch", True), ("config", "yaml", True),
    ("notes/v1.2.md", "pytorch", True),  # the last suffix counts
    ("notes/deep/Makefile", "pytorch", True), ("a/b/.env.prod", "pytorch", True),  # the name, however deep
    ("notes/.py", "pytorch", False), ("notes/.md", "pytorch", False),  # a dotfile's leading dot is no suffix
])
def test_which_files_are_text(path: str, fmt: str, text: bool) -> None:
    assert semantics._is_text(path, fmt) is text


def test_a_text_file_over_the_scan_limit_is_said_not_scanned(submission: Submission) -> None:
    submission.write_file("notes/big.txt", "x" * 101 + "\n" + GITHUB + "x", "text")  # one byte over the limit
    submission.write_file("notes/small.txt", "x" * 101 + "\n" + GITHUB, "text")  # exactly at it
    size = (submission.root / "notes/small.txt").stat().st_size
    _, found = found_in(submission, Limits(secret_scan_bytes=size))
    over = [f"{name}.py" for name in ("code/common", "code/train_keras", "code/train_pytorch")] + ["notes/big.txt"]
    assert found == [
        *[("CW326", f"{path!r} was not scanned for credentials: the file is larger than the limit of {size} bytes",
           Location(path)) for path in over],
        ("CW310", "this line holds what looks like a GitHub token (ghp_…)", Location("notes/small.txt", 2)),
    ]  # the curves and predictions, larger too, were read as tables: not read again as text


def test_csv_read_as_a_table_is_not_scanned_again_as_text_but_an_unreadable_one_is(submission: Submission) -> None:
    rows = ["epoch,loss"] + [f"{i},0.5" for i in range(1, 21)]
    write_curve(submission, "\n".join(rows) + f"\n# {GITHUB}\n")  # a 21st row with one cell: the table is unreadable
    _, found = found_in(submission)
    assert ("CW310", "this line holds what looks like a GitHub token (ghp_…)", Location(CURVE, 22)) in found


def test_scanned_as_table(submission: Submission) -> None:
    ctx = Context(root=submission.root)
    run_stage(ctx, "manifest")
    run_stage(ctx, "files")
    assert semantics._scanned_as_table(ctx, CURVE) is True
    assert semantics._scanned_as_table(ctx, "code/common.py") is False
    assert semantics._scanned_as_table(ctx, "never/verified.csv") is False  # not verified: not read either
    assert semantics._scanned_as_table(ctx, "never/verified.parquet") is False


def test_a_text_file_named_parquet_is_still_scanned_as_text(submission: Submission) -> None:
    """Declared as text but named .parquet (CW211 in stage 2): it is no table, so it is read as the text it is."""
    submission.write_file("notes/x.parquet", f"{GITHUB}\n", "text")
    _, found = found_in(submission)
    assert found == [
        ("CW310", "this line holds what looks like a GitHub token (ghp_…)", Location("notes/x.parquet", 1))]


def test_epochs_trained_equal_to_the_epochs_is_what_the_curve_is_held_to(submission: Submission) -> None:
    submission.edit(lambda d: d.update(schema_version="1.2"))
    submission.edit(lambda d: first_run(d).update(epochs_trained=20))
    write_curve(submission, curve(19))
    _, found = semantics_stage(submission)
    assert [(f.code, f.message, f.hint) for f in found] == [
        ("CW302", "the curve has 19 epochs, the run trained 20 (its `epochs_trained`)",
         "Write one row per epoch trained, or fix the run's `epochs_trained`.")]


# -- a trials table ---------------------------------------------------------------------------------------------------

def to_table(sub: Submission, change: Any = None) -> None:
    from tests.test_checks import _to_trials_table

    _to_trials_table(sub, change)


def test_trials_from_a_table_join_those_written_inline(submission: Submission) -> None:
    inline = submission.manifest()["trials"][:1]
    to_table(submission)
    submission.edit(lambda d: d.update(trials=[{**inline[0], "id": "t00"}]))
    ctx, found = found_in(submission)
    assert found == []
    assert [t.id for t in ctx.trials] == ["t00", "t01", "t02", "t03", "t04", "t05"]


def test_a_table_with_a_bad_column_gives_no_trial(submission: Submission) -> None:
    def rename(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            row["colour"] = "red"

    to_table(submission, rename)
    ctx, found = found_in(submission)
    assert found[0][:2] == ("CW313", "column 'colour' is neither `id`, `hyperparameters.<name>` nor "
                                     "`<framework>.<field>`")
    assert found[0][2] == Location("trials.csv", 1, column="colour")
    assert [code for code, _, _ in found] == ["CW313"]  # no CW316: a table is given
    assert ctx.trials == []


def test_an_unreadable_trials_table(submission: Submission) -> None:
    def long_cell(rows: list[dict[str, Any]]) -> None:
        rows[1]["pytorch.curves"] = "c" * (DEFAULT_LIMITS.cell_chars + 1)

    to_table(submission, long_cell)
    ctx, found = found_in(submission)
    with pytest.raises(TableError) as refusal:
        read_table(submission.root, "trials.csv", "csv", DEFAULT_LIMITS)
    assert refusal.value.line == 3
    assert found == [(refusal.value.code, str(refusal.value), Location("trials.csv", 3))]
    assert ctx.trials == []


def test_an_undeclared_trials_table(submission: Submission) -> None:
    to_table(submission)
    submission.edit(lambda d: d["artifacts"].pop())  # trials.csv, declared last
    ctx = Context(root=submission.root)
    run_stage(ctx, "manifest")
    run_stage(ctx, "files")
    found = [(f.code, f.message, f.location) for f in run_stage(ctx, "semantics")]
    assert ("CW330", "'trials.csv' is not declared", ctx.at("/trials_table/path")) in found


def test_a_line_that_is_not_utf8_is_still_scanned(submission: Submission) -> None:
    submission.write_file("notes/log.txt", b"ok\n\xff\xfe " + GITHUB.encode() + b"\n", "text")
    _, found = found_in(submission)
    assert found == [("CW310", "this line holds what looks like a GitHub token (ghp_…)", Location("notes/log.txt", 2))]


def test_a_split_the_registry_does_not_size_is_not_compared(submission: Submission) -> None:
    submission.edit(lambda d: d["dataset"].update(split="validation", test_size=12345))
    _, found = found_in(submission)
    assert [code for code, _, _ in found if code == "CW318"] == []


def test_a_parquet_trials_table_is_read_as_parquet(submission: Submission) -> None:
    import pandas as pd

    to_table(submission)
    frame = pd.read_csv(submission.root / "trials.csv")
    (submission.root / "trials.csv").unlink()
    submission.edit(lambda d: d["artifacts"].pop())  # trials.csv, declared last
    frame.to_parquet(submission.root / "trials.parquet", index=False)
    submission.redeclare("trials.parquet", "parquet")
    submission.edit(lambda d: d.update(trials_table={"path": "trials.parquet", "format": "parquet"}))
    ctx, found = found_in(submission)
    assert found == []
    assert [t.id for t in ctx.trials] == ["t01", "t02", "t03", "t04", "t05"]


def test_weights_named_by_the_uri_of_a_local_file_are_not_declared(submission: Submission) -> None:
    """Only an artifact declared by `uri` alone stands for remote weights; one with a `path` is its local file."""
    uri = "https://weights.example.org/t01.safetensors"
    submission.edit(lambda d: d["artifacts"][24].update(uri=uri))  # weights/t01-pytorch.safetensors
    submission.edit(lambda d: first_run(d).update(weights=uri))
    ctx, found = found_in(submission)
    assert [f for f in found if f[0] == "CW330"] == [
        ("CW330", f"{uri!r} is not declared", run_at(ctx, 0, "pytorch", "weights"))]


# -- survivors of the second half of the run (2026-12-03, issue 9) -----------------------------------------------------

def runs_in_order(data: dict[str, Any], trial: int = 0) -> list[str]:
    """The framework keys of a trial's runs in the manifest's order, the order the checks walk them in."""
    return list(data["trials"][trial]["runs"])


def test_a_trials_table_is_held_to_the_manifest_s_schema_version(submission: Submission) -> None:
    def newer_column(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            row["hyperparameters.extra.warmup_steps"] = 10

    to_table(submission, newer_column)
    assert submission.manifest()["schema_version"] == "1.1"
    ctx, found = found_in(submission)
    assert found == [("CW313", "column 'hyperparameters.extra.warmup_steps' sets a field that came in schema 1.2; "
                               "the manifest declares schema_version 1.1",
                      Location("trials.csv", 1, column="hyperparameters.extra.warmup_steps"))]
    assert ctx.trials == []


def test_a_run_without_hyperparameters_does_not_end_its_trial_s_comparison(submission: Submission) -> None:
    first, second = runs_in_order(submission.manifest())
    submission.edit(lambda d: first_run(d, first).pop("hyperparameters", None))
    submission.edit(lambda d: first_run(d, second).update(hyperparameters={"learning_rate": 0.5}))
    ctx, found = found_in(submission)
    assert found == [("CW300", f"run {second!r} of trial 't01' has learning_rate=0.5, the trial has 0.0001",
                      run_at(ctx, 0, second, "hyperparameters", "learning_rate"))]


def test_an_accuracy_outside_0_1_does_not_end_its_trial_s_checks(submission: Submission) -> None:
    first, second = runs_in_order(submission.manifest())
    submission.edit(lambda d: first_run(d, first).update(test_accuracy=1.5))
    submission.edit(lambda d: first_run(d, second).update(test_accuracy=0.84))
    ctx, found = found_in(submission)
    assert [(code, where) for code, _, where in found] == [
        ("CW303", run_at(ctx, 0, first, "test_accuracy")), ("CW304", run_at(ctx, 0, second, "test_accuracy"))]


def test_two_candidates_at_the_printed_precision_are_both_named(submission: Submission) -> None:
    """With N = 150 a two-decimal accuracy can stand for exactly two k (0.35: 52/150 or 53/150)."""
    submission.edit(lambda d: d["dataset"].update(test_size=150))
    submission.edit(lambda d: first_run(d).update(test_accuracy=0.35))
    ctx, found = found_in(submission)
    assert ks_at_printed_precision(0.35, 150) == range(52, 54)
    [message] = [m for code, m, where in found if where == run_at(ctx, 0, "pytorch", "test_accuracy")]
    assert message == (f"accuracy 0.35 is not k/150; the nearest is 52/150 = {52 / 150!r}; at 2 decimals it could "
                       "be any of 52..53/150")


def drop_t01_epochs(data: dict[str, Any]) -> None:
    """Trial t01 sets no `epochs` and nothing shares one, so its hyperparameters do not validate (CW329)."""
    data["trials"][0]["hyperparameters"].pop("epochs")


def test_a_trial_without_valid_hyperparameters_still_has_its_curve_and_epochs_checked(
        submission: Submission) -> None:
    submission.edit(drop_t01_epochs)
    submission.edit(lambda d: d.update(schema_version="1.2"))
    submission.edit(lambda d: first_run(d).update(epochs_trained=3))
    write_curve(submission, curve(4))
    ctx, found = found_in(submission)
    assert [code for code, _, _ in found] == ["CW329", "CW302"]  # no CW001: no epochs to compare with
    assert found[1] == ("CW302", "the curve has 4 epochs, the run trained 3 (its `epochs_trained`)", Location(CURVE))
    assert ctx.trials[0].hyperparameters is None


def test_a_run_without_a_curve_does_not_end_its_trial_s_curves(submission: Submission) -> None:
    first, second = runs_in_order(submission.manifest())
    submission.edit(lambda d: first_run(d, first).pop("curves"))
    rel = submission.manifest()["trials"][0]["runs"][second]["curves"]
    write_curve(submission, curve(19), rel)
    _, found = found_in(submission)
    assert [(code, where.file) for code, _, where in found] == [("CW302", rel)]


def test_an_unreadable_curve_does_not_end_its_trial_s_curves(submission: Submission) -> None:
    first, second = runs_in_order(submission.manifest())
    runs = submission.manifest()["trials"][0]["runs"]
    write_curve(submission, curve(20).replace("0.5", "5" * (DEFAULT_LIMITS.cell_chars + 1), 1), runs[first]["curves"])
    write_curve(submission, curve(19), runs[second]["curves"])
    _, found = found_in(submission)
    assert [where.file for _, _, where in found] == [runs[first]["curves"], runs[second]["curves"]]
    assert found[1][0] == "CW302"


def test_a_40_hex_value_under_a_credential_s_name_in_the_manifest(submission: Submission) -> None:
    submission.edit(lambda d: d.update(schema_version="1.2"))
    submission.edit(lambda d: d["hyperparameters"].update(extra={"wandb_api_key": HEX40}))
    ctx, found = found_in(submission)
    assert found == [("CW310", "this value looks like a 40-hex-digit API key (as Weights & Biases issues)",
                      ctx.at("/hyperparameters/extra/wandb_api_key"))]


def test_an_unreadable_table_does_not_end_the_scan_of_the_others(submission: Submission) -> None:
    keras = "curves/t01-keras.csv"  # scanned before curves/t01-pytorch.csv
    write_curve(submission, curve(20).replace("0.5", "5" * (DEFAULT_LIMITS.cell_chars + 1), 1), keras)
    rows = curve(20, columns="epoch,loss,note").splitlines()
    rows[1] = f"1,0.5,{GITHUB}"
    write_curve(submission, "\n".join(rows) + "\n")
    _, found = found_in(submission)
    assert [(code, message, where) for code, message, where in found if code == "CW310"] == [
        ("CW310", "this cell looks like a GitHub token", Location(CURVE, 2, row=1, column="note"))]


def test_a_credential_s_column_of_empty_strings_holds_nothing(submission: Submission) -> None:
    """CSV reads an empty cell as no value; Parquet keeps "" — neither is a credential."""
    import pandas as pd

    frame = pd.DataFrame({"epoch": [1, 2], "api_token": ["", ""], "wandb_api_key": ["", "x"]})
    (submission.root / "notes").mkdir(exist_ok=True)
    frame.to_parquet(submission.root / "notes" / "metrics.parquet", index=False)
    submission.redeclare("notes/metrics.parquet", "parquet")
    _, found = found_in(submission)
    assert found == [("CW310", "column 'wandb_api_key' holds credentials",
                      Location("notes/metrics.parquet", 1, column="wandb_api_key"))]


def test_cwcontrib_s_own_failure_while_scanning_text_names_the_file(submission: Submission,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected exception is CW001 at the file being read (never blamed on the submission as a finding)."""
    def broken(*_: Any, **__: Any) -> bytes:
        raise RuntimeError("boom")

    monkeypatch.setattr(semantics, "read_confined", broken)
    _, found = semantics_stage(submission)
    assert [(f.code, f.message, f.location) for f in found] == [
        ("CW001", "check no_secrets_in_text_files failed: RuntimeError: boom", Location("code/common.py"))]
