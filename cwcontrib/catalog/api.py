"""What a dataset user calls: `load_catalog()` for the tables as pandas DataFrames, `load_model()` for a run's
model with verified weights.

Inside a checkout of the repository (a folder above the working directory holds `catalog/catalog.json`), the
checkout's catalog is read; otherwise, or when `version=` names a release, the release's assets are downloaded
over HTTPS from `$CWCONTRIB_RELEASES` (GitHub's release layout: `<base>/download/v<version>/<asset>`,
`<base>/latest/download/<asset>`), checked against the release's SHA256SUMS and cached under
`~/.cache/cwcontrib/releases/` (`$CWCONTRIB_CACHE`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cwcontrib.catalog.columns import TABLES
from cwcontrib.catalog.fetch import FetchError, cache_root, fetch_bytes, fetch_verified, parse_sums
from cwcontrib.hashing import sha256_file

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_RELEASES = "https://github.com/crossedwires/cwcontrib/releases"
VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+(?:[-+][0-9A-Za-z.-]+)?$")
ASSET_LIMIT = 4 << 30


class CatalogError(Exception):
    """The catalog, a release or a model cannot be loaded; the message says why and what to do."""


@dataclass(frozen=True)
class CatalogSource:
    """Where the tables are: a folder of catalog files, and the checkout they belong to (None for a release)."""

    folder: Path
    checkout: Path | None


def find_checkout(start: Path | None = None) -> Path | None:
    for folder in [(start or Path.cwd()).resolve(), *(start or Path.cwd()).resolve().parents]:
        if (folder / "catalog" / "catalog.json").is_file() and (folder / "submissions").is_dir():
            return folder
    return None


def releases_url() -> str:
    return os.environ.get("CWCONTRIB_RELEASES", DEFAULT_RELEASES).rstrip("/")


def asset_base(version: str | None) -> str:
    if version is None:
        return f"{releases_url()}/latest/download"
    if not VERSION.match(version):
        raise CatalogError(f"version {version!r} is not a semantic version such as 1.2.0")
    return f"{releases_url()}/download/v{version}"


def _release(version: str | None) -> CatalogSource:
    """Download (or reuse from the cache) the catalog assets of a release, each checked against SHA256SUMS."""
    base = asset_base(version)
    try:
        sums_raw = fetch_bytes(f"{base}/SHA256SUMS", 1 << 20)
        sums = parse_sums(sums_raw.decode("utf-8"))
    except (FetchError, UnicodeDecodeError) as exc:
        raise CatalogError(f"cannot read the release's SHA256SUMS: {exc}") from None
    needed = ["catalog.json", *(spec.file for spec in TABLES.values())]
    missing = [name for name in needed if name not in sums]
    if missing:
        raise CatalogError(f"the release at {base} lists no {', '.join(missing)} in SHA256SUMS")
    # Content-addressed: a release's files land in a folder named by its SHA256SUMS, so `latest` moving on
    # never mixes two releases' files.
    folder = cache_root() / "releases" / hashlib.sha256(sums_raw).hexdigest()[:16]
    try:
        for name in needed:
            fetch_verified(f"{base}/{name}", sums[name], ASSET_LIMIT, folder / name)
    except FetchError as exc:
        raise CatalogError(f"release download refused: {exc}") from None
    return CatalogSource(folder, None)


def catalog_source(version: str | None = None) -> CatalogSource:
    """This checkout's catalog/; with `version`, the catalog at the checkout's tag v<version> when it has one
    (read from git, cwcontrib.catalog.tags), else the release's assets downloaded over HTTPS."""
    checkout = find_checkout()
    if version is None and checkout is not None:
        return CatalogSource(checkout / "catalog", checkout)
    if version is not None and checkout is not None:
        from cwcontrib.catalog.tags import catalog_at_release

        tagged = catalog_at_release(checkout, version)
        if tagged is not None:
            return CatalogSource(tagged, checkout)
    return _release(version)


def _pandas_dtypes() -> dict[Any, Any]:
    import pandas as pd
    import pyarrow as pa

    return {pa.string(): pd.StringDtype(), pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype(),
            pa.bool_(): pd.BooleanDtype()}


def read_table(folder: Path, table: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    spec = TABLES[table]
    arrow = pq.read_table(folder / spec.file, schema=spec.schema)
    frame: pd.DataFrame = arrow.to_pandas(types_mapper=_pandas_dtypes().get)
    return frame


def load_catalog(table: str = "runs", version: str | None = None, include_retracted: bool = False) -> pd.DataFrame:
    """One catalog table (`runs`, `pairs`, `trials`, `submissions`, or the `retracted` tombstones) as a DataFrame
    with nullable dtypes (string, Int64, Float64, boolean; docs/catalog.md lists every column).

    Retracted submissions are not in the tables; `include_retracted=True` appends a row per retracted id of the
    table's kind (its key and submission_id set, the rest null) and adds the columns `retracted`,
    `retraction_reason` and `retracted_in`, so an old citation finds its explanation."""
    if table not in TABLES:
        raise CatalogError(f"no table {table!r}; the tables are {', '.join(TABLES)}")
    folder = catalog_source(version).folder
    frame = read_table(folder, table)
    if include_retracted and table != "retracted":
        frame = _with_tombstones(frame, table, read_table(folder, "retracted"))
    return frame


def _with_tombstones(frame: pd.DataFrame, table: str, retracted: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    kind = table[:-1]  # submissions -> submission, runs -> run, ...
    stones = retracted[retracted["kind"] == kind]
    key = TABLES[table].key
    dead = pd.DataFrame({key: stones["retracted_id"], "submission_id": stones["submission_id"]})
    if table == "submissions":
        dead = dead[["submission_id"]]
    dead["retracted"] = True
    dead["retraction_reason"] = stones["reason"]
    dead["retracted_in"] = stones["retracted_in"]
    live = frame.assign(retracted=False, retraction_reason=None, retracted_in=None)
    both = pd.concat([live, dead.reindex(columns=live.columns)], ignore_index=True)
    dtypes = {**live.dtypes.to_dict(), "retracted": pd.BooleanDtype(), "retraction_reason": pd.StringDtype(),
              "retracted_in": pd.StringDtype()}
    return both.astype(dtypes)


def catalog_meta(version: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((catalog_source(version).folder / "catalog.json").read_text(encoding="utf-8"))
    return meta


def _run_row(source: CatalogSource, run_id: str) -> dict[str, Any]:
    runs = read_table(source.folder, "runs")
    match = runs[runs["run_id"] == run_id]
    if match.empty:
        raise CatalogError(f"no run {run_id!r} in the catalog; run ids look like <submission>/<trial>/<framework key>")
    return records(match.iloc[:1])[0]


def plain(value: Any) -> Any:
    """A cell as Python sees it: pandas' missing value (NA) becomes None."""
    import pandas as pd

    return None if value is None or value is pd.NA else value


def records(frame: Any) -> list[dict[str, Any]]:
    """A frame's rows as dicts of plain values (missing cells are None), for printing and comparing."""
    return [{str(k): plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _weights_file(source: CatalogSource, row: dict[str, Any]) -> tuple[Path, str]:
    """A folder and a path inside it holding the run's weights, their sha256 checked."""
    run_id, sha256 = row["run_id"], row["weights_sha256"]
    if sha256 is None:
        raise CatalogError(f"run {run_id} has no weights in the dataset (status {row['status']}): only its results "
                           "are catalogued")
    if source.checkout is not None and row["weights_path"]:
        folder = source.checkout / "submissions" / row["submission_id"]
        local = folder / row["weights_path"]
        if local.is_file():
            actual = sha256_file(local)
            if actual != sha256:
                raise CatalogError(f"{local}: sha256 {actual} differs from the catalog's {sha256}; not loaded")
            return folder, row["weights_path"]
    if row["weights_uri"]:
        folder = cache_root() / "weights"
        name = f"{sha256}{_suffix(row['weights_format'])}"
        try:
            fetch_verified(row["weights_uri"], sha256, int(row["weights_size"]), folder / name)
        except FetchError as exc:
            raise CatalogError(f"run {run_id}: weights download refused: {exc}") from None
        return folder, name
    raise CatalogError(f"run {run_id}: its weights ({row['weights_path']}) live in the repository only; call "
                       "load_model() inside a checkout of it")


def _suffix(fmt: str | None) -> str:
    return {"safetensors": ".safetensors", "keras-h5": ".weights.h5", "pytorch-zip": ".pt"}.get(fmt or "", ".bin")


def load_model(run_id: str, version: str | None = None) -> Any:
    """A run's model: a PyTorch module in eval mode or a Keras model, built by cwcontrib's trusted reference
    builders, its weights read by the safe readers after their sha256 was checked."""
    from cwcontrib.architectures import build
    from cwcontrib.evaluate import keras_reference_tensors, load_keras_weights, load_torch_state
    from cwcontrib.weights import WeightsError, read_weights

    source = catalog_source(version)
    row = _run_row(source, run_id)
    folder, rel = _weights_file(source, row)
    try:
        tensors = read_weights(folder, rel, row["weights_format"])
    except WeightsError as exc:
        raise CatalogError(f"run {run_id}: {exc}") from None
    shape = (int(row["input_height"]), int(row["input_width"]), int(row["input_channels"]))
    modifications = tuple(json.loads(row["modifications"]))
    model = build(row["architecture"], row["framework"], int(row["num_classes"]), shape, modifications)
    if row["framework"] == "pytorch":
        load_torch_state(model, tensors)
        return model.eval()
    expected = keras_reference_tensors(model)  # what the reference holds; anything else was vetted, not loaded
    load_keras_weights(model, {k: v for k, v in tensors.items() if k in expected})
    return model
