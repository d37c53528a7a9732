"""The contributor's path end to end (issue 14): `cwcontrib init` -> train the demo's network briefly in PyTorch and
Keras -> export with cwcontrib.export -> fill in the manifest and the trials table -> `cwcontrib checksum` ->
`cwcontrib validate --all` is clean, every run re-evaluated on CPU.

The training scripts are tests/contributor_code/, copied into the submission's code/ as a contributor would ship
them, and run in this process (importing TensorFlow twice would cost more than the training)."""

from __future__ import annotations

import csv
import importlib
import json
import platform
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cwcontrib import cli
from cwcontrib.limits import Limits
from cwcontrib.manifest import parse_yaml
from tests.conftest import REPO

CODE = REPO / "tests" / "contributor_code"
TRIALS = {"t01": 0.01, "t02": 0.003}
EPOCHS = 3


def fill(text: str, values: dict[str, Any]) -> str:
    """Replace the FILL-IN on the line of each JSON pointer, as a contributor edits the file by hand."""
    lines = text.splitlines(keepends=True)
    where = parse_yaml(text, "submission.yaml", Limits()).lines
    for pointer, value in values.items():
        index = where[pointer] - 1
        assert "FILL-IN" in lines[index], (pointer, lines[index])
        lines[index] = lines[index].replace("FILL-IN", json.dumps(value), 1)
    return "".join(lines)


@pytest.fixture
def contributor_modules(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The submission's code/ importable as the scripts expect (`import common`), and forgotten afterwards."""
    names = ("common", "train_pytorch", "train_keras")
    saved = {name: sys.modules.pop(name) for name in names if name in sys.modules}
    yield
    for name in names:
        sys.modules.pop(name, None)
    sys.modules.update(saved)


def test_init_train_export_checksum_validate_is_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], contributor_modules: None
) -> None:
    sub = tmp_path / "digits-path"
    assert cli.main(["init", str(sub), "--architecture", "digits-cnn", "--dataset", "sklearn-digits",
                     "--frameworks", "pytorch,keras", "--trials", str(len(TRIALS))]) == 0
    assert sorted(p.name for p in sub.iterdir()) == ["code", "curves", "predictions", "submission.yaml", "trials.csv",
                                                     "weights"]
    initial = (sub / "submission.yaml").read_text(encoding="utf-8")

    # Train: the contributor's scripts, shipped in code/, export into the submission.
    for name in ("common.py", "train_pytorch.py", "train_keras.py"):
        shutil.copy(CODE / name, sub / "code" / name)
    monkeypatch.syspath_prepend(str(sub / "code"))
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    results: dict[tuple[str, str], dict[str, float]] = {}
    for framework in ("pytorch", "keras"):
        script = importlib.import_module(f"train_{framework}")
        for trial, learning_rate in TRIALS.items():
            results[trial, framework] = script.train(sub, trial, learning_rate, EPOCHS)

    # Fill in the trials table's empty cells and the manifest's FILL-INs.
    with open(sub / "trials.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["hyperparameters.learning_rate"] = repr(TRIALS[row["id"]])
        for framework in ("pytorch", "keras"):
            for field in ("test_accuracy", "test_loss"):
                row[f"{framework}.{field}"] = repr(results[row["id"], framework][field])
    with open(sub / "trials.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    import keras
    import sklearn
    import tensorflow as tf
    import torch

    filled = fill(initial, {
        "/submission/title": "The digits CNN in PyTorch and Keras, trained briefly (the contributor path test)",
        "/submission/description": "Written by tests/test_contributor_path.py.",
        "/submission/contributors/0/name": "cwcontrib tests",
        "/frameworks/pytorch/version": torch.__version__.split("+")[0],
        "/frameworks/pytorch/python": platform.python_version(),
        "/frameworks/keras/version": tf.__version__,
        "/frameworks/keras/keras_version": keras.__version__,
        "/frameworks/keras/python": platform.python_version(),
        "/dataset/version": f"scikit-learn {sklearn.__version__}",
        "/dataset/preprocessing/rescale": 0.0625,
        "/hardware/accelerator": "cpu",
        "/hardware/accelerator_count": 0,
        "/hyperparameters/optimizer/name": "adam",
        "/hyperparameters/batch_size": 64,
        "/hyperparameters/epochs": EPOCHS,
        "/hyperparameters/loss": "categorical_crossentropy",
        "/hyperparameters/seed": 0,
        "/sweep/method": "grid",
        "/sweep/objective": "none (fixed grid)",
        "/code/files/0": "code/train_pytorch.py",
    })
    filled = filled.replace("    - \"code/train_pytorch.py\"\n",
                            "    - code/common.py\n    - code/train_keras.py\n    - code/train_pytorch.py\n")
    filled = filled.replace("search_space: {}", "search_space: {learning_rate: {values: [0.003, 0.01]}}")
    assert not re.search(r"^[^#\n]*FILL-IN", filled, re.M)  # only the comments still mention it
    (sub / "submission.yaml").write_text(filled, encoding="utf-8")

    # Checksum: every file declared with its digest, the rest of the manifest untouched, then up to date.
    capsys.readouterr()
    assert cli.main(["checksum", str(sub), "--check"]) == 1
    assert cli.main(["checksum", str(sub)]) == 0
    diff = capsys.readouterr().out
    assert "+  - path: weights/t02-keras.weights.h5" in diff and "-artifacts: []" in diff
    after = (sub / "submission.yaml").read_text(encoding="utf-8")
    head, _, block = after.partition("\nartifacts:")
    assert head == filled.partition("\nartifacts:")[0]  # comments and values before the block: byte for byte
    assert len(re.findall(r"^  - path: ", block, re.M)) == 3 + 1 + 2 * 2 * 3  # code, table, 3 files per run
    assert cli.main(["checksum", str(sub), "--check"]) == 0

    # Validate: no errors, every run re-evaluated and reproduced on CPU.
    report_path = tmp_path / "report.json"
    code = cli.main(["validate", str(sub), "--all", "--device", "cpu", "--quiet", "--format", "json",
                     "--output", str(report_path)])
    report = json.loads(report_path.read_text(encoding="utf-8"))
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert errors == [] and code == 0
    evaluations = report["evaluation"]["runs"]
    assert len(evaluations) == 2 * len(TRIALS)
    assert all(run["reproduced"] for run in evaluations)
