"""The submission, as pydantic models: the single source of truth for the published JSON Schema.

A *trial* is one hyperparameter set; its *runs* are that trial trained in each framework. A sweep of
hundreds of trials is written as shared `hyperparameters` defaults plus a `trials_table` (CSV or
Parquet, one row per trial) instead of hundreds of YAML blocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model, model_validator

SUPPORTED_SCHEMA_VERSIONS = ("1.0", "1.1", "1.2")  # oldest first; each keeps its published schema and its meaning
SCHEMA_VERSION = SUPPORTED_SCHEMA_VERSIONS[-1]


def version_tuple(version: str) -> tuple[int, ...]:
    """"1.10" -> (1, 10): schema versions compare as numbers, not as strings."""
    return tuple(int(part) for part in version.split("."))

Slug = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$", min_length=1, max_length=64),
    Field(description="ASCII slug: lowercase letters and digits, separated by single '-', '_' or '.'."),
]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$"),
                   Field(description="Lowercase hexadecimal SHA-256 digest.")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
RelPath = Annotated[str, StringConstraints(min_length=1, max_length=512),
                    Field(description="Path relative to the submission folder, with '/' separators.")]
Version = Annotated[str, StringConstraints(pattern=r"^[0-9]+(\.[0-9]+)*([-+.]?[0-9A-Za-z.]+)?$",
                                           max_length=64)]
PositiveFloat = Annotated[float, Field(gt=0.0)]

# Rules a JSON Schema can state live here, so that a stock validator refuses what cwcontrib refuses: patterns in the
# common subset of ECMA-262 (JSON Schema), Python (jsonschema) and Rust (pydantic) regular expressions. URLs allow
# only the characters RFC 3986 allows, so each is also a `uri` to validators that check that format.
_URI_REST = r"(?::[0-9]{1,5})?(?:[/?#][A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]*)?$"
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
_URL_RULES = "a host name or address with no user:password@, then only characters RFC 3986 allows (a space is %20)"
HttpUrl = Annotated[str, StringConstraints(pattern=rf"^https?://{_HOST}{_URI_REST}", max_length=2000),
                    Field(description=f"An http(s) URL: {_URL_RULES}.", json_schema_extra={"format": "uri"})]
HttpsUrl = Annotated[str, StringConstraints(pattern=rf"^https://{_HOST}{_URI_REST}", max_length=2000),
                     Field(description=f"An https URL: {_URL_RULES}.", json_schema_extra={"format": "uri"})]
Doi = Annotated[str, StringConstraints(pattern=r"^10\.[0-9]{4,9}/[^\s]+$", max_length=200),
                Field(description="A DOI as `10.NNNN/suffix`, without https://doi.org/.")]
LicenseExpression = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9(][A-Za-z0-9.+:() -]*$", min_length=1, max_length=200),
    Field(description="SPDX license expression, e.g. CC-BY-4.0 or (MIT OR Apache-2.0) AND CC-BY-4.0; "
                      "LicenseRef-<name> needs its text as LICENSES/LicenseRef-<name>.txt.")]


def _one_of_fields_required(*names: str) -> dict[str, Any]:
    """JSON Schema for "at least one of these fields, not null" (pydantic validates it in a model validator)."""
    return {"anyOf": [{"required": [name], "properties": {name: {"not": {"type": "null"}}}} for name in names]}


def _require_one_of(model: BaseModel, *names: str) -> None:
    if all(getattr(model, name) is None for name in names):
        raise ValueError(f"needs {' or '.join(f'`{name}`' for name in names)}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contributor(Strict):
    name: ShortText
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
                     Field(json_schema_extra={"format": "email"})] | None = None
    orcid: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9X]$")] | None = None
    github: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")] | None = None


class Reference(Strict):
    """A DOI (`10.NNNN/suffix`) or an http(s) URL, or both, with an optional human-readable citation."""

    model_config = ConfigDict(json_schema_extra=_one_of_fields_required("doi", "url"))

    doi: Doi | None = None
    url: HttpUrl | None = None
    citation: Text | None = None

    @model_validator(mode="after")
    def _doi_or_url(self) -> Self:
        _require_one_of(self, "doi", "url")
        return self


class SubmissionInfo(Strict):
    id: Slug
    title: ShortText
    description: Text | None = None
    contributors: Annotated[list[Contributor], Field(min_length=1)]
    license: LicenseExpression
    references: list[Reference] = []


class FrameworkName(StrEnum):
    PYTORCH = "pytorch"
    TENSORFLOW = "tensorflow"
    JAX = "jax"
    MXNET = "mxnet"
    PADDLE = "paddle"
    MINDSPORE = "mindspore"


class Hardware(Strict):
    accelerator: ShortText = Field(description="Accelerator model, or 'cpu'.")
    accelerator_count: Annotated[int, Field(ge=0)] = 0
    driver: ShortText | None = None
    cpu: ShortText | None = None
    host: ShortText | None = None


class AccuracyMeasure(StrEnum):
    """How a framework key's runs measured `test_accuracy` (schema 1.1)."""

    K_OVER_N = "k-over-n"  # correct test examples over N, the whole test split: what cwcontrib's harnesses measure
    MEAN_OF_BATCH_ACCURACIES = "mean-of-batch-accuracies"  # the mean of per-batch accuracies (the original PyTorch)
    OTHER = "other"  # anything else; say what in the submission's description


class Framework(Strict):
    """One framework as a run used it. `keras_version` is for TensorFlow runs written with Keras."""

    name: FrameworkName
    version: Version
    keras_version: Version | None = None
    python: Version | None = None
    cuda: Version | None = Field(None, description="CUDA version used, or null for CPU-only runs.")
    cudnn: Version | None = Field(None, description="cuDNN version used, or null for CPU-only runs.")
    hardware: Hardware | None = Field(
        None, description="Since schema 1.1: the hardware this framework key's runs used, replacing the "
                          "submission's `hardware` as a whole (not merged with it).")
    accuracy_measure: AccuracyMeasure | None = Field(
        None, description="Since schema 1.1: how this framework key's runs measured `test_accuracy`. Absent means "
                          "`k-over-n` (correct examples over the declared test-set size); a declared other measure "
                          "(e.g. `mean-of-batch-accuracies`, whose values are mostly not k/N) turns the per-run "
                          "error CW304 into one warning CW327 with the count.")


class Layout(StrEnum):
    NCHW = "NCHW"
    NHWC = "NHWC"


class Implementation(Strict):
    definition: Annotated[str, StringConstraints(min_length=1, max_length=200),
                          Field(description="Library definition the model came from, e.g. torchvision.models.vgg16.")]
    layout: Layout
    modifications: list[ShortText] = Field(
        [], description="Declared changes to the library definition, e.g. 'avgpool removed'.")


class InputShape(Strict):
    height: Annotated[int, Field(ge=1, le=4096)]
    width: Annotated[int, Field(ge=1, le=4096)]
    channels: Annotated[int, Field(ge=1, le=64)]


class Architecture(Strict):
    name: Annotated[str, StringConstraints(
        pattern=r"^(?:[a-z0-9]+(?:[-_.][a-z0-9]+)*|keras\.applications\.[A-Za-z][A-Za-z0-9]*)$", max_length=64,
    )] = Field(
        description="Registry name (vgg16, resnet50, densenet121, digits-cnn), or a library builder by name: "
                    "torchvision.models.resnet18, keras.applications.MobileNetV2 (`cwcontrib architectures`).")
    num_classes: Annotated[int, Field(ge=2, le=100_000)]
    input_shape: InputShape
    parameter_count: Annotated[int, Field(ge=1)] = Field(
        description="Declared number of parameters, trainable and not (BatchNorm statistics excluded).")
    implementations: dict[Slug, Implementation] = Field(
        description="Per framework key (as in `frameworks`): where the model definition came from.")


class Preprocessing(Strict):
    rescale: PositiveFloat = Field(1.0, description="Factor applied to raw pixel values, e.g. 1/255.")
    mean: list[float] | None = Field(None, description="Per-channel mean subtracted after rescaling.")
    std: list[Annotated[float, Field(gt=0.0)]] | None = Field(None, description="Per-channel std divided by.")
    shuffle_test: bool = False
    description: Text | None = None


class Dataset(Strict):
    name: Slug = Field(description="Registry name, e.g. cifar10, mnist, fashion-mnist, sklearn-digits.")
    version: ShortText
    sha256: Sha256 | None = Field(None, description="Digest of the dataset files the runs used, if known.")
    split: Literal["test", "validation"] = "test"
    test_size: Annotated[int, Field(ge=1)] = Field(description="N, the number of examples accuracy is measured on.")
    preprocessing: Preprocessing = Preprocessing()
    label_names: list[ShortText] | None = Field(None, description="Class names in class-index order.")


class Optimizer(Strict):
    name: Slug = Field(description="e.g. adam, sgd, rmsprop.")
    epsilon: PositiveFloat | None = None
    beta_1: Annotated[float, Field(ge=0.0, lt=1.0)] | None = None
    beta_2: Annotated[float, Field(ge=0.0, lt=1.0)] | None = None
    momentum: Annotated[float, Field(ge=0.0)] | None = None
    weight_decay: Annotated[float, Field(ge=0.0)] | None = None


class Determinism(Strict):
    seeded: bool = True
    deterministic_algorithms: bool = False
    threads: Annotated[int, Field(ge=1)] | None = None
    notes: Text | None = None


class SchedulePer(StrEnum):
    EPOCH = "epoch"
    STEP = "step"


_PER = Field(SchedulePer.EPOCH, description="Whether the schedule advances once per epoch or once per optimizer step.")
_GAMMA = Field(description="Factor the learning rate is multiplied by at each decay.")


class ConstantSchedule(Strict):
    """The learning rate stays `learning_rate` throughout."""

    name: Literal["constant"]


class StepSchedule(Strict):
    """Multiply the learning rate by `gamma` every `step_size` epochs (or steps): PyTorch's StepLR, Keras'
    ExponentialDecay with staircase=True."""

    name: Literal["step"]
    step_size: Annotated[int, Field(ge=1)]
    gamma: Annotated[float, Field(gt=0.0, le=1.0)] = _GAMMA
    per: SchedulePer = _PER


class MultiStepSchedule(Strict):
    """Multiply the learning rate by `gamma` at each milestone epoch (or step): PyTorch's MultiStepLR, Keras'
    PiecewiseConstantDecay."""

    name: Literal["multistep"]
    milestones: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1)]
    gamma: Annotated[float, Field(gt=0.0, le=1.0)] = _GAMMA
    per: SchedulePer = _PER


class ExponentialSchedule(Strict):
    """Multiply the learning rate by `gamma` every epoch (or step): PyTorch's ExponentialLR."""

    name: Literal["exponential"]
    gamma: Annotated[float, Field(gt=0.0, le=1.0)] = _GAMMA
    per: SchedulePer = _PER


class CosineSchedule(Strict):
    """Cosine annealing from `learning_rate` to `eta_min` over `t_max` epochs (or steps): PyTorch's
    CosineAnnealingLR, Keras' CosineDecay (decay_steps, alpha = eta_min / learning_rate)."""

    name: Literal["cosine"]
    t_max: Annotated[int, Field(ge=1)]
    eta_min: Annotated[float, Field(ge=0.0)] = 0.0
    per: SchedulePer = _PER


class OneCycleSchedule(Strict):
    """The one-cycle policy (PyTorch's OneCycleLR), stepped per optimizer step: warm up from
    max_learning_rate/div_factor to max_learning_rate over pct_start of training, then anneal."""

    name: Literal["onecycle"]
    max_learning_rate: PositiveFloat
    pct_start: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.3
    anneal: Literal["cos", "linear"] = "cos"
    div_factor: PositiveFloat = 25.0
    final_div_factor: PositiveFloat = 1e4


class OtherSchedule(Strict):
    """A schedule none of the others describes: say what it is; its parameters may go in `extra`."""

    name: Literal["other"]
    description: Text


LearningRateSchedule = Annotated[
    ConstantSchedule | StepSchedule | MultiStepSchedule | ExponentialSchedule | CosineSchedule | OneCycleSchedule
    | OtherSchedule,
    Field(discriminator="name"),
]
LR_SCHEDULE_NAMES = ("constant", "step", "multistep", "exponential", "cosine", "onecycle", "other")

ExtraName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
ExtraScalar = bool | int | float | Annotated[str, StringConstraints(min_length=1, max_length=200)]
Unit = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9%/^*._() -]+$", min_length=1, max_length=40),
                 Field(description="The value's unit, free text; prefer epochs, steps, examples, fraction, percent, "
                                   "seconds, pixels, degrees, 1/epoch.")]


class ExtraValue(Strict):
    """A further hyperparameter's value with its unit."""

    value: ExtraScalar
    unit: Unit | None = None


EXTRA_DOC = ("Since schema 1.2: hyperparameters without a field of their own, by snake_case name (dropout, "
             "label_smoothing, warmup_epochs, weight_decay_head...): a number, string or boolean, or `{value, unit}`. "
             "A trial's value replaces the shared one (a bare value keeps the shared unit); runs of a trial share "
             "them; a sweep's search space names them as `extra.<name>`.")


class Hyperparameters(Strict):
    optimizer: Optimizer
    learning_rate: PositiveFloat
    batch_size: Annotated[int, Field(ge=1)]
    epochs: Annotated[int, Field(ge=1)]
    loss: Slug = Field(description="e.g. categorical_crossentropy.")
    seed: Annotated[int, Field(ge=0)] | None = None
    determinism: Determinism | None = None
    lr_schedule: LearningRateSchedule | None = Field(
        None, description="Since schema 1.2: how the learning rate changed during training, starting from "
                          "`learning_rate`; absent means not declared. A trial's schedule replaces the shared one "
                          "whole.")
    extra: Annotated[dict[ExtraName, ExtraScalar | ExtraValue],
                     Field(json_schema_extra={"additionalProperties": False})] | None = Field(
        None, description=EXTRA_DOC)

    @model_validator(mode="after")
    def _extra_names_are_not_fields(self) -> Self:
        for name in self.extra or {}:
            home = TYPED_HOMES.get(name)
            if home is not None:
                raise ValueError(f"extra.{name}: {name} has its own field, `{home}`; set it there")
        return self


HYPERPARAMETER_FIELDS_SINCE_1_2 = ("lr_schedule", "extra")


def _partial(model: type[BaseModel], name: str) -> type[BaseModel]:
    """A copy of `model` whose fields (recursively, for nested models) are all optional.

    Shared defaults and per-trial overrides are partial; they are merged, then validated whole.
    """
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        annotation: Any = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            annotation = _partial(annotation, f"{annotation.__name__}Override")
        fields[field_name] = (annotation | None, Field(None, description=info.description))
    partial = create_model(name, __base__=Strict, **fields)
    partial.__doc__ = f"Any subset of {model.__name__}; merged over the shared defaults."
    return partial


HyperparameterOverrides: Any = _partial(Hyperparameters, "HyperparameterOverrides")


def hyperparameter_paths(model: type[BaseModel] = Hyperparameters, prefix: str = "") -> list[str]:
    """Dotted paths of every typed hyperparameter leaf, e.g. learning_rate, optimizer.epsilon, lr_schedule.gamma
    (the fields of every kind of schedule); `extra` holds open names (`extra.<name>`) and is not listed."""
    paths: list[str] = []
    for name, info in model.model_fields.items():
        if model is Hyperparameters and name == "extra":
            continue
        nested = [a for a in _members(info.annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
        for member in nested:
            paths += [p for p in hyperparameter_paths(member, f"{prefix}{name}.") if p not in paths]
        if not nested:
            paths.append(f"{prefix}{name}")
    return paths


def _members(annotation: Any) -> tuple[Any, ...]:
    """The types of a union (nested unions and Annotated unwrapped), or the type itself."""
    args = getattr(annotation, "__args__", None)
    if args is None:
        return (annotation,)
    if getattr(annotation, "__metadata__", None) is not None:  # Annotated[X, ...]
        return _members(args[0])
    return tuple(member for arg in args for member in _members(arg))


# Where a name that is also a typed field belongs, so that `extra` never holds a second copy of it.
TYPED_HOMES = {path.rsplit(".", 1)[-1]: path for path in (
    "optimizer", "learning_rate", "batch_size", "epochs", "loss", "seed", "determinism", "lr_schedule",
    "optimizer.epsilon", "optimizer.beta_1", "optimizer.beta_2", "optimizer.momentum", "optimizer.weight_decay")}


class Range(Strict):
    low: float
    high: float
    log: bool = False


class Choice(Strict):
    values: Annotated[list[float | int | str | bool], Field(min_length=1)]


class Sweep(Strict):
    """How the trials were chosen. `objective` matters: the original CrossedWires search maximised
    |acc_PyTorch - acc_TensorFlow|, so its divergence figures describe a search for disagreement."""

    method: Literal["grid", "random", "bayesian", "tpe", "hyperband", "manual", "other"]
    objective: ShortText = Field(description="What the search optimised, e.g. 'none (fixed grid)' or "
                                             "'maximise |acc_pytorch - acc_tensorflow|'.")
    tool: ShortText | None = Field(None, description="HPO library used, e.g. optuna 3.6, wandb sweeps.")
    search_space: dict[Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_.]*$")], Range | Choice] = Field(
        {}, description="Per hyperparameter path (e.g. learning_rate, optimizer.epsilon): its range or choices.")


class Run(Strict):
    """One trial trained in one framework, and what it achieved."""

    weights: RelPath | None = Field(
        None, description="The run's weights: a declared artifact named by its `path` (a file in the submission) or "
                          "by its `uri` (an https URI of an artifact declared with `uri` only, for weights too large "
                          "for the pull request: `validate --fetch` downloads it, checks its size and sha256, and "
                          "re-evaluates it).")
    curves: RelPath | None = Field(None, description="CSV with columns epoch, loss and optionally accuracy, "
                                                     "val_loss, val_accuracy; one row per epoch trained "
                                                     "(`epochs_trained` rows when it is given, else `epochs`).")
    # Not bounded here: the semantic check CW303 says "a fraction, not a percentage" more helpfully.
    test_accuracy: float = Field(description="k/N: correct test examples over the declared test-set size, in [0, 1].")
    test_loss: Annotated[float, Field(ge=0.0)] | None = None
    wall_time_s: Annotated[float, Field(ge=0.0)] | None = None
    hyperparameters: HyperparameterOverrides | None = Field(  # type: ignore[valid-type]
        None, description="Only for data recorded per run (e.g. exports): must agree with the trial's.")
    predictions: RelPath | None = Field(
        None, description="Since schema 1.1: CSV with the header `example,predicted_class` and one row per test "
                          "example in the registry's split order (example 0, 1, ... N-1): the class the run "
                          "predicted. Compared with the labels (it must count the claimed k) and, example by "
                          "example, with re-evaluation.")
    epochs_trained: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Since schema 1.2: the epochs this run really trained, when it stopped before the trial's "
                          "`epochs` (early stopping); at most `epochs`. Its curves have this many rows.")


RUN_FIELDS_SINCE_1_1 = ("predictions",)
RUN_FIELDS_SINCE_1_2 = ("epochs_trained",)


class Trial(Strict):
    id: Slug
    hyperparameters: HyperparameterOverrides | None = None  # type: ignore[valid-type]
    runs: dict[Slug, Run] = Field(description="Per framework key (as in `frameworks`): the run.")


class TrialsTable(Strict):
    path: RelPath
    format: Literal["csv", "parquet"] = "csv"


class ArtifactFormat(StrEnum):
    SAFETENSORS = "safetensors"
    PYTORCH = "pytorch"
    KERAS_H5 = "keras-h5"
    CSV = "csv"
    PARQUET = "parquet"
    JSON = "json"
    YAML = "yaml"
    PYTHON = "python"
    TEXT = "text"
    MARKDOWN = "markdown"
    ONNX = "onnx"  # since schema 1.2: a network as an ONNX graph with its weights (docs/onnx.md)


class Artifact(Strict):
    """A file of the submission: in the folder (`path`), or published elsewhere (`uri`), or both."""

    model_config = ConfigDict(json_schema_extra=_one_of_fields_required("path", "uri"))

    path: RelPath | None = None
    uri: HttpsUrl | None = Field(None, description="Where a file too large for the pull request is published.")
    format: ArtifactFormat
    size: Annotated[int, Field(ge=0)]
    sha256: Sha256

    @model_validator(mode="after")
    def _path_or_uri(self) -> Self:
        _require_one_of(self, "path", "uri")
        return self


class Code(Strict):
    """Training code, archived with the submission and never executed by the validator."""

    files: Annotated[list[RelPath], Field(min_length=1)]
    command: ShortText | None = Field(None, description="How the contributor ran it, for readers.")
    repository: ShortText | None = None
    commit: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{7,64}$")] | None = None


class Acknowledgement(Strict):
    """A warning the contributor has looked at and keeps, with why (as ruff's `noqa`): it stays in the report,
    marked as acknowledged. Errors cannot be acknowledged."""

    code: Annotated[str, StringConstraints(pattern=r"^CW[0-9]{3}$")] = Field(
        description="The warning's code, e.g. CW307 (`cwcontrib codes` lists them).")
    location: Annotated[str, StringConstraints(min_length=1, max_length=512)] = Field(
        description="Where the warning points: `trials/<id>` (the trial, its runs and their files), a JSON pointer "
                    "into the manifest (`/submission/references/0`; it covers everything below it), or a file "
                    "path (`curves/t05-keras.csv`).")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000)] = Field(
        description="Why the warning is expected, for reviewers and readers of the catalog.")


class Manifest(Strict):
    """A CrossedWires submission: one study of the same trials trained in several frameworks."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="CrossedWires submission")

    schema_version: Literal["1.0", "1.1", "1.2"]
    submission: SubmissionInfo
    frameworks: Annotated[dict[Slug, Framework], Field(min_length=1)]
    architecture: Architecture
    dataset: Dataset
    hardware: Hardware
    hyperparameters: HyperparameterOverrides | None = Field(  # type: ignore[valid-type]
        None, description="Defaults shared by every trial; each trial may override any of them.")
    sweep: Sweep | None = None
    trials: list[Trial] = []
    trials_table: TrialsTable | None = None
    artifacts: list[Artifact] = []
    code: Code | None = None
    acknowledgements: list[Acknowledgement] = Field(
        [], description="Since schema 1.1: warnings the contributor expects, each with its reason.")

    @model_validator(mode="after")
    def _fields_exist_in_its_version(self) -> Self:
        if self.schema_version == "1.0":
            if self.acknowledgements:
                raise ValueError("acknowledgements needs schema_version 1.1")
            for key, framework in self.frameworks.items():
                for name in ("hardware", "accuracy_measure"):
                    if getattr(framework, name) is not None:
                        raise ValueError(f"frameworks.{key}.{name} needs schema_version 1.1")
        if version_tuple(self.schema_version) < (1, 2):
            for i, artifact in enumerate(self.artifacts):
                if artifact.format == ArtifactFormat.ONNX:
                    raise ValueError(f"artifacts[{i}].format onnx needs schema_version 1.2")
        for where, name in self._versioned_fields():
            since = field_since(name)
            if version_tuple(self.schema_version) < version_tuple(since):
                raise ValueError(f"{where}.{name} needs schema_version {since}")
        return self

    def _versioned_fields(self) -> Iterator[tuple[str, str]]:
        """(where, field) for every field of a run or hyperparameters section that came after 1.0 and is set."""
        sections = [("hyperparameters", self.hyperparameters)]
        for i, trial in enumerate(self.trials):
            sections.append((f"trials[{i}].hyperparameters", trial.hyperparameters))
            for key, run in trial.runs.items():
                sections.append((f"trials[{i}].runs.{key}.hyperparameters", run.hyperparameters))
                for name in (*RUN_FIELDS_SINCE_1_1, *RUN_FIELDS_SINCE_1_2):
                    if getattr(run, name) is not None:
                        yield f"trials[{i}].runs.{key}", name
        for where, section in sections:
            for name in HYPERPARAMETER_FIELDS_SINCE_1_2:
                if section is not None and getattr(section, name) is not None:
                    yield where, name

    def hardware_of(self, framework_key: str) -> Hardware:
        """The hardware the runs of `framework_key` used: the framework's own (schema 1.1), else the default."""
        return self.frameworks[framework_key].hardware or self.hardware

    def accuracy_measure_of(self, framework_key: str) -> AccuracyMeasure:
        """How the runs of `framework_key` measured accuracy: as declared (schema 1.1), else k/N."""
        return self.frameworks[framework_key].accuracy_measure or AccuracyMeasure.K_OVER_N


MANIFEST_FIELDS_SINCE_1_1 = ("acknowledgements",)


def field_since(name: str) -> str:
    """The schema version a run or hyperparameters field first appeared in ("1.0" for the original ones)."""
    if name in RUN_FIELDS_SINCE_1_1:
        return "1.1"
    if name in (*RUN_FIELDS_SINCE_1_2, *HYPERPARAMETER_FIELDS_SINCE_1_2):
        return "1.2"
    return "1.0"


def _variant(model: type[BaseModel], drop: tuple[str, ...] = (), **replaced: tuple[Any, Any]) -> type[BaseModel]:
    """A copy of `model` without the fields `drop` and with some fields replaced, in the same order: the model as an
    older version had it (e.g. a Trial whose runs are 1.0 runs)."""
    fields: dict[str, Any] = {n: (info.annotation, info) for n, info in model.model_fields.items() if n not in drop}
    fields.update(replaced)
    return create_model(model.__name__, __base__=Strict, __doc__=model.__doc__, **fields)


# Run.weights as 1.0 and 1.1 published it (their schemas stay byte for byte what was published).
_WEIGHTS_BEFORE_1_2 = (RelPath | None, Field(None))
_CURVES_BEFORE_1_2 = (RelPath | None, Field(None, description="CSV with columns epoch, loss and optionally accuracy, "
                                                              "val_loss, val_accuracy; one row per epoch."))


# Artifact.format as 1.0 and 1.1 published it: without onnx.
_FORMAT_BEFORE_1_2 = StrEnum("ArtifactFormat",  # type: ignore[misc]
                             {f.name: f.value for f in ArtifactFormat if f is not ArtifactFormat.ONNX})
_ARTIFACT_BEFORE_1_2 = create_model("Artifact", __base__=Artifact, __doc__=Artifact.__doc__,
                                    format=(_FORMAT_BEFORE_1_2, ...))


def _manifest_schema_model(version: str) -> type[BaseModel]:
    """The model a version's published JSON Schema is generated from: `Manifest` as that version has it, with
    `schema_version` fixed to it. `Manifest` itself reads every supported version."""
    fields: dict[str, Any] = {"schema_version": (Literal[version], ...)}
    base: type[BaseModel] = Manifest
    if version_tuple(version) < (1, 2):
        fields["artifacts"] = (list[_ARTIFACT_BEFORE_1_2], Manifest.model_fields["artifacts"])  # type: ignore[valid-type]
        overrides: Any = _partial(_variant(Hyperparameters, drop=HYPERPARAMETER_FIELDS_SINCE_1_2),
                                  "HyperparameterOverrides")
        run_drop = RUN_FIELDS_SINCE_1_2 + (RUN_FIELDS_SINCE_1_1 if version == "1.0" else ())
        run = _variant(Run, drop=run_drop, weights=_WEIGHTS_BEFORE_1_2, curves=_CURVES_BEFORE_1_2,
                       hyperparameters=(overrides | None, Run.model_fields["hyperparameters"]))
        trial = _variant(Trial, runs=(dict[Slug, run], Trial.model_fields["runs"]),  # type: ignore[valid-type]
                         hyperparameters=(overrides | None, Trial.model_fields["hyperparameters"]))
        fields["trials"] = (list[trial], Manifest.model_fields["trials"])  # type: ignore[valid-type]
        fields["hyperparameters"] = (overrides | None, Manifest.model_fields["hyperparameters"])
    if version == "1.0":
        base = _variant(Manifest, drop=MANIFEST_FIELDS_SINCE_1_1)
        framework = _variant(Framework, drop=("hardware", "accuracy_measure"))
        fields["frameworks"] = (Annotated[dict[Slug, framework], Field(min_length=1)], ...)  # type: ignore[valid-type]
    return create_model("Manifest", __base__=base, __doc__=Manifest.__doc__, **fields)


MANIFEST_SCHEMA_MODELS: dict[str, type[BaseModel]] = {v: _manifest_schema_model(v) for v in SUPPORTED_SCHEMA_VERSIONS}


EXTENSIONS: dict[ArtifactFormat, tuple[str, ...]] = {
    ArtifactFormat.SAFETENSORS: (".safetensors",),
    ArtifactFormat.PYTORCH: (".pt", ".pth"),
    ArtifactFormat.KERAS_H5: (".weights.h5",),
    ArtifactFormat.CSV: (".csv",),
    ArtifactFormat.PARQUET: (".parquet",),
    ArtifactFormat.JSON: (".json",),
    ArtifactFormat.YAML: (".yaml", ".yml"),
    ArtifactFormat.PYTHON: (".py",),
    ArtifactFormat.TEXT: (".txt", ".cfg", ".toml", ".ini", ".sh", ".lock"),
    ArtifactFormat.MARKDOWN: (".md",),
    ArtifactFormat.ONNX: (".onnx",),
}
