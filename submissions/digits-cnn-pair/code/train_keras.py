"""Train the digits CNN in TensorFlow/Keras, one process for one or more trials of common.TRIALS.

    python code/train_keras.py --out OUT [--trial t01 --trial t02 ...] [--seed N]

For each trial it writes OUT/weights/<trial>-keras.weights.h5, OUT/curves/<trial>-keras.csv
(epoch,loss,accuracy), OUT/predictions/<trial>-keras.csv (example,predicted_class) and
OUT/results/<trial>-keras.json.

Same network, data order, optimizer and hyperparameters as train_pytorch.py; only the frameworks'
default initialisations differ (Keras: glorot-uniform kernels and zero biases).
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
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
tf.config.experimental.enable_op_determinism()

import keras  # noqa: E402
from keras import layers  # noqa: E402

import common  # noqa: E402

FRAMEWORK = "keras"


def build_model() -> keras.Sequential:
    """NHWC input (N, 8, 8, 1) -> logits (N, 10). 8,714 parameters."""
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        layers.Conv2D(16, 3, padding="same", activation="relu", name="conv"),
        layers.MaxPooling2D(2, name="pool"),
        layers.Flatten(name="flatten"),  # (N, 4, 4, 16) -> (N, 256), channel-minor
        layers.Dense(32, activation="relu", name="fc1"),
        layers.Dense(10, name="fc2"),  # logits
    ], name="digits_cnn")


def train_trial(trial: str, seed: int, out: Path) -> dict:
    hp = common.TRIALS[trial]
    lr, batch_size, epochs, epsilon = hp["learning_rate"], hp["batch_size"], hp["epochs"], hp["epsilon"]
    (x_train, y_train), (x_test, y_test) = common.load_split()
    x_train, x_test = x_train[..., None], x_test[..., None]  # NHWC

    keras.utils.set_random_seed(seed)
    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr, beta_1=common.BETA_1, beta_2=common.BETA_2,
                                        epsilon=epsilon, name="adam"),  # fixed name: it is saved in the file
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),  # categorical CE on logits
        metrics=["accuracy"],
    )

    start = time.perf_counter()
    # Batches in file order (shuffle=False), last one partial. The history's loss and accuracy are
    # means over the epoch's examples, each measured on its batch's forward pass before the update.
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    # Test accuracy: our own count of argmax == label over the whole test split, k/N.
    logits = model(x_test, training=False).numpy()
    test_correct = int((logits.argmax(axis=1) == y_test).sum())
    test_loss = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y_test, logits))
    wall = time.perf_counter() - start

    (out / "weights").mkdir(parents=True, exist_ok=True)
    (out / "curves").mkdir(parents=True, exist_ok=True)
    (out / "results").mkdir(parents=True, exist_ok=True)
    model.save_weights(str(out / "weights" / f"{trial}-{FRAMEWORK}.weights.h5"))
    with open(out / "curves" / f"{trial}-{FRAMEWORK}.csv", "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["epoch", "loss", "accuracy"])
        history_rows = zip(history.history["loss"], history.history["accuracy"], strict=True)
        for epoch, (loss_value, accuracy) in enumerate(history_rows, 1):
            writer.writerow([epoch, repr(float(loss_value)), repr(float(accuracy))])
    common.write_predictions(out / "predictions" / f"{trial}-{FRAMEWORK}.csv", logits.argmax(axis=1))
    result = {
        "trial": trial,
        "framework": FRAMEWORK,
        "correct": test_correct,
        "test_size": len(x_test),
        "test_accuracy": test_correct / len(x_test),
        "test_loss": test_loss,
        "wall_time_s": round(wall, 3),
        "parameter_count": int(model.count_params()),
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__, "python": platform.python_version()},
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
