"""Fingerprints from ONNX graphs (issue 15): an exported graph fingerprints as the framework model it came from, and
the pair verdict between two graphs names the operators and attributes that differ, with real figures."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from cwcontrib.architectures import build, compare, fingerprint  # noqa: E402
from cwcontrib.architectures.fingerprint import FingerprintError  # noqa: E402
from cwcontrib.onnx import check_onnx_bytes  # noqa: E402
from cwcontrib.onnx.export import torch_onnx_bytes  # noqa: E402
from cwcontrib.onnx.fingerprint import compare_graphs, onnx_fingerprint  # noqa: E402

nn = torch.nn
torch.set_num_threads(1)


def graph_of(model: Any, shape: tuple[int, int, int]) -> Any:
    return check_onnx_bytes(torch_onnx_bytes(model.eval(), shape))


def test_the_exported_demo_network_fingerprints_as_its_reference() -> None:
    reference = build("digits-cnn", "pytorch", 10, (8, 8, 1), ())
    graph_print = onnx_fingerprint(graph_of(reference, (8, 8, 1)), (8, 8, 1), "NCHW", "onnx")
    assert (graph_print.parameters, graph_print.macs, graph_print.dense_shapes) == (8714, 17728, ((256, 32), (32, 10)))
    assert dict(graph_print.conv_geometry) == {"3x3/s1": 1} and dict(graph_print.padding) == {
        "conv:symmetric": 1, "pool:valid": 1}
    assert compare(graph_print, fingerprint(reference, (8, 8, 1), label="torch")).equivalent


def test_a_library_network_exported_is_equivalent_to_its_reference() -> None:
    """ResNet-18 as torch exports it: equal BatchNorm initializers are shared through Identity nodes."""
    reference = build("torchvision.models.resnet18", "pytorch", 10, (32, 32, 3), ())
    graph = graph_of(reference, (32, 32, 3))
    assert any(n.op_type == "Identity" for n in graph.graph.node)
    graph_print = onnx_fingerprint(graph, (32, 32, 3))
    assert (graph_print.parameters, graph_print.buffers, graph_print.macs) == (11_181_642, 9_600, 37_016_576)
    assert graph_print.batchnorm_epsilon == (1e-05,) and graph_print.batchnorm_momentum == (0.1,)
    assert compare(graph_print, fingerprint(reference, (32, 32, 3))).equivalent


class Small(nn.Module):  # type: ignore[misc,name-defined]
    def __init__(self, padding: int, stride: int, eps: float, momentum: float, bias: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=stride, padding=padding, bias=bias)
        self.bn = nn.BatchNorm2d(8, eps=eps, momentum=momentum)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x: Any) -> Any:
        return self.fc(self.pool(torch.relu(self.bn(self.conv(x)))).flatten(1))


def test_two_graphs_differ_by_epsilon_momentum_padding_strides_and_bias() -> None:
    shape = (16, 16, 3)
    a = graph_of(Small(padding=1, stride=1, eps=1e-5, momentum=0.1, bias=False), shape)
    b = graph_of(Small(padding=0, stride=2, eps=1e-3, momentum=0.01, bias=True), shape)
    verdict = compare_graphs(a, b, shape, labels=("torch-defaults", "keras-like"))
    assert not verdict.equivalent
    assert {"batchnorm-epsilon", "batchnorm-momentum", "padding", "conv-geometry", "conv-bias", "flops"} <= set(
        verdict.kinds), verdict.summary()
    assert verdict.get("batchnorm-epsilon").figure == "1e-05 vs 0.001"  # type: ignore[union-attr]
    assert verdict.get("batchnorm-momentum").figure == "0.1 vs 0.01"  # type: ignore[union-attr]
    assert verdict.get("conv-bias").figure == "-8 params"  # type: ignore[union-attr]
    # 16·16·8 outputs × 27 against 7·7·8 × 27, plus the dense 8×10 in both
    assert onnx_fingerprint(a, shape).macs == 16 * 16 * 8 * 27 + 80
    assert onnx_fingerprint(b, shape).macs == 7 * 7 * 8 * 27 + 80
    assert compare_graphs(a, a, shape).equivalent


def _graph(nodes: list[Any], initializers: list[Any], input_dims: list[Any]) -> Any:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_dims)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_same_upper_padding_matmul_bias_and_an_nhwc_input() -> None:
    """A Keras-style graph: NHWC input transposed, TensorFlow 'same' with stride 2 (odd pixel after), MatMul + Add."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=(4, 1, 3, 3)).astype(np.float32), "k"),
             numpy_helper.from_array(rng.normal(size=(64, 10)).astype(np.float32), "w"),
             numpy_helper.from_array(np.zeros(10, np.float32), "bias")]
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["t", "k"], ["c"], strides=[2, 2], auto_pad="SAME_UPPER"),
             helper.make_node("Flatten", ["c"], ["f"]),
             helper.make_node("MatMul", ["f", "w"], ["m"]),
             helper.make_node("Add", ["m", "bias"], ["y"])]
    model = _graph(nodes, inits, ["n", 8, 8, 1])
    fp = onnx_fingerprint(model, (8, 8, 1), "NHWC")
    assert dict(fp.padding) == {"conv:asymmetric": 1} and dict(fp.conv_geometry) == {"3x3/s2": 1}
    assert fp.dense_shapes == ((64, 10),) and fp.kind("dense").parameters == 650 and fp.kind("merge").count == 0
    assert fp.parameters == 36 + 650 and fp.macs == 4 * 4 * 4 * 9 + 64 * 10
    with pytest.raises(FingerprintError, match="declared NCHW input"):
        onnx_fingerprint(model, (8, 8, 1), "NCHW")
