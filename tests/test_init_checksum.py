"""`cwcontrib init` and `cwcontrib checksum` (issue 14) on real folders: what they write, what they refuse."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from cwcontrib import cli
from cwcontrib.models import SCHEMA_VERSION, Manifest
from tests.conftest import DEMO

INIT = ["--architecture", "digits-cnn", "--dataset", "sklearn-digits", "--frameworks", "pytorch,keras"]


def init(path: Path, *extra: str) -> int:
    return cli.main(["init", str(path), *INIT, *extra])


# --- init ---------------------------------------------------------------------------------------------------------


def test_init_writes_a_commented_manifest_at_the_newest_schema_a_table_and_the_folders(tmp_path: Path) -> None:
    sub = tmp_path / "my-study"
    assert init(sub, "--trials", "3") == 0
    assert sorted(p.name for p in sub.iterdir()) == ["code", "curves", "predictions", "submission.yaml", "trials.csv",
                                                     "weights"]
    text = (sub / "submission.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert data["schema_version"] == SCHEMA_VERSION and data["submission"]["id"] == "my-study"
    assert text.count("  # ") > 30  # a comment on nearly every field
    # The registries' values are filled in, exactly as validate checks them.
    assert data["architecture"]["parameter_count"] == 8714
    assert data["dataset"]["sha256"] == "a00ccc4978c46a4d561d65df875cc49bdfe829dc20aad2a6748276ea741c1829"
    assert data["dataset"]["test_size"] == 360 and data["architecture"]["input_shape"] == {
        "height": 8, "width": 8, "channels": 1}
    assert data["frameworks"]["keras"]["name"] == "tensorflow"
    assert data["architecture"]["implementations"]["keras"]["layout"] == "NHWC"
    assert data["trials_table"] == {"path": "trials.csv", "format": "csv"}
    # What only the contributor knows is FILL-IN, and a manifest holding one never validates.
    assert data["dataset"]["version"] == "FILL-IN" and data["hardware"]["accelerator_count"] == "FILL-IN"
    with pytest.raises(ValidationError):
        Manifest.model_validate(data)
    rows = (sub / "trials.csv").read_text().splitlines()
    assert rows[0].split(",")[:4] == ["id", "hyperparameters.learning_rate", "pytorch.weights", "pytorch.curves"]
    assert [row.split(",")[0] for row in rows[1:]] == ["t01", "t02", "t03"]
    assert "weights/t02-keras.weights.h5" in rows[2] and "predictions/t03-pytorch.csv" in rows[3]


def test_init_into_an_existing_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert init(tmp_path / "empty") == 0
    assert (tmp_path / "empty" / "submission.yaml").is_file()


def test_init_refuses_a_folder_that_is_not_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sub = tmp_path / "taken"
    sub.mkdir()
    (sub / "notes.md").write_text("mine\n")
    assert init(sub) == 2
    assert "not empty" in capsys.readouterr().err
    assert [p.name for p in sub.iterdir()] == ["notes.md"]


@pytest.mark.parametrize(("option", "value", "listed"), [
    ("--architecture", "vgg19", "densenet121, digits-cnn, resnet50, vgg16"),
    ("--dataset", "imagenet", "cifar10, fashion-mnist, mnist, sklearn-digits"),
    ("--frameworks", "pytorch,jax", "keras, pytorch, tensorflow"),
])
def test_init_refuses_unknown_names_and_lists_the_valid_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, listed: str
) -> None:
    args = dict(zip(INIT[::2], INIT[1::2], strict=True))
    args[option] = value
    assert cli.main(["init", str(tmp_path / "x"), *[w for pair in args.items() for w in pair]]) == 2
    err = capsys.readouterr().err
    assert repr(value.split(",")[-1]) in err and listed in err
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_init_refuses_an_architecture_the_dataset_cannot_feed_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["init", str(tmp_path / "x"), "--architecture", "vgg16", "--dataset", "sklearn-digits",
                     "--frameworks", "pytorch"]) == 2
    assert "32×32" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_init_usage_errors_exit_2(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["init", str(tmp_path / "x"), "--architecture", "digits-cnn"])
    assert exited.value.code == 2
    with pytest.raises(SystemExit) as exited:
        cli.main(["init", str(tmp_path / "x"), *INIT, "--trials", "0"])
    assert exited.value.code == 2


# --- checksum -----------------------------------------------------------------------------------------------------


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    shutil.copytree(DEMO, root)
    return root


def artifacts_of(root: Path, name: str = "submission.yaml") -> list[dict[str, object]]:
    data = yaml.safe_load((root / name).read_text(encoding="utf-8"))
    return list(data["artifacts"])


def test_checksum_of_the_demo_changes_nothing(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (demo / "submission.yaml").read_bytes()
    assert cli.main(["checksum", str(demo), "--check"]) == 0
    assert cli.main(["checksum", str(demo)]) == 0
    assert (demo / "submission.yaml").read_bytes() == before
    assert capsys.readouterr().out == ""


def test_checksum_corrects_declared_files_adds_new_ones_and_touches_nothing_else(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (demo / "submission.yaml").chmod(0o640)
    before = (demo / "submission.yaml").read_text(encoding="utf-8")
    with open(demo / "code" / "common.py", "a") as handle:
        handle.write("# one more line\n")
    (demo / "NOTES.md").write_text("How the runs were made.\n")
    (demo / "code" / "__pycache__").mkdir()
    (demo / "code" / "__pycache__" / "common.cpython-311.pyc").write_bytes(b"\x00" * 8)
    (demo / ".DS_Store").write_bytes(b"Bud1")
    (demo / "weights" / ".hidden").write_bytes(b"x")

    assert cli.main(["checksum", str(demo), "--check"]) == 1
    assert (demo / "submission.yaml").read_text(encoding="utf-8") == before  # --check writes nothing
    capsys.readouterr()
    assert cli.main(["checksum", str(demo)]) == 0
    captured = capsys.readouterr()
    common = (demo / "code" / "common.py").read_bytes()
    assert f"+  sha256: {hashlib.sha256(common).hexdigest()}" in captured.out
    assert "+- path: NOTES.md\n+  format: markdown\n" in captured.out  # the demo's own sequence style
    for clutter in (".DS_Store", "code/__pycache__/common.cpython-311.pyc", "weights/.hidden"):
        assert repr(clutter) in captured.err
    after = (demo / "submission.yaml").read_text(encoding="utf-8")
    assert after.partition("\nartifacts:")[0] == before.partition("\nartifacts:")[0]
    entries = {str(e["path"]): e for e in artifacts_of(demo)}
    assert entries["code/common.py"]["size"] == len(common)
    assert entries["NOTES.md"]["sha256"] == hashlib.sha256(b"How the runs were made.\n").hexdigest()
    assert not any(".DS_Store" in p or "__pycache__" in p or ".hidden" in p for p in entries)
    assert list(entries)[:3] == ["code/common.py", "code/train_keras.py", "code/train_pytorch.py"]  # order kept
    assert (demo / "submission.yaml").stat().st_mode & 0o777 == 0o640
    assert cli.main(["checksum", str(demo), "--check"]) == 0


def test_checksum_keeps_the_comments_of_a_scaffold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sub = tmp_path / "my-study"
    assert init(sub, "--trials", "1") == 0
    (sub / "code" / "train.py").write_text("print('train')\n")
    before = (sub / "submission.yaml").read_text(encoding="utf-8")
    assert cli.main(["checksum", str(sub)]) == 0
    after = (sub / "submission.yaml").read_text(encoding="utf-8")
    head, _, block = after.partition("\nartifacts:")
    assert head == before.partition("\nartifacts:")[0]
    assert block.startswith("  # every file of the folder: `cwcontrib checksum .`")  # the key line's comment
    assert "\n  - path: code/train.py\n    format: python\n" in block  # indented, as init writes sequences
    assert [e["path"] for e in artifacts_of(sub)] == ["code/train.py", "trials.csv"]


def test_checksum_appends_artifacts_to_a_manifest_without_them(demo: Path) -> None:
    text = (demo / "submission.yaml").read_text(encoding="utf-8")
    (demo / "submission.yaml").write_text(text.partition("artifacts:\n")[0], encoding="utf-8")
    assert cli.main(["checksum", str(demo)]) == 0
    assert len(artifacts_of(demo)) == 33  # 3 scripts, and 10 weights, curves and predictions


def test_checksum_rewrites_a_json_manifest_in_key_order(demo: Path) -> None:
    data = yaml.safe_load((demo / "submission.yaml").read_text(encoding="utf-8"))
    stale = {"path": "weights/t01-keras.weights.h5", "format": "keras-h5", "size": 1, "sha256": "0" * 64}
    data["artifacts"] = [*data["artifacts"][:2], stale]
    (demo / "submission.yaml").unlink()
    (demo / "submission.json").write_text(json.dumps(data, indent=4) + "\n", encoding="utf-8")
    assert cli.main(["checksum", str(demo)]) == 0
    text = (demo / "submission.json").read_text(encoding="utf-8")
    rewritten = json.loads(text)
    assert list(rewritten) == list(data) and text.startswith('{\n    "schema_version"')
    assert rewritten["artifacts"][2]["size"] == (demo / "weights" / "t01-keras.weights.h5").stat().st_size
    assert len(rewritten["artifacts"]) == 33
    assert {k: v for k, v in rewritten.items() if k != "artifacts"} == {
        k: v for k, v in data.items() if k != "artifacts"}


@pytest.mark.parametrize("kind", ["file link", "folder link", "fifo"])
def test_checksum_refuses_links_and_special_files_and_writes_nothing(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not part of the submission\n")
    if kind == "file link":
        (demo / "code" / "secret.txt").symlink_to(outside / "secret.txt")
    elif kind == "folder link":
        (demo / "extra").symlink_to(outside, target_is_directory=True)
    else:
        os.mkfifo(demo / "code" / "pipe.csv")
    before = (demo / "submission.yaml").read_bytes()
    assert cli.main(["checksum", str(demo)]) == 2
    err = capsys.readouterr().err
    assert ("symbolic link (CW201)" if "link" in kind else "not a regular file or folder (CW202)") in err
    assert (demo / "submission.yaml").read_bytes() == before


def test_checksum_refuses_an_unreadable_manifest(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (demo / "submission.yaml").write_text("artifacts: [\n", encoding="utf-8")
    assert cli.main(["checksum", str(demo)]) == 2
    assert "CW104" in capsys.readouterr().err
    shutil.rmtree(demo)
    assert cli.main(["checksum", str(demo)]) == 2


# --- init with a library architecture (issue 15) -------------------------------------------------------------------


def test_init_takes_a_library_builder_and_fills_in_its_equivalent(tmp_path: Path) -> None:
    sub = tmp_path / "mobilenets"
    assert cli.main(["init", str(sub), "--architecture", "torchvision.models.mobilenet_v3_small", "--dataset",
                     "cifar10", "--frameworks", "pytorch,keras"]) == 0
    data = yaml.safe_load((sub / "submission.yaml").read_text(encoding="utf-8"))
    implementations = data["architecture"]["implementations"]
    assert data["architecture"]["name"] == "torchvision.models.mobilenet_v3_small"
    assert implementations["pytorch"]["definition"] == "torchvision.models.mobilenet_v3_small"
    assert implementations["keras"]["definition"] == "keras.applications.MobileNetV3Small"
    assert data["architecture"]["parameter_count"] == 1_528_106  # torchvision's, counted as validate counts it


def test_init_leaves_the_definition_to_fill_in_where_the_table_has_no_equivalent(tmp_path: Path) -> None:
    sub = tmp_path / "squeeze"
    assert cli.main(["init", str(sub), "--architecture", "torchvision.models.squeezenet1_1", "--dataset",
                     "cifar10", "--frameworks", "pytorch,keras"]) == 0
    text = (sub / "submission.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert data["architecture"]["implementations"]["keras"]["definition"] == "FILL-IN"
    assert "has no tensorflow equivalent in the table" in text
    assert isinstance(data["architecture"]["parameter_count"], int)


def test_init_refuses_a_library_name_the_library_does_not_have(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["init", str(tmp_path / "x"), "--architecture", "torchvision.models.not_a_model", "--dataset",
                     "cifar10", "--frameworks", "pytorch"]) == 2
    assert "not_a_model" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
