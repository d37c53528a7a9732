"""Only what a format really needs is ignored: Keras' optimizer state in a .weights.h5, nothing in a PyTorch
state dict or a safetensors file, where an extra tensor is hidden data and loading is not strict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cwcontrib.checks import Options
from cwcontrib.validate import validate
from cwcontrib.weights import IGNORED_PREFIXES, READERS, model_tensors
from tests.conftest import Submission
from tests.test_weights_stage import demo_torch_tensors, replace_weights, write_safetensors

STRUCTURE_ONLY = Options(reeval=False)
HIDDEN = "optimizer/state.0.exp_avg"


def _unexpected(submission: Submission) -> list[str]:
    report = validate(submission.root, options=STRUCTURE_ONLY)
    return [f.message for f in report.findings if f.code == "CW407"]


def test_hidden_optimizer_tensor_in_safetensors_is_unexpected(submission: Submission, tmp_path: Path) -> None:
    tensors = demo_torch_tensors(submission) | {HIDDEN: np.arange(1000, dtype=np.float32)}
    replace_weights(submission, "pytorch", write_safetensors(tensors, tmp_path / "w.safetensors"), "safetensors")
    [message] = _unexpected(submission)
    assert f"unexpected {HIDDEN}" in message


def test_hidden_optimizer_tensor_in_a_torch_state_dict_is_unexpected(submission: Submission, tmp_path: Path) -> None:
    import torch

    state = {k: torch.from_numpy(v) for k, v in demo_torch_tensors(submission).items()}
    state[HIDDEN] = torch.zeros(3)
    torch.save(state, tmp_path / "w.pt")
    replace_weights(submission, "pytorch", tmp_path / "w.pt", "pytorch")
    [message] = _unexpected(submission)
    assert f"unexpected {HIDDEN}" in message


def test_keras_optimizer_state_is_still_ignored(submission: Submission) -> None:
    """The demo's .weights.h5 files were saved from compiled models: they hold optimizer/vars/*."""
    assert not _unexpected(submission)


@pytest.mark.parametrize("fmt", sorted(READERS))
def test_ignored_prefixes_are_declared_per_format(fmt: str) -> None:
    tensors = {"layers/dense/vars/0": np.zeros(1), "optimizer/vars/0": np.zeros(1), "fc.weight": np.zeros(1)}
    kept = set(model_tensors(tensors, fmt))
    expected = {"layers/dense/vars/0", "fc.weight"} if fmt == "keras-h5" else set(tensors)
    assert kept == expected
    assert set(IGNORED_PREFIXES) == set(READERS)
