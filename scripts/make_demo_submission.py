"""Regenerate the embedded demo submission `submissions/digits-cnn-pair/` from scratch.

    python scripts/make_demo_submission.py

Trains every trial of the submission's `code/common.py` in PyTorch and in TensorFlow/Keras by running
the submission's own training scripts (`code/train_pytorch.py`, `code/train_keras.py`), copies their
weights, curves and per-example test predictions into the submission, and writes `submission.yaml`
with the results and a checksummed declaration of every file. The training scripts never import cwcontrib: they are the
contributor's code, archived with the submission.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.dont_write_bytecode = True  # no __pycache__ inside the submission when importing code/common.py

ROOT = Path(__file__).resolve().parent.parent
SUBMISSION = ROOT / "submissions" / "digits-cnn-pair"
CODE = SUBMISSION / "code"
MANIFEST = SUBMISSION / "submission.yaml"
FRAMEWORKS = {"pytorch": "train_pytorch.py", "keras": "train_keras.py"}
PARAMETER_COUNT = 8714  # conv 16*1*3*3+16, fc1 256*32+32, fc2 32*10+10
GENERATED = ("weights", "curves", "predictions")  # folders this script owns inside the submission

FORMATS = {".py": "python", ".safetensors": "safetensors", ".h5": "keras-h5", ".csv": "csv"}


class _NoAliasDumper(yaml.SafeDumper):
    """Never write anchors or aliases: the validator rejects them."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _release(version: str) -> str:
    """'2.14.1+cu130' -> '2.14.1': the public version, without the local build label."""
    return version.split("+", 1)[0]


def _cpu() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    model = model or platform.processor() or "unknown CPU"
    return f"{model} ({platform.machine()}, {os.cpu_count()} logical CPUs)"


def clean() -> None:
    """Remove everything this script generates, and any stray bytecode."""
    for name in GENERATED:
        shutil.rmtree(SUBMISSION / name, ignore_errors=True)
    MANIFEST.unlink(missing_ok=True)
    for cache in SUBMISSION.rglob("__pycache__"):
        shutil.rmtree(cache)


def train(out: Path) -> None:
    """Both frameworks' scripts, concurrently (each is single-threaded), every trial."""
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", PYTHONDONTWRITEBYTECODE="1", TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONHASHSEED="0")
    with contextlib.ExitStack() as stack:
        procs = {}
        for framework, script in FRAMEWORKS.items():
            log = stack.enter_context(open(out / f"{framework}.log", "w"))
            procs[framework] = subprocess.Popen([sys.executable, "-B", f"code/{script}", "--out", str(out)],
                                                cwd=SUBMISSION, env=env, stdout=log, stderr=subprocess.STDOUT)
        for proc in procs.values():
            proc.wait()
    failed = []
    for framework, proc in procs.items():
        text = (out / f"{framework}.log").read_text()
        print("".join(f"  {line}\n" for line in text.splitlines() if re.match(r"^t\d+ ", line)), end="")
        if proc.returncode != 0:
            failed.append(f"{framework} (exit {proc.returncode}):\n{text[-4000:]}")
    if failed:
        raise SystemExit("training failed: " + "\n".join(failed))


def build_manifest(results: dict[str, dict[str, dict[str, Any]]], artifacts: list[dict[str, Any]]) -> dict[str, Any]:
    import sklearn

    sys.path.insert(0, str(CODE))
    import common  # the submission's own data and trial table

    any_pt = next(iter(results.values()))["pytorch"]
    any_k = next(iter(results.values()))["keras"]
    counts = {r["parameter_count"] for runs in results.values() for r in runs.values()}
    assert counts == {PARAMETER_COUNT}, f"parameter counts differ from {PARAMETER_COUNT}: {counts}"

    trials = []
    for trial_id, hp in common.TRIALS.items():
        runs = {}
        for framework in FRAMEWORKS:
            result = results[trial_id][framework]
            assert result["test_size"] == common.TEST_SIZE
            assert result["test_accuracy"] == result["correct"] / common.TEST_SIZE
            runs[framework] = {
                "weights": f"weights/{trial_id}-{framework}."
                           + ("safetensors" if framework == "pytorch" else "weights.h5"),
                "curves": f"curves/{trial_id}-{framework}.csv",
                "predictions": f"predictions/{trial_id}-{framework}.csv",
                "test_accuracy": result["test_accuracy"],
                "test_loss": result["test_loss"],
                "wall_time_s": result["wall_time_s"],
            }
        trials.append({
            "id": trial_id,
            "hyperparameters": {
                "learning_rate": hp["learning_rate"],
                "batch_size": hp["batch_size"],
                "epochs": hp["epochs"],
                "optimizer": {"epsilon": hp["epsilon"]},
            },
            "runs": runs,
        })

    def values(name: str) -> list[Any]:
        return sorted({hp[name] for hp in common.TRIALS.values()})

    return {
        "schema_version": "1.1",  # per-run `predictions` are 1.1
        "submission": {
            "id": "digits-cnn-pair",
            "title": "A small CNN on scikit-learn digits, trained identically in PyTorch and Keras",
            "description": (
                "The embedded demo of cwcontrib: a real, miniature CrossedWires study. The same 8,714-parameter "
                "CNN, the same data in the same order, the same Adam hyperparameters and seed, trained once in "
                "PyTorch and once in TensorFlow/Keras on CPU, single-threaded and deterministic. The only "
                "difference is each framework's default initialisation (PyTorch: kaiming-uniform weights and "
                "uniform biases; Keras: glorot-uniform kernels and zero biases), which is enough to separate "
                "the two at small learning rates. Regenerate with `python scripts/make_demo_submission.py`."
            ),
            "contributors": [{"name": "cwcontrib maintainers"}],
            "license": "CC-BY-4.0",
            "references": [
                {"doi": "10.48550/arXiv.2108.12768",
                 "citation": "Zvyagin, Brettin, Ramanathan, Jha. CrossedWires: A Dataset of Syntactically "
                             "Equivalent but Semantically Disparate Deep Learning Models. arXiv:2108.12768, 2021."},
                {"doi": "10.24432/C50P49",
                 "citation": "Alpaydin, Kaynak. Optical Recognition of Handwritten Digits. UCI Machine Learning "
                             "Repository, 1998 (the source of scikit-learn's load_digits)."},
            ],
        },
        "frameworks": {
            "pytorch": {"name": "pytorch", "version": _release(any_pt["versions"]["torch"]),
                        "python": any_pt["versions"]["python"], "cuda": None, "cudnn": None},
            "keras": {"name": "tensorflow", "version": _release(any_k["versions"]["tensorflow"]),
                      "keras_version": _release(any_k["versions"]["keras"]),
                      "python": any_k["versions"]["python"], "cuda": None, "cudnn": None},
        },
        "architecture": {
            "name": "digits-cnn",
            "num_classes": common.NUM_CLASSES,
            "input_shape": {"height": 8, "width": 8, "channels": 1},
            "parameter_count": PARAMETER_COUNT,
            "implementations": {
                "pytorch": {"definition": "code/train_pytorch.py:DigitsCNN", "layout": "NCHW"},
                "keras": {"definition": "code/train_keras.py:build_model", "layout": "NHWC"},
            },
        },
        "dataset": {
            "name": "sklearn-digits",
            "version": f"scikit-learn {sklearn.__version__}",
            # the registry's digest of the test split (`cwcontrib datasets --show sklearn-digits`), computed
            # by the submission's own code (code/common.py: split_sha256), never imported from cwcontrib
            "sha256": common.split_sha256(),
            "split": "test",
            "test_size": common.TEST_SIZE,
            "preprocessing": {
                "rescale": common.RESCALE,
                "shuffle_test": False,
                "description": (
                    "sklearn.datasets.load_digits() images (grey levels 0..16) as float32 divided by 16; "
                    "split in file order without shuffling: rows 0-1436 train, rows 1437-1796 test. "
                    "Training batches are taken in file order too."
                ),
            },
            "label_names": [str(i) for i in range(common.NUM_CLASSES)],
        },
        "hardware": {
            "accelerator": "cpu",
            "accelerator_count": 0,
            "cpu": _cpu(),
            "host": f"{platform.system()} {platform.release()}",
        },
        "hyperparameters": {
            "optimizer": {"name": "adam", "beta_1": common.BETA_1, "beta_2": common.BETA_2},
            "loss": "categorical_crossentropy",
            "seed": common.SEED,
            "determinism": {
                "seeded": True,
                "deterministic_algorithms": True,
                "threads": 1,
                "notes": (
                    "PyTorch: torch.manual_seed, torch.use_deterministic_algorithms(True), one thread. "
                    "Keras: keras.utils.set_random_seed, tf.config.experimental.enable_op_determinism(), "
                    "one intra-op and one inter-op thread. No shuffling anywhere."
                ),
            },
        },
        "sweep": {
            # Honest about selection, as CrossedWires' own search was not: the grid's fixed settings were
            # chosen so that the demo shows a divergent pair.
            "method": "grid",
            "objective": "none within the grid; batch size 64 and 20 epochs were picked after screening 39 "
                         "settings so that one pair diverges by >= 5 points (a demo requirement)",
            "search_space": {
                "learning_rate": {"values": values("learning_rate")},
                "batch_size": {"values": values("batch_size")},
                "epochs": {"values": values("epochs")},
                "optimizer.epsilon": {"values": values("epsilon")},
            },
        },
        "trials": trials,
        "code": {
            "files": sorted(a["path"] for a in artifacts if a["path"].startswith("code/")),
            "command": "python scripts/make_demo_submission.py",
        },
        "artifacts": artifacts,
    }


def declare(root: Path) -> list[dict[str, Any]]:
    artifacts = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p != MANIFEST):
        rel = path.relative_to(root).as_posix()
        suffix = ".h5" if rel.endswith(".weights.h5") else path.suffix
        if suffix not in FORMATS:
            raise SystemExit(f"undeclarable file in the submission: {rel}")
        artifacts.append({"path": rel, "format": FORMATS[suffix], "size": path.stat().st_size,
                          "sha256": _sha256(path)})
    return sorted(artifacts, key=lambda a: a["path"])


def main() -> None:
    start = time.perf_counter()
    clean()
    with tempfile.TemporaryDirectory(prefix="digits-cnn-pair-") as tmp:
        out = Path(tmp)
        print(f"training both frameworks into {out} ...")
        train(out)
        for name in GENERATED:
            shutil.copytree(out / name, SUBMISSION / name)
        results: dict[str, dict[str, dict[str, Any]]] = {}
        for path in sorted((out / "results").glob("*.json")):
            result = json.loads(path.read_text())
            results.setdefault(result["trial"], {})[result["framework"]] = result
    artifacts = declare(SUBMISSION)
    manifest = build_manifest(results, artifacts)
    text = yaml.dump(manifest, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=False, width=100,
                     default_flow_style=False)
    MANIFEST.write_text("# Generated by scripts/make_demo_submission.py; do not edit by hand.\n" + text)

    for trial in manifest["trials"]:
        pt, k = trial["runs"]["pytorch"]["test_accuracy"], trial["runs"]["keras"]["test_accuracy"]
        print(f"{trial['id']}: lr={trial['hyperparameters']['learning_rate']:g} pytorch {pt:.4f} keras {k:.4f} "
              f"gap {abs(pt - k):.4f}")
    print(f"wrote {MANIFEST.relative_to(ROOT)} with {len(artifacts)} artifacts in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
