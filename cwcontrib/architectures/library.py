"""Library architectures by name: any image-classification builder of `torchvision.models` or
`keras.applications` is a trusted reference, e.g. `torchvision.models.resnet18` or
`keras.applications.MobileNetV2`. Library code is trusted; only weights are data.

**Which builders.** The allowlist is enumerated from the installed libraries at run time, filtered to
classification builders, not curated by hand:

- torchvision: `torchvision.models.list_models(module=torchvision.models)`, the builders of the
  top-level namespace. Detection, segmentation, video, optical flow and quantized models live in
  submodules (`torchvision.models.detection`, …) and are not listed there, so everything listed is an
  image classifier taking (N, 3, H, W) and returning (N, num_classes) logits.
- keras.applications: the public callables of the namespace whose signature takes `include_top`,
  `weights`, `input_shape` and `classes` — the classifier builders; the per-family modules
  (`keras.applications.resnet`, with `preprocess_input` and `decode_predictions`) are not callables.

Enumerating keeps the list true to the locked library versions: a new builder in a newer torchvision
is available the day the lock moves, and a builder a library drops is refused rather than listed and
broken. What the enumeration cannot know is which builders are *the same network* across libraries;
that is the hand-made table in `cwcontrib.architectures.equivalents`.

**How they are built.** Never with pretrained weights (`weights=None`: nothing is downloaded), at the
declared number of classes and input shape, with the library's own head (`include_top=True` for
Keras, whose default output is softmax probabilities; torchvision returns logits). A few builders
need the input size as an argument: torchvision's ViTs (`image_size`, square only) and MaxViT
(`input_size`). A model that cannot take the declared input (too small for its pooling pyramid, not
3 channels for torchvision) is an `ArchitectureError` naming the input and the library's reason,
found by a shape-only forward pass (PyTorch, meta device) or by Keras' own input checks.

**Across frameworks.** A manifest names one architecture for all its framework keys. A library name
is built as itself in its own framework; in the other framework it is built as its equivalent from
the table (`torchvision.models.resnet101` in a TensorFlow key is `keras.applications.ResNet101`), and
a name without an equivalent there is an `ArchitectureError` (CW412) that says so.
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

TORCHVISION = "torchvision.models."
KERAS = "keras.applications."
LIBRARY_FRAMEWORK = {TORCHVISION: "pytorch", KERAS: "tensorflow"}
"""Library prefix -> the framework (manifest `FrameworkName`) whose models it builds."""
ROUTES = ("registry", "torchvision", "keras.applications")

#: Modifications a library builder may be declared with, and what each means.
MODIFICATIONS: dict[str, str] = {
    "softmax-removed": (
        "keras.applications: classifier_activation=None, the model returns logits (torchvision's builders "
        "always do) instead of the library default softmax probabilities"
    ),
    "preprocessing-removed": (
        "keras.applications: include_preprocessing=False, the model takes already-normalised input instead of "
        "rescaling/normalising [0, 255] pixels in its first layers (ConvNeXt, EfficientNetV2, MobileNetV3)"
    ),
    "aux-logits-removed": (
        "torchvision: aux_logits=False, no auxiliary classifier (its AuxLogits / aux1, aux2 tensors are not in "
        "the state_dict); it is unused at inference either way (inception_v3, googlenet)"
    ),
}

# torchvision builders that take their input size as an argument (the position embedding / attention grid
# is sized by it): name prefix -> keyword.
_TORCH_SIZE_ARGUMENT = {"vit_": "image_size", "maxvit_": "input_size"}
_TORCH_AUX_LOGITS = ("inception_v3", "googlenet")
_KERAS_REQUIRED = frozenset({"include_top", "weights", "input_shape", "classes"})


@dataclass(frozen=True)
class LibraryName:
    """A parsed library architecture name."""

    name: str
    """In full, e.g. "torchvision.models.resnet18"."""
    prefix: str
    """TORCHVISION or KERAS."""
    builder: str
    """The builder's own name, e.g. "resnet18", "MobileNetV2"."""

    @property
    def framework(self) -> str:
        return LIBRARY_FRAMEWORK[self.prefix]

    @property
    def route(self) -> str:
        return self.prefix.rstrip(".").removesuffix(".models")


def parse(name: str) -> LibraryName | None:
    """The library name `name` spells, or None when it has no library prefix. Imports nothing."""
    for prefix in LIBRARY_FRAMEWORK:
        if name.startswith(prefix) and len(name) > len(prefix):
            return LibraryName(name, prefix, name[len(prefix):])
    return None


def _error(message: str) -> Exception:
    from cwcontrib.architectures.registry import ArchitectureError

    return ArchitectureError(message)


# ------------------------------------------------------------------------------------------- enumeration


@cache
def torchvision_builders() -> tuple[str, ...]:
    """Full names of torchvision's classification builders, sorted (imports torchvision)."""
    import torchvision  # type: ignore[import-untyped]  # no py.typed

    return tuple(TORCHVISION + n for n in sorted(torchvision.models.list_models(module=torchvision.models)))


@cache
def keras_builders() -> tuple[str, ...]:
    """Full names of keras.applications' classification builders, sorted (imports keras)."""
    import keras

    found = []
    for attribute in dir(keras.applications):
        value = getattr(keras.applications, attribute)
        if attribute.startswith("_") or not callable(value) or inspect.isclass(value):
            continue
        try:
            parameters = set(inspect.signature(value).parameters)
        except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
            continue
        if parameters >= _KERAS_REQUIRED:
            found.append(KERAS + attribute)
    return tuple(sorted(found))


def builders(route: str) -> tuple[str, ...]:
    """The library names of one route ("torchvision" or "keras.applications")."""
    if route == "torchvision":
        return torchvision_builders()
    if route == "keras.applications":
        return keras_builders()
    raise _error(f"unknown library route {route!r}; library routes: torchvision, keras.applications")


def known(library: LibraryName) -> bool:
    """Whether the installed library has this classification builder (imports the library)."""
    return library.name in builders(library.route)


def _check_known(library: LibraryName) -> None:
    if known(library):
        return
    available = builders(library.route)
    close = [n for n in available if n.lower() == library.name.lower()]
    hint = f"; did you mean {close[0]}?" if close else \
        f"; {len(available)} are available (`cwcontrib architectures`)"
    raise _error(f"{library.name} is not an image-classification builder of the installed {library.route}{hint}")


# ---------------------------------------------------------------------------------------- modifications


def modifications_for(library: LibraryName) -> dict[str, str]:
    """Modifications this builder can be declared with: name -> description (imports the library)."""
    _check_known(library)
    if library.prefix == TORCHVISION:
        return {"aux-logits-removed": MODIFICATIONS["aux-logits-removed"]} if library.builder in _TORCH_AUX_LOGITS \
            else {}
    import keras

    parameters = set(inspect.signature(getattr(keras.applications, library.builder)).parameters)
    found = {"softmax-removed": MODIFICATIONS["softmax-removed"]} if "classifier_activation" in parameters else {}
    if "include_preprocessing" in parameters:
        found["preprocessing-removed"] = MODIFICATIONS["preprocessing-removed"]
    return found


def resolve(name: str, framework: str) -> LibraryName:
    """The library builder that `name` means in `framework`: itself, or its table equivalent in the other
    library. ArchitectureError when there is none, or the builder is not a classifier of the installed library."""
    library = parse(name)
    if library is None:
        raise _error(f"{name!r} is not a library name ({TORCHVISION}<builder> or {KERAS}<Builder>)")
    if library.framework != framework:
        from cwcontrib.architectures.equivalents import equivalent_of

        other = equivalent_of(library.name)
        if other is None:
            raise _error(f"{library.name} builds {library.framework} models; it has no {framework} equivalent in the "
                         "table of cross-framework equivalents (`cwcontrib architectures`): name the "
                         f"{framework} key's library model in a submission of its own")
        library = parse(other)
        assert library is not None
    _check_known(library)
    return library


# --------------------------------------------------------------------------------------------- building


def build(name: str, framework: str, num_classes: int, input_shape: tuple[int, int, int],
          modifications: tuple[str, ...], *, meta: bool = False) -> Any:
    """Build the library model `name` means in `framework`; arguments validated by `registry.build`, except
    the modifications, checked here against the resolved builder."""
    library = resolve(name, framework)
    allowed = modifications_for(library)
    unknown = [m for m in modifications if m not in allowed]
    if unknown:
        listing = ", ".join(repr(m) for m in allowed) or "none"
        raise _error(f"unknown modification {unknown[0]!r} for {library.name}; known: {listing}")
    if len(set(modifications)) != len(modifications):
        raise _error(f"modification listed twice: {sorted(modifications)}")
    if library.prefix == TORCHVISION:
        return _build_torch(library, num_classes, input_shape, set(modifications), meta=meta)
    if meta:
        raise _error("meta=True is PyTorch-only: Keras has no shape-only device")
    return _build_keras(library, num_classes, input_shape, set(modifications))


def _cannot(library: LibraryName, input_shape: tuple[int, int, int], reason: str) -> Exception:
    return _error(f"{library.name} cannot take input {input_shape} (H, W, C): {reason}")


def _build_torch(library: LibraryName, num_classes: int, input_shape: tuple[int, int, int],
                 modifications: set[str], *, meta: bool) -> Any:
    import torch
    import torchvision

    height, width, channels = input_shape
    if channels != 3:
        raise _cannot(library, input_shape, "torchvision's classification builders take 3 channels")
    kwargs: dict[str, Any] = {"weights": None, "num_classes": num_classes}
    for prefix, keyword in _TORCH_SIZE_ARGUMENT.items():
        if library.builder.startswith(prefix):
            if keyword == "image_size":
                if height != width:
                    raise _cannot(library, input_shape, "a vision transformer's image_size is square")
                kwargs[keyword] = height
            else:
                kwargs[keyword] = (height, width)
    if library.builder in _TORCH_AUX_LOGITS:
        kwargs["aux_logits"] = "aux-logits-removed" not in modifications
        kwargs["init_weights"] = True  # the current default, said explicitly (torchvision warns otherwise)
    builder = torchvision.models.get_model_builder(library.builder)
    try:
        with torch.device("meta") if meta else contextlib.nullcontext():
            model = builder(**kwargs)
    except (ValueError, TypeError, AssertionError, RuntimeError) as exc:  # torchvision's refusals of an argument
        raise _cannot(library, input_shape, f"{type(exc).__name__}: {exc}") from exc
    _check_runs(library, model, input_shape)
    return model


def _check_runs(library: LibraryName, model: Any, input_shape: tuple[int, int, int]) -> None:
    """A shape-only forward pass (meta device, nothing computed): the model takes the declared input."""
    from cwcontrib.architectures.fingerprint import FingerprintError
    from cwcontrib.architectures.fingerprint_torch import census

    try:
        census(model, input_shape)
    except FingerprintError as exc:
        raise _cannot(library, input_shape, str(exc)) from exc


def _build_keras(library: LibraryName, num_classes: int, input_shape: tuple[int, int, int],
                 modifications: set[str]) -> Any:
    import keras

    builder = getattr(keras.applications, library.builder)
    parameters = set(inspect.signature(builder).parameters)
    kwargs: dict[str, Any] = {"weights": None, "include_top": True, "input_shape": input_shape,
                              "classes": num_classes}
    if "classifier_activation" in parameters:
        kwargs["classifier_activation"] = None if "softmax-removed" in modifications else "softmax"
    if "include_preprocessing" in parameters:
        kwargs["include_preprocessing"] = "preprocessing-removed" not in modifications
    try:
        with warnings.catch_warnings():
            # "This model usually expects 1 or 3 input channels": a remark, not a refusal.
            warnings.filterwarnings("ignore", "This model usually expects", UserWarning)
            return builder(**kwargs)
    except (ValueError, TypeError) as exc:  # Keras' refusals of an input shape ("Input size must be at least …")
        raise _cannot(library, input_shape, f"{type(exc).__name__}: {exc}") from exc


# ---------------------------------------------------------------------------------------------- listing


def listing() -> str:
    """What `cwcontrib architectures` prints: every architecture by route, with modifications and equivalents.

    Imports torchvision and keras to enumerate them; a library that is not installed is listed as such.
    """
    from cwcontrib.architectures import registry
    from cwcontrib.architectures.equivalents import TABLE, equivalent_of

    lines = ["registry: cwcontrib's own builders (weights load into these; `architecture.name` as listed)"]
    for name in registry.names():
        entry = registry.spec(name)
        lines.append(f"  {name}: {entry.description}")
        for framework, definition in sorted(entry.definitions.items()):
            lines.append(f"    {framework}: {definition}")
            for modification, text in registry.modifications_for(name, framework).items():
                lines.append(f"      modification {modification!r}: {text}")
    for route, module in (("torchvision", "torchvision"), ("keras.applications", "keras")):
        try:
            names = builders(route)
            version = __import__(module).__version__
        except ImportError as exc:
            lines.append(f"{route}: not installed here ({exc.name}); install cwcontrib[torch] / cwcontrib[tf]")
            continue
        framework = "pytorch" if route == "torchvision" else "tensorflow"
        lines.append(f"{route}: {len(names)} image-classification builders of {module} {version}, built with "
                     f"weights=None for {framework} keys (`architecture.name` as listed)")
        for name in names:
            library = parse(name)
            assert library is not None
            other = equivalent_of(name)
            mods = ", ".join(modifications_for(library))
            lines.append(f"  {name}" + (f"  = {other}" if other else "")
                         + (f"  [modifications: {mods}]" if mods else ""))
    lines.append("equivalents: torchvision / keras.applications builders meant to be the same network (a library "
                 "name in the other framework's key builds its equivalent)")
    for row in TABLE:
        extra = f"; Keras preprocessing: {row.keras_preprocessing}" if row.keras_preprocessing else ""
        lines.append(f"  {row.key}: {row.torchvision} = {row.keras}{extra}")
    for modification, text in MODIFICATIONS.items():
        lines.append(f"library modification {modification!r}: {text}")
    return "\n".join(lines) + "\n"


def compare_names(a: str, b: str, input_shape: tuple[int, int, int] = (32, 32, 3), num_classes: int = 10,
                  modifications: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())) -> Any:
    """The pair verdict of two architectures by name (registry or library, in or out of the table), each built in
    its own framework (a registry name in PyTorch) at `input_shape` (H, W, C) and `num_classes`, PyTorch ones on
    the meta device; each fingerprint is labelled with its name. Returns a `PairVerdict`."""
    from cwcontrib.architectures.fingerprint import fingerprint
    from cwcontrib.architectures.registry import build
    from cwcontrib.architectures.verdict import compare

    prints = []
    for name, mods in zip((a, b), modifications, strict=True):
        library = parse(name)
        framework = library.framework if library is not None else "pytorch"
        model = build(name, framework, num_classes, input_shape, mods, meta=framework == "pytorch")
        prints.append(fingerprint(model, input_shape, label=name))
    return compare(prints[0], prints[1])
