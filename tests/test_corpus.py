"""The bad-submission corpus, through the real CLI: every case gives its code, exit 1, no traceback.

Manifest cases are folders under tests/corpus/manifest/, named `<CODE>-<what>`: adding a case is
adding a folder. Cases that need a whole submission (files, semantics) are mutations of a fresh copy
of the real demo submission, listed in tests/test_checks.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cwcontrib import cli

CORPUS = Path(__file__).parent / "corpus" / "manifest"
CASES = sorted(p for p in CORPUS.iterdir() if p.is_dir())


def run_cli_json(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = cli.main(["validate", str(path), "--format", "json", "--quiet"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, json.loads(captured.out)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_manifest_corpus_case(case: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a payload that ran would leave its marker here
    expected = case.name.split("-", 1)[0]
    code, report = run_cli_json(case, capsys)
    assert code == 1
    assert expected in {f["code"] for f in report["findings"]}
    assert report["stages"].pop("manifest") == "failed"
    assert set(report["stages"].values()) == {"skipped"}
    assert all(f["location"]["file"] for f in report["findings"])
    assert not list(tmp_path.iterdir()), "validation wrote outside the report path"
    assert not os.path.exists(case / "cwcontrib-pwned-marker")


def test_every_manifest_code_has_a_corpus_case() -> None:
    covered = {c.name.split("-", 1)[0] for c in CASES}
    from cwcontrib.codes import REGISTRY

    # CW102: tested by limit; CW115, CW116 (acknowledgements) need a whole submission: tests/test_acknowledgements.py
    assert {c for c in REGISTRY if c.startswith("CW1") and c not in ("CW102", "CW115", "CW116")} <= covered


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_manifest_corpus_gives_the_same_findings_with_either_yaml_parser(
        case: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """libyaml and PyYAML's pure-Python parser: the same report, finding for finding (line included); only a
    syntax error's wording (CW104) is each parser's own."""
    from cwcontrib import manifest

    reports = {}
    for name, loader in sorted(manifest.YAML_LOADERS.items()):
        monkeypatch.setattr(manifest, "_YamlLoader", loader)
        code, report = run_cli_json(case, capsys)
        for problem in report["findings"]:
            if problem["code"] == "CW104":
                problem["message"] = "(the parser's own wording)"
        reports[name] = (code, report)
    assert set(reports) == {"libyaml", "python"}
    assert reports["libyaml"] == reports["python"]
