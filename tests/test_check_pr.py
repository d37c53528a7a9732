"""scripts/check_pr.py: comment.yml binds validate's untrusted artifact to a pull request, against a real HTTP
server on 127.0.0.1 speaking the GitHub REST endpoints it reads."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

REPO_ROOT = Path(__file__).resolve().parents[1]
REPO = "crossedwires/cwcontrib"
HEAD = "c" * 40


def _load() -> ModuleType:
    scripts = str(REPO_ROOT / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    spec = importlib.util.spec_from_file_location("check_pr", REPO_ROOT / "scripts" / "check_pr.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cp = _load()


@pytest.fixture
def api(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> HTTPServer:
    monkeypatch.setenv("GITHUB_API_URL", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_test")
    return httpserver


def _pr(server: HTTPServer, number: int = 7, source: str = "alice/cwcontrib", ref: str = "my-sub",
        sha: str = HEAD, files: list[dict[str, Any]] | None = None) -> None:
    server.expect_request(f"/repos/{REPO}/pulls/{number}").respond_with_json(
        {"number": number, "head": {"sha": sha, "ref": ref, "repo": {"full_name": source}}})
    if files is not None:
        server.expect_request(f"/repos/{REPO}/pulls/{number}/files").respond_with_json(files)


def _artifact(tmp_path: Path, number: str = "7\n", reports: tuple[str, ...] = ("my-sub",)) -> Path:
    folder = tmp_path / "untrusted"
    folder.mkdir()
    (folder / "pr-number.txt").write_text(number)
    (folder / "changed.json").write_text("{}")
    for sub in reports:
        (folder / f"{sub}.json").write_text("{}")
    return folder


def _check(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = cp.main(["--repo", REPO, "--number-file", str(folder / "pr-number.txt"), "--head-sha", HEAD,
                  "--head-repo", "alice/cwcontrib", "--head-branch", "my-sub", "--reports", str(folder)])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_a_pull_request_that_changes_one_submission(api: HTTPServer, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    _pr(api, files=[{"filename": "submissions/my-sub/submission.yaml"},
                    {"filename": "submissions/my-sub/weights/a.safetensors",
                     "previous_filename": "submissions/my-sub/a.st"}])
    rc, out, err = _check(_artifact(tmp_path), capsys)
    assert (rc, out) == (0, "number=7\nstale=false\n"), err


@pytest.mark.parametrize(("files", "why"), [
    ([{"filename": "submissions/my-sub/submission.yaml"}, {"filename": "cwcontrib/cli.py"}], "outside submissions"),
    ([{"filename": "submissions/my-sub/submission.yaml"}, {"filename": ".github/workflows/validate.yml"}],
     "outside submissions"),
    ([{"filename": "submissions/my-sub/x", "previous_filename": "catalog/runs.parquet"}], "trusted jobs write"),
    ([{"filename": "verifications/my-sub/x.json"}], "trusted jobs write"),
    ([{"filename": "submissions/other/submission.yaml"}], "does not touch: ['my-sub']"),
    ([{"filename": "submissions/README.md"}], "outside submissions"),
])
def test_refuses_what_validate_should_have_refused(api: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   files: list[dict[str, Any]], why: str) -> None:
    # The artifact says all is well; GitHub's own list of the files says otherwise.
    _pr(api, files=files)
    rc, out, err = _check(_artifact(tmp_path), capsys)
    assert (rc, out) == (1, "")
    assert why in err


@pytest.mark.parametrize("number", ["7; rm -rf /", "", "-1", "1234567890", "７"])
def test_refuses_a_number_that_is_not_digits(api: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             number: str) -> None:
    rc, out, err = _check(_artifact(tmp_path, number=number), capsys)
    assert (rc, out) == (1, "")
    assert "not a number" in err
    assert not api.log  # nothing was asked of GitHub


def test_refuses_another_contributors_pull_request(api: HTTPServer, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    _pr(api, number=8, source="bob/cwcontrib", ref="my-sub", files=[])
    rc, _, err = _check(_artifact(tmp_path, number="8"), capsys)
    assert rc == 1
    assert "comes from bob/cwcontrib:my-sub" in err


def test_a_moved_on_pull_request_is_stale_and_its_files_are_not_read(api: HTTPServer, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    _pr(api, sha="d" * 40)  # no files endpoint: reading it would fail the test with HTTP 500
    rc, out, err = _check(_artifact(tmp_path), capsys)
    assert (rc, out) == (0, "number=7\nstale=true\n"), err


def test_without_reports_the_files_are_not_checked(api: HTTPServer, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _pr(api)
    rc, out, err = _check(_artifact(tmp_path, reports=()), capsys)
    assert (rc, out) == (0, "number=7\nstale=false\n"), err


def test_refuses_a_report_not_named_after_a_submission(api: HTTPServer, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    _pr(api, files=[{"filename": "submissions/my-sub/submission.yaml"}])
    rc, _, err = _check(_artifact(tmp_path, reports=("My Sub",)), capsys)
    assert rc == 1
    assert "not named after a submission id" in err


def test_an_api_failure_is_exit_2(api: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _check(_artifact(tmp_path), capsys)  # no pull request 7 on the server: HTTP 500
    assert (rc, out) == (2, "")
    assert "HTTP 500" in err
