"""Framework workers (issue 16): each framework's weights and evaluation work in a process of its own.

`cwcontrib validate` imports neither torch nor TensorFlow/Keras: as soon as the manifest stage knows a submission's
frameworks, one worker process per framework starts (a fresh interpreter, nothing inherited but the environment and
one socket) and imports its framework while the files stage hashes, so that the ~3 s of torch and
~7 s of TensorFlow+Keras overlap each other and the parent's own work instead of adding up. The weights stage asks a
worker to build its references (it keeps the models and sends back only the expected tensors and the fingerprint),
the evaluation stage sends it the verified bytes of a run's weights and the preprocessed split, and gets back the
predicted classes. Only plain, picklable data crosses: specs, summaries, bytes, arrays, and CodedErrors, which
pickle whole (cwcontrib/errors.py); never a model, never a path for the worker to open: the bytes it parses are the
bytes the parent hashed (tests/test_weights_read_once.py).

Why processes, and why these limits: a parser or framework bug reached through a submitted file then runs in a
process that holds nothing else, cannot dump core (RLIMIT_CORE 0), cannot write a file larger than a weights file
may be (RLIMIT_FSIZE: the Keras harness rewrites validated tensors into an HDF5 file of its own), and has a bounded
number of open files (RLIMIT_NOFILE). Its memory is bounded by RLIMIT_AS only when $CWCONTRIB_WORKER_MEMORY asks
for it: the frameworks map address space they never touch (measured with the demo's reference built: the PyTorch
worker peaks at 3.3 GB of virtual memory for 0.6 GB resident, the TensorFlow worker at 1.8 GB for 0.7 GB; at a 1 GiB
limit torch fails to map libtorch_cpu.so and TensorFlow raises MemoryError, at 4 and 3 GiB both work) and CUDA
reserves tens of GB more on a GPU machine, so no default fits every machine; RLIMIT_DATA is no better (the
allocators' private mappings count). A worker whose framework import fails other than by being absent (CW414)
reports that as its failure (CW001). A worker that dies (a signal, a limit, a crash)
or does not answer within $CWCONTRIB_WORKER_TIMEOUT seconds is killed and reported as cwcontrib's internal error
(CW001) naming the framework and what it was doing: never a traceback, never a hang, never blamed on the input.

The pool lives for one validation (its workers' temporary files in a private folder, removed when they stop).
`CWCONTRIB_WORKERS=0` keeps every framework in this process (the old path; the audit's Ray tasks always work so),
`=1` forces workers; otherwise `Options.workers` decides: True or False, or None (the CLI's choice) for workers
unless this process already imported a framework (a test session calling the CLI's `main`): then the frameworks
cost nothing more in this process, and workers would only import them again. The library's `validate()` keeps its
in-process default.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

WORKERS_VARIABLE = "CWCONTRIB_WORKERS"
TIMEOUT_VARIABLE = "CWCONTRIB_WORKER_TIMEOUT"
MEMORY_VARIABLE = "CWCONTRIB_WORKER_MEMORY"
DEFAULT_TIMEOUT = 1800.0  # seconds one call may take: a VGG16 re-evaluation on a slow CPU, with room
OPEN_FILES = 256  # descriptors a worker may hold: its pipe, the framework's libraries while loading, a few files
WORKER_FRAMEWORKS = ("pytorch", "tensorflow")  # frameworks whose work leaves this process
# What each worker imports as soon as it starts: only its own framework and the code that uses it.
_WARM_MODULES = {
    "pytorch": ("torch", "cwcontrib.architectures.torch_models", "cwcontrib.architectures.fingerprint_torch"),
    "tensorflow": ("keras", "cwcontrib.architectures.keras_models", "cwcontrib.architectures.fingerprint_keras"),
}
# Environment each worker gets on top of the parent's: caches and temporary files in its private folder.
_PRIVATE_VARIABLES = ("TMPDIR", "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR")


class WorkerFailure(Exception):
    """A framework worker died, hit a limit or did not answer: cwcontrib's internal error (CW001)."""

    def __init__(self, framework: str, doing: str, what: str):
        super().__init__(f"the {framework} worker {what} while {doing}")
        self.framework, self.doing, self.what = framework, doing, what

    def __reduce__(self) -> tuple[Any, ...]:
        return (WorkerFailure, (self.framework, self.doing, self.what))


def wanted(requested: bool | None) -> bool:
    """Whether this validation uses workers: $CWCONTRIB_WORKERS (0 or 1) overrides the caller's choice; `None`
    (the CLI's) means workers unless this process already imported torch or TensorFlow (a test session, or a
    caller that loaded a model): there the frameworks cost nothing more here, and workers would import them again."""
    value = os.environ.get(WORKERS_VARIABLE, "").strip()
    if value in ("0", "1"):
        return value == "1"
    if requested is None:
        return not any(name in sys.modules for name in ("torch", "tensorflow", "keras"))
    return requested


def call_timeout() -> float:
    value = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    try:
        seconds = float(value) if value else DEFAULT_TIMEOUT
    except ValueError:
        seconds = DEFAULT_TIMEOUT
    return seconds if seconds > 0 else DEFAULT_TIMEOUT


@dataclass(frozen=True)
class WorkerLimits:
    """The resource limits a worker sets on itself before it imports anything of its framework."""

    file_bytes: int  # RLIMIT_FSIZE: the largest file it may write
    open_files: int = OPEN_FILES  # RLIMIT_NOFILE
    address_space: int | None = None  # RLIMIT_AS, only when $CWCONTRIB_WORKER_MEMORY asks

    @classmethod
    def for_files(cls, largest_file: int) -> WorkerLimits:
        memory = os.environ.get(MEMORY_VARIABLE, "").strip()
        return cls(file_bytes=largest_file + (256 << 20), address_space=int(memory) if memory.isdigit() else None)


def apply_limits(limits: WorkerLimits) -> None:
    """Lower this process's limits (soft and hard: the worker cannot raise them again)."""

    def lower(which: int, value: int) -> None:
        _, hard = resource.getrlimit(which)
        cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (cap, cap))

    lower(resource.RLIMIT_CORE, 0)
    lower(resource.RLIMIT_FSIZE, limits.file_bytes)
    lower(resource.RLIMIT_NOFILE, limits.open_files)
    if limits.address_space is not None:
        lower(resource.RLIMIT_AS, limits.address_space)


# ---------------------------------------------------------------------------------------------- the worker's side
# Module state of a worker process: the reference models it built (by framework key) and the inputs it was sent.
_MODELS: dict[str, tuple[str, Any]] = {}
_INPUTS: dict[str, Any] = {}


def _build(spec: Any) -> tuple[dict[str, tuple[tuple[int, ...], str]], Any]:
    from cwcontrib.reference_models import build_from_spec

    reference = build_from_spec(spec)
    _MODELS[spec.key] = (reference.framework, reference.model)
    return reference.expected, reference.fingerprint


def _set_input(token: str, x: Any) -> None:
    _INPUTS.clear()  # one split at a time
    _INPUTS[token] = x


def _predict(data: bytearray, key: str, fmt: str, token: str, device: str) -> Any:
    """The harness of cwcontrib.evaluate on bytes the parent verified (as checks.evaluation.predict_run does)."""
    from cwcontrib.evaluate import load_keras_weights, load_torch_state, predict_keras, predict_torch
    from cwcontrib.weights import iter_weights_buffer, model_tensors

    framework, model = _MODELS[key]
    tensors = dict(sorted(iter_weights_buffer(data, fmt)))
    if framework == "pytorch":
        load_torch_state(model, tensors)
        return predict_torch(model, _INPUTS[token], device)
    load_keras_weights(model, model_tensors(tensors, fmt))
    return predict_keras(model, _INPUTS[token])


def _device(requested: str) -> str:
    from cwcontrib.evaluate import resolve_device

    return resolve_device(requested)


def _pid() -> int:
    return os.getpid()


_OPERATIONS: dict[str, Callable[..., Any]] = {
    "build": _build, "input": _set_input, "predict": _predict, "device": _device, "pid": _pid,
}


def _answerable(exc: BaseException) -> BaseException:
    """The exception itself when it pickles (CodedErrors, ArchitectureError, ImportError with its name), else a
    RuntimeError saying what it was: the parent reports it as an internal error either way."""
    import pickle

    try:
        pickle.dumps(exc)
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def serve(conn: Connection, framework: str, limits: WorkerLimits) -> None:
    """A worker's life: limits, its framework's imports (answered with "ready", or with the ImportError that the
    weights stage reports as CW414), then one request at a time until the parent says stop or goes away."""
    apply_limits(limits)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops the workers
    import importlib

    failed: BaseException | None = None
    name = framework
    try:
        for name in _WARM_MODULES.get(framework, ()):
            importlib.import_module(name)
    except ModuleNotFoundError as exc:  # the framework is not installed: CW414, as in one process
        failed = exc
    except BaseException as exc:  # a broken install, or a limit (RLIMIT_AS: "failed to map segment"): not the input's
        failed = WorkerFailure(framework, f"importing {name}", f"failed ({type(exc).__name__}: {exc})")
    conn.send(("ready", None))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        operation, args, size = request
        try:
            if size >= 0:  # the bytes come raw after the request, into a buffer of the worker's own (writable)
                payload = bytearray(size)
                conn.recv_bytes_into(payload)
                args = (payload, *args)
            if failed is not None:
                raise failed
            answer: tuple[str, Any] = ("ok", _OPERATIONS[operation](*args))
        except BaseException as exc:
            answer = ("raised", _answerable(exc))
        try:
            conn.send(answer)
        except Exception as exc:  # an answer that does not pickle: cwcontrib's bug, said as such
            conn.send(("raised", RuntimeError(f"the answer to {operation} could not be sent: {exc}")))


# ---------------------------------------------------------------------------------------------- the parent's side


def _death(process: subprocess.Popen[bytes]) -> str:
    try:
        code = process.wait(5)
    except subprocess.TimeoutExpired:
        return "stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with status {code}"


class Pending:
    """A call sent to a worker; `result()` waits for its answer (or raises what the worker raised)."""

    def __init__(self, worker: Worker | None, doing: str, value: Any = None, error: BaseException | None = None):
        self.worker, self.doing, self._value, self._error = worker, doing, value, error
        self.done = worker is None

    def result(self) -> Any:
        if not self.done:
            assert self.worker is not None
            self.worker.collect(self)
        if self._error is not None:
            raise self._error
        return self._value

    def settle(self, value: Any = None, error: BaseException | None = None) -> None:
        self._value, self._error, self.done = value, error, True


def completed(function: Callable[[], Any], doing: str = "") -> Pending:
    """Run `function` now, in this process, as a Pending whose `result()` gives what it returned or raised."""
    try:
        return Pending(None, doing, value=function())
    except Exception as exc:
        return Pending(None, doing, error=exc)


class Worker:
    """One framework's worker process and the parent's end of its socket; one call in flight at a time.

    A plain `python -c` child, not multiprocessing's 'spawn': spawn re-runs the parent's main script in the child
    (a library caller's script without an `if __name__ == "__main__"` guard would start workers recursively), while
    this child imports cwcontrib.workers and nothing of the parent's. Its stdout is the parent's stderr (a report
    printed on stdout stays the report alone), its environment the parent's plus its private folder."""

    def __init__(self, framework: str, limits: WorkerLimits, timeout: float):
        self.framework, self.timeout = framework, timeout
        self.private = tempfile.mkdtemp(prefix=f"cwcontrib-{framework}-")
        self.failure: WorkerFailure | None = None
        self.in_flight: Pending | None = None
        self.ready = False
        self.input_token: str | None = None
        ours, theirs = socket.socketpair()
        env = dict(os.environ, TMPDIR=self.private)
        env.update({name: os.path.join(self.private, name.lower()) for name in _PRIVATE_VARIABLES[1:]})
        limits_text = json.dumps(asdict(limits))
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from cwcontrib.workers import main; main()", str(theirs.fileno()), framework,
                 limits_text],
                stdin=subprocess.DEVNULL, stdout=sys.stderr.fileno() if _has_fileno(sys.stderr) else None,
                pass_fds=(theirs.fileno(),), env=env)
        except BaseException:
            ours.close()
            shutil.rmtree(self.private, ignore_errors=True)
            raise
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())

    @property
    def pid(self) -> int:
        return self.process.pid

    def _fail(self, doing: str, what: str) -> WorkerFailure:
        self.failure = WorkerFailure(self.framework, doing, what)
        self.kill()
        return self.failure

    def _receive(self, doing: str) -> tuple[str, Any]:
        if wait([self.conn], self.timeout):
            try:
                answer: tuple[str, Any] = self.conn.recv()
                return answer
            except (EOFError, OSError):  # the worker's end closed: it died
                raise self._fail(doing, _death(self.process)) from None
        raise self._fail(doing, f"did not answer within {self.timeout:g} s (it was killed)")

    def submit(self, doing: str, operation: str, *args: Any, payload: bytearray | None = None) -> Pending:
        """Send a call; `payload` (a weights file's verified bytes) travels raw after it, never pickled (no copy
        here), and reaches the operation as its first argument."""
        if self.in_flight is not None:
            self.collect(self.in_flight)  # one call at a time: the socket never holds two large messages
        pending = Pending(self, doing)
        if self.failure is not None:
            pending.settle(error=WorkerFailure(self.framework, doing, f"had stopped earlier ({self.failure.what})"))
            return pending
        try:  # not waiting for "ready": the request waits in the socket while the worker imports its framework
            self.conn.send((operation, args, -1 if payload is None else len(payload)))
            if payload is not None:
                self.conn.send_bytes(payload)
        except (OSError, ValueError):
            pending.settle(error=self._fail(doing, _death(self.process)))
            return pending
        self.in_flight = pending
        return pending

    def collect(self, pending: Pending) -> None:
        assert pending is self.in_flight
        self.in_flight = None
        try:
            if not self.ready:
                self._receive(f"{pending.doing} (it was still starting: importing {self.framework})")
                self.ready = True
            status, value = self._receive(pending.doing)
        except WorkerFailure as exc:
            pending.settle(error=exc)
            return
        if status == "raised":
            pending.settle(error=value)
        else:
            pending.settle(value=value)

    def call(self, doing: str, operation: str, *args: Any, payload: bytearray | None = None) -> Any:
        return self.submit(doing, operation, *args, payload=payload).result()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        """Ask an idle worker to stop, kill it if it does not within 10 s (one never asked anything, perhaps still
        importing, or abandoned mid-call, is killed at once), remove its private folder."""
        try:
            if self.process.poll() is None and self.ready and self.failure is None and self.in_flight is None:
                self.conn.send(None)
                self.process.wait(10)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
        finally:
            self.kill()
            self.conn.close()
            shutil.rmtree(self.private, ignore_errors=True)


def _has_fileno(stream: Any) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):  # pytest's captured streams have none
        return False
    return True


def main() -> None:
    """A worker process's entry: `python -c "from cwcontrib.workers import main; main()" FD FRAMEWORK LIMITS`."""
    fd, framework, limits_text = sys.argv[1:4]
    serve(Connection(int(fd)), framework, WorkerLimits(**json.loads(limits_text)))


class WorkerPool:
    """The workers of one validation, by framework name."""

    def __init__(self, limits: WorkerLimits) -> None:
        self.limits = limits
        self.workers: dict[str, Worker] = {}
        self.prebuilt: dict[str, tuple[Any, Pending]] = {}  # framework key -> (spec, its build under way)

    def start(self, frameworks: set[str]) -> None:
        """Start a worker for each of these frameworks that has none yet (it begins importing at once)."""
        for framework in sorted(frameworks & set(WORKER_FRAMEWORKS)):
            if framework not in self.workers:
                self.workers[framework] = Worker(framework, self.limits, call_timeout())

    def prebuild(self, spec: Any) -> None:
        """Start building a reference as soon as the manifest is known, so that the build (PyTorch's fingerprint on
        the meta device imports ~800 more modules: seconds) also overlaps the files stage; the weights stage takes
        it (`take`). Only a framework's first key: a second request would wait for the first's answer."""
        worker = self.get(spec.framework)
        if worker is not None and worker.in_flight is None and worker.failure is None:
            self.prebuilt[spec.key] = (spec, worker.submit(f"building the {spec.name} reference model of {spec.key}",
                                                           "build", spec))

    def take(self, spec: Any) -> Pending | None:
        """The build `prebuild` started for exactly this spec, once; None when there is none."""
        found = self.prebuilt.pop(spec.key, None)
        return found[1] if found is not None and found[0] == spec else None

    def get(self, framework: str) -> Worker | None:
        """The framework's worker, started now when it was not yet; None for a framework that stays here."""
        self.start({framework})
        return self.workers.get(framework)

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()
        self.workers.clear()


@contextmanager
def worker_pool(enabled: bool, limits: WorkerLimits) -> Iterator[WorkerPool | None]:
    """A pool for one validation when `enabled`, stopped (its workers ended, their folders removed) at the end."""
    if not enabled:
        yield None
        return
    pool = WorkerPool(limits)
    try:
        yield pool
    finally:
        pool.stop()
