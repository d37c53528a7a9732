"""Remote weights: a run's `weights` may name an artifact declared by `uri`. `validate --fetch` downloads it from a
real HTTPS server on 127.0.0.1 (bounded by the declared size, sha256-checked before a byte is parsed, cached) and
checks and re-evaluates it; without --fetch the run is reported remote and not verified, never silently skipped."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from cwcontrib import cli
from cwcontrib.checks import Options
from cwcontrib.validate import Report, validate
from tests.conftest import Submission

WEIGHTS = "weights/t01-pytorch.safetensors"
EVALUATE = Options(device="cpu", seed="5eed", all_trials=True)


def codes(report: Report) -> list[str]:
    return sorted({f.code for f in report.findings})


@pytest.fixture
def remote(submission: Submission, served: tuple[str, Path]) -> tuple[Submission, str, Path]:
    """The demo's first trial with its PyTorch weights moved to the HTTPS server and declared by URI only."""
    url, site = served
    uri = f"{url}/t01-pytorch.safetensors"
    shutil.move(submission.root / WEIGHTS, site / "t01-pytorch.safetensors")

    def change(data: dict[str, Any]) -> None:
        data["trials"] = data["trials"][:1]
        data["trials"][0]["runs"]["pytorch"]["weights"] = uri
        [entry] = [a for a in data["artifacts"] if a.get("path") == WEIGHTS]
        entry.pop("path")
        entry["uri"] = uri

    submission.edit(change)
    return submission, uri, site / "t01-pytorch.safetensors"


def not_evaluated(report: Report) -> dict[tuple[str, str], str]:
    return {(a["trial"], a["framework"]): a["reason"] for a in report.extra["evaluation"]["not_evaluated"]}


def test_without_fetch_remote_weights_are_a_warning_with_the_count(remote: tuple[Submission, str, Path]) -> None:
    submission, uri, _ = remote
    report = validate(submission.root, options=EVALUATE)
    assert report.ok and codes(report) == ["CW215"]
    assert "1 weights file is remote, not verified" in report.findings[0].message and uri in report.findings[0].message
    assert not_evaluated(report)[("t01", "pytorch")] == "remote-not-fetched"
    assert [r["framework"] for r in report.extra["evaluation"]["runs"]] == ["keras"]


def test_fetch_downloads_checks_and_re_evaluates(remote: tuple[Submission, str, Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    submission, uri, _ = remote
    assert cli.main(["validate", str(submission.root), "--fetch", "--all", "--device", "cpu", "--seed", "5eed",
                     "--format", "json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["by_code"] == {}
    runs = {r["framework"]: r for r in report["evaluation"]["runs"]}
    assert runs["pytorch"]["reproduced"] and runs["pytorch"]["submitted_predictions"]["disagreements"] == 0
    assert report["evaluation"]["not_evaluated"] == []
    cache = tmp_path / "cache" / "weights"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    [declared] = [a for a in submission.manifest()["artifacts"] if a.get("uri") == uri]
    assert [p.name for p in cache.iterdir()] == [f"{declared['sha256']}.safetensors"]  # content-addressed


def test_served_bytes_that_are_not_the_declared_ones_are_refused(remote: tuple[Submission, str, Path],
                                                                 tmp_path: Path) -> None:
    submission, _, served_file = remote
    data = bytearray(served_file.read_bytes())
    data[-1] ^= 1  # same size, another sha256
    served_file.write_bytes(bytes(data))
    report = validate(submission.root, options=Options(device="cpu", seed="5eed", all_trials=True, fetch=True))
    assert codes(report) == ["CW216"] and "is not the expected" in report.findings[0].message
    assert not_evaluated(report)[("t01", "pytorch")] == "remote-not-fetched"
    assert not any((tmp_path / "cache" / "weights").iterdir())  # nothing unverified is kept


def test_a_download_larger_than_declared_is_cut_off(remote: tuple[Submission, str, Path]) -> None:
    submission, uri, _ = remote

    def smaller(data: dict[str, Any]) -> None:
        [entry] = [a for a in data["artifacts"] if a.get("uri") == uri]
        entry["size"] = 1000

    submission.edit(smaller)
    report = validate(submission.root, options=Options(reeval=False, fetch=True))
    assert codes(report) == ["CW216"] and "more than the 1000 bytes declared" in report.findings[0].message


def test_a_weights_uri_no_artifact_declares_is_undeclared(remote: tuple[Submission, str, Path]) -> None:
    submission, uri, _ = remote
    submission.edit(lambda d: d["trials"][0]["runs"]["pytorch"].update(weights=uri + "x"))
    assert "CW330" in codes(validate(submission.root, options=Options(reeval=False)))
