"""A `digits-mlp` study shipped as ONNX graphs from PyTorch (issue 15): an architecture no reference builder knows,
trained here for real on the registry's digits train rows, exported with cwcontrib.onnx.export, checked as stage 4
would (no finding), re-evaluated as stage 5 would by the ONNX Runtime harness: the claim reproduces, with the
framework's own predictions, recorded as evidence "onnxruntime". A wrong parameter count, a wrong class count and a
hostile graph in the same folder each get their finding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")
from onnx import numpy_helper  # noqa: E402

from cwcontrib.architectures import ArchitectureError, build  # noqa: E402
from cwcontrib.datasets import load_test_split, preprocess  # noqa: E402
from cwcontrib.evaluate import predict_torch  # noqa: E402
from cwcontrib.onnx.export import export_torch  # noqa: E402
from cwcontrib.onnx.stage import check_graph, evaluate_graph  # noqa: E402
from cwcontrib.statistics import tolerance  # noqa: E402
from tests.digits_mlp import train_digits_mlp  # noqa: E402

torch.set_num_threads(1)
SHAPE = (8, 8, 1)


@pytest.fixture(scope="module")
def trained() -> Any:
    """Five epochs of Adam on the train rows (0-1436, file order), seed 0: a real, small study."""
    return train_digits_mlp(0, epochs=5)


@pytest.fixture(scope="module")
def split() -> tuple[np.ndarray, np.ndarray]:
    test = load_test_split("sklearn-digits")
    return preprocess(test, 0.0625), test.labels


def test_no_reference_builder_knows_digits_mlp() -> None:
    with pytest.raises(ArchitectureError):
        build("digits-mlp", "pytorch", 10, SHAPE, ())


def test_a_digits_mlp_study_as_onnx_validates_and_reevaluates(tmp_path: Path, trained: Any, split: Any) -> None:
    x, labels = split
    framework = predict_torch(trained, x, "cpu")
    claimed = float(np.mean(framework == labels))
    assert claimed > 0.8  # it learned (303/360 here; chance is 0.1)
    (tmp_path / "weights").mkdir()
    export_torch(trained, tmp_path / "weights" / "t01-pytorch.onnx", input_shape=SHAPE)

    findings, graph = check_graph(tmp_path, "weights/t01-pytorch.onnx", input_shape=SHAPE, layout="NCHW",
                                  num_classes=10, parameter_count=64 * 32 + 32 + 32 * 10 + 10)
    assert findings == [] and graph is not None
    assert graph.fingerprint.parameters == 2410 and graph.fingerprint.dense_shapes == ((64, 32), (32, 10))

    result = evaluate_graph(graph, x, labels, claimed_accuracy=claimed, tolerance=tolerance(len(labels)),
                            layout="NCHW", trial="t01", framework="pytorch")
    assert result.reproduced and result.measured_correct == result.claimed_correct
    assert np.array_equal(result.classes(), framework)
    record = result.as_dict()
    assert record["harness"]["evidence"] == "onnxruntime"
    assert record["harness"]["name"] == "cwcontrib.onnx.harness/onnxruntime" and record["device"] == "cpu"

    wrong = evaluate_graph(graph, x, labels, claimed_accuracy=claimed + 0.05, tolerance=tolerance(len(labels)),
                           layout="NCHW")
    assert not wrong.reproduced  # an inflated claim is caught by the same harness


def test_declarations_the_graph_contradicts(tmp_path: Path, trained: Any) -> None:
    export_torch(trained, tmp_path / "m.onnx", input_shape=SHAPE)
    kwargs: dict[str, Any] = {"input_shape": SHAPE, "layout": "NCHW", "num_classes": 10, "parameter_count": 2410}
    assert check_graph(tmp_path, "m.onnx", **kwargs)[0] == []
    findings, graph = check_graph(tmp_path, "m.onnx", **{**kwargs, "parameter_count": 2400})
    assert [f.code for f in findings] == ["CW411"] and "2,410 parameters, declared 2,400" in findings[0].message
    assert graph is None
    findings, _ = check_graph(tmp_path, "m.onnx", **{**kwargs, "num_classes": 9})
    assert [f.code for f in findings] == ["CW408"] and "9 classes" in findings[0].message
    findings, _ = check_graph(tmp_path, "m.onnx", **{**kwargs, "input_shape": (9, 9, 1)})
    assert [f.code for f in findings] == ["CW408"]


def test_a_poisoned_graph_in_the_study_is_refused(tmp_path: Path, trained: Any) -> None:
    export_torch(trained, tmp_path / "m.onnx", input_shape=SHAPE)
    import onnx

    model = onnx.ModelProto.FromString((tmp_path / "m.onnx").read_bytes())
    weight = next(t for t in model.graph.initializer if len(t.dims) == 2)
    array = numpy_helper.to_array(weight).copy()
    array[0, 0] = np.nan
    weight.CopyFrom(numpy_helper.from_array(array, weight.name))
    (tmp_path / "m.onnx").write_bytes(model.SerializeToString())
    findings, graph = check_graph(tmp_path, "m.onnx", input_shape=SHAPE, layout="NCHW", num_classes=10,
                                  parameter_count=2410)
    assert [f.code for f in findings] == ["CW422"] and graph is None
