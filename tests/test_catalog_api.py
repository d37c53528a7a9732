"""The dataset user's API: `load_catalog()` and `load_model()` from a checkout and from a release served over real
HTTPS on 127.0.0.1 (self-signed certificate), including downloads that must be refused."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import cwcontrib
from cwcontrib.catalog.api import CatalogError
from cwcontrib.catalog.columns import TABLES
from cwcontrib.catalog.fetch import sums_text
from cwcontrib.catalog.index import build_catalog
from tests.conftest import DEMO, Submission, make_repo

SUB = DEMO.name
PANDAS = {"string": "string", "int": "Int64", "float": "Float64", "bool": "boolean"}


def publish(catalog: Path, releases: Path, version: str, latest: bool = False) -> Path:
    """Lay a catalog out as a GitHub release's assets (the files plus SHA256SUMS)."""
    folders = [releases / "download" / f"v{version}"] + ([releases / "latest" / "download"] if latest else [])
    for folder in folders:
        folder.mkdir(parents=True)
        for path in catalog.iterdir():
            if path.is_file():  # release assets are flat files (the datasheet's figures travel in the archive)
                shutil.copy(path, folder / path.name)
        (folder / "SHA256SUMS").write_text(sums_text(folder))
    return folders[0]


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory outside any checkout, and a private download cache."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("CWCONTRIB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def served(served: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """conftest's HTTPS server on 127.0.0.1, named as where releases are downloaded from."""
    url, _site = served
    monkeypatch.setenv("CWCONTRIB_RELEASES", f"{url}/releases")
    return served


def test_load_catalog_in_a_checkout_has_the_documented_dtypes(catalog_repo: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(catalog_repo / "submissions")  # anywhere inside the checkout
    for name, spec in TABLES.items():
        frame = cwcontrib.load_catalog(name)
        assert list(frame.columns) == [c.name for c in spec.columns]
        assert {c: str(t) for c, t in frame.dtypes.items()} == {c.name: PANDAS[c.type] for c in spec.columns}
        raw = pq.read_table(catalog_repo / "catalog" / spec.file).to_pylist()
        assert [{k: (None if v is pd.NA else v) for k, v in row.items()} for row in frame.to_dict("records")] == raw
    with pytest.raises(CatalogError, match="no table 'models'"):
        cwcontrib.load_catalog("models")


def test_load_catalog_from_a_release_over_https(catalog_repo: Path, served: tuple[str, Path], outside: Path) -> None:
    _, site = served
    publish(catalog_repo / "catalog", site / "releases", "0.1.0", latest=True)
    local = {name: pd.read_parquet(catalog_repo / "catalog" / spec.file) for name, spec in TABLES.items()}
    for name in TABLES:
        named = cwcontrib.load_catalog(name, version="0.1.0")
        latest = cwcontrib.load_catalog(name)  # outside a checkout: the latest release
        for frame in (named, latest):
            assert frame.astype(object).where(frame.notna(), None).values.tolist() == \
                local[name].astype(object).where(local[name].notna(), None).values.tolist()
    cached = sorted(p.name for p in outside.rglob("*") if p.is_file())
    assert cached == sorted(["catalog.json", *(s.file for s in TABLES.values())])  # one folder: same SHA256SUMS
    with pytest.raises(CatalogError, match="cannot read the release's SHA256SUMS"):
        cwcontrib.load_catalog("runs", version="9.9.9")
    with pytest.raises(CatalogError, match="not a semantic version"):
        cwcontrib.load_catalog("runs", version="../../etc")


def test_a_corrupted_release_asset_is_refused_and_not_cached(catalog_repo: Path, served: tuple[str, Path],
                                                             outside: Path) -> None:
    _, site = served
    release = publish(catalog_repo / "catalog", site / "releases", "0.1.1")
    runs = release / "runs.parquet"
    data = bytearray(runs.read_bytes())
    data[len(data) // 2] ^= 0xFF
    runs.write_bytes(bytes(data))  # SHA256SUMS still names the original
    with pytest.raises(CatalogError, match=r"sha256 .* is not the expected"):
        cwcontrib.load_catalog("runs", version="0.1.1")
    assert not [p for p in outside.rglob("*") if p.name.startswith("runs.parquet") or p.suffix == ".part"]


def test_tls_is_verified_and_plain_http_refused(catalog_repo: Path, served: tuple[str, Path], outside: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    url, site = served
    publish(catalog_repo / "catalog", site / "releases", "0.1.0")
    monkeypatch.delenv("CWCONTRIB_CA_BUNDLE")
    with pytest.raises(CatalogError, match="CERTIFICATE_VERIFY_FAILED"):
        cwcontrib.load_catalog("runs", version="0.1.0")
    monkeypatch.setenv("CWCONTRIB_RELEASES", url.replace("https://", "http://") + "/releases")
    with pytest.raises(CatalogError, match="only https:// URLs are fetched"):
        cwcontrib.load_catalog("runs", version="0.1.0")


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from cwcontrib.datasets import load_test_split, preprocess

    split = load_test_split("sklearn-digits")
    return preprocess(split, 1 / 16), split.labels


def _correct(model: Any, framework: str) -> int:
    from cwcontrib.evaluate import predict_keras, predict_torch

    x, labels = _digits()
    predictions = predict_torch(model, x, "cpu") if framework == "pytorch" else predict_keras(model, x)
    return int(np.sum(predictions == labels))


def test_load_model_in_a_checkout_gives_the_claimed_accuracy(catalog_repo: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.chdir(catalog_repo)
    pytorch = cwcontrib.load_model(f"{SUB}/t01/pytorch")
    assert isinstance(pytorch, torch.nn.Module) and not pytorch.training
    assert _correct(pytorch, "pytorch") == 234
    keras = cwcontrib.load_model(f"{SUB}/t01/keras")
    assert _correct(keras, "tensorflow") == 266
    with pytest.raises(CatalogError, match="no run 'digits-cnn-pair/t09/keras'"):
        cwcontrib.load_model(f"{SUB}/t09/keras")


def test_load_model_refuses_weights_whose_digest_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_repo(tmp_path / "repo")
    build_catalog(root, step=lambda s: None)
    weights = root / "submissions" / SUB / "weights" / "t02-pytorch.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x01")
    monkeypatch.chdir(root)
    with pytest.raises(CatalogError, match="differs from the catalog's"):
        cwcontrib.load_model(f"{SUB}/t02/pytorch")


def test_load_model_downloads_weights_from_their_uri(tmp_path: Path, served: tuple[str, Path], outside: Path) -> None:
    url, site = served
    root = make_repo(tmp_path / "repo")
    sub = Submission(root / "submissions" / SUB)
    hosted = site / "weights"
    hosted.mkdir()
    for name in ("t01-pytorch.safetensors", "t01-keras.weights.h5"):
        shutil.copy(sub.root / "weights" / name, hosted / name)

    def add_uris(m: dict[str, Any]) -> None:
        for artifact in m["artifacts"]:
            if artifact["path"].startswith("weights/t01-"):
                artifact["uri"] = f"{url}/weights/{artifact['path'].removeprefix('weights/')}"

    sub.edit(add_uris)
    build_catalog(root, step=lambda s: None)
    publish(root / "catalog", site / "releases", "0.2.0")
    model = cwcontrib.load_model(f"{SUB}/t01/pytorch", version="0.2.0")  # no checkout here: from the URI
    assert _correct(model, "pytorch") == 234
    assert _correct(cwcontrib.load_model(f"{SUB}/t01/keras", version="0.2.0"), "tensorflow") == 266
    assert len(list((outside / "weights").iterdir())) == 2
    with pytest.raises(CatalogError, match="live in the repository only"):
        cwcontrib.load_model(f"{SUB}/t02/pytorch", version="0.2.0")
    (hosted / "t01-pytorch.safetensors").write_bytes(b"not the weights")
    shutil.rmtree(outside / "weights")
    with pytest.raises(CatalogError, match="weights download refused"):
        cwcontrib.load_model(f"{SUB}/t01/pytorch", version="0.2.0")


def test_load_model_of_a_run_without_weights_names_it_and_its_status(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_repo(tmp_path / "repo")
    sub = Submission(root / "submissions" / SUB)

    def drop_t05_pytorch_weights(m: dict[str, Any]) -> None:
        del next(t for t in m["trials"] if t["id"] == "t05")["runs"]["pytorch"]["weights"]
        m["artifacts"] = [a for a in m["artifacts"] if a["path"] != "weights/t05-pytorch.safetensors"]

    sub.edit(drop_t05_pytorch_weights)
    (sub.root / "weights" / "t05-pytorch.safetensors").unlink()
    build_catalog(root, step=lambda s: None)
    monkeypatch.chdir(root)
    with pytest.raises(CatalogError, match=r"run digits-cnn-pair/t05/pytorch has no weights .*status results-only"):
        cwcontrib.load_model(f"{SUB}/t05/pytorch")
