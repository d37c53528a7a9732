"""A synthetic full-size sweep for the scale benchmarks (issue 16): N trials x 2 frameworks with real weight files.

    python3 benchmarks/make_sweep.py OUT [--trials 400] [--arch digits-cnn|resnet50|vgg16]

`digits-cnn` (the default, CI-sized) copies the demo submission's real weights, curves and predictions: trial i
reuses demo trial i mod 5, so every file is real and the manifest validates like the demo's. `resnet50` and
`vgg16` build each reference once per framework (random weights, seeded; no download) and copy those files into
every trial, with k/10,000 claims on CIFAR-10: stages 1-4 check them (re-evaluation needs the data).
Every copy is a separate file, so hashing reads every byte from disk or the page cache. Deterministic.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "submissions" / "digits-cnn-pair"
FRAMEWORKS = ("pytorch", "keras")
BIG = {"resnet50": ("torchvision.models.resnet50", "keras.applications.ResNet50"),
       "vgg16": ("torchvision.models.vgg16", "keras.applications.VGG16")}


def sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def demo_manifest() -> dict[str, Any]:
    return yaml.safe_load((DEMO / "submission.yaml").read_text())


def big_weights(arch: str, folder: Path) -> dict[str, Path]:
    """One real weights file per framework for `arch` at 32x32x3, 10 classes, random and seeded."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import torch
    import torchvision
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(weights=None, num_classes=10)
    pt = folder / f"{arch}.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(pt))
    keras.utils.set_random_seed(0)
    builder = getattr(keras.applications, BIG[arch][1].rsplit(".", 1)[1])
    kmodel = builder(weights=None, input_shape=(32, 32, 3), classes=10, classifier_activation=None)
    kr = folder / f"{arch}.weights.h5"
    kmodel.save_weights(str(kr))
    return {"pytorch": pt, "keras": kr}


def big_manifest(arch: str, template: dict[str, Any]) -> dict[str, Any]:
    """The demo's manifest with `arch` on CIFAR-10 (parameter count from the registry's PyTorch reference)."""
    import torchvision

    manifest = copy.deepcopy(template)
    params = sum(p.numel() for p in getattr(torchvision.models, arch)(weights=None, num_classes=10).parameters())
    torch_def, keras_def = BIG[arch]
    manifest["architecture"] = {
        "name": arch, "num_classes": 10, "input_shape": {"height": 32, "width": 32, "channels": 3},
        "parameter_count": params,
        "implementations": {"pytorch": {"definition": torch_def, "layout": "NCHW"},
                            "keras": {"definition": keras_def, "layout": "NHWC",
                                      "modifications": ["softmax-removed"]}}}
    if arch == "vgg16":
        manifest["architecture"]["implementations"]["pytorch"]["modifications"] = []
    manifest["dataset"] = {"name": "cifar10", "version": "CIFAR-10 binary version", "split": "test",
                           "test_size": 10000,
                           "preprocessing": {"rescale": 1 / 255, "shuffle_test": False,
                                             "description": "pixels / 255, no augmentation"},
                           "label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                           "horse", "ship", "truck"]}
    return manifest


def make_sweep(out: Path, trials: int, arch: str) -> Path:
    template = demo_manifest()
    manifest = big_manifest(arch, template) if arch in BIG else copy.deepcopy(template)
    demo_trials = template["trials"]
    if out.exists():
        shutil.rmtree(out)
    for folder in ("weights", "curves", "predictions", "code"):
        (out / folder).mkdir(parents=True)
    sources = big_weights(arch, out.parent / f".{arch}-weights") if arch in BIG else {}
    manifest["submission"]["id"] = out.name
    manifest["submission"]["title"] = f"Synthetic {trials}-trial {arch} sweep (benchmarks/make_sweep.py)"
    manifest["trials"], artifacts = [], {}
    for i in range(trials):
        source = copy.deepcopy(demo_trials[i % len(demo_trials)])
        tid = f"t{i + 1:04d}"
        source["id"] = tid
        for fw in FRAMEWORKS:
            run = source["runs"][fw]
            if arch in BIG:
                run.pop("curves", None)
                run.pop("predictions", None)
                run.pop("test_loss", None)
                run["test_accuracy"] = (6000 + 7 * i + (fw == "keras")) / 10000  # away from chance (CW307)
                src = sources[fw]
                suffix = ".safetensors" if fw == "pytorch" else ".weights.h5"
            else:
                src = DEMO / run["weights"]
                suffix = "".join(Path(run["weights"]).suffixes)
            run["weights"] = f"weights/{tid}-{fw}{suffix}"
            shutil.copyfile(src, out / run["weights"])
            artifacts[run["weights"]] = src
            for kind in ("curves", "predictions"):
                if kind in run:
                    src_file = DEMO / run[kind]
                    run[kind] = f"{kind}/{tid}-{fw}.csv"
                    shutil.copyfile(src_file, out / run[kind])
                    artifacts[run[kind]] = src_file
        manifest["trials"].append(source)
    for name in template["code"]["files"]:
        shutil.copyfile(DEMO / name, out / name)
        artifacts[name] = DEMO / name
    digests: dict[Path, tuple[int, str]] = {}
    entries = []
    for rel in sorted(artifacts):
        src = artifacts[rel]
        if src not in digests:
            digests[src] = (src.stat().st_size, sha256(src))
        size, digest = digests[src]
        fmt = {".py": "python", ".csv": "csv", ".safetensors": "safetensors", ".h5": "keras-h5"}
        entries.append({"path": rel, "format": fmt[Path(rel).suffix], "size": size, "sha256": digest})
    manifest["artifacts"] = entries
    (out / "submission.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False, width=120))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--arch", choices=("digits-cnn", *BIG), default="digits-cnn")
    args = parser.parse_args(argv)
    out = make_sweep(args.out, args.trials, args.arch)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{out}: {args.trials} trials x 2 frameworks of {args.arch}, {total / 2**20:.1f} MiB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
