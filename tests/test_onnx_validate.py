"""`cwcontrib validate` on a `digits-mlp` study submitted as ONNX graphs from PyTorch (issue 15): an architecture no
reference builder knows, one graph per trial trained here for real, validates clean and every run re-evaluates in
ONNX Runtime, recorded with the ONNX Runtime harness (evidence "onnxruntime"); a poisoned graph fails stage 4 with
its code and is not evaluated."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from cwcontrib.datasets import load_test_split, preprocess  # noqa: E402
from cwcontrib.evaluate import predict_torch  # noqa: E402
from cwcontrib.onnx.export import export_torch  # noqa: E402
from tests.conftest import DEMO  # noqa: E402
from tests.digits_mlp import study_from_demo, train_digits_mlp  # noqa: E402

torch.set_num_threads(1)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    return subprocess.run([sys.executable, "-m", "cwcontrib", *args], capture_output=True, text=True,
                          timeout=600, env=env)


def train(seed: int) -> Any:
    """Three epochs of Adam (0.01) on the train rows: short, real training (the trials' own 20 epochs at their
    learning rates are the demo's; what is checked here is the graph, not the recipe)."""
    return train_digits_mlp(seed, epochs=3)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo folder turned into a PyTorch-only digits-mlp study whose runs ship ONNX graphs."""
    folder = tmp_path_factory.mktemp("digits-mlp") / "digits-mlp"
    data = study_from_demo(DEMO, folder, "digits-mlp")
    del data["frameworks"]["keras"]
    data["architecture"].update(name="digits-mlp", parameter_count=2410, implementations={
        "pytorch": {"definition": "code/train_pytorch.py:DigitsMLP", "layout": "NCHW"}})
    test = load_test_split("sklearn-digits")
    x = preprocess(test, 0.0625)
    for seed, trial in enumerate(data["trials"]):
        model = train(seed)
        name = f"weights/{trial['id']}-pytorch.onnx"
        export_torch(model, folder / name, input_shape=(8, 8, 1))
        accuracy = float(np.mean(predict_torch(model, x, "cpu") == test.labels))
        trial["runs"] = {"pytorch": {"weights": name, "test_accuracy": accuracy}}
    data["artifacts"] = [a for a in data["artifacts"] if a["path"].startswith("code/")]
    (folder / "submission.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    result = run_cli("checksum", str(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    return folder


def validate(folder: Path) -> dict[str, Any]:
    result = run_cli("validate", str(folder), "--format", "json", "--all", "--seed", "0123abcd")
    report: dict[str, Any] = json.loads(result.stdout)
    assert result.returncode == (0 if report["valid"] else 1), result.stderr
    return report


def test_a_digits_mlp_study_of_onnx_graphs_validates_and_reevaluates(study: Path) -> None:
    manifest = yaml.safe_load((study / "submission.yaml").read_text())
    assert {a["format"] for a in manifest["artifacts"] if a["path"].endswith(".onnx")} == {"onnx"}
    report = validate(study)
    assert report["valid"] is True and report["summary"]["errors"] == 0, report["findings"]
    assert set(report["stages"].values()) == {"passed"}, report["stages"]
    runs = report["evaluation"]["runs"]
    assert len(runs) == 5 and all(r["reproduced"] for r in runs)
    assert all(r["measured"] == r["claimed"] for r in runs)
    assert {r["harness"]["name"] for r in runs} == {"cwcontrib.onnx.harness/onnxruntime"}
    assert {r["harness"]["evidence"] for r in runs} == {"onnxruntime"}
    assert report["evaluation"]["not_evaluated"] == []


def test_a_poisoned_graph_fails_stage_4_and_is_not_evaluated(study: Path, tmp_path: Path) -> None:
    import onnx
    from onnx import numpy_helper

    folder = tmp_path / "poisoned"
    shutil.copytree(study, folder)
    path = folder / "weights" / "t01-pytorch.onnx"
    model = onnx.ModelProto.FromString(path.read_bytes())
    weight = next(t for t in model.graph.initializer if len(t.dims) == 2)
    array = numpy_helper.to_array(weight).copy()
    array[0, 0] = np.inf
    weight.CopyFrom(numpy_helper.from_array(array, weight.name))
    path.write_bytes(model.SerializeToString())
    assert run_cli("checksum", str(folder)).returncode == 0
    report = validate(folder)
    assert report["valid"] is False
    assert [f["code"] for f in report["findings"] if f["severity"] == "error"] == ["CW422"]
    assert {"trial": "t01", "framework": "pytorch", "reason": "weights-rejected"} in report["evaluation"][
        "not_evaluated"]
    assert len(report["evaluation"]["runs"]) == 4


def test_a_graph_declared_by_uri_is_fetched_checked_and_reevaluated(study: Path, tmp_path: Path,
                                                                     served: tuple[str, Path]) -> None:
    """An ONNX graph hosted elsewhere, like any remote weights: `--fetch` downloads it from a real HTTPS server on
    127.0.0.1 (bounded, sha256-checked), stage 4 checks it and stage 5 re-evaluates it; without --fetch it is
    reported remote and not verified (CW215)."""
    url, site = served
    folder = tmp_path / "remote"
    shutil.copytree(study, folder)
    rel = "weights/t01-pytorch.onnx"
    shutil.move(folder / rel, site / "t01-pytorch.onnx")
    data = yaml.safe_load((folder / "submission.yaml").read_text())
    uri = f"{url}/t01-pytorch.onnx"
    data["trials"][0]["runs"]["pytorch"]["weights"] = uri
    [entry] = [a for a in data["artifacts"] if a.get("path") == rel]
    entry.pop("path")
    entry["uri"] = uri
    (folder / "submission.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    unfetched = validate(folder)
    fetched = json.loads(run_cli("validate", str(folder), "--format", "json", "--all", "--seed", "0123abcd",
                                 "--fetch").stdout)
    assert [f["code"] for f in unfetched["findings"]] == ["CW215"]
    assert fetched["valid"] is True and fetched["findings"] == [], fetched["findings"]
    runs = {r["trial"]: r for r in fetched["evaluation"]["runs"]}
    assert len(runs) == 5 and runs["t01"]["reproduced"] and runs["t01"]["harness"]["evidence"] == "onnxruntime"
