"""Shared fixtures: a fresh copy of the real demo submission that a test may break on purpose."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

# A check that emits a code it does not declare raises in tests (cwcontrib.checks.base.strict_codes), instead of
# becoming the CW001 finding users would see: the test that exercised it fails at the check that did it.
os.environ.setdefault("CWCONTRIB_STRICT_CODES", "1")
DEMO = REPO / "submissions" / "digits-cnn-pair"


@pytest.fixture(autouse=True)
def _no_inherited_git_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that make git repositories must not see the caller's GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE, ...:
    a CI runner or a hook that sets them would point `git init` in a temporary folder at another repository."""
    for name in [name for name in os.environ if name.startswith("GIT_")]:
        monkeypatch.delenv(name)


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


class Submission:
    """A writable submission folder with helpers to edit its manifest and files consistently."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def manifest_path(self) -> Path:
        return self.root / "submission.yaml"

    def manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = yaml.safe_load(self.manifest_path.read_text(encoding="utf-8"))
        return data

    def write_manifest(self, data: dict[str, Any]) -> None:
        self.manifest_path.write_text(yaml.dump(data, Dumper=_NoAliasDumper, sort_keys=False), encoding="utf-8")

    def edit(self, change: Callable[[dict[str, Any]], None]) -> None:
        data = self.manifest()
        change(data)
        self.write_manifest(data)

    def redeclare(self, rel: str, fmt: str | None = None) -> None:
        """Declare (or re-declare) `rel` with its real size and sha256, as a contributor would."""
        raw = (self.root / rel).read_bytes()
        entry = {"path": rel, "format": fmt, "size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}

        def change(data: dict[str, Any]) -> None:
            artifacts = data.setdefault("artifacts", [])
            for existing in artifacts:
                if existing.get("path") == rel:
                    existing.update({k: v for k, v in entry.items() if v is not None})
                    return
            artifacts.append(entry)

        self.edit(change)

    def write_file(self, rel: str, content: str | bytes, fmt: str | None = None) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        if fmt is not None:
            self.redeclare(rel, fmt)


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A real HTTPS server on 127.0.0.1 serving tmp_path/site, trusted through CWCONTRIB_CA_BUNDLE, with downloads
    cached in tmp_path/cache: yields its URL and the site folder."""
    from tests.https_server import https_server

    site, certificates = tmp_path / "site", tmp_path / "certs"
    site.mkdir()
    certificates.mkdir()
    monkeypatch.setenv("CWCONTRIB_CACHE", str(tmp_path / "cache"))
    with https_server(site, certificates) as (url, cert):
        monkeypatch.setenv("CWCONTRIB_CA_BUNDLE", str(cert))
        yield url, site


@pytest.fixture
def demo() -> Path:
    return DEMO


@pytest.fixture
def submission(tmp_path: Path) -> Submission:
    root = tmp_path / "digits-cnn-pair"
    shutil.copytree(DEMO, root)
    return Submission(root)


def make_repo(root: Path) -> Path:
    """A repository folder holding a copy of the demo submission under submissions/."""
    (root / "submissions").mkdir(parents=True)
    shutil.copytree(DEMO, root / "submissions" / DEMO.name)
    return root


@pytest.fixture(scope="session")
def catalog_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with the demo, verification records made by the real `validate --record` (one sampled trial,
    i.e. two runs), and its catalog built by `cwcontrib index`. Tests that change it put it back."""
    from cwcontrib import cli

    root = make_repo(tmp_path_factory.mktemp("repo"))
    code = cli.main(["validate", str(root / "submissions" / DEMO.name), "--quiet", "--sample", "1", "--seed", "ab" * 16,
                     "--record", str(root / "verifications"), "--format", "json", "--output", str(root / "r.json")])
    assert code == 0
    assert cli.main(["index", "--repo", str(root), "--quiet"]) == 0
    return root


@pytest.fixture(scope="session")
def local_ray() -> Iterator[Any]:
    """One Ray instance for the whole session, for the audit's tests (2 CPUs, loopback only, no dashboard, no usage
    statistics)."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import ray

    from cwcontrib.catalog.audit import ray_options

    try:
        ray.init(**ray_options(None, 2))
    except Exception:  # Ray waits 30 s (fixed) for its raylet: on a loaded shared machine, start once more
        ray.shutdown()
        ray.init(**ray_options(None, 2))
    yield ray
    ray.shutdown()
