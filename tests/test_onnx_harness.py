"""The ONNX Runtime harness and the PyTorch export (issue 15): the demo's trained PyTorch network, exported as an
ONNX graph, re-evaluates in ONNX Runtime to the same predictions as the framework harness on the digits test
split; the harness records its own identity and evidence level; what ONNX Runtime refuses is CW502's
EvaluationError, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from cwcontrib.architectures import build  # noqa: E402
from cwcontrib.datasets import load_test_split, preprocess  # noqa: E402
from cwcontrib.evaluate import EvaluationError, load_torch_state, predict_torch  # noqa: E402
from cwcontrib.onnx import read_onnx  # noqa: E402
from cwcontrib.onnx.export import OnnxExportError, export_keras, export_torch  # noqa: E402
from cwcontrib.onnx.harness import (  # noqa: E402
    EVIDENCE,
    onnx_harness_identity,
    predict_onnx,
    resolve_onnx_device,
)
from cwcontrib.weights import read_weights  # noqa: E402

nn = torch.nn
torch.set_num_threads(1)
DEMO = Path(__file__).resolve().parents[1] / "submissions" / "digits-cnn-pair"


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    split = load_test_split("sklearn-digits")
    return preprocess(split, 0.0625), split.labels


@pytest.fixture(scope="module")
def demo_cnn() -> Any:
    model = build("digits-cnn", "pytorch", 10, (8, 8, 1), ())
    load_torch_state(model, read_weights(DEMO / "weights", "t01-pytorch.safetensors", "safetensors"))
    return model.eval()


def test_the_exported_demo_network_predicts_as_the_framework_does(tmp_path: Path, digits: Any,
                                                                  demo_cnn: Any) -> None:
    x, labels = digits
    framework = predict_torch(demo_cnn, x, "cpu")
    path = export_torch(demo_cnn, tmp_path / "t01-pytorch.onnx", input_shape=(8, 8, 1))
    graph = read_onnx(tmp_path, path.name)  # the validator's own check accepts what the helper wrote
    onnx_predictions = predict_onnx(graph, x, "NCHW", "cpu")
    assert onnx_predictions.dtype == framework.dtype == np.dtype("u1")
    assert len(onnx_predictions) == len(labels) == 360
    assert np.array_equal(onnx_predictions, framework)
    # The demo's claimed accuracy (test_accuracy: 0.65 in its manifest), measured by both harnesses.
    assert int(np.sum(onnx_predictions == labels)) == int(np.sum(framework == labels)) == 234 == round(0.65 * 360)


def test_the_wrong_layout_is_refused(tmp_path: Path, digits: Any, demo_cnn: Any) -> None:
    x, _ = digits
    path = export_torch(demo_cnn, tmp_path / "m.onnx", input_shape=(8, 8, 1))
    graph = read_onnx(tmp_path, path.name)
    with pytest.raises(EvaluationError, match="has shape"):
        predict_onnx(graph, x, "NHWC", "cpu")  # (N, 8, 8, 1) against the graph's (batch, 1, 8, 8)


def test_a_graph_with_a_fixed_batch_size_is_fed_in_its_batches(tmp_path: Path, digits: Any) -> None:
    x, _ = digits
    rng = np.random.default_rng(0)
    w = rng.normal(size=(64, 10)).astype(np.float32)
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["y"])]
    graph = helper.make_graph(nodes, "linear", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [7, 1, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [7, 10])],
                              initializer=[numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    expected = (x.reshape(len(x), 64) @ w).argmax(axis=1)
    assert np.array_equal(predict_onnx(model, x, "NCHW", "cpu"), expected)  # 360 = 51 * 7 + 3: a padded last batch


def test_what_onnx_runtime_refuses_is_an_evaluation_error(digits: Any) -> None:
    x, _ = digits
    two_outputs = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["a"]), helper.make_node("Identity", ["x"], ["b"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, 8, 8])],
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, None)])
    model = helper.make_model(two_outputs, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    with pytest.raises(EvaluationError, match="2 outputs"):
        predict_onnx(model, x, "NCHW", "cpu")
    # Valid to onnx.checker, refused when ONNX Runtime runs it: a MatMul whose shapes do not fit the input.
    bad = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(np.ones((63, 10), np.float32), "w")])
    model = helper.make_model(bad, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    with pytest.raises(EvaluationError, match="ONNX Runtime refused"):
        predict_onnx(model, x, "NCHW", "cpu")


def test_the_harness_names_itself_and_its_evidence() -> None:
    identity = onnx_harness_identity("cpu")
    assert identity["name"] == "cwcontrib.onnx.harness/onnxruntime" and identity["version"] == "1"
    assert identity["evidence"] == EVIDENCE == "onnxruntime" and identity["provider"] == "CPUExecutionProvider"
    assert len(identity["sha256"]) == 64 and identity["onnxruntime"]
    framework_harness = __import__("cwcontrib.evaluate", fromlist=["harness_identity"]).harness_identity("pytorch")
    assert framework_harness["name"] != identity["name"]


def test_devices() -> None:
    assert resolve_onnx_device("cpu") == "cpu"
    assert resolve_onnx_device("auto") in ("cpu", "cuda")
    with pytest.raises(EvaluationError):
        resolve_onnx_device("tpu")


@pytest.mark.skipif(not os.environ.get("CWCONTRIB_ONNX_CUDA"), reason="set CWCONTRIB_ONNX_CUDA=1 on a GPU runner")
def test_cuda_provider_predicts_as_cpu(tmp_path: Path, digits: Any, demo_cnn: Any) -> None:
    x, _ = digits
    graph = read_onnx(tmp_path, export_torch(demo_cnn, tmp_path / "m.onnx", input_shape=(8, 8, 1)).name)
    assert resolve_onnx_device("auto") == "cuda"
    assert np.array_equal(predict_onnx(graph, x, "NCHW", "cuda"), predict_onnx(graph, x, "NCHW", "cpu"))


def test_export_refuses_what_the_validator_would(tmp_path: Path) -> None:
    with pytest.raises(OnnxExportError, match=r"\.onnx"):
        export_torch(torch.nn.Linear(4, 2), tmp_path / "m.pt", input_shape=(2, 2, 1))

    class Poisoned(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(4, 2)
            with torch.no_grad():
                self.fc.weight[0, 0] = float("nan")

        def forward(self, x: Any) -> Any:
            return self.fc(x.flatten(1))

    with pytest.raises(OnnxExportError, match="CW422"):
        export_torch(Poisoned(), tmp_path / "m.onnx", input_shape=(2, 2, 1))
    assert not (tmp_path / "m.onnx").exists()
    with pytest.raises(OnnxExportError, match="object is not a Keras model"):
        export_keras(object(), tmp_path / "k.onnx")
    assert not (tmp_path / "k.onnx").exists()
