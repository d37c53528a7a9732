"""The one registry of finding codes.

Every code is defined here once, with its documentation, default severity and the version it was
added in. `cwcontrib explain CODE`, `cwcontrib codes` and `docs/findings.md` are generated from this
table. Codes are grouped by validation stage: CW0xx tool, CW1xx manifest, CW2xx files,
CW3xx semantics, CW4xx weights, CW5xx re-evaluation. A code is never reused for another meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cwcontrib.findings import Finding, Location, Severity

CODE_PATTERN = re.compile(r"^CW[0-9]{3}$")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

STAGES = {
    "CW0": "tool",
    "CW1": "manifest",
    "CW2": "files",
    "CW3": "semantics",
    "CW4": "weights",
    "CW5": "evaluation",
}


@dataclass(frozen=True)
class Code:
    code: str
    name: str
    severity: Severity
    summary: str
    why: str
    fix: str
    added_in: str
    # Lifecycle (as ruff's rules): a code is never reused for another meaning; a retired one stays documented,
    # is never emitted again, and names what replaced it.
    removed_in: str | None = None
    replaced_by: tuple[str, ...] = ()

    @property
    def stage(self) -> str:
        return STAGES[self.code[:3]]

    @property
    def active(self) -> bool:
        return self.removed_in is None


REGISTRY: dict[str, Code] = {}

E, W = Severity.ERROR, Severity.WARNING


def _define(code: str, name: str, severity: Severity, summary: str, why: str, fix: str,
            added_in: str = "0.1.0", removed_in: str | None = None, replaced_by: tuple[str, ...] = ()) -> None:
    if code in REGISTRY:
        raise ValueError(f"finding code {code} defined twice")
    REGISTRY[code] = Code(code, name, severity, summary, why, fix, added_in, removed_in, replaced_by)


# --- CW0xx: the tool itself -------------------------------------------------------------------
_define("CW001", "internal-error", E,
        "A check failed unexpectedly while looking at this file.",
        "An unexpected failure must not pass as clean: the file was not fully checked.",
        "Report the message to the cwcontrib maintainers; meanwhile look for anything unusual in the file.")

# --- CW1xx: manifest ------------------------------------------------------------------------
_define("CW100", "manifest-missing", E,
        "The submission folder has no submission.yaml or submission.json at its root.",
        "The manifest describes the submission; without it nothing can be checked.",
        "Create submission.yaml at the folder's root: submissions/digits-cnn-pair/submission.yaml is a complete "
        "example, and CONTRIBUTING.md explains each section.")
_define("CW101", "manifest-ambiguous", E,
        "The submission folder has more than one manifest (submission.yaml, submission.yml, submission.json).",
        "Two manifests can disagree; the validator will not guess which one counts.",
        "Keep exactly one manifest file.")
_define("CW102", "manifest-too-large", E,
        "The manifest file is larger than the allowed size.",
        "Huge manifests are slow to parse and usually mean data belongs in a table.",
        "Move per-trial data into a trials table (CSV or Parquet) referenced by `trials_table`.")
_define("CW103", "manifest-encoding", E,
        "The manifest is not plain UTF-8 text (invalid bytes, a byte-order mark, or NUL bytes).",
        "Encodings other than UTF-8 are read differently by different tools.",
        "Save the manifest as UTF-8 without a byte-order mark.")
_define("CW104", "manifest-syntax", E,
        "The manifest is not well-formed YAML/JSON.",
        "A syntax error makes the whole document unreadable.",
        "Fix the syntax at the reported line; a YAML linter shows the exact spot.")
_define("CW105", "duplicate-key", E,
        "A mapping in the manifest has the same key twice.",
        "Most YAML and JSON loaders silently keep the last value, so two readers can disagree.",
        "Remove or rename one of the two keys.")
_define("CW106", "yaml-alias", E,
        "The manifest uses a YAML anchor (&) or alias (*).",
        "Aliases can expand exponentially (\"billion laughs\") and hide what a value really is.",
        "Write values out in full; use shared defaults (`hyperparameters`) instead of anchors.")
_define("CW107", "yaml-tag", E,
        "The manifest uses an explicit YAML tag (e.g. !!python/object).",
        "Tags ask a loader to construct arbitrary objects; some loaders execute code for them.",
        "Remove the tag and write a plain string, number, list or mapping.")
_define("CW108", "non-finite-number", E,
        "The manifest contains NaN or an infinite number (including overflowing literals like 1e999).",
        "Non-finite numbers are not valid JSON and poison statistics computed from the catalog.",
        "Write a finite number, or leave the field out if the value is unknown.")
_define("CW109", "manifest-too-deep", E,
        "The manifest nests mappings or lists deeper than allowed, or has too many values.",
        "Deep nesting overflows recursive parsers; no real submission needs it.",
        "Flatten the structure; per-trial data belongs in a trials table.")
_define("CW110", "schema-violation", E,
        "The manifest does not follow the submission JSON Schema.",
        "The schema is the contract every tool reading the dataset relies on.",
        "Change the value at the reported pointer as the message says; `cwcontrib schema` prints the full schema "
        "(also in schema/).")
_define("CW111", "multiple-documents", E,
        "The YAML manifest contains more than one document (---).",
        "Only the first document would be read by most tools; the rest would be silently ignored.",
        "Merge the documents into one.")
_define("CW112", "schema-version-unsupported", E,
        "The manifest declares a schema version this cwcontrib does not know.",
        "Fields mean different things in different schema versions.",
        "Set `schema_version` to a version the message lists as supported, or upgrade cwcontrib.")
_define("CW113", "non-string-key", E,
        "A mapping key in the manifest is not a string (e.g. a bare number or null).",
        "JSON only has string keys; YAML number keys turn into different strings in different tools.",
        "Quote the key, or use a list instead of a mapping.")
_define("CW114", "manifest-not-regular-file", E,
        "The manifest is a symbolic link, a folder, a FIFO or a device, or could not be opened as a regular file.",
        "A link can make the validator read a file outside the submission; a FIFO can block it forever.",
        "Make submission.yaml (or .json) a plain file at the folder's root.", added_in="0.2.0")
_define("CW115", "acknowledgement-of-error", E,
        "An entry of `acknowledgements` names an error code; only warnings can be acknowledged.",
        "An error means the submission cannot enter the dataset as it is: acknowledging it would hide that.",
        "Fix what the error says and remove the acknowledgement.", added_in="0.2.0")
_define("CW116", "acknowledgement-unused", W,
        "An entry of `acknowledgements` matches no finding: no warning of that code at that location.",
        "Stale acknowledgements would silently cover a warning that appears there later.",
        "Remove the entry, or correct its `code` or `location` (`trials/<id>`, a JSON pointer such as "
        "`/submission/references/0`, or a file path).", added_in="0.2.0")

# --- CW2xx: files ---------------------------------------------------------------------------
_define("CW200", "path-unsafe", E,
        "A declared path is absolute, contains `..`, backslashes, control characters, or is not normalised.",
        "Paths must stay inside the submission folder on every operating system.",
        "Use a relative POSIX path below the submission folder, e.g. `weights/trial-01.safetensors`.")
_define("CW201", "path-escapes", E,
        "A path is a symbolic link or passes through one.",
        "Links can point outside the submission folder and make the validator read a maintainer's files.",
        "Replace the link with the real file.")
_define("CW202", "not-regular-file", E,
        "A path is not a regular file (a directory, FIFO, socket or device).",
        "Only regular files can be hashed and archived; special files can block or leak data.",
        "Replace it with a regular file or remove it.")
_define("CW203", "file-missing", E,
        "A file declared in the manifest does not exist.",
        "Every declared artifact must be present to be verified and archived.",
        "Add the file, or remove its declaration.")
_define("CW204", "file-undeclared", E,
        "A file in the submission folder is not declared in `artifacts`.",
        "Undeclared files are not checksummed and would enter the dataset unverified.",
        "Declare it in `artifacts` with format, size and sha256 (`cwcontrib artifacts DIR` prints entries), "
        "or delete it.")
_define("CW205", "size-mismatch", E,
        "A file's size differs from the size declared for it.",
        "The declared size is checked before hashing so truncated uploads fail fast.",
        "Update `size` to the file's real size in bytes, or restore the intended file.")
_define("CW206", "checksum-mismatch", E,
        "A file's sha256 differs from the checksum declared for it.",
        "Checksums are what make the dataset's files verifiable forever.",
        "Recompute with `sha256sum FILE` and update `sha256`, or restore the intended file.")
_define("CW207", "file-too-large", E,
        "A file is larger than the per-file limit.",
        "Bounded sizes keep validation fast and memory bounded on shared runners.",
        "Split the artifact, or ask maintainers to raise the limit for this submission.")
_define("CW208", "folder-too-large", E,
        "The submission folder has too many files, too deep a tree, or too many bytes in total.",
        "Bounded submissions keep validation and review tractable.",
        "Split the submission into several, or ask maintainers to raise the limit.")
_define("CW209", "artifact-duplicate", E,
        "The same path is declared more than once in `artifacts`.",
        "Two declarations can disagree about size and checksum.",
        "Keep one declaration per path.")
_define("CW210", "reference-undeclared", E,
        "The manifest or trials table refers to a file that is not declared in `artifacts`.",
        "Weights, curves, tables and code are only trusted once their checksum is declared.",
        "Add an `artifacts` entry for the file.",
        removed_in="0.2.0", replaced_by=("CW330",))
_define("CW211", "format-extension-mismatch", E,
        "A file's declared format does not match its file name extension.",
        "Format and extension must agree so that every tool picks the same reader.",
        "Fix `format`, or rename the file with the extension of its format.")
_define("CW212", "hard-link", W,
        "A file has more than one hard link.",
        "A hard link may share contents with a file outside the submission folder.",
        "Replace the hard link with an independent copy of the file.")
_define("CW213", "remote-artifact", W,
        "An artifact is declared by URI only and cannot be verified offline.",
        "Files that are not in the pull request cannot be checksummed or re-evaluated here.",
        "Include the file in the submission. Weights declared by URI are downloaded and verified by "
        "`cwcontrib validate DIR --fetch`; other remote files are fetched and verified by maintainers separately.")
_define("CW214", "file-name-unsafe", E,
        "A file name contains control characters, newlines or characters that are not portable.",
        "Such names break reports, shells and other operating systems.",
        "Rename the file using letters, digits, `-`, `_` and `.` only.")
_define("CW215", "remote-weights-not-verified", W,
        "Weights declared by URI only were not downloaded, so they are remote and not verified: one finding with "
        "the count.",
        "Their checksum, format and architecture were not checked and their runs were not re-evaluated; they are "
        "listed in `evaluation.not_evaluated` as `remote-not-fetched`.",
        "Run `cwcontrib validate DIR --fetch` to download them (HTTPS, at most the declared `size`, sha256-checked "
        "before they are read) and check them like local weights.", added_in="0.2.0")
_define("CW216", "remote-weights-refused", E,
        "Weights declared by URI could not be downloaded, or the bytes served are not the declared ones (larger "
        "than the declared `size`, another sha256, not HTTPS).",
        "Only bytes whose sha256 is the declared one are read; anything else is refused and nothing is cached.",
        "Check that the artifact's `uri` serves exactly the file whose `size` and `sha256` you declared, over "
        "HTTPS, and that the host is reachable from where the validator runs.", added_in="0.2.0")

# --- CW3xx: semantics ---------------------------------------------------------------------
_define("CW300", "hyperparameters-differ", E,
        "Runs of one trial do not share the same hyperparameters.",
        "A pair is only meaningful when both frameworks trained with identical settings.",
        "Give every run of the trial the same hyperparameters, or split it into separate trials.")
_define("CW301", "outside-search-space", E,
        "A trial's hyperparameter lies outside the declared search space.",
        "The search space documents what was explored; values outside it mean it is wrong or incomplete.",
        "Widen `sweep.search_space` to what was really searched, or fix the trial's value.")
_define("CW302", "curve-length-mismatch", E,
        "A training curve has a different number of epochs than the run trained: its `epochs_trained` when it "
        "declares one (early stopping, schema 1.2), else the trial's `epochs` hyperparameter.",
        "Curves and hyperparameters that disagree cannot both be right.",
        "Export one row per epoch trained, numbered 1, 2, 3...; a run that stopped early declares `epochs_trained`; "
        "otherwise fix `epochs`.")
_define("CW303", "accuracy-out-of-range", E,
        "A claimed accuracy is outside [0, 1].",
        "Accuracy is a fraction of test examples.",
        "Report accuracy as a fraction (0.93), not a percentage (93).")
_define("CW304", "accuracy-not-k-over-n", E,
        "A claimed accuracy is not k/N for any whole number k of the declared test-set size N.",
        "A true test accuracy counts correct examples; averages of per-batch accuracies (as in the "
        "original CrossedWires PyTorch results) are not k/N and not comparable.",
        "Count correct predictions over the whole test split and report k/N exactly (the message names the nearest k).")
_define("CW305", "duplicate-id", E,
        "Two trials have the same id.",
        "Trial ids name catalog rows; they must be unique within a submission.",
        "Rename one of the trials.")
_define("CW306", "reference-malformed", E,
        "A reference is not a well-formed DOI or http(s) URL.",
        "References must resolve for readers of the datasheet.",
        "Write DOIs as `10.NNNN/suffix` (without https://doi.org/) and URLs with https://.",
        removed_in="0.2.0", replaced_by=("CW110", "CW328"))
_define("CW307", "chance-accuracy", W,
        "A run's accuracy is at chance level for the dataset's number of classes.",
        "In the original release the largest gaps were often one framework failing to train at all.",
        "Check the run's training curve; keep the run if it really failed to train, the datasheet counts such runs.")
_define("CW308", "loss-non-finite", W,
        "A training curve contains NaN or infinite losses.",
        "Non-finite losses mean training diverged; accuracy comparisons with such runs say little.",
        "Check the run; keep it if training really diverged, the datasheet counts such runs.")
_define("CW309", "loss-exploding", W,
        "A training curve contains losses above 1e6.",
        "The original release has losses near 1e19: exploded training, not a framework difference.",
        "Check the run; keep it if training really exploded, the datasheet counts such runs.")
_define("CW310", "secret-in-data", E,
        "A value or column looks like a credential (API key, token, password).",
        "The original release's W&B exports leaked an API key in every row; published data is forever.",
        "Delete the column or value, and revoke the credential: it must be considered compromised.")
_define("CW311", "framework-undeclared", E,
        "A run or implementation refers to a framework key not declared under `frameworks`.",
        "Every run must say which framework version and CUDA/cuDNN produced it.",
        "Add the key under `frameworks`, or fix the run's framework key.")
_define("CW312", "trial-incomplete", W,
        "A trial has no run for one of the declared frameworks.",
        "A trial without both runs contributes no pair to the dataset.",
        "Add the missing run, or accept that the trial yields no pair.")
_define("CW313", "table-unreadable", E,
        "A table (trials table or curves CSV) cannot be read, or lacks required columns.",
        "Tables are data the catalog is built from; unreadable tables cannot be verified.",
        "Write a UTF-8 CSV with a header row (or a Parquet file) with the documented columns.")
_define("CW314", "table-value-invalid", E,
        "A cell in a table (trials table or curves CSV) has an invalid value.",
        "Every trial row must be as valid as a trial written in the manifest, and every curve row a number per "
        "epoch, numbered 1, 2, 3...",
        "Fix the cell at the reported row and column.")
_define("CW315", "table-too-large", E,
        "A table has more rows or columns than allowed.",
        "Bounded tables keep validation memory bounded.",
        "Split the submission, or ask maintainers to raise the limit.")
_define("CW316", "no-trials", E,
        "The submission declares no trials.",
        "A submission without trials adds nothing to the dataset.",
        "Add `trials` to the manifest or a `trials_table`.")
_define("CW317", "dataset-unknown", W,
        "The dataset is not in cwcontrib's dataset registry.",
        "Runs on unknown datasets cannot be re-evaluated by the validator.",
        "Use a registered name (`cwcontrib datasets`), or ask maintainers to register the dataset.")
_define("CW318", "test-size-mismatch", E,
        "The declared test-set size differs from the registered size of the dataset's split.",
        "Accuracies are only comparable over the same test examples.",
        "Declare the registered size (`cwcontrib datasets` lists it) and evaluate on the whole registered split "
        "(`cwcontrib datasets --show NAME`), or describe the subset under a new dataset name.")
_define("CW319", "license-unknown", E,
        "The license is not an SPDX license expression, or names a license cwcontrib does not accept.",
        "Users must know whether they may reuse the models; SPDX expressions are unambiguous, and the accepted "
        "licenses (cwcontrib/spdx.py) are current SPDX ids of licenses used for data and models.",
        "Use an SPDX expression such as CC-BY-4.0, MIT, (MIT OR Apache-2.0) AND CC-BY-4.0 or Apache-2.0 WITH "
        "LLVM-exception; for any other license write LicenseRef-<name> and include its text (CW324).")
_define("CW320", "sweep-undeclared", E,
        "A submission with several trials does not declare how they were selected (`sweep`).",
        "The original release selected trials to maximise the PyTorch-TensorFlow gap, so its "
        "divergence figures describe a search for disagreement, not the space.",
        "Add `sweep` with its `method` (grid, random, bayesian, tpe, hyperband, manual or other), its `objective` "
        "(what the search optimised, e.g. 'none (fixed grid)') and its `search_space`.")
_define("CW321", "code-undeclared", W,
        "The submission archives no training code.",
        "Without the code, nobody can tell how the weights were produced.",
        "Add the training scripts under code/ and list them in `code.files`.")
_define("CW322", "search-space-unknown-key", E,
        "The search space names a hyperparameter that does not exist.",
        "A misspelt dimension would silently document nothing.",
        "Use a path of a field of `hyperparameters`, such as `learning_rate` or `optimizer.epsilon`.")
_define("CW323", "label-count-mismatch", E,
        "The number of label names differs from the architecture's number of classes.",
        "Label mapping and classifier size must agree for predictions to mean anything.",
        "List exactly one label name per class, in class-index order.")
_define("CW324", "license-text-missing", E,
        "The license names a LicenseRef-<name> whose text is not in the submission.",
        "A LicenseRef is a name the submission makes up: without its text nobody knows what it allows.",
        "Add the license text as LICENSES/LicenseRef-<name>.txt and declare it in `artifacts` (format: text).")
_define("CW325", "license-not-canonical", W,
        "The license is an SPDX expression written in another case or spacing than SPDX's (e.g. `mit`).",
        "SPDX ids match case-insensitively, but tools that compare strings (catalogs, search) do not.",
        "Write the expression as the message shows it (e.g. MIT, Apache-2.0 WITH LLVM-exception).")
_define("CW326", "secrets-not-scanned", W,
        "A declared text file (code, notes, JSON or YAML) could not be scanned for credentials: it is larger "
        "than the scan limit, or it changed after its checksum was verified.",
        "Training code and notes are where API keys are usually pasted (`wandb.login(key=...)`); a file that was "
        "not scanned may publish one.",
        "Check the file for API keys and tokens yourself, and split or shorten it below the limit "
        "(docs/security.md).")
_define("CW328", "reference-host-unreachable", E,
        "A reference's URL names a host its readers cannot reach: a single-label or reserved name "
        "(localhost, *.local, *.internal...) or a private address. (A DOI or URL of the wrong form is a "
        "schema violation, CW110.)",
        "References must resolve for readers of the datasheet, not only on the contributor's network.",
        "Cite the public address of the paper or page (or its DOI as `10.NNNN/suffix`).", added_in="0.2.0")
_define("CW327", "accuracy-declared-not-k-over-n", W,
        "Runs of a framework key whose declared `accuracy_measure` is not `k-over-n` (e.g. "
        "`mean-of-batch-accuracies`) claim accuracies that are not k/N: one finding per key, with the count.",
        "Such accuracies are what the contributor measured, declared as such, but they are not counts of correct "
        "examples: they do not compare exactly with k/N accuracies and cannot be reproduced by re-evaluation; the "
        "catalog marks the runs (`accuracy_is_k_over_n` false, `test_correct` null).",
        "Nothing to fix if the declaration is true. With the weights, report k/N (correct predictions over the "
        "whole test split) instead and drop the declaration.")
_define("CW329", "trial-hyperparameters-invalid", E,
        "A trial's hyperparameters, once the shared `hyperparameters` are merged in, are missing a required "
        "value or hold an invalid one.",
        "Each trial is one training configuration: every run of it must be reproducible from its hyperparameters.",
        "Set the value in the shared `hyperparameters` or in the trial (the message names the field).",
        added_in="0.2.0")
_define("CW330", "file-reference-undeclared", E,
        "The manifest or trials table refers to a file (weights, curves, trials table, code) that is not "
        "declared in `artifacts`.",
        "Weights, curves, tables and code are only trusted once their checksum is declared.",
        "Add an `artifacts` entry for the file (`cwcontrib artifacts DIR` prints it).", added_in="0.2.0")

_define("CW331", "epochs-trained-exceeds-epochs", E,
        "A run's `epochs_trained` is larger than its trial's `epochs`.",
        "`epochs_trained` says that a run stopped early (early stopping); a run cannot train more epochs than "
        "planned, so one of the two numbers is wrong.",
        "Set `epochs_trained` to the epochs the run really trained (its curve's rows), or fix the trial's `epochs`.",
        added_in="0.2.0")
_define("CW332", "accuracy-rounded", W,
        "A claimed accuracy is not k/N exactly, but exactly one k/N rounds to it at the precision it is written "
        "with (0.8417 for 303/360): it is read as that k/N.",
        "The catalog stores k; a rounded accuracy names it only while one k fits, and the next reader has to "
        "redo the rounding. When several k round to the value (a large N, few decimals) it is error CW304.",
        "Write the exact k/N the message gives (e.g. 0.8416666666666667), or at least six decimals.",
        added_in="0.2.0")

# --- CW4xx: weights -----------------------------------------------------------------------
_define("CW400", "weights-format-not-allowed", E,
        "A run's weights are not in an allowed weights format for its framework.",
        "Only formats that are pure data can be loaded without running code: safetensors (first choice), "
        "PyTorch zip state dicts, Keras 3 .weights.h5.",
        "Export safetensors (PyTorch: safetensors.torch.save_file(model.state_dict(), path)) or Keras "
        "model.save_weights('x.weights.h5'); declare the artifact's `format` accordingly (`format: safetensors`, "
        "`format: keras-h5`, or `format: pytorch` for a zip state dict from torch.save(model.state_dict(), path)).")
_define("CW401", "weights-magic-mismatch", E,
        "The file's leading bytes do not match its declared weights format.",
        "A file that lies about its format may be aimed at a different, less careful parser.",
        "Re-export the weights in an accepted format and declare the one it is: safetensors "
        "(safetensors.torch.save_file(model.state_dict(), path), `format: safetensors`), a PyTorch zip state dict "
        "(torch.save(model.state_dict(), path), torch.save's default format since torch 1.6, `format: pytorch`; "
        "legacy pre-1.6 pickles and files saved with _use_new_zipfile_serialization=False are refused), or Keras "
        "model.save_weights('x.weights.h5') (`format: keras-h5`).")
_define("CW402", "weights-structure-invalid", E,
        "The weights file is damaged or inconsistent (header, offsets, container or tensor layout).",
        "Overlapping or out-of-range offsets and damaged containers are how parsers are attacked; "
        "a parser error is a failure, never 'clean'.",
        "Save the state dict itself, not a checkpoint around it: torch.save(model.state_dict(), path) or, better, "
        "safetensors.torch.save_file(model.state_dict(), path) - not torch.save({'model': ..., 'epoch': ...}); "
        "from such a checkpoint, save checkpoint['model'] alone. Keras: model.save_weights('x.weights.h5'). A "
        "file saved this way that still fails was damaged or altered after saving: export it again.")
_define("CW403", "pickle-not-allowed", E,
        "A PyTorch checkpoint's pickle does more than rebuild tensors (imports, object construction).",
        "Unpickling runs code: a checkpoint that imports anything beyond tensor rebuilds can take over "
        "the machine that loads it. Pickle scanners are denylists with a history of bypasses; this one "
        "is an allowlist.",
        "Save only `model.state_dict()` with torch.save, or better, export safetensors.")
_define("CW404", "h5-link-not-allowed", E,
        "An HDF5 weights file contains soft or external links, or reaches an object twice.",
        "External links make the reader open other files on the maintainer's machine (CVE-2026-1669).",
        "Save with Keras' model.save_weights; do not edit the file with HDF5 tools.")
_define("CW405", "h5-dataset-not-allowed", E,
        "An HDF5 dataset uses external storage, virtual mapping, object references or a non-numeric type.",
        "External storage and virtual datasets pull data from other host files into the model.",
        "Save with Keras' model.save_weights; weights are plain numeric arrays.")
_define("CW406", "weights-too-large", E,
        "The weights file declares more tensors, bytes, opcodes or objects than allowed.",
        "Declared shapes can exhaust memory before any data is read (CVE-2026-0897).",
        "Check the file really holds the declared model; ask maintainers if a larger model is intended.")
_define("CW407", "weights-keys-mismatch", E,
        "The weights have missing or unexpected tensors compared with the reference architecture.",
        "Strict loading is the only way to know the weights belong to the declared architecture.",
        "Export the weights of exactly the declared architecture; declare modifications you made.")
_define("CW408", "weights-shape-mismatch", E,
        "A tensor's shape differs from the reference architecture's.",
        "A different shape means a different architecture than the one declared.",
        "Fix the declared architecture (input shape, classes, modifications) or the exported weights.")
_define("CW409", "weights-dtype-mismatch", E,
        "A tensor's dtype is not the reference architecture's (floating point weights, integer counters).",
        "Silently cast weights are not the weights that produced the claimed accuracy.",
        "Export the weights in the dtype they were trained in (float32 for the reference builders).")
_define("CW410", "weights-non-finite", E,
        "A weight tensor contains NaN or infinite values.",
        "A model with non-finite weights cannot produce the accuracy it claims.",
        "Re-export the weights from the end of a healthy training run.")
_define("CW411", "parameter-count-mismatch", E,
        "The declared parameter count differs from the reference architecture's count (from every framework's "
        "reference, when a pair's references differ: declare one of theirs, and CW413 names the difference).",
        "The parameter count is the simplest check that two 'identical' models are the same model.",
        "Declare the count of the reference architecture (the message gives it), or declare your modifications.")
_define("CW412", "architecture-unknown", E,
        "No trusted reference builder exists for the declared architecture, framework or modification.",
        "Weights are only loaded into models built by trusted code, never by submitted code.",
        "Use a registered architecture (`cwcontrib architectures`), or ask maintainers to add a builder.")
_define("CW413", "pair-not-equivalent", W,
        "The two frameworks' reference architectures of this submission differ (for a key whose runs ship ONNX "
        "graphs: its graphs' architecture; or one of its graphs differs from its first).",
        "'Syntactically identical' models often are not: torchvision's VGG16 has ~100 M more parameters "
        "than Keras' at 32x32; a pair's verdict must name the difference.",
        "Declare the modification that makes them equivalent if that is what you trained, or keep the "
        "pair and let the datasheet show the difference.")
_define("CW414", "framework-unsafe-or-missing", E,
        "The framework needed to check these weights is missing, or has known loader vulnerabilities.",
        "torch.load(weights_only=True) had remote-code-execution bugs up to torch 2.9 (CVE-2025-32434, "
        "CVE-2026-24747).",
        "Install cwcontrib[torch] / cwcontrib[tf] (torch >= 2.10) where the validator runs.")
_define("CW415", "input-too-large", E,
        "The declared input shape is larger than the validator builds reference models for.",
        "Reference models are built with real weights at the declared shape; some (Keras VGG16's Flatten head) "
        "grow with the input, so an unbounded shape could exhaust a runner's memory.",
        "Check the declared input shape; for genuinely larger inputs ask maintainers to raise the limit.")
_define("CW416", "weights-not-openable", E,
        "A weights file could not be opened safely when its tensors were read: it is a link, a folder or "
        "missing. In validation this means it was replaced after the files stage verified its checksum.",
        "Only the bytes whose sha256 was verified may be loaded; a file that changes during validation is not.",
        "Make sure nothing modifies the submission folder while it is validated, and validate again.",
        added_in="0.2.0")

_define("CW417", "onnx-graph-damaged", E,
        "An ONNX weights file is not a complete ONNX model: the protobuf does not parse (truncated, damaged), "
        "it has no graph, or a tensor's bytes do not match its declared dims and type.",
        "A file the ONNX parser half-reads is not the model that was trained; a parser error is a failure, "
        "never 'clean'.",
        "Export the graph again (torch.onnx.export(model, example, 'model.onnx'), or cwcontrib.onnx.export) and "
        "upload the whole file; check its sha256 after the upload.",
        added_in="0.2.0")
_define("CW418", "onnx-opset-unsupported", E,
        "An ONNX graph's default-domain opset is outside the range the validator supports, or missing.",
        "An operator set newer than the installed ONNX Runtime knows cannot be evaluated the same way, and "
        "very old ones had other semantics (Resize, Split, Squeeze before opset 13).",
        "Export with an opset in the supported range the message gives (torch.onnx.export(..., opset_version=17)).",
        added_in="0.2.0")
_define("CW419", "onnx-custom-domain", E,
        "An ONNX graph uses an operator, opset import or local function outside the standard ONNX domains "
        "('' / ai.onnx, ai.onnx.ml).",
        "Custom-domain operators are implemented by code outside ONNX (a runtime's contrib ops, a plug-in "
        "library): the graph would no longer be data that the standard runtime evaluates.",
        "Export with standard operators only (torch.onnx.export without custom_opsets; no onnxruntime "
        "contrib-op fusions or optimizer passes before upload).",
        added_in="0.2.0")
_define("CW420", "onnx-external-data", E,
        "An ONNX graph keeps tensor data in external files (data_location EXTERNAL or external_data entries).",
        "External-data paths make the reader open other files on the maintainer's machine; ONNX's handling of "
        "them has had path-traversal advisories (reading outside the model's folder). They are refused "
        "whatever the path says, and never followed.",
        "Embed the weights in the .onnx file (torch.onnx.export does so below 2 GB; "
        "onnx.save_model(model, path, save_as_external_data=False)).",
        added_in="0.2.0")
_define("CW421", "onnx-graph-too-large", E,
        "An ONNX graph declares more nodes, tensor dimensions or tensor elements than the validator allows.",
        "Declared dims can exhaust memory before any data is read; limits are checked on the declarations "
        "before a tensor is decoded.",
        "Check the file really holds the declared model; ask maintainers if a larger model is intended.",
        added_in="0.2.0")
_define("CW422", "onnx-initializer-non-finite", E,
        "A floating-point initializer or constant of an ONNX graph contains NaN or infinite values.",
        "A model with non-finite weights cannot produce the accuracy it claims.",
        "Re-export the graph from the end of a healthy training run.",
        added_in="0.2.0")
_define("CW423", "onnx-graph-invalid", E,
        "onnx.checker refuses an ONNX graph (a malformed node, an unknown operator, a dangling input).",
        "A graph the ONNX checker refuses has no defined meaning to evaluate.",
        "Export the graph again with a released exporter and run onnx.checker.check_model on it before upload.",
        added_in="0.2.0")

# --- CW5xx: re-evaluation -----------------------------------------------------------------
_define("CW500", "accuracy-not-reproduced", E,
        "Re-evaluating the run's weights on the test split does not reproduce the claimed accuracy.",
        "The claim is the dataset's content; a claim the weights do not support is wrong data.",
        "Check the preprocessing and split you declared against the ones you evaluated with, and report "
        "the measured k/N.")
_define("CW501", "dataset-unavailable", W,
        "The test split cannot be loaded locally, so the run was not re-evaluated.",
        "Nothing is downloaded at run time; the data must already be in the local data directory.",
        "Put the dataset's official files in the data folder under the names `cwcontrib datasets --show NAME` prints "
        "(e.g. <data-dir>/cifar10/cifar-10-batches-bin/test_batch.bin), the data folder being `--data-dir`, else "
        "`$CWCONTRIB_DATA`, else ~/.cache/cwcontrib/datasets (sklearn-digits comes with scikit-learn: install "
        "cwcontrib[data]); or validate where the files are.")
_define("CW502", "evaluation-failed", E,
        "The run could not be evaluated (the model did not accept the declared input, or the framework failed).",
        "A run that cannot be evaluated cannot be verified.",
        "Check the declared input shape, layout and preprocessing.")
_define("CW503", "runs-without-weights", W,
        "Runs of the submission have no weights, so they can never be re-evaluated.",
        "Without weights an accuracy is the contributor's word: the catalog lists such runs as `results-only`, "
        "never as verified.",
        "Add each run's weights (`weights:` naming a declared artifact) if you have them; otherwise keep the "
        "runs, knowing they enter the catalog as results-only.")
_define("CW504", "num-classes-mismatch", E,
        "The architecture's `num_classes` differs from the registered dataset's number of classes.",
        "Re-evaluation scores the model's outputs against the dataset's labels: extra or missing classes make "
        "a model that is not the one a CrossedWires pair on this dataset compares.",
        "Set `architecture.num_classes` to the dataset's class count (`cwcontrib datasets` lists it), and "
        "export weights of a classifier of that size.")
_define("CW505", "split-not-reevaluable", E,
        "The declared `dataset.split` is not a split the registry defines for re-evaluation.",
        "Re-evaluation measures the registered test split: a claim on another split could neither be checked "
        "against its size nor reproduced, and would be compared with the wrong examples.",
        "Evaluate on the registered test split and declare `split: test` (`cwcontrib datasets` gives its size).")
_define("CW506", "dataset-digest-mismatch", E,
        "`dataset.sha256` is not the registry's digest of the dataset's evaluation split (nor the sha256 of one of "
        "its pinned files).",
        "The digest says which examples the claims were measured on; a wrong one means either a different split "
        "(a model evaluated on other rows) or a made-up value, and both would enter the catalog as facts.",
        "Set `dataset.sha256` to the split digest `cwcontrib datasets --show NAME` prints (the message names it), "
        "after checking that you evaluated on exactly that split (`cwcontrib.datasets.load(NAME, split=\"test\")`).",
        added_in="0.2.0")
_define("CW507", "predictions-malformed", E,
        "A run's `predictions` file is not one predicted class per test example in the split's order.",
        "Predictions are compared example by example with the labels and with re-evaluation: a file that is not "
        "exactly one row per example, in order, cannot be compared.",
        "Write a CSV with the header `example,predicted_class` and one row per test example: example 0, 1, ... "
        "N-1 in the order of `cwcontrib.datasets.load(NAME, split=\"test\")`, each with the argmax class; declare it "
        "in `artifacts` with `format: csv`.", added_in="0.2.0")
_define("CW508", "predictions-claim-mismatch", E,
        "The run's submitted predictions do not count the claimed number of correct test examples.",
        "Claimed k/N must be the k the run's own predictions score on the registry's test split; a different "
        "count means the run was evaluated on other examples, in another order, or the claim is wrong.",
        "Predict on exactly the registry's test split (`cwcontrib datasets --show NAME`) and report k/N from "
        "those predictions.", added_in="0.2.0")
_define("CW509", "predictions-not-reproduced", E,
        "Re-evaluating the run's weights predicts another class than its submitted predictions on more examples "
        "than the tolerance allows.",
        "k/N can agree by chance; per-example predictions cannot. Weights that do not reproduce their own "
        "predictions are not the weights that were evaluated, or were evaluated on other inputs.",
        "Check that the weights file is the one you evaluated and that `dataset.preprocessing` is what you applied "
        "(docs/reevaluation.md states the tolerance).", added_in="0.2.0")


def finding(code: str, message: str, location: Location | None = None, hint: str | None = None) -> Finding:
    """Build a finding for a registered, active code; the hint defaults to the code's fix."""
    entry = REGISTRY[code]
    if not entry.active:
        raise ValueError(f"{code} was removed in {entry.removed_in}; emit {', '.join(entry.replaced_by)}")
    return Finding(
        code=entry.code,
        name=entry.name,
        severity=entry.severity,
        message=message,
        location=location or Location(),
        hint=hint if hint is not None else entry.fix,
    )


def lookup(code_or_name: str) -> Code | None:
    key = code_or_name.strip()
    if key.upper() in REGISTRY:
        return REGISTRY[key.upper()]
    return next((c for c in REGISTRY.values() if c.name == key.lower()), None)


def _lifecycle(entry: Code) -> str:
    text = f"added in {entry.added_in}"
    if not entry.active:
        text += f", removed in {entry.removed_in}: now {' or '.join(entry.replaced_by)}"
    return text


def explain(entry: Code) -> str:
    return (
        f"{entry.code} {entry.name} ({entry.severity.value}, {entry.stage} stage, {_lifecycle(entry)})\n\n"
        f"What: {entry.summary}\n\nWhy it matters: {entry.why}\n\nHow to fix: {entry.fix}\n"
    )


def findings_markdown() -> str:
    """docs/findings.md, generated: a test keeps the committed file current."""
    lines = [
        "# Finding codes",
        "",
        "<!-- Generated by `cwcontrib codes --markdown` from cwcontrib/codes.py. Do not edit. -->",
        "",
        "Every finding the validator reports has a stable code. Errors fail validation; warnings do not.",
        "`cwcontrib explain CODE` prints one entry.",
        "",
        "A code has one meaning and one stage (its hundreds digit): a check declares every code it emits in its",
        "`@check(...)` and may declare only codes of its own stage, plus CW001, which every check shares. A finding",
        "with a code its check did not declare is reported as CW001 naming the check (the test suite sets",
        "`CWCONTRIB_STRICT_CODES=1`, which makes it raise instead). A code is never reused: a retired code stays",
        "here, marked removed, with what replaced it.",
        "",
    ]
    for prefix, stage in STAGES.items():
        entries = [c for c in REGISTRY.values() if c.code.startswith(prefix)]
        if not entries:
            continue
        lines += [f"## {stage.capitalize()} ({prefix}xx)", ""]
        for c in sorted(entries, key=lambda c: c.code):
            lines += [
                f"### {c.code} `{c.name}`",
                "",
                f"*{c.severity.value}, {_lifecycle(c)}*",
                "",
                f"**What:** {c.summary}",
                "",
                f"**Why it matters:** {c.why}",
                "",
                f"**How to fix:** {c.fix}",
                "",
            ]
    return "\n".join(lines)
