"""Issue 16: torch and TensorFlow work in worker processes (cwcontrib/workers.py). The parent imports neither, the
JSON report is byte for byte the in-process one, a worker that dies, hangs or raises is cwcontrib's internal error
(CW001) naming the framework and what it was doing, and its resource limits are set. Real processes, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cwcontrib import workers as workers_module
from cwcontrib.checks import Options
from cwcontrib.cli import main as cli_main
from cwcontrib.limits import DEFAULT_LIMITS
from cwcontrib.validate import Report, run_validation
from cwcontrib.workers import Worker, WorkerFailure, WorkerLimits, WorkerPool
from tests.conftest import Submission

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "submissions" / "digits-cnn-pair"
FRAMEWORK_MODULES = ("torch", "torchvision", "tensorflow", "keras")
SEED = "c0ffee"
LIMITS = WorkerLimits(file_bytes=64 << 20, open_files=128)


def _report_json(report: Report) -> str:
    return json.dumps(report.as_dict(), sort_keys=True)


def _both(root: Path, options: Options) -> tuple[Report, Report]:
    """The report with framework workers and the report in one process, same seed."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(workers_module.WORKERS_VARIABLE, raising=False)
        remote = run_validation(root, options=Options(**{**vars(options), "workers": True})).report
        local = run_validation(root, options=Options(**{**vars(options), "workers": False})).report
    return remote, local


# ------------------------------------------------------------------------------------------- the CLI, end to end


def test_cli_parent_imports_no_framework_and_writes_the_in_process_report(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """`cwcontrib validate` in a fresh process: workers by default, torch and TensorFlow never imported by the parent,
    and the JSON report the same bytes as the one-process path's (CWCONTRIB_WORKERS=0)."""
    remote_out, local_out, modules_out = tmp_path / "workers.json", tmp_path / "local.json", tmp_path / "modules"
    script = (
        "import json, sys\n"
        "from cwcontrib.cli import main\n"
        f"code = main(['validate', {str(DEMO)!r}, '--format', 'json', '--quiet', '--seed', {SEED!r}, "
        f"'-o', {str(remote_out)!r}])\n"
        f"open({str(modules_out)!r}, 'w').write(json.dumps([code, sorted(m for m in sys.modules "
        f"if m.split('.')[0] in {FRAMEWORK_MODULES!r})]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != workers_module.WORKERS_VARIABLE}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    code, imported = json.loads(modules_out.read_text())
    assert code == 0 and imported == []
    assert "Traceback" not in done.stderr
    monkeypatch.setenv(workers_module.WORKERS_VARIABLE, "0")  # the old path, in this process
    assert cli_main(["validate", str(DEMO), "--format", "json", "--quiet", "--seed", SEED, "-o", str(local_out)]) == 0
    remote, local = remote_out.read_bytes(), local_out.read_bytes()
    assert json.loads(remote)["evaluation"]["runs"]  # it did re-evaluate
    assert remote == local


# ------------------------------------------------------------------------------- broken submissions, both paths


def test_a_tampered_claim_gives_the_same_report_in_both_paths(submission: Submission) -> None:
    def inflate(data: dict[str, Any]) -> None:
        data["trials"][0]["runs"]["pytorch"]["test_accuracy"] = 0.99
        data["trials"][0]["runs"]["keras"]["test_accuracy"] = 0.98

    submission.edit(inflate)
    remote, local = _both(submission.root, Options(all_trials=True, seed=SEED, device="cpu"))
    assert "CW500" in {f.code for f in remote.findings}
    assert _report_json(remote) == _report_json(local)


def test_an_unknown_architecture_gives_the_same_report_in_both_paths(submission: Submission) -> None:
    """ArchitectureError raised in the worker crosses whole: CW412 for both keys, as in one process."""
    submission.edit(lambda data: data["architecture"].update(name="digits-cnn-v9"))
    remote, local = _both(submission.root, Options(seed=SEED, device="cpu"))
    assert [f.code for f in remote.findings if f.code == "CW412"] == ["CW412", "CW412"]
    assert "CW001" not in {f.code for f in remote.findings}
    assert _report_json(remote) == _report_json(local)


# ------------------------------------------------------------------------------------ a worker dies mid-call


def _limits_of(pid: int) -> dict[str, tuple[str, str]]:
    rows = Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]
    return {row[:26].strip(): tuple(row[26:].split()[:2]) for row in rows}  # type: ignore[misc]


@pytest.fixture
def kill_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Kill a worker with SIGKILL right after the parent sent it the named operation (the call is in flight);
    records the limits the worker had set on itself."""
    seen: dict[str, Any] = {"operation": None, "limits": {}, "killed": []}
    submit = Worker.submit

    def killing(self: Worker, doing: str, operation: str, *args: Any, payload: bytearray | None = None) -> Any:
        pending = submit(self, doing, operation, *args, payload=payload)
        if operation == seen["operation"] and self.process.poll() is None:
            seen["limits"][self.framework] = _limits_of(self.pid)
            os.kill(self.pid, signal.SIGKILL)
            seen["killed"].append(self.framework)
        return pending

    monkeypatch.setattr(Worker, "submit", killing)
    yield seen


def test_a_worker_killed_while_evaluating_is_an_internal_error(submission: Submission,
                                                               kill_on: dict[str, Any]) -> None:
    kill_on["operation"] = "predict"
    report = run_validation(submission.root, options=Options(workers=True, all_trials=True, seed=SEED,
                                                             device="cpu")).report
    internal = [f for f in report.findings if f.code == "CW001"]
    first = sorted(kill_on["killed"])
    assert first == ["pytorch", "tensorflow"]  # each framework's first evaluation was in flight when killed
    assert internal and all("Traceback" not in f.message for f in internal)
    messages = [f.message for f in internal]
    assert any("the pytorch worker was killed by SIGKILL while evaluating weights/t01-pytorch.safetensors" in m
               for m in messages), messages
    assert any("the tensorflow worker was killed by SIGKILL while evaluating weights/t01-keras.weights.h5" in m
               for m in messages), messages
    assert any("had stopped earlier (was killed by SIGKILL)" in m for m in messages)  # the later runs: no hang
    section = report.as_dict()["evaluation"]
    assert section["runs"] == [] and {e["reason"] for e in section["not_evaluated"]} == {"internal-error"}
    assert report.stages["evaluation"] == "failed"
    assert report.stages["weights"] == "passed"  # never blamed on the submission's weights
    for framework in ("pytorch", "tensorflow"):  # what the workers had set on themselves, before their imports
        limits = kill_on["limits"][framework]
        assert limits["Max core file size"] == ("0", "0")
        assert limits["Max open files"] == (str(workers_module.OPEN_FILES),) * 2
        file_bytes = str(WorkerLimits.for_files(DEFAULT_LIMITS.file_bytes).file_bytes)
        assert limits["Max file size"] == (file_bytes, file_bytes)


def test_a_worker_killed_while_building_its_reference_is_an_internal_error(submission: Submission,
                                                                           kill_on: dict[str, Any]) -> None:
    kill_on["operation"] = "build"
    report = run_validation(submission.root, options=Options(workers=True, seed=SEED, device="cpu")).report
    internal = {f.message: f.location.pointer for f in report.findings if f.code == "CW001"}
    assert internal == {
        "pytorch: the pytorch worker was killed by SIGKILL while building the digits-cnn reference model of pytorch "
        "(it was still starting: importing pytorch)": "/frameworks/pytorch",
        "keras: the tensorflow worker was killed by SIGKILL while building the digits-cnn reference model of keras "
        "(it was still starting: importing tensorflow)": "/frameworks/keras",
    }
    assert {f.code for f in report.findings} == {"CW001"}  # nothing blamed on the input
    assert report.stages["weights"] == "failed" and report.stages["evaluation"] == "skipped"


# ------------------------------------------------------------------------------- one worker, no framework


@pytest.fixture
def bare_worker() -> Iterator[Worker]:
    """A worker that imports no framework (cheap): the machinery alone."""
    worker = Worker("none", LIMITS, timeout=60)
    try:
        yield worker
    finally:
        worker.stop()


def test_a_worker_sets_its_limits_and_its_private_folder_goes_with_it(bare_worker: Worker) -> None:
    pid = bare_worker.call("saying who it is", "pid")
    assert pid == bare_worker.pid
    limits = _limits_of(pid)
    assert limits["Max core file size"] == ("0", "0")
    assert limits["Max file size"] == (str(LIMITS.file_bytes),) * 2
    assert limits["Max open files"] == ("128", "128")
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert f"TMPDIR={bare_worker.private}".encode() in environ
    assert Path(bare_worker.private).is_dir()
    bare_worker.stop()
    assert bare_worker.process.returncode == 0  # it stopped when asked
    assert not Path(bare_worker.private).exists()


def test_a_stopped_worker_times_out_and_is_killed(bare_worker: Worker) -> None:
    bare_worker.timeout = 2
    bare_worker.call("saying who it is", "pid")  # started and ready
    os.kill(bare_worker.pid, signal.SIGSTOP)  # it will never answer
    with pytest.raises(WorkerFailure) as failed:
        bare_worker.call("saying who it is again", "pid")
    assert str(failed.value) == "the none worker did not answer within 2 s (it was killed) while saying who it is again"
    assert bare_worker.process.returncode == -signal.SIGKILL
    with pytest.raises(WorkerFailure, match="had stopped earlier"):  # no second wait
        bare_worker.call("one more", "pid")


def test_what_a_worker_raises_crosses_whole(bare_worker: Worker) -> None:
    from cwcontrib.weights import WeightsError

    with pytest.raises(KeyError):  # a model it never built: its own bug, raised as such in the parent
        bare_worker.call("evaluating", "predict", "nokey", "safetensors", "t", "cpu", payload=bytearray(b"x"))
    assert bare_worker.call("still there", "pid") == bare_worker.pid  # a raise does not end the worker
    refused = WeightsError("CW402", "bad", line=3)
    assert workers_module._answerable(refused) is refused

    class Local(Exception):  # defined in a function: does not pickle
        pass

    plain = workers_module._answerable(Local("oops"))
    assert type(plain) is RuntimeError and str(plain) == "Local: oops"


def test_switch_and_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(workers_module.WORKERS_VARIABLE, raising=False)
    assert workers_module.wanted(True) and not workers_module.wanted(False)
    monkeypatch.setenv(workers_module.WORKERS_VARIABLE, "0")
    assert not workers_module.wanted(True)
    monkeypatch.setenv(workers_module.WORKERS_VARIABLE, "1")
    assert workers_module.wanted(False)
    pool = WorkerPool(LIMITS)
    pool.start({"jax", "onnx"})  # frameworks that stay in this process
    assert pool.workers == {} and pool.get("jax") is None


def test_a_framework_that_cannot_load_under_a_memory_limit_is_the_worker_s_failure(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """$CWCONTRIB_WORKER_MEMORY sets RLIMIT_AS; torch cannot map its library under 1 GiB: an internal failure
    naming the import (CW001 in a report), not a missing framework (CW414)."""
    from cwcontrib.reference_models import ReferenceSpec

    monkeypatch.setenv(workers_module.MEMORY_VARIABLE, str(1 << 30))
    limits = WorkerLimits.for_files(64 << 20)
    assert limits.address_space == 1 << 30
    worker = Worker("pytorch", limits, timeout=600)
    try:
        with pytest.raises(WorkerFailure) as failed:
            worker.call("building", "build", ReferenceSpec("pytorch", "digits-cnn", "pytorch", 10, (8, 8, 1), ()))
        assert str(failed.value).startswith("the pytorch worker failed (ImportError: ")
        assert str(failed.value).endswith(" while importing torch")
        assert _limits_of(worker.pid)["Max address space"] == (str(1 << 30),) * 2
    finally:
        worker.stop()
