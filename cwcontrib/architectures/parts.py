"""What a reference architecture of the registry consists of, checked: `missing_parts(name)`.

A registry architecture is one cwcontrib builds itself in both frameworks (`registry.py`), as opposed to a
library builder by name. It is complete when it has every part of `PARTS`; `missing_parts` builds it in both
frameworks and checks each part against what the entry declares, so a registry entry cannot promise what its
builders do not do. `tests/test_architecture_parts.py` runs it on every registered name; CONTRIBUTING.md section
10 is the checklist, `docs/templates/architecture.py` the template.

It imports torch and keras (it builds models); the registry itself does not.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[2] / "docs" / "architectures.md"
"""The architecture documentation, which has a `### \\`name\\`` section per registry name."""

PARTS: dict[str, str] = {
    "registry entry": "a description, the library definition each framework's builder reproduces, and a "
                      "description of every declared modification (`ArchitectureSpec`)",
    "dataset": "the dataset registry name whose input shape and classes are the defaults (`ArchitectureSpec.dataset`)",
    "pytorch builder": "`torch_models.BUILDERS[name]` builds a torch.nn.Module at the default shape (also on the "
                       "meta device) returning one logit per class, and follows num_classes",
    "tensorflow builder": "`keras_models.BUILDERS[name]` builds a keras.Model at the default shape returning one "
                          "output per class, and follows num_classes",
    "modifications": "each declared modification builds and changes the fingerprint",
    "parameter count": "per framework, the parameters at the default shape and classes "
                       "(`ArchitectureSpec.parameters`), equal to the fingerprint's",
    "pair verdict": "the verdict kinds of the PyTorch/Keras pair built with `pair_modifications` "
                    "(`ArchitectureSpec.pair_differences`, () for equivalent), equal to `compare`'s",
    "weight layout": "`ArchitectureSpec.layout`: \"ordered\" when `layout.torch_to_keras` maps the pair's PyTorch "
                     "weights onto its Keras model and the logits then agree; otherwise words of the LayoutError",
    "docs entry": "a `### `name`` section in docs/architectures.md naming each definition and parameter count",
}

LOGITS_TOLERANCE = 1e-4
"""Largest logit difference after mapping, relative to the largest logit (at least 1)."""


def missing_parts(name: str, *, docs: Path = DOCS) -> list[str]:
    """Every part that registry architecture `name` lacks, as "NAME: PART: what is wrong", in `PARTS` order;
    [] when it is complete. ArchitectureError when `name` is not in the registry.

    Any exception a builder raises is reported as that builder's missing part, never raised: the check fails
    closed and still reports every other part. `docs` is the documentation file to look for the entry in.
    """
    from cwcontrib.architectures.registry import spec

    entry = spec(name)
    found: list[tuple[str, str]] = []
    _Check(entry, docs, found).run()
    order = list(PARTS)
    found.sort(key=lambda item: order.index(item[0]))  # stable: several findings of one part keep their order
    return [f"{name}: {part}: {detail}" for part, detail in found]


class _Check:
    def __init__(self, entry: Any, docs: Path, found: list[tuple[str, str]]) -> None:
        self.entry = entry
        self.docs = docs
        self.found = found
        self.cache: dict[tuple[str, tuple[str, ...], int, bool], Any] = {}

    def miss(self, part: str, detail: str) -> None:
        self.found.append((part, detail))

    def build(self, framework: str, modifications: tuple[str, ...] = (), num_classes: int | None = None,
              *, meta: bool = True) -> Any:
        from cwcontrib.architectures.registry import build

        classes = self.entry.default_num_classes if num_classes is None else num_classes
        meta = meta and framework == "pytorch"
        key = (framework, modifications, classes, meta)
        if key not in self.cache:
            self.cache[key] = build(self.entry.name, framework, classes, self.entry.default_input_shape,
                                    modifications, meta=meta)
        return self.cache[key]

    def fingerprint(self, framework: str, modifications: tuple[str, ...] = ()) -> Any:
        from cwcontrib.architectures.fingerprint import fingerprint

        label = f"{framework} {self.entry.name}" + (f" ({', '.join(modifications)})" if modifications else "")
        return fingerprint(self.build(framework, modifications), self.entry.default_input_shape, label=label)

    def run(self) -> None:
        from cwcontrib.architectures.registry import FRAMEWORKS

        self.registry_entry()
        self.dataset()
        built = {framework: self.builder(framework) for framework in FRAMEWORKS}
        self.modifications(built)
        self.parameter_count(built)
        if all(built.values()):
            self.pair_verdict()
            self.weight_layout()
        else:
            broken = ", ".join(framework for framework, ok in built.items() if not ok)
            for part in ("pair verdict", "weight layout"):
                self.miss(part, f"not checked: the {broken} builder does not build")
        self.docs_entry()

    def registry_entry(self) -> None:
        from cwcontrib.architectures.registry import FRAMEWORKS

        entry = self.entry
        if not entry.description.strip():
            self.miss("registry entry", "no description")
        absent = [f for f in FRAMEWORKS if not str(entry.definitions.get(f, "")).strip()]
        if absent:
            self.miss("registry entry", f"no library definition for {', '.join(absent)} (ArchitectureSpec.definitions)")
        for field in ("definitions", "modifications", "parameters", "pair_modifications"):
            unknown = sorted(set(getattr(entry, field)) - set(FRAMEWORKS))
            if unknown:
                self.miss("registry entry", f"{field} names unknown frameworks {unknown}; known: {list(FRAMEWORKS)}")
        for framework, known in entry.modifications.items():
            for modification, text in known.items():
                if not text.strip():
                    self.miss("registry entry", f"modification {modification!r} ({framework}) has no description")

    def dataset(self) -> None:
        from cwcontrib.datasets import REGISTRY

        entry = self.entry
        info = REGISTRY.get(entry.dataset)
        if not entry.dataset:
            self.miss("dataset", "not declared (ArchitectureSpec.dataset)")
        elif info is None:
            self.miss("dataset", f"unknown dataset {entry.dataset!r}; known: {', '.join(sorted(REGISTRY))}")
        elif (tuple(info.shape), info.num_classes) != (entry.default_input_shape, entry.default_num_classes):
            self.miss("dataset", f"{entry.dataset} is {info.shape} with {info.num_classes} classes; the defaults are "
                                 f"{entry.default_input_shape} with {entry.default_num_classes}")

    def builder(self, framework: str) -> bool:
        part = f"{framework} builder"
        classes = self.entry.default_num_classes
        try:
            self.fingerprint(framework)
            returned = _outputs(self.build(framework), framework, self.entry.default_input_shape)
            if returned != classes:
                self.miss(part, f"returns {returned} outputs per example at the default shape, not {classes}")
                return False
            more = _outputs(self.build(framework, num_classes=classes + 3), framework, self.entry.default_input_shape)
            if more != classes + 3:
                self.miss(part, f"ignores num_classes: built for {classes + 3} classes it returns {more} outputs")
            if framework == "pytorch":
                self.build(framework, meta=False)
        except Exception as exc:  # fail closed: whatever a builder raises is a missing part, with its reason
            self.miss(part, _reason(exc))
            return False
        return True

    def modifications(self, built: dict[str, bool]) -> None:
        for framework, known in self.entry.modifications.items():
            if not built.get(framework):
                continue
            plain = dataclasses.replace(self.fingerprint(framework), label="")
            for modification in known:
                try:
                    modified = dataclasses.replace(self.fingerprint(framework, (modification,)), label="")
                except Exception as exc:  # fail closed, as for the builders
                    self.miss("modifications", f"{framework} {modification!r} does not build: {_reason(exc)}")
                    continue
                if modified == plain:
                    self.miss("modifications", f"{framework} {modification!r} changes nothing in the fingerprint: "
                                               "is the builder reading it?")

    def parameter_count(self, built: dict[str, bool]) -> None:
        declared = self.entry.parameters
        for framework, ok in built.items():
            if framework not in declared:
                self.miss("parameter count", f"not declared for {framework} (ArchitectureSpec.parameters)")
            elif ok and (count := self.fingerprint(framework).parameters) != declared[framework]:
                self.miss("parameter count", f"{framework} builds {count:,} parameters; declared "
                                             f"{declared[framework]:,}")

    def pair(self, framework: str) -> tuple[str, ...]:
        return tuple(self.entry.pair_modifications.get(framework, ()))

    def pair_verdict(self) -> None:
        from cwcontrib.architectures.verdict import compare

        declared = self.entry.pair_differences
        if declared is None:
            self.miss("pair verdict", "not declared (ArchitectureSpec.pair_differences: () when equivalent)")
            return
        try:
            verdict = compare(self.fingerprint("pytorch", self.pair("pytorch")),
                              self.fingerprint("tensorflow", self.pair("tensorflow")))
        except Exception as exc:  # an unknown pair modification, say
            self.miss("pair verdict", _reason(exc))
            return
        if list(verdict.kinds) != list(declared):
            expected = ", ".join(declared) or "equivalent"
            self.miss("pair verdict", f"declared {expected}; the fingerprints say {verdict.summary()}")

    def weight_layout(self) -> None:
        from cwcontrib.architectures.layout import LayoutError, torch_to_keras

        declared = self.entry.layout
        if not declared:
            self.miss("weight layout", 'not declared (ArchitectureSpec.layout: "ordered", or the LayoutError\'s words)')
            return
        try:
            keras_model = self.build("tensorflow", self.pair("tensorflow"))
            if declared == "ordered":
                self.logits(keras_model)
                return
            torch_to_keras(self.build("pytorch", self.pair("pytorch")), keras_model)
        except LayoutError as exc:
            if declared == "ordered" or declared not in str(exc):
                self.miss("weight layout", f"declared {declared!r}; layout.torch_to_keras says: {exc}")
            return
        except Exception as exc:  # fail closed
            self.miss("weight layout", _reason(exc))
            return
        self.miss("weight layout", f"declared {declared!r}, but layout.torch_to_keras maps the pair: declare "
                                   "'ordered' (the logits are then compared)")

    def logits(self, keras_model: Any) -> None:
        """Random PyTorch weights (BatchNorm statistics and biases too), mapped onto Keras: the same logits."""
        import numpy as np
        import torch

        from cwcontrib.architectures.layout import load_torch_into_keras

        torch_model = self.build("pytorch", self.pair("pytorch"), meta=False)
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for key, tensor in torch_model.state_dict().items():
                if not tensor.is_floating_point():
                    continue
                if key.endswith("running_var") or (key.endswith("weight") and tensor.dim() == 1):
                    tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
                elif key.endswith(("bias", "running_mean")):
                    tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
        load_torch_into_keras(torch_model, keras_model)
        height, width, channels = self.entry.default_input_shape
        x = np.random.default_rng(0).normal(size=(2, height, width, channels)).astype("float32")
        torch_model.eval()
        with torch.no_grad():
            got = torch_model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
        expected = np.asarray(keras_model(x, training=False))
        difference = float(np.abs(got - expected).max())
        scale = max(1.0, float(np.abs(expected).max()))
        if not difference <= LOGITS_TOLERANCE * scale:
            self.miss("weight layout", f"mapped by layout.torch_to_keras, the logits differ by up to {difference:.3g} "
                                       f"(largest logit {scale:.3g})")

    def docs_entry(self) -> None:
        entry = self.entry
        try:
            text = self.docs.read_text(encoding="utf-8")
        except OSError as exc:
            self.miss("docs entry", f"cannot read {self.docs.name}: {exc.strerror or exc}")
            return
        heading = re.search(rf"^### `{re.escape(entry.name)}`[ \t]*$", text, re.M)
        if heading is None:
            self.miss("docs entry", f"no section \"### `{entry.name}`\" in {self.docs.name}")
            return
        end = re.search(r"^#{1,3} ", text[heading.end():], re.M)
        section = text[heading.end(): heading.end() + end.start() if end else len(text)]
        for framework, definition in sorted(entry.definitions.items()):
            if definition not in section:
                self.miss("docs entry", f"the section does not name the {framework} definition {definition}")
        for framework, count in sorted(entry.parameters.items()):
            if f"{count:,}" not in section:
                self.miss("docs entry", f"the section does not give the {framework} parameter count {count:,}")


def _outputs(model: Any, framework: str, input_shape: tuple[int, int, int]) -> int | str:
    """Outputs per example for one input of `input_shape`: an int, or the output shape when it is not (1, N)."""
    if framework == "pytorch":
        import torch

        height, width, channels = input_shape
        device = next((t.device for t in model.state_dict().values()), torch.device("cpu"))
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                shape = tuple(model(torch.zeros((1, channels, height, width), device=device)).shape)
        finally:
            model.train(was_training)
        return shape[1] if len(shape) == 2 and shape[0] == 1 else str(shape)
    output = tuple(model.output_shape)
    return int(output[1]) if len(output) == 2 and output[1] is not None else str(output)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else 'no message'}"
