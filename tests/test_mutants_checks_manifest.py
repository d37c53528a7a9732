"""Mutation tests for cwcontrib/checks/manifest.py (issue 9; the stage-1 checks, not cwcontrib/manifest.py): each
schema finding's message, pointer, line and hint, for every branch that words it (unknown fields and their allowed
names, names under `extra`, "needs `a` or `b`", patterns described in words, an optional section with an unknown
key, the hint towards `extra` by schema version), the order of several findings, the supported schema versions, the
rules only pydantic states, and acknowledgements of errors.

The manifest stage runs on a fresh copy of the real demo (`submission` fixture) through `run_stage`, as
`validate()` runs it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from cwcontrib.checks import manifest as checks
from cwcontrib.checks.base import Context
from cwcontrib.findings import Location
from cwcontrib.models import Manifest
from cwcontrib.validate import run_stage
from tests.conftest import Submission

Found = tuple[str, str, Location, str]
SCHEMA_HINT = ("Change the value at the reported pointer as the message says; `cwcontrib schema` prints the full "
               "schema (also in schema/).")
TOP_LEVEL = ("acknowledgements, architecture, artifacts, code, dataset, frameworks, hardware, hyperparameters, "
             "schema_version, submission, sweep, trials, trials_table")
HYPERPARAMETERS_1_1 = "batch_size, determinism, epochs, learning_rate, loss, optimizer, seed"
HYPERPARAMETERS_1_2 = "batch_size, determinism, epochs, extra, learning_rate, loss, lr_schedule, optimizer, seed"


def manifest_stage(sub: Submission) -> tuple[Context, list[Found]]:
    ctx = Context(root=sub.root)
    return ctx, [(f.code, f.message, f.location, f.hint) for f in run_stage(ctx, "manifest")]


def test_the_demo_becomes_a_model(submission: Submission) -> None:
    ctx, found = manifest_stage(submission)
    assert found == []
    assert ctx.model is not None and ctx.model.submission.id == "digits-cnn-pair"
    assert ctx.looking_at == "submission.yaml"


def test_what_the_safe_loader_finds_is_reported_as_it_is(submission: Submission) -> None:
    text = submission.manifest_path.read_text()
    submission.manifest_path.write_text(text + "schema_version: '1.1'\n")
    ctx, found = manifest_stage(submission)
    assert [(code, location.line, location.pointer) for code, _, location, _ in found] == [
        ("CW105", text.count("\n") + 1, "/schema_version")]
    assert ctx.looking_at == "submission.yaml"
    assert ctx.model is None  # an unusable manifest is not validated against the schema, nor made a model


def test_a_manifest_that_is_not_a_mapping(submission: Submission) -> None:
    submission.manifest_path.write_text("- 1\n- 2\n")
    ctx, found = manifest_stage(submission)
    assert found == [("CW110", "the manifest is a list, not a mapping", ctx.at(""), SCHEMA_HINT)]
    assert ctx.model is None


def test_an_unsupported_schema_version(submission: Submission) -> None:
    submission.edit(lambda d: d.update(schema_version="9.9"))
    ctx, found = manifest_stage(submission)
    assert found == [("CW112", "schema_version '9.9' is not supported (supported: 1.0, 1.1, 1.2)",
                      ctx.at("/schema_version"),
                      "Set `schema_version` to a version the message lists as supported, or upgrade cwcontrib.")]
    assert ctx.model is None


def test_without_a_schema_version_the_newest_schema_says_it_is_required(submission: Submission) -> None:
    submission.edit(lambda d: d.pop("schema_version"))
    submission.edit(lambda d: d["hyperparameters"].update(lr_schedule={"name": "constant"}))  # a 1.2 field: allowed
    ctx, found = manifest_stage(submission)
    assert found == [("CW110", "'schema_version' is a required property", ctx.at(""), SCHEMA_HINT)]


def test_unknown_fields_in_name_order_with_what_is_allowed(submission: Submission) -> None:
    submission.edit(lambda d: d.update(colour=1, beta=2))
    ctx, found = manifest_stage(submission)
    hint = f"Remove it or fix its spelling; allowed here: {TOP_LEVEL}."
    assert found == [("CW110", "unknown field 'beta'", ctx.at("/beta"), hint),
                     ("CW110", "unknown field 'colour'", ctx.at("/colour"), hint)]
    assert ctx.model is None


def test_an_unknown_hyperparameter_before_schema_1_2_points_to_extra(submission: Submission) -> None:
    submission.edit(lambda d: d["hyperparameters"].update(dropout=0.1))
    ctx, found = manifest_stage(submission)
    assert found == [("CW110", "unknown field 'dropout'", ctx.at("/hyperparameters/dropout"),
                      f"Remove it or fix its spelling; allowed here: {HYPERPARAMETERS_1_1}. Further hyperparameters "
                      "(dropout, label smoothing, ...) go under `extra` from schema 1.2 on: set "
                      "`schema_version: \"1.2\"` and write `extra: {dropout: <value>}` inside `hyperparameters`.")]


def test_extra_itself_before_schema_1_2(submission: Submission) -> None:
    submission.edit(lambda d: d["hyperparameters"].update(extra={"dropout": 0.1}))
    ctx, found = manifest_stage(submission)
    assert found == [("CW110", "unknown field 'extra'", ctx.at("/hyperparameters/extra"),
                      f"Remove it or fix its spelling; allowed here: {HYPERPARAMETERS_1_1}. Further hyperparameters "
                      "(dropout, label smoothing, ...) go under `extra` from schema 1.2 on: set "
                      "`schema_version: \"1.2\"` and write `extra: {dropout: 0.1}`.")]


def test_an_unknown_hyperparameter_of_a_trial_from_schema_1_2(submission: Submission) -> None:
    submission.edit(lambda d: d.update(schema_version="1.2"))
    submission.edit(lambda d: d["trials"][0]["hyperparameters"].update(dropout=0.1))
    ctx, found = manifest_stage(submission)
    assert found == [("CW110", "unknown field 'dropout'", ctx.at("/trials/0/hyperparameters/dropout"),
                      f"Remove it or fix its spelling; allowed here: {HYPERPARAMETERS_1_2}. Further hyperparameters "
                      "(dropout, label smoothing, ...) go under `extra`: write `extra: {dropout: <value>}` inside "
                      "`hyperparameters`.")]


def test_an_unknown_field_outside_hyperparameters_has_no_word_of_extra(submission: Submission) -> None:
    submission.edit(lambda d: d["code"].update(colour=1))  # `code` is an optional section: an object or null
    ctx, found = manifest_stage(submission)
    assert found == [("CW110", "unknown field 'colour'", ctx.at("/code/colour"),
                      "Remove it or fix its spelling; allowed here: command, commit, files, repository.")]


def test_a_wrong_value_in_an_optional_section(submission: Submission) -> None:
    submission.edit(lambda d: d["code"].update(files="code/common.py"))
    ctx, found = manifest_stage(submission)
    assert found == [("CW110", "'code/common.py' is not of type 'array'", ctx.at("/code/files"), SCHEMA_HINT)]


def test_a_name_under_extra_that_is_no_snake_case(submission: Submission) -> None:
    submission.edit(lambda d: d.update(schema_version="1.2"))
    submission.edit(lambda d: d["hyperparameters"].update(extra={"Drop": 0.1, "Bad-Name": 1, "fine": 2}))
    ctx, found = manifest_stage(submission)
    hint = ("Name it in snake_case: a lowercase letter, then lowercase letters, digits and _ (e.g. dropout, "
            "label_smoothing, warmup_epochs), at most 64 characters.")
    assert found == [
        ("CW110", f"{name!r} is not a name for a hyperparameter under `extra`",
         ctx.at(f"/hyperparameters/extra/{name}"), hint) for name in ("Bad-Name", "Drop")]


@pytest.mark.parametrize(("change", "pointer", "names"), [
    (lambda d: d["artifacts"].append({"format": "text", "size": 1, "sha256": "0" * 64}), "/artifacts/33",
     "`path` or `uri`"),
    (lambda d: d["submission"]["references"].append({"citation": "x"}), "/submission/references/2",
     "`doi` or `url`"),
])
def test_one_of_two_fields_is_needed(submission: Submission, change: Any, pointer: str, names: str) -> None:
    submission.edit(change)
    ctx, found = manifest_stage(submission)
    assert found == [("CW110", f"needs {names}", ctx.at(pointer), SCHEMA_HINT)]


@pytest.mark.parametrize(("change", "pointer", "message"), [
    (lambda d: d["submission"]["references"].append({"url": "ftp://x"}), "/submission/references/2/url",
     "'ftp://x': expected an http(s) URL: a host name or address with no user:password@, then only characters "
     "RFC 3986 allows (a space is %20)."),
    (lambda d: d["submission"].update(license="MIT/X"), "/submission/license",
     "'MIT/X': expected SPDX license expression, e.g. CC-BY-4.0 or (MIT OR Apache-2.0) AND CC-BY-4.0; "
     "LicenseRef-<name> needs its text as LICENSES/LicenseRef-<name>.txt."),
    (lambda d: d["submission"].update(id="Bad Id"), "/submission/id",
     "'Bad Id': expected ASCII slug: lowercase letters and digits, separated by single '-', '_' or '.'."),
    (lambda d: d["submission"]["references"][0].update(doi="doi:10.1/x"), "/submission/references/0/doi",
     "'doi:10.1/x': expected a DOI as `10.NNNN/suffix`, without https://doi.org/."),
    (lambda d: d["frameworks"]["pytorch"].update(version="two"), "/frameworks/pytorch/version",
     "'two' does not match '^[0-9]+(\\\\.[0-9]+)*([-+.]?[0-9A-Za-z.]+)?$'"),  # no description: the pattern
])
def test_a_pattern_is_said_in_words_when_described(submission: Submission, change: Any, pointer: str,
                                                   message: str) -> None:
    submission.edit(change)
    ctx, found = manifest_stage(submission)
    assert found == [("CW110", message, ctx.at(pointer), SCHEMA_HINT)]


def test_several_findings_in_the_order_of_their_paths(submission: Submission) -> None:
    submission.edit(lambda d: d["dataset"].update(test_size="x"))
    submission.edit(lambda d: d["submission"].update(id="Bad Id"))
    submission.edit(lambda d: d["architecture"].update(num_classes="y"))
    submission.edit(lambda d: d["trials"][0].update(id=7))
    ctx, found = manifest_stage(submission)
    assert [location.pointer for _, _, location, _ in found] == [
        "/architecture/num_classes", "/dataset/test_size", "/submission/id", "/trials/0/id"]
    assert found[0][1] == "'y' is not of type 'integer'"
    assert ctx.model is None


def test_the_pointer_of_a_path() -> None:
    assert checks.pointer_of([]) == ""
    assert checks.pointer_of(["trials", 0, "a/b~c"]) == "/trials/0/a~1b~0c"


def test_rules_only_pydantic_states_point_at_their_object(submission: Submission) -> None:
    ctx, _ = manifest_stage(submission)
    data = submission.manifest()
    data["submission"]["references"].append({"citation": "x"})
    data["artifacts"][0].pop("path")
    with pytest.raises(ValidationError) as refusal:
        Manifest.model_validate(data)
    assert [(f.code, f.message, f.location) for f in checks._pydantic_findings(ctx, refusal.value)] == [
        ("CW110", "Value error, needs `doi` or `url`", ctx.at("/submission/references/2")),
        ("CW110", "Value error, needs `path` or `uri`", ctx.at("/artifacts/0")),
    ]


def test_a_validator_s_own_step_is_left_out_of_the_pointer(submission: Submission) -> None:
    ctx, _ = manifest_stage(submission)
    error = ValidationError.from_exception_data("Manifest", [InitErrorDetails(
        type=PydanticCustomError("custom", "bad"), loc=("artifacts", "function-after[_check(), Artifact]", 0),
        input=None)])
    assert [(f.message, f.location) for f in checks._pydantic_findings(ctx, error)] == [
        ("bad", ctx.at("/artifacts/0"))]


def test_only_warnings_may_be_acknowledged(submission: Submission) -> None:
    submission.edit(lambda d: d.update(acknowledgements=[
        {"code": "CW307", "location": "trials/t01", "reason": "a small model"},
        {"code": "CW206", "location": "curves/t01-keras.csv", "reason": "no"}]))
    ctx, found = manifest_stage(submission)
    assert found == [("CW115", "CW206 (checksum-mismatch) is an error: errors cannot be acknowledged, only fixed",
                      ctx.at("/acknowledgements/1/code"), "Fix what the error says and remove the acknowledgement.")]
    assert ctx.model is not None


def test_without_a_schema_version_an_unknown_hyperparameter_points_to_schema_1_2(submission: Submission) -> None:
    submission.edit(lambda d: d.pop("schema_version"))
    submission.edit(lambda d: d["hyperparameters"].update(dropout=0.1))
    ctx, found = manifest_stage(submission)
    assert found == [
        ("CW110", "'schema_version' is a required property", ctx.at(""), SCHEMA_HINT),
        ("CW110", "unknown field 'dropout'", ctx.at("/hyperparameters/dropout"),
         f"Remove it or fix its spelling; allowed here: {HYPERPARAMETERS_1_2}. Further hyperparameters "
         "(dropout, label smoothing, ...) go under `extra` from schema 1.2 on: set `schema_version: \"1.2\"` and "
         "write `extra: {dropout: <value>}` inside `hyperparameters`."),
    ]
