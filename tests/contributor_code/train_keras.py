"""Train the digits CNN in Keras 3 for one trial and export it with cwcontrib.export.save_keras.

    python code/train_keras.py --out . --trial t01 --learning-rate 0.01 --epochs 3

The model is a subclassed keras.Model, whose .weights.h5 would name the variables after its attributes (features/,
hidden/, ...); save_keras writes them under the reference's names instead.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import common
import keras
from keras import layers

from cwcontrib.export import save_keras


class DigitsCNN(keras.Model):
    """NHWC (N, 8, 8, 1) -> logits (N, 10); the registry's digits-cnn, written as a subclassed model."""

    def __init__(self) -> None:
        super().__init__()
        self.features = layers.Conv2D(16, 3, padding="same", activation="relu")
        self.pool = layers.MaxPooling2D(2)
        self.flatten = layers.Flatten()  # (N, 4, 4, 16) -> (N, 256), channel-minor
        self.hidden = layers.Dense(32, activation="relu")
        self.logits = layers.Dense(10)

    def call(self, x):  # type: ignore[no-untyped-def]
        return self.logits(self.hidden(self.flatten(self.pool(self.features(x)))))


def build_model() -> keras.Model:
    model = DigitsCNN()
    model(keras.ops.zeros((1, 8, 8, 1)))  # create the variables
    return model


def train(out: Path, trial: str, learning_rate: float, epochs: int, batch_size: int = 64, seed: int = 0) -> dict:
    (x_train, y_train), (x_test, y_test) = common.split()
    keras.utils.set_random_seed(seed)
    model = build_model()
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=loss, metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    logits = model(x_test, training=False).numpy()
    classes = logits.argmax(axis=1)
    run = f"{trial}-keras"
    save_keras(model, out / "weights" / f"{run}.weights.h5")
    curve = [(epoch, float(value), float(accuracy)) for epoch, (value, accuracy)
             in enumerate(zip(history.history["loss"], history.history["accuracy"], strict=True), 1)]
    common.write_outputs(out, run, curve, classes)
    k = int((classes == y_test).sum())
    return {"test_accuracy": k / len(y_test), "test_loss": float(loss(y_test, logits))}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("."))
    parser.add_argument("--trial", required=True)
    parser.add_argument("--learning-rate", type=float, required=True)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(train(args.out, args.trial, args.learning_rate, args.epochs)))
