"""`cwcontrib init`: a new submission folder ready to fill.

It writes `submission.yaml` at the newest schema version, with a comment on every field; `trials.csv`, a trials
table whose header names every column the runs need and whose rows already hold the file names; and the folders
the demo has (`code/`, `weights/`, `curves/`, `predictions/`). What cwcontrib knows is filled in from its
registries (architecture, classes, input shape, parameter count, layouts, the test split and its digest); what only
the contributor knows is the placeholder `FILL-IN`, which never validates, so nothing can be left unfilled by
accident. The folder is built beside its target and renamed into place: a failed `init` leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from cwcontrib.atomic import ordinary_mode
from cwcontrib.models import SCHEMA_VERSION

FILL_IN = "FILL-IN"
TRIALS_TABLE = "trials.csv"
FOLDERS = ("code", "curves", "predictions", "weights")
SLUG = re.compile(r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$")


class ScaffoldError(Exception):
    """A usage error: the message says what is valid."""


@dataclass(frozen=True)
class FrameworkKind:
    """What a framework key of `--frameworks` stands for."""

    name: str  # the manifest's `frameworks.<key>.name` and the architecture registry's framework
    packages: tuple[tuple[str, tuple[str, ...]], ...]  # (manifest field, distributions): installed version shown
    weights_suffix: str
    layout: str
    saved_by: str


FRAMEWORK_KEYS: dict[str, FrameworkKind] = {
    "pytorch": FrameworkKind("pytorch", (("version", ("torch",)),), ".safetensors", "NCHW",
                             "cwcontrib.export.save_torch(model, path)"),
    "keras": FrameworkKind("tensorflow", (("version", ("tensorflow", "tensorflow-cpu")),
                                                   ("keras_version", ("keras",))), ".weights.h5",
                           "NHWC", "cwcontrib.export.save_keras(model, path)"),
}
FRAMEWORK_KEYS["tensorflow"] = FRAMEWORK_KEYS["keras"]


def parse_frameworks(text: str) -> list[str]:
    keys = [key.strip() for key in text.split(",") if key.strip()]
    valid = ", ".join(sorted(FRAMEWORK_KEYS))
    if not keys:
        raise ScaffoldError(f"--frameworks names no framework; valid: {valid}")
    unknown = [key for key in keys if key not in FRAMEWORK_KEYS]
    if unknown:
        raise ScaffoldError(f"unknown framework {unknown[0]!r}; valid: {valid}")
    if len(set(keys)) != len(keys):
        raise ScaffoldError(f"framework listed twice in {text!r}")
    return keys


def _installed(distributions: tuple[str, ...]) -> str | None:
    for distribution in distributions:
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return None


def _parameter_count(architecture: str, frameworks: list[str], classes: int, shape: tuple[int, int, int]) -> int | None:
    """The reference model's parameter count as validate counts it, or None when no framework is installed here.
    Raises ScaffoldError when the registry cannot build the architecture at this shape.

    One reference is enough (validate accepts either reference's count): PyTorch's, built on the meta device in
    a fraction of a second, where the submission has a PyTorch key; Keras' (seconds to import) otherwise."""
    from cwcontrib.architectures import ArchitectureError, build, fingerprint
    from cwcontrib.architectures.library import parse

    library = parse(architecture)
    first = library.framework if library is not None else "pytorch"  # a library name builds in its own first
    names = sorted({FRAMEWORK_KEYS[key].name for key in frameworks}, key=lambda n: n != first)
    for name in names:
        try:
            model = build(architecture, name, classes, shape, meta=name == "pytorch")
            return int(fingerprint(model, shape).parameters)
        except ArchitectureError as exc:
            raise ScaffoldError(str(exc)) from None
        except ImportError:
            continue
    return None


def _yaml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a YAML double-quoted scalar


def _architecture_text(architecture: str, frameworks: list[str]) -> tuple[str, dict[str, tuple[str | None, str]]]:
    """The architecture's description, and per framework its library definition (None where a library name has no
    equivalent in that framework) with the modifications that can be declared there."""
    from cwcontrib.architectures import ArchitectureError, modifications_for, spec
    from cwcontrib.architectures.library import parse, resolve

    definitions: dict[str, tuple[str | None, str]] = {}
    library = parse(architecture)
    for name in sorted({FRAMEWORK_KEYS[key].name for key in frameworks}):
        try:
            definition = spec(architecture).definitions[name] if library is None else resolve(architecture, name).name
            known = modifications_for(architecture, name)
        except ArchitectureError:  # a library name without an equivalent in this framework
            definitions[name] = (None, "see `cwcontrib architectures`")
            continue
        definitions[name] = (definition, ", ".join(known) if known else "none")
    description = spec(architecture).description if library is None else f"the library builder {architecture}"
    return description, definitions


def manifest_text(submission_id: str | None, architecture: str, dataset: str, frameworks: list[str],
                  parameter_count: int | None) -> str:
    """The commented manifest. Every value is either known from the registries or FILL-IN."""
    from cwcontrib.datasets import REGISTRY

    description, definitions = _architecture_text(architecture, frameworks)
    data = REGISTRY[dataset]
    height, width, channels = data.shape
    lines = [
        f"# CrossedWires submission, written by `cwcontrib init` (schema {SCHEMA_VERSION}).",
        f"# Replace every {FILL_IN} (it never validates), delete the comments you no longer need, then:",
        "#   cwcontrib checksum .   fills in `artifacts` (sizes and sha256 of every file)",
        "#   cwcontrib validate .   says what is still wrong; CONTRIBUTING.md walks through every step.",
        "# Field reference: `cwcontrib schema`.",
        f"schema_version: {_yaml_string(SCHEMA_VERSION)}",
        "submission:",
        f"  id: {submission_id or FILL_IN}"
        + "  # the folder's name under submissions/: lowercase letters and digits, separated by - _ .",
        f"  title: {FILL_IN}  # one line: architecture, dataset, frameworks, hardware",
        f"  description: {FILL_IN}  # what you studied and how; anything a reader should know",
        "  contributors:",
        f"    - name: {FILL_IN}  # also optional: email, orcid, github",
        "  license: CC-BY-4.0  # an SPDX expression for what you submit (CONTRIBUTING.md: License)",
        "  references: []  # papers or code: - {doi: 10.NNNN/suffix, citation: ...} or - {url: https://...}",
        "frameworks:  # one key per framework; each key needs a run in every trial",
    ]
    for key in frameworks:
        kind = FRAMEWORK_KEYS[key]
        lines += [f"  {key}:", f"    name: {kind.name}"]
        for field, distributions in kind.packages:
            here = _installed(distributions)
            lines.append(f"    {field}: {FILL_IN}  # {distributions[0]} version the runs used"
                         + (f" (installed here: {here})" if here else ""))
        lines += [
            f"    python: {FILL_IN}  # Python version the runs used",
            "    cuda: null  # CUDA version, or null for CPU-only runs",
            "    cudnn: null  # cuDNN version, or null for CPU-only runs",
        ]
    lines += [
        f"architecture:  # {architecture}: {description}",
        f"  name: {architecture}  # registry or library name (`cwcontrib architectures`)",
        f"  num_classes: {data.num_classes}",
        f"  input_shape: {{height: {height}, width: {width}, channels: {channels}}}",
        f"  parameter_count: {parameter_count if parameter_count is not None else FILL_IN}"
        + "  # every weight except BatchNorm statistics, as cwcontrib's reference model counts them",
        "  implementations:  # per framework key: where the model definition came from",
    ]
    for key in frameworks:
        kind = FRAMEWORK_KEYS[key]
        definition, listing = definitions[kind.name]
        lines += [
            f"    {key}:",
            (f"      definition: {_yaml_string(definition)}  # the library definition, or your own, e.g. "
             "code/train.py:Model" if definition else
             f"      definition: {FILL_IN}  # {architecture} has no {kind.name} equivalent in the table "
             "(`cwcontrib architectures`): name this framework's own library builder"),
            f"      layout: {kind.layout}",
            f"      modifications: []  # declared changes the registry knows: {listing}",
        ]
    split = data.evaluation
    digest = (f"sha256: {split.sha256}  # the split's digest: `cwcontrib datasets --show {dataset}`" if split.sha256
              else f"sha256: null  # the split's digest where pinned: `cwcontrib datasets --show {dataset}`")
    lines += [
        "dataset:",
        f"  name: {dataset}  # registry name (`cwcontrib datasets`)",
        f"  version: {FILL_IN}  # required: the version of the data you used, e.g. the library or archive it came from",
        f"  {digest}",
        f"  split: {split.name}",
        f"  test_size: {split.size}  # N: accuracy is k/N over the whole split",
        "  preprocessing:",
        f"    rescale: {FILL_IN}  # factor applied to raw pixel values before the model, e.g. 0.00392156862745098"
        + " (1/255); also mean and std, per channel",
        "    shuffle_test: false",
        "hardware:  # the machine the runs used",
        f"  accelerator: {FILL_IN}  # e.g. NVIDIA A100-SXM4-40GB, or cpu",
        f"  accelerator_count: {FILL_IN}  # 0 for cpu",
        "hyperparameters:  # shared by every trial; a trials-table column hyperparameters.<name> overrides one",
        "  optimizer:",
        f"    name: {FILL_IN}  # adam, sgd, rmsprop, ...; also epsilon, beta_1, beta_2, momentum, weight_decay",
        f"  batch_size: {FILL_IN}",
        f"  epochs: {FILL_IN}",
        f"  loss: {FILL_IN}  # e.g. categorical_crossentropy",
        f"  seed: {FILL_IN}  # or delete the line if the runs were not seeded",
        "sweep:  # how the trials were chosen",
        f"  method: {FILL_IN}  # grid, random, bayesian, tpe, hyperband, manual or other",
        f"  objective: {FILL_IN}  # what the search optimised: 'none (fixed grid)', or say that it maximised a gap",
        "  search_space: {}  # per hyperparameter, e.g. learning_rate: {values: [0.001, 0.01]}",
        f"trials_table: {{path: {TRIALS_TABLE}, format: csv}}  # one row per trial; test_accuracy is k/N",
        "code:",
        "  files:  # your training scripts under code/: archived, never run by the validator",
        f"    - {FILL_IN}",
        "  command: null  # how you ran them, for readers",
        "artifacts: []  # every file of the folder: `cwcontrib checksum .` writes this list, never edit it by hand",
    ]
    return "\n".join(lines) + "\n"


def trials_table_text(frameworks: list[str], trials: int) -> str:
    """The header every run needs and one row per trial with its file names; values are left empty."""
    fields = ("weights", "curves", "predictions", "test_accuracy", "test_loss")
    header = ["id", "hyperparameters.learning_rate"] + [f"{key}.{field}" for key in frameworks for field in fields]
    rows = [",".join(header)]
    width = max(2, len(str(trials)))
    for number in range(1, trials + 1):
        trial = f"t{number:0{width}d}"
        cells = [trial, ""]
        for key in frameworks:
            run = f"{trial}-{key}"
            cells += [f"weights/{run}{FRAMEWORK_KEYS[key].weights_suffix}", f"curves/{run}.csv",
                      f"predictions/{run}.csv", "", ""]
        rows.append(",".join(cells))
    return "\n".join(rows) + "\n"


def _check_target(target: Path) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise ScaffoldError(f"{target} exists and is not a folder")
    if target.is_dir() and any(target.iterdir()):
        raise ScaffoldError(f"{target} is not empty; init writes only into a new or empty folder")


def scaffold(target: Path, *, architecture: str, dataset: str, frameworks: str, trials: int = 1) -> str:
    """Create the submission folder `target`; returns what to print (what was written and what comes next)."""
    from cwcontrib.architectures import names
    from cwcontrib.architectures.library import parse
    from cwcontrib.datasets import REGISTRY

    if architecture not in names() and parse(architecture) is None:
        raise ScaffoldError(f"unknown architecture {architecture!r}; valid: {', '.join(names())}, or a library "
                            "builder by name: torchvision.models.<builder>, keras.applications.<Builder> "
                            "(`cwcontrib architectures`)")
    if dataset not in REGISTRY:
        raise ScaffoldError(f"unknown dataset {dataset!r}; valid: {', '.join(sorted(REGISTRY))}")
    keys = parse_frameworks(frameworks)
    if trials < 1:
        raise ScaffoldError("--trials must be at least 1")
    _check_target(target)
    info = REGISTRY[dataset]
    count = _parameter_count(architecture, keys, info.num_classes, info.shape)
    name = target.resolve().name
    submission_id = name if SLUG.match(name) and len(name) <= 64 else None
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{name}.init-", dir=target.parent))
    try:
        (staged / "submission.yaml").write_text(manifest_text(submission_id, architecture, dataset, keys, count),
                                                encoding="utf-8")
        (staged / TRIALS_TABLE).write_text(trials_table_text(keys, trials), encoding="utf-8")
        for folder in FOLDERS:
            (staged / folder).mkdir()
        staged.chmod(ordinary_mode(0o777))
        _check_target(target)  # again, just before the rename: an empty folder is replaced, anything else kept
        os.rename(staged, target)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    savers = "; ".join(f"{key}: {FRAMEWORK_KEYS[key].saved_by}" for key in keys)
    return (f"created {target}: submission.yaml, {TRIALS_TABLE} ({trials} trial{'s' * (trials != 1)}), "
            f"{', '.join(f'{f}/' for f in FOLDERS)}\n"
            f"next: put your training scripts in code/, train, export the weights ({savers}), fill in every "
            f"{FILL_IN} and the table, then `cwcontrib checksum {target}` and `cwcontrib validate {target}`\n")
