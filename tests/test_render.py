"""`cwcontrib render` turns a saved JSON report into the other formats with the bytes `validate --format` gives,
so a workflow validates a submission once; a report it cannot trust is refused (exit 2), never rendered."""

from __future__ import annotations

from pathlib import Path

import pytest

from cwcontrib import cli
from tests.conftest import DEMO

ARGS = ["--quiet", "--sample", "1", "--seed", "ab" * 16]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("render")
    assert cli.main(["validate", str(DEMO), *ARGS, "--format", "json", "-o", str(folder / "report.json")]) == 0
    return folder


@pytest.mark.parametrize("fmt", ["markdown", "text", "github"])
def test_rendering_a_saved_report_gives_what_validate_prints(saved: Path, fmt: str) -> None:
    direct, rendered = saved / f"direct.{fmt}", saved / f"rendered.{fmt}"
    assert cli.main(["validate", str(DEMO), *ARGS, "--format", fmt, "-o", str(direct)]) == 0
    assert cli.main(["render", str(saved / "report.json"), "--format", fmt, "--path", str(DEMO),
                     "-o", str(rendered)]) == 0
    assert rendered.read_bytes() == direct.read_bytes()
    assert b"reproduced" in rendered.read_bytes() or fmt == "github"  # the re-evaluation made it through


def test_a_report_that_cannot_be_trusted_is_refused(saved: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    forged = tmp_path / "forged.json"
    forged.write_text((saved / "report.json").read_text().replace('"valid": true', '"valid": false', 1))
    out = tmp_path / "out.md"
    assert cli.main(["render", str(forged), "-o", str(out)]) == cli.EXIT_USAGE
    assert not out.exists()
    assert "forged.json" in capsys.readouterr().err
