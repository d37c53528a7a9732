"""Library architectures by name (issue 15): torchvision.models and keras.applications builders as trusted
references, the table of cross-framework equivalents, tensor layouts, and verdicts on new pairs.

Figures are the real ones of torchvision 0.29 / Keras 3.15 models at 10 classes and 32×32×3 (75×75×3 for
Inception v3). Each model is built once per session (PyTorch ones on the meta device) and never run, except
the few built for real to compare logits and predictions. Tests marked `slow` build large real Keras models
(over 20 s each on a loaded 2-core runner); `-m "not slow"` leaves them out.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is first imported: 2-core runners
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cwcontrib.architectures import ArchitectureError, Fingerprint, build, compare, fingerprint, modifications_for
from cwcontrib.architectures.equivalents import TABLE, equivalent, equivalent_of
from cwcontrib.architectures.layout import LayoutError, load_torch_into_keras, torch_to_keras
from cwcontrib.architectures.library import keras_builders, listing, torchvision_builders
from cwcontrib.architectures.registry import route

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

REPO = Path(__file__).resolve().parents[1]
TV, KA = "torchvision.models.", "keras.applications."
GetFingerprint = Callable[..., Fingerprint]


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


_CACHE: dict[tuple[str, str, tuple[int, int, int], tuple[str, ...]], Fingerprint] = {}


@pytest.fixture(scope="session")
def fp() -> GetFingerprint:
    """fp(library name, shape=(32, 32, 3), modifications=()) -> Fingerprint, each model built once per session."""

    def get(name: str, shape: tuple[int, int, int] = (32, 32, 3), modifications: tuple[str, ...] = ()) -> Fingerprint:
        framework = "pytorch" if name.startswith(TV) else "tensorflow"
        key = (name, framework, shape, modifications)
        if key not in _CACHE:
            model = build(name, framework, 10, shape, modifications, meta=framework == "pytorch")
            _CACHE[key] = fingerprint(model, shape, label=name.removeprefix(TV).removeprefix(KA))
        return _CACHE[key]

    return get


# ------------------------------------------------------------------------------------------------ routes


def test_routes_import_no_framework() -> None:
    code = ("import sys; from cwcontrib.architectures.registry import route; "
            "print([route(n) for n in ('vgg16', 'torchvision.models.resnet18', 'keras.applications.MobileNetV2')]); "
            "print(sorted(m for m in ('torch', 'keras', 'tensorflow', 'torchvision') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert result.stdout.split("\n")[:2] == ["['registry', 'torchvision', 'keras.applications']", "[]"]
    with pytest.raises(ArchitectureError, match=r"unknown architecture 'mlp'; known: .*or a library builder"):
        route("mlp")


def test_allowlists_are_enumerated_classifiers() -> None:
    torch_names, keras_names = torchvision_builders(), keras_builders()
    assert len(torch_names) == 80 and len(keras_names) == 40  # torchvision 0.29.1, Keras 3.15.1
    assert {TV + "resnet18", TV + "vit_b_16", TV + "convnext_tiny", TV + "efficientnet_b7"} <= set(torch_names)
    assert {KA + "MobileNetV2", KA + "ResNet50V2", KA + "Xception", KA + "EfficientNetB7"} <= set(keras_names)
    # Detection, segmentation, video and quantized builders live in submodules: not classifiers, not listed.
    assert not [n for n in torch_names if any(w in n for w in ("rcnn", "fcn", "deeplab", "r3d", "raft", "quantized"))]
    assert KA + "imagenet_utils" not in keras_names and KA + "resnet" not in keras_names  # modules, not builders
    assert list(torch_names) == sorted(torch_names) and list(keras_names) == sorted(keras_names)


@pytest.mark.parametrize(
    ("name", "framework", "shape", "parameters"),
    [
        (TV + "resnet18", "pytorch", (32, 32, 3), 11_181_642),
        (TV + "squeezenet1_1", "pytorch", (32, 32, 3), 727_626),
        (TV + "vit_b_16", "pytorch", (32, 32, 3), 85_658_890),  # image_size=32: 4 patch positions + class token
        (TV + "vit_b_16", "pytorch", (224, 224, 3), 85_806_346),
        (KA + "MobileNetV2", "tensorflow", (32, 32, 3), 2_236_682),
        (KA + "MobileNetV2", "pytorch", (32, 32, 3), 2_236_682),  # its table equivalent, torchvision's
    ],
)
def test_builds_at_the_declared_shape(name: str, framework: str, shape: tuple[int, int, int],
                                      parameters: int) -> None:
    model = build(name, framework, 10, shape, meta=framework == "pytorch")
    got = fingerprint(model, shape)
    assert got.framework == framework and got.parameters == parameters


def test_keras_builds_without_weights_and_with_softmax_unless_removed(fp: GetFingerprint) -> None:
    model = build(KA + "MobileNetV2", "tensorflow", 10, (32, 32, 3))
    assert model.output_shape == (None, 10)
    assert fp(KA + "MobileNetV2").kind("softmax").count == 1
    assert fp(KA + "MobileNetV2", modifications=("softmax-removed",)).kind("softmax").count == 0


@pytest.mark.parametrize(
    ("name", "framework", "shape", "modifications", "message"),
    [
        (TV + "resnet18", "pytorch", (32, 32, 1), (), "torchvision's classification builders take 3 channels"),
        (TV + "fasterrcnn_resnet50_fpn", "pytorch", (32, 32, 3), (),
         "not an image-classification builder of the installed torchvision; 80 are available"),
        (KA + "mobilenetv2", "tensorflow", (32, 32, 3), (), "did you mean keras.applications.MobileNetV2"),
        (TV + "alexnet", "pytorch", (32, 32, 3), (), r"alexnet cannot take input \(32, 32, 3\).*output size"),
        (TV + "maxvit_t", "pytorch", (32, 32, 3), (), "not divisible by partition size"),
        (TV + "vit_b_16", "pytorch", (32, 48, 3), (), "image_size is square"),
        (KA + "Xception", "tensorflow", (32, 32, 3), (), r"Xception cannot take input.*at least 71"),
        (KA + "Xception", "pytorch", (75, 75, 3), (), "has no pytorch equivalent in the table"),
        (TV + "resnet18", "tensorflow", (32, 32, 3), (), "has no tensorflow equivalent in the table"),
        (TV + "resnet18", "pytorch", (32, 32, 3), ("softmax-removed",),
         "unknown modification 'softmax-removed' for torchvision.models.resnet18; known: none"),
        (KA + "VGG19", "tensorflow", (32, 32, 3), ("preprocessing-removed",), "known: 'softmax-removed'$"),
        (TV + "resnet18", "jax", (32, 32, 3), (), "unknown framework 'jax'"),
    ],
)
def test_refusals_name_the_reason(name: str, framework: str, shape: tuple[int, int, int],
                                  modifications: tuple[str, ...], message: str) -> None:
    with pytest.raises(ArchitectureError, match=message):
        build(name, framework, 10, shape, modifications, meta=framework == "pytorch")


def test_modifications_per_builder() -> None:
    assert set(modifications_for(TV + "inception_v3", "pytorch")) == {"aux-logits-removed"}
    assert modifications_for(TV + "resnet18", "pytorch") == {}
    assert set(modifications_for(KA + "MobileNetV3Small", "tensorflow")) == {"softmax-removed", "preprocessing-removed"}
    assert set(modifications_for(KA + "ResNet50V2", "tensorflow")) == {"softmax-removed"}
    # A library name in the other framework's key means its equivalent there, modifications included.
    assert set(modifications_for(TV + "convnext_tiny", "tensorflow")) == {"softmax-removed", "preprocessing-removed"}


def test_aux_logits_removed_drops_the_auxiliary_classifier(fp: GetFingerprint) -> None:
    full, bare = fp(TV + "inception_v3", (75, 75, 3)), fp(TV + "inception_v3", (75, 75, 3), ("aux-logits-removed",))
    assert (full.parameters, bare.parameters) == (24_371_444, 21_806_058)
    assert full.macs == bare.macs  # the auxiliary head is not run at inference
    keys = build(TV + "inception_v3", "pytorch", 10, (75, 75, 3), ("aux-logits-removed",), meta=True).state_dict()
    assert not [k for k in keys if k.startswith("AuxLogits.")]


# ------------------------------------------------------------------------------------------- equivalents


def test_table_names_real_builders_of_both_libraries() -> None:
    torch_names, keras_names = set(torchvision_builders()), set(keras_builders())
    for row in TABLE:
        assert row.torchvision in torch_names, row
        assert row.keras in keras_names, row
        assert equivalent_of(row.torchvision) == row.keras and equivalent_of(row.keras) == row.torchvision
        assert equivalent(row.keras) is row
    pairs = {row.torchvision.removeprefix(TV): row.keras.removeprefix(KA) for row in TABLE}
    assert pairs == {
        "vgg16": "VGG16", "vgg19": "VGG19", "resnet50": "ResNet50", "resnet101": "ResNet101", "resnet152": "ResNet152",
        "densenet121": "DenseNet121", "densenet169": "DenseNet169", "densenet201": "DenseNet201",
        "mobilenet_v2": "MobileNetV2", "mobilenet_v3_small": "MobileNetV3Small",
        "mobilenet_v3_large": "MobileNetV3Large", "inception_v3": "InceptionV3",
        **{f"efficientnet_b{i}": f"EfficientNetB{i}" for i in range(8)},
        "efficientnet_v2_s": "EfficientNetV2S", "efficientnet_v2_m": "EfficientNetV2M",
        "efficientnet_v2_l": "EfficientNetV2L", "convnext_tiny": "ConvNeXtTiny", "convnext_small": "ConvNeXtSmall",
        "convnext_base": "ConvNeXtBase", "convnext_large": "ConvNeXtLarge",
    }
    keys = {row.key for row in TABLE}
    assert {"vgg16", "vgg19", "resnet50", "resnet101", "resnet152", "densenet121", "densenet169", "densenet201",
            "mobilenet-v2", "mobilenet-v3-small", "mobilenet-v3-large", "inception-v3", "convnext-tiny",
            "convnext-large", *(f"efficientnet-b{i}" for i in range(8))} <= keys
    assert len(keys) == len(TABLE)
    assert equivalent_of(TV + "resnet18") is None and equivalent_of(KA + "ResNet50V2") is None


# ------------------------------------------------------------------------------- verdicts on new pairs


def pair(fp: GetFingerprint, torch_name: str, keras_name: str, shape: tuple[int, int, int] = (32, 32, 3),
         torch_mods: tuple[str, ...] = (), keras_mods: tuple[str, ...] = ()) -> tuple[Any, Fingerprint, Fingerprint]:
    a, b = fp(TV + torch_name, shape, torch_mods), fp(KA + keras_name, shape, keras_mods)
    return compare(a, b), a, b


def test_vgg19_pair(fp: GetFingerprint) -> None:
    verdict, a, b = pair(fp, "vgg19", "VGG19")
    assert verdict.kinds == ["parameter-count", "classifier", "dropout", "output-activation", "layer-count", "flops"]
    assert (a.parameters, b.parameters) == (139_611_210, 38_947_914)
    assert (a.macs, b.macs) == (517_709_824, 417_046_528)
    assert a.dense_shapes[0] == (25088, 4096) and b.dense_shapes[0] == (512, 4096)
    assert "+24.1% MACs" in verdict.summary()


def test_resnet101_pair(fp: GetFingerprint) -> None:
    verdict, a, b = pair(fp, "resnet101", "ResNet101")
    assert verdict.kinds == ["parameter-count", "conv-bias", "conv-geometry", "batchnorm-epsilon",
                             "batchnorm-momentum", "output-activation", "flops"]
    assert (a.parameters, b.parameters) == (42_520_650, 42_573_322)
    assert (a.conv_with_bias, b.conv_with_bias) == (0, 104) and b.conv_bias_parameters == 52_672
    assert (a.macs, b.macs) == (159_191_040, 154_472_448)
    geometry = verdict.get("conv-geometry")
    assert geometry is not None and geometry.figure == "1x1/s1 67 vs 64, 1x1/s2 3 vs 6, 3x3/s1 30 vs 33, 3x3/s2 3 vs 0"


@pytest.mark.slow
def test_densenet169_pair_differs_only_in_batchnorm_defaults_and_softmax(fp: GetFingerprint) -> None:
    verdict, a, b = pair(fp, "densenet169", "DenseNet169")
    assert verdict.kinds == ["batchnorm-epsilon", "batchnorm-momentum", "output-activation"]
    assert a.parameters == b.parameters == 12_501_130 and a.macs == b.macs == 68_550_912
    assert compare(a, fp(KA + "DenseNet169", modifications=("softmax-removed",))).kinds == [
        "batchnorm-epsilon", "batchnorm-momentum"]


def test_mobilenet_v2_pair_names_asymmetric_padding(fp: GetFingerprint) -> None:
    verdict, a, b = pair(fp, "mobilenet_v2", "MobileNetV2")
    assert verdict.kinds == ["batchnorm-epsilon", "batchnorm-momentum", "padding", "dropout", "output-activation"]
    assert a.parameters == b.parameters == 2_236_682 and a.macs == b.macs == 6_124_928
    assert (a.batchnorm_epsilon, b.batchnorm_epsilon) == ((1e-5,), (1e-3,))
    assert (a.batchnorm_momentum, b.batchnorm_momentum) == ((0.1,), (0.001,))  # Keras 0.999
    padding = verdict.get("padding")
    assert padding is not None and padding.figure == "conv:asymmetric 0 vs 5, conv:symmetric 18 vs 13"


def test_efficientnet_b0_pair_names_keras_preprocessing(fp: GetFingerprint) -> None:
    verdict, a, b = pair(fp, "efficientnet_b0", "EfficientNetB0")
    assert verdict.kinds == ["parameter-count", "other-parameters", "batchnorm-epsilon", "batchnorm-momentum",
                             "padding", "preprocessing", "output-activation"]
    assert (a.parameters, b.parameters) == (4_020_358, 4_020_365)  # Normalization's mean (3), variance (3), count
    assert a.macs == b.macs == 8_474_848
    # torchvision's 9 stochastic depths + its classifier dropout = Keras's 10 Dropouts: not a difference
    assert a.kind("dropout").count == b.kind("dropout").count == 10
    preprocessing = verdict.get("preprocessing")
    assert preprocessing is not None and "Normalization×1, Rescaling×1" in preprocessing.detail


def test_convnext_tiny_pair(fp: GetFingerprint) -> None:
    verdict, a, b = pair(fp, "convnext_tiny", "ConvNeXtTiny")
    assert verdict.kinds == ["dropout", "preprocessing", "output-activation", "layer-count"]
    assert a.parameters == b.parameters == 27_827_818 and a.macs == b.macs == 90_921_216
    assert a.kind("dropout").types == (("StochasticDepth", 18),) and b.kind("dropout").count == 0
    assert a.kind("activation").count == b.kind("activation").count == 18  # Keras's Activation("linear") skipped
    nothing_built_in = compare(a, fp(KA + "ConvNeXtTiny", modifications=("softmax-removed", "preprocessing-removed")))
    assert "preprocessing" not in nothing_built_in.kinds and "output-activation" not in nothing_built_in.kinds


def test_inception_v3_pair(fp: GetFingerprint) -> None:
    verdict, a, b = pair(fp, "inception_v3", "InceptionV3", (75, 75, 3), torch_mods=("aux-logits-removed",))
    assert (a.parameters, b.parameters) == (21_806_058, 21_788_842)
    assert a.macs == b.macs
    assert "batchnorm-parameters" in verdict.kinds and "conv-bias" not in verdict.kinds


def test_out_of_table_pair_resnet18_vs_resnet50v2(fp: GetFingerprint) -> None:
    verdict, a, b = pair(fp, "resnet18", "ResNet50V2")
    assert verdict.kinds == ["parameter-count", "classifier", "conv-bias", "conv-parameters", "conv-geometry",
                             "batchnorm-parameters", "buffers", "batchnorm-epsilon", "batchnorm-momentum", "padding",
                             "output-activation", "layer-count", "flops"]
    assert (a.parameters, b.parameters) == (11_181_642, 23_539_850)
    assert (a.macs, b.macs) == (37_016_576, 71_045_120)
    assert (a.dense_shapes, b.dense_shapes) == (((512, 10),), ((2048, 10),))
    assert verdict.summary().startswith("resnet18 vs ResNet50V2 differ: parameter-count (-12.4M), classifier "
                                        "(-15,360 params)")
    assert "-47.9% MACs" in verdict.summary()


# ----------------------------------------------------------------------------------------------- layouts


def _random_batchnorm(model: Any) -> None:
    import torch

    generator = torch.Generator().manual_seed(15)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                assert module.running_mean is not None and module.running_var is not None
                module.running_mean.normal_(0.0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0.0, 0.1, generator=generator)


@pytest.mark.slow
def test_densenet121_torch_weights_map_onto_keras_with_the_same_logits() -> None:
    import torch

    row = equivalent(TV + "densenet121")
    assert row is not None and row.ordered
    torch_model = build(row.torchvision, "pytorch", 10, (32, 32, 3)).eval()
    _random_batchnorm(torch_model)
    keras_model = build(row.keras, "tensorflow", 10, (32, 32, 3), row.logits_modifications)
    assert load_torch_into_keras(torch_model, keras_model) == 120 + 121 + 1  # convolutions, BatchNorms, dense
    x = np.random.default_rng(15).random((2, 32, 32, 3), dtype=np.float32)
    with torch.inference_mode():
        expected = torch_model(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()  # NHWC -> NCHW
    got = np.asarray(keras_model(x, training=False))
    # Only BatchNorm epsilon differs (1e-5 vs 1.001e-5): logits agree to float32 rounding.
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert float(np.abs(expected).max()) > 0.1  # not a vacuous comparison of zeros


@pytest.mark.slow
def test_stage_5_harness_reevaluates_library_references() -> None:
    """evaluate.py's strict loads and predictions on library references, as stage 5 builds them (PyTorch on the
    meta device, weights assigned): the same classes as the models the weights came from."""
    import torch

    from cwcontrib.evaluate import (
        keras_reference_tensors,
        load_keras_weights,
        load_torch_state,
        predict_keras,
        predict_torch,
    )

    x = np.random.default_rng(5).random((16, 32, 32, 3), dtype=np.float32)
    trained = build(TV + "mobilenet_v3_small", "pytorch", 10, (32, 32, 3)).eval()
    _random_batchnorm(trained)
    reference = build(TV + "mobilenet_v3_small", "pytorch", 10, (32, 32, 3), meta=True)
    load_torch_state(reference, {k: v.detach().numpy() for k, v in trained.state_dict().items()})
    with torch.inference_mode():
        expected = trained(torch.from_numpy(x).permute(0, 3, 1, 2)).argmax(dim=1).numpy()
    assert predict_torch(reference, x, "cpu").tolist() == expected.tolist()
    keras_trained = build(KA + "MobileNetV3Small", "tensorflow", 10, (32, 32, 3))
    keras_reference = build(KA + "MobileNetV3Small", "tensorflow", 10, (32, 32, 3))
    load_keras_weights(keras_reference, keras_reference_tensors(keras_trained))
    keras_expected = np.asarray(keras_trained(x, training=False)).argmax(axis=1)
    assert predict_keras(keras_reference, x).tolist() == keras_expected.tolist()


@pytest.mark.slow
def test_layouts_refuse_pairs_that_do_not_correspond() -> None:
    resnet = torch_to_keras  # ResNet50: Keras's convolutions have biases, and its shortcut comes first
    with pytest.raises(LayoutError, match="bias on one side only"):
        resnet(build(TV + "resnet50", "pytorch", 10, (32, 32, 3), meta=True),
               build(KA + "ResNet50", "tensorflow", 10, (32, 32, 3)))
    with pytest.raises(LayoutError, match=r"classifier\.0 \(dense\) vs Keras fc1 \(dense\): shapes \[\(25088, 4096\)"):
        torch_to_keras(build(TV + "vgg19", "pytorch", 10, (32, 32, 3), meta=True),
                       build(KA + "VGG19", "tensorflow", 10, (32, 32, 3)))


# ---------------------------------------------------------------------------------------- listing, stages


def test_cli_lists_every_route(capsys: pytest.CaptureFixture[str]) -> None:
    from cwcontrib import cli

    assert cli.main(["architectures"]) == 0
    out = capsys.readouterr().out
    assert out == listing()
    assert out.startswith("registry: ")
    assert "\ntorchvision: 80 image-classification builders of torchvision 0.29" in out
    assert "\nkeras.applications: 40 image-classification builders of keras 3.15" in out
    assert "\n  torchvision.models.resnet101  = keras.applications.ResNet101\n" in out
    assert "\n  keras.applications.MobileNetV3Small  = torchvision.models.mobilenet_v3_small  [modifications: " \
           "softmax-removed, preprocessing-removed]\n" in out
    assert "\n  torchvision.models.resnet18\n" in out and "\n  vgg16: " in out
    assert "\nequivalents: " in out and "\n  efficientnet-b7: torchvision.models.efficientnet_b7 = " in out


@pytest.mark.slow
def test_manifest_naming_a_library_pair_validates_through_stage_4(submission: Any, tmp_path: Path) -> None:
    """The demo re-declared as a torchvision MobileNetV3-Small / keras.applications equivalent pair at 32×32×3,
    with real weights of both: stages 1-4 pass (stage 5 would need 32×32×3 data), CW413 names the differences."""
    import safetensors.numpy

    from cwcontrib.checks import Options
    from cwcontrib.validate import validate

    torch_model = build(KA + "MobileNetV3Small", "pytorch", 10, (32, 32, 3))  # the table's torchvision equivalent
    state = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
    safetensors.numpy.save_file(state, str(tmp_path / "pytorch.safetensors"))
    build(KA + "MobileNetV3Small", "tensorflow", 10, (32, 32, 3)).save_weights(tmp_path / "keras.weights.h5")
    data = submission.manifest()
    old = {r["weights"] for t in data["trials"] for r in t["runs"].values()}
    data["artifacts"] = [a for a in data["artifacts"] if a["path"] not in old]
    for rel in old:
        (submission.root / rel).unlink()
    data["architecture"] = {
        "name": KA + "MobileNetV3Small", "num_classes": 10,
        "input_shape": {"height": 32, "width": 32, "channels": 3}, "parameter_count": 1_528_106,
        "implementations": {"pytorch": {"definition": TV + "mobilenet_v3_small", "layout": "NCHW"},
                            "keras": {"definition": KA + "MobileNetV3Small", "layout": "NHWC"}},
    }
    for trial in data["trials"]:
        for key, source, fmt in (("pytorch", "pytorch.safetensors", "safetensors"),
                                 ("keras", "keras.weights.h5", "keras-h5")):
            rel = f"weights/{trial['id']}-{source}"
            (submission.root / rel).write_bytes((tmp_path / source).read_bytes())
            trial["runs"][key]["weights"] = rel
            data["artifacts"].append({"path": rel, "format": fmt})
    submission.write_manifest(data)
    for artifact in submission.manifest()["artifacts"]:
        if artifact["path"].startswith("weights/"):
            submission.redeclare(artifact["path"], artifact["format"])

    report = validate(submission.root, options=Options(reeval=False))
    errors = [f for f in report.findings if f.severity.value == "error"]
    assert not errors, [(f.code, f.message) for f in errors]
    pair_warnings = [f for f in report.findings if f.code == "CW413"]
    assert len(pair_warnings) == 1
    assert pair_warnings[0].message.startswith("keras vs pytorch: keras vs pytorch differ: classifier (-601,098 "
                                               "params), conv-bias (+1,034 params)")
    fingerprints = report.extra["architectures"]
    assert fingerprints["pytorch"]["parameters"] == fingerprints["keras"]["parameters"] == 1_528_106
    assert {"CW411", "CW412", "CW407", "CW408", "CW409"}.isdisjoint({f.code for f in report.findings})


def test_cli_compares_two_architectures_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from cwcontrib import cli

    assert cli.main(["architectures", "--compare", TV + "resnet18", KA + "ResNet50V2"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["a"] == TV + "resnet18" and verdict["equivalent"] is False
    assert [d["kind"] for d in verdict["differences"]][:3] == ["parameter-count", "classifier", "conv-bias"]
    assert verdict["differences"][0]["figure"] == "-12.4M"
    assert cli.main(["architectures", "--compare", "vgg16", TV + "vgg16", "--input-shape", "8", "8", "3"]) == 2
    assert "vgg16 (pytorch) cannot take input (8, 8, 3)" in capsys.readouterr().err
