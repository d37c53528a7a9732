"""Mutants of cwcontrib/evaluate.py (mutmut, issue 9), killed here on tiny real PyTorch and Keras models: the exact
prediction per example over several fixed batches (NHWC to NCHW, inference mode), the dtype boundaries up to uint32,
strict loads onto the meta device, Keras weights through our own clean HDF5 file, the harness identity, `auto`
devices, and every field of an Evaluation's record with the tolerance at its boundary."""

from __future__ import annotations

import base64
import hashlib
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import h5py
import numpy as np
import pytest
import torch

from cwcontrib import evaluate
from cwcontrib.evaluate import (
    BATCH_SIZE,
    Evaluation,
    EvaluationError,
    harness_identity,
    keras_reference_tensors,
    load_keras_weights,
    load_torch_state,
    predict_keras,
    predict_torch,
    prediction_dtype,
    resolve_device,
    write_clean_h5,
)

torch.set_num_threads(1)

H, W, C, CLASSES = 2, 3, 5, 3  # NHWC: distinct sizes, so that any other axis order is caught
FEATURES = H * W * C
N = 2 * BATCH_SIZE + 500  # three batches: two full, one partial


def _x(n: int = N, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, H, W, C)).astype(np.float32)


def _linear(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(CLASSES, FEATURES)).astype(np.float32), rng.normal(size=CLASSES).astype(np.float32)


def _expected_nchw(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """What a model trained on NCHW input predicts: features flattened channel first."""
    logits: np.ndarray = x.transpose(0, 3, 1, 2).reshape(len(x), -1) @ weight.T + bias
    return np.asarray(logits.argmax(axis=1))


def _set_linear(linear: torch.nn.Linear, weight: np.ndarray, bias: np.ndarray) -> torch.nn.Linear:
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(weight))
        linear.bias.copy_(torch.from_numpy(bias))
    return linear


def _torch_linear(weight: np.ndarray, bias: np.ndarray) -> torch.nn.Sequential:
    return torch.nn.Sequential(torch.nn.Flatten(), _set_linear(torch.nn.Linear(FEATURES, CLASSES), weight, bias))


# --- prediction_dtype -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("classes", "dtype"), [(0, "<u1"), (1, "<u1"), (255, "<u1"), (256, "<u1"), (257, "<u2"),
                                                (2**16, "<u2"), (2**16 + 1, "<u4"), (2**32, "<u4")])
def test_each_dtype_holds_exactly_up_to_its_largest_index(classes: int, dtype: str) -> None:
    assert prediction_dtype(classes) == np.dtype(dtype)  # uint8's str is "|u1": one byte has no order


@pytest.mark.parametrize("classes", [2**32 + 1, 2**40])
def test_more_classes_than_uint32_indexes_is_an_evaluation_error(classes: int) -> None:
    with pytest.raises(EvaluationError) as refused:
        prediction_dtype(classes)
    assert str(refused.value) == f"{classes} classes: more than a uint32 class index holds"


# --- harness identity and devices -------------------------------------------------------------------------------


@pytest.mark.parametrize("framework", ["pytorch", "tensorflow"])
def test_the_harness_is_named_by_framework_versioned_and_digested(framework: str) -> None:
    digest = hashlib.sha256(Path(evaluate.__file__).read_bytes()).hexdigest()
    assert harness_identity(framework) == {"name": f"cwcontrib.evaluate/{framework}", "version": "2", "sha256": digest}


@pytest.mark.parametrize("requested", ["cpu", "cuda", "cuda:1", "mps", ""])
def test_a_named_device_is_used_as_named(requested: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device(requested) == requested


@pytest.mark.parametrize(("cuda", "device"), [(True, "cuda"), (False, "cpu")])
def test_auto_is_cuda_exactly_when_torch_sees_a_gpu(cuda: bool, device: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert resolve_device("auto") == device


def test_auto_without_torch_is_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    assert resolve_device("auto") == "cpu"


# --- PyTorch ----------------------------------------------------------------------------------------------------


def test_torch_predicts_every_example_in_fixed_batches_from_nhwc() -> None:
    weight, bias = _linear()
    model = _torch_linear(weight, bias)
    batches: list[tuple[int, ...]] = []
    model.register_forward_pre_hook(lambda module, args: batches.append(tuple(args[0].shape)))
    x = _x()
    predictions = predict_torch(model, x, "cpu")
    assert batches == [(BATCH_SIZE, C, H, W), (BATCH_SIZE, C, H, W), (N - 2 * BATCH_SIZE, C, H, W)]
    expected = _expected_nchw(x, weight, bias)
    assert len(set(expected.tolist())) == CLASSES  # every class occurs: a wrong order of features shows
    assert predictions.dtype == np.dtype("<u1") and predictions.flags.c_contiguous
    assert predictions.tolist() == expected.tolist()


def test_torch_predicts_in_inference_mode_with_running_statistics() -> None:
    """Batch normalisation in training mode would use each batch's own statistics (and update the running ones)."""
    weight, bias = _linear()
    norm = torch.nn.BatchNorm1d(FEATURES)
    model = torch.nn.Sequential(torch.nn.Flatten(), norm, _set_linear(torch.nn.Linear(FEATURES, CLASSES), weight, bias))
    assert norm.running_mean is not None and norm.running_var is not None
    with torch.no_grad():
        norm.running_mean.fill_(3.0)
        norm.running_var.fill_(4.0)
    x = _x(n=300) * 2 + 3
    normalised = (x - 3.0) / np.sqrt(4.0 + norm.eps)
    expected = _expected_nchw(normalised.astype(np.float32), weight, bias)
    model.train()
    predictions = predict_torch(model, x, "cpu")
    assert predictions.tolist() == expected.tolist()
    assert not model.training
    assert norm.running_mean.tolist() == [3.0] * FEATURES  # nothing learnt from the test split


def test_torch_moves_the_model_to_the_requested_device() -> None:
    moves: list[tuple[Any, ...]] = []

    class Moving(torch.nn.Sequential):
        def to(self, *args: Any, **kwargs: Any) -> Any:
            moves.append(args)
            return super().to(*args, **kwargs)

    weight, bias = _linear()
    model = Moving(torch.nn.Flatten(), _set_linear(torch.nn.Linear(FEATURES, CLASSES), weight, bias))
    x = _x(n=20)
    assert predict_torch(model, x, "cpu").tolist() == _expected_nchw(x, weight, bias).tolist()
    assert moves == [("cpu",)]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_model_and_input_move_there_and_the_predictions_come_back() -> None:
    """On a CPU-only machine `.to(device)` of the input and `.to("cpu")` of the result change nothing: this is the
    test that tells them from no-ops."""
    weight, bias = _linear()
    model = _torch_linear(weight, bias)
    x = _x()
    predictions = predict_torch(model, x, "cuda")
    assert next(model.parameters()).device.type == "cuda"
    assert isinstance(predictions, np.ndarray) and predictions.dtype == np.dtype("<u1")
    assert predictions.tolist() == _expected_nchw(x, weight, bias).tolist()


def test_an_input_the_torch_model_refuses_names_the_framework_error() -> None:
    weight, bias = _linear()
    with pytest.raises(EvaluationError) as refused:
        predict_torch(_torch_linear(weight, bias), _x(n=4)[:, :, :, :2], "cpu")  # 12 features, not 30
    assert isinstance(refused.value.__cause__, RuntimeError)
    assert str(refused.value) == f"the model refused the input: {refused.value.__cause__}"


def _state(weight: np.ndarray, bias: np.ndarray) -> dict[str, np.ndarray]:
    return {"1.weight": weight, "1.bias": bias}


def test_torch_weights_load_strictly_onto_a_model_built_on_the_meta_device() -> None:
    weight, bias = _linear()
    with torch.device("meta"):
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(FEATURES, CLASSES))
    reversed_weight = weight[::-1].copy()
    load_torch_state(model, {"1.weight": reversed_weight[::-1], "1.bias": bias})  # a view with a negative stride
    assert model[1].weight.device.type == "cpu"
    x = _x(n=50)
    assert predict_torch(model, x, "cpu").tolist() == _expected_nchw(x, weight, bias).tolist()


@pytest.mark.parametrize(("tensors", "reason"), [
    ({"1.weight": np.zeros((CLASSES, FEATURES), np.float32)}, "Missing key(s)"),
    ({**_state(*_linear()), "2.weight": np.zeros(1, np.float32)}, "Unexpected key(s)"),
    (_state(np.zeros((CLASSES + 1, FEATURES), np.float32), np.zeros(CLASSES, np.float32)), "size mismatch"),
])
def test_torch_refuses_missing_unexpected_or_misshapen_weights(tensors: dict[str, np.ndarray], reason: str) -> None:
    model = _torch_linear(*_linear())
    with pytest.raises(EvaluationError) as refused:
        load_torch_state(model, tensors)
    cause = refused.value.__cause__
    assert isinstance(cause, RuntimeError) and reason in str(cause)
    assert str(refused.value) == f"torch refused the weights: {cause}"


# --- Keras ------------------------------------------------------------------------------------------------------


def _keras_model(weight: np.ndarray, bias: np.ndarray, *layers: Any) -> Any:
    """The Keras twin of `_torch_linear`: Keras sees NHWC, so the kernel's rows are put in NHWC feature order."""
    import keras

    model = keras.Sequential([keras.Input((H, W, C)), *layers, keras.layers.Flatten(),
                              keras.layers.Dense(CLASSES)])
    order = np.arange(FEATURES).reshape(C, H, W).transpose(1, 2, 0).reshape(-1)  # NHWC position -> NCHW feature
    model.layers[-1].set_weights([weight.T[order], bias])
    return model


def test_keras_predicts_every_example_in_fixed_batches() -> None:
    import keras

    batches: list[tuple[int, ...]] = []

    class Recorder(keras.layers.Layer):  # type: ignore[misc]
        def call(self, inputs: Any) -> Any:
            batches.append(tuple(inputs.shape))
            return inputs

    weight, bias = _linear()
    model = _keras_model(weight, bias, Recorder())
    batches.clear()
    x = _x()
    predictions = predict_keras(model, x)
    assert batches == [(BATCH_SIZE, H, W, C), (BATCH_SIZE, H, W, C), (N - 2 * BATCH_SIZE, H, W, C)]
    assert predictions.dtype == np.dtype("<u1") and predictions.flags.c_contiguous
    assert predictions.tolist() == _expected_nchw(x, weight, bias).tolist()


def test_keras_predicts_in_inference_mode_with_moving_statistics() -> None:
    import keras

    weight, bias = _linear()
    norm = keras.layers.BatchNormalization()
    model = _keras_model(weight, bias, norm)
    norm.set_weights([np.ones(C, np.float32), np.zeros(C, np.float32), np.full(C, 3.0, np.float32),
                      np.full(C, 4.0, np.float32)])  # gamma, beta, moving mean, moving variance
    x = _x(n=300) * 2 + 3
    normalised = ((x - 3.0) / np.sqrt(4.0 + norm.epsilon)).astype(np.float32)
    expected = _expected_nchw(normalised, weight, bias)
    assert predict_keras(model, x).tolist() == expected.tolist()
    assert norm.get_weights()[2].tolist() == [3.0] * C  # nothing learnt from the test split
    assert np.asarray(model(x, training=True)).argmax(axis=1).tolist() != expected.tolist()  # the mode matters


def test_keras_asks_every_layer_for_inference_even_one_that_defaults_to_training() -> None:
    """`training=False`, not `None`: with `None` Keras lets each layer fall back on its own default."""
    import keras

    class Flip(keras.layers.Layer):  # type: ignore[misc]
        def call(self, inputs: Any, training: bool = True) -> Any:
            return -inputs if training else inputs

    weight, bias = _linear()
    x = _x(n=300)
    expected = _expected_nchw(x, weight, bias)
    assert _expected_nchw(-x, weight, bias).tolist() != expected.tolist()
    assert predict_keras(_keras_model(weight, bias, Flip()), x).tolist() == expected.tolist()


def test_an_input_the_keras_model_refuses_names_the_framework_error() -> None:
    model = _keras_model(*_linear())
    with pytest.raises(EvaluationError) as refused:
        predict_keras(model, _x(n=4)[:, :, :, :2])
    assert isinstance(refused.value.__cause__, ValueError)
    assert str(refused.value) == f"the model refused the input: {refused.value.__cause__}"


def test_the_clean_file_holds_exactly_the_validated_arrays(tmp_path: Path) -> None:
    tensors: dict[str, np.ndarray] = {"layers/dense/vars/0": np.arange(6, dtype=np.float32).reshape(2, 3),
               "layers/dense/vars/1": np.array([7, 8], dtype=np.int64), "top": np.array(2.5)}
    write_clean_h5(tensors, tmp_path / "clean.weights.h5")
    with h5py.File(tmp_path / "clean.weights.h5", "r") as h5:
        found: dict[str, np.ndarray] = {}
        h5.visititems(lambda name, item: found.update({name: item[()]}) if isinstance(item, h5py.Dataset) else None)
    assert sorted(found) == sorted(tensors)
    for name, array in tensors.items():
        assert found[name].dtype == np.asarray(array).dtype and np.array_equal(found[name], array)


def _recording_model(weight: np.ndarray, bias: np.ndarray) -> tuple[Any, list[Path]]:
    """A real Keras model, and the files it saved its weights to or loaded them from."""
    import keras

    paths: list[Path] = []

    class Recording(keras.Sequential):  # type: ignore[misc]
        def load_weights(self, filepath: Any, *args: Any, **kwargs: Any) -> Any:
            paths.append(Path(filepath))
            return super().load_weights(filepath, *args, **kwargs)

        def save_weights(self, filepath: Any, *args: Any, **kwargs: Any) -> Any:
            paths.append(Path(filepath))
            return super().save_weights(filepath, *args, **kwargs)

    model = Recording([keras.Input((H, W, C)), keras.layers.Flatten(), keras.layers.Dense(CLASSES)])
    model.layers[-1].set_weights([weight.T, bias])
    return model, paths


def test_keras_reference_tensors_are_the_model_variables_by_hdf5_path() -> None:
    weight, bias = _linear()
    model, paths = _recording_model(weight, bias)
    tensors = keras_reference_tensors(model)
    assert sorted(tensors) == ["layers/dense/vars/0", "layers/dense/vars/1"]
    assert np.array_equal(tensors["layers/dense/vars/0"], weight.T)
    assert np.array_equal(tensors["layers/dense/vars/1"], bias)
    [saved] = paths
    assert saved.name == "reference.weights.h5" and saved.parent.name.startswith("cwcontrib-")
    assert not saved.parent.exists()  # a private folder, removed


def test_keras_loads_only_our_clean_copy_of_the_weights() -> None:
    weight, bias = _linear()
    tensors = keras_reference_tensors(_recording_model(weight, bias)[0])
    model, paths = _recording_model(np.zeros_like(weight), np.zeros_like(bias))
    load_keras_weights(model, tensors)
    [loaded] = paths
    assert loaded.name == "clean.weights.h5" and loaded.parent.name.startswith("cwcontrib-")
    assert not loaded.parent.exists()
    assert np.array_equal(model.layers[-1].get_weights()[0], weight.T)
    assert np.array_equal(model.layers[-1].get_weights()[1], bias)


def test_weights_keras_refuses_name_the_framework_error() -> None:
    weight, bias = _linear()
    tensors = keras_reference_tensors(_recording_model(weight, bias)[0])
    tensors["layers/dense/vars/1"] = np.zeros(CLASSES + 1, np.float32)
    with pytest.raises(EvaluationError) as refused:
        load_keras_weights(_recording_model(weight, bias)[0], tensors)
    assert isinstance(refused.value.__cause__, ValueError)
    assert str(refused.value) == f"Keras refused the weights: {refused.value.__cause__}"


# --- Evaluation -------------------------------------------------------------------------------------------------


def _evaluation(claimed: int = 90, measured: int = 88, tolerance: int = 2, **fields: Any) -> Evaluation:
    return Evaluation(trial="t-1", framework="pytorch", n=100, claimed_correct=claimed, measured_correct=measured,
                      tolerance=tolerance, device="cpu", harness={"name": "h"}, predictions=bytes([0, 1, 2]), **fields)


@pytest.mark.parametrize(("claimed", "measured", "tolerance", "reproduced"), [
    (90, 88, 2, True), (90, 88, 1, False), (88, 90, 2, True), (88, 90, 1, False), (90, 90, 0, True),
    (91, 90, 0, False), (0, 100, 99, False), (100, 0, 100, True),
])
def test_reproduced_means_within_the_tolerance_either_way(claimed: int, measured: int, tolerance: int,
                                                          reproduced: bool) -> None:
    assert _evaluation(claimed, measured, tolerance).reproduced is reproduced


def test_the_record_holds_every_field_and_the_predictions_by_digest() -> None:
    assert _evaluation().as_dict() == {
        "trial": "t-1", "framework": "pytorch", "claimed": "90/100", "measured": "88/100",
        "claimed_accuracy": 0.9, "measured_accuracy": 0.88, "tolerance": 2, "reproduced": True, "device": "cpu",
        "harness": {"name": "h"},
        "predictions": {"encoding": "uint8 little-endian class index per test example, base64", "dtype": "<u1",
                        "sha256": hashlib.sha256(bytes([0, 1, 2])).hexdigest(), "data": "AAEC"},
    }
    assert _evaluation(claimed=90, measured=87).as_dict()["reproduced"] is False


def test_wider_predictions_decode_with_their_dtype() -> None:
    data = np.array([0, 259, 65_535], dtype="<u2").tobytes()
    result = Evaluation(trial="t", framework="tensorflow", n=3, claimed_correct=1, measured_correct=1, tolerance=0,
                        device="cuda", harness={}, predictions=data, dtype="<u2")
    assert result.classes().tolist() == [0, 259, 65_535] and result.classes().dtype == np.dtype("<u2")
    stored = result.as_dict()["predictions"]
    assert stored["encoding"] == "uint16 little-endian class index per test example, base64"
    assert base64.b64decode(stored["data"]) == data and stored["dtype"] == "<u2"
    assert _evaluation().classes().tolist() == [0, 1, 2] and _evaluation().classes().dtype == np.dtype("<u1")
