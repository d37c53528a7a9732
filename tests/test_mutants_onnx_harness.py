"""Mutants of cwcontrib/onnx/harness.py that survive tests/test_onnx_harness.py (mutmut, issue 9), killed here with
real graphs built by onnx.helper and run in real ONNX Runtime sessions: the session's deterministic options read
back from the session, the harness identity in full, each refusal with its message (and the 500-character cut of
ONNX Runtime's text), the layouts, and the batching — a graph whose scores depend on the other examples of its
batch (each example minus the batch mean) shows exactly how the examples were batched and padded."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

onnxruntime = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnxruntime.capi import onnxruntime_pybind11_state as state  # noqa: E402

import cwcontrib.onnx.harness as harness  # noqa: E402
from cwcontrib.evaluate import BATCH_SIZE, EvaluationError  # noqa: E402
from cwcontrib.onnx.harness import (  # noqa: E402
    PROVIDERS,
    _ort_errors,
    onnx_harness_identity,
    predict_onnx,
    resolve_onnx_device,
    session,
)

CUDA = "CUDAExecutionProvider" in onnxruntime.get_available_providers()


def model(nodes: list[Any], inputs: list[Any], outputs: list[Any], inits: list[Any] = ()) -> Any:  # type: ignore[assignment]
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)


def image(name: str = "x", dims: list[Any] | None = None, elem: int = TensorProto.FLOAT) -> Any:
    return helper.make_tensor_value_info(name, elem, dims or ["n", 1, 2, 2])


def scores(name: str = "y", dims: list[Any] | None = None) -> Any:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def flat(dims: list[Any] | None = None) -> Any:
    """y = Flatten(x): 4 scores per (1, 2, 2) example, the argmax the brightest pixel."""
    return model([helper.make_node("Flatten", ["x"], ["y"])], [image(dims=dims)], [scores()])


def centred(batch: int | str) -> Any:
    """y = Flatten(x) − the batch's mean: an example's predicted class depends on the rest of its batch."""
    return centred_dims([batch, 1, 2, 2])


def centred_dims(dims: list[Any]) -> Any:
    nodes = [helper.make_node("Flatten", ["x"], ["f"]),
             helper.make_node("ReduceMean", ["f", "axis0"], ["m"], keepdims=1),
             helper.make_node("Sub", ["f", "m"], ["y"])]
    return model(nodes, [image(dims=dims)], [scores()],
                 [numpy_helper.from_array(np.array([0], np.int64), "axis0")])


def expected_centred(x: np.ndarray, batch: int, pad: float | None) -> np.ndarray:
    """The argmax of each example minus its batch's mean, batches of `batch`, the last padded with `pad`."""
    flat_x = x.reshape(len(x), -1).astype(np.float64)
    out = []
    for start in range(0, len(x), batch):
        chunk = flat_x[start:start + batch]
        rows = len(chunk)
        if pad is not None and rows < batch:
            chunk = np.concatenate([chunk, np.full((batch - rows, chunk.shape[1]), pad)])
        out.append((chunk - chunk.mean(axis=0))[:rows].argmax(axis=1))
    return np.concatenate(out)


def examples(n: int, seed: int = 0) -> np.ndarray:
    """n NHWC (2, 2, 1) examples drifting from pixel 3 towards pixel 0 with their index, so that the mean of a batch
    depends on where it starts and ends, and on what it was padded with."""
    drift = np.linspace(0.0, 4.0, n, dtype=np.float64)[:, None] * np.array([1.0, 0.0, 0.0, -1.0])
    x = np.random.default_rng(seed).normal(size=(n, 4)) + drift
    return x.reshape(n, 2, 2, 1).astype(np.float32)


# ------------------------------------------------------------------------------------------- devices, identity

def test_resolve_the_device() -> None:
    assert resolve_onnx_device("cpu") == "cpu"
    assert resolve_onnx_device("auto") == ("cuda" if CUDA else "cpu")
    with pytest.raises(EvaluationError) as info:
        resolve_onnx_device("tpu")
    assert str(info.value) == "ONNX Runtime device 'tpu': use cpu, cuda or auto"
    if CUDA:
        assert resolve_onnx_device("cuda") == "cuda"
    else:
        with pytest.raises(EvaluationError) as info:
            resolve_onnx_device("cuda")
        assert str(info.value) == "ONNX Runtime has no CUDAExecutionProvider here (install onnxruntime-gpu)"


def test_the_identity_in_full() -> None:
    sha = hashlib.sha256(Path(harness.__file__).read_bytes()).hexdigest()
    common = {"name": "cwcontrib.onnx.harness/onnxruntime", "version": "1", "sha256": sha,
              "onnxruntime": onnxruntime.__version__, "evidence": "onnxruntime"}
    assert onnx_harness_identity() == {**common, "provider": "CPUExecutionProvider"}
    assert onnx_harness_identity("cuda") == {**common, "provider": "CUDAExecutionProvider"}
    assert harness.EVIDENCE_LABELS == {"framework": "reproduced in its own framework",
                                       "onnxruntime": "reproduced in ONNX Runtime"}
    assert PROVIDERS == {"cpu": ["CPUExecutionProvider"], "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"]}


def test_every_onnx_runtime_error_is_caught() -> None:
    names = ("Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf", "NotImplemented", "RuntimeException",
             "EPFail", "NoModel", "NotFound", "EngineError")
    assert set(_ort_errors()) == {getattr(state, n) for n in names if hasattr(state, n)}
    assert {"Fail", "InvalidArgument", "InvalidGraph", "NotImplemented", "RuntimeException"} <= {
        e.__name__ for e in _ort_errors()}


# ------------------------------------------------------------------------------------------- the session

def test_the_session_is_deterministic_basic_single_threaded_quiet_on_cpu_alone() -> None:
    sess = session(flat())
    options = sess.get_session_options()
    assert options.graph_optimization_level == onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    assert options.use_deterministic_compute is True
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)
    assert options.log_severity_level == 3
    assert sess.get_providers() == ["CPUExecutionProvider"]
    assert session(flat(), "cpu").get_providers() == ["CPUExecutionProvider"]


def test_a_graph_onnx_runtime_refuses_is_an_evaluation_error_cut_at_500_characters() -> None:
    """An operator ONNX Runtime has no kernel for, on a node with a 2,000-character name."""
    g = model([helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("NoSuchOp", ["f"], ["y"], name="n" * 2000)],
              [image()], [scores()])
    with pytest.raises(EvaluationError) as info:
        session(g)
    message = str(info.value)
    assert message.startswith("ONNX Runtime refused the graph: ")
    assert len(message) == len("ONNX Runtime refused the graph: ") + 500


# ------------------------------------------------------------------------------------------- inputs and outputs

def test_one_input_and_one_output() -> None:
    x = examples(3)
    two_in = model([helper.make_node("Add", ["x", "x2"], ["s"]), helper.make_node("Flatten", ["s"], ["y"])],
                   [image(), image("x2")], [scores()])
    with pytest.raises(EvaluationError) as info:
        predict_onnx(two_in, x)
    assert str(info.value) == ("the graph has 2 inputs and 1 outputs; a classifier has one image input and one output "
                               "of class scores")
    two_out = model([helper.make_node("Flatten", ["x"], ["y"]), helper.make_node("Flatten", ["x"], ["z"])],
                    [image()], [scores(), scores("z")])
    with pytest.raises(EvaluationError, match="the graph has 1 inputs and 2 outputs"):
        predict_onnx(two_out, x)


def test_the_input_must_be_float32() -> None:
    g = model([helper.make_node("Cast", ["x"], ["c"], to=TensorProto.FLOAT), helper.make_node("Flatten", ["c"], ["y"])],
              [image(elem=TensorProto.DOUBLE)], [scores()])
    with pytest.raises(EvaluationError) as info:
        predict_onnx(g, examples(3))
    assert str(info.value) == "the graph's input is tensor(double); the harness feeds tensor(float)"


def test_layouts() -> None:
    x = examples(5)  # NHWC (5, 2, 2, 1)
    expected = x.reshape(5, 4).argmax(axis=1)
    assert np.array_equal(predict_onnx(flat(), x), expected)  # NCHW by default
    nhwc = flat(["n", 2, 2, 1])
    assert np.array_equal(predict_onnx(nhwc, x, "NHWC"), expected)
    three = np.random.default_rng(1).normal(size=(4, 2, 3, 3)).astype(np.float32)  # (N, H, W, C)
    assert np.array_equal(predict_onnx(flat(["n", 3, 2, 3]), three, "NCHW"),
                          three.transpose(0, 3, 1, 2).reshape(4, 18).argmax(axis=1))
    with pytest.raises(EvaluationError) as info:
        predict_onnx(flat(), x, "NCWH")
    assert str(info.value) == "layout 'NCWH': the harness feeds NCHW or NHWC"


def test_the_inputs_shape_must_be_the_declared_one() -> None:
    three = np.zeros((4, 2, 3, 3), np.float32)
    with pytest.raises(EvaluationError) as info:
        predict_onnx(flat(["n", 3, 3, 2]), three, "NCHW")  # H and W swapped
    assert str(info.value) == ("the graph's input 'x' has shape ['n', 3, 3, 2]; the declared NCHW input is "
                               "['N', 3, 2, 3]")
    with pytest.raises(EvaluationError, match=r"has shape \['n', 2, 3, 2\]; the declared NCHW input"):
        predict_onnx(flat(["n", 2, 3, 2]), three, "NCHW")  # channels differ alone
    rank2 = model([helper.make_node("Identity", ["x"], ["y"])], [image(dims=["n", 18])], [scores()])
    with pytest.raises(EvaluationError, match=r"has shape \['n', 18\]; the declared NHWC input is \['N', 2, 3, 3\]"):
        predict_onnx(rank2, three, "NHWC")
    # symbolic dims other than the batch are any size
    assert predict_onnx(flat(["n", "c", "h", "w"]), three, "NCHW").shape == (4,)


# ------------------------------------------------------------------------------------------- batches

def test_a_dynamic_batch_is_fed_in_batches_of_batch_size_unpadded() -> None:
    x = examples(BATCH_SIZE + 37)
    got = predict_onnx(centred("n"), x)
    assert np.array_equal(got, expected_centred(x, BATCH_SIZE, None))
    assert not np.array_equal(got, expected_centred(x, len(x), None))  # (the data tells the batching apart)
    assert not np.array_equal(got, expected_centred(x, BATCH_SIZE, 0.0))


def test_a_fixed_batch_is_fed_in_its_batches_the_last_padded_with_zeros() -> None:
    x = examples(23, seed=3)  # 3 batches of 7, then 2 examples and 5 rows of zeros
    got = predict_onnx(centred(7), x)
    assert np.array_equal(got, expected_centred(x, 7, 0.0)) and len(got) == 23
    for other in (expected_centred(x, 7, None), expected_centred(x, 6, 0.0), expected_centred(x, 8, 0.0)):
        assert not np.array_equal(got, other)  # (the data tells the padding apart)
    exact = examples(21, seed=3)  # whole batches only: nothing padded
    assert np.array_equal(predict_onnx(centred(7), exact), expected_centred(exact, 7, None))
    assert np.array_equal(predict_onnx(centred(1), x[:3]), np.zeros(3))  # a batch of one: all scores 0, class 0


def test_an_output_not_of_batch_by_classes_is_refused() -> None:
    x = examples(3)
    rank3 = model([helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Unsqueeze", ["f", "one"], ["y"])],
                  [image()], [scores()], [numpy_helper.from_array(np.array([1], np.int64), "one")])
    with pytest.raises(EvaluationError) as info:
        predict_onnx(rank3, x)
    assert str(info.value) == "the graph's output has shape [3, 1, 4]; expected [batch, classes]"
    pooled = model([helper.make_node("Flatten", ["x"], ["f"]),
                    helper.make_node("ReduceMean", ["f", "axis0"], ["y"], keepdims=1)],
                   [image()], [scores()], [numpy_helper.from_array(np.array([0], np.int64), "axis0")])
    with pytest.raises(EvaluationError) as info:
        predict_onnx(pooled, x)
    assert str(info.value) == "the graph's output has shape [1, 4]; expected [batch, classes]"


def test_a_run_onnx_runtime_refuses_is_an_evaluation_error_cut_at_500_characters() -> None:
    """Reshape to a shape that does not hold the example: the session builds, the run fails, and its message names
    the node: a 2,000-character name makes it long."""
    g = model([helper.make_node("Reshape", ["x", "s"], ["y"], name="r" * 2000)], [image()], [scores()],
              [numpy_helper.from_array(np.array([-1, 3], np.int64), "s")])
    with pytest.raises(EvaluationError) as info:
        predict_onnx(g, examples(1))
    message = str(info.value)
    assert message.startswith("ONNX Runtime refused the input: ") and "running Reshape node" in message
    assert len(message) == len("ONNX Runtime refused the input: ") + 500


def test_a_fixed_batch_with_symbolic_image_dims() -> None:
    x = examples(9)
    assert np.array_equal(predict_onnx(centred_dims([7, "c", "h", "w"]), x), expected_centred(x, 7, 0.0))


def test_a_graph_declaring_a_batch_of_zero_is_refused_by_onnx_runtime_not_a_traceback() -> None:
    with pytest.raises(EvaluationError, match=r"(?s)ONNX Runtime refused the input: .*Got: 1000 Expected: 0"):
        predict_onnx(flat([0, 1, 2, 2]), examples(3))


# ------------------------------------------------------------------------------------------- predictions

def test_prediction_dtype_follows_the_number_of_classes() -> None:
    x = np.random.default_rng(2).normal(size=(5, 16, 20, 1)).astype(np.float32)  # 320 scores per example
    big = flat(["n", 1, 16, 20])
    got = predict_onnx(big, x)
    assert got.dtype == np.dtype("<u2") and np.array_equal(got, x.reshape(5, 320).argmax(axis=1))
    assert predict_onnx(flat(), examples(3)).dtype == np.dtype("u1")
    empty = predict_onnx(flat(), np.zeros((0, 2, 2, 1), np.float32))
    assert empty.dtype == np.dtype("u1") and empty.shape == (0,)
    assert predict_onnx(flat(), examples(3)).flags.c_contiguous
