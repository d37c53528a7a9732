"""Keras to ONNX (issue 15): `export_keras` writes a Keras model as a checked graph that predicts what the model
predicts, and a `digits-mlp` study whose PyTorch and Keras runs both ship ONNX graphs validates and re-evaluates
in ONNX Runtime. The Keras models are trained here, for real, under the TensorFlow backend; the export runs
Keras' own ONNX export under the torch backend in a process of its own (tf2onnx cannot be installed here)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")
pytest.importorskip("tensorflow")

from cwcontrib.datasets import load_test_split, preprocess
from cwcontrib.datasets.digits import digits_rows
from cwcontrib.evaluate import predict_torch
from cwcontrib.onnx.export import OnnxExportError, export_keras, export_torch
from cwcontrib.onnx.harness import predict_onnx
from tests.conftest import DEMO
from tests.digits_mlp import study_from_demo, train_digits_mlp
from tests.test_onnx_validate import run_cli, validate

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def keras_digits_mlp(seed: int, epochs: int = 3) -> Any:
    """The digits-mlp in Keras: Flatten, Dense 32 ReLU, Dense 10 logits; Adam 0.01, batches of 64, train rows in
    file order, `epochs` epochs from `seed`."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    images, labels = digits_rows(0, 1437)
    model.fit(images.astype(np.float32) / 16, labels, batch_size=64, epochs=epochs, shuffle=False, verbose=0)
    return model


def load_graph(path: Path) -> Any:
    from cwcontrib.onnx.check import check_onnx_bytes

    return check_onnx_bytes(path.read_bytes())


def test_an_exported_keras_model_predicts_what_the_model_predicts(tmp_path: Path) -> None:
    import onnx

    model = keras_digits_mlp(seed=0)
    path = export_keras(model, tmp_path / "mlp.onnx")
    graph = onnx.ModelProto.FromString(path.read_bytes()).graph
    assert [i.name for i in graph.input] == ["input"] and [o.name for o in graph.output] == ["logits"]
    assert not graph.input[0].type.tensor_type.shape.dim[0].HasField("dim_value")  # any batch size
    x = preprocess(load_test_split("sklearn-digits"), 0.0625)
    logits = model.predict(x, verbose=0)
    predicted = predict_onnx(load_graph(path), x, layout="NHWC")
    assert np.array_equal(predicted, logits.argmax(axis=1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlp.onnx"]  # written atomically, nothing beside it


def test_export_keras_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    model = keras_digits_mlp(seed=0, epochs=0)
    with pytest.raises(OnnxExportError, match=r"ends in \.onnx"):
        export_keras(model, tmp_path / "mlp.h5")
    with pytest.raises(OnnxExportError, match="Keras' ONNX export failed"):
        export_keras(model, tmp_path / "mlp.onnx", input_shape=(9, 9, 1))  # not the model's shape
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo folder turned into a two-trial digits-mlp study: PyTorch and Keras runs, each an ONNX graph."""
    folder = tmp_path_factory.mktemp("digits-mlp-pair") / "digits-mlp-pair"
    data = study_from_demo(DEMO, folder, "digits-mlp-pair")
    data["trials"] = data["trials"][:2]
    data["sweep"]["search_space"]["learning_rate"]["values"] = [t["hyperparameters"]["learning_rate"]
                                                                for t in data["trials"]]
    data["architecture"].update(name="digits-mlp", parameter_count=2410, implementations={
        "pytorch": {"definition": "code/train_pytorch.py:DigitsMLP", "layout": "NCHW"},
        "keras": {"definition": "code/train_keras.py:build_mlp", "layout": "NHWC"}})
    test = load_test_split("sklearn-digits")
    x = preprocess(test, 0.0625)
    for seed, trial in enumerate(data["trials"]):
        torch_model, keras_model = train_digits_mlp(seed, epochs=3), keras_digits_mlp(seed)
        export_torch(torch_model, folder / f"weights/{trial['id']}-pytorch.onnx", input_shape=(8, 8, 1))
        export_keras(keras_model, folder / f"weights/{trial['id']}-keras.onnx")
        trial["runs"] = {
            "pytorch": {"weights": f"weights/{trial['id']}-pytorch.onnx",
                        "test_accuracy": float(np.mean(predict_torch(torch_model, x, "cpu") == test.labels))},
            "keras": {"weights": f"weights/{trial['id']}-keras.onnx",
                      "test_accuracy": float(np.mean(keras_model.predict(x, verbose=0).argmax(1) == test.labels))}}
    data["artifacts"] = [a for a in data["artifacts"] if a["path"].startswith("code/")]
    (folder / "submission.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    result = run_cli("checksum", str(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    return folder


def test_a_study_of_pytorch_and_keras_onnx_graphs_validates_and_reevaluates(study: Path) -> None:
    report = validate(study)
    assert report["valid"] is True and report["summary"]["errors"] == 0, report["findings"]
    assert set(report["stages"].values()) == {"passed"}, report["stages"]
    runs = report["evaluation"]["runs"]
    expected = {(trial, framework) for trial in ("t01", "t02") for framework in ("pytorch", "keras")}
    assert {(r["trial"], r["framework"]) for r in runs} == expected
    assert all(r["reproduced"] and r["measured"] == r["claimed"] for r in runs), runs
    assert {r["harness"]["evidence"] for r in runs} == {"onnxruntime"}
    # No reference builder knows digits-mlp: each key's architecture is its graphs', and the pair gets a verdict.
    assert sorted(report["architectures"]) == ["keras", "pytorch"]
    assert {a["parameters"] for a in report["architectures"].values()} == {2410}
    [verdict] = report["pair_verdicts"]  # Keras' MatMul, Cast, Add is PyTorch's Gemm: the same dense layers
    assert verdict["frameworks"] == ["keras", "pytorch"] and verdict["equivalent"] is True, verdict
    assert not [f for f in report["findings"] if f["code"] == "CW413"]


def test_a_graph_unlike_its_keys_others_is_named(study: Path, tmp_path: Path) -> None:
    """One study, one architecture: t02's Keras graph with a second ReLU (same parameters, same predictions) is not
    t01's, and CW413 says so at its weights; the pair verdict is still t01's graph against PyTorch's."""
    import keras

    folder = tmp_path / study.name
    shutil.copytree(study, folder)
    model = keras_digits_mlp(seed=1)
    extra = keras.Sequential([keras.Input((8, 8, 1)), *model.layers[:2], keras.layers.ReLU(), model.layers[2]])
    export_keras(extra, folder / "weights" / "t02-keras.onnx")
    assert run_cli("checksum", str(folder)).returncode == 0
    report = validate(folder)
    [named] = [f for f in report["findings"] if f["code"] == "CW413"]
    assert named["message"].startswith("keras: t02's graph is not t01's architecture: ") and "layer-count" in \
        named["message"], named
    assert named["location"]["pointer"] == "/trials/1/runs/keras/weights"
    [verdict] = report["pair_verdicts"]
    assert verdict["equivalent"] is True


def test_the_demos_keras_network_exported_predicts_as_keras_does(tmp_path: Path) -> None:
    """The demo's own Keras run (digits-cnn, t01's weights): the exported graph predicts every one of the 360 test
    images as Keras does, and both measure the claim in the demo's manifest (0.7389 = 266/360)."""
    from cwcontrib.architectures import build
    from cwcontrib.evaluate import load_keras_weights, predict_keras
    from cwcontrib.onnx.fingerprint import onnx_fingerprint
    from cwcontrib.weights import read_weights

    model = build("digits-cnn", "tensorflow", 10, (8, 8, 1))
    load_keras_weights(model, read_weights(DEMO / "weights", "t01-keras.weights.h5", "keras-h5"))
    split = load_test_split("sklearn-digits")
    x = preprocess(split, 0.0625)
    framework = predict_keras(model, x)
    path = export_keras(model, tmp_path / "t01-keras.onnx")
    graph = load_graph(path)
    predicted = predict_onnx(graph, x, layout="NHWC")
    assert np.array_equal(predicted, framework)
    assert int(np.sum(predicted == split.labels)) == 266 == round(0.7388888888888889 * 360)
    assert onnx_fingerprint(graph, (8, 8, 1), "NHWC").parameters == 8714  # the demo's declared count
