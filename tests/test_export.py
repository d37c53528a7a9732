"""cwcontrib.export (issue 14): what it writes loads into the registry's reference under its names, read by the
validator's own readers; what does not fit is refused and nothing is written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from cwcontrib import cli
from cwcontrib.architectures import build
from cwcontrib.weights import model_tensors, read_weights

torch.set_num_threads(1)


class DigitsCNN(nn.Module):
    """A contributor's own copy of the demo network (the names the registry's has)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(256, 32)
        self.fc2 = nn.Linear(32, 10)


class Renamed(nn.Module):
    """The same shapes under other names."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Conv2d(1, 16, 3, padding=1)
        self.hidden = nn.Linear(256, 32)
        self.out = nn.Linear(32, 10)


def reference_names(framework: str) -> set[str]:
    if framework == "pytorch":
        return set(build("digits-cnn", "pytorch", meta=True).state_dict())
    from cwcontrib.evaluate import keras_reference_tensors

    return set(keras_reference_tensors(build("digits-cnn", "tensorflow")))


def read_back(path: Path, fmt: str) -> dict[str, np.ndarray]:
    return model_tensors(read_weights(path.parent, path.name, fmt), fmt)


@pytest.fixture
def submission(tmp_path: Path) -> Path:
    sub = tmp_path / "my-study"
    assert cli.main(["init", str(sub), "--architecture", "digits-cnn", "--dataset", "sklearn-digits",
                     "--frameworks", "pytorch,keras"]) == 0
    return sub


def test_save_torch_writes_what_the_reference_loads_strictly(submission: Path) -> None:
    from cwcontrib.export import save_torch

    model = DigitsCNN()
    path = save_torch(model, submission / "weights" / "t01-pytorch.safetensors")  # reference from the manifest
    tensors = read_back(path, "safetensors")
    assert set(tensors) == reference_names("pytorch")
    reference = build("digits-cnn", "pytorch")
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    assert torch.equal(reference.fc2.weight, model.fc2.weight)
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()


def test_save_torch_drops_the_data_parallel_prefix_and_maps_by_order_on_request(tmp_path: Path) -> None:
    from cwcontrib.export import ExportError, save_torch

    wrapped = nn.DataParallel(DigitsCNN()).state_dict()
    assert all(k.startswith("module.") for k in wrapped)
    path = save_torch(wrapped, tmp_path / "a.safetensors", architecture="digits-cnn")
    assert set(read_back(path, "safetensors")) == reference_names("pytorch")
    with pytest.raises(ExportError, match=r"CW407: missing conv.bias.*unexpected features.bias"):
        save_torch(Renamed(), tmp_path / "b.safetensors", architecture="digits-cnn")
    assert not (tmp_path / "b.safetensors").exists()
    model = Renamed()
    path = save_torch(model, tmp_path / "b.safetensors", architecture="digits-cnn", by_order=True)
    assert np.array_equal(read_back(path, "safetensors")["fc1.weight"], model.hidden.weight.detach().numpy())


@pytest.mark.parametrize(("change", "code"), [
    (lambda s: s.update({"fc2.weight": torch.zeros(9, 32)}), "CW408"),
    (lambda s: s.update({"fc2.bias": s["fc2.bias"].double()}), "CW409"),
    (lambda s: s["conv.bias"].fill_(float("nan")), "CW410"),
    (lambda s: s.update({"extra": torch.zeros(1)}), "CW407"),
])
def test_save_torch_refuses_what_the_weights_stage_would_and_writes_nothing(
    tmp_path: Path, change: Any, code: str
) -> None:
    from cwcontrib.export import ExportError, save_torch

    state = {k: v.clone() for k, v in DigitsCNN().state_dict().items()}
    change(state)
    with pytest.raises(ExportError, match=code):
        save_torch(state, tmp_path / "w.safetensors", architecture="digits-cnn")
    assert list(tmp_path.iterdir()) == []


def test_save_torch_needs_a_reference_and_a_safetensors_name(tmp_path: Path) -> None:
    from cwcontrib.export import ExportError, save_torch

    with pytest.raises(ExportError, match="no submission manifest above"):
        save_torch(DigitsCNN(), tmp_path / "w.safetensors")
    with pytest.raises(ExportError, match=r"\.safetensors file"):
        save_torch(DigitsCNN(), tmp_path / "w.pt", architecture="digits-cnn")
    with pytest.raises(ExportError, match="unknown architecture 'vgg19'"):
        save_torch(DigitsCNN(), tmp_path / "w.safetensors", architecture="vgg19")


def test_save_keras_writes_the_reference_names_whatever_the_model_calls_its_variables(
    submission: Path, tmp_path: Path
) -> None:
    keras = pytest.importorskip("keras")
    from cwcontrib.export import ExportError, save_keras

    layers = keras.layers

    class Net(keras.Model):  # type: ignore[misc,name-defined]
        """A subclassed model: its own .weights.h5 names variables after its attributes."""

        def __init__(self) -> None:
            super().__init__()
            self.features = layers.Conv2D(16, 3, padding="same", activation="relu")
            self.pool = layers.MaxPooling2D(2)
            self.flat = layers.Flatten()
            self.hidden = layers.Dense(32, activation="relu")
            self.out = layers.Dense(10)

        def call(self, x: Any) -> Any:
            return self.out(self.hidden(self.flat(self.pool(self.features(x)))))

    model = Net()
    model(np.zeros((1, 8, 8, 1), np.float32))
    model.compile(optimizer="adam", loss="mse")
    model.save_weights(tmp_path / "own.weights.h5")
    assert set(read_back(tmp_path / "own.weights.h5", "keras-h5")) != reference_names("tensorflow")  # CW407
    saved = model.get_weights()
    path = save_keras(model, submission / "weights" / "t01-keras.weights.h5")
    tensors = read_back(path, "keras-h5")
    assert set(tensors) == reference_names("tensorflow")
    assert not any(name.startswith("optimizer/") for name in read_weights(path.parent, path.name, "keras-h5"))
    assert sorted(np.asarray(w).tobytes() for w in saved) == sorted(t.tobytes() for t in tensors.values())
    small = keras.Sequential([keras.Input((8, 8, 1)), layers.Flatten(), layers.Dense(10)])
    with pytest.raises(ExportError, match="has 2 variables, the reference digits-cnn 6"):
        save_keras(small, submission / "weights" / "t02-keras.weights.h5")
    assert not (submission / "weights" / "t02-keras.weights.h5").exists()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
