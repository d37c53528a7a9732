"""The submission, as pydantic models: the single source of truth for the published JSON Schema.

A *trial* is one hyperparameter set; its *runs* are that trial trained in each framework. A sweep of
hundreds of trials is written as shared `hyperparameters` defaults plus a `trials_table` (CSV or
Parquet, one row per trial) instead of hundreds of YAML blocks.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model, model_validator

SUPPORTED_SCHEMA_VERSIONS = ("1.0", "1.1")  # oldest first; each keeps its published schema and its meaning
SCHEMA_VERSION = SUPPORTED_SCHEMA_VERSIONS[-1]

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


class Hyperparameters(Strict):
    optimizer: Optimizer
    learning_rate: PositiveFloat
    batch_size: Annotated[int, Field(ge=1)]
    epochs: Annotated[int, Field(ge=1)]
    loss: Slug = Field(description="e.g. categorical_crossentropy.")
    seed: Annotated[int, Field(ge=0)] | None = None
    determinism: Determinism | None = None


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
    """Dotted paths of every hyperparameter leaf, e.g. learning_rate, optimizer.epsilon."""
    paths = []
    for name, info in model.model_fields.items():
        nested = [a for a in getattr(info.annotation, "__args__", (info.annotation,))
                  if isinstance(a, type) and issubclass(a, BaseModel)]
        paths += hyperparameter_paths(nested[0], f"{prefix}{name}.") if nested else [f"{prefix}{name}"]
    return paths


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

    weights: RelPath | None = None
    curves: RelPath | None = Field(None, description="CSV with columns epoch, loss and optionally accuracy, "
                                                     "val_loss, val_accuracy; one row per epoch.")
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


RUN_FIELDS_SINCE_1_1 = ("predictions",)


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

    schema_version: Literal["1.0", "1.1"]
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
            for i, trial in enumerate(self.trials):
                for key, run in trial.runs.items():
                    for name in RUN_FIELDS_SINCE_1_1:
                        if getattr(run, name) is not None:
                            raise ValueError(f"trials[{i}].runs.{key}.{name} needs schema_version 1.1")
        return self

    def hardware_of(self, framework_key: str) -> Hardware:
        """The hardware the runs of `framework_key` used: the framework's own (schema 1.1), else the default."""
        return self.frameworks[framework_key].hardware or self.hardware

    def accuracy_measure_of(self, framework_key: str) -> AccuracyMeasure:
        """How the runs of `framework_key` measured accuracy: as declared (schema 1.1), else k/N."""
        return self.frameworks[framework_key].accuracy_measure or AccuracyMeasure.K_OVER_N


MANIFEST_FIELDS_SINCE_1_1 = ("acknowledgements",)


def _without(model: type[BaseModel], *names: str) -> type[BaseModel]:
    """A copy of `model` without the fields `names`, for the schema of a version that did not have them."""
    fields: dict[str, Any] = {n: (info.annotation, info) for n, info in model.model_fields.items() if n not in names}
    return create_model(model.__name__, __base__=Strict, __doc__=model.__doc__, **fields)


def _replacing(model: type[BaseModel], **replaced: tuple[Any, Any]) -> type[BaseModel]:
    """A copy of `model` with some fields' types replaced (e.g. a Trial whose runs are 1.0 runs)."""
    fields: dict[str, Any] = {n: (info.annotation, info) for n, info in model.model_fields.items()}
    fields.update(replaced)
    return create_model(model.__name__, __base__=Strict, __doc__=model.__doc__, **fields)


def _manifest_schema_model(version: str) -> type[BaseModel]:
    """The model a version's published JSON Schema is generated from: `Manifest` as that version has it, with
    `schema_version` fixed to it. `Manifest` itself reads every supported version."""
    fields: dict[str, Any] = {"schema_version": (Literal[version], ...)}
    base: type[BaseModel] = Manifest
    if version == "1.0":
        base = _without(Manifest, *MANIFEST_FIELDS_SINCE_1_1)
        framework = _without(Framework, "hardware", "accuracy_measure")
        fields["frameworks"] = (Annotated[dict[Slug, framework], Field(min_length=1)], ...)  # type: ignore[valid-type]
        run = _without(Run, *RUN_FIELDS_SINCE_1_1)
        trial = _replacing(Trial, runs=(dict[Slug, run], Trial.model_fields["runs"]))  # type: ignore[valid-type]
        fields["trials"] = (list[trial], Manifest.model_fields["trials"])  # type: ignore[valid-type]
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
}
