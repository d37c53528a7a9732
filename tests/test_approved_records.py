"""scripts/approved_records.py: index.yml's intake of GPU re-evaluation records, against a real HTTP server on
127.0.0.1 speaking the GitHub REST endpoints it uses, with real zip archives of real verification records."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

REPO_ROOT = Path(__file__).resolve().parents[1]
REPO = "crossedwires/cwcontrib"
MERGED = "a" * 40
C1, C2 = "1" * 40, "2" * 40
TOKEN = "ghs_test-token"
RECORDS = sorted((REPO_ROOT / "verifications" / "digits-cnn-pair").glob("*.json"))


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("approved_records", REPO_ROOT / "scripts" / "approved_records.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["approved_records"] = module
    spec.loader.exec_module(module)
    return module


ar = _load()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _record(i: int) -> tuple[str, bytes]:
    return f"digits-cnn-pair/{RECORDS[i].name}", RECORDS[i].read_bytes()


def _run(run_id: int, **changes: Any) -> dict[str, Any]:
    run = {"id": run_id, "path": ".github/workflows/reevaluate.yml", "event": "workflow_dispatch",
           "head_branch": "main", "conclusion": "success", "repository": {"full_name": REPO},
           "head_repository": {"full_name": REPO}}
    return {**run, **changes}


class GitHub:
    """The REST endpoints fetch uses; every request's Authorization header is kept."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.auth: dict[str, str | None] = {}
        self.artifacts: dict[str, list[dict[str, Any]]] = {}
        api = f"/repos/{REPO}"
        server.expect_request(f"{api}/commits/{MERGED}/pulls").respond_with_json(
            [{"number": 7, "merged_at": "2026-12-01T00:00:00Z", "base": {"ref": "main"}},
             {"number": 8, "merged_at": None, "base": {"ref": "main"}}])
        server.expect_request(f"{api}/pulls/7/commits").respond_with_json([{"sha": C1}, {"sha": C2}])
        server.expect_request(f"{api}/actions/artifacts").respond_with_handler(self._artifacts)
        server.expect_request("/storage/blob").respond_with_handler(self._blob)
        self.blobs: dict[str, bytes] = {}

    def _artifacts(self, request: Request) -> Response:
        name = request.args["name"]
        found = self.artifacts.get(name, [])
        return Response(json.dumps({"total_count": len(found), "artifacts": found}), content_type="application/json")

    def _blob(self, request: Request) -> Response:
        self.auth["blob"] = request.headers.get("Authorization")
        return Response(self.blobs[request.args["id"]], content_type="application/zip")

    def artifact(self, artifact_id: int, sha: str, run: dict[str, Any], data: bytes) -> None:
        api = f"/repos/{REPO}"
        self.artifacts.setdefault(f"verification-records-{sha}", []).append(
            {"id": artifact_id, "name": f"verification-records-{sha}", "expired": False,
             "workflow_run": {"id": run["id"], "head_sha": "f" * 40}})
        self.server.expect_request(f"{api}/actions/runs/{run['id']}").respond_with_json(run)
        self.blobs[str(artifact_id)] = data

        def redirect(request: Request) -> Response:
            self.auth[f"zip{artifact_id}"] = request.headers.get("Authorization")
            return Response(status=302, headers={"Location": self.server.url_for(f"/storage/blob?id={artifact_id}")})

        self.server.expect_request(f"{api}/actions/artifacts/{artifact_id}/zip").respond_with_handler(redirect)


@pytest.fixture
def github(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> GitHub:
    monkeypatch.setenv("GITHUB_API_URL", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    return GitHub(httpserver)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "submissions" / "digits-cnn-pair").mkdir(parents=True)
    (tmp_path / "verifications").mkdir()
    return tmp_path


def _fetch(tree: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    rc = ar.main(["fetch", "--repo", REPO, "--commit", MERGED, "--branch", "main",
                  "--out", str(tree / "verifications"), "--submissions", str(tree / "submissions"),
                  "--added", str(tree / "added.json")])
    added = json.loads((tree / "added.json").read_text()) if (tree / "added.json").exists() else []
    return rc, added, capsys.readouterr().out


def test_takes_the_records_of_an_approved_run_of_any_commit_of_the_merged_pull_request(
        github: GitHub, tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    github.artifact(101, C1, _run(501), _zip(dict([_record(0), _record(1)])))
    github.artifact(102, C2, _run(502), _zip(dict([_record(2)])))
    rc, added, out = _fetch(tree, capsys)
    assert rc == 0, out
    assert added == sorted(_record(i)[0] for i in range(3))
    for name in added:
        written = json.loads((tree / "verifications" / name).read_bytes())
        assert written == json.loads((REPO_ROOT / "verifications" / name).read_bytes())
    # The API saw the token; the storage host an artifact redirects to never did.
    assert github.auth["zip101"] == f"Bearer {TOKEN}"
    assert github.auth["blob"] is None


@pytest.mark.parametrize(("change", "why"), [
    ({"event": "pull_request"}, "triggered by pull_request"),
    ({"path": ".github/workflows/validate.yml"}, "made by .github/workflows/validate.yml"),
    ({"head_branch": "evil"}, "dispatched on evil"),
    ({"head_repository": {"full_name": "mallory/cwcontrib"}}, "another repository"),
    ({"conclusion": "failure"}, "concluded failure"),
])
def test_refuses_an_artifact_that_reevaluate_yml_on_main_did_not_make(
        github: GitHub, tree: Path, capsys: pytest.CaptureFixture[str], change: dict[str, Any], why: str) -> None:
    # A pull request's own workflow can upload an artifact with the expected name: the run decides.
    github.artifact(103, C1, _run(503, **change), _zip(dict([_record(0)])))
    rc, added, out = _fetch(tree, capsys)
    assert rc == 0
    assert added == []
    assert why in out
    assert not any((tree / "verifications").rglob("*.json"))


def test_takes_only_well_formed_records_from_the_archive(
        github: GitHub, tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good_name, good = _record(0)
    _, other = _record(1)
    existing_name, existing = _record(2)
    (tree / "verifications" / "digits-cnn-pair").mkdir()
    (tree / "verifications" / existing_name).write_bytes(b"{}")  # never overwritten, whatever it holds
    orphan = json.loads(_record(3)[1])
    orphan["submission_id"] = "not-in-the-tree"
    members = {
        good_name: good,
        "../escape.json": good,
        "digits-cnn-pair/../../escape.json": good,
        "/abs/" + good_name: good,
        "digits-cnn-pair/notes.txt": b"hello",
        f"digits-cnn-pair/{'0' * 64}.{'0' * 16}.json": other,  # misplaced: its content belongs elsewhere
        f"digits-cnn-pair/{'1' * 64}.{'1' * 16}.json": b"{\"record_format\": \"1\"}",
        f"digits-cnn-pair/{'2' * 64}.{'2' * 16}.json": b" " * (ar.MAX_RECORD_BYTES + 1),
        existing_name: existing,
        f"not-in-the-tree/{RECORDS[3].name}": json.dumps(orphan).encode(),
    }
    github.artifact(104, C1, _run(504), _zip(members))
    rc, added, out = _fetch(tree, capsys)
    assert rc == 0
    assert added == [good_name]
    assert (tree / "verifications" / existing_name).read_bytes() == b"{}"
    assert f"kept {existing_name}" in out
    for text in ["'../escape.json': not <submission>", "'digits-cnn-pair/notes.txt': not <submission>",
                 "its content belongs at digits-cnn-pair/", "not a verification record", "larger than 65536",
                 "no submission not-in-the-tree"]:
        assert text in out, text
    assert sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*.json")) == sorted(
        ["added.json", f"verifications/{good_name}", f"verifications/{existing_name}"])


def test_refuses_an_archive_that_is_not_a_zip(github: GitHub, tree: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    github.artifact(105, C1, _run(505), b"PK\x03\x04 not really")
    rc, added, out = _fetch(tree, capsys)
    assert (rc, added) == (0, [])
    assert "not a zip archive" in out


def test_an_api_error_fails_the_step(github: GitHub, tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    github.artifacts[f"verification-records-{C1}"] = [
        {"id": 106, "name": f"verification-records-{C1}", "expired": False, "workflow_run": {"id": 999}}]
    rc = ar.main(["fetch", "--repo", REPO, "--commit", MERGED, "--branch", "main",
                  "--out", str(tree / "verifications"), "--submissions", str(tree / "submissions"),
                  "--added", str(tree / "added.json")])
    assert rc == 2
    assert f"/repos/{REPO}/actions/runs/999: HTTP 500" in capsys.readouterr().err
    assert not (tree / "added.json").exists()


def test_refuses_bad_arguments(tree: Path) -> None:
    args = ["fetch", "--branch", "main", "--added", str(tree / "a.json")]
    assert ar.main([*args, "--repo", "x y", "--commit", MERGED]) == 2
    assert ar.main([*args, "--repo", REPO, "--commit", "HEAD"]) == 2


def test_prune_deletes_the_added_records_the_index_ignored(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kept, ignored, older = _record(0)[0], _record(1)[0], _record(2)[0]
    for name in (kept, ignored, older):
        (tree / "verifications" / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / "verifications" / name).write_bytes(b"{}")
    (tree / "added.json").write_text(json.dumps([kept, ignored]))
    # The shape `cwcontrib index` writes (catalog.json's verifications.ignored); `older` was already in the
    # repository: prune only ever removes what fetch added.
    catalog = tree / "catalog.json"
    catalog.write_text(json.dumps({"verifications": {"records": 1, "ignored": [
        {"file": ignored, "reason": "its weights sha256 matches no run of the submission"},
        {"file": older, "reason": "its weights sha256 matches no run of the submission"}]}}))
    assert ar.main(["prune", "--added", str(tree / "added.json"), "--catalog", str(catalog),
                    "--out", str(tree / "verifications")]) == 0
    out = capsys.readouterr().out
    assert (tree / "verifications" / kept).exists()
    assert not (tree / "verifications" / ignored).exists()
    assert (tree / "verifications" / older).exists()
    assert out.splitlines()[-1] == "removed=true"


def test_the_committed_catalog_has_the_shape_prune_reads() -> None:
    meta = json.loads((REPO_ROOT / "catalog" / "catalog.json").read_text())
    assert isinstance(meta["verifications"]["ignored"], list)
