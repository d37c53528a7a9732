"""Reference models as data a process boundary can carry (issue 16).

A `ReferenceSpec` says what to build (plain data: no manifest, no pydantic), `build_from_spec` builds it with the
framework and returns a `Reference`: the model, the tensors its weights file must hold and its fingerprint. The
weights stage builds references in this process (`CWCONTRIB_WORKERS=0`, the audit's Ray tasks) or in a framework
worker (cwcontrib/workers.py), which keeps the model and sends back only the expected tensors and the fingerprint.
Importing this module imports no framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ReferenceSpec:
    """What a framework key's reference is built from."""

    key: str
    name: str  # the architecture, or a library builder of the key's own framework
    framework: str  # "pytorch" or "tensorflow"
    num_classes: int
    shape: tuple[int, int, int]  # (H, W, C)
    modifications: tuple[str, ...]


@dataclass
class Reference:
    """A trusted model for one framework key, the tensors its weights file must hold, its fingerprint. `model` is
    None when a framework worker holds it (`worker`), or for an ONNX key (the run's own graph is the model)."""

    key: str
    framework: str  # "pytorch", "tensorflow" or "onnx"
    model: Any
    expected: dict[str, tuple[tuple[int, ...], str]]
    fingerprint: Any
    worker: Any = None  # the cwcontrib.workers.Worker that holds the model, when one does


def expected_tensors(framework: str, model: Any) -> dict[str, tuple[tuple[int, ...], str]]:
    if framework == "pytorch":
        return {k: (tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in model.state_dict().items()}
    from cwcontrib.evaluate import keras_reference_tensors

    return {k: (v.shape, str(v.dtype)) for k, v in keras_reference_tensors(model).items()}


def build_from_spec(spec: ReferenceSpec) -> Reference:
    """Raises ArchitectureError (unknown name/modification) or ImportError (framework missing)."""
    from cwcontrib.architectures import build, fingerprint

    # PyTorch references live on the meta device (shapes, no memory); weights are assigned at evaluation.
    meta = {"meta": True} if spec.framework == "pytorch" else {}
    built = build(spec.name, spec.framework, spec.num_classes, spec.shape, spec.modifications, **meta)
    return Reference(spec.key, spec.framework, built, expected_tensors(spec.framework, built),
                     fingerprint(built, spec.shape, label=spec.key))
