"""ONNX graphs as data (issue 15): a real small graph is read and summarised; hostile files each get their problem
kind, with no traceback and nothing read outside the submission folder; exported graphs fingerprint in the
conventions of PyTorch and Keras references, so a verdict names what an export changed."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from cwcontrib.architectures.fingerprint import FingerprintError
from cwcontrib.architectures.fingerprint_onnx import fingerprint_onnx
from cwcontrib.architectures.onnx_graph import DEFAULT_LIMITS, OnnxGraphError, OnnxLimits, check_bytes, read_onnx


def mlp(weight: np.ndarray | None = None, *, opset: int = 17, domain: str = "") -> onnx.ModelProto:
    """Input (1, 4) -> Gemm(4x3) -> Relu -> output (1, 3): the smallest real classifier head."""
    weight = np.arange(12, dtype=np.float32).reshape(4, 3) / 10 if weight is None else weight
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc"),
             helper.make_node("Relu", ["h"], ["y"], name="relu", domain=domain)]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        initializer=[numpy_helper.from_array(weight, "w"), numpy_helper.from_array(np.zeros(3, np.float32), "b")])
    imports = [helper.make_opsetid("", opset)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    return helper.make_model(graph, opset_imports=imports, ir_version=8)


def write(folder: Path, model: onnx.ModelProto | bytes, name: str = "model.onnx") -> str:
    (folder / name).write_bytes(model if isinstance(model, bytes) else model.SerializeToString())
    return name


def refused(folder: Path, rel: str, kind: str, limits: OnnxLimits = DEFAULT_LIMITS) -> str:
    with pytest.raises(OnnxGraphError) as caught:
        read_onnx(folder, rel, limits)
    assert caught.value.kind == kind, str(caught.value)
    return str(caught.value)


def test_a_real_graph_is_summarised(tmp_path: Path) -> None:
    model, summary = read_onnx(tmp_path, write(tmp_path, mlp()))
    assert (summary.opset, summary.nodes, summary.parameters) == (17, 2, 15)
    assert summary.operators == (("Gemm", 1), ("Relu", 1))
    assert summary.inputs == (("x", (1, 4)),)
    import onnxruntime  # type: ignore[import-untyped]

    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    out = session.run(None, {"x": np.ones((1, 4), np.float32)})[0]
    np.testing.assert_allclose(out, [[1.8, 2.2, 2.6]], rtol=1e-6)


def test_external_data_outside_the_folder_is_refused_unread(tmp_path: Path) -> None:
    outside = tmp_path / "secret.bin"
    outside.write_bytes(np.arange(12, dtype=np.float32).tobytes())
    folder = tmp_path / "submission"
    folder.mkdir()
    model = mlp()
    weight = model.graph.initializer[0]
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../secret.bin"), ("offset", "0"), ("length", "48")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    before = os.stat(outside).st_atime_ns
    message = refused(folder, write(folder, model), "external-data")
    assert "'../secret.bin'" in message and "embed the weights" in message
    assert os.stat(outside).st_atime_ns == before


def test_custom_domains_are_refused(tmp_path: Path) -> None:
    assert "custom domain 'com.evil'" in refused(tmp_path, write(tmp_path, mlp(domain="com.evil")), "custom-domain")
    unimported = mlp(domain="com.evil")
    del unimported.opset_import[1]  # the node alone names the domain
    message = refused(tmp_path, write(tmp_path, unimported, "node.onnx"), "custom-domain")
    assert message == "node 'relu' (Relu) in custom domain 'com.evil'"
    model = mlp()
    model.functions.append(helper.make_function("com.evil", "F", ["a"], ["b"],
                                                [helper.make_node("Relu", ["a"], ["b"])],
                                                [helper.make_opsetid("", 17)]))
    assert "local function 'F'" in refused(tmp_path, write(tmp_path, model, "f.onnx"), "custom-domain")


def test_a_huge_declared_initializer_is_refused_before_decoding(tmp_path: Path) -> None:
    model = mlp()
    model.graph.initializer[0].ClearField("dims")
    model.graph.initializer[0].dims.extend([100_000, 100_000])  # 10^10 floats claimed, 48 bytes held
    message = refused(tmp_path, write(tmp_path, model), "too-large")
    assert "declares 10,000,000,000 elements" in message
    small = OnnxLimits(max_tensor_elements=11)
    assert "declares 12 elements" in refused(tmp_path, write(tmp_path, mlp(), "ok.onnx"), "too-large", small)
    lying = mlp()
    lying.graph.initializer[0].ClearField("dims")
    lying.graph.initializer[0].dims.extend([4, 4])  # 16 elements claimed, 12 held
    assert "holds 48 bytes" in refused(tmp_path, write(tmp_path, lying, "lying.onnx"), "too-large")


def test_non_finite_initializers_are_refused(tmp_path: Path) -> None:
    weight = np.ones((4, 3), np.float32)
    weight[2, 1] = np.nan
    weight[0, 0] = np.inf
    assert "2 NaN or infinite values" in refused(tmp_path, write(tmp_path, mlp(weight)), "non-finite")


def test_truncated_and_foreign_bytes_are_refused(tmp_path: Path) -> None:
    data = mlp().SerializeToString()
    refused(tmp_path, write(tmp_path, data[: len(data) - 7], "cut.onnx"), "truncated")
    refused(tmp_path, write(tmp_path, b"PK\x03\x04 a zip, not a model", "zip.onnx"), "truncated")


def test_opset_range_and_checker(tmp_path: Path) -> None:
    assert "supported: 13 to" in refused(tmp_path, write(tmp_path, mlp(opset=9)), "opset")
    model = mlp()
    model.graph.node[1].input[0] = "nowhere"  # an input no node or initializer produces
    assert "onnx.checker" in refused(tmp_path, write(tmp_path, model, "dangling.onnx"), "invalid")


def test_paths_are_confined(tmp_path: Path) -> None:
    folder = tmp_path / "submission"
    folder.mkdir()
    write(tmp_path, mlp(), "outside.onnx")
    (folder / "link.onnx").symlink_to(tmp_path / "outside.onnx")
    refused(folder, "../outside.onnx", "unreadable")
    refused(folder, "link.onnx", "unreadable")
    with pytest.raises(OnnxGraphError, match="no graph") as empty:
        check_bytes(b"")  # an empty message parses as a ModelProto with nothing in it
    assert empty.value.kind == "truncated"


# ------------------------------------------------------------------------------- fingerprints of graphs


def exported(name: str, shape: tuple[int, int, int]) -> tuple[Any, onnx.ModelProto]:
    """A registry/library PyTorch model in eval mode and its ONNX export (TorchScript exporter, opset 17)."""
    import io

    import torch

    from cwcontrib.architectures import build

    torch.set_num_threads(1)
    model = build(name, "pytorch", 10, shape).eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(model, (torch.zeros(1, shape[2], shape[0], shape[1]),), buffer,  # type: ignore[arg-type]
                          dynamo=False,
                          opset_version=17, input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}})
    graph, _ = check_bytes(buffer.getvalue())
    return model, graph


def test_exported_digits_cnn_fingerprints_as_the_registry_references() -> None:
    import onnxruntime
    import torch

    from cwcontrib.architectures import build, compare, fingerprint

    model, graph = exported("digits-cnn", (8, 8, 1))
    onnx_print = fingerprint_onnx(graph, (8, 8, 1), label="onnx digits-cnn")
    assert (onnx_print.parameters, onnx_print.macs, onnx_print.framework) == (8_714, 17_728, "onnx")
    for reference in (fingerprint(model, (8, 8, 1), label="torch"),
                      fingerprint(build("digits-cnn", "tensorflow"), (8, 8, 1), label="keras")):
        verdict = compare(reference, onnx_print)
        assert verdict.equivalent, verdict.summary()
    x = np.random.default_rng(3).random((32, 1, 8, 8), dtype=np.float32)
    session = onnxruntime.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        expected = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(session.run(None, {"x": x})[0], expected, rtol=1e-5, atol=1e-6)


def test_exported_resnet18_verdict_names_the_folded_batchnorms() -> None:
    from cwcontrib.architectures import compare, fingerprint

    model, graph = exported("torchvision.models.resnet18", (32, 32, 3))
    a, b = fingerprint(model, (32, 32, 3), label="torchvision"), fingerprint_onnx(graph, (32, 32, 3), label="onnx")
    verdict = compare(a, b)
    # The exporter folds each eval-mode BatchNorm into the convolution before it: biases appear, BatchNorms go.
    assert verdict.kinds == ["parameter-count", "conv-bias", "batchnorm-parameters", "buffers", "batchnorm-epsilon",
                             "batchnorm-momentum", "layer-count"]
    assert (a.parameters, b.parameters) == (11_181_642, 11_176_842)
    assert (a.conv_with_bias, b.conv_with_bias, b.conv_bias_parameters) == (0, 20, 4_800)
    assert a.macs == b.macs == 37_016_576 and a.conv_geometry == b.conv_geometry and a.padding == b.padding
    with pytest.raises(FingerprintError, match=r"takes \['n', 3, 32, 32\], not \(N, 3, 64, 64\)"):
        fingerprint_onnx(graph, (64, 64, 3))
