"""Licences: SPDX expressions parsed by packaging, the curated list as policy, LicenseRef texts in the submission."""

from __future__ import annotations

import pytest

from cwcontrib.checks import Options
from cwcontrib.spdx import ACCEPTED_LICENSES, canonical_license, judge_license, license_text_path
from cwcontrib.validate import validate
from tests.conftest import Submission

NO_REEVAL = Options(reeval=False)


@pytest.mark.parametrize(
    "expression",
    ["MIT", "CC-BY-4.0", "(MIT OR Apache-2.0) AND CC-BY-4.0", "Apache-2.0 WITH LLVM-exception",
     "GPL-3.0-or-later WITH Classpath-exception-2.0", "LicenseRef-my-model-license", "MIT OR LicenseRef-x"],
)
def test_spdx_expressions_are_accepted(expression: str) -> None:
    verdict = judge_license(expression)
    assert verdict.accepted, verdict.problem
    assert verdict.canonical == expression


@pytest.mark.parametrize(
    ("expression", "why"),
    [("OpenRAIL", "not an SPDX license expression"),  # no SPDX id
     ("MIT WITH CC-BY-4.0", "not an SPDX license expression"),  # a licence where an exception belongs
     ("MIT OR", "not an SPDX license expression"),
     ("MIT AND (Apache-2.0", "not an SPDX license expression"),
     ("DocumentRef-spdx:LicenseRef-x", "not an SPDX license expression"),
     ("Proprietary", "not an SPDX license expression"),
     ("GPL-2.0", "not among the licenses cwcontrib accepts"),  # deprecated: GPL-2.0-only or -or-later
     ("Apache-2.0+", "not among the licenses cwcontrib accepts"),
     ("MIT AND Beerware", "not among the licenses cwcontrib accepts")],
)
def test_non_spdx_and_unaccepted_licenses_are_refused(expression: str, why: str) -> None:
    verdict = judge_license(expression)
    assert not verdict.accepted
    assert verdict.problem is not None and why in verdict.problem


@pytest.mark.parametrize(
    ("written", "canonical"),
    [("mit", "MIT"), ("cc-by-4.0", "CC-BY-4.0"), ("mit or apache-2.0", "MIT OR Apache-2.0"),
     ("Apache-2.0 with llvm-exception", "Apache-2.0 WITH LLVM-exception"), ("MIT  AND  CC0-1.0", "MIT AND CC0-1.0")],
)
def test_case_and_spacing_are_canonicalised(written: str, canonical: str) -> None:
    assert judge_license(written).accepted
    assert canonical_license(written) == canonical


def test_every_accepted_license_is_a_current_spdx_id() -> None:
    for license_id in sorted(ACCEPTED_LICENSES):
        assert canonical_license(license_id) == license_id, license_id


def test_license_refs_are_listed_once_each_in_their_canonical_case() -> None:
    verdict = judge_license("licenseref-a AND (LicenseRef-a OR MIT)")
    assert verdict.references == ("LicenseRef-a",)
    assert license_text_path("LicenseRef-a") == "LICENSES/LicenseRef-a.txt"


def _codes(submission: Submission) -> set[str]:
    return {f.code for f in validate(submission.root, options=NO_REEVAL).findings}


def test_lowercase_license_is_a_warning_with_the_canonical_form(submission: Submission) -> None:
    submission.edit(lambda d: d["submission"].update(license="cc-by-4.0 or mit"))
    report = validate(submission.root, options=NO_REEVAL)
    [warning] = [f for f in report.findings if f.code == "CW325"]
    assert "'CC-BY-4.0 OR MIT'" in warning.message
    assert warning.location.pointer == "/submission/license"
    assert report.ok


def test_license_ref_needs_its_text_in_the_submission(submission: Submission) -> None:
    submission.edit(lambda d: d["submission"].update(license="CC-BY-4.0 AND LicenseRef-model-use"))
    report = validate(submission.root, options=NO_REEVAL)
    [missing] = [f for f in report.findings if f.code == "CW324"]
    assert "LICENSES/LicenseRef-model-use.txt" in missing.message and not report.ok


def test_license_ref_with_its_declared_text_is_valid(submission: Submission) -> None:
    submission.edit(lambda d: d["submission"].update(license="CC-BY-4.0 AND LicenseRef-model-use"))
    submission.write_file("LICENSES/LicenseRef-model-use.txt", "You may use these models for research.\n", "text")
    report = validate(submission.root, options=NO_REEVAL)
    assert report.ok, report.findings
    assert not {"CW319", "CW324", "CW325"} & {f.code for f in report.findings}


def test_an_empty_license_text_is_no_text(submission: Submission) -> None:
    submission.edit(lambda d: d["submission"].update(license="LicenseRef-model-use"))
    submission.write_file("LICENSES/LicenseRef-model-use.txt", "", "text")
    assert "CW324" in _codes(submission)


@pytest.mark.parametrize("expression", ["OpenRAIL", "MIT WITH CC-BY-4.0"])
def test_refused_expressions_fail_validation(submission: Submission, expression: str) -> None:
    submission.edit(lambda d: d["submission"].update(license=expression))
    assert "CW319" in _codes(submission)
