"""Mutants of cwcontrib/onnx/check.py that survive tests/test_onnx_check.py (mutmut, issue 9), killed here: each
wall alone with its exact code and message, each limit at its exact boundary (file size, nodes, subgraph depth,
rank, one tensor's and all tensors' elements), every place a node or a tensor can hide (local functions, If
bodies, GRAPHS attributes, sparse initializers and attributes, TENSORS attributes), and the packed sizes of the
sub-byte element types."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("onnx")
import onnx
from onnx import TensorProto, helper, numpy_helper

import cwcontrib.safefs
from cwcontrib.onnx import OnnxLimits, check_onnx_bytes, read_onnx
from cwcontrib.weights import WeightsError
from tests.test_onnx_check import classifier, submit

LIMITS = OnnxLimits()


def outcome(model: onnx.ModelProto | bytes, limits: OnnxLimits = LIMITS) -> tuple[str, str]:
    """("ok", "") when the graph passes, else the refusal's code and message."""
    try:
        check_onnx_bytes(model if isinstance(model, bytes) else model.SerializeToString(), limits)
    except WeightsError as exc:
        return exc.code, str(exc)
    return "ok", ""


def base() -> list[Any]:
    return [numpy_helper.from_array(np.ones((4, 3), np.float32), "w"),
            numpy_helper.from_array(np.zeros(3, np.float32), "b")]


def with_initializer(*extra: Any) -> onnx.ModelProto:
    return classifier(initializer=base() + list(extra))


def if_node(body_nodes: list[Any], name: str = "if", cond: str = "c", out: str = "y") -> Any:
    """If(cond) whose branches both hold `body_nodes` (then) or an Identity of h (else)."""
    then = helper.make_graph(body_nodes, "then", [], [helper.make_tensor_value_info(body_nodes[-1].output[0],
                                                                                    TensorProto.FLOAT, None)])
    other = helper.make_graph([helper.make_node("Identity", ["h"], ["e_" + name])], "else", [],
                              [helper.make_tensor_value_info("e_" + name, TensorProto.FLOAT, None)])
    return helper.make_node("If", [cond], [out], name=name, then_branch=then, else_branch=other)


def nested_ifs(levels: int) -> list[Any]:
    """Gemm, a true Constant and `levels` If nodes each inside the previous one's then-branch."""
    inner: list[Any] = [helper.make_node("Identity", ["h"], ["z0"])]
    for level in range(1, levels + 1):
        inner = [if_node(inner, f"if{level}", out=f"z{level}")]
    inner[-1].output[0] = "y"
    return [helper.make_node("Gemm", ["x", "w", "b"], ["h"]),
            helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.array(True), "c")), *inner]


# --- read_onnx: the file ---------------------------------------------------------------------------------------

def test_the_file_size_limit_is_exact_and_its_refusal_is_cw421(tmp_path: Path) -> None:
    data = classifier().SerializeToString()
    rel = submit(tmp_path, data)
    read_onnx(tmp_path, rel, OnnxLimits(file_bytes=len(data)))
    with pytest.raises(WeightsError) as caught:
        read_onnx(tmp_path, rel, OnnxLimits(file_bytes=len(data) - 1))
    assert (caught.value.code, str(caught.value)) == (
        "CW421", f"the file is larger than the limit of {len(data) - 1} bytes")


def test_a_link_is_cw416_with_safefs_message(tmp_path: Path) -> None:
    submit(tmp_path, classifier(), "real.onnx")
    (tmp_path / "link.onnx").symlink_to(tmp_path / "real.onnx")
    with pytest.raises(WeightsError) as caught:
        read_onnx(tmp_path, "link.onnx")
    assert (caught.value.code, str(caught.value)) == ("CW416", "file 'link.onnx' is a symbolic link")


@pytest.mark.parametrize("error,message", [(OSError(errno.EIO, "Input/output error"), "Input/output error"),
                                           (OSError("no strerror"), "no strerror")])
def test_a_read_error_is_cw416_with_its_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: OSError,
                                               message: str) -> None:
    """An I/O error below the confinement layer (root cannot provoke one with permissions): read_confined raises."""
    def failing(root: Path, rel: str, max_bytes: int) -> bytes:
        raise error
    monkeypatch.setattr(cwcontrib.safefs, "read_confined", failing)
    with pytest.raises(WeightsError) as caught:
        read_onnx(tmp_path, "model.onnx")
    assert (caught.value.code, str(caught.value)) == ("CW416", f"cannot be read: {message}")


# --- check_onnx_bytes: the whole graph ---------------------------------------------------------------------------

def test_the_byte_limit_of_check_onnx_bytes_is_exact() -> None:
    data = classifier().SerializeToString()
    assert outcome(data, OnnxLimits(file_bytes=len(data))) == ("ok", "")
    assert outcome(data, OnnxLimits(file_bytes=len(data) - 1)) == (
        "CW421", f"{len(data):,} bytes, over the limit of {len(data) - 1:,}")


def test_an_unparseable_protobuf_message() -> None:
    code, message = outcome(b"\xff\xff\xff")
    assert code == "CW417" and message.startswith("not a complete ONNX model (the protobuf does not parse: ")
    assert message.endswith(")")


@pytest.mark.parametrize("field", ["graph", "opset_import"])
def test_no_graph_and_no_opset_import_are_each_refused_alone(field: str) -> None:
    model = classifier()
    model.ClearField(field)
    assert outcome(model) == ("CW417", "not an ONNX model: no graph or no opset import")


def test_a_custom_opset_import_message() -> None:
    model = classifier(imports=[helper.make_opsetid("", 17), helper.make_opsetid("evil.ops", 1)])
    assert outcome(model) == ("CW419", "the graph imports the custom operator domain 'evil.ops'")


def test_the_default_domain_may_be_spelt_ai_onnx_and_ai_onnx_ml_is_standard() -> None:
    assert outcome(classifier(imports=[helper.make_opsetid("ai.onnx", 17)])) == ("ok", "")
    assert outcome(classifier(imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])) == (
        "ok", "")


def test_ai_onnx_ml_alone_is_no_default_opset() -> None:
    assert outcome(classifier(imports=[helper.make_opsetid("ai.onnx.ml", 3)])) == (
        "CW418", "default-domain opset None; supported: 13 to 23")


def test_an_unsupported_opset_message() -> None:
    assert outcome(classifier(opset=12)) == ("CW418", "default-domain opset 12; supported: 13 to 23")


def test_the_node_limit_message() -> None:
    assert outcome(classifier(), OnnxLimits(nodes=1)) == ("CW421", "2 nodes, over the limit of 1")


@pytest.mark.parametrize("name,shown", [("fused", "'fused'"), ("", "'FusedRelu'")])
def test_a_custom_domain_node_message(name: str, shown: str) -> None:
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"]),
             helper.make_node("FusedRelu", ["h"], ["y"], domain="com.microsoft", name=name)]
    assert outcome(classifier(nodes=nodes)) == (
        "CW419", f"node {shown} ('FusedRelu') is in the custom domain 'com.microsoft'")


def test_the_checker_refusal_is_its_first_line_cut_and_quoted() -> None:
    missing = "m" * 200
    nodes = [helper.make_node("Gemm", ["x", "w", missing], ["h"]), helper.make_node("Relu", ["h"], ["y"])]
    model = classifier(nodes=nodes)
    with pytest.raises(onnx.checker.ValidationError) as direct:
        onnx.checker.check_model(model, full_check=False)
    first = str(direct.value).strip().splitlines()[0]
    assert len(str(direct.value).strip().splitlines()) > 1 and len(first) > 120
    assert outcome(model) == ("CW423", f"onnx.checker refuses the graph: {first[:120]!r}")


def test_names_are_cut_at_120_characters_and_made_printable() -> None:
    long = "N" * 130 + "\x1b"
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"]),
             helper.make_node("Op", ["h"], ["y"], domain="d\x1b", name=long)]
    assert outcome(classifier(nodes=nodes)) == (
        "CW419", f"node '{'N' * 120}' ('Op') is in the custom domain 'd\\\\x1b'")  # printable, then repr


# --- subgraphs and local functions ---------------------------------------------------------------------------

def test_the_subgraph_depth_limit_is_exact() -> None:
    model = classifier(nodes=nested_ifs(2), initializer=base())
    assert outcome(model) == ("ok", "")
    assert outcome(model, OnnxLimits(subgraph_depth=2)) == ("ok", "")
    assert outcome(model, OnnxLimits(subgraph_depth=1)) == ("CW421", "subgraphs nested deeper than 1")


def test_nodes_inside_if_bodies_are_counted() -> None:
    model = classifier(nodes=nested_ifs(2))  # Gemm, Constant, If(then: If(then: Identity, else), else)
    assert outcome(model, OnnxLimits(nodes=7)) == ("ok", "")
    assert outcome(model, OnnxLimits(nodes=6)) == ("CW421", "7 nodes, over the limit of 6")


def graphs_attribute(body: Any) -> Any:
    """A node with a GRAPHS attribute (no standard operator has one; refused before the checker or by it)."""
    node = helper.make_node("Identity", ["h"], ["y"])
    node.attribute.append(helper.make_attribute("bodies", [helper.make_graph([], "empty", [], []), body]))
    return node


def test_a_custom_node_inside_a_graphs_attribute_is_refused() -> None:
    body = helper.make_graph([helper.make_node("Evil", [], ["z"], domain="x.y")], "body", [], [])
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"]), graphs_attribute(body)]
    assert outcome(classifier(nodes=nodes)) == ("CW419", "node 'Evil' ('Evil') is in the custom domain 'x.y'")


def test_graphs_attributes_count_for_the_depth() -> None:
    inner = helper.make_graph([helper.make_node("Identity", ["h"], ["z"])], "inner", [], [])
    outer = helper.make_graph([graphs_attribute(inner)], "outer", [], [])
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"]), graphs_attribute(outer)]
    assert outcome(classifier(nodes=nodes), OnnxLimits(subgraph_depth=1)) == (
        "CW421", "subgraphs nested deeper than 1")
    assert outcome(classifier(nodes=nodes), OnnxLimits(subgraph_depth=2))[0] == "CW423"  # past the wall


def local_function(nodes: list[Any], name: str = "MyRelu", domain: str = "local.fn",
                   imports: list[Any] | None = None) -> Any:
    return helper.make_function(domain, name, ["a"], ["b"], nodes, imports or [helper.make_opsetid("", 17)])


def with_function(function: Any) -> onnx.ModelProto:
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"]),
             helper.make_node(function.name, ["h"], ["y"], domain=function.domain)]
    return classifier(nodes=nodes, functions=[function])


def test_local_function_messages() -> None:
    assert outcome(with_function(local_function([helper.make_node("Relu", ["a"], ["b"])]))) == (
        "CW419", "local function 'MyRelu' is in the custom domain 'local.fn'")
    shadow = local_function([helper.make_node("Neg", ["a"], ["b"])], name="Relu", domain="")
    assert outcome(classifier(functions=[shadow])) == (
        "CW419", "local function 'Relu' redefines a standard operator")
    imports = [helper.make_opsetid("", 17), helper.make_opsetid("evil.ops", 1)]
    custom_import = local_function([helper.make_node("Relu", ["a"], ["b"])], domain="ai.onnx.ml", imports=imports)
    assert outcome(with_function(custom_import)) == (
        "CW419", "local function 'MyRelu' imports the custom domain 'evil.ops'")


def test_a_standard_domain_local_function_is_walked_not_refused() -> None:
    """In ai.onnx.ml, importing standard domains only, not an operator's name: past every wall (the checker then
    refuses the call, which the model does not import)."""
    imports = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
    function = local_function([helper.make_node("Relu", ["a"], ["b"])], domain="ai.onnx.ml", imports=imports)
    assert outcome(with_function(function))[0] == "CW423"
    assert outcome(with_function(function), OnnxLimits(nodes=3))[0] == "CW423"  # Gemm, the call, Relu
    assert outcome(with_function(function), OnnxLimits(nodes=2)) == ("CW421", "3 nodes, over the limit of 2")


def test_a_custom_node_inside_a_local_function_is_refused() -> None:
    function = local_function([helper.make_node("Evil", ["a"], ["b"], domain="x.y")], domain="ai.onnx.ml")
    assert outcome(with_function(function)) == ("CW419", "node 'Evil' ('Evil') is in the custom domain 'x.y'")


@pytest.mark.parametrize("attribute", ["g", "graphs"])
def test_subgraphs_of_a_local_function_start_at_depth_one(attribute: str) -> None:
    leaf = helper.make_graph([helper.make_node("Identity", ["a"], ["z"])], "leaf", [], [])
    node = helper.make_node("Identity", ["a"], ["b"])
    node.attribute.append(helper.make_attribute("body", leaf if attribute == "g" else [leaf]))
    function = local_function([node], domain="ai.onnx.ml")
    assert outcome(with_function(function), OnnxLimits(subgraph_depth=1))[0] == "CW423"  # depth 1: allowed
    assert outcome(with_function(function), OnnxLimits(subgraph_depth=0)) == (
        "CW421", "subgraphs nested deeper than 0")
    evil = helper.make_graph([helper.make_node("Evil", [], ["z"], domain="x.y")], "evil", [], [])
    node.attribute[0].CopyFrom(helper.make_attribute("body", evil if attribute == "g" else [evil]))
    assert outcome(with_function(local_function([node], domain="ai.onnx.ml"))) == (
        "CW419", "node 'Evil' ('Evil') is in the custom domain 'x.y'")


# --- where tensors hide --------------------------------------------------------------------------------------

def nan_tensor(name: str = "n") -> Any:
    return numpy_helper.from_array(np.array([1, np.nan], np.float32), name)


def external(tensor: Any, **entries: str) -> Any:
    for key, value in entries.items():
        tensor.external_data.add(key=key, value=value)
    return tensor


def sparse(values: Any, indices: Any | None = None) -> Any:
    return helper.make_sparse_tensor(values, indices or numpy_helper.from_array(np.array([0, 1], np.int64), "i"),
                                     [4])


def test_sparse_initializer_values_and_indices_are_checked() -> None:
    model = with_initializer()
    model.graph.sparse_initializer.append(sparse(nan_tensor("sv")))
    assert outcome(model) == ("CW422", "tensor 'sv' has 1 NaN or infinite values")
    model = with_initializer()
    indices = external(numpy_helper.from_array(np.array([0, 1], np.int64), "si"), location="x")
    model.graph.sparse_initializer.append(sparse(numpy_helper.from_array(np.ones(2, np.float32), "sv"), indices))
    assert outcome(model)[:1] == ("CW420",) and "'si'" in outcome(model)[1]


def test_initializers_of_subgraphs_are_checked() -> None:
    nodes = nested_ifs(1)
    nodes[-1].attribute[0].g.initializer.append(nan_tensor("inner"))  # then_branch
    assert outcome(classifier(nodes=nodes)) == ("CW422", "tensor 'inner' has 1 NaN or infinite values")
    body = helper.make_graph([], "body", [], [], initializer=[nan_tensor("listed")])
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"]), graphs_attribute(body)]
    assert outcome(classifier(nodes=nodes)) == ("CW422", "tensor 'listed' has 1 NaN or infinite values")


def attribute_node(name: str, value: Any) -> Any:
    node = helper.make_node("Identity", ["h"], ["y"])
    node.attribute.append(helper.make_attribute(name, value))
    return node


@pytest.mark.parametrize("kind", ["tensors", "sparse_tensor_values", "sparse_tensor_indices", "sparse_tensors_values",
                                  "sparse_tensors_indices"])
def test_every_tensor_an_attribute_holds_is_checked(kind: str) -> None:
    indices = numpy_helper.from_array(np.array([0, 1], np.int64), "idx")
    values = numpy_helper.from_array(np.ones(2, np.float32), "val")
    if kind.endswith("values"):
        values = nan_tensor("val")
    if kind.endswith("indices"):
        indices = external(indices, location="x")
    held: Any = [nan_tensor("val")] if kind == "tensors" else sparse(values, indices)
    if kind.startswith("sparse_tensors"):
        held = [held]
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"]), attribute_node("held", held)]
    code, message = outcome(classifier(nodes=nodes))
    assert (code, "'idx'" if kind.endswith("indices") else "'val'") == (
        "CW420" if kind.endswith("indices") else "CW422", message.split()[1])


def test_external_data_messages() -> None:
    assert outcome(with_initializer(external(nan_tensor("e"), location="../x", offset="0"))) == (
        "CW420", "tensor 'e' keeps its data in another file ('../x'); external data is refused and never read")
    assert outcome(with_initializer(external(nan_tensor("e"), offset="0", length="8"))) == (
        "CW420", "tensor 'e' keeps its data in another file; external data is refused and never read")
    assert outcome(with_initializer(external(nan_tensor(""), location="y"))) == (
        "CW420", "tensor '(unnamed)' keeps its data in another file ('y'); external data is refused and never read")


def test_external_data_is_refused_before_any_other_tensor_problem() -> None:
    huge = TensorProto(name="huge", data_type=TensorProto.FLOAT, dims=[1 << 40])
    assert outcome(with_initializer(huge, external(nan_tensor("e"), location="x")))[0] == "CW420"


# --- declared sizes ----------------------------------------------------------------------------------------------

def test_the_rank_limit_is_exact_with_its_message() -> None:
    model = with_initializer(numpy_helper.from_array(np.ones((1, 1, 1), np.float32), "r3"))
    assert outcome(model, OnnxLimits(rank=3)) == ("ok", "")
    assert outcome(model, OnnxLimits(rank=2)) == ("CW421", "tensor 'r3' has rank 3, over the limit of 2")
    unnamed = with_initializer(numpy_helper.from_array(np.ones((1, 1, 1), np.float32), ""))
    assert outcome(unnamed, OnnxLimits(rank=2)) == ("CW421", "tensor '(unnamed)' has rank 3, over the limit of 2")


def test_negative_dims_are_damaged_and_zero_dims_allowed() -> None:
    negative = TensorProto(name="neg", data_type=TensorProto.FLOAT, dims=[2, -1, 3])
    assert outcome(with_initializer(negative)) == ("CW417", "tensor 'neg' has negative dims [2, -1, 3]")
    assert outcome(with_initializer(numpy_helper.from_array(np.zeros((0, 2), np.float32), "empty"))) == ("ok", "")


def test_the_tensor_element_limit_is_exact_with_its_message() -> None:
    model = with_initializer(numpy_helper.from_array(np.ones((1000, 2), np.float32), "big"))
    assert outcome(model, OnnxLimits(tensor_elements=2000)) == ("ok", "")
    assert outcome(model, OnnxLimits(tensor_elements=1999)) == (
        "CW421", "tensor 'big' declares 2,000 elements, over the limit of 1,999")


def test_the_total_element_limit_message() -> None:
    model = with_initializer(numpy_helper.from_array(np.ones((1000, 2), np.float32), "big"))  # 12 + 3 + 2000
    assert outcome(model, OnnxLimits(total_elements=2015)) == ("ok", "")
    assert outcome(model, OnnxLimits(total_elements=2014)) == (
        "CW421", "2,015 tensor elements in all, over the limit of 2,014")


# --- values ------------------------------------------------------------------------------------------------------

def test_a_tensor_without_a_data_type() -> None:
    assert outcome(with_initializer(TensorProto(name="d", dims=[1]))) == ("CW417", "tensor 'd' has no data type")


def test_an_unknown_data_type_with_raw_data() -> None:
    unknown = TensorProto(name="u", data_type=999, dims=[1], raw_data=b"abcd")
    assert outcome(with_initializer(unknown)) == ("CW417", "tensor 'u' has the unknown data type 999")


def test_raw_data_length_must_match_exactly() -> None:
    good = numpy_helper.from_array(np.arange(3, dtype=np.int16), "i16")
    assert outcome(with_initializer(good)) == ("ok", "")
    long = numpy_helper.from_array(np.arange(3, dtype=np.int16), "i16")
    long.raw_data += b"\0\0"
    assert outcome(with_initializer(long)) == ("CW417", "tensor 'i16' declares 3 elements but holds 8 bytes")
    many = TensorProto(name="m", data_type=TensorProto.UINT8, dims=[1000, 2], raw_data=b"\0" * 1999)
    assert outcome(with_initializer(many)) == ("CW417", "tensor 'm' declares 2,000 elements but holds 1,999 bytes")


def test_string_raw_data_skips_the_byte_count_and_fails_decoding() -> None:
    strings = TensorProto(name="s", data_type=TensorProto.STRING, dims=[1], raw_data=b"abcdefgh")
    code, message = outcome(with_initializer(strings))
    assert code == "CW417" and message.startswith("tensor 's' cannot be decoded: '")


def test_a_tensor_that_does_not_decode() -> None:
    short = TensorProto(name="f", data_type=TensorProto.FLOAT, dims=[3], float_data=[1, 2])
    assert outcome(with_initializer(short)) == (
        "CW417", "tensor 'f' cannot be decoded: 'cannot reshape array of size 2 into shape (3,)'")


@pytest.mark.parametrize("data_type,bits", [(TensorProto.UINT4, 4), (TensorProto.INT4, 4),
                                            (TensorProto.FLOAT4E2M1, 4), (TensorProto.UINT2, 2),
                                            (TensorProto.INT2, 2), (TensorProto.FLOAT6E2M3, 6),
                                            (TensorProto.FLOAT6E3M2, 6)])
def test_sub_byte_types_are_packed_and_their_byte_count_is_exact(data_type: int, bits: int) -> None:
    """onnx.numpy_helper packs 2-, 4- and 6-bit elements: ceil(5 * bits / 8) bytes for 5 elements. That count
    passes (it was refused as CW417 for the 2-, 6- and float 4-bit types before the fix); one byte more or less
    does not (a longer int4 tensor passed before: bytes the graph never uses)."""
    packed = numpy_helper.from_array(np.zeros(5, dtype=helper.tensor_dtype_to_np_dtype(data_type)), "q")
    assert len(packed.raw_data) == (5 * bits + 7) // 8
    assert outcome(with_initializer(packed)) == ("ok", "")
    for raw in (packed.raw_data + b"\0", packed.raw_data[:-1]):
        packed.raw_data = raw
        assert outcome(with_initializer(packed)) == (
            "CW417", f"tensor 'q' declares 5 elements but holds {len(raw)} bytes")


def test_a_finite_double_beyond_float32_passes() -> None:
    """Only ml_dtypes' float types are widened to float32; a float64 of 1e300 stays finite."""
    assert outcome(with_initializer(numpy_helper.from_array(np.array([1e300, -1e300]), "d"))) == ("ok", "")


@pytest.mark.parametrize("data_type", [TensorProto.BFLOAT16, TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2])
def test_non_finite_narrow_floats_are_counted(data_type: int) -> None:
    tensor = helper.make_tensor("nf", data_type, [4], [1.0, float("nan"), 2.0, float("nan")])
    assert outcome(with_initializer(tensor)) == ("CW422", "tensor 'nf' has 2 NaN or infinite values")


def test_non_finite_complex_values_are_refused() -> None:
    tensor = numpy_helper.from_array(np.array([1, complex(0, np.inf), np.nan], np.complex64), "c")
    assert outcome(with_initializer(tensor)) == ("CW422", "tensor 'c' has 2 NaN or infinite values")


def test_integers_are_not_checked_for_finiteness() -> None:
    big = numpy_helper.from_array(np.array([np.iinfo(np.int64).max, 0], np.int64), "i")
    assert outcome(with_initializer(big)) == ("ok", "")


# --- added after the first run on 1ae8778 ------------------------------------------------------------------------

@pytest.mark.parametrize("domain", ["", "ai.onnx"])
def test_a_local_function_shadowing_a_standard_operator_is_refused_in_either_spelling(domain: str) -> None:
    """The default domain spelt out, 'ai.onnx', is unknown to onnx.defs: a function Relu in 'ai.onnx' passed before
    the fix."""
    shadow = local_function([helper.make_node("Neg", ["a"], ["b"])], name="Relu", domain=domain)
    assert outcome(classifier(functions=[shadow])) == (
        "CW419", "local function 'Relu' redefines a standard operator")


def test_a_standard_operator_is_looked_up_in_the_functions_own_domain() -> None:
    imports = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
    ml = local_function([helper.make_node("Relu", ["a"], ["b"])], name="LinearClassifier", domain="ai.onnx.ml",
                        imports=imports)
    assert outcome(classifier(functions=[ml], imports=imports)) == (
        "CW419", "local function 'LinearClassifier' redefines a standard operator")
    relu_in_ml = local_function([helper.make_node("Neg", ["a"], ["b"])], name="Relu", domain="ai.onnx.ml",
                                imports=imports)
    assert outcome(classifier(functions=[relu_in_ml], imports=imports)) == ("ok", "")  # ai.onnx.ml has no Relu


def test_the_checker_runs_without_full_shape_inference() -> None:
    """A declared output shape (1, 3) that inference would make (1, 5): full_check=True refuses it, the reader
    does not (ONNX Runtime re-evaluates the graph later)."""
    model = classifier(initializer=[numpy_helper.from_array(np.ones((4, 5), np.float32), "w"),
                                    numpy_helper.from_array(np.zeros(5, np.float32), "b")])
    with pytest.raises(onnx.shape_inference.InferenceError):
        onnx.checker.check_model(model, full_check=True)
    assert outcome(model) == ("ok", "")


@pytest.mark.parametrize("text", ["", " \n "])
def test_a_checker_error_without_text_is_named_by_its_type(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    def refuse(model: Any, full_check: bool = False) -> None:
        raise onnx.checker.ValidationError(text)
    monkeypatch.setattr(onnx.checker, "check_model", refuse)
    assert outcome(classifier()) == ("CW423", "onnx.checker refuses the graph: 'ValidationError'")


def test_an_unnamed_non_finite_tensor_message() -> None:
    assert outcome(with_initializer(nan_tensor(""))) == ("CW422", "tensor '(unnamed)' has 1 NaN or infinite values")


@pytest.mark.parametrize("data_type,bits", [(TensorProto.INT4, 4), (TensorProto.UINT2, 2),
                                            (TensorProto.FLOAT6E2M3, 6)])
def test_packed_bytes_when_the_bits_fill_whole_bytes(data_type: int, bits: int) -> None:
    packed = numpy_helper.from_array(np.zeros(8, dtype=helper.tensor_dtype_to_np_dtype(data_type)), "q")
    assert len(packed.raw_data) == bits  # 8 elements of `bits` bits
    assert outcome(with_initializer(packed)) == ("ok", "")
