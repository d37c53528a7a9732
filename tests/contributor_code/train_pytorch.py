"""Train the digits CNN in PyTorch for one trial and export it with cwcontrib.export.save_torch.

    python code/train_pytorch.py --out . --trial t01 --learning-rate 0.01 --epochs 3
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import common
import torch
from torch import nn

from cwcontrib.export import save_torch

torch.set_num_threads(1)


class DigitsCNN(nn.Module):
    """NCHW (N, 1, 8, 8) -> logits (N, 10); the registry's digits-cnn."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv(x)))
        return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))


def train(out: Path, trial: str, learning_rate: float, epochs: int, batch_size: int = 64, seed: int = 0) -> dict:
    (x_train, y_train), (x_test, y_test) = common.split()
    x_train_t = torch.from_numpy(x_train).permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW
    x_test_t = torch.from_numpy(x_test).permute(0, 3, 1, 2).contiguous()
    y_train_t, y_test_t = torch.from_numpy(y_train), torch.from_numpy(y_test)
    torch.manual_seed(seed)
    model = DigitsCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    curve = []
    for epoch in range(1, epochs + 1):
        model.train()
        loss_sum, correct = 0.0, 0
        for begin in range(0, len(x_train_t), batch_size):  # file order, last batch partial
            xb, yb = x_train_t[begin:begin + batch_size], y_train_t[begin:begin + batch_size]
            optimizer.zero_grad()
            logits = model(xb)
            loss = nn.functional.cross_entropy(logits, yb)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * len(xb)
            correct += int((logits.detach().argmax(dim=1) == yb).sum())
        curve.append((epoch, loss_sum / len(x_train_t), correct / len(x_train_t)))
    model.eval()
    with torch.no_grad():
        logits = model(x_test_t)
    classes = logits.argmax(dim=1).numpy()
    run = f"{trial}-pytorch"
    save_torch(model, out / "weights" / f"{run}.safetensors")
    common.write_outputs(out, run, curve, classes)
    k = int((classes == y_test).sum())
    return {"test_accuracy": k / len(y_test), "test_loss": float(nn.functional.cross_entropy(logits, y_test_t))}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("."))
    parser.add_argument("--trial", required=True)
    parser.add_argument("--learning-rate", type=float, required=True)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(train(args.out, args.trial, args.learning_rate, args.epochs)))
