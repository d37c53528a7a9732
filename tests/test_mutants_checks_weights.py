"""Mutants of cwcontrib/checks/weights.py (stage 4; mutmut, issue 9), killed here: every finding of the stage with its
exact code, message and location (CW400, CW407-CW415, CW412, CW413, CW414, the CW001s); the pixel limit at its exact
boundary; the reference specs and names (library pairs); what the JSON report says (`architectures`, `pair_verdicts`,
`onnx_graphs`, which runs loaded strictly: `evaluation.not_evaluated`); progress; remote weights read from the
private cache; ONNX keys, their graphs' shared architecture and their pair verdicts.

Each test validates a fresh copy of the real demo (`submission` fixture) or a small ONNX study made from it, with
re-evaluation off, and asserts on the report (`Report.as_dict()`), never on the context's result sections."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest

import cwcontrib.architectures
from cwcontrib.architectures import ArchitectureError
from cwcontrib.checks import weights
from cwcontrib.checks.base import Context, Options, ProgressSink
from cwcontrib.codes import REGISTRY
from cwcontrib.findings import Location
from cwcontrib.limits import DEFAULT_LIMITS, Limits
from cwcontrib.reference_models import ReferenceSpec, build_from_spec
from cwcontrib.validate import Validation, run_stage, run_validation
from cwcontrib.weights import read_weights
from cwcontrib.workers import WorkerFailure
from tests.conftest import Submission

Found = tuple[str, str, Location]
OFF = Options(reeval=False)
TORCH = "weights/t01-pytorch.safetensors"
KERAS = "weights/t01-keras.weights.h5"
STAGE_4 = {code for code, c in REGISTRY.items() if c.stage == "weights"} | {"CW001"}
KEYS = ("keras", "pytorch")
TRIALS = ("t01", "t02", "t03", "t04", "t05")


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def run(sub: Submission, limits: Limits = DEFAULT_LIMITS, progress: ProgressSink | None = None,
        options: Options = OFF) -> tuple[Validation, dict[str, Any], list[Found]]:
    """The validation, its JSON report, and the findings of stage 4 (and any CW001) as (code, message, location)."""
    validation = run_validation(sub.root, limits, progress, options)
    report = validation.report.as_dict()
    found = [(f.code, f.message, f.location) for f in validation.report.findings if f.code in STAGE_4]
    return validation, report, found


def at(validation: Validation, pointer: str) -> Location:
    return validation.context.at(pointer)


def not_evaluated(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(a["trial"], a["framework"]): a["reason"] for a in report["evaluation"]["not_evaluated"]}


def all_loaded_except(rejected: dict[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    """`not_evaluated` when re-evaluation is off and every run but `rejected` loaded strictly."""
    return {(t, k): rejected.get((t, k), "reeval-off") for t in TRIALS for k in KEYS}


def write_safetensors(tensors: dict[str, np.ndarray], path: Path) -> Path:
    import safetensors.numpy

    safetensors.numpy.save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path))
    return path


def torch_tensors(sub: Submission) -> dict[str, np.ndarray]:
    return read_weights(sub.root, TORCH, "safetensors")


def overwrite(sub: Submission, rel: str, tensors: dict[str, np.ndarray], fmt: str = "safetensors") -> None:
    """Replace a declared weights file in place with these tensors, declared honestly (size, sha256, format)."""
    write_safetensors(tensors, sub.root / rel)
    sub.redeclare(rel, fmt)


def _raising(exc: BaseException) -> Any:
    def raise_it(*args: object, **kwargs: object) -> NoReturn:
        raise exc

    return raise_it


class Recorder(ProgressSink):
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def start(self, description: str, total: int) -> None:
        self.events.append(("start", (description, total)))

    def advance(self, amount: int) -> None:
        self.events.append(("advance", amount))

    def finish(self) -> None:
        self.events.append(("finish", None))


def manifest_model(sub: Submission) -> Any:
    ctx = Context(root=sub.root)
    run_stage(ctx, "manifest")
    assert ctx.model is not None
    return ctx.model


# -- the untouched demo -----------------------------------------------------------------------------------------------

def test_the_demo_gets_both_references_one_equivalent_pair_and_every_run_loaded(submission: Submission) -> None:
    progress = Recorder()
    _validation, report, found = run(submission, progress=progress)
    assert found == []
    assert list(report["architectures"]) == ["keras", "pytorch"]
    for key, framework in (("keras", "tensorflow"), ("pytorch", "pytorch")):
        fingerprint = report["architectures"][key]
        assert (fingerprint["label"], fingerprint["framework"], fingerprint["parameters"]) == (key, framework, 8714)
        assert fingerprint["input_shape"] == [8, 8, 1]
    [verdict] = report["pair_verdicts"]
    assert verdict["frameworks"] == ["keras", "pytorch"] and verdict["equivalent"] is True
    assert not_evaluated(report) == all_loaded_except({})
    assert "onnx_graphs" not in report
    weights_events = progress.events[progress.events.index(("start", ("checking weights", 10))):]
    assert weights_events[:12] == [("start", ("checking weights", 10))] + [("advance", 1)] * 10 + [("finish", None)]


def test_the_reference_spec_takes_each_declared_field(submission: Submission) -> None:
    def change(data: dict[str, Any]) -> None:
        data["architecture"]["input_shape"] = {"height": 8, "width": 6, "channels": 2}
        data["architecture"]["num_classes"] = 7
        data["architecture"]["implementations"]["pytorch"]["modifications"] = ["first", "second"]

    submission.edit(change)
    model = manifest_model(submission)
    assert weights.reference_spec(model, "pytorch") == ReferenceSpec(
        "pytorch", "digits-cnn", "pytorch", 7, (8, 6, 2), ("first", "second"))
    assert weights.reference_spec(model, "keras") == ReferenceSpec(
        "keras", "digits-cnn", "tensorflow", 7, (8, 6, 2), ())


def test_a_key_without_an_implementation_has_no_modifications(submission: Submission) -> None:
    submission.edit(lambda d: d["architecture"]["implementations"].pop("keras"))
    model = manifest_model(submission)
    assert weights.reference_spec(model, "keras").modifications == ()
    assert weights.reference_name(model, "keras") == "digits-cnn"


def test_build_reference_builds_the_declared_architecture_here(submission: Submission) -> None:
    reference = weights.build_reference(manifest_model(submission), "pytorch")
    assert (reference.key, reference.framework, reference.worker) == ("pytorch", "pytorch", None)
    assert reference.fingerprint.parameters == 8714 and reference.expected["fc2.weight"] == ((10, 32), "float32")


def test_a_framework_worker_builds_the_reference_and_hands_over_a_prebuilt_one(submission: Submission) -> None:
    """With workers (`cwcontrib validate`), the key's framework worker builds the reference and keeps the model; a
    build the pool started ahead for exactly this spec is taken (once) instead of a second build."""
    from cwcontrib.workers import WorkerLimits, WorkerPool

    model = manifest_model(submission)
    local = weights.build_reference(model, "pytorch")
    pool = WorkerPool(WorkerLimits.for_files(DEFAULT_LIMITS.file_bytes))
    try:
        ctx = Context(root=submission.root, workers=pool)
        pending = weights.start_reference(ctx, model, "pytorch")
        assert pending.doing == "building the digits-cnn reference model of pytorch"
        reference = pending.result()
        assert (reference.key, reference.framework, reference.model) == ("pytorch", "pytorch", None)
        assert reference.worker is pool.workers["pytorch"] and list(pool.workers) == ["pytorch"]
        assert reference.expected == local.expected
        assert reference.fingerprint.as_dict() == local.fingerprint.as_dict()
        pool.prebuild(weights.reference_spec(model, "pytorch"))
        prebuilt = pool.prebuilt["pytorch"][1]
        taken = weights.start_reference(ctx, model, "pytorch")
        assert isinstance(taken, weights.RemoteReference) and taken.building is prebuilt and pool.prebuilt == {}
        assert taken.result().fingerprint.as_dict() == local.fingerprint.as_dict()
    finally:
        pool.stop()


# -- reference names of library pairs ---------------------------------------------------------------------------------

TV, KA = "torchvision.models.resnet18", "keras.applications.ResNet50V2"


def library_model(sub: Submission, name: str, pytorch: str | None, keras: str | None) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["architecture"]["name"] = name
        for key, definition in (("pytorch", pytorch), ("keras", keras)):
            if definition is not None:  # else the demo's own code stays the definition
                data["architecture"]["implementations"][key]["definition"] = definition

    sub.edit(change)
    return manifest_model(sub)


def test_a_library_pair_builds_each_key_from_its_own_builder(submission: Submission) -> None:
    model = library_model(submission, TV, TV, KA)
    assert weights.reference_name(model, "keras") == KA
    assert weights.reference_name(model, "pytorch") == TV
    assert weights.reference_spec(model, "keras").name == KA


@pytest.mark.parametrize(("name", "keras"), [
    ("digits-cnn", KA),  # the architecture is no library model
    (TV, "code/train_keras.py:digits_cnn"),  # the key's definition is no library builder
    (TV, "torchvision.models.vgg11"),  # a builder of another framework than the key's
])
def test_otherwise_the_reference_is_the_architecture(submission: Submission, name: str, keras: str) -> None:
    model = library_model(submission, name, None, keras)
    assert weights.reference_name(model, "keras") == name
    assert weights.reference_name(model, "pytorch") == name


def test_a_framework_missing_is_told_from_cwcontribs_own_import_failure() -> None:
    for name in ("torch", "torch.nn", "torchvision.models", "tensorflow", "keras.layers"):
        assert weights._framework_missing(ImportError("no", name=name)), name
    for other in (None, "", "cwcontrib.architectures", "torchaudio", "tensorflow_hub", "xtorch"):
        assert not weights._framework_missing(ImportError("no", name=other)), other


def test_weights_formats_name_artifacts_by_path_or_by_uri(submission: Submission) -> None:
    def change(data: dict[str, Any]) -> None:
        data["artifacts"].append({"uri": "https://example.org/w.safetensors", "format": "safetensors", "size": 1,
                                  "sha256": "0" * 64})

    submission.edit(change)
    formats = weights.weights_formats(manifest_model(submission))
    assert formats[TORCH] == "safetensors" and formats[KERAS] == "keras-h5"
    assert formats["https://example.org/w.safetensors"] == "safetensors" and "" not in formats


# -- the pixel limit and the builds -----------------------------------------------------------------------------------

def test_an_input_exactly_at_the_pixel_limit_is_built(submission: Submission) -> None:
    _, report, found = run(submission, Limits(reference_pixels=64))
    assert found == [] and list(report["architectures"]) == ["keras", "pytorch"]


def test_an_input_one_pixel_over_the_limit_builds_nothing(submission: Submission) -> None:
    validation, report, found = run(submission, Limits(reference_pixels=63))
    assert found == [("CW415", "input 8x8 has 64 pixels, over the limit of 63",
                      at(validation, "/architecture/input_shape"))]
    assert "architectures" not in report and "pair_verdicts" not in report
    assert set(not_evaluated(report).values()) == {"no-reference-model"}


def test_the_pixel_count_names_height_and_width_with_separators(submission: Submission) -> None:
    submission.edit(lambda d: d["architecture"]["input_shape"].update(height=1000, width=2048))
    validation, _report, found = run(submission)
    assert found == [("CW415", "input 1000x2048 has 2,048,000 pixels, over the limit of 102,400",
                      at(validation, "/architecture/input_shape"))]


def test_the_weights_stage_without_a_submission_finds_nothing(tmp_path: Path) -> None:
    assert run_stage(Context(root=tmp_path), "weights") == []


def test_a_submission_without_trials_builds_no_reference(submission: Submission) -> None:
    def no_trials(data: dict[str, Any]) -> None:  # CW316, but still a submission
        del data["trials"]
        data["schema_version"] = "1.2"

    submission.edit(no_trials)
    validation, report, found = run(submission)
    assert validation.context.model is not None and found == []
    assert "architectures" not in report and "pair_verdicts" not in report


def test_an_unknown_modification_is_cw412_for_its_key_only(submission: Submission) -> None:
    submission.edit(lambda d: d["architecture"]["implementations"]["keras"].update(modifications=["no-such-change"]))
    validation, report, found = run(submission)
    with pytest.raises(ArchitectureError) as raised:
        weights.build_reference(validation.context.model, "keras")  # type: ignore[arg-type]
    assert found == [("CW412", f"keras: {raised.value}", at(validation, "/architecture/name"))]
    assert list(report["architectures"]) == ["pytorch"] and report["pair_verdicts"] == []
    assert not_evaluated(report) == all_loaded_except({(t, "keras"): "no-reference-model" for t in TRIALS})


def _build_failing_for(framework: str, exc: BaseException) -> Any:
    real = cwcontrib.architectures.build

    def build(name: str, fw: str, *args: Any, **kwargs: Any) -> Any:
        if fw == framework:
            raise exc
        return real(name, fw, *args, **kwargs)

    return build


def test_a_missing_framework_is_cw414_for_its_key_only(submission: Submission, monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    missing = ModuleNotFoundError("No module named 'tensorflow'", name="tensorflow")
    monkeypatch.setattr(cwcontrib.architectures, "build", _build_failing_for("tensorflow", missing))
    validation, report, found = run(submission)
    assert found == [("CW414", "keras: cannot build the reference model: No module named 'tensorflow'",
                      at(validation, "/frameworks/keras"))]
    assert list(report["architectures"]) == ["pytorch"]
    assert not_evaluated(report) == all_loaded_except({(t, "keras"): "no-reference-model" for t in TRIALS})


def test_cwcontribs_own_import_failure_is_an_internal_error(submission: Submission,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    broken = ImportError("cannot import name 'gone'", name="cwcontrib.architectures")
    monkeypatch.setattr(cwcontrib.architectures, "build", _build_failing_for("tensorflow", broken))
    validation, _report, found = run(submission)
    assert found == [("CW001", "check reference_architectures_match_the_declaration failed: ImportError: cannot "
                               "import name 'gone'", Location(validation.context.manifest_file))]


def test_a_failed_worker_is_an_internal_error_for_its_key_only(submission: Submission,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    died = WorkerFailure("tensorflow", "building the digits-cnn reference model of keras", "died")
    monkeypatch.setattr(cwcontrib.architectures, "build", _build_failing_for("tensorflow", died))
    validation, report, found = run(submission)
    assert found == [("CW001", "keras: the tensorflow worker died while building the digits-cnn reference model of "
                               "keras", at(validation, "/frameworks/keras"))]
    assert list(report["architectures"]) == ["pytorch"]


# -- parameter counts and the pair verdict ----------------------------------------------------------------------------

def test_a_declared_count_neither_reference_has_is_cw411_for_each(submission: Submission) -> None:
    submission.edit(lambda d: d["architecture"].update(parameter_count=9000))
    validation, report, found = run(submission)
    where = at(validation, "/architecture/parameter_count")
    assert found == [("CW411", "keras: the reference digits-cnn has 8,714 parameters, declared 9,000", where),
                     ("CW411", "pytorch: the reference digits-cnn has 8,714 parameters, declared 9,000", where)]
    assert not_evaluated(report) == all_loaded_except({})  # the weights still load: the count is the declaration's


@pytest.fixture
def nine_class_torch_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """The PyTorch key's reference built with 9 classes (8,681 parameters): a pair whose references differ."""
    def build(spec: ReferenceSpec) -> Any:
        return build_from_spec(replace(spec, num_classes=9) if spec.framework == "pytorch" else spec)

    monkeypatch.setattr(weights, "build_from_spec", build)


@pytest.mark.usefixtures("nine_class_torch_reference")
def test_a_count_of_one_reference_is_accepted_and_the_pair_differs(submission: Submission) -> None:
    from cwcontrib.architectures import compare

    validation, report, found = run(submission)
    model = validation.context.model
    assert model is not None
    torch_reference = build_from_spec(replace(weights.reference_spec(model, "pytorch"), num_classes=9))
    keras_reference = build_from_spec(weights.reference_spec(model, "keras"))
    assert torch_reference.fingerprint.parameters == 8681
    verdict = compare(keras_reference.fingerprint, torch_reference.fingerprint)
    assert not verdict.equivalent
    pair = [f for f in found if f[0] != "CW408"]
    assert pair == [("CW413", f"keras vs pytorch: {verdict.summary()}", at(validation, "/architecture"))]
    assert report["pair_verdicts"] == [{"frameworks": ["keras", "pytorch"], **verdict.as_dict()}]
    assert report["architectures"]["pytorch"] == torch_reference.fingerprint.as_dict()
    assert report["architectures"]["keras"] == keras_reference.fingerprint.as_dict()


@pytest.mark.usefixtures("nine_class_torch_reference")
def test_a_count_of_neither_reference_names_each_count(submission: Submission) -> None:
    submission.edit(lambda d: d["architecture"].update(parameter_count=8700))
    validation, _, found = run(submission)
    where = at(validation, "/architecture/parameter_count")
    assert [f for f in found if f[0] == "CW411"] == [
        ("CW411", "keras: the reference digits-cnn has 8,714 parameters, declared 8,700", where),
        ("CW411", "pytorch: the reference digits-cnn has 8,681 parameters, declared 8,700", where)]


# -- loading strictly -------------------------------------------------------------------------------------------------

def test_missing_and_unexpected_tensors_name_the_first_five_of_each(submission: Submission) -> None:
    tensors = torch_tensors(submission)
    renamed = {f"x{name}": value for name, value in tensors.items()}  # all 6 missing, 6 unexpected
    overwrite(submission, TORCH, renamed)
    validation, report, found = run(submission)
    assert found == [("CW407", f"{TORCH}: missing conv.bias, conv.weight, fc1.bias, fc1.weight, fc2.bias; unexpected "
                               "xconv.bias, xconv.weight, xfc1.bias, xfc1.weight, xfc2.bias (6 missing, 6 unexpected)",
                      at(validation, "/trials/0/runs/pytorch/weights"))]
    assert not_evaluated(report) == all_loaded_except({("t01", "pytorch"): "weights-rejected"})


def test_only_missing_tensors(submission: Submission) -> None:
    tensors = torch_tensors(submission)
    del tensors["fc2.bias"]
    overwrite(submission, TORCH, tensors)
    validation, _, found = run(submission)
    assert found == [("CW407", f"{TORCH}: missing fc2.bias (1 missing, 0 unexpected)",
                      at(validation, "/trials/0/runs/pytorch/weights"))]


def test_only_unexpected_tensors_are_printed_safely(submission: Submission) -> None:
    tensors = torch_tensors(submission)
    tensors["evil\nname"] = np.zeros(1, np.float32)
    overwrite(submission, TORCH, tensors)
    validation, _, found = run(submission)
    assert found == [("CW407", f"{TORCH}: unexpected evil\\nname (0 missing, 1 unexpected)",
                      at(validation, "/trials/0/runs/pytorch/weights"))]


def test_shape_dtype_and_nonfinite_each_once_per_tensor_in_name_order(submission: Submission) -> None:
    tensors = torch_tensors(submission)
    tensors["fc2.weight"] = np.full((10, 31), np.nan, np.float32)  # wrong shape, and NaN: only the shape is said
    tensors["fc1.bias"] = np.full(32, np.inf, np.float64)  # wrong dtype, and infinite: only the dtype
    tensors["conv.bias"] = tensors["conv.bias"].copy()
    tensors["conv.bias"][:3] = [np.nan, np.inf, -np.inf]
    tensors["fc2.bias"] = tensors["fc2.bias"].astype(np.float16)
    overwrite(submission, TORCH, tensors)
    validation, report, found = run(submission)
    where = at(validation, "/trials/0/runs/pytorch/weights")
    assert found == [  # the report orders one location's findings by code
        ("CW408", f"{TORCH}: fc2.weight has shape (10, 31), the reference (10, 32)", where),
        ("CW409", f"{TORCH}: fc1.bias is float64, the reference float32", where),
        ("CW409", f"{TORCH}: fc2.bias is float16, the reference float32", where),
        ("CW410", f"{TORCH}: conv.bias has 3 NaN or infinite values", where),
    ]
    assert not_evaluated(report) == all_loaded_except({("t01", "pytorch"): "weights-rejected"})


def test_a_later_trial_is_located_at_its_own_run(submission: Submission) -> None:
    rel = "weights/t03-keras.weights.h5"
    (submission.root / rel).write_bytes(b"not an h5 file at all")
    submission.redeclare(rel, "keras-h5")
    validation, report, found = run(submission)
    assert found == [("CW401", f"{rel}: no HDF5 signature at the start of the file",
                      at(validation, "/trials/2/runs/keras/weights"))]
    assert not_evaluated(report) == all_loaded_except({("t03", "keras"): "weights-rejected"})


@pytest.mark.parametrize(("framework", "rel", "fmt", "allowed"), [
    ("keras", KERAS, "safetensors", "keras-h5"),
    ("pytorch", TORCH, "keras-h5", "safetensors, pytorch"),
])
def test_a_format_its_framework_cannot_use_is_cw400(submission: Submission, framework: str, rel: str, fmt: str,
                                                    allowed: str) -> None:
    submission.edit(lambda d: next(a for a in d["artifacts"] if a.get("path") == rel).update(format=fmt))
    new = rel.rsplit(".", 2)[0] + (".safetensors" if fmt == "safetensors" else ".weights.h5")
    shutil.move(submission.root / rel, submission.root / new)

    def rename(data: dict[str, Any]) -> None:
        next(a for a in data["artifacts"] if a.get("path") == rel)["path"] = new
        data["trials"][0]["runs"][framework]["weights"] = new

    submission.edit(rename)
    validation, report, found = run(submission)
    name = "tensorflow" if framework == "keras" else "pytorch"
    assert found == [("CW400", f"{new} is declared as {fmt}; {name} runs may use {allowed}",
                      at(validation, f"/trials/0/runs/{framework}/weights"))]
    assert not_evaluated(report) == all_loaded_except({("t01", framework): "weights-rejected"})


def test_weights_not_verified_are_left_to_stage_2(submission: Submission) -> None:
    (submission.root / TORCH).write_bytes((submission.root / TORCH).read_bytes()[:-1] + b"!")
    _, report, found = run(submission)
    assert found == []  # CW204 (stage 2) says why; stage 4 neither reads nor judges the file
    assert not_evaluated(report) == all_loaded_except({("t01", "pytorch"): "weights-rejected"})


def test_a_bug_in_a_reader_is_an_internal_error_naming_the_file(submission: Submission,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import cwcontrib.weights as package

    monkeypatch.setattr(package, "iter_safetensors_buffer", _raising(ValueError("a bug in cwcontrib")))
    _, _, found = run(submission)  # the files stage keeps what the reader raised; stage 4 raises it again
    assert found == [("CW001", "check weights_load_strictly failed: ValueError: a bug in cwcontrib", Location(TORCH))]


# -- remote weights ---------------------------------------------------------------------------------------------------

@pytest.fixture
def remote(submission: Submission, served: tuple[str, Path]) -> tuple[Submission, str]:
    """t01's PyTorch weights served by a real HTTPS server on 127.0.0.1 and declared by URI only."""
    url, _site = served
    return submission, f"{url}/t01-pytorch.safetensors"


def _serve(sub: Submission, uri: str, site: Path, tensors: dict[str, np.ndarray]) -> None:
    write_safetensors(tensors, sub.root / TORCH)
    sub.redeclare(TORCH, "safetensors")
    shutil.move(sub.root / TORCH, site / "t01-pytorch.safetensors")

    def change(data: dict[str, Any]) -> None:
        data["trials"][0]["runs"]["pytorch"]["weights"] = uri
        entry = next(a for a in data["artifacts"] if a.get("path") == TORCH)
        entry.pop("path")
        entry["uri"] = uri

    sub.edit(change)


def test_fetched_weights_are_read_from_the_cache_and_judged(remote: tuple[Submission, str], tmp_path: Path) -> None:
    sub, uri = remote
    tensors = torch_tensors(sub)
    tensors["fc1.bias"] = tensors["fc1.bias"].astype(np.float64)
    _serve(sub, uri, tmp_path / "site", tensors)
    validation, report, found = run(sub, options=Options(reeval=False, fetch=True))
    assert found == [("CW409", f"{uri}: fc1.bias is float64, the reference float32",
                      at(validation, "/trials/0/runs/pytorch/weights"))]
    assert not_evaluated(report)[("t01", "pytorch")] == "weights-rejected"
    assert not_evaluated(report)[("t02", "pytorch")] == "reeval-off"


def test_fetched_weights_that_load_are_ok(remote: tuple[Submission, str], tmp_path: Path) -> None:
    sub, uri = remote
    _serve(sub, uri, tmp_path / "site", torch_tensors(sub))
    _, report, found = run(sub, options=Options(reeval=False, fetch=True))
    assert found == [] and not_evaluated(report) == all_loaded_except({})


# -- ONNX graphs (issue 15) -------------------------------------------------------------------------------------------

MLP_PARAMETERS = 64 * 32 + 32 + 32 * 10 + 10  # 2,410 whatever the activation


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Untrained digits MLPs exported as ONNX graphs (stage 4 judges structure, not accuracy): three architectures
    with the same 2,410 parameters (ReLU between the layers; no activation; softmax scores), and the demo's
    DigitsCNN."""
    import torch
    from torch import nn

    from cwcontrib.onnx.export import export_torch

    folder = tmp_path_factory.mktemp("graphs")
    torch.manual_seed(0)
    made = {}
    for name, model in (
            ("relu", nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))),
            ("linear", nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Linear(32, 10))),
            ("softmax", nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10), nn.Softmax(-1)))):
        made[name] = export_torch(model.eval(), folder / f"{name}.onnx", input_shape=(8, 8, 1))
    cnn = cwcontrib.architectures.build("digits-cnn", "pytorch", 10, (8, 8, 1)).eval()
    made["cnn"] = export_torch(cnn, folder / "cnn.onnx", input_shape=(8, 8, 1))
    return made


def mlp_study(tmp_path: Path, graphs: dict[str, Path], kinds: list[str | None]) -> Submission:
    """A PyTorch-only digits-mlp study whose trial i ships the graph kinds[i] (None: no weights)."""
    from tests.conftest import DEMO
    from tests.digits_mlp import study_from_demo

    folder = tmp_path / "digits-mlp"
    data = study_from_demo(DEMO, folder, "digits-mlp")
    del data["frameworks"]["keras"]
    data["architecture"].update(name="digits-mlp", parameter_count=MLP_PARAMETERS, implementations={
        "pytorch": {"definition": "code/train_pytorch.py:DigitsMLP", "layout": "NCHW"}})
    data["artifacts"] = [a for a in data["artifacts"] if a["path"].startswith("code/")]
    for trial, kind in zip(data["trials"], kinds, strict=True):
        trial["runs"] = {"pytorch": {"test_accuracy": 0.5}}
        if kind is not None:
            rel = f"weights/{trial['id']}-pytorch.onnx"
            shutil.copy(graphs[kind], folder / rel)
            trial["runs"]["pytorch"]["weights"] = rel
    sub = Submission(folder)
    sub.write_manifest(data)
    for rel in sorted(p.relative_to(folder).as_posix() for p in (folder / "weights").iterdir()):
        sub.redeclare(rel, "onnx")
    return sub


def fingerprint_of(report: dict[str, Any], rel: str) -> Any:
    from cwcontrib.architectures.fingerprint import Fingerprint

    return Fingerprint.from_dict(report["onnx_graphs"][rel])


def test_a_study_of_one_architecture_in_graphs_has_it_as_its_architecture(tmp_path: Path,
                                                                         graphs: dict[str, Path]) -> None:
    sub = mlp_study(tmp_path, graphs, ["relu", "relu", "relu", "relu", None])  # a run without weights is no reason
    _, report, found = run(sub)                                                 # to build a reference
    assert found == []
    paths = [f"weights/t0{i}-pytorch.onnx" for i in range(1, 5)]
    assert list(report["onnx_graphs"]) == paths
    assert report["onnx_graphs"][paths[0]]["label"] == "pytorch"
    assert report["onnx_graphs"][paths[0]]["parameters"] == MLP_PARAMETERS
    assert report["architectures"] == {"pytorch": report["onnx_graphs"][paths[0]]}
    assert report["pair_verdicts"] == []
    assert not_evaluated(report) == {("t01", "pytorch"): "reeval-off", ("t02", "pytorch"): "reeval-off",
                                     ("t03", "pytorch"): "reeval-off", ("t04", "pytorch"): "reeval-off",
                                     ("t05", "pytorch"): "no-weights"}


def test_graphs_that_differ_from_the_first_are_named_once_per_difference(tmp_path: Path,
                                                                         graphs: dict[str, Path]) -> None:
    from cwcontrib.architectures import compare

    sub = mlp_study(tmp_path, graphs, ["relu", "linear", "linear", "softmax", "relu"])
    validation, report, found = run(sub)
    first = fingerprint_of(report, "weights/t01-pytorch.onnx")
    linear = compare(first, fingerprint_of(report, "weights/t02-pytorch.onnx"))
    softmax = compare(first, fingerprint_of(report, "weights/t04-pytorch.onnx"))
    assert not linear.equivalent and not softmax.equivalent and linear.summary() != softmax.summary()
    assert found == [
        ("CW413", f"pytorch: t02's graph is not t01's architecture: {linear.summary()}",
         at(validation, "/trials/1/runs/pytorch/weights")),
        ("CW413", f"pytorch: t04's graph is not t01's architecture: {softmax.summary()}",
         at(validation, "/trials/3/runs/pytorch/weights")),
    ]
    assert report["architectures"] == {"pytorch": first.as_dict()}
    assert not_evaluated(report) == {(t, "pytorch"): "reeval-off" for t in TRIALS}  # a difference rejects no run


def test_a_rejected_first_graph_is_not_the_architecture(tmp_path: Path, graphs: dict[str, Path]) -> None:
    from cwcontrib.architectures import compare

    sub = mlp_study(tmp_path, graphs, ["softmax", "linear", "relu", "linear", "linear"])
    sub.edit(lambda d: d["architecture"].update(num_classes=9))  # every graph gives 10 scores: CW408 for each
    _, report, found = run(sub)
    assert {code for code, _, _ in found} == {"CW408"} and len(found) == 5
    assert "onnx_graphs" not in report and report["architectures"] == {}  # no graph passed: no architecture
    sub.edit(lambda d: d["architecture"].update(num_classes=10))
    first = "weights/t01-pytorch.onnx"
    (sub.root / first).write_bytes(b"not a graph")
    sub.redeclare(first, "onnx")
    validation, report, found = run(sub)
    t02 = fingerprint_of(report, "weights/t02-pytorch.onnx")
    relu = compare(t02, fingerprint_of(report, "weights/t03-pytorch.onnx"))
    assert found == [
        ("CW417", f"{first}: not a complete ONNX model (the protobuf does not parse: Error parsing message with type "
                  "'onnx.ModelProto': Wire format was corrupt)", at(validation, "/trials/0/runs/pytorch/weights")),
        ("CW413", f"pytorch: t03's graph is not t02's architecture: {relu.summary()}",
         at(validation, "/trials/2/runs/pytorch/weights"))]
    assert first not in report["onnx_graphs"] and report["architectures"] == {"pytorch": t02.as_dict()}
    assert not_evaluated(report)[("t01", "pytorch")] == "weights-rejected"


def test_two_keys_of_graphs_get_a_pair_verdict(tmp_path: Path, graphs: dict[str, Path]) -> None:
    from cwcontrib.architectures import compare

    sub = mlp_study(tmp_path, graphs, ["relu"] * 5)

    def add_key(data: dict[str, Any]) -> None:  # no implementation declared: the layout is NCHW
        data["frameworks"]["other"] = dict(data["frameworks"]["pytorch"])
        for trial in data["trials"]:
            rel = f"weights/{trial['id']}-other.onnx"
            shutil.copy(graphs["linear"], sub.root / rel)
            trial["runs"]["other"] = {"weights": rel, "test_accuracy": 0.5}

    sub.edit(add_key)
    for trial in TRIALS:
        sub.redeclare(f"weights/{trial}-other.onnx", "onnx")
    validation, report, found = run(sub)
    other = fingerprint_of(report, "weights/t01-other.onnx")
    pytorch = fingerprint_of(report, "weights/t01-pytorch.onnx")
    assert (other.label, pytorch.label) == ("other", "pytorch")
    verdict = compare(other, pytorch)
    assert found == [("CW413", f"other vs pytorch: {verdict.summary()}", at(validation, "/architecture"))]
    assert report["pair_verdicts"] == [{"frameworks": ["other", "pytorch"], **verdict.as_dict()}]
    assert report["architectures"] == {"other": other.as_dict(), "pytorch": pytorch.as_dict()}


def test_graphs_beside_references_are_paired_with_each_and_the_reference_pair_once(
        submission: Submission, graphs: dict[str, Path]) -> None:
    """The demo with a third key whose runs ship the DigitsCNN as ONNX graphs: three verdicts, sorted, the
    references' own pair judged once (by reference_architectures_match_the_declaration)."""
    from cwcontrib.architectures import compare

    def add_key(data: dict[str, Any]) -> None:
        data["schema_version"] = "1.2"  # the first with ONNX graphs
        data["frameworks"]["pytorch-onnx"] = dict(data["frameworks"]["pytorch"])
        for trial in data["trials"]:
            rel = f"weights/{trial['id']}-pytorch-onnx.onnx"
            shutil.copy(graphs["cnn"], submission.root / rel)
            trial["runs"]["pytorch-onnx"] = {"weights": rel, "test_accuracy": trial["runs"]["pytorch"]["test_accuracy"]}

    submission.edit(add_key)
    for trial in TRIALS:
        submission.redeclare(f"weights/{trial}-pytorch-onnx.onnx", "onnx")
    validation, report, found = run(submission)
    model = validation.context.model
    assert model is not None
    keras = build_from_spec(weights.reference_spec(model, "keras")).fingerprint
    torch_ = build_from_spec(weights.reference_spec(model, "pytorch")).fingerprint
    graph = fingerprint_of(report, "weights/t01-pytorch-onnx.onnx")
    expected = {("keras", "pytorch"): compare(keras, torch_), ("keras", "pytorch-onnx"): compare(keras, graph),
                ("pytorch", "pytorch-onnx"): compare(torch_, graph)}
    assert report["pair_verdicts"] == [{"frameworks": list(pair), **verdict.as_dict()}
                                       for pair, verdict in sorted(expected.items())]
    assert found == [("CW413", f"{a} vs {b}: {verdict.summary()}", at(validation, "/architecture"))
                     for (a, b), verdict in sorted(expected.items()) if not verdict.equivalent]
    assert list(report["architectures"]) == ["keras", "pytorch", "pytorch-onnx"]
    assert report["architectures"]["keras"] == keras.as_dict()
    assert report["architectures"]["pytorch-onnx"]["label"] == "pytorch-onnx"
    assert not_evaluated(report)[("t01", "pytorch-onnx")] == "reeval-off"


def test_a_key_with_graphs_and_other_weights_gets_a_reference(submission: Submission, graphs: dict[str, Path]) -> None:
    rel = "weights/t01-pytorch.onnx"
    shutil.copy(graphs["cnn"], submission.root / rel)
    submission.edit(lambda d: d["trials"][0]["runs"]["pytorch"].update(weights=rel) or d.update(schema_version="1.2"))
    submission.redeclare(rel, "onnx")
    validation, report, found = run(submission)
    assert found == [("CW400", f"{rel} is declared as onnx; pytorch runs may use safetensors, pytorch",
                      at(validation, "/trials/0/runs/pytorch/weights"))]
    assert "onnx_graphs" not in report and list(report["architectures"]) == ["keras", "pytorch"]


@pytest.mark.parametrize(("absent", "needs"), [({"onnxruntime"}, "onnxruntime"),
                                               ({"onnx", "onnxruntime"}, "onnx and onnxruntime")])
def test_checking_a_graph_needs_onnx_and_onnxruntime(tmp_path: Path, graphs: dict[str, Path],
                                                     monkeypatch: pytest.MonkeyPatch, absent: set[str],
                                                     needs: str) -> None:
    import importlib.util

    sub = mlp_study(tmp_path, graphs, ["relu", None, None, None, "relu"])
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in absent else real(name, *a))
    validation, report, found = run(sub)
    assert found == [(
        "CW414", f"weights/{t}-pytorch.onnx: checking an ONNX graph needs {needs} (cwcontrib[onnx])",
        at(validation, f"/trials/{i}/runs/pytorch/weights")) for i, t in ((0, "t01"), (4, "t05"))]
    assert "onnx_graphs" not in report


def test_a_graph_is_read_in_the_layout_its_key_declares(tmp_path: Path, graphs: dict[str, Path]) -> None:
    sub = mlp_study(tmp_path, graphs, ["relu", None, None, None, None])
    sub.edit(lambda d: d["architecture"]["implementations"]["pytorch"].update(layout="NHWC"))
    validation, report, found = run(sub)
    assert found == [("CW408", "weights/t01-pytorch.onnx: the graph's input is [batch, 1, 8, 8], the declared NHWC "
                               "input [8, 8, 1]", at(validation, "/trials/0/runs/pytorch/weights"))]
    assert "onnx_graphs" not in report


def test_a_graph_is_held_to_the_declared_parameter_count(tmp_path: Path, graphs: dict[str, Path]) -> None:
    sub = mlp_study(tmp_path, graphs, [None, "relu", None, None, None])
    sub.edit(lambda d: d["architecture"].update(parameter_count=2400))
    validation, report, found = run(sub)
    assert found == [("CW411", "weights/t02-pytorch.onnx: the graph has 2,410 parameters, declared 2,400",
                      at(validation, "/trials/1/runs/pytorch/weights"))]
    assert not_evaluated(report)[("t02", "pytorch")] == "weights-rejected"


def test_a_bug_while_checking_a_graph_is_an_internal_error_naming_the_graph(
        tmp_path: Path, graphs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import cwcontrib.onnx.stage

    sub = mlp_study(tmp_path, graphs, [None, None, "relu", None, None])
    monkeypatch.setattr(cwcontrib.onnx.stage, "check_graph", _raising(ValueError("a bug in cwcontrib")))
    _, _, found = run(sub)
    assert found == [("CW001", "check weights_load_strictly failed: ValueError: a bug in cwcontrib",
                      Location("weights/t03-pytorch.onnx"))]


def test_a_key_without_a_run_in_a_trial_and_a_graph_another_key_rejects(tmp_path: Path,
                                                                        graphs: dict[str, Path]) -> None:
    """Key `other` declares NHWC and names pytorch's own graphs (NCHW): each of its runs is CW408, so the graph
    the pytorch key's run recorded for that same file is not other's architecture; t05 has no `other` run."""
    sub = mlp_study(tmp_path, graphs, ["relu"] * 5)

    def add_key(data: dict[str, Any]) -> None:
        data["frameworks"]["other"] = dict(data["frameworks"]["pytorch"])
        data["architecture"]["implementations"]["other"] = {"definition": "code/train_pytorch.py:DigitsMLP",
                                                             "layout": "NHWC"}
        for trial in data["trials"][:4]:
            trial["runs"]["other"] = dict(trial["runs"]["pytorch"])

    sub.edit(add_key)
    validation, report, found = run(sub)
    assert found == [("CW408", f"weights/t0{i + 1}-pytorch.onnx: the graph's input is [batch, 1, 8, 8], the declared "
                               "NHWC input [8, 8, 1]", at(validation, f"/trials/{i}/runs/other/weights"))
                     for i in range(4)]
    assert list(report["architectures"]) == ["pytorch"] and report["pair_verdicts"] == []
    assert not_evaluated(report)[("t01", "other")] == "weights-rejected"
