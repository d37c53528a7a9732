"""`cwcontrib github changed` on real, temporary git repositories: the submissions a pull request touches
(base...head, as GitHub shows it) and the pull requests it refuses."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cwcontrib.cli import main

GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x", "GIT_TERMINAL_PROMPT": "0",
}


@pytest.fixture(autouse=True)
def _git_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in GIT_ENV.items():  # GitPython runs git in this process's environment
        monkeypatch.setenv(key, value)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env={**os.environ, **GIT_ENV})
    assert done.returncode == 0, f"git {' '.join(args)} exited {done.returncode}: {done.stderr}"  # why, in CI's log
    return done.stdout


def write(repo: Path, path: str | bytes, text: str = "x\n") -> None:
    target = os.path.join(os.fsencode(repo), os.fsencode(path))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "w") as f:
        f.write(text)


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main: code, a catalog, verification records and one submission; then a branch `pr` off it, and main
    moves on (another submission merged) so that only base...head, not base..head, is the pull request."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    for path in ("cwcontrib/cli.py", "catalog/catalog.json", "verifications/old-sub/run.json",
                 "submissions/old-sub/submission.yaml", "submissions/old-sub/weights/a.safetensors",
                 "submissions/README.md", "README.md"):
        write(root, path)
    commit(root, "initial")
    git(root, "branch", "pr")
    write(root, "submissions/merged-meanwhile/submission.yaml")
    write(root, "cwcontrib/cli.py", "changed on main\n")
    commit(root, "main moves on")
    git(root, "checkout", "-q", "pr")
    return root


def changed(repo: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any], str]:
    code = main(["github", "changed", "--base", "main", "--repo", str(repo), "--format", "json", *extra])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def lines(repo: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["github", "changed", "--base", "main", "--repo", str(repo)])
    return code, capsys.readouterr().out.splitlines()


def refused(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["path"], r["rule"]) for r in data["refused"]]


def test_a_pull_request_adding_a_submission(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, "submissions/new-sub/submission.yaml")
    write(repo, "submissions/new-sub/weights/t1-pytorch.safetensors")
    commit(repo, "add new-sub")
    write(repo, "submissions/new-sub/trials.csv")
    commit(repo, "and its trials")
    code, data, _ = changed(repo, capsys)
    assert code == 0
    assert data["submissions"] == ["new-sub"]  # not merged-meanwhile: that is main's, after the merge base
    assert data["deleted"] == [] and data["refused"] == []
    assert data["head"] == git(repo, "rev-parse", "HEAD").strip()
    assert data["base"] == git(repo, "rev-parse", "main").strip()
    assert data["merge_base"] == git(repo, "merge-base", "main", "HEAD").strip() != data["base"]
    assert lines(repo, capsys) == (0, ["new-sub"])


def test_a_submission_together_with_code_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, "submissions/new-sub/submission.yaml")
    write(repo, "cwcontrib/cli.py", "print('owned')\n")
    write(repo, ".github/workflows/x.yml")
    commit(repo, "a submission and code")
    code, data, err = changed(repo, capsys)
    assert code == 1
    assert data["submissions"] == ["new-sub"]
    assert refused(data) == [(".github/workflows/x.yml", "outside-submissions"),
                             ("cwcontrib/cli.py", "outside-submissions")]
    assert "cwcontrib/cli.py: outside-submissions" in err and "separate pull requests" in err
    assert lines(repo, capsys) == (1, [])  # nothing for a workflow to validate


@pytest.mark.parametrize("path", ["verifications/old-sub/run.json", "verifications/new-sub/forged.json",
                                  "catalog/catalog.json", "retractions/old-sub.yaml"])
def test_protected_folders_are_refused_with_or_without_a_submission(repo: Path, capsys: pytest.CaptureFixture[str],
                                                                    path: str) -> None:
    write(repo, path, "forged\n")
    commit(repo, "forge a record")
    code, data, err = changed(repo, capsys)
    assert (code, data["submissions"], refused(data)) == (1, [], [(path, "protected-path")])
    assert "only the index workflow writes them" in err
    write(repo, "submissions/new-sub/submission.yaml")
    commit(repo, "and a submission")
    code, data, _ = changed(repo, capsys)
    assert (code, data["submissions"], refused(data)) == (1, ["new-sub"], [(path, "protected-path")])


def test_a_code_only_pull_request_has_no_submissions(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, "cwcontrib/cli.py", "better\n")
    write(repo, "submissions/README.md", "how to submit\n")  # no submission's folder
    commit(repo, "code")
    code, data, err = changed(repo, capsys)
    assert (code, data["submissions"], data["refused"]) == (0, [], [])
    assert "2 path(s) changed" in err
    assert lines(repo, capsys) == (0, [])


def test_a_deleted_submission(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(repo, "rm", "-q", "-r", "submissions/old-sub")
    git(repo, "commit", "-q", "-m", "withdraw old-sub")
    code, data, _ = changed(repo, capsys)
    assert (code, data["submissions"], data["deleted"], data["refused"]) == (0, ["old-sub"], ["old-sub"], [])


def test_a_rename_counts_for_both_submissions(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "submissions/second").mkdir()
    git(repo, "mv", "submissions/old-sub/weights/a.safetensors", "submissions/second/a.safetensors")
    git(repo, "commit", "-q", "-m", "move a file across submissions")
    code, data, _ = changed(repo, capsys)
    assert (code, data["submissions"], data["deleted"]) == (0, ["old-sub", "second"], [])
    git(repo, "mv", "submissions/old-sub", "submissions/renamed")  # a whole folder: old-sub is gone
    git(repo, "commit", "-q", "-m", "rename the submission")
    code, data, _ = changed(repo, capsys)
    assert (code, data["submissions"], data["deleted"]) == (0, ["old-sub", "renamed", "second"], ["old-sub"])


def test_a_rename_out_of_a_protected_folder_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(repo, "mv", "verifications/old-sub/run.json", "submissions/old-sub/run.json")
    git(repo, "commit", "-q", "-m", "move a record")
    code, data, _ = changed(repo, capsys)
    assert code == 1 and refused(data) == [("verifications/old-sub/run.json", "protected-path")]


def test_odd_file_names_inside_a_submission(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in (b"new line\n.csv", b"\xff\xfe not utf-8.csv", b"-rf", b'"quoted" \\ back', b"tab\there",
                 "caf\u00e9 \u202e.csv".encode(), b" lead and trail \n"):
        write(repo, b"submissions/odd/" + name)
    commit(repo, "odd names")
    code, data, _ = changed(repo, capsys)
    assert (code, data["submissions"], data["refused"]) == (0, ["odd"], [])
    write(repo, b"tools/\xff\nx.py")
    commit(repo, "and odd code")
    code, data, err = changed(repo, capsys)
    assert code == 1 and refused(data) == [("tools/\\xff\nx.py", "outside-submissions")]
    assert "tools/\\xff\\nx.py: outside-submissions" in err  # one line per path, escaped


@pytest.mark.parametrize("folder", [b"Upper", b"two--dashes", b"new\nline", b"\xff", b"-x", b"a" * 65, b".hidden"])
def test_a_folder_not_named_by_a_submission_id_is_refused(repo: Path, capsys: pytest.CaptureFixture[str],
                                                          folder: bytes) -> None:
    write(repo, b"submissions/" + folder + b"/submission.yaml")
    write(repo, "submissions/fine/submission.yaml")
    commit(repo, "a bad folder name")
    code, data, _ = changed(repo, capsys)
    shown = "submissions/" + folder.decode("utf-8", "backslashreplace")
    assert (code, data["submissions"], refused(data)) == (1, ["fine"], [(shown, "submission-folder-name")])


def test_symlinks_and_submodules_in_a_submission_are_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "submissions/old-sub/passwd").symlink_to("/etc/passwd")
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{head},submissions/old-sub/vendored")
    git(repo, "add", "submissions/old-sub/passwd")  # not -A: the gitlink has no folder in the work tree
    git(repo, "commit", "-q", "-m", "a link and a submodule")
    code, data, _ = changed(repo, capsys)
    assert code == 1 and data["submissions"] == ["old-sub"]
    assert refused(data) == [("submissions/old-sub/passwd", "symlink-in-submission"),
                             ("submissions/old-sub/vendored", "submodule-in-submission")]


def test_a_file_replaced_by_a_symlink_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "submissions/old-sub/submission.yaml").unlink()
    (repo / "submissions/old-sub/submission.yaml").symlink_to("../../README.md")
    commit(repo, "type change")
    code, data, _ = changed(repo, capsys)
    assert code == 1 and refused(data) == [("submissions/old-sub/submission.yaml", "symlink-in-submission")]


def test_unknown_refs_and_unrelated_histories_are_usage_errors(repo: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    for base in ("no-such-branch", "--output=/tmp/x", "main\nHEAD"):
        assert main(["github", "changed", f"--base={base}", "--repo", str(repo)]) == 2
        err = capsys.readouterr().err
        assert "does not name a commit" in err if base == "no-such-branch" else "is not a git ref" in err
    git(repo, "checkout", "-q", "--orphan", "unrelated")
    commit(repo, "no common history")
    assert main(["github", "changed", "--base", "main", "--repo", str(repo)]) == 2
    assert "no merge base" in capsys.readouterr().err
    assert main(["github", "changed", "--base", "main", "--repo", str(tmp_path)]) == 2
    assert "is not a git repository" in capsys.readouterr().err
