"""Every reference architecture of the registry has all its parts (CONTRIBUTING.md section 10), and the check
that says so names the architecture and the part when one is missing.

`cwcontrib.architectures.parts.missing_parts` builds each architecture in both frameworks and compares what it
builds with what its registry entry declares. The template, `docs/templates/architecture.py`, is registered here
as it is (it must be complete) and then broken one part at a time (each must be named).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is first imported: 2-core runners
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cwcontrib.architectures import ArchitectureError, names, registry
from cwcontrib.architectures.parts import DOCS, PARTS, missing_parts
from tests.conftest import REPO

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

TEMPLATE = REPO / "docs" / "templates" / "architecture.py"
TEMPLATE_DOCS = REPO / "docs" / "templates" / "architecture.md"


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def template() -> ModuleType:
    """docs/templates/architecture.py, imported from its file (docs/ is not a package)."""
    spec = importlib.util.spec_from_file_location("architecture_template", TEMPLATE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Registered:
    """The template's example in the registry, for one test: change `spec` or a builder, then `missing()`."""

    module: ModuleType
    monkeypatch: pytest.MonkeyPatch
    docs: Any = TEMPLATE_DOCS

    @property
    def name(self) -> str:
        name: str = self.module.NAME
        return name

    def spec(self, **changes: Any) -> None:
        self.monkeypatch.setitem(registry._SPECS, self.name, dataclasses.replace(self.module.SPEC, **changes))

    def torch_builder(self, builder: Callable[..., Any] | None) -> None:
        from cwcontrib.architectures import torch_models

        if builder is None:
            self.monkeypatch.delitem(torch_models.BUILDERS, self.name)
        else:
            self.monkeypatch.setitem(torch_models.BUILDERS, self.name, builder)

    def keras_builder(self, builder: Callable[..., Any] | None) -> None:
        from cwcontrib.architectures import keras_models

        if builder is None:
            self.monkeypatch.delitem(keras_models.BUILDERS, self.name)
        else:
            self.monkeypatch.setitem(keras_models.BUILDERS, self.name, builder)

    def missing(self) -> list[str]:
        return missing_parts(self.name, docs=self.docs)


@pytest.fixture
def registered(template: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[Registered]:
    """Registered the way CONTRIBUTING.md section 10 says: registry entry, then one builder per framework."""
    entry = Registered(template, monkeypatch)
    entry.spec()
    entry.torch_builder(template.example_cnn_torch)
    entry.keras_builder(template.example_cnn_keras)
    yield entry


# ------------------------------------------------------------------------------------- the registry, complete


@pytest.mark.parametrize("name", names())
def test_every_registered_architecture_is_complete(name: str) -> None:
    assert missing_parts(name) == []


def test_the_template_example_is_complete(registered: Registered) -> None:
    assert registered.name == "example-cnn" and registered.name in names()
    assert registered.missing() == []
    spec = registry.spec(registered.name)
    assert spec.parameters == {"pytorch": 1_378, "tensorflow": 1_378}  # the figure its docstrings give


def test_unknown_names_are_refused() -> None:
    with pytest.raises(ArchitectureError, match="unknown architecture 'example-cnn'"):
        missing_parts("example-cnn")  # the template is registered only inside the tests that do so


# ------------------------------------------------------------------------------ the template, broken by parts


def _keras_variant(template: ModuleType, **overrides: Any) -> Callable[..., Any]:
    """The template's Keras builder with one layer changed: conv_bias, pool (a layer class), fixed_classes."""
    import keras
    from keras import layers

    def build(num_classes: int, input_shape: tuple[int, int, int], _: tuple[str, ...]) -> Any:
        return keras.Sequential([
            keras.Input(input_shape),
            layers.Conv2D(8, 3, padding="same", use_bias=overrides.get("conv_bias", False)),
            layers.BatchNormalization(epsilon=1e-3, momentum=0.99),
            layers.ReLU(),
            overrides.get("pool", layers.MaxPooling2D)(2),
            layers.Flatten(),
            layers.Dense(overrides.get("fixed_classes", num_classes)),
        ])

    return build


def _torch_raising(*_: Any) -> Any:
    raise RuntimeError("the builder fails")


@dataclass(frozen=True)
class Break:
    """One way to leave a part out; `expected` are the parts named, in order, and `words` one message's text."""

    id: str
    expected: tuple[str, ...]
    words: str
    apply: Callable[[Registered], None]


BREAKS = (
    Break("no-description", ("registry entry",), "registry entry: no description",
          lambda r: r.spec(description=" ")),
    Break("no-keras-definition", ("registry entry",), "no library definition for tensorflow",
          lambda r: r.spec(definitions={"pytorch": r.module.SPEC.definitions["pytorch"]})),
    Break("unknown-framework-key", ("registry entry",), "parameters names unknown frameworks ['jax']",
          lambda r: r.spec(parameters={**r.module.SPEC.parameters, "jax": 1})),
    Break("no-dataset", ("dataset",), "dataset: not declared", lambda r: r.spec(dataset="")),
    Break("wrong-dataset", ("dataset",), "cifar10 is (32, 32, 3) with 10 classes; the defaults are (8, 8, 1)",
          lambda r: r.spec(dataset="cifar10")),
    Break("no-pytorch-builder", ("pytorch builder", "pair verdict", "weight layout"),
          "pytorch builder: KeyError: 'example-cnn'", lambda r: r.torch_builder(None)),
    Break("pytorch-builder-raises", ("pytorch builder", "pair verdict", "weight layout"),
          "pytorch builder: RuntimeError: the builder fails", lambda r: r.torch_builder(_torch_raising)),
    Break("no-keras-builder", ("tensorflow builder", "pair verdict", "weight layout"),
          "tensorflow builder: KeyError: 'example-cnn'", lambda r: r.keras_builder(None)),
    Break("keras-ignores-num-classes", ("tensorflow builder",),
          "tensorflow builder: ignores num_classes: built for 13 classes it returns 10 outputs",
          lambda r: r.keras_builder(_keras_variant(r.module, fixed_classes=10))),
    Break("modification-ignored", ("modifications",), "pytorch 'dropout-added' changes nothing in the fingerprint",
          lambda r: r.torch_builder(lambda classes, shape, _: r.module.ExampleCNN(classes, shape))),
    Break("no-parameter-count", ("parameter count", "parameter count"), "parameter count: not declared for pytorch",
          lambda r: r.spec(parameters={})),
    Break("wrong-parameter-count", ("parameter count", "docs entry"),
          "tensorflow builds 1,378 parameters; declared 1,379",
          lambda r: r.spec(parameters={"pytorch": 1_378, "tensorflow": 1_379})),
    Break("no-pair-verdict", ("pair verdict",), "pair verdict: not declared", lambda r: r.spec(pair_differences=None)),
    Break("wrong-pair-verdict", ("pair verdict",), "declared batchnorm-epsilon; the fingerprints say",
          lambda r: r.spec(pair_differences=("batchnorm-epsilon",))),
    Break("unknown-pair-modification", ("pair verdict", "weight layout"), "unknown modification 'softmax-removed'",
          lambda r: r.spec(pair_modifications={"tensorflow": ("softmax-removed",)})),
    # A biased Keras convolution: 8 more parameters, the fingerprints differ, the weights no longer map one to one.
    Break("keras-conv-bias", ("parameter count", "pair verdict", "weight layout"),
          "layout.torch_to_keras says: layer 0: PyTorch conv (conv) vs Keras",
          lambda r: r.keras_builder(_keras_variant(r.module, conv_bias=True))),
    # Average instead of max pooling: the same layer kinds, shapes and parameters — only the logits tell.
    Break("keras-average-pool", ("weight layout",), "the logits differ by up to",
          lambda r: r.keras_builder(_keras_variant(r.module, pool=__import__("keras").layers.AveragePooling2D))),
    Break("no-layout", ("weight layout",), "weight layout: not declared", lambda r: r.spec(layout="")),
    Break("layout-not-ordered-but-maps", ("weight layout",), "but layout.torch_to_keras maps the pair: declare "
          "'ordered'", lambda r: r.spec(layout="bias on one side only")),
    Break("no-docs-entry", ("docs entry",), 'docs entry: no section "### `example-cnn`" in architectures.md',
          lambda r: setattr(r, "docs", DOCS)),
    Break("docs-unreadable", ("docs entry",), "docs entry: cannot read nowhere.md",
          lambda r: setattr(r, "docs", REPO / "docs" / "nowhere.md")),
)


@pytest.mark.parametrize("broken", BREAKS, ids=[b.id for b in BREAKS])
def test_a_missing_part_is_named(registered: Registered, broken: Break) -> None:
    broken.apply(registered)
    missing = registered.missing()
    assert all(m.startswith("example-cnn: ") for m in missing), missing
    assert tuple(m.split(": ")[1] for m in missing) == broken.expected, missing
    assert any(broken.words in m for m in missing), missing


def test_every_part_has_a_way_to_fail() -> None:
    assert {part for broken in BREAKS for part in broken.expected} == set(PARTS)


def test_contributing_checklist_names_every_field_of_an_entry() -> None:
    """CONTRIBUTING.md section 10 is the checklist: it names every ArchitectureSpec field and the template."""
    guide = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
    section = guide[guide.index("### A reference architecture"):guide.index("### A dataset")]
    fields = [f.name for f in dataclasses.fields(registry.ArchitectureSpec)]
    assert [f for f in fields if f"`{f}`" not in section] == []
    assert "docs/templates/architecture.py" in section and "docs/templates/architecture.md" in section
    for builders in ("torch_models.py", "keras_models.py", "BUILDERS[name]"):
        assert builders in section


def test_the_command_line_check(registered: Registered, capsys: pytest.CaptureFixture[str]) -> None:
    from cwcontrib import cli

    assert cli.main(["architectures", "--check", "example-cnn"]) == 1  # the real docs have no example-cnn section
    out, err = capsys.readouterr()
    assert out == 'example-cnn: docs entry: no section "### `example-cnn`" in architectures.md\n'
    assert err == "1 reference architecture(s) checked, 1 incomplete\n"
    assert cli.main(["architectures", "--check", "digits-cnn"]) == 0
    assert capsys.readouterr() == ("", "1 reference architecture(s) checked, 0 incomplete\n")
    assert cli.main(["architectures", "--check", "lenet"]) == 2
    assert "unknown architecture 'lenet'" in capsys.readouterr().err
