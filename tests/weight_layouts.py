"""Weight layouts, a test helper (the validator compares tensors by name): where Keras 3 puts each variable
in a `.weights.h5` file, and how the same layer's arrays map between Keras and PyTorch.

**Keras 3 `.weights.h5` structure** (what `model.save_weights` writes; Keras 3.15 checked by the tests).
Datasets live at::

    layers/<snake_case(layer class)>[_<k>]/vars/<i>

- The group is named after the layer's *class*, not its name: Keras's saver deliberately avoids
  user-chosen names. The k-th further layer of one class in `model.layers` order gets `_k`
  (conv2d, conv2d_1, …; dense, dense_1, …).
- The layer's own name is the `name` attribute of its `vars` group (e.g. layers/dense_1/vars has
  name="fc2").
- `<i>` indexes the layer's own variables, trainable first, then non-trainable: Conv2D/Dense
  0 = kernel, 1 = bias; BatchNormalization 0 = gamma, 1 = beta, 2 = moving_mean, 3 = moving_variance.
- Layers without weights still get an empty `layers/<name>/vars` group; Functional models also list
  their InputLayer (layers/input_layer/vars); the model's own variables go in a top-level `vars`
  group (empty for these models). Nested models nest the same scheme
  (layers/functional/layers/conv2d/vars/0).
- A model saved after `compile()` + `fit()` also carries its optimizer's state under
  `optimizer/vars/<i>` (group attribute name="adam"): for Adam, 0 = iterations (int64 scalar),
  1 = learning rate (float32 scalar), then a momentum and a velocity per trainable variable,
  interleaved in variable order (2, 3 = conv kernel; 4, 5 = conv bias; …). The demo submission's
  files have it. It is not model state: a reader should ignore it (or bound and skip it), never
  load it into the model.

For the registry's digits-cnn (8×8×1, 10 classes) that is exactly six datasets::

    layers/conv2d/vars/0   (3, 3, 1, 16)  conv kernel, HWIO
    layers/conv2d/vars/1   (16,)          conv bias
    layers/dense/vars/0    (256, 32)      fc1 kernel, (in, out), rows in NHWC flatten order
    layers/dense/vars/1    (32,)          fc1 bias
    layers/dense_1/vars/0  (32, 10)       fc2 kernel, (in, out)
    layers/dense_1/vars/1  (10,)          fc2 bias

plus empty groups layers/flatten/vars (name="flatten"), layers/max_pooling2d/vars (name="pool") and
vars (name="digits_cnn"); and, in a file saved after training, optimizer/vars/0..13.

**Keras ↔ PyTorch** for digits-cnn: conv kernels HWIO ↔ OIHW; dense kernels (in, out) ↔ (out, in);
and fc1's input axis, which follows each framework's flatten of the pooled (H/2, W/2, 16) map —
Keras flattens NHWC (index (h·W' + w)·C + c), PyTorch NCHW (index (c·H' + h)·W' + w) — so fc1's
columns are permuted, not just transposed. Mapping through here gives identical logits.
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cwcontrib.architectures.registry import ArchitectureError, InputShape, spec

MAPPED = ("digits-cnn",)
"""Registry names with a Keras ↔ PyTorch weight mapping."""

#: digits-cnn: PyTorch state_dict key -> Keras .weights.h5 dataset path.
DIGITS_CNN_KERAS_PATHS: dict[str, str] = {
    "conv.weight": "layers/conv2d/vars/0",
    "conv.bias": "layers/conv2d/vars/1",
    "fc1.weight": "layers/dense/vars/0",
    "fc1.bias": "layers/dense/vars/1",
    "fc2.weight": "layers/dense_1/vars/0",
    "fc2.bias": "layers/dense_1/vars/1",
}


class WeightLayoutError(ValueError):
    """Arrays that do not fit the layout being mapped: missing, unexpected or mis-shaped."""


@dataclass(frozen=True)
class KerasWeight:
    """One variable as stored in a Keras 3 `.weights.h5` file."""

    path: str
    """Dataset path inside the file, e.g. "layers/conv2d/vars/0"."""
    layer: str
    """The layer's name (the `name` attribute of its vars group), e.g. "conv"."""
    index: int
    shape: tuple[int, ...]
    dtype: str


def digits_cnn_keras_layout(num_classes: int = 10, input_shape: InputShape = (8, 8, 1)) -> dict[str, tuple[int, ...]]:
    """Expected dataset path -> shape in a digits-cnn `.weights.h5`, computed without importing Keras."""
    height, width, channels = input_shape
    flat = 16 * (height // 2) * (width // 2)
    return {
        "layers/conv2d/vars/0": (3, 3, channels, 16),
        "layers/conv2d/vars/1": (16,),
        "layers/dense/vars/0": (flat, 32),
        "layers/dense/vars/1": (32,),
        "layers/dense_1/vars/0": (32, num_classes),
        "layers/dense_1/vars/1": (num_classes,),
    }


def keras_weight_layout(model: Any) -> list[KerasWeight]:
    """Every variable `model.save_weights` writes, in `model.layers` order, read back from a real save.

    Asking Keras itself (a save to a temporary file, read with h5py) is the only way to be sure of
    the paths across Keras versions; the model is one the registry built, so this runs trusted code only.
    """
    import h5py

    order = {name: i for i, name in enumerate(_layer_names(model))}
    found: list[KerasWeight] = []
    with tempfile.TemporaryDirectory(prefix="cwcontrib-layout-") as tmp:
        file = Path(tmp) / "model.weights.h5"
        with warnings.catch_warnings():  # Keras 3.15's own numpy-2 deprecation, not the caller's concern
            warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
            model.save_weights(file)
        with h5py.File(file, "r") as h5:

            def visit(path: str, node: Any) -> None:
                if isinstance(node, h5py.Dataset):
                    group = node.parent
                    layer = group.attrs.get("name", "")
                    layer = layer.decode() if isinstance(layer, bytes) else str(layer)
                    found.append(KerasWeight(path, layer, int(path.rsplit("/", 1)[1]), tuple(node.shape),
                                             str(node.dtype)))

            h5.visititems(visit)
    return sorted(found, key=lambda w: (order.get(w.layer, len(order)), w.path.rsplit("/", 2)[0], w.index))


def keras_weight_paths(model: Any) -> list[str]:
    """Dataset paths of `keras_weight_layout(model)`, e.g. ["layers/conv2d/vars/0", …]."""
    return [w.path for w in keras_weight_layout(model)]


def _layer_names(model: Any) -> list[str]:
    names: list[str] = []
    for layer in model.layers:
        names.append(layer.name)
        if hasattr(layer, "layers"):
            names.extend(_layer_names(layer))
    return names


# ------------------------------------------------------------------------------------ Keras <-> PyTorch


def keras_to_torch_state(name: str, keras_weights: dict[str, np.ndarray],
                         input_shape: InputShape | None = None) -> dict[str, np.ndarray]:
    """Map Keras arrays keyed by `.weights.h5` dataset path to a PyTorch state dict of `name`.

    `input_shape` (H, W, C) defaults to the registry's; it fixes the flatten permutation of fc1.
    Raises WeightLayoutError on missing, unexpected or mis-shaped arrays.
    """
    _check_mapped(name)
    height, width, _ = input_shape or spec(name).default_input_shape
    paths = DIGITS_CNN_KERAS_PATHS
    _check_keys(set(keras_weights), set(paths.values()), "Keras")
    arrays = {key: np.asarray(keras_weights[path]) for key, path in paths.items()}
    _check_ndim(arrays, {"conv.weight": 4, "fc1.weight": 2, "fc2.weight": 2}, "Keras", paths)
    conv = arrays["conv.weight"]  # (kh, kw, C_in, C_out)
    fc1 = arrays["fc1.weight"]  # (H'·W'·C, out), rows in NHWC order
    pooled = (height // 2, width // 2, conv.shape[3])
    if fc1.shape[0] != pooled[0] * pooled[1] * pooled[2]:
        raise WeightLayoutError(f"Keras fc1 kernel {paths['fc1.weight']} has {fc1.shape[0]} inputs; the pooled "
                                f"map at input {height}×{width} is {pooled} = {int(np.prod(pooled))}")
    out = fc1.shape[1]
    state = {
        "conv.weight": conv.transpose(3, 2, 0, 1),  # HWIO -> OIHW
        "conv.bias": arrays["conv.bias"],
        # rows (h, w, c) -> columns (c, h, w): un-flatten NHWC, reorder, flatten NCHW
        "fc1.weight": fc1.reshape(*pooled, out).transpose(3, 2, 0, 1).reshape(out, -1),
        "fc1.bias": arrays["fc1.bias"],
        "fc2.weight": arrays["fc2.weight"].T,  # (in, out) -> (out, in)
        "fc2.bias": arrays["fc2.bias"],
    }
    return {key: np.ascontiguousarray(value) for key, value in state.items()}


def torch_to_keras_state(name: str, state: dict[str, np.ndarray],
                         input_shape: InputShape | None = None) -> dict[str, np.ndarray]:
    """Inverse of `keras_to_torch_state`: a PyTorch state dict of `name` to arrays keyed by h5 path."""
    _check_mapped(name)
    height, width, _ = input_shape or spec(name).default_input_shape
    paths = DIGITS_CNN_KERAS_PATHS
    _check_keys(set(state), set(paths), "PyTorch")
    arrays = {key: np.asarray(value) for key, value in state.items()}
    _check_ndim(arrays, {"conv.weight": 4, "fc1.weight": 2, "fc2.weight": 2}, "PyTorch", None)
    conv = arrays["conv.weight"]  # (C_out, C_in, kh, kw)
    fc1 = arrays["fc1.weight"]  # (out, C·H'·W'), columns in NCHW order
    pooled = (conv.shape[0], height // 2, width // 2)
    if fc1.shape[1] != pooled[0] * pooled[1] * pooled[2]:
        raise WeightLayoutError(f"PyTorch fc1.weight has {fc1.shape[1]} inputs; the pooled map at input "
                                f"{height}×{width} is {pooled} (C, H, W) = {int(np.prod(pooled))}")
    out = fc1.shape[0]
    keras_arrays = {
        "conv.weight": conv.transpose(2, 3, 1, 0),  # OIHW -> HWIO
        "conv.bias": arrays["conv.bias"],
        "fc1.weight": fc1.reshape(out, *pooled).transpose(2, 3, 1, 0).reshape(-1, out),
        "fc1.bias": arrays["fc1.bias"],
        "fc2.weight": arrays["fc2.weight"].T,
        "fc2.bias": arrays["fc2.bias"],
    }
    return {paths[key]: np.ascontiguousarray(value) for key, value in keras_arrays.items()}


def _check_mapped(name: str) -> None:
    spec(name)  # unknown names get the registry's own error
    if name not in MAPPED:
        raise ArchitectureError(f"no Keras/PyTorch weight mapping for {name!r}; mapped: {', '.join(MAPPED)}")


def _check_keys(given: set[str], expected: set[str], side: str) -> None:
    missing, unexpected = sorted(expected - given), sorted(given - expected)
    if missing or unexpected:
        raise WeightLayoutError(f"{side} weights do not match the layout: missing {missing or 'none'}, "
                                f"unexpected {unexpected or 'none'}")


def _check_ndim(arrays: dict[str, np.ndarray], ndims: dict[str, int], side: str,
                paths: dict[str, str] | None) -> None:
    for key, ndim in ndims.items():
        if arrays[key].ndim != ndim:
            where = paths[key] if paths else key
            raise WeightLayoutError(f"{side} {where} has shape {arrays[key].shape}; expected {ndim} dimensions")
