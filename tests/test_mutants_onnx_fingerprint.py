"""Mutants of cwcontrib/onnx/fingerprint.py that survive tests/test_onnx_fingerprint.py (mutmut, issue 9), killed
here with real graphs built by onnx.helper and inferred by onnx.shape_inference: every operator of every kind set
(a typo in one would make it "other"), each refusal with its message, the input's declared dims, which
initializer types are state and which of a BatchNorm's inputs are buffers, convolution and dense geometry (non-square
kernels, strides, dilations, groups, transB, an initializer as Gemm's first operand), the bias Add folded into a
MatMul through Cast and Identity and not when the MatMul has two readers, padding from pads and every auto_pad, and
the shapes that shape inference needs data propagation for."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("onnx")
import onnx
from onnx import TensorProto, helper, numpy_helper

from cwcontrib.architectures.fingerprint import Fingerprint, FingerprintError
from cwcontrib.onnx.fingerprint import compare_graphs, onnx_fingerprint, output_shape

OPSET = 20


def init(name: str, shape: tuple[int, ...], dtype: Any = np.float32) -> Any:
    return numpy_helper.from_array(np.ones(shape, dtype), name)


def ints(name: str, values: list[int]) -> Any:
    return numpy_helper.from_array(np.array(values, np.int64), name)


def graph(nodes: list[Any], inits: list[Any] = (), dims: list[Any] | None = None,  # type: ignore[assignment]
          extra_inputs: list[Any] = (), outputs: list[str] = ("y",)) -> onnx.ModelProto:  # type: ignore[assignment]
    """x [n, 1, 8, 8] (unless `dims`), the nodes, outputs named as given (inferred, no declared shape)."""
    g = helper.make_graph(
        list(nodes), "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims or ["n", 1, 8, 8]), *extra_inputs],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=9)


def fp(nodes: list[Any], inits: list[Any] = (), shape: tuple[int, int, int] = (8, 8, 1),  # type: ignore[assignment]
       **kw: Any) -> Fingerprint:
    return onnx_fingerprint(graph(nodes, inits, **kw), shape)


def layers(f: Fingerprint) -> dict[str, tuple[int, int, int, dict[str, int]]]:
    """kind: (count, parameters, buffers, types)"""
    return {s.kind: (s.count, s.parameters, s.buffers, dict(s.types)) for s in f.layers}


def out(*nodes: Any) -> list[Any]:
    """The nodes, and y = Identity(x) so the graph has its output (Identity is bookkeeping, never counted)."""
    return [helper.make_node("Identity", ["x"], ["y"]), *nodes]


# ------------------------------------------------------------------------------------------- operator kinds

UNARY_ACTIVATIONS = ["Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish",
                     "Gelu", "Clip", "Softplus", "Softsign", "Mish", "ThresholdedRelu"]


@pytest.mark.parametrize("op", UNARY_ACTIVATIONS)
def test_each_activation_is_an_activation(op: str) -> None:
    f = fp(out(helper.make_node(op, ["x"], ["a"])))
    assert layers(f) == {"activation": (1, 0, 0, {op: 1})}


def test_prelu_is_an_activation_whose_slope_is_its_parameters() -> None:
    f = fp(out(helper.make_node("PRelu", ["x", "slope"], ["a"])), [init("slope", (1, 1, 1))])
    assert layers(f) == {"activation": (1, 1, 0, {"PRelu": 1})} and f.parameters == f.trainable == 1


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool", "LpPool"])
def test_each_windowed_pool_is_pooling_with_its_padding(op: str) -> None:
    f = fp(out(helper.make_node(op, ["x"], ["p"], kernel_shape=[2, 2])))
    assert layers(f) == {"pooling": (1, 0, 0, {op: 1})} and dict(f.padding) == {"pool:valid": 1}


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"])
def test_each_global_pool_is_pooling_without_padding(op: str) -> None:
    f = fp(out(helper.make_node(op, ["x"], ["p"])))
    assert layers(f) == {"pooling": (1, 0, 0, {op: 1})} and f.padding == ()


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_and_log_softmax(op: str) -> None:
    assert layers(fp(out(helper.make_node(op, ["x"], ["s"])))) == {"softmax": (1, 0, 0, {op: 1})}


def test_dropout_and_pad() -> None:
    f = fp(out(helper.make_node("Dropout", ["x"], ["d"]),
               helper.make_node("Pad", ["x", "pads"], ["p"])), [ints("pads", [0, 0, 1, 1, 0, 0, 1, 1])])
    assert layers(f) == {"dropout": (1, 0, 0, {"Dropout": 1}), "padding": (1, 0, 0, {"Pad": 1})}


def test_each_reshape() -> None:
    f = fp(out(helper.make_node("Flatten", ["x"], ["f"]),
               helper.make_node("Reshape", ["x", "s"], ["r"]),
               helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
               helper.make_node("Squeeze", ["x", "axes"], ["q"]),
               helper.make_node("Unsqueeze", ["x", "axes"], ["u"])),
           [ints("s", [1, 64]), ints("axes", [1])])
    assert layers(f) == {"reshape": (5, 0, 0, {"Flatten": 1, "Reshape": 1, "Transpose": 1, "Squeeze": 1,
                                               "Unsqueeze": 1})}


def test_each_merge_of_two_computed_tensors() -> None:
    ops = ["Add", "Mul", "Sub", "Div", "Sum"]
    f = fp(out(*(helper.make_node(op, ["x", "x"], [op.lower()]) for op in ops),
               helper.make_node("Concat", ["x", "x"], ["c"], axis=1)))
    assert layers(f) == {"merge": (6, 0, 0, {op: 1 for op in [*ops, "Concat"]})}


def test_bookkeeping_is_not_counted() -> None:
    f = fp(out(helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(np.ones(2, np.float32))),
               helper.make_node("Identity", ["x"], ["i"]),
               helper.make_node("Shape", ["x"], ["s"]),
               helper.make_node("Gather", ["x", "idx"], ["g"]),
               helper.make_node("Cast", ["x"], ["c"], to=TensorProto.DOUBLE),
               helper.make_node("ConstantOfShape", ["s"], ["z"]),
               helper.make_node("Size", ["x"], ["n"])), [ints("idx", [0])])
    assert f.layers == () and f.parameters == 0


def test_a_merge_reading_an_initializer_and_an_unknown_op_are_other_with_their_state() -> None:
    f = fp(out(helper.make_node("Mul", ["x", "scale"], ["m"]),
               helper.make_node("LRN", ["x"], ["l"], size=3),
               helper.make_node("MatMul", ["x", "x"], ["mm"])), [init("scale", (1, 8, 8))])
    assert layers(f) == {"other": (3, 64, 0, {"Mul": 1, "LRN": 1, "MatMul": 1})}
    assert f.parameters == f.trainable == 64


# ------------------------------------------------------------------------------------------- state

def test_floating_initializers_are_state_integers_are_not() -> None:
    """float32 (above), float16, bfloat16 and float64 initializers are parameters; int64 ones are not."""
    typed = [numpy_helper.from_array(np.ones(2, np.float16), "h"),
             helper.make_tensor("bf", TensorProto.BFLOAT16, [3], [1.0, 1.0, 1.0]),
             numpy_helper.from_array(np.ones(5, np.float64), "d"),
             numpy_helper.from_array(np.ones(7, np.int64), "i")]
    f = fp(out(*(helper.make_node("CastLike", [t.name, "x"], [t.name + "_c"]) for t in typed)), typed)
    assert layers(f) == {"other": (4, 2 + 3 + 5, 0, {"CastLike": 4})} and f.trainable == 10


def test_batchnorm_scale_and_bias_are_parameters_mean_and_variance_buffers() -> None:
    inits = [init("scale", (1,)), init("bias", (1,)), init("mean", (1,)), init("var", (1,))]
    f = fp(out(helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["b"])), inits)
    assert layers(f) == {"batchnorm": (1, 2, 2, {"BatchNormalization": 1})}
    assert (f.parameters, f.trainable, f.buffers) == (2, 2, 2)
    assert f.batchnorm_epsilon == (1e-05,) and f.batchnorm_momentum == (0.1,)


def test_batchnorm_epsilon_and_momentum_as_declared() -> None:
    inits = [init(n, (1,)) for n in ("scale", "bias", "mean", "var")]
    f = fp(out(helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["b"],
                                epsilon=1e-3, momentum=0.99)), inits)
    assert f.batchnorm_epsilon == (0.001,) and f.batchnorm_momentum == (0.01,)


def test_an_identity_alias_of_an_initializer_is_that_initializer() -> None:
    """torch's export: a second BatchNorm reads the first one's statistics through Identity nodes."""
    inits = [init(n, (1,)) for n in ("scale", "bias", "mean", "var")]
    f = fp(out(helper.make_node("Identity", ["mean"], ["mean2"]), helper.make_node("Identity", ["var"], ["var2"]),
               helper.make_node("Identity", ["scale"], ["scale2"]),
               helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["b1"]),
               helper.make_node("BatchNormalization", ["b1", "scale2", "bias", "mean2", "var2"], ["b2"])), inits)
    assert layers(f) == {"batchnorm": (2, 4, 4, {"BatchNormalization": 2})}


def test_an_identity_alias_of_a_conv_weight() -> None:
    f = fp(out(helper.make_node("Identity", ["k"], ["k2"]), helper.make_node("Conv", ["x", "k2"], ["c"])),
           [init("k", (2, 1, 3, 3))])
    assert layers(f) == {"conv2d": (1, 18, 0, {"Conv": 1})} and f.macs == 2 * 6 * 6 * 9


# ------------------------------------------------------------------------------------------- convolutions

def test_conv_geometry_non_square_strided_dilated_grouped_with_bias() -> None:
    f = fp([helper.make_node("Conv", ["x", "k", "b"], ["y"], strides=[2, 1], dilations=[1, 2], group=2,
                             pads=[1, 0, 1, 0])], [init("k", (4, 1, 3, 2)), init("b", (4,))], shape=(9, 10, 2),
           dims=["n", 2, 9, 10])
    # H: (9 + 2 - 3) // 2 + 1 = 5; W: 10 - (2 - 1)·2 - 1 + 1 = 8
    assert dict(f.conv_geometry) == {"3x2/s2x1/d1x2/g2": 1} and dict(f.padding) == {"conv:symmetric": 1}
    assert (f.conv_with_bias, f.conv_bias_parameters) == (1, 4)
    assert layers(f) == {"conv2d": (1, 24 + 4, 0, {"Conv": 1})}
    assert f.macs == 4 * 5 * 8 * (1 * 3 * 2)


def test_conv_without_bias_an_empty_bias_name_and_a_computed_bias() -> None:
    f = fp(out(helper.make_node("Conv", ["x", "k"], ["a"]), helper.make_node("Conv", ["x", "k", ""], ["b"]),
               helper.make_node("ReduceMean", ["x"], ["m"], keepdims=0),  # a computed 0-d tensor ...
               helper.make_node("Expand", ["m", "two"], ["cb"]),  # ... made a bias of 2
               helper.make_node("Conv", ["x", "k", "cb"], ["c"])), [init("k", (2, 1, 1, 1)), ints("two", [2])])
    assert (f.conv_with_bias, f.conv_bias_parameters) == (0, 0)
    assert dict(f.conv_geometry) == {"1x1/s1": 3} and f.kind("conv2d").parameters == 6


def test_a_conv_weight_of_rank_three_is_refused() -> None:
    g = graph([helper.make_node("Conv", ["x", "k"], ["y"], name="c1")], [init("k", (2, 1, 3))], dims=["n", 1, 8])
    with pytest.raises(FingerprintError, match="rank 4"):  # the 1-D input is refused first
        onnx_fingerprint(g, (8, 8, 1))
    g = graph([helper.make_node("Reshape", ["x", "s"], ["r"]), helper.make_node("Conv", ["r", "k"], ["y"], name="c1")],
              [init("k", (2, 1, 3)), ints("s", [1, 1, 64])])
    with pytest.raises(FingerprintError) as info:
        onnx_fingerprint(g, (8, 8, 1))
    assert str(info.value) == "Conv 'c1': a 2-D convolution's weight has rank 4"


@pytest.mark.parametrize(("pads", "kind"), [([0, 0, 0, 0], "valid"), ([1, 1, 1, 1], "symmetric"),
                                            ([1, 0, 1, 0], "symmetric"), ([0, 1, 0, 1], "symmetric"),
                                            ([1, 0, 0, 1], "asymmetric"), ([0, 0, 1, 1], "asymmetric"),
                                            ([1, 1, 1, 0], "asymmetric")])
def test_conv_pads(pads: list[int], kind: str) -> None:
    f = fp([helper.make_node("Conv", ["x", "k"], ["y"], pads=pads)], [init("k", (1, 1, 3, 3))])
    assert dict(f.padding) == {f"conv:{kind}": 1}


@pytest.mark.parametrize(("auto", "stride", "kind"), [("VALID", 1, "valid"), ("SAME_UPPER", 1, "symmetric"),
                                                      ("SAME_UPPER", 2, "asymmetric"), ("SAME_LOWER", 2, "asymmetric"),
                                                      ("SAME_LOWER", 1, "symmetric"), ("NOTSET", 1, "valid")])
def test_conv_auto_pad(auto: str, stride: int, kind: str) -> None:
    f = fp([helper.make_node("Conv", ["x", "k"], ["y"], auto_pad=auto, strides=[stride, stride])],
           [init("k", (1, 1, 3, 3))])
    assert dict(f.padding) == {f"conv:{kind}": 1}


def test_same_padding_on_an_input_of_unknown_size_and_a_conv_output_of_unknown_size() -> None:
    """A Reshape to a shape no data propagation computes (Abs of a constant): rank 4, no dims, so 'same' and no
    multiply-accumulates for that Conv."""
    f = fp([helper.make_node("Abs", ["s"], ["s2"]), helper.make_node("Reshape", ["x", "s2"], ["r"]),
            helper.make_node("Conv", ["r", "k"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2])],
           [init("k", (1, 1, 3, 3)), ints("s", [1, 1, 8, 8])])
    assert dict(f.padding) == {"conv:same": 1} and f.macs == 0 and f.kind("conv2d").parameters == 9


def test_data_propagation_gives_a_computed_reshape_its_shape() -> None:
    """Reshape(x, Concat(Shape(x)[0], -1)) then a dense layer: the MACs need the Reshape's inferred shape."""
    f = fp([helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
            helper.make_node("Concat", ["n", "minus1"], ["t"], axis=0), helper.make_node("Reshape", ["x", "t"], ["r"]),
            helper.make_node("Relu", ["r"], ["a"]), helper.make_node("MatMul", ["a", "w"], ["y"])],
           [ints("zero", [0]), ints("minus1", [-1]), init("w", (64, 3))])
    assert f.macs == 64 * 3 and f.dense_shapes == ((64, 3),) and f.kind("merge").count == 1


# ------------------------------------------------------------------------------------------- pools

def test_a_pools_strides_default_to_its_kernel() -> None:
    """'same' on 8 pixels, kernel 3: stride 3 pads 1 (0 + 1), stride 1 would pad 2 (1 + 1)."""
    f = fp([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], auto_pad="SAME_UPPER")])
    assert dict(f.padding) == {"pool:asymmetric": 1}
    f = fp([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[1, 1], auto_pad="SAME_UPPER")])
    assert dict(f.padding) == {"pool:symmetric": 1}


def test_a_pools_dilations_and_ceil_mode() -> None:
    """'same', stride 1: kernel 2 pads 1 (asymmetric), dilated by 2 it spans 3 and pads 2 (symmetric)."""
    f = fp([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[1, 1], auto_pad="SAME_LOWER",
                             dilations=[2, 2])])
    assert dict(f.padding) == {"pool:symmetric": 1}
    f = fp([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[1, 1], auto_pad="SAME_LOWER")])
    assert dict(f.padding) == {"pool:asymmetric": 1}
    f = fp([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                             ceil_mode=1)])
    assert dict(f.padding) == {"pool:symmetric+ceil": 1}
    f = fp([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=0)])
    assert dict(f.padding) == {"pool:valid": 1}


# ------------------------------------------------------------------------------------------- dense layers

def test_gemm_with_trans_b_an_initializer_first_and_its_bias() -> None:
    f = fp([helper.make_node("Flatten", ["x"], ["f"]),
            helper.make_node("Gemm", ["f", "w", "c"], ["g1"], transB=1),   # w is (out, in) = (5, 64)
            helper.make_node("Gemm", ["a", "g1"], ["y"])],                 # a (3, 1) @ g1 (1, 5)
           [init("w", (5, 64)), init("c", (5,)), init("a", (3, 1))])
    assert f.dense_shapes == ((64, 5), (3, 1)) and layers(f)["dense"] == (2, 5 * 64 + 5 + 3, 0, {"Gemm": 2})
    assert f.macs == 5 * 64 + 5 * 3


def test_gemm_without_trans_b() -> None:
    f = fp([helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "w"], ["y"], transB=0)],
           [init("w", (64, 5))])
    assert f.dense_shapes == ((64, 5),) and f.macs == 5 * 64


def test_a_gemm_whose_only_initializer_is_its_bias_is_not_dense() -> None:
    f = fp([helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Transpose", ["f"], ["t"]),
            helper.make_node("Gemm", ["t", "f", "c"], ["y"])], [init("c", (1,))])
    assert f.dense_shapes == () and layers(f)["other"] == (1, 1, 0, {"Gemm": 1})


def test_a_dense_weight_of_rank_three_is_refused() -> None:
    with pytest.raises(FingerprintError) as info:
        fp([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], [init("w", (1, 8, 4))])
    assert str(info.value) == "MatMul 'mm': a dense layer's weight has rank 2"


def test_a_matmul_bias_is_folded_through_cast_and_identity() -> None:
    f = fp([helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["m"]),
            helper.make_node("Cast", ["m"], ["m1"], to=TensorProto.FLOAT),
            helper.make_node("Identity", ["m1"], ["m2"]), helper.make_node("Add", ["m2", "b"], ["y"])],
           [init("w", (64, 10)), init("b", (10,))])
    assert layers(f) == {"dense": (1, 650, 0, {"MatMul": 1}), "reshape": (1, 0, 0, {"Flatten": 1})}
    assert f.macs == 640 and f.trainable == 650


def test_a_bias_added_first_is_folded() -> None:
    f = fp([helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["m"]),
            helper.make_node("Add", ["b", "m"], ["y"])], [init("w", (64, 10)), init("b", (10,))])
    assert layers(f)["dense"] == (1, 650, 0, {"MatMul": 1}) and "other" not in layers(f)


def test_a_matmul_read_twice_or_followed_by_a_computed_add_folds_nothing() -> None:
    inits = [init("w", (64, 10)), init("b", (10,))]
    f = fp([helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["m"]),
            helper.make_node("Add", ["m", "b"], ["y"]), helper.make_node("Relu", ["m"], ["r"])], inits)
    assert layers(f)["dense"] == (1, 640, 0, {"MatMul": 1}) and layers(f)["other"] == (1, 10, 0, {"Add": 1})
    f = fp([helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["m"]),
            helper.make_node("Relu", ["m"], ["r"]), helper.make_node("Add", ["r", "b"], ["y"])], inits)
    assert layers(f)["dense"] == (1, 640, 0, {"MatMul": 1}) and layers(f)["other"] == (1, 10, 0, {"Add": 1})
    f = fp([helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["m"]),
            helper.make_node("Add", ["m", "m"], ["y"])], inits[:1])
    assert layers(f)["dense"] == (1, 640, 0, {"MatMul": 1}) and layers(f)["merge"] == (1, 0, 0, {"Add": 1})


def test_a_matmul_output_never_read_folds_nothing() -> None:
    f = fp(out(helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["m"]),
               helper.make_node("Add", ["f", "b"], ["a"])), [init("w", (64, 10)), init("b", (64,))])
    assert layers(f)["dense"] == (1, 640, 0, {"MatMul": 1}) and layers(f)["other"] == (1, 64, 0, {"Add": 1})


def test_a_dense_layer_whose_output_shape_is_unknown_has_no_macs() -> None:
    f = fp([helper.make_node("Abs", ["s"], ["s2"]), helper.make_node("Reshape", ["x", "s2"], ["r"]),
            helper.make_node("MatMul", ["r", "w"], ["y"])], [init("w", (64, 10)), ints("s", [1, 64])])
    assert f.dense_shapes == ((64, 10),) and f.macs == 0


# ------------------------------------------------------------------------------------------- the input

def test_a_graph_with_two_image_inputs_is_refused_an_initializer_listed_as_input_is_not_one() -> None:
    second = helper.make_tensor_value_info("x2", TensorProto.FLOAT, ["n", 1, 8, 8])
    with pytest.raises(FingerprintError) as info:
        onnx_fingerprint(graph(out(), extra_inputs=[second]), (8, 8, 1))
    assert str(info.value) == "the graph has 2 inputs; a classifier has one image input"
    listed = helper.make_tensor_value_info("k", TensorProto.FLOAT, [1, 1, 3, 3])
    f = onnx_fingerprint(graph([helper.make_node("Conv", ["x", "k"], ["y"])], [init("k", (1, 1, 3, 3))],
                               extra_inputs=[listed]), (8, 8, 1))
    assert f.parameters == 9


def test_an_input_not_of_rank_four_is_refused() -> None:
    with pytest.raises(FingerprintError) as info:
        onnx_fingerprint(graph(out(), dims=["n", 64]), (8, 8, 1))
    assert str(info.value) == "the graph's input has rank 2; an image input has rank 4"


def test_the_inputs_fixed_dims_must_be_the_declared_ones_the_batch_may_be_any() -> None:
    with pytest.raises(FingerprintError) as info:
        onnx_fingerprint(graph(out(), dims=[1, 1, 8, 7]), (8, 8, 1))
    assert str(info.value) == "the graph's input is [1, 1, 8, 7], the declared NCHW input [1, 8, 8]"
    with pytest.raises(FingerprintError) as info:
        onnx_fingerprint(graph(out(), dims=[1, 3, 8, 8]), (8, 8, 1))
    assert str(info.value) == "the graph's input is [1, 3, 8, 8], the declared NCHW input [1, 8, 8]"
    # The graph's own dims, as declared: a symbolic batch by its name, an unknown one as ? (not the 1 fixed in)
    with pytest.raises(FingerprintError) as info:
        onnx_fingerprint(graph(out(), dims=["n", 1, 9, 8]), (8, 8, 1))
    assert str(info.value) == "the graph's input is [n, 1, 9, 8], the declared NCHW input [1, 8, 8]"
    with pytest.raises(FingerprintError) as info:
        onnx_fingerprint(graph(out(), dims=[None, 1, 9, 8]), (8, 8, 1))
    assert str(info.value) == "the graph's input is [?, 1, 9, 8], the declared NCHW input [1, 8, 8]"
    with pytest.raises(FingerprintError, match=r"the declared NHWC input \[8, 8, 1\]"):
        onnx_fingerprint(graph(out(), dims=["n", 1, 8, 8]), (8, 8, 1), "NHWC")
    # a fixed batch of 4, and a dim declared 0 (unknown), are both the one example at (1, 8, 8)
    conv = [helper.make_node("Conv", ["x", "k"], ["y"])]
    for dims in ([4, 1, 8, 8], [0, 1, 0, 8], ["n", "c", "h", "w"]):
        assert onnx_fingerprint(graph(conv, [init("k", (1, 1, 3, 3))], dims=dims), (8, 8, 1)).macs == 36 * 9
    nhwc = graph([helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
                  helper.make_node("Conv", ["t", "k"], ["y"])], [init("k", (1, 3, 3, 3))], dims=["n", 8, 6, 3])
    assert onnx_fingerprint(nhwc, (8, 6, 3), "NHWC").macs == 6 * 4 * 27


def test_an_unknown_layout_is_refused() -> None:
    with pytest.raises(FingerprintError) as info:
        onnx_fingerprint(graph(out()), (8, 8, 1), "NCWH")
    assert str(info.value) == "layout 'NCWH': NCHW or NHWC"


def test_shape_inference_failure_is_refused_with_its_first_line() -> None:
    """Adding a (3, 5) initializer to the (1, 1, 8, 8) input: strict inference fails (lenient inference would not)."""
    g = graph([helper.make_node("Add", ["x", "w"], ["y"])], [init("w", (3, 5))])
    with pytest.raises(FingerprintError) as info:
        onnx_fingerprint(g, (8, 8, 1))
    assert str(info.value) == ("shape inference fails at the declared input [1, 1, 8, 8]: [ShapeInferenceError] "
                               "Inference error(s): (op_type:Add): [ShapeInferenceError] Incompatible dimensions")
    assert onnx.shape_inference.infer_shapes(g, strict_mode=False, data_prop=True) is not None


def test_the_model_handed_in_is_not_changed() -> None:
    g = graph([helper.make_node("Conv", ["x", "k"], ["y"])], [init("k", (1, 1, 3, 3))])
    before = g.SerializeToString()
    onnx_fingerprint(g, (8, 8, 1))
    assert g.SerializeToString() == before


# ------------------------------------------------------------------------------------------- compare, output

def test_compare_graphs_uses_each_graphs_layout_and_label() -> None:
    nchw = graph([helper.make_node("Conv", ["x", "k"], ["y"])], [init("k", (2, 3, 3, 3))], dims=["n", 3, 8, 6])
    nhwc = graph([helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
                  helper.make_node("Conv", ["t", "k"], ["y"])], [init("k", (2, 3, 3, 3))], dims=["n", 8, 6, 3])
    verdict = compare_graphs(nchw, nhwc, (8, 6, 3), ("NCHW", "NHWC"), ("torch", "keras"))
    assert verdict.equivalent and (verdict.a, verdict.b) == ("torch", "keras")
    assert compare_graphs(nhwc, nchw, (8, 6, 3), ("NHWC", "NCHW")).equivalent
    assert (compare_graphs(nchw, nchw, (8, 6, 3)).a, compare_graphs(nchw, nchw, (8, 6, 3)).b) == ("a", "b")
    assert onnx_fingerprint(nhwc, (8, 6, 3), "NHWC", "k").label == "k"
    assert onnx_fingerprint(nhwc, (8, 6, 3), "NHWC").label == "onnx"
    assert onnx_fingerprint(nhwc, (8, 6, 3), "NHWC").framework == "onnx"


def test_output_shape() -> None:
    dense = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["y"])]
    assert output_shape(graph(dense, [init("w", (64, 10))]), (8, 8, 1)) == (1, 10)
    nhwc = graph([helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
                  helper.make_node("Flatten", ["t"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["y"])],
                 [init("w", (48, 10))], dims=["n", 8, 2, 3])
    assert output_shape(nhwc, (8, 2, 3), "NHWC") == (1, 10)
    with pytest.raises(FingerprintError) as info:
        output_shape(graph(out(helper.make_node("Relu", ["x"], ["z"])), outputs=["y", "z"]), (8, 8, 1))
    assert str(info.value) == "the graph has 2 outputs; a classifier has one output of class scores"
    unknown = graph([helper.make_node("Abs", ["s"], ["s2"]), helper.make_node("Reshape", ["x", "s2"], ["y"])],
                    [ints("s", [1, 64])])
    with pytest.raises(FingerprintError) as info:
        output_shape(unknown, (8, 8, 1))
    assert str(info.value) == "the shape of the graph's output 'y' cannot be inferred"


def test_valid_auto_pad_overrides_pads() -> None:
    """auto_pad VALID with pads set too: ONNX ignores the pads, so does the fingerprint."""
    f = fp([helper.make_node("Conv", ["x", "k"], ["y"], auto_pad="VALID", pads=[1, 1, 1, 1])],
           [init("k", (1, 1, 3, 3))])
    assert dict(f.padding) == {"conv:valid": 1}
    f = fp([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], auto_pad="VALID", pads=[1, 1, 1, 1])])
    assert dict(f.padding) == {"pool:valid": 1}


def test_a_pools_dilations_default_to_one() -> None:
    """'same' on 8 pixels, kernel 2, stride 2: no padding; dilated by 2 in either axis it would pad 1."""
    f = fp([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], auto_pad="SAME_UPPER")])
    assert dict(f.padding) == {"pool:valid": 1}


def test_pools_of_the_same_padding_are_counted() -> None:
    f = fp([helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[2, 2]),
            helper.make_node("MaxPool", ["p"], ["y"], kernel_shape=[2, 2])])
    assert dict(f.padding) == {"pool:valid": 2} and f.kind("pooling").count == 2


def test_shape_inference_failure_is_cut_at_300_characters() -> None:
    """The first line of the error names the node: a 400-character name makes it long."""
    g = graph([helper.make_node("Add", ["x", "w"], ["y"], name="n" * 400)], [init("w", (3, 5))])
    with pytest.raises(FingerprintError) as info:
        onnx_fingerprint(g, (8, 8, 1))
    prefix = "shape inference fails at the declared input [1, 1, 8, 8]: "
    assert str(info.value).startswith(prefix + "[ShapeInferenceError]") and len(str(info.value)) == len(prefix) + 300
