"""ONNX graphs as weights (issue 15): hostile `.onnx` files each get their finding code, with no traceback and
nothing read outside the submission folder; a real small classifier passes."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("onnx")
import onnx
from onnx import TensorProto, helper, numpy_helper

from cwcontrib.onnx import DEFAULT_ONNX_LIMITS, OnnxLimits, check_onnx_bytes, read_onnx
from cwcontrib.weights import WeightsError


def classifier(weight: np.ndarray | None = None, *, opset: int = 17, nodes: list[Any] | None = None,
               functions: list[Any] | None = None, imports: list[Any] | None = None,
               initializer: list[Any] | None = None) -> onnx.ModelProto:
    """x (1, 4) -> Gemm(4x3) -> Relu -> y (1, 3): the smallest real classifier head."""
    weight = np.arange(12, dtype=np.float32).reshape(4, 3) / 10 if weight is None else weight
    nodes = nodes or [helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc"),
                      helper.make_node("Relu", ["h"], ["y"], name="relu")]
    initializer = initializer if initializer is not None else [
        numpy_helper.from_array(weight, "w"), numpy_helper.from_array(np.zeros(3, np.float32), "b")]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], initializer=initializer)
    return helper.make_model(graph, opset_imports=imports or [helper.make_opsetid("", opset)], ir_version=8,
                             functions=functions or [])


def submit(folder: Path, model: onnx.ModelProto | bytes, name: str = "model.onnx") -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(model if isinstance(model, bytes) else model.SerializeToString())
    return name


def refused(folder: Path, rel: str, limits: OnnxLimits = DEFAULT_ONNX_LIMITS) -> WeightsError:
    with pytest.raises(WeightsError) as caught:
        read_onnx(folder, rel, limits)
    assert "Traceback" not in str(caught.value)
    return caught.value


class Watch:
    """inotify on a folder: every open or read of a file in it, by Python or by a library's C++ code."""

    IN_ACCESS, IN_OPEN, IN_NONBLOCK = 0x1, 0x20, 0o4000

    def __init__(self, folder: Path) -> None:
        self.libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self.fd = self.libc.inotify_init1(self.IN_NONBLOCK)
        assert self.fd >= 0
        assert self.libc.inotify_add_watch(self.fd, str(folder).encode(), self.IN_ACCESS | self.IN_OPEN) >= 0

    def events(self) -> list[str]:
        names: list[str] = []
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return names
        offset = 0
        while offset < len(data):
            _wd, _mask, _cookie, length = struct.unpack_from("iIII", data, offset)
            names.append(data[offset + 16:offset + 16 + length].rstrip(b"\0").decode())
            offset += 16 + length
        return names

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def outside(tmp_path: Path) -> Iterator[tuple[Path, Watch]]:
    """A secret beside the submission folder, watched."""
    secret = tmp_path / "outside"
    secret.mkdir()
    np.arange(12, dtype=np.float32).tofile(secret / "secret.bin")
    watch = Watch(secret)
    yield secret, watch
    watch.close()


def test_a_real_classifier_passes(tmp_path: Path) -> None:
    model = read_onnx(tmp_path, submit(tmp_path, classifier()))
    assert [n.op_type for n in model.graph.node] == ["Gemm", "Relu"]


@pytest.mark.parametrize("location", ["../outside/secret.bin", "/etc/passwd", "weights.bin"])
def test_external_data_is_refused_and_never_read(tmp_path: Path, outside: tuple[Path, Watch], location: str) -> None:
    _secret, watch = outside
    folder = tmp_path / "submission"
    model = classifier()
    w = model.graph.initializer[0]
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "48")):
        w.external_data.add(key=key, value=value)
    folder.mkdir()
    np.arange(12, dtype=np.float32).tofile(folder / "weights.bin")
    folder_watch = Watch(folder)
    try:
        error = refused(folder, submit(folder, model))
        assert error.code == "CW420" and location in str(error)
        assert watch.events() == []  # nothing outside the folder opened
        assert set(folder_watch.events()) == {"", "model.onnx"}  # the folder and the graph only: not weights.bin
    finally:
        folder_watch.close()


def test_the_watch_sees_what_a_path_following_loader_would_read(tmp_path: Path,
                                                                 outside: tuple[Path, Watch]) -> None:
    """The watch is not blind: reading the secret, as onnx.load's external-data loader does, is seen."""
    secret, watch = outside
    (secret / "secret.bin").read_bytes()
    assert "secret.bin" in watch.events()


def test_only_the_data_location_flag_is_enough_to_refuse(tmp_path: Path) -> None:
    model = classifier()
    model.graph.initializer[0].data_location = TensorProto.EXTERNAL
    assert refused(tmp_path, submit(tmp_path, model)).code == "CW420"


def test_external_data_in_a_constant_node_is_refused(tmp_path: Path) -> None:
    value = numpy_helper.from_array(np.ones(3, np.float32), "c")
    value.external_data.add(key="location", value="../../x")
    nodes = [helper.make_node("Constant", [], ["b"], value=value),
             helper.make_node("Gemm", ["x", "w", "b"], ["y"])]
    model = classifier(nodes=nodes, initializer=[numpy_helper.from_array(np.ones((4, 3), np.float32), "w")])
    assert refused(tmp_path, submit(tmp_path, model)).code == "CW420"


def test_a_custom_domain_node_is_refused(tmp_path: Path) -> None:
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"]),
             helper.make_node("FusedRelu", ["h"], ["y"], domain="com.microsoft")]
    model = classifier(nodes=nodes, imports=[helper.make_opsetid("", 17)])
    error = refused(tmp_path, submit(tmp_path, model))
    assert error.code == "CW419" and "com.microsoft" in str(error)


def test_a_custom_opset_import_is_refused(tmp_path: Path) -> None:
    model = classifier(imports=[helper.make_opsetid("", 17), helper.make_opsetid("evil.ops", 1)])
    assert refused(tmp_path, submit(tmp_path, model)).code == "CW419"


def test_a_local_function_of_a_custom_domain_is_refused(tmp_path: Path) -> None:
    function = helper.make_function("local", "MyRelu", ["a"], ["b"], [helper.make_node("Relu", ["a"], ["b"])],
                                    [helper.make_opsetid("", 17)])
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"]), helper.make_node("MyRelu", ["h"], ["y"])]
    model = classifier(nodes=nodes, functions=[function])
    error = refused(tmp_path, submit(tmp_path, model))
    assert error.code == "CW419" and "MyRelu" in str(error)


def test_a_local_function_shadowing_a_standard_operator_is_refused(tmp_path: Path) -> None:
    function = helper.make_function("", "Relu", ["a"], ["b"], [helper.make_node("Neg", ["a"], ["b"])],
                                    [helper.make_opsetid("", 17)])
    model = classifier(functions=[function])
    error = refused(tmp_path, submit(tmp_path, model))
    assert error.code == "CW419" and "redefines" in str(error)


def test_a_custom_domain_inside_a_subgraph_is_refused(tmp_path: Path) -> None:
    body = helper.make_graph([helper.make_node("Evil", ["h"], ["z"], domain="x.y")], "then", [],
                             [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 3])])
    other = helper.make_graph([helper.make_node("Identity", ["h"], ["z2"])], "else", [],
                              [helper.make_tensor_value_info("z2", TensorProto.FLOAT, [1, 3])])
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"]),
             helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.array(True), "c")),
             helper.make_node("If", ["c"], ["y"], then_branch=body, else_branch=other)]
    assert refused(tmp_path, submit(tmp_path, classifier(nodes=nodes))).code == "CW419"


def test_a_huge_declared_initializer_is_refused_before_decoding(tmp_path: Path) -> None:
    huge = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 20, 1 << 20], raw_data=b"\0" * 48)
    model = classifier(initializer=[huge, numpy_helper.from_array(np.zeros(3, np.float32), "b")])
    error = refused(tmp_path, submit(tmp_path, model))
    assert error.code == "CW421" and "1,099,511,627,776 elements" in str(error)


def test_many_initializers_within_each_limit_are_refused_together(tmp_path: Path) -> None:
    rel = submit(tmp_path, classifier())  # 12 + 3 elements
    read_onnx(tmp_path, rel, OnnxLimits(tensor_elements=12, total_elements=15))
    error = refused(tmp_path, rel, OnnxLimits(tensor_elements=12, total_elements=14))
    assert error.code == "CW421" and "15 tensor elements in all" in str(error)


def test_node_count_rank_and_file_size_limits(tmp_path: Path) -> None:
    rel = submit(tmp_path, classifier())
    assert "2 nodes" in str(refused(tmp_path, rel, OnnxLimits(nodes=1)))
    assert "rank 2" in str(refused(tmp_path, rel, OnnxLimits(rank=1)))
    assert refused(tmp_path, rel, OnnxLimits(file_bytes=50)).code == "CW421"
    read_onnx(tmp_path, rel, OnnxLimits(nodes=2, rank=2, tensor_elements=12, total_elements=15))


def test_raw_data_shorter_than_the_declared_dims_is_damaged(tmp_path: Path) -> None:
    model = classifier()
    model.graph.initializer[0].raw_data = model.graph.initializer[0].raw_data[:-4]
    error = refused(tmp_path, submit(tmp_path, model))
    assert error.code == "CW417" and "48 bytes" not in str(error) and "44 bytes" in str(error)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_initializer_is_refused(tmp_path: Path, bad: float) -> None:
    weight = np.ones((4, 3), np.float32)
    weight[2, 1] = bad
    error = refused(tmp_path, submit(tmp_path, classifier(weight)))
    assert error.code == "CW422" and "1 NaN or infinite" in str(error)


def test_a_non_finite_float16_constant_is_refused(tmp_path: Path) -> None:
    value = numpy_helper.from_array(np.array([0, np.nan, 1], np.float16), "c")
    nodes = [helper.make_node("Constant", [], ["c"], value=value),
             helper.make_node("Gemm", ["x", "w", "b"], ["h"]), helper.make_node("Relu", ["h"], ["y"])]
    assert refused(tmp_path, submit(tmp_path, classifier(nodes=nodes))).code == "CW422"


def test_every_truncation_is_a_finding_never_a_traceback(tmp_path: Path) -> None:
    data = classifier().SerializeToString()
    codes = set()
    for cut in range(len(data)):
        with pytest.raises(WeightsError) as caught:
            check_onnx_bytes(data[:cut])
        codes.add(caught.value.code)
    assert codes <= {"CW417", "CW418", "CW423"} and "CW417" in codes
    half = refused(tmp_path, submit(tmp_path, data[: len(data) // 2]))
    assert half.code == "CW417" and "does not parse" in str(half)


def test_random_bytes_and_other_formats_are_damaged(tmp_path: Path) -> None:
    for junk in (b"", b"\x00" * 64, b"PK\x03\x04" + bytes(range(256)), b"\x89HDF\r\n\x1a\n" + b"\xff" * 100):
        with pytest.raises(WeightsError) as caught:
            check_onnx_bytes(junk)
        assert caught.value.code == "CW417", junk[:8]


@pytest.mark.parametrize("opset,ok", [(12, False), (13, True), (23, True), (24, False)])
def test_the_supported_opset_range(tmp_path: Path, opset: int, ok: bool) -> None:
    rel = submit(tmp_path, classifier(opset=opset))
    if ok:
        read_onnx(tmp_path, rel)
    else:
        assert refused(tmp_path, rel).code == "CW418"


def test_what_the_checker_refuses(tmp_path: Path) -> None:
    nodes = [helper.make_node("Gemm", ["x", "w", "nowhere"], ["h"]), helper.make_node("Relu", ["h"], ["y"])]
    error = refused(tmp_path, submit(tmp_path, classifier(nodes=nodes)))
    assert error.code == "CW423" and "nowhere" in str(error)
    nodes = [helper.make_node("NoSuchOp", ["x"], ["y"])]
    assert refused(tmp_path, submit(tmp_path, classifier(nodes=nodes))).code == "CW423"


def test_links_folders_and_escapes_are_not_opened(tmp_path: Path, outside: tuple[Path, Watch]) -> None:
    secret, watch = outside
    folder = tmp_path / "submission"
    submit(secret, classifier(), "real.onnx")
    watch.events()
    folder.mkdir()
    (folder / "link.onnx").symlink_to(secret / "real.onnx")
    (folder / "dir.onnx").mkdir()
    for rel in ("link.onnx", "dir.onnx", "../outside/real.onnx", "missing.onnx"):
        assert refused(folder, rel).code == "CW416", rel
    assert watch.events() == []
