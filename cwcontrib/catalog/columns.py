"""The catalog's tables, column by column: one definition that the Parquet writer, `load_catalog()`'s
dtypes, docs/catalog.md and croissant.json are all generated from, so they cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

# The data types a column may have: the Arrow type written to Parquet, and its Croissant dataType.
TYPES: dict[str, tuple[pa.DataType, str]] = {
    "string": (pa.string(), "sc:Text"),
    "int": (pa.int64(), "sc:Integer"),
    "float": (pa.float64(), "sc:Float"),
    "bool": (pa.bool_(), "sc:Boolean"),
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # a key of TYPES
    description: str
    nullable: bool = False

    @property
    def arrow(self) -> pa.Field:
        return pa.field(self.name, TYPES[self.type][0], nullable=self.nullable)


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: str  # the column that identifies a row
    description: str
    columns: tuple[Column, ...]

    @property
    def file(self) -> str:
        return f"{self.name}.parquet"

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([c.arrow for c in self.columns], metadata={"cwcontrib.table": self.name})

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _c(name: str, kind: str, description: str, nullable: bool = False) -> Column:
    return Column(name, kind, description, nullable)


STATUS_DOC = ("`reevaluated` (a verification record from trusted code measured this run's weights), "
              "`sampled-not-yet-evaluated` (weights present and drawn by the audit sample, no record yet), "
              "`self-reported` (weights present, never re-evaluated) or `results-only` (no weights in the dataset)")

SUBMISSIONS = TableSpec("submissions", "submission_id", "One row per accepted submission (one study).", (
    _c("submission_id", "string", "The submission's id: its folder name under `submissions/`."),
    _c("title", "string", "The submission's title."),
    _c("license", "string", "SPDX license expression of the submission's data and weights."),
    _c("contributors", "string", "Contributor names, `; `-separated, in manifest order."),
    _c("references", "string", "DOIs (`doi:…`) and URLs of the references, `; `-separated.", nullable=True),
    _c("schema_version", "string", "The submission schema version its manifest declares."),
    _c("content_digest", "string", "sha256 of the manifest as data and every declared file's sha256: the "
                                   "submission's version."),
    _c("architecture", "string", "Registry name of the architecture, e.g. `vgg16`."),
    _c("num_classes", "int", "Number of classes the models predict."),
    _c("dataset", "string", "Registry name of the dataset, e.g. `cifar10`."),
    _c("dataset_version", "string", "The dataset version the submission declares."),
    _c("test_size", "int", "N: the number of test examples every accuracy of this submission counts over."),
    _c("frameworks", "string", "The framework keys of its runs, `; `-separated and sorted."),
    _c("sweep_method", "string", "How the trials' hyperparameters were chosen (grid, random, …).", nullable=True),
    _c("sweep_objective", "string", "What the search optimised, as declared: divergence statistics of a search "
                                    "for disagreement describe that search, not the space.", nullable=True),
    _c("trials", "int", "Number of trials (hyperparameter sets)."),
    _c("runs", "int", "Number of runs (a trial in one framework setup)."),
    _c("pairs", "int", "Number of pairs (two runs of one trial)."),
    _c("runs_with_weights", "int", "Runs whose weights are in the dataset (a file or a URI)."),
    _c("runs_sampled", "int", "Runs with weights drawn by the catalog's audit sample."),
    _c("runs_reevaluated", "int", "Runs with a verification record."),
    _c("runs_reproduced_in_framework", "int", "Runs whose claim a re-evaluation in their own framework reproduced "
                                              "(evidence `framework`: the weights loaded into the framework's "
                                              "trusted reference)."),
    _c("runs_reproduced_in_onnxruntime", "int", "Runs whose claim only ONNX Runtime reproduced (evidence "
                                                "`onnxruntime`: the run's own ONNX graph, a weaker level of "
                                                "evidence)."),
    _c("runs_not_reproduced", "int", "Runs re-evaluated whose measurement did not reproduce the claim within the "
                                     "tolerance."),
    _c("runs_not_reevaluated", "int", "Runs without a verification record (`sampled-not-yet-evaluated`, "
                                      "`self-reported`, `results-only`). The four counts add up to `runs`."),
    _c("audit_sampling_rate", "float", "runs_sampled / runs_with_weights: the share of runs the audit plans to "
                                       "re-evaluate (null without weights).", nullable=True),
))

TRIALS = TableSpec("trials", "trial_key", "One row per trial: a hyperparameter set shared by its runs.", (
    _c("trial_key", "string", "`<submission>/<trial>`: unique in the catalog."),
    _c("submission_id", "string", "The submission it belongs to."),
    _c("trial_id", "string", "The trial's id inside its submission."),
    _c("optimizer", "string", "Optimizer name, e.g. `adam`."),
    _c("learning_rate", "float", "Learning rate."),
    _c("batch_size", "int", "Batch size."),
    _c("epochs", "int", "Planned number of epochs."),
    _c("optimizer_epsilon", "float", "The optimizer's epsilon (Adam's ε), when set.", nullable=True),
    _c("loss", "string", "Loss function name."),
    _c("seed", "int", "Random seed, when declared.", nullable=True),
    _c("hyperparameters", "string", "Every hyperparameter of the trial as canonical JSON (dotted names, sorted "
                                    "keys), including those without a column of their own (`extra.<name>.value`, "
                                    "`extra.<name>.unit`, `lr_schedule.<parameter>`)."),
    _c("lr_schedule", "string", "The learning-rate schedule's kind (`constant`, `step`, `multistep`, `exponential`, "
                                "`cosine`, `onecycle`, `other`); null when not declared (schema 1.2).", nullable=True),
    _c("runs", "int", "Number of runs of this trial."),
))

HYPERPARAMETERS = TableSpec(
    "hyperparameters", "hyperparameter_id", "One row per hyperparameter of each trial (long/tidy form): the typed "
    "ones and the open `extra` ones (schema 1.2) alike, so a study's further hyperparameters can be filtered and "
    "joined to `trials` on trial_key without parsing JSON.", (
        _c("hyperparameter_id", "string", "`<submission>/<trial>#<name>`: unique in the catalog."),
        _c("trial_key", "string", "The trial's key in `trials`."),
        _c("submission_id", "string", "The submission it belongs to."),
        _c("trial_id", "string", "The trial's id inside its submission."),
        _c("name", "string", "Dotted name: `learning_rate`, `optimizer.epsilon`, `lr_schedule.gamma`, "
                              "`extra.dropout`, …"),
        _c("is_extra", "bool", "Whether it is one of the open `extra` hyperparameters (named by the contributor) "
                               "rather than a field of the schema."),
        _c("value_type", "string", "`integer`, `number`, `string` or `bool`: which value column holds it."),
        _c("value_number", "float", "The value of an `integer` or `number` (as a float).", nullable=True),
        _c("value_integer", "int", "The value of an `integer` that fits in 64 bits.", nullable=True),
        _c("value_string", "string", "The value of a `string`, or the exact decimal text of an `integer` too large "
                                     "for value_integer.", nullable=True),
        _c("value_bool", "bool", "The value of a `bool`.", nullable=True),
        _c("unit", "string", "The unit declared with an `extra` value (free text), when one is.", nullable=True),
    ))

RUNS = TableSpec("runs", "run_id", "One row per run: one trial trained in one framework setup.", (
    _c("run_id", "string", "`<submission>/<trial>/<framework key>`: unique in the catalog."),
    _c("submission_id", "string", "The submission it belongs to."),
    _c("trial_id", "string", "The trial it belongs to."),
    _c("framework_key", "string", "The key of its framework setup in the manifest, e.g. `pytorch`."),
    _c("framework", "string", "Framework name, e.g. `pytorch` or `tensorflow`."),
    _c("framework_version", "string", "Framework version it was trained with."),
    _c("keras_version", "string", "Keras version (TensorFlow runs).", nullable=True),
    _c("python_version", "string", "Python version it was trained with.", nullable=True),
    _c("cuda_version", "string", "CUDA version, or null for CPU-only training.", nullable=True),
    _c("cudnn_version", "string", "cuDNN version, or null for CPU-only training.", nullable=True),
    _c("accelerator", "string", "Accelerator model it was trained on, or `cpu`."),
    _c("accelerator_count", "int", "Number of accelerators."),
    _c("driver", "string", "Accelerator driver version.", nullable=True),
    _c("cpu", "string", "CPU model.", nullable=True),
    _c("architecture", "string", "Registry name of the architecture the run's weights load into."),
    _c("modifications", "string", "The declared modifications of the reference architecture for this framework "
                                  "key, as a JSON list (e.g. `[\"avgpool-and-classifier-removed\"]`)."),
    _c("num_classes", "int", "Number of classes the model predicts."),
    _c("input_height", "int", "Input height in pixels."),
    _c("input_width", "int", "Input width in pixels."),
    _c("input_channels", "int", "Input channels."),
    _c("test_correct", "int", "k: correctly classified test examples, as claimed by the contributor (an accuracy "
                              "written rounded that only one k/N rounds to, warning CW332, counts as that k); null "
                              "when the claimed accuracy is not k/N (`accuracy_is_k_over_n` false).", nullable=True),
    _c("test_size", "int", "N: test examples counted."),
    _c("test_accuracy", "float", "The accuracy as claimed by the contributor (self-reported): k/N, or the declared "
                                 "measure's value when `accuracy_is_k_over_n` is false."),
    _c("accuracy_is_k_over_n", "bool", "Whether the claimed accuracy is k/N of the test set. False for runs whose "
                                       "framework declares another `accuracy_measure` (the original CrossedWires "
                                       "PyTorch accuracies are means of per-batch accuracies): such an accuracy "
                                       "counts no examples and compares with others only approximately."),
    _c("epochs_trained", "int", "Epochs the run trained: its declared `epochs_trained` when it stopped early "
                                "(schema 1.2), else the trial's planned `epochs` (its curves were checked against "
                                "it)."),
    _c("stopped_early", "bool", "Whether the run declares fewer epochs trained than planned (early stopping)."),
    _c("test_loss", "float", "Test loss as claimed.", nullable=True),
    _c("wall_time_s", "float", "Training wall time in seconds, as claimed.", nullable=True),
    _c("at_chance", "bool", "Whether the claimed accuracy is within three binomial standard deviations of "
                            "1/num_classes: a run that did not learn."),
    _c("weights_path", "string", "Path of its weights file inside the submission folder.", nullable=True),
    _c("weights_uri", "string", "HTTPS URI of its weights file, when hosted elsewhere.", nullable=True),
    _c("weights_format", "string", "Weights file format (`safetensors`, `pytorch-zip`, `keras-h5`).", nullable=True),
    _c("weights_size", "int", "Weights file size in bytes.", nullable=True),
    _c("weights_sha256", "string", "sha256 of the weights file: what verification records and `load_model()` key "
                                   "on.", nullable=True),
    _c("parameters", "int", "Parameters of the trusted reference model its weights loaded into (fingerprint).",
       nullable=True),
    _c("flops", "int", "Forward FLOPs of one example through the reference model (fingerprint).", nullable=True),
    _c("status", "string", f"How far the run is verified: {STATUS_DOC}."),
    _c("measured_correct", "int", "k measured by the re-evaluation harness (`reevaluated` only).", nullable=True),
    _c("measured_accuracy", "float", "k/N measured by the re-evaluation harness.", nullable=True),
    _c("tolerance", "int", "Examples the measurement may differ from the claim and still reproduce it.",
       nullable=True),
    _c("reproduced", "bool", "Whether the measurement reproduced the claim within the tolerance.", nullable=True),
    _c("verified_device", "string", "Device the re-evaluation ran on (`cpu`, `cuda`, …).", nullable=True),
    _c("verified_harness", "string", "Name and version of the harness that measured it.", nullable=True),
    _c("verified_harness_sha256", "string", "sha256 of the harness source that measured it.", nullable=True),
    _c("verified_on", "string", "Date of the verification record (ISO 8601).", nullable=True),
    _c("verified_by", "string", "What produced the record (`cwcontrib validate --record`, a GPU job, "
                                "`cwcontrib audit`).", nullable=True),
    _c("predictions_sha256", "string", "sha256 of the per-example predictions the harness made.", nullable=True),
    _c("evidence", "string", "What the re-evaluation proves: `framework` (reproduced, or not, in its own "
                             "framework: its weights loaded strictly into the framework's trusted reference) or "
                             "`onnxruntime` (its ONNX graph run by the ONNX Runtime harness: weaker, the graph "
                             "stands in for the framework); null when not re-evaluated.", nullable=True),
    _c("accuracy_harness", "string", "Who measured `test_accuracy`: always `self-reported` (the contributor's "
                                     "own evaluation); the harness columns say who measured `measured_accuracy`."),
))

PAIRS = TableSpec("pairs", "pair_id", "One row per pair: two runs of one trial, and how they differ.", (
    _c("pair_id", "string", "`<submission>/<trial>/<key a>~<key b>` with the keys sorted."),
    _c("submission_id", "string", "The submission it belongs to."),
    _c("trial_id", "string", "The trial both runs share."),
    _c("run_a", "string", "run_id of the first run (framework keys sorted)."),
    _c("run_b", "string", "run_id of the second run."),
    _c("framework_a", "string", "Framework of run a."),
    _c("framework_b", "string", "Framework of run b."),
    _c("accuracy_a", "float", "Claimed test accuracy of run a."),
    _c("accuracy_b", "float", "Claimed test accuracy of run b."),
    _c("gap", "float", "accuracy_a − accuracy_b, derived here from the two k/N (never taken from input); from the "
                       "two claimed accuracies when either is not k/N."),
    _c("abs_gap", "float", "|gap|."),
    _c("sign", "int", "The sign of the gap: 1, 0 or −1."),
    _c("winner", "string", "The framework key with the higher accuracy, or `tie`."),
    _c("diverges", "bool", "Whether |gap| ≥ 0.05, the CrossedWires paper's 5 points."),
    _c("both_at_chance", "bool", "Whether both runs are at chance level (neither learned)."),
    _c("any_at_chance", "bool", "Whether at least one run is at chance level: a large gap that is one framework "
                                "failing to train."),
    _c("differs_in", "string", "`framework` (same hardware), `hardware` (same framework), `both`, or `neither` "
                               "(e.g. two seeds)."),
    _c("parameters_a", "int", "Reference-model parameters of run a.", nullable=True),
    _c("parameters_b", "int", "Reference-model parameters of run b.", nullable=True),
    _c("flops_a", "int", "Reference-model forward FLOPs of run a.", nullable=True),
    _c("flops_b", "int", "Reference-model forward FLOPs of run b.", nullable=True),
    _c("architectures_equivalent", "bool", "Whether the validator's pair verdict found the two reference "
                                           "architectures equivalent.", nullable=True),
    _c("architecture_differences", "string", "The pair verdict's one-line summary of what differs.", nullable=True),
    _c("status_a", "string", "Verification status of run a."),
    _c("status_b", "string", "Verification status of run b."),
    _c("evidence_a", "string", "What run a's re-evaluation proves: `framework` or `onnxruntime` (runs.evidence); "
                               "null when it was not re-evaluated.", nullable=True),
    _c("evidence_b", "string", "What run b's re-evaluation proves, as evidence_a.", nullable=True),
    _c("measured_gap", "float", "Gap between the two measured accuracies, when both runs were re-evaluated (see "
                                "evidence_a/evidence_b: one may be measured in ONNX Runtime, the other in its "
                                "framework).",
       nullable=True),
))

RETRACTED = TableSpec("retracted", "retracted_id", "Tombstones: one row per id of a submission retracted for cause "
                      "(the submission, each of its trials, runs and pairs), from `retractions/<id>.json`, so an old "
                      "citation resolves to an explanation. The other tables hold no retracted rows; "
                      "`load_catalog(table, include_retracted=True)` appends these to them.", (
    _c("retracted_id", "string", "The id as it was cited: a submission id, a trial key, a run id or a pair id."),
    _c("kind", "string", "What the id names: `submission`, `trial`, `run` or `pair`."),
    _c("submission_id", "string", "The retracted submission."),
    _c("title", "string", "The submission's title when it was retracted.", nullable=True),
    _c("content_digest", "string", "The submission's content digest when it was retracted.", nullable=True),
    _c("reason", "string", "Why it was retracted, as the maintainer wrote it."),
    _c("retracted_on", "string", "Date of the retraction (ISO 8601)."),
    _c("retracted_by", "string", "The maintainer who retracted it.", nullable=True),
    _c("last_release", "string", "The last release that held it (null: it was never released).", nullable=True),
    _c("retracted_in", "string", "The first release without it, or `unreleased` until one is published."),
))

TABLES: dict[str, TableSpec] = {t.name: t for t in (SUBMISSIONS, TRIALS, HYPERPARAMETERS, RUNS, PAIRS, RETRACTED)}


def arrow_table(spec: TableSpec, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows (dicts with exactly the spec's columns) as an Arrow table with the explicit schema, sorted by key."""
    ordered = sorted(rows, key=lambda r: r[spec.key])
    for row in ordered:
        if set(row) != {c.name for c in spec.columns}:
            differ = sorted(set(row) ^ set(spec.schema.names))
            raise ValueError(f"{spec.name} row {row.get(spec.key)!r}: columns {differ} differ from the table's")
    return pa.Table.from_pylist(ordered, schema=spec.schema)
