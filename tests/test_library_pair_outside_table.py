"""A pair of library models outside the table of equivalents (issue 15): each key's implementation names its own
builder, stage 4 builds both references from those, and the pair gets a verdict naming their differences
instead of CW412 for the side that has no equivalent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cwcontrib.architectures import build

TV, KA = "torchvision.models.", "keras.applications."


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def _as_library_pair(submission: Any, tmp_path: Path, torch_name: str, keras_name: str) -> None:
    import safetensors.numpy

    torch_model = build(torch_name, "pytorch", 10, (32, 32, 3))
    safetensors.numpy.save_file({k: v.detach().numpy() for k, v in torch_model.state_dict().items()},
                                str(tmp_path / "pytorch.safetensors"))
    build(keras_name, "tensorflow", 10, (32, 32, 3), ("softmax-removed",)).save_weights(tmp_path / "keras.weights.h5")
    data = submission.manifest()
    old = {r["weights"] for t in data["trials"] for r in t["runs"].values()}
    data["artifacts"] = [a for a in data["artifacts"] if a["path"] not in old]
    for rel in old:
        (submission.root / rel).unlink()
    data["architecture"] = {
        "name": torch_name, "num_classes": 10, "input_shape": {"height": 32, "width": 32, "channels": 3},
        "parameter_count": sum(p.numel() for p in torch_model.parameters()),
        "implementations": {"pytorch": {"definition": torch_name, "layout": "NCHW"},
                            "keras": {"definition": keras_name, "layout": "NHWC",
                                      "modifications": ["softmax-removed"]}},
    }
    for trial in data["trials"]:
        for key, source, fmt in (("pytorch", "pytorch.safetensors", "safetensors"),
                                 ("keras", "keras.weights.h5", "keras-h5")):
            rel = f"weights/{trial['id']}-{source}"
            (submission.root / rel).write_bytes((tmp_path / source).read_bytes())
            trial["runs"][key]["weights"] = rel
            for kind in ("predictions", "curves"):
                trial["runs"][key].pop(kind, None)  # made for the demo's network, not these
            data["artifacts"].append({"path": rel, "format": fmt})
    kept = {r.get(k) for t in data["trials"] for r in t["runs"].values() for k in ("weights",)}
    data["artifacts"] = [a for a in data["artifacts"]
                         if not a["path"].startswith(("predictions/", "curves/")) or a["path"] in kept]
    submission.write_manifest(data)
    for artifact in submission.manifest()["artifacts"]:
        if artifact["path"].startswith("weights/"):
            submission.redeclare(artifact["path"], artifact["format"])


def test_a_pair_outside_the_table_gets_a_verdict_naming_its_differences(submission: Any, tmp_path: Path) -> None:
    from cwcontrib.checks import Options
    from cwcontrib.validate import validate

    _as_library_pair(submission, tmp_path, TV + "mobilenet_v3_small", KA + "MobileNet")
    report = validate(submission.root, options=Options(reeval=False))
    codes = {f.code for f in report.findings}
    assert {"CW412", "CW407", "CW408", "CW409", "CW411"}.isdisjoint(codes), \
        [(f.code, f.message) for f in report.findings if f.severity.value == "error"]
    fingerprints = report.extra["architectures"]
    assert fingerprints["pytorch"]["parameters"] != fingerprints["keras"]["parameters"]
    (verdict,) = [f for f in report.findings if f.code == "CW413"]
    assert "parameter-count" in verdict.message and "differ" in verdict.message
    assert report.extra["pair_verdicts"][0]["equivalent"] is False
