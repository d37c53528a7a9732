"""A test helper: the `digits-mlp` of the ONNX tests (issue 15), trained for real on the digits train rows."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from cwcontrib.datasets.digits import digits_rows


def digits_mlp(hidden: int = 32) -> Any:
    from torch import nn

    return nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def train_digits_mlp(seed: int, epochs: int) -> Any:
    """`epochs` of Adam (0.01, batches of 64) on the train rows 0-1436 in file order, from `seed`."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    model = digits_mlp()
    images, labels = digits_rows(0, 1437)
    x = torch.from_numpy(images.astype(np.float32) / 16).permute(0, 3, 1, 2)
    y = torch.from_numpy(labels)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        for start in range(0, len(y), 64):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[start:start + 64]), y[start:start + 64]).backward()
            optimizer.step()
    return model.eval()


def study_from_demo(demo: Path, folder: Path, submission_id: str) -> dict[str, Any]:
    """Copy the demo to `folder` as the start of a digits-mlp study of ONNX graphs: no weights, predictions or
    curves, schema 1.2, the new id; returns the manifest's data for the caller to fill in and write."""
    shutil.copytree(demo, folder)
    for sub in ("weights", "predictions", "curves"):
        shutil.rmtree(folder / sub)
    (folder / "weights").mkdir()
    data: dict[str, Any] = yaml.safe_load((folder / "submission.yaml").read_text())
    data["schema_version"] = "1.2"
    data["submission"]["id"] = submission_id
    return data
