"""The Keras half of `export_keras`, in a process of its own:

    KERAS_BACKEND=torch python -m cwcontrib.onnx.keras_export MODEL.keras OUT.onnx HEIGHT WIDTH CHANNELS OPSET


Keras picks its backend once, when it is first imported. With the TensorFlow backend, Keras' ONNX export goes
through tf2onnx, which cannot be installed beside TensorFlow 2.21 (its protobuf pin); with the torch backend it goes
through `torch.onnx.export`, which is installed. So the caller's model (saved as a `.keras` archive: config and
weights, the same numbers whatever the backend) is loaded here under `KERAS_BACKEND=torch` and exported with a
dynamic batch dimension (TorchScript exporter: no onnxscript rewriting, no network).
"""

from __future__ import annotations

import os
import sys
import warnings


def main(argv: list[str]) -> int:
    model_path, out, height, width, channels, opset = argv
    if os.environ.get("KERAS_BACKEND") != "torch":
        print("cwcontrib.onnx.keras_export must run with KERAS_BACKEND=torch", file=sys.stderr)
        return 2
    import keras

    # safe_mode: a Lambda layer's pickled bytecode is refused, even from the contributor's own archive.
    model = keras.saving.load_model(model_path, compile=False, safe_mode=True)
    spec = keras.InputSpec(shape=(None, int(height), int(width), int(channels)), dtype="float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's warnings about Python ints in Keras' shape code
        model.export(out, format="onnx", input_signature=[spec], opset_version=int(opset), verbose=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
