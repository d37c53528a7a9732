"""The finding-code registry: stable patterns, one definition each, generated docs current."""

from __future__ import annotations

from pathlib import Path

import pytest

from cwcontrib import cli
from cwcontrib.checks import CHECKS
from cwcontrib.codes import CODE_PATTERN, NAME_PATTERN, REGISTRY, findings_markdown, lookup

REPO = Path(__file__).resolve().parents[1]


def test_codes_and_names_follow_the_patterns() -> None:
    for code, entry in REGISTRY.items():
        assert CODE_PATTERN.match(code), code
        assert NAME_PATTERN.match(entry.name), entry.name
        assert entry.summary and entry.why and entry.fix
        assert entry.added_in.count(".") == 2


def test_names_are_unique() -> None:
    names = [entry.name for entry in REGISTRY.values()]
    assert len(names) == len(set(names))


def test_every_code_is_emitted_by_some_check() -> None:
    from cwcontrib.validate import PIPELINE_CODES

    emitted = {code for check in CHECKS for code in check.codes} | PIPELINE_CODES
    stage_codes = {c for c, e in REGISTRY.items() if c[:3] in ("CW0", "CW1", "CW2", "CW3") and e.active}
    assert stage_codes <= emitted


def test_a_removed_code_stays_documented_and_is_never_emitted(capsys: pytest.CaptureFixture[str]) -> None:
    from cwcontrib.codes import finding

    removed = [e for e in REGISTRY.values() if not e.active]
    assert removed, "CW306 was retired in 0.2.0"
    for entry in removed:
        assert entry.replaced_by and all(REGISTRY[c].active for c in entry.replaced_by)
        assert not any(entry.code in check.codes for check in CHECKS)
        with pytest.raises(ValueError, match="was removed"):
            finding(entry.code, "x")
        assert f"removed in {entry.removed_in}" in findings_markdown()
    assert cli.main(["explain", "CW306"]) == 0
    assert "removed in 0.2.0: now CW110 or CW328" in capsys.readouterr().out


def test_docs_findings_md_is_current() -> None:
    committed = (REPO / "docs" / "findings.md").read_text(encoding="utf-8")
    assert committed == findings_markdown(), "run: cwcontrib codes --markdown > docs/findings.md"


def test_lookup_by_code_or_name() -> None:
    assert lookup("cw304") is lookup("accuracy-not-k-over-n") is REGISTRY["CW304"]
    assert lookup("CW999") is None


def test_explain_prints_the_documentation(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["explain", "CW304"]) == 0
    out = capsys.readouterr().out
    assert "accuracy-not-k-over-n" in out and "How to fix" in out


def test_explain_unknown_code_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["explain", "CW999"]) == 2
    assert "unknown finding code" in capsys.readouterr().err
