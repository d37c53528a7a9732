"""The published schema is as strict as the tool: what cwcontrib refuses in a manifest's form, a stock validator
(check-jsonschema, with the committed schema file) refuses too, and what both accept is accepted by both."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from cwcontrib.checks import Options
from cwcontrib.checks.manifest import _schema_validator
from cwcontrib.checks.semantics import unreachable_host
from cwcontrib.schema import committed_schema_path
from cwcontrib.validate import validate
from tests.conftest import DEMO, REPO
from tests.test_schema_versions import as_1_0

Edit = Callable[[dict[str, Any]], None]


def _reference(entry: dict[str, Any]) -> Edit:
    return lambda d: d["submission"]["references"].append(entry)


def _artifact(**fields: Any) -> Edit:
    return lambda d: d["artifacts"].append({"format": "csv", "size": 1, "sha256": "0" * 64, **fields})


def _license(expression: str) -> Edit:
    return lambda d: d["submission"].update(license=expression)


REFUSED: dict[str, Edit] = {
    "artifact-without-path-or-uri": _artifact(),
    "artifact-with-null-path": _artifact(path=None),
    "artifact-uri-not-https": _artifact(uri="http://example.org/w.safetensors"),
    "reference-without-doi-or-url": _reference({"citation": "A paper."}),
    "reference-with-null-doi": _reference({"doi": None, "citation": "A paper."}),
    "doi-with-scheme": _reference({"doi": "doi:10.1145/3368089"}),
    "doi-as-url": _reference({"doi": "https://doi.org/10.1145/3368089"}),
    "doi-without-suffix": _reference({"doi": "10.1145/"}),
    "url-not-http": _reference({"url": "ftp://example.org/paper.pdf"}),
    "url-with-space": _reference({"url": "https://example.org/my paper.pdf"}),
    "url-with-credentials": _reference({"url": "https://user:secret@example.org/paper"}),
    "url-without-host": _reference({"url": "https:///paper"}),
    "license-list": _license("MIT, CC-BY-4.0"),
    "license-with-slash": _license("MIT/Apache-2.0"),
}

ACCEPTED: dict[str, Edit] = {
    "reference-with-both": _reference({"doi": "10.1145/3368089.3409751", "url": "https://arxiv.org/abs/2003.01011"}),
    "url-with-query-and-port": _reference({"url": "http://example.org:8080/p?a=1&b=%20#sec-2"}),
    "artifact-uri-only": _artifact(uri="https://zenodo.org/records/1/files/w.safetensors"),
    "compound-license": _license("(MIT OR Apache-2.0) AND CC-BY-4.0"),
    "license-exception": _license("Apache-2.0 WITH LLVM-exception"),
}


def _write_manifests(tmp_path: Path, cases: dict[str, Edit]) -> dict[str, Path]:
    """One folder per case, holding only the edited demo manifest: stage 1 needs nothing else."""
    demo = yaml.safe_load((DEMO / "submission.yaml").read_text(encoding="utf-8"))
    as_1_0(demo)  # the rules are those of the 1.0 schema these cases are checked against
    folders = {}
    for name, edit in cases.items():
        data = json.loads(json.dumps(demo))
        edit(data)
        folder = tmp_path / name
        folder.mkdir()
        (folder / "submission.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        folders[name] = folder
    return folders


def _stock_errors(manifests: list[Path]) -> dict[str, list[str]]:
    """check-jsonschema's errors per manifest file, from one run over all of them."""
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    result = subprocess.run([exe, "--output-format", "json", "--schemafile", str(committed_schema_path(REPO, "1.0")),
                             *map(str, manifests)], capture_output=True, text=True, timeout=120)
    report = json.loads(result.stdout)
    assert not report.get("parse_errors"), report
    errors: dict[str, list[str]] = {str(m): [] for m in manifests}
    for error in report.get("errors", []):
        errors[error["filename"]].append(f"{error['path']}: {error['message']}")
    assert (result.returncode == 0) == (not any(errors.values())), result.stdout + result.stderr
    return errors


def _manifest_codes(folder: Path) -> set[str]:
    report = validate(folder, options=Options(reeval=False))
    return {f.code for f in report.findings if report.stages.get("manifest") == "failed"}


def test_a_stock_validator_refuses_what_cwcontrib_refuses(tmp_path: Path) -> None:
    folders = _write_manifests(tmp_path, REFUSED)
    stock = _stock_errors([f / "submission.yaml" for f in folders.values()])
    for name, folder in folders.items():
        assert "CW110" in _manifest_codes(folder), name
        assert stock[str(folder / "submission.yaml")], f"{name}: check-jsonschema accepted it"


def test_a_stock_validator_accepts_what_cwcontrib_accepts(tmp_path: Path) -> None:
    folders = _write_manifests(tmp_path, ACCEPTED)
    stock = _stock_errors([f / "submission.yaml" for f in folders.values()])
    for name, folder in folders.items():
        assert not stock[str(folder / "submission.yaml")], name
        assert _schema_validator("1.0").is_valid(yaml.safe_load((folder / "submission.yaml").read_text())), name


@pytest.mark.parametrize(("name", "message"), [("reference-without-doi-or-url", "needs `doi` or `url`"),
                                               ("artifact-without-path-or-uri", "needs `path` or `uri`"),
                                               ("doi-with-scheme", "expected a DOI as `10.NNNN/suffix`")])
def test_schema_findings_say_what_is_expected(tmp_path: Path, name: str, message: str) -> None:
    folder = _write_manifests(tmp_path, {name: REFUSED[name]})[name]
    [problem] = validate(folder, options=Options(reeval=False)).findings
    assert problem.code == "CW110" and message in problem.message
    assert problem.location.line is not None


def test_stage_one_asserts_formats() -> None:
    """Draft 2020-12 treats `format` as an annotation unless the validator is given a format checker."""
    assert not _schema_validator("1.0").evolve(schema={"format": "email"}).is_valid("no-at-sign")


def test_every_format_in_the_schema_is_also_a_pattern() -> None:
    """Validators check `format` differently (or not at all): a pattern next to each makes them agree."""
    pending: list[Any] = [json.loads(committed_schema_path(REPO, "1.0").read_text(encoding="utf-8"))]
    formats = 0
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if "format" in node and isinstance(node["format"], str):
                formats += 1
                assert "pattern" in node, node
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    assert formats >= 3  # email, reference url, artifact uri


@pytest.mark.parametrize(
    ("url", "reachable"),
    [("https://arxiv.org/abs/2003.01011", True), ("http://93.184.215.14/paper", True),
     ("http://localhost:8888/notebooks/study.ipynb", False), ("https://wiki/study", False),
     ("http://192.168.1.20/wiki", False), ("http://127.0.0.1/x", False), ("https://gpu-box.local/x", False),
     ("https://docs.corp.internal/study", False), ("https://paper.example/x", False)],
)
def test_what_the_schema_cannot_say_semantics_says(url: str, reachable: bool) -> None:
    """A well-formed URL can still name a host only the contributor reaches: CW328, in stage 3."""
    assert (unreachable_host(url) is None) == reachable
