"""Train the digits CNN in PyTorch, one process for one or more trials of common.TRIALS.

    python code/train_pytorch.py --out OUT [--trial t01 --trial t02 ...] [--seed N]

For each trial it writes OUT/weights/<trial>-pytorch.safetensors, OUT/curves/<trial>-pytorch.csv
(epoch,loss,accuracy), OUT/predictions/<trial>-pytorch.csv (example,predicted_class) and
OUT/results/<trial>-pytorch.json.

Same network, data order, optimizer and hyperparameters as train_keras.py; only the frameworks'
default initialisations differ (PyTorch: kaiming-uniform weights and uniform biases).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

import common

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

FRAMEWORK = "pytorch"


class DigitsCNN(nn.Module):
    """NCHW input (N, 1, 8, 8) -> logits (N, 10). 8,714 parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv(x)))
        x = torch.flatten(x, 1)  # (N, 16, 4, 4) -> (N, 256), channel-major
        x = torch.relu(self.fc1(x))
        return self.fc2(x)  # logits


def train_trial(trial: str, seed: int, out: Path) -> dict:
    hp = common.TRIALS[trial]
    lr, batch_size, epochs, epsilon = hp["learning_rate"], hp["batch_size"], hp["epochs"], hp["epsilon"]
    (x_train, y_train), (x_test, y_test) = common.load_split()
    x_train_t = torch.from_numpy(x_train[:, None, :, :].copy())  # NCHW
    y_train_t = torch.from_numpy(y_train)
    x_test_t = torch.from_numpy(x_test[:, None, :, :].copy())
    y_test_t = torch.from_numpy(y_test)

    torch.manual_seed(seed)
    model = DigitsCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(common.BETA_1, common.BETA_2), eps=epsilon)
    loss_fn = nn.CrossEntropyLoss()  # categorical cross-entropy on logits, mean over the batch

    start = time.perf_counter()
    curve = []
    n = len(x_train_t)
    for epoch in range(1, epochs + 1):
        model.train()
        loss_sum, correct = 0.0, 0
        for begin in range(0, n, batch_size):  # batches in file order, last one partial, no shuffling
            xb, yb = x_train_t[begin:begin + batch_size], y_train_t[begin:begin + batch_size]
            optimizer.zero_grad()
            logits = model(xb)
            loss = loss_fn(logits, yb)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * len(xb)
            correct += int((logits.detach().argmax(dim=1) == yb).sum())
        # Curve: train loss and accuracy over the epoch's examples, each measured on its batch's
        # forward pass before that batch's update (what Keras's fit() history reports).
        curve.append((epoch, loss_sum / n, correct / n))

    model.eval()
    with torch.no_grad():
        logits = model(x_test_t)
        test_loss = float(nn.functional.cross_entropy(logits, y_test_t, reduction="mean"))
        test_correct = int((logits.argmax(dim=1) == y_test_t).sum())
    wall = time.perf_counter() - start

    (out / "weights").mkdir(parents=True, exist_ok=True)
    (out / "curves").mkdir(parents=True, exist_ok=True)
    (out / "results").mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(out / "weights" / f"{trial}-{FRAMEWORK}.safetensors"))
    with open(out / "curves" / f"{trial}-{FRAMEWORK}.csv", "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["epoch", "loss", "accuracy"])
        for epoch, loss_value, accuracy in curve:
            writer.writerow([epoch, repr(loss_value), repr(accuracy)])
    common.write_predictions(out / "predictions" / f"{trial}-{FRAMEWORK}.csv", logits.argmax(dim=1).numpy())
    result = {
        "trial": trial,
        "framework": FRAMEWORK,
        "correct": test_correct,
        "test_size": len(x_test),
        "test_accuracy": test_correct / len(x_test),
        "test_loss": test_loss,
        "wall_time_s": round(wall, 3),
        "parameter_count": sum(int(np.prod(p.shape)) for p in model.state_dict().values()),
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
    }
    (out / "results" / f"{trial}-{FRAMEWORK}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trial", action="append", choices=sorted(common.TRIALS),
                        help="trial id from common.TRIALS (repeatable; default: all)")
    parser.add_argument("--seed", type=int, default=common.SEED)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    for trial in args.trial or sorted(common.TRIALS):
        result = train_trial(trial, args.seed, args.out)
        print(f"{trial} {FRAMEWORK}: {result['correct']}/{result['test_size']} = {result['test_accuracy']:.4f}, "
              f"test loss {result['test_loss']:.4f}, {result['wall_time_s']:.1f} s", flush=True)


if __name__ == "__main__":
    main()
