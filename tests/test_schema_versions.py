"""Schema 1.1: hardware per framework key, beside 1.0, whose manifests keep validating and meaning what they meant."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cwcontrib import cli
from cwcontrib.checks import Options
from cwcontrib.limits import Limits
from cwcontrib.manifest import load_manifest
from cwcontrib.models import Hardware, Manifest
from cwcontrib.schema import committed_schema_path
from cwcontrib.validate import validate
from tests.conftest import DEMO, REPO, Submission

NO_REEVAL = Options(reeval=False)
A100 = {"accelerator": "NVIDIA A100-SXM4-40GB", "accelerator_count": 1, "driver": "535.104.05", "cpu": "AMD EPYC 7742"}
V100 = {"accelerator": "NVIDIA V100-SXM2-16GB", "accelerator_count": 4, "driver": "470.57.02", "cpu": "Intel Xeon"}


def two_pytorch_setups(data: dict[str, Any]) -> None:
    """The demo as a 1.1 study of PyTorch on two hardware setups (pytorch-a100, pytorch-v100) and Keras on the
    submission's default hardware: every trial's PyTorch run is declared for both setups."""
    data["schema_version"] = "1.1"
    pytorch = data["frameworks"].pop("pytorch")
    data["frameworks"] = {"pytorch-a100": {**pytorch, "hardware": A100},
                          "pytorch-v100": {**pytorch, "hardware": V100}, **data["frameworks"]}
    implementation = data["architecture"]["implementations"].pop("pytorch")
    data["architecture"]["implementations"].update({"pytorch-a100": implementation, "pytorch-v100": implementation})
    for trial in data["trials"]:
        run = trial["runs"].pop("pytorch")
        trial["runs"] = {"pytorch-a100": run, "pytorch-v100": dict(run), **trial["runs"]}


def test_a_1_1_manifest_with_two_hardware_setups_for_one_framework_validates(submission: Submission) -> None:
    submission.edit(two_pytorch_setups)
    report = validate(submission.root, options=NO_REEVAL)
    assert report.ok, report.findings
    assert report.stages["weights"] == "passed"
    model = Manifest.model_validate(load_manifest(submission.root, Limits()).data)
    assert model.frameworks["pytorch-a100"].name == model.frameworks["pytorch-v100"].name == "pytorch"
    assert model.hardware_of("pytorch-a100") == Hardware(**A100)
    assert model.hardware_of("pytorch-v100") == Hardware(**V100)
    assert model.hardware_of("keras") == model.hardware  # no hardware of its own: the submission's default


def test_a_framework_hardware_replaces_the_default_whole(submission: Submission) -> None:
    """Not merged field by field: the default's CPU and host must not be attached to another machine's GPU."""
    submission.edit(two_pytorch_setups)
    data = submission.manifest()
    data["frameworks"]["pytorch-v100"]["hardware"] = {"accelerator": "NVIDIA V100-SXM2-16GB"}
    model = Manifest.model_validate(data)
    assert model.hardware_of("pytorch-v100") == Hardware(accelerator="NVIDIA V100-SXM2-16GB")
    assert model.hardware.cpu is not None


def as_1_0(data: dict[str, Any]) -> None:
    """The demo as it was written in schema 1.0: without the 1.1 per-run `predictions` (their files stay declared)."""
    data["schema_version"] = "1.0"
    for trial in data["trials"]:
        for run in trial["runs"].values():
            run.pop("predictions", None)


def test_a_1_0_manifest_means_what_it_meant() -> None:
    data = load_manifest(DEMO, Limits()).data
    as_1_0(data)
    model = Manifest.model_validate(data)
    assert model.schema_version == "1.0"
    assert all(model.hardware_of(key) == model.hardware for key in model.frameworks)


def test_hardware_per_framework_needs_schema_1_1(submission: Submission) -> None:
    submission.edit(as_1_0)
    submission.edit(lambda d: d["frameworks"]["pytorch"].update(hardware=A100))
    [problem] = validate(submission.root, options=NO_REEVAL).findings
    assert (problem.code, problem.location.pointer) == ("CW110", "/frameworks/pytorch/hardware")
    with pytest.raises(ValidationError, match=r"needs schema_version 1\.1"):
        Manifest.model_validate(submission.manifest())  # the model says it too, for readers without the schema


@pytest.mark.parametrize("version", ["1.3", "2.0", "1"])
def test_unknown_versions_are_still_cw112(submission: Submission, version: str) -> None:
    submission.edit(lambda d: d.update(schema_version=version))
    [problem] = validate(submission.root, options=NO_REEVAL).findings
    assert problem.code == "CW112" and "1.0, 1.1, 1.2" in problem.message


def test_stock_validators_agree_on_each_version(submission: Submission, tmp_path: Path) -> None:
    """The 1.1 manifest passes the 1.1 schema and not the 1.0 one; the demo written as 1.0 passes 1.0 and not 1.1."""
    old = tmp_path / "old" / "submission.yaml"
    old.parent.mkdir()
    shutil.copy(submission.manifest_path, old)
    Submission(old.parent).edit(as_1_0)
    submission.edit(two_pytorch_setups)
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")

    def stock_accepts(manifest: Path, version: str) -> bool:
        result = subprocess.run([exe, "--schemafile", str(committed_schema_path(REPO, version)), str(manifest)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode in (0, 1), result.stdout + result.stderr
        return result.returncode == 0

    assert stock_accepts(submission.manifest_path, "1.1")
    assert not stock_accepts(submission.manifest_path, "1.0")
    assert stock_accepts(old, "1.0")
    assert not stock_accepts(old, "1.1")
    assert stock_accepts(DEMO / "submission.yaml", "1.1")  # the demo itself is 1.1: it ships predictions


@pytest.mark.parametrize(("argv", "version"), [(["schema"], "1.2"), (["schema", "1.2"], "1.2"),
                                               (["schema", "1.1"], "1.1"), (["schema", "1.0"], "1.0")])
def test_cli_prints_either_schema(argv: list[str], version: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out == committed_schema_path(REPO, version).read_text(encoding="utf-8")
    assert json.loads(out)["properties"]["schema_version"]["const"] == version


def test_cli_refuses_an_unknown_schema_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["schema", "2.0"])
    assert exit_.value.code == 2
