"""The reference architecture registry, fingerprints, pair verdicts and Keras/PyTorch weight layouts.

Figures are the real ones of torchvision 0.29 / Keras 3.15 models at CIFAR-10's 32×32×3 and 10 classes.
Big models are built once per module (PyTorch ones on the meta device) and never run: fingerprints
compute MACs from shapes.
"""

from __future__ import annotations

import json
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

from cwcontrib.architectures import (
    ArchitectureError,
    Fingerprint,
    FingerprintError,
    build,
    compare,
    fingerprint,
    modifications_for,
    names,
    spec,
)
from tests.weight_layouts import (  # a test helper: the validator compares Keras tensors by name, not by layout
    DIGITS_CNN_KERAS_PATHS,
    WeightLayoutError,
    digits_cnn_keras_layout,
    keras_to_torch_state,
    keras_weight_layout,
    keras_weight_paths,
    torch_to_keras_state,
)

# Keras 3.15 under numpy 2 warns from inside save_weights/get_weights; nothing this project can change.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

REPO = Path(__file__).resolve().parents[1]
VGG_MODIFIED = ("avgpool-and-classifier-removed",)
GetFingerprint = Callable[..., Fingerprint]


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def fp() -> GetFingerprint:
    """fp(name, framework, modifications=()) -> Fingerprint, each model built once per module."""
    cache: dict[tuple[str, str, tuple[str, ...]], Fingerprint] = {}

    def get(name: str, framework: str, modifications: tuple[str, ...] = ()) -> Fingerprint:
        key = (name, framework, modifications)
        if key not in cache:
            model = build(name, framework, modifications=modifications, meta=framework == "pytorch")
            library = "torchvision" if framework == "pytorch" else "keras"
            label = f"{library} {name}" + (f" ({', '.join(modifications)})" if modifications else "")
            cache[key] = fingerprint(model, spec(name).default_input_shape, label=label)
        return cache[key]

    return get


# ----------------------------------------------------------------------------------------------- registry


def test_import_loads_no_framework() -> None:
    code = ("import sys, cwcontrib.architectures as a; a.names(); a.spec('vgg16'); "
            "print(sorted(m for m in ('torch', 'keras', 'tensorflow', 'torchvision') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert result.stdout.strip() == "[]"


def test_names_and_modifications() -> None:
    assert names() == ["densenet121", "digits-cnn", "resnet50", "vgg16"]
    assert set(modifications_for("vgg16", "pytorch")) == {"avgpool-and-classifier-removed", "dropout-removed"}
    assert "25088×4096" in modifications_for("vgg16", "pytorch")["avgpool-and-classifier-removed"]
    assert modifications_for("resnet50", "pytorch") == {}
    assert set(modifications_for("densenet121", "tensorflow")) == {"softmax-removed"}
    assert spec("vgg16").definitions == {"pytorch": "torchvision.models.vgg16",
                                         "tensorflow": "keras.applications.VGG16"}


@pytest.mark.parametrize(
    ("name", "framework", "modifications", "parameters", "buffers"),
    [
        ("digits-cnn", "pytorch", (), 8_714, 0),
        ("digits-cnn", "tensorflow", (), 8_714, 0),
        ("vgg16", "pytorch", (), 134_301_514, 0),
        ("vgg16", "pytorch", VGG_MODIFIED, 33_638_218, 0),
        ("vgg16", "tensorflow", (), 33_638_218, 0),
        ("resnet50", "pytorch", (), 23_528_522, 53_120),
        ("resnet50", "tensorflow", (), 23_555_082, 53_120),
        ("densenet121", "pytorch", (), 6_964_106, 83_648),
        ("densenet121", "tensorflow", (), 6_964_106, 83_648),
    ],
)
def test_parameter_counts(fp: GetFingerprint, name: str, framework: str, modifications: tuple[str, ...],
                          parameters: int, buffers: int) -> None:
    got = fp(name, framework, modifications)
    assert (got.parameters, got.trainable, got.buffers) == (parameters, parameters, buffers)
    assert sum(s.parameters for s in got.layers) == parameters


def test_digits_cnn_torch_definition() -> None:
    model = build("digits-cnn", "pytorch")
    assert list(model.state_dict()) == ["conv.weight", "conv.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert sum(p.numel() for p in model.parameters()) == 8_714
    other = build("digits-cnn", "pytorch", num_classes=7, input_shape=(6, 10, 3))
    assert tuple(other.fc1.weight.shape) == (32, 16 * 3 * 5) and other.fc2.out_features == 7


def test_meta_build_fingerprints_like_a_real_one(fp: GetFingerprint) -> None:
    real = build("densenet121", "pytorch")
    real.train()
    before = {k: v.clone() for k, v in real.state_dict().items() if k.endswith("running_mean")}
    got = fingerprint(real, (32, 32, 3), label="torchvision densenet121")
    assert got == fp("densenet121", "pytorch")
    assert real.training and all(m.training for m in real.modules())  # modes restored
    after = real.state_dict()
    assert all(after[k].device.type == "cpu" and bool((after[k] == v).all()) for k, v in before.items())


def test_registry_errors() -> None:
    with pytest.raises(ArchitectureError, match="unknown architecture 'vgg19'; known: densenet121, digits-cnn"):
        build("vgg19", "pytorch")
    with pytest.raises(ArchitectureError, match="unknown modification 'avgpool removed' for vgg16 in pytorch; "
                                                "known: 'avgpool-and-classifier-removed', 'dropout-removed'"):
        build("vgg16", "pytorch", modifications=("avgpool removed",))
    with pytest.raises(ArchitectureError, match="for resnet50 in pytorch; known: none"):
        build("resnet50", "pytorch", modifications=["softmax-removed"], meta=True)
    with pytest.raises(ArchitectureError, match="unknown framework 'jax'"):
        build("vgg16", "jax")
    with pytest.raises(ArchitectureError, match="unknown framework"):
        modifications_for("vgg16", "keras")
    with pytest.raises(ArchitectureError, match="list of names, not the string"):
        build("vgg16", "pytorch", modifications="dropout-removed")  # type: ignore[arg-type]
    with pytest.raises(ArchitectureError, match="num_classes"):
        build("digits-cnn", "pytorch", num_classes=0)
    with pytest.raises(ArchitectureError, match="3 channels"):
        build("resnet50", "pytorch", input_shape=(32, 32, 1), meta=True)
    with pytest.raises(ArchitectureError, match="PyTorch-only"):
        build("digits-cnn", "tensorflow", meta=True)


# ------------------------------------------------------------------------------------------------ verdicts


def test_digits_cnn_pair_is_equivalent(fp: GetFingerprint) -> None:
    a, b = fp("digits-cnn", "pytorch"), fp("digits-cnn", "tensorflow")
    verdict = compare(a, b)
    assert verdict.equivalent, verdict.summary()
    assert verdict.summary() == "torchvision digits-cnn vs keras digits-cnn: equivalent"
    assert a.macs == b.macs == 16 * 64 * 9 + 256 * 32 + 32 * 10  # 17,728
    assert a.kind("activation").count == b.kind("activation").count == 2
    assert a.padding == b.padding == (("conv:symmetric", 1), ("pool:valid", 1))


def test_vgg16_verdict_names_the_classifier(fp: GetFingerprint) -> None:
    torch_fp, keras_fp = fp("vgg16", "pytorch"), fp("vgg16", "tensorflow")
    verdict = compare(torch_fp, keras_fp)
    assert verdict.kinds == ["parameter-count", "classifier", "dropout", "output-activation", "layer-count", "flops"]
    assert torch_fp.dense_shapes == ((25088, 4096), (4096, 4096), (4096, 10))
    assert keras_fp.dense_shapes == ((512, 4096), (4096, 4096), (4096, 10))
    classifier = verdict.get("classifier")
    assert classifier is not None
    assert "torchvision vgg16 has 100,663,296 more parameters in dense layers" in classifier.detail
    assert "119,586,826 (25088×4096, 4096×4096, 4096×10)" in classifier.detail
    assert verdict.summary().startswith("torchvision vgg16 vs keras vgg16 differ: parameter-count (+100.7M), "
                                        "classifier (+100.7M params), dropout (2 vs 0)")
    assert torch_fp.kind("pooling").count - keras_fp.kind("pooling").count == 1  # the AdaptiveAvgPool2d
    assert torch_fp.macs - keras_fp.macs == 25088 * 4096 - 512 * 4096


def test_modified_vgg16_is_much_closer(fp: GetFingerprint) -> None:
    verdict = compare(fp("vgg16", "pytorch", VGG_MODIFIED), fp("vgg16", "tensorflow"))
    assert verdict.kinds == ["dropout", "output-activation"]  # same parameters, shapes, MACs and padding
    fully = compare(fp("vgg16", "pytorch", (*VGG_MODIFIED, "dropout-removed")),
                    fp("vgg16", "tensorflow", ("softmax-removed",)))
    assert fully.equivalent, fully.summary()
    # The flatten width follows the input: 512·(H/32)·(W/32), as Keras's Flatten does.
    shape = (64, 96, 3)
    wide = [fingerprint(build("vgg16", fw, input_shape=shape, modifications=mods, meta=fw == "pytorch"), shape)
            for fw, mods in (("pytorch", (*VGG_MODIFIED, "dropout-removed")), ("tensorflow", ("softmax-removed",)))]
    assert wide[0].dense_shapes[0] == (512 * 2 * 3, 4096)
    assert compare(*wide).equivalent, compare(*wide).summary()


def test_resnet50_verdict(fp: GetFingerprint) -> None:
    torch_fp, keras_fp = fp("resnet50", "pytorch"), fp("resnet50", "tensorflow")
    verdict = compare(torch_fp, keras_fp)
    assert verdict.kinds == ["parameter-count", "conv-bias", "conv-geometry", "batchnorm-epsilon",
                             "batchnorm-momentum", "output-activation", "flops"]
    assert (torch_fp.conv_with_bias, keras_fp.conv_with_bias) == (0, 53)
    assert keras_fp.conv_bias_parameters == keras_fp.parameters - torch_fp.parameters == 26_560
    assert (torch_fp.batchnorm_epsilon, keras_fp.batchnorm_epsilon) == ((1e-5,), (1.001e-5,))
    assert (torch_fp.batchnorm_momentum, keras_fp.batchnorm_momentum) == ((0.1,), (0.01,))
    # torchvision's v1.5 strides the 3×3 convolution, Keras's v1 the first 1×1.
    assert dict(torch_fp.conv_geometry)["3x3/s2"] == 3 and "3x3/s2" not in dict(keras_fp.conv_geometry)
    assert (torch_fp.macs, keras_fp.macs) == (83_431_424, 78_712_832)
    assert torch_fp.padding == keras_fp.padding  # Keras's ZeroPadding2D folded into conv1 and pool1
    bias = verdict.get("conv-bias")
    assert bias is not None and "keras resnet50 53 of 53 (26,560 parameters)" in bias.detail


def test_densenet121_verdict(fp: GetFingerprint) -> None:
    torch_fp, keras_fp = fp("densenet121", "pytorch"), fp("densenet121", "tensorflow")
    verdict = compare(torch_fp, keras_fp)
    assert verdict.kinds == ["batchnorm-epsilon", "batchnorm-momentum", "output-activation"]
    assert torch_fp.macs == keras_fp.macs
    assert torch_fp.kind("batchnorm").count == keras_fp.kind("batchnorm").count == 121
    assert "1e-05 vs 1.001e-05" in verdict.summary()


def test_fingerprint_is_json_and_deterministic(fp: GetFingerprint) -> None:
    original = fp("resnet50", "tensorflow")
    text = json.dumps(original.as_dict(), sort_keys=True)
    assert Fingerprint.from_dict(json.loads(text)) == original
    again = fingerprint(build("digits-cnn", "tensorflow"), (8, 8, 1), label="keras digits-cnn")
    assert json.dumps(again.as_dict()) == json.dumps(fp("digits-cnn", "tensorflow").as_dict())
    assert json.loads(json.dumps(compare(original, fp("resnet50", "pytorch")).as_dict()))["equivalent"] is False


def test_fingerprint_errors() -> None:
    with pytest.raises(FingerprintError, match=r"expected a torch\.nn\.Module or a keras\.Model"):
        fingerprint(object(), (8, 8, 1))
    with pytest.raises(FingerprintError, match=r"takes \(None, 8, 8, 1\)"):
        fingerprint(build("digits-cnn", "tensorflow"), (32, 32, 3))
    with pytest.raises(FingerprintError, match="does not run on input"):
        fingerprint(build("digits-cnn", "pytorch"), (8, 8, 3))


# ------------------------------------------------------------------------------------------------ layouts


def _random_keras_digits(num_classes: int, shape: tuple[int, int, int], seed: int) -> Any:
    model = build("digits-cnn", "tensorflow", num_classes=num_classes, input_shape=shape)
    rng = np.random.default_rng(seed)
    # Non-zero biases too: Keras initialises them at zero, which would hide a bias mix-up.
    model.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in model.get_weights()])
    return model


def _read_h5(path: Path) -> dict[str, np.ndarray]:
    import h5py

    arrays: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as h5:
        h5.visititems(lambda name, node: arrays.__setitem__(name, node[()]) if isinstance(node, h5py.Dataset)
                      else None)
    return arrays


@pytest.mark.parametrize(("num_classes", "shape"), [(10, (8, 8, 1)), (7, (6, 10, 3))])
def test_keras_weights_map_to_torch_with_same_logits(tmp_path: Path, num_classes: int,
                                                     shape: tuple[int, int, int]) -> None:
    import torch

    keras_model = _random_keras_digits(num_classes, shape, seed=1)
    keras_model.save_weights(tmp_path / "x.weights.h5")
    keras_arrays = _read_h5(tmp_path / "x.weights.h5")
    assert {k: v.shape for k, v in keras_arrays.items()} == digits_cnn_keras_layout(num_classes, shape)

    state = keras_to_torch_state("digits-cnn", keras_arrays, input_shape=shape)
    torch_model = build("digits-cnn", "pytorch", num_classes=num_classes, input_shape=shape)
    torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)

    x = np.random.default_rng(2).normal(size=(5, *shape)).astype("float32")  # NHWC
    expected = np.asarray(keras_model(x))
    with torch.no_grad():
        got = torch_model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()  # NCHW
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)

    back = torch_to_keras_state("digits-cnn", state, input_shape=shape)
    assert set(back) == set(keras_arrays)
    assert all(np.array_equal(back[k], keras_arrays[k]) for k in back)


def test_keras_weight_paths_of_digits_cnn() -> None:
    model = build("digits-cnn", "tensorflow")
    layout = keras_weight_layout(model)
    assert [(w.path, w.layer, w.index, w.shape) for w in layout] == [
        ("layers/conv2d/vars/0", "conv", 0, (3, 3, 1, 16)),
        ("layers/conv2d/vars/1", "conv", 1, (16,)),
        ("layers/dense/vars/0", "fc1", 0, (256, 32)),
        ("layers/dense/vars/1", "fc1", 1, (32,)),
        ("layers/dense_1/vars/0", "fc2", 0, (32, 10)),
        ("layers/dense_1/vars/1", "fc2", 1, (10,)),
    ]
    assert keras_weight_paths(model) == list(digits_cnn_keras_layout()) == sorted(DIGITS_CNN_KERAS_PATHS.values())


def test_demo_submission_keras_files_have_the_registry_layout() -> None:
    weights = sorted((REPO / "submissions" / "digits-cnn-pair" / "weights").glob("*-keras.weights.h5"))
    if not weights:
        pytest.skip("the demo submission has no Keras weights here")
    for path in weights:
        arrays = _read_h5(path)
        # Saved after training, so Keras also wrote the compiled optimizer's state: not model weights.
        model = {k: v.shape for k, v in arrays.items() if not k.startswith("optimizer/")}
        assert model == digits_cnn_keras_layout(), path.name
        assert {k.rsplit("/", 1)[0] for k in set(arrays) - set(model)} <= {"optimizer/vars"}


def test_layout_errors() -> None:
    good = {p: np.zeros(s, "float32") for p, s in digits_cnn_keras_layout().items()}
    with pytest.raises(ArchitectureError, match="no Keras/PyTorch weight mapping for 'vgg16'; mapped: digits-cnn"):
        keras_to_torch_state("vgg16", good)
    with pytest.raises(ArchitectureError, match="unknown architecture"):
        keras_to_torch_state("lenet", good)
    missing = {k: v for k, v in good.items() if k != "layers/dense/vars/1"}
    with pytest.raises(WeightLayoutError, match=r"missing \['layers/dense/vars/1'\], unexpected none"):
        keras_to_torch_state("digits-cnn", missing)
    with pytest.raises(WeightLayoutError, match="pooled map at input 10×10"):
        keras_to_torch_state("digits-cnn", good, input_shape=(10, 10, 1))
    renamed = {("conv.w" if k == "conv.weight" else k): v for k, v in keras_to_torch_state("digits-cnn", good).items()}
    with pytest.raises(WeightLayoutError, match=r"missing \['conv.weight'\], unexpected \['conv.w'\]"):
        torch_to_keras_state("digits-cnn", renamed)
