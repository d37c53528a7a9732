"""The demo's PyTorch runs re-evaluated on another device: do honest claims pass the tolerance there?

`cwcontrib validate` needs pydantic & co; a GPU machine may lack them, so this drives the same harness
(read_weights -> trusted build -> strict load -> predict_torch) directly, from a digits split saved
as .npz by `python benchmarks/demo_on_device.py --save FILE` on a machine with scikit-learn.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cwcontrib.architectures import build  # noqa: E402
from cwcontrib.evaluate import load_torch_state, predict_torch  # noqa: E402
from cwcontrib.statistics import tolerance  # noqa: E402
from cwcontrib.weights import read_weights  # noqa: E402

DEMO = ROOT / "submissions" / "digits-cnn-pair"


def claimed_accuracies() -> dict[str, float]:
    """trial -> claimed PyTorch accuracy, read from the manifest without a YAML library."""
    text = (DEMO / "submission.yaml").read_text()
    claims = {}
    for trial, body in re.findall(r"- id: (t\d+)\n(.*?)(?=\n- id: |\nsweep:|\ncode:|\Z)", text, re.S):
        match = re.search(r"pytorch:\n(?:.*\n)*?\s+test_accuracy: ([0-9.e-]+)", body)
        if match:
            claims[trial] = float(match.group(1))
    return claims


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--save", help="write the digits test split (preprocessed) to this .npz and stop")
    parser.add_argument("--split", help="the .npz written by --save")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    if args.save:
        from cwcontrib.datasets import load_test_split, preprocess

        split = load_test_split("sklearn-digits")
        np.savez(args.save, x=preprocess(split, 1 / 16), labels=split.labels)
        return
    data = np.load(args.split)
    x, labels = data["x"], data["labels"]
    n = len(labels)
    for trial, claim in sorted(claimed_accuracies().items()):
        tensors = read_weights(DEMO, f"weights/{trial}-pytorch.safetensors", "safetensors")
        model = build("digits-cnn", "pytorch", 10, (8, 8, 1))
        load_torch_state(model, tensors)
        on_device = predict_torch(model, x, args.device)
        on_cpu = predict_torch(model, x, "cpu")
        measured = int(np.sum(on_device == labels))
        claimed = round(claim * n)
        print(f"{trial}: claimed {claimed}/{n}, measured on {args.device} {measured}/{n}, "
              f"predictions changed vs cpu {int(np.sum(on_device != on_cpu))}, "
              f"{'reproduced' if abs(claimed - measured) <= tolerance(n) else 'NOT reproduced'}")


if __name__ == "__main__":
    main()
