"""The harness on real framework models: class indices never wrap, and only the framework's refusals are CW502."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from cwcontrib.checks import Options
from cwcontrib.evaluate import (
    Evaluation,
    EvaluationError,
    load_torch_state,
    predict_keras,
    predict_torch,
    prediction_dtype,
)
from cwcontrib.validate import validate
from tests.conftest import Submission

WIDE = 300  # more classes than a byte holds
WINNER = 259  # as uint8, 259 would be 3


def _x(n: int = 3) -> np.ndarray:
    return np.ones((n, 2, 2, 1), dtype=np.float32)  # NHWC


def _torch_model(classes: int = WIDE) -> object:
    import torch

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, classes))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.zero_()
        model[1].bias[WINNER] = 1.0
    return model


@pytest.mark.parametrize(("classes", "dtype"), [(2, "u1"), (256, "u1"), (257, "u2"), (65_536, "u2"),
                                                (65_537, "u4"), (100_000, "u4")])
def test_the_prediction_dtype_is_the_smallest_that_holds_every_class(classes: int, dtype: str) -> None:
    assert prediction_dtype(classes).str.endswith(dtype)


def test_torch_predictions_beyond_255_classes_do_not_wrap() -> None:
    predictions = predict_torch(_torch_model(), _x(), "cpu")
    assert predictions.tolist() == [WINNER] * 3 and predictions.dtype == np.uint16


def test_keras_predictions_beyond_255_classes_do_not_wrap() -> None:
    import keras

    model = keras.Sequential([keras.Input((2, 2, 1)), keras.layers.Flatten(), keras.layers.Dense(WIDE)])
    bias = np.zeros(WIDE, dtype=np.float32)
    bias[WINNER] = 1.0
    model.layers[-1].set_weights([np.zeros((4, WIDE), dtype=np.float32), bias])
    predictions = predict_keras(model, _x())
    assert predictions.tolist() == [WINNER] * 3 and predictions.dtype == np.uint16


def test_the_report_records_the_dtype_and_decodes_back() -> None:
    predictions = predict_torch(_torch_model(), _x(), "cpu")
    result = Evaluation(trial="t", framework="pytorch", n=3, claimed_correct=3, measured_correct=3, tolerance=1,
                        device="cpu", harness={}, predictions=predictions.tobytes(), dtype=predictions.dtype.str)
    stored = result.as_dict()["predictions"]
    assert stored["dtype"] == "<u2" and stored["encoding"].startswith("uint16")
    decoded = np.frombuffer(base64.b64decode(stored["data"]), dtype=np.dtype(stored["dtype"]))
    assert decoded.tolist() == [WINNER] * 3 and result.classes().tolist() == [WINNER] * 3


def test_an_input_the_torch_model_refuses_is_an_evaluation_error() -> None:
    with pytest.raises(EvaluationError, match="refused the input"):
        predict_torch(_torch_model(), np.ones((3, 3, 3, 1), dtype=np.float32), "cpu")  # 9 features, not 4


def test_weights_the_torch_model_refuses_are_an_evaluation_error() -> None:
    with pytest.raises(EvaluationError, match="refused the weights"):
        load_torch_state(_torch_model(), {"1.weight": np.zeros((2, 4), np.float32),
                                          "1.bias": np.zeros(2, np.float32)})


def test_an_input_the_keras_model_refuses_is_an_evaluation_error() -> None:
    import keras

    model = keras.Sequential([keras.Input((2, 2, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    with pytest.raises(EvaluationError, match="refused the input"):
        predict_keras(model, np.ones((3, 3, 3, 1), dtype=np.float32))


def test_a_bug_in_cwcontrib_during_evaluation_is_an_internal_error_naming_the_file(
        submission: Submission, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> np.ndarray:
        raise KeyError("a bug in cwcontrib, not in the submission")

    monkeypatch.setattr("cwcontrib.checks.evaluation.predict_torch", broken)
    report = validate(submission.root, options=Options(sample=1, device="cpu", seed="1"))
    codes = [f.code for f in report.findings]
    assert "CW502" not in codes and "CW001" in codes
    [internal] = [f for f in report.findings if f.code == "CW001"]
    assert internal.location.file.startswith("weights/") and internal.location.file.endswith("-pytorch.safetensors")
    reasons = {a["reason"] for a in report.extra["evaluation"]["not_evaluated"] if a["framework"] == "pytorch"}
    assert "internal-error" in reasons
