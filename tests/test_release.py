"""`cwcontrib release`, `retract` and `verify-release` in a temporary git repository made from the real demo: one
history of releases (first, MINOR after a new submission, MAJOR after a retraction, PATCH after a docs edit) with
the refusals met on the way, then checks of what each release left behind."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import cwcontrib
from cwcontrib import cli
from cwcontrib.catalog.assets import SIGNATURE, SUMS, archive_name
from cwcontrib.catalog.index import IndexRefused, build_catalog
from cwcontrib.catalog.release import ReleaseRefused, release
from cwcontrib.catalog.retract import RetractionError, retract
from tests.conftest import DEMO, Submission, make_repo

SUB = DEMO.name
SECOND = "digits-cnn-pair-b"


def make_keys(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = folder / "release-key.pem", folder / "release-key.pub.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def git_repo(root: Path) -> git.Repo:
    repo = git.Repo.init(root)
    with repo.config_writer() as config:
        config.set_value("user", "name", "Release Tester")
        config.set_value("user", "email", "tester@example.org")
        config.set_value("commit", "gpgsign", "false")
        config.set_value("tag", "gpgsign", "false")
    (root / ".gitignore").write_text("dist/\n.cwcontrib-cache/\n")
    (root / "README.md").write_text("# A test dataset\n")
    repo.git.add("--all")
    repo.git.commit("-q", "-m", "The demo submission")
    return repo


def refused(root: Path, version: str, key: Path | None) -> ReleaseRefused:
    with pytest.raises(ReleaseRefused) as info:
        release(root, version, key=key)
    return info.value


@dataclass
class History:
    root: Path
    repo: git.Repo
    private: Path
    public: Path
    results: dict[str, Any] = field(default_factory=dict)
    refusals: dict[str, ReleaseRefused] = field(default_factory=dict)
    heads: dict[str, str] = field(default_factory=dict)  # HEAD before a refusal: refusals change nothing

    def dist(self, version: str) -> Path:
        return self.root / "dist" / f"v{version}"


def _add_second_submission(root: Path, repo: git.Repo) -> None:
    target = root / "submissions" / SECOND
    shutil.copytree(DEMO, target)
    Submission(target).edit(lambda data: data["submission"].update(id=SECOND))
    repo.git.add("--", f"submissions/{SECOND}")
    repo.git.commit("-q", "-m", f"Add {SECOND}")


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    root = make_repo(tmp_path_factory.mktemp("release") / "repo")
    h = History(root, git_repo(root), *make_keys(tmp_path_factory.mktemp("keys")))
    h.refusals["unsigned"] = refused(root, "1.0.0", None)
    (root / "notes.txt").write_text("not committed")
    h.refusals["dirty"] = refused(root, "1.0.0", h.private)
    (root / "notes.txt").unlink()
    h.results["1.0.0"] = release(root, "1.0.0", key=h.private)
    h.refusals["same commit"] = refused(root, "1.0.1", h.private)
    h.refusals["existing tag"] = refused(root, "1.0.0", h.private)

    _add_second_submission(root, h.repo)
    h.heads["patch after add"] = h.repo.head.commit.hexsha
    h.refusals["patch after add"] = refused(root, "1.0.1", h.private)
    h.refusals["skipped"] = refused(root, "1.2.0", h.private)
    h.results["1.1.0"] = release(root, "1.1.0", key=h.private)

    retract(root, SECOND, "Its weights were copied from another study without permission.")
    h.refusals["minor after retraction"] = refused(root, "1.2.0", h.private)
    h.refusals["not greater"] = refused(root, "1.0.5", h.private)
    h.results["2.0.0"] = release(root, "2.0.0", key=h.private)

    (root / "README.md").write_text("# A test dataset\n\nNow with a paragraph on how to cite a release.\n")
    h.repo.git.commit("-q", "-am", "README: how to cite a release")
    h.results["2.0.1"] = release(root, "2.0.1", key=h.private)
    return h


def test_a_first_release_commits_tags_and_writes_signed_assets(history: History) -> None:
    first = history.results["1.0.0"]
    assert first.previous is None and first.bump == "first"
    tag = history.repo.tags["v1.0.0"]
    assert tag.tag is not None, "an annotated tag"
    assert first.digest in tag.tag.message
    meta = json.loads(tag.commit.tree["catalog/catalog.json"].data_stream.read())
    assert meta["version"] == "1.0.0" and list(meta["submissions"]) == [SUB]
    published = {p.name for p in history.dist("1.0.0").iterdir()}
    expected = {archive_name("1.0.0"), "CHANGELOG.md", "catalog.json", "croissant.json", "hyperparameters.parquet",
                "pairs.parquet", "retracted.parquet", "runs.parquet", "submissions.parquet", "trials.parquet", SUMS,
                SIGNATURE}
    datasheet = {"DATASHEET.md"} if (history.root / "catalog" / "DATASHEET.md").is_file() else set()
    assert published == expected | datasheet
    changelog = (history.dist("1.0.0") / "CHANGELOG.md").read_text()
    assert f"`{SUB}` — " in changelog and "### Added" in changelog
    assert json.loads((history.dist("1.0.0") / "croissant.json").read_text())["version"] == "1.0.0"


def test_refusals_name_their_rule_and_change_nothing(history: History) -> None:
    r = history.refusals
    assert r["unsigned"].rule == "signed"
    assert r["dirty"].rule == "clean tree" and "notes.txt" in str(r["dirty"])
    assert r["existing tag"].rule == "new tag"
    assert r["same commit"].rule == "something changed"
    assert r["skipped"].rule == "consecutive" and "1.1.0 (MINOR)" in str(r["skipped"])
    assert r["not greater"].rule == "greater"
    patch = r["patch after add"]
    assert patch.rule == "semver: PATCH = same records"
    assert "submissions added" in str(patch) and SECOND in str(patch) and "release 1.1.0" in str(patch)
    # a refusal wrote nothing: the commit after the refused PATCH is the MINOR release on top of the same HEAD
    assert history.repo.commit("v1.1.0").parents[0].hexsha == history.heads["patch after add"]
    assert {t.name for t in history.repo.tags} == {"v1.0.0", "v1.1.0", "v2.0.0", "v2.0.1"}


def test_a_minor_release_after_adding_a_submission(history: History) -> None:
    minor = history.results["1.1.0"]
    assert (minor.bump, minor.required) == ("minor", "minor")
    changelog = (history.dist("1.1.0") / "CHANGELOG.md").read_text()
    section = changelog.split("\n## 1.0.0")[0]
    assert "## 1.1.0" in section and f"`{SECOND}` — " in section and "added in `" in section
    assert f"Add {SECOND}" in section
    assert "\n## 1.0.0" in changelog, "older sections are kept"


def test_a_retraction_needs_a_major_release_and_leaves_a_tombstone(history: History) -> None:
    refusal = history.refusals["minor after retraction"]
    assert refusal.rule == "semver: MINOR = records added only" and "release 2.0.0" in str(refusal)
    assert history.results["2.0.0"].required == "major"
    stone = json.loads(history.repo.commit("v2.0.0").tree[f"retractions/{SECOND}.json"].data_stream.read())
    assert stone["last_release"] == "1.1.0" and stone["retracted_in"] == "2.0.0"
    assert stone["reason"].startswith("Its weights were copied") and stone["retracted_by"] == "Release Tester"
    assert not (history.root / "submissions" / SECOND).exists()
    changelog = (history.dist("2.0.0") / "CHANGELOG.md").read_text().split("\n## 1.1.0")[0]
    assert "### Retracted" in changelog and f"`{SECOND}`" in changelog and "last in 1.1.0" in changelog


def test_load_catalog_excludes_tombstones_unless_asked(history: History, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(history.root)
    monkeypatch.setenv("CWCONTRIB_CACHE", str(history.root / ".cwcontrib-cache" / "user"))
    runs = cwcontrib.load_catalog("runs")
    assert set(runs["submission_id"]) == {SUB}
    stones = cwcontrib.load_catalog("retracted")
    assert set(stones["kind"]) == {"submission", "trial", "run", "pair"}
    assert set(stones["retracted_in"]) == {"2.0.0"} and set(stones["last_release"]) == {"1.1.0"}
    cited = f"{SECOND}/t01/pytorch"
    both = cwcontrib.load_catalog("runs", include_retracted=True)
    row = both[both["run_id"] == cited].iloc[0]
    assert bool(row["retracted"]) and row["retracted_in"] == "2.0.0" and "copied" in row["retraction_reason"]
    assert str(both["retracted"].dtype) == "boolean" and not both[both["submission_id"] == SUB]["retracted"].any()
    subs = cwcontrib.load_catalog("submissions", include_retracted=True)
    assert sorted(subs["submission_id"]) == [SUB, SECOND]
    # the release that still held it: from the tag, in this checkout
    assert cited in set(cwcontrib.load_catalog("runs", version="1.1.0")["run_id"])


def test_a_patch_release_after_a_docs_edit(history: History) -> None:
    patch = history.results["2.0.1"]
    assert (patch.bump, patch.required) == ("patch", "patch")
    changelog = (history.dist("2.0.1") / "CHANGELOG.md").read_text().split("\n## 2.0.0")[0]
    assert "No record changed" in changelog and "README: how to cite a release" in changelog


def test_index_after_a_release_keeps_its_version_and_bytes(history: History) -> None:
    build_catalog(history.root)
    assert json.loads((history.root / "catalog" / "catalog.json").read_text())["version"] == "2.0.1"
    assert not history.repo.is_dirty(untracked_files=True), history.repo.git.status("--porcelain")
    assert (history.root / "catalog" / "CHANGELOG.md").is_file(), "the changelog survives a rebuild"


def test_verify_release_accepts_a_release_and_names_a_tampered_file(history: History, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    dist = tmp_path / "v1.1.0"
    shutil.copytree(history.dist("1.1.0"), dist)
    key = ["--public-key", str(history.public)]
    assert cli.main(["verify-release", str(dist), *key]) == 0
    assert "signature verified" in capsys.readouterr().out

    archive = dist / archive_name("1.1.0")
    original = archive.read_bytes()
    archive.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    assert cli.main(["verify-release", str(dist), *key]) == 1
    out = capsys.readouterr().out
    assert f"FAILED {archive.name}: differs" in out
    assert f"FAILED {SIGNATURE}: {archive.name} differs from what was signed" in out
    archive.write_bytes(original)

    # a signature re-made for a tampered release with another key does not verify with the release's key
    other, _ = make_keys(tmp_path)
    from cwcontrib.catalog.assets import sign_with_key

    sign_with_key(dist, other)
    assert cli.main(["verify-release", str(dist), *key]) == 1
    assert f"FAILED {SIGNATURE}: made with another key than {history.public.name}" in capsys.readouterr().out


def test_verify_release_detects_a_tampered_signature(history: History, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    dist = tmp_path / "v2.0.0"
    shutil.copytree(history.dist("2.0.0"), dist)
    bundle = json.loads((dist / SIGNATURE).read_text())
    envelope = bundle["dsseEnvelope"]["signatures"][0]
    envelope["sig"] = ("A" if envelope["sig"][0] != "A" else "B") + envelope["sig"][1:]
    (dist / SIGNATURE).write_text(json.dumps(bundle))
    assert cli.main(["verify-release", str(dist), "--public-key", str(history.public)]) == 1
    assert f"FAILED {SIGNATURE}: the signature does not verify" in capsys.readouterr().out
    (dist / SIGNATURE).write_text("{not json")
    assert cli.main(["verify-release", str(dist), "--public-key", str(history.public)]) == 1
    assert f"FAILED {SIGNATURE}: unreadable signature bundle" in capsys.readouterr().out


def test_the_archive_is_deterministic_and_holds_the_catalog(history: History, tmp_path: Path) -> None:
    """Two releases of the same tree give byte-identical archives: a clone (other inodes, times, folder) of the
    commit before 1.0.0, released again."""
    clone = tmp_path / "clone"
    first = history.repo.commit("v1.0.0").parents[0].hexsha
    subprocess.run(["git", "clone", "-q", str(history.root), str(clone)], check=True)
    cloned = git.Repo(clone)
    cloned.git.checkout("-q", "-B", "again", first)
    cloned.git.tag("-d", "v1.0.0", "v1.1.0", "v2.0.0", "v2.0.1")
    with cloned.config_writer() as config:
        config.set_value("user", "name", "Someone Else")
        config.set_value("user", "email", "else@example.org")
    again = release(clone, "1.0.0", key=make_keys(tmp_path)[0])
    name = archive_name("1.0.0")
    assert (again.dist / name).read_bytes() == (history.dist("1.0.0") / name).read_bytes()
    with tarfile.open(again.dist / name) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    assert {m.mode for m in members if m.isfile()} == {0o644}
    assert "crossedwires-catalog-1.0.0/catalog.json" in {m.name for m in members}
    assert (again.dist / name).read_bytes()[4:8] == b"\0\0\0\0", "gzip header without a time stamp"


def test_retract_refuses_what_it_cannot_retract(history: History) -> None:
    with pytest.raises(RetractionError, match="already retracted"):
        retract(history.root, SECOND, "again")
    with pytest.raises(RetractionError, match="needs a --reason"):
        retract(history.root, SUB, "  ")
    with pytest.raises(RetractionError, match="not a submission id"):
        retract(history.root, "../catalog", "escape")


def test_index_refuses_bad_or_contradicted_tombstones(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    (root / "retractions").mkdir()
    (root / "retractions" / "other.json").write_text('{"format": "1", "submission_id": "x"}')
    with pytest.raises(IndexRefused) as info:
        build_catalog(root)
    assert "retractions/other.json" in info.value.refused
    assert any("differs from the file name" in p for p in info.value.refused["retractions/other.json"])
    (root / "retractions" / "other.json").unlink()
    stone = {"format": "1", "submission_id": SUB, "reason": "r", "retracted_on": "2026-01-02", "retracted_by": None,
             "title": None, "content_digest": None, "last_release": None, "retracted_in": None, "records": {}}
    (root / "retractions" / f"{SUB}.json").write_text(json.dumps(stone))
    with pytest.raises(IndexRefused) as info:
        build_catalog(root)
    assert "still under submissions/" in info.value.refused[SUB][0]
    assert not (root / "catalog").exists()


def test_versions_from_tags_in_a_checkout(history: History, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(history.root / "submissions")
    monkeypatch.setenv("CWCONTRIB_CACHE", str(history.root / ".cwcontrib-cache" / "user"))
    monkeypatch.setenv("CWCONTRIB_RELEASES", "https://127.0.0.1:9/unreachable")  # tags must suffice
    assert cli.main(["catalog", "diff", "1.0.0", "1.1.0", "--json"]) == 0
    changes = json.loads(capsys.readouterr().out)
    assert changes["submission added"] == [SECOND] and not changes["submission removed"]
    assert cli.main(["catalog", "diff", "1.1.0", "2.0.0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["submission removed"] == [SECOND]
    assert set(cwcontrib.load_catalog("submissions", version="1.0.0")["submission_id"]) == {SUB}


def test_served_release_assets_load_diff_and_verify(history: History, tmp_path: Path, served: tuple[str, Path],
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Outside a checkout: releases as GitHub serves them, over real HTTPS on 127.0.0.1."""
    url, site = served
    for version in ("1.0.0", "1.1.0"):
        shutil.copytree(history.dist(version), site / "releases" / "download" / f"v{version}")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.setenv("CWCONTRIB_RELEASES", f"{url}/releases")
    assert set(cwcontrib.load_catalog("runs", version="1.0.0")["submission_id"]) == {SUB}
    assert cli.main(["catalog", "diff", "1.0.0", "1.1.0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["submission added"] == [SECOND]
    assert cli.main(["verify-release", "1.1.0", "--public-key", str(history.public)]) == 0
    assert "signature verified" in capsys.readouterr().out

    runs = site / "releases" / "download" / "v1.1.0" / "runs.parquet"
    runs.write_bytes(runs.read_bytes()[:-8] + b"tampered")
    monkeypatch.setenv("CWCONTRIB_CACHE", str(tmp_path / "fresh-cache"))
    assert cli.main(["verify-release", "1.1.0", "--public-key", str(history.public)]) == 1
    out = capsys.readouterr().out
    assert "FAILED runs.parquet: differs or cannot be downloaded" in out
    assert f"FAILED {SIGNATURE}: runs.parquet signed but missing" in out


def test_tombstones_load_through_mlcroissant(history: History) -> None:
    import mlcroissant as mlc

    from cwcontrib.catalog.api import read_table
    from cwcontrib.catalog.columns import TABLES

    dataset = mlc.Dataset(jsonld=history.root / "catalog" / "croissant.json")
    records = [{key.split("/", 1)[1]: (v.decode() if isinstance(v, bytes) else v) for key, v in record.items()}
               for record in dataset.records(record_set="retracted")]
    assert records and list(records[0]) == [c.name for c in TABLES["retracted"].columns]
    frame = read_table(history.root / "catalog", "retracted")
    assert records == [{k: (None if v is None or str(v) == "<NA>" else v) for k, v in row.items()}
                       for row in frame.to_dict("records")]


@pytest.mark.parametrize("message", [
    "[\"Hash mismatch for 'a.tar.gz': expected b'\\x01' got b'\\x02'\"]",
    # a digest holding a quote byte: Python's repr escapes the quotes around the name too
    "['Hash mismatch for \\'a.tar.gz\\': expected b\"\\'\" got b\\'\\x02\\'']",
    "['Hash mismatch for \\\\'a.tar.gz\\\\': expected']",
])
def test_a_signature_mismatch_names_the_file_whatever_the_digest_bytes(message: str) -> None:
    from cwcontrib.catalog.assets import _readable

    assert _readable(message) == "a.tar.gz differs from what was signed"
