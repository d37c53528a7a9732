"""Export helpers a training script calls: weights as data, under the names cwcontrib's reference model expects.

    from cwcontrib.export import save_keras, save_torch
    save_torch(model, "weights/t01-pytorch.safetensors")      # a torch.nn.Module or its state_dict()
    save_keras(model, "weights/t01-keras.weights.h5")         # a keras.Model

Which reference: the `architecture` of the submission the file is saved into (the manifest is looked for in the
folders above `path`: `weights/x` is saved into the submission that holds `weights/`), or the `architecture=`,
`num_classes=`, `input_shape=` and `modifications=` arguments. The reference model is built by the architecture
registry, exactly as `cwcontrib validate` builds it, and the file is read back with the validator's own reader and
compared tensor by tensor (names, shapes, dtypes, finiteness: the checks CW407-CW410), so an export that returns
is one the weights stage accepts.

- PyTorch: the state dict's names must be the reference's. The prefixes `module.` (DataParallel,
  DistributedDataParallel) and `_orig_mod.` (torch.compile) are removed. A module of your own whose names differ
  can be mapped onto the reference's by position with `by_order=True` (every shape must still match). Written with
  safetensors: tensors and a JSON header, nothing that runs.
- Keras 3: the model's variables are copied, in order, into the registry's model (every shape must match), and
  that model's weights are saved: the HDF5 names are then the reference's however your model names them (a
  subclassed keras.Model's own file names them after its attributes, which the weights stage refuses). No
  optimizer state is written.

Frameworks are imported on first use. Files are written beside their target and renamed over it.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from cwcontrib.atomic import ordinary_mode, write_bytes_atomic
from cwcontrib.manifest import MANIFEST_NAMES

InputShape = tuple[int, int, int]
_SEARCH_LEVELS = 4  # weights/t01.safetensors -> weights/ -> the submission; a little deeper is allowed
_STRIPPED_PREFIXES = ("module.", "_orig_mod.")


class ExportError(ValueError):
    """The weights do not fit the reference architecture (the message names what differs), or the reference
    cannot be determined."""


@dataclass(frozen=True)
class Target:
    """The reference a file is exported for."""

    architecture: str
    framework: str  # the registry's: "pytorch" or "tensorflow"
    num_classes: int
    input_shape: InputShape
    modifications: tuple[str, ...]


def _find_manifest(path: Path) -> Path | None:
    folder = path.resolve().parent
    for _ in range(_SEARCH_LEVELS):
        for name in MANIFEST_NAMES:
            candidate = folder / name
            if candidate.is_file():
                return candidate
        if folder.parent == folder:
            break
        folder = folder.parent
    return None


def _from_manifest(manifest: Path, framework: str, framework_key: str | None) -> Target:
    data = yaml.safe_load(manifest.read_text(encoding="utf-8"))  # JSON is YAML
    where = f"{manifest}"
    try:
        arch = data["architecture"]
        name, classes = arch["name"], arch["num_classes"]
        shape = (arch["input_shape"]["height"], arch["input_shape"]["width"], arch["input_shape"]["channels"])
        frameworks = data["frameworks"]
    except (KeyError, TypeError) as exc:
        raise ExportError(f"{where}: architecture or frameworks incomplete ({exc}); pass architecture=...") from None
    manifest_name = "tensorflow" if framework == "tensorflow" else "pytorch"
    keys = [key for key, value in frameworks.items() if isinstance(value, dict) and value.get("name") == manifest_name]
    if framework_key is not None:
        if framework_key not in keys:
            raise ExportError(f"{where}: no {manifest_name} framework key {framework_key!r}; its keys: "
                              f"{', '.join(keys) or 'none'}")
        keys = [framework_key]
    implementations = arch.get("implementations") or {}
    modifications = {key: tuple((implementations.get(key) or {}).get("modifications") or ()) for key in keys}
    if not keys:
        raise ExportError(f"{where} declares no {manifest_name} framework")
    if len(set(modifications.values())) > 1:
        raise ExportError(f"{where}: the {manifest_name} keys {', '.join(keys)} declare different modifications; "
                          "say which with framework_key=...")
    if not isinstance(name, str) or not isinstance(classes, int) or not all(isinstance(d, int) for d in shape):
        raise ExportError(f"{where}: fill in architecture.name, num_classes and input_shape first")
    return Target(name, framework, classes, shape, modifications[keys[0]])


def resolve_target(path: Path, framework: str, *, architecture: str | None, num_classes: int | None,
                   input_shape: InputShape | None, modifications: tuple[str, ...] | list[str] | None,
                   framework_key: str | None) -> Target:
    """The reference for `path`: from the arguments, else from the submission manifest above `path`."""
    if architecture is None:
        manifest = _find_manifest(path)
        if manifest is None:
            raise ExportError(f"no submission manifest above {path}: save inside a folder made by `cwcontrib init`, "
                              "or name the reference (architecture='digits-cnn', num_classes=..., input_shape=...)")
        found = _from_manifest(manifest, framework, framework_key)
        return Target(found.architecture, framework,
                      found.num_classes if num_classes is None else num_classes,
                      found.input_shape if input_shape is None else tuple(input_shape),  # type: ignore[arg-type]
                      found.modifications if modifications is None else tuple(modifications))
    from cwcontrib.architectures import ArchitectureError, spec

    try:
        entry = spec(architecture)
    except ArchitectureError as exc:
        raise ExportError(str(exc)) from None
    return Target(architecture, framework,
                  entry.default_num_classes if num_classes is None else num_classes,
                  entry.default_input_shape if input_shape is None else tuple(input_shape),  # type: ignore[arg-type]
                  tuple(modifications or ()))


def _build(target: Target, **kwargs: Any) -> Any:
    from cwcontrib.architectures import ArchitectureError, build

    try:
        return build(target.architecture, target.framework, target.num_classes, target.input_shape,
                     target.modifications, **kwargs)
    except ArchitectureError as exc:
        raise ExportError(str(exc)) from None


def _compare(expected: dict[str, tuple[tuple[int, ...], str]], present: dict[str, np.ndarray], what: str) -> None:
    """What the weights stage would say about `present` (CW407-CW410), as one error."""
    missing = sorted(set(expected) - set(present))
    unexpected = sorted(set(present) - set(expected))
    problems = []
    if missing or unexpected:
        problems.append(f"CW407: missing {', '.join(missing[:5]) or 'none'}; unexpected "
                        f"{', '.join(unexpected[:5]) or 'none'} ({len(missing)} missing, {len(unexpected)} unexpected)")
    for name in sorted(set(present) & set(expected)):
        shape, dtype = expected[name]
        array = present[name]
        if tuple(array.shape) != tuple(shape):
            problems.append(f"CW408: {name} has shape {tuple(array.shape)}, the reference {tuple(shape)}")
        elif str(array.dtype) != dtype:
            problems.append(f"CW409: {name} is {array.dtype}, the reference {dtype}")
        elif array.dtype.kind == "f" and not np.isfinite(array).all():
            problems.append(f"CW410: {name} has NaN or infinite values")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ExportError(f"{what} does not fit the reference: {shown}")


def _read_back(path: Path, fmt: str) -> dict[str, np.ndarray]:
    from cwcontrib.weights import WeightsError, model_tensors, read_weights

    try:
        return model_tensors(read_weights(path.parent, path.name, fmt), fmt)
    except WeightsError as exc:
        raise ExportError(f"{path}: the validator's reader refuses the file just written: {exc.code} {exc}") from None


# --- PyTorch ------------------------------------------------------------------------------------------------------


def _state_dict(model_or_state_dict: Any) -> dict[str, Any]:
    import torch

    state = model_or_state_dict.state_dict() if isinstance(model_or_state_dict, torch.nn.Module) \
        else model_or_state_dict
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ExportError("save_torch takes a torch.nn.Module or its state_dict() (names to tensors); for a "
                          "checkpoint dict pass checkpoint['model'] (or wherever it keeps the state dict)")
    for prefix in _STRIPPED_PREFIXES:
        if state and all(key.startswith(prefix) for key in state):
            state = {key.removeprefix(prefix): value for key, value in state.items()}
    return dict(state)


def save_torch(model_or_state_dict: Any, path: str | os.PathLike[str], *, architecture: str | None = None,
               num_classes: int | None = None, input_shape: InputShape | None = None,
               modifications: tuple[str, ...] | list[str] | None = None, framework_key: str | None = None,
               by_order: bool = False) -> Path:
    """Write a PyTorch model's weights as `.safetensors` under the reference's names; returns the path.

    Raises ExportError (nothing written) when they do not fit the reference model."""
    from safetensors.torch import save

    target_path = Path(path)
    if not target_path.name.endswith(".safetensors"):
        raise ExportError(f"{target_path}: a PyTorch export is a .safetensors file")
    target = resolve_target(target_path, "pytorch", architecture=architecture, num_classes=num_classes,
                            input_shape=input_shape, modifications=modifications, framework_key=framework_key)
    reference = _build(target, meta=True)
    expected = {k: (tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in reference.state_dict().items()}
    state = _state_dict(model_or_state_dict)
    if by_order and list(state) != list(expected):
        if len(state) != len(expected):
            raise ExportError(f"by_order: {len(state)} tensors, the reference has {len(expected)}")
        state = dict(zip(expected, state.values(), strict=True))
    # Own, contiguous CPU copies: safetensors refuses tensors that share memory (tied weights) or are strided.
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}
    _compare(expected, {k: _numpy(v) for k, v in tensors.items()}, "the state dict")
    data: bytes = save(tensors)
    write_bytes_atomic(target_path, data, mode=ordinary_mode())  # an export is an ordinary file, not a private one
    _compare(expected, _read_back(target_path, "safetensors"), str(target_path))
    return target_path


def _numpy(tensor: Any) -> np.ndarray:
    import torch

    if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16
        raise ExportError("a tensor is bfloat16; the reference's are float32: export model.float()")
    array: np.ndarray = tensor.numpy()
    return array


# --- Keras --------------------------------------------------------------------------------------------------------


def save_keras(model: Any, path: str | os.PathLike[str], *, architecture: str | None = None,
               num_classes: int | None = None, input_shape: InputShape | None = None,
               modifications: tuple[str, ...] | list[str] | None = None, framework_key: str | None = None) -> Path:
    """Write a Keras model's weights as `.weights.h5` with the reference model's variable names; returns the path.

    Raises ExportError (nothing written) when its variables do not fit the reference model."""
    import keras

    target_path = Path(path)
    if not target_path.name.endswith(".weights.h5"):
        raise ExportError(f"{target_path}: a Keras export is a .weights.h5 file")
    if not isinstance(model, keras.Model):
        raise ExportError("save_keras takes a keras.Model")
    target = resolve_target(target_path, "tensorflow", architecture=architecture, num_classes=num_classes,
                            input_shape=input_shape, modifications=modifications, framework_key=framework_key)
    reference = _build(target)
    values = [np.asarray(v) for v in model.get_weights()]
    wanted = reference.weights
    if len(values) != len(wanted):
        raise ExportError(f"the model has {len(values)} variables, the reference {target.architecture} "
                          f"{len(wanted)}: it is not the same architecture")
    for index, (value, variable) in enumerate(zip(values, wanted, strict=True)):
        if tuple(value.shape) != tuple(variable.shape):
            raise ExportError(f"variable {index} ({variable.path}) has shape {tuple(value.shape)} in the model, "
                              f"{tuple(variable.shape)} in the reference {target.architecture}")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise ExportError(f"variable {index} ({variable.path}) has NaN or infinite values (CW410)")
    reference.set_weights(values)
    from cwcontrib.evaluate import keras_reference_tensors

    expected = {k: (v.shape, str(v.dtype)) for k, v in keras_reference_tensors(reference).items()}
    target_path.parent.mkdir(parents=True, exist_ok=True)
    # Keras insists on the .weights.h5 suffix, so the file written beside the target keeps it.
    fd, tmp = tempfile.mkstemp(prefix=f".{target_path.name}.", suffix=".tmp.weights.h5", dir=target_path.parent)
    os.close(fd)
    try:
        os.unlink(tmp)  # Keras writes the file itself
        reference.save_weights(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _compare(expected, _read_back(target_path, "keras-h5"), str(target_path))
    return target_path


__all__ = ["ExportError", "resolve_target", "save_keras", "save_torch"]
