"""Mutation tests of cwcontrib/workers.py (issue 9) that need no framework: a worker for a framework name that is
not in `_WARM_MODULES` ("plain") imports nothing, so each test starts real worker processes in a fraction of a second.

Where a test needs an operation or a warm-up import that production code has not, a `sitecustomize.py` on the
worker's PYTHONPATH adds it to the worker's own `cwcontrib.workers` (the very file this process imported, so under
mutmut the worker runs the same mutant) before the worker's `main` starts. Real processes, real sockets, real
signals; outcomes are asserted, never elapsed times (timeouts below only bound a wait)."""

from __future__ import annotations

import io
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from cwcontrib import workers as workers_module
from cwcontrib.workers import Pending, Worker, WorkerFailure, WorkerLimits, WorkerPool

# The folder this process imported cwcontrib from: the checkout, or mutmut's mutants/ copy.
SOURCE_ROOT = Path(workers_module.__file__).resolve().parent.parent
LIMITS = WorkerLimits(file_bytes=(64 << 20) + 12345, open_files=128)
HOOK_OPERATIONS = """
import os, signal, sys, time
def echo(*args):
    return [(type(a).__name__, bytes(a)) if isinstance(a, bytearray) else a for a in args]
def unpicklable():
    return lambda: 0
def local_raise():
    class Local(Exception):
        pass
    raise Local("oops")
def base_raise():
    raise SystemExit(9)
def exit_with(code):
    sys.stdout.flush()
    os._exit(code)
def block():
    time.sleep(3600)
def slow_exit():
    import atexit
    atexit.register(time.sleep, 3600)
w._OPERATIONS.update(echo=echo, unpicklable=unpicklable, local_raise=local_raise, base_raise=base_raise,
                     exit_with=exit_with, block=block, slow_exit=slow_exit, build=lambda spec: ("built", spec))
"""


def _hook(folder: Path, monkeypatch: pytest.MonkeyPatch, code: str, **modules: str) -> None:
    """Workers started from now on run `code` (with `w` = their cwcontrib.workers) before their `main`; `modules`
    are importable modules next to it (name -> source)."""
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        f"import sys\nsys.path.insert(0, {str(SOURCE_ROOT)!r})\nimport cwcontrib.workers as w\n"
        + textwrap.dedent(code))
    for name, source in modules.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.setenv("PYTHONPATH", str(folder))


def _limits_of(pid: int) -> dict[str, tuple[str, str]]:
    rows = Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]
    return {row[:26].strip(): (row[26:].split()[0], row[26:].split()[1]) for row in rows}


def _open_descriptors() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture
def plain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Worker]:
    """A "plain" worker with the test operations (HOOK_OPERATIONS)."""
    _hook(tmp_path / "hook", monkeypatch, HOOK_OPERATIONS)
    worker = Worker("plain", LIMITS, timeout=60)
    try:
        yield worker
    finally:
        worker.stop()


# ----------------------------------------------------------------------------------------- settings and errors


def test_worker_failure_says_who_what_and_while_doing_what_and_pickles_whole() -> None:
    failure = WorkerFailure("pytorch", "evaluating run 3", "was killed by SIGKILL")
    assert str(failure) == "the pytorch worker was killed by SIGKILL while evaluating run 3"
    assert (failure.framework, failure.doing, failure.what) == ("pytorch", "evaluating run 3", "was killed by SIGKILL")
    back = pickle.loads(pickle.dumps(failure))
    assert type(back) is WorkerFailure and str(back) == str(failure)
    assert (back.framework, back.doing, back.what) == ("pytorch", "evaluating run 3", "was killed by SIGKILL")


def test_the_switch_overrides_the_caller_and_none_means_workers_unless_a_framework_is_loaded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("torch", "tensorflow", "keras"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.delenv(workers_module.WORKERS_VARIABLE, raising=False)
    assert workers_module.wanted(True) is True and workers_module.wanted(False) is False
    assert workers_module.wanted(None) is True
    for value, expected in ((" 1 ", True), ("1", True), ("0", False), (" 0\n", False)):
        monkeypatch.setenv(workers_module.WORKERS_VARIABLE, value)
        assert workers_module.wanted(True) is expected and workers_module.wanted(False) is expected
        assert workers_module.wanted(None) is expected
    for value in ("", "2", "yes", "01", "true"):  # not a switch: the caller decides
        monkeypatch.setenv(workers_module.WORKERS_VARIABLE, value)
        assert workers_module.wanted(True) is True and workers_module.wanted(False) is False
        assert workers_module.wanted(None) is True
    for name in ("torch", "tensorflow", "keras"):
        with monkeypatch.context() as loaded:
            loaded.setitem(sys.modules, name, types.ModuleType(name))
            assert workers_module.wanted(None) is False, name
            assert workers_module.wanted(True) is True
            loaded.setenv(workers_module.WORKERS_VARIABLE, "1")
            assert workers_module.wanted(None) is True


@pytest.mark.parametrize(("value", "seconds"), [
    (None, 1800.0), ("", 1800.0), ("  ", 1800.0), ("2.5", 2.5), (" 7 ", 7.0), ("1e-3", 0.001), ("abc", 1800.0),
    ("0", 1800.0), ("-4", 1800.0), ("nan?", 1800.0),
])
def test_the_call_timeout_comes_from_the_environment_or_is_the_default(
        monkeypatch: pytest.MonkeyPatch, value: str | None, seconds: float) -> None:
    assert workers_module.DEFAULT_TIMEOUT == 1800.0
    if value is None:
        monkeypatch.delenv(workers_module.TIMEOUT_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(workers_module.TIMEOUT_VARIABLE, value)
    assert workers_module.call_timeout() == seconds


@pytest.mark.parametrize(("value", "address_space"), [
    (None, None), ("", None), ("4294967296", 4 << 30), (" 123 ", 123), ("1.5", None), ("-1", None), ("4G", None),
])
def test_limits_for_files_leave_room_and_take_memory_only_when_asked(
        monkeypatch: pytest.MonkeyPatch, value: str | None, address_space: int | None) -> None:
    if value is None:
        monkeypatch.delenv(workers_module.MEMORY_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(workers_module.MEMORY_VARIABLE, value)
    limits = WorkerLimits.for_files(1000)
    assert limits == WorkerLimits(file_bytes=1000 + (256 << 20), open_files=256, address_space=address_space)


def test_the_answerable_form_of_an_exception() -> None:
    refused = ValueError("bad", 3)
    assert workers_module._answerable(refused) is refused

    class Local(Exception):  # defined in a function: does not pickle
        pass

    plain = workers_module._answerable(Local("oops"))
    assert type(plain) is RuntimeError and str(plain) == "Local: oops"


def test_the_worker_side_operations_in_this_process() -> None:
    assert workers_module._pid() == os.getpid()
    workers_module._INPUTS["old"] = 1
    try:
        workers_module._set_input("new", [1, 2])
        assert workers_module._INPUTS == {"new": [1, 2]}  # one split at a time
    finally:
        workers_module._INPUTS.clear()


def test_completed_runs_now_and_keeps_what_it_returned_or_raised() -> None:
    done = workers_module.completed(lambda: 42, "adding")
    assert (done.done, done.doing, done.worker) == (True, "adding", None)
    assert done.result() == 42 and done.result() == 42
    assert workers_module.completed(lambda: None).doing == ""

    def failing() -> None:
        raise KeyError("k")

    failed = workers_module.completed(failing, "looking up")
    assert failed.done and failed.doing == "looking up"
    with pytest.raises(KeyError, match="k"):
        failed.result()
    with pytest.raises(SystemExit):  # not an Exception: not kept
        workers_module.completed(lambda: sys.exit(3))
    pending = Pending(None, "x")
    pending.settle(value=5)
    assert pending.done and pending.result() == 5
    pending.settle(error=OSError("gone"))
    with pytest.raises(OSError, match="gone"):
        pending.result()


def test_has_fileno() -> None:
    assert workers_module._has_fileno(io.StringIO()) is False
    assert workers_module._has_fileno(object()) is False
    with tempfile.TemporaryFile() as handle:
        assert workers_module._has_fileno(handle) is True
    assert workers_module._has_fileno(handle) is False  # closed: ValueError


# ------------------------------------------------------------------------------------------------- _death


def test_death_names_an_exit_status_or_a_signal() -> None:
    exited = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    assert workers_module._death(exited) == "exited with status 3"
    clean = subprocess.Popen([sys.executable, "-c", "pass"])
    assert workers_module._death(clean) == "exited with status 0"
    for number, text in ((signal.SIGKILL, "was killed by SIGKILL"), (signal.SIGTERM, "was killed by SIGTERM"),
                         (40, "was killed by signal 40")):  # 40: a real-time signal, not in signal.Signals
        process = subprocess.Popen(["sleep", "60"])
        os.kill(process.pid, number)
        assert workers_module._death(process) == text


def test_death_of_a_process_that_does_not_end_is_that_it_stopped_answering() -> None:
    process = subprocess.Popen(["sleep", "60"])
    try:
        assert workers_module._death(process) == "stopped answering"
    finally:
        process.kill()
        process.wait()


# ------------------------------------------------------------------------------------- one worker, its protocol


def test_a_worker_starts_with_its_limits_environment_and_descriptors(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    before = _open_descriptors()
    limits = WorkerLimits(file_bytes=5 << 20, open_files=100, address_space=64 << 30)
    worker = Worker("plain", limits, timeout=60)
    try:
        assert (worker.framework, worker.timeout, worker.failure, worker.in_flight, worker.ready,
                worker.input_token) == ("plain", 60, None, None, False, None)
        assert Path(worker.private).is_dir() and Path(worker.private).name.startswith("cwcontrib-plain-")
        assert worker.call("saying who it is", "pid") == worker.pid == worker.process.pid
        assert worker.ready and worker.in_flight is None
        found = _limits_of(worker.pid)
        assert found["Max core file size"] == ("0", "0")
        assert found["Max file size"] == (str(5 << 20),) * 2
        assert found["Max open files"] == ("100", "100")
        assert found["Max address space"] == (str(64 << 30),) * 2
        environ = set(Path(f"/proc/{worker.pid}/environ").read_bytes().split(b"\0"))
        assert f"TMPDIR={worker.private}".encode() in environ
        assert f"TORCHINDUCTOR_CACHE_DIR={worker.private}/torchinductor_cache_dir".encode() in environ
        assert f"TRITON_CACHE_DIR={worker.private}/triton_cache_dir".encode() in environ
        assert os.readlink(f"/proc/{worker.pid}/fd/0") == "/dev/null"
        ignored = int(next(line for line in Path(f"/proc/{worker.pid}/status").read_text().splitlines()
                           if line.startswith("SigIgn:")).split()[1], 16)
        assert ignored & (1 << (signal.SIGINT - 1))  # Ctrl-C is the parent's
        assert len(_open_descriptors() - before) == 1  # its end of the socket alone
    finally:
        worker.stop()
    assert worker.process.returncode == 0  # it stopped when asked
    assert not Path(worker.private).exists()
    assert _open_descriptors() == before


def test_a_worker_s_stdin_is_dev_null_whatever_the_parent_s_is() -> None:
    read_end, write_end = os.pipe()
    saved = os.dup(0)
    os.dup2(read_end, 0)  # the parent's stdin a pipe (under mutmut or nohup it is /dev/null already)
    try:
        worker = Worker("plain", LIMITS, timeout=60)
    finally:
        os.dup2(saved, 0)
        for fd in (saved, read_end, write_end):
            os.close(fd)
    try:
        assert os.readlink(f"/proc/{worker.pid}/fd/0") == "/dev/null"
    finally:
        worker.stop()


def test_a_worker_without_a_memory_limit_keeps_its_parent_s(tmp_path: Path) -> None:
    worker = Worker("plain", LIMITS, timeout=60)
    try:
        found = _limits_of(worker.call("saying who it is", "pid"))
        assert found["Max address space"] == _limits_of(os.getpid())["Max address space"]
        assert found["Max file size"] == (str(LIMITS.file_bytes),) * 2
        assert found["Max open files"] == ("128", "128")
    finally:
        worker.stop()


def test_a_limit_never_rises_above_the_hard_limit_the_worker_inherited(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _hook(tmp_path, monkeypatch, """
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (90, 100))
        resource.setrlimit(resource.RLIMIT_CORE, (4096, 8192))
    """)
    worker = Worker("plain", LIMITS, timeout=60)  # asks for 128 open files
    try:
        found = _limits_of(worker.call("saying who it is", "pid"))
        assert found["Max open files"] == ("100", "100")
        assert found["Max core file size"] == ("0", "0")
    finally:
        worker.stop()


def test_the_worker_s_output_goes_to_the_parent_s_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "stderr.txt"
    with log.open("w") as stream:
        monkeypatch.setattr(sys, "stderr", stream)
        worker = Worker("plain", LIMITS, timeout=60)
    try:
        assert os.path.realpath(f"/proc/{worker.pid}/fd/1") == str(log.resolve())
    finally:
        worker.stop()
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # no descriptor (pytest's capture): the parent's stdout
    worker = Worker("plain", LIMITS, timeout=60)
    try:
        assert os.readlink(f"/proc/{worker.pid}/fd/1") == os.readlink("/proc/self/fd/1")
    finally:
        worker.stop()


def test_a_worker_that_cannot_start_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    before = _open_descriptors()
    with pytest.raises(FileNotFoundError):
        Worker("plain", LIMITS, timeout=60)
    assert list(tmp_path.iterdir()) == []
    assert _open_descriptors() == before


def test_payload_bytes_arrive_raw_and_writable_as_the_first_argument(plain: Worker) -> None:
    data = bytearray(b"\x00weights\xff" * 1000)
    assert plain.call("echoing", "echo", "a", 2, payload=data) == [("bytearray", bytes(data)), "a", 2]
    assert plain.call("echoing", "echo", payload=bytearray()) == [("bytearray", b"")]
    assert plain.call("echoing", "echo", "b") == ["b"]  # no payload: the arguments alone, and still in step
    assert plain.call("echoing", "echo", b"bytes", bytearray(b"x")) == [b"bytes", ("bytearray", b"x")]


def test_one_call_in_flight_submit_collects_the_previous_one(plain: Worker) -> None:
    first = plain.submit("echoing one", "echo", 1)
    assert not first.done and plain.in_flight is first and first.worker is plain and first.doing == "echoing one"
    second = plain.submit("echoing two", "echo", 2)
    assert first.done and plain.in_flight is second
    assert second.result() == [2] and plain.in_flight is None
    assert first.result() == [1]
    assert second.result() == [2]  # a second result() does not ask again


def test_what_a_worker_raises_is_raised_here_and_the_worker_goes_on(plain: Worker) -> None:
    with pytest.raises(KeyError):  # a model it never built
        plain.call("evaluating", "predict", "nokey", "safetensors", "t", "cpu", payload=bytearray(b"x"))
    with pytest.raises(TypeError, match="unhashable type: 'bytearray'"):  # the payload is the first argument
        plain.call("setting the input", "input", [1], payload=bytearray(b"x"))
    assert plain.call("setting the input", "input", "token", [1, 2]) is None
    with pytest.raises(TypeError, match="takes 0 positional arguments but 1 was given"):
        plain.call("saying who it is", "pid", payload=bytearray(b"x"))
    with pytest.raises(KeyError, match="no-such-operation"):
        plain.call("doing nothing", "no-such-operation")
    with pytest.raises(RuntimeError, match=r"^Local: oops$"):  # an exception that does not pickle
        plain.call("raising", "local_raise")
    with pytest.raises(SystemExit) as exited:  # not an Exception, still an answer
        plain.call("exiting", "base_raise")
    assert exited.value.code == 9
    with pytest.raises(RuntimeError) as unsent:
        plain.call("answering", "unpicklable")
    assert str(unsent.value).startswith("the answer to unpicklable could not be sent: ")
    assert plain.call("saying who it is", "pid") == plain.pid  # none of these ended it
    assert plain.failure is None


def test_a_worker_resolves_a_named_device_without_a_framework(plain: Worker) -> None:
    assert plain.call("choosing the device", "device", "cuda:1") == "cuda:1"
    assert plain.call("choosing the device", "device", "cpu") == "cpu"


def test_a_worker_killed_during_a_call_is_named_and_later_calls_do_not_wait(plain: Worker) -> None:
    assert plain.call("saying who it is", "pid") == plain.pid
    pending = plain.submit("evaluating run 1", "block")
    os.kill(plain.pid, signal.SIGKILL)
    with pytest.raises(WorkerFailure) as failed:
        pending.result()
    assert str(failed.value) == "the plain worker was killed by SIGKILL while evaluating run 1"
    assert plain.failure is failed.value and plain.process.returncode == -signal.SIGKILL
    later = plain.submit("evaluating run 2", "pid")
    assert later.done and plain.in_flight is None
    with pytest.raises(WorkerFailure) as again:
        later.result()
    assert str(again.value) == ("the plain worker had stopped earlier (was killed by SIGKILL) while evaluating run 2")
    assert (again.value.framework, again.value.doing) == ("plain", "evaluating run 2")
    plain.stop()
    assert not Path(plain.private).exists()


def test_a_worker_that_died_while_idle_fails_the_next_call(plain: Worker) -> None:
    assert plain.call("saying who it is", "pid") == plain.pid
    os.kill(plain.pid, signal.SIGKILL)
    plain.process.wait()
    with pytest.raises(WorkerFailure) as failed:  # the send fails: the worker's end is closed
        plain.call("evaluating run 1", "echo", payload=bytearray(b"w"))
    assert str(failed.value) == "the plain worker was killed by SIGKILL while evaluating run 1"
    assert plain.failure is failed.value and plain.in_flight is None


def test_a_worker_that_exits_after_starting_is_named_without_the_start(plain: Worker) -> None:
    assert plain.call("saying who it is", "pid") == plain.pid
    with pytest.raises(WorkerFailure) as failed:
        plain.call("evaluating", "exit_with", 5)
    assert str(failed.value) == "the plain worker exited with status 5 while evaluating"
    assert plain.process.returncode == 5


def test_a_worker_that_dies_while_starting_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _hook(tmp_path, monkeypatch, "import os\nos._exit(3)\n")  # dies before it says it is ready
    worker = Worker("plain", LIMITS, timeout=60)
    try:
        with pytest.raises(WorkerFailure) as failed:
            worker.call("saying who it is", "pid")
        assert str(failed.value) == ("the plain worker exited with status 3 while saying who it is (it was still "
                                     "starting: importing plain)")
        assert not worker.ready
    finally:
        worker.stop()
    assert not Path(worker.private).exists()


def test_a_worker_that_stops_answering_is_killed(plain: Worker) -> None:
    assert plain.call("saying who it is", "pid") == plain.pid  # started and ready (however long that took)
    plain.timeout = 0.5
    with pytest.raises(WorkerFailure) as failed:
        plain.call("saying who it is again", "block")  # it will never answer
    assert str(failed.value) == ("the plain worker did not answer within 0.5 s (it was killed) while saying who it is "
                                 "again")
    assert plain.process.returncode == -signal.SIGKILL
    with pytest.raises(WorkerFailure) as again:  # no second wait
        plain.call("one more", "pid")
    assert str(again.value) == ("the plain worker had stopped earlier (did not answer within 0.5 s (it was killed)) "
                                "while one more")


def test_a_worker_that_never_starts_answering_is_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _hook(tmp_path, monkeypatch, "import time\ntime.sleep(3600)\n")  # it never says it is ready
    worker = Worker("plain", LIMITS, timeout=2)
    try:
        with pytest.raises(WorkerFailure) as failed:
            worker.call("saying who it is", "pid")
        assert str(failed.value) == ("the plain worker did not answer within 2 s (it was killed) while saying who it "
                                     "is (it was still starting: importing plain)")
        assert worker.process.returncode == -signal.SIGKILL
    finally:
        worker.stop()


# -------------------------------------------------------------------------------------- its warm-up imports


def test_a_worker_imports_its_warm_modules_before_it_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "imported"
    _hook(tmp_path / "hook", monkeypatch, HOOK_OPERATIONS + "w._WARM_MODULES['warm'] = ('json', 'cw_marker')\n",
          cw_marker=f"open({str(marker)!r}, 'w').write('yes')\n")
    worker = Worker("warm", LIMITS, timeout=60)
    try:
        assert worker.call("listing", "echo", 1) == [1]
        assert marker.read_text() == "yes"
    finally:
        worker.stop()
    assert worker.process.returncode == 0


@pytest.mark.parametrize(("source", "what"), [
    ("raise RuntimeError('broken')\n", "failed (RuntimeError: broken)"),
    ("raise SystemExit(7)\n", "failed (SystemExit: 7)"),  # not an Exception: still the import's failure
])
def test_a_warm_module_that_fails_to_import_is_the_worker_s_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, what: str) -> None:
    _hook(tmp_path / "hook", monkeypatch, HOOK_OPERATIONS + "w._WARM_MODULES['broken'] = ('json', 'cw_broken')\n",
          cw_broken=source)
    worker = Worker("broken", LIMITS, timeout=60)
    try:
        for payload in (bytearray(b"abc"), None, bytearray(b"d")):  # each payload read: the worker stays in step
            with pytest.raises(WorkerFailure) as failed:
                worker.call("evaluating", "echo", 1, payload=payload)
            assert type(failed.value) is WorkerFailure
            assert (failed.value.framework, failed.value.doing, failed.value.what) == (
                "broken", "importing cw_broken", what)
            assert str(failed.value) == f"the broken worker {what} while importing cw_broken"
        assert worker.failure is None and worker.process.poll() is None  # it answered: the parent reports it
    finally:
        worker.stop()
    assert worker.process.returncode == 0


def test_a_missing_framework_is_raised_as_the_import_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _hook(tmp_path / "hook", monkeypatch, HOOK_OPERATIONS + "w._WARM_MODULES['absent'] = ('json', 'cw_absent_xyz')\n")
    worker = Worker("absent", LIMITS, timeout=60)
    try:
        with pytest.raises(ModuleNotFoundError) as failed:
            worker.call("building", "echo", payload=bytearray(b"abc"))
        assert failed.value.name == "cw_absent_xyz"
        with pytest.raises(ModuleNotFoundError):
            worker.call("building", "echo", 2)
    finally:
        worker.stop()


# ----------------------------------------------------------------------------------------- stopping a worker


def test_a_worker_stops_when_its_parent_goes_away(plain: Worker) -> None:
    assert plain.call("saying who it is", "pid") == plain.pid
    plain.conn.close()
    assert plain.process.wait(60) == 0


def test_a_worker_never_asked_anything_is_killed_at_once() -> None:
    worker = Worker("plain", LIMITS, timeout=60)
    worker.stop()
    assert worker.process.returncode == -signal.SIGKILL
    assert not Path(worker.private).exists()
    worker.stop()  # twice: nothing more to do
    assert worker.process.returncode == -signal.SIGKILL


def test_a_worker_abandoned_mid_call_is_killed(plain: Worker) -> None:
    assert plain.call("saying who it is", "pid") == plain.pid
    plain.submit("echoing", "echo", 1)
    plain.stop()
    assert plain.process.returncode == -signal.SIGKILL
    assert not Path(plain.private).exists()


def test_a_stopped_worker_takes_no_more_calls(plain: Worker) -> None:
    assert plain.call("saying who it is", "pid") == plain.pid
    plain.stop()
    with pytest.raises(WorkerFailure) as failed:  # its socket is closed: the call cannot go
        plain.call("echoing", "echo", 2)
    assert str(failed.value) == "the plain worker exited with status 0 while echoing"


def test_a_worker_that_does_not_stop_when_asked_is_killed(plain: Worker) -> None:
    assert plain.call("saying who it is", "pid") == plain.pid
    plain.call("delaying its exit", "slow_exit")
    plain.stop()  # asked, then waited for
    assert plain.process.returncode == -signal.SIGKILL
    assert not Path(plain.private).exists()


def test_a_worker_that_failed_is_not_asked_to_stop(plain: Worker) -> None:
    assert plain.call("saying who it is", "pid") == plain.pid
    plain.failure = WorkerFailure("plain", "x", "pretended")
    plain.stop()
    assert plain.process.returncode == -signal.SIGKILL


# ------------------------------------------------------------------------------------------------- the pool


def _spec(key: str, name: str = "net", framework: str = "plain") -> types.SimpleNamespace:
    return types.SimpleNamespace(framework=framework, key=key, name=name)


@pytest.fixture
def pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkerPool]:
    _hook(tmp_path / "hook", monkeypatch, HOOK_OPERATIONS)
    monkeypatch.setattr(workers_module, "WORKER_FRAMEWORKS", ("plain", "other"))
    monkeypatch.setenv(workers_module.TIMEOUT_VARIABLE, "77")
    workers = WorkerPool(LIMITS)
    try:
        yield workers
    finally:
        workers.stop()


def test_a_pool_starts_one_worker_per_worker_framework(pool: WorkerPool) -> None:
    assert pool.limits is LIMITS and pool.workers == {} and pool.prebuilt == {}
    pool.start({"plain", "jax"})
    assert sorted(pool.workers) == ["plain"]
    first = pool.workers["plain"]
    assert first.timeout == 77 and first.framework == "plain"
    pool.start({"plain", "other"})
    assert sorted(pool.workers) == ["other", "plain"] and pool.workers["plain"] is first
    assert pool.get("plain") is first and pool.get("jax") is None and "jax" not in pool.workers
    pool.workers.pop("other").stop()
    assert pool.get("other") is not None and sorted(pool.workers) == ["other", "plain"]
    pool.stop()
    assert pool.workers == {} and first.process.returncode is not None and not Path(first.private).exists()


def test_prebuild_and_take_once_for_the_same_spec(pool: WorkerPool) -> None:
    spec = _spec("k1")
    pool.prebuild(spec)
    started = pool.workers["plain"]
    pending = pool.take(spec)
    assert pending is not None and pending.worker is started
    assert pending.doing == "building the net reference model of k1"
    assert pending.result() == ("built", spec)
    assert pool.take(spec) is None  # once


def test_take_gives_nothing_for_another_spec_of_the_same_key(pool: WorkerPool) -> None:
    pool.prebuild(_spec("k1"))
    assert pool.take(_spec("k1", name="other-net")) is None
    assert pool.take(_spec("k1")) is None  # taken (and dropped) by the first ask
    assert pool.take(_spec("k2")) is None


def test_prebuild_only_when_the_worker_is_idle_and_well(pool: WorkerPool) -> None:
    worker = pool.get("plain")
    assert worker is not None
    busy = worker.submit("echoing", "echo", 1)
    pool.prebuild(_spec("k1"))
    assert pool.prebuilt == {} and worker.in_flight is busy
    assert busy.result() == [1]
    worker.failure = WorkerFailure("plain", "x", "pretended")
    pool.prebuild(_spec("k1"))
    assert pool.prebuilt == {}
    pool.prebuild(_spec("k3", framework="jax"))  # a framework that stays here
    assert pool.prebuilt == {} and "jax" not in pool.workers
    worker.failure = None
    pool.prebuild(_spec("k1"))
    assert list(pool.prebuilt) == ["k1"]


def test_worker_pool_context(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(workers_module, "WORKER_FRAMEWORKS", ("plain",))
    with workers_module.worker_pool(False, LIMITS) as nothing:
        assert nothing is None
    with pytest.raises(LookupError), workers_module.worker_pool(True, LIMITS) as workers:
        assert workers is not None and workers.limits is LIMITS
        worker = workers.get("plain")
        assert worker is not None and worker.call("saying who it is", "pid") == worker.pid
        raise LookupError("the validation failed")
    assert workers is not None and worker is not None
    assert workers.workers == {} and worker.process.returncode == 0 and not Path(worker.private).exists()
