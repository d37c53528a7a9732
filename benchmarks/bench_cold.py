"""`cwcontrib validate` of the demo from a cold process, end to end (issue 16).

    python3 benchmarks/bench_cold.py [--repeats 3] [-- extra validate arguments]

Runs `python -m cwcontrib validate submissions/digits-cnn-pair --format json --quiet` REPEATS times in each of two
modes, interleaved so that both see the same machine load: with framework workers (the CLI's default: the parent
imports neither torch nor TensorFlow, cwcontrib/workers.py) and in one process (`CWCONTRIB_WORKERS=0`, the
baseline). Each run is a new process tree; it prints the median wall time of each mode and their ratio, the peak
RSS of every process of the tree (VmHWM sampled from /proc every 50 ms, and the largest from wait4's rusage) and the
CPU seconds of the whole tree (on a loaded machine wall time follows CPU time, whatever runs in parallel), checks
that both modes wrote the same JSON report byte for byte (same seed), then where the time goes: one more run of
each mode with PYTHONPROFILEIMPORTTIME=1, whose cumulative import times of torch, tensorflow and keras happen in the
workers, overlapping each other and the parent's own work. Issue 16's goal: < 10 s wall and no process over 1 GB
(baseline 2026-12-02: 14.6 s and 1.63 GB in one process, quiet machine). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = "b3c0"  # the same sample in both modes, so their reports must be identical
COMMAND = [sys.executable, "-m", "cwcontrib", "validate", "submissions/digits-cnn-pair", "--format", "json",
           "--quiet", "--seed", SEED]
MODES = {"workers": {"CWCONTRIB_WORKERS": "1"}, "one process": {"CWCONTRIB_WORKERS": "0"}}
GIB = 2**30


@dataclass
class Run:
    wall: float
    largest: int  # bytes: wait4's ru_maxrss, the largest process of the tree
    code: int
    cpu: float  # user + system seconds of the whole tree (wait4 counts reaped descendants)
    peaks: dict[str, int] = field(default_factory=dict)  # role -> VmHWM bytes
    cpus: dict[str, float] = field(default_factory=dict)  # role -> user + system seconds at its last sample
    report: bytes = b""


def _children(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        here = pending.pop()
        try:
            text = Path(f"/proc/{here}/task/{here}/children").read_text()
        except OSError:
            continue
        kids = [int(k) for k in text.split()]
        found += kids
        pending += kids
    return found


def _role(pid: int, root: int) -> str:
    if pid == root:
        return "parent"
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return f"pid {pid}"
    if b"from cwcontrib.workers import main; main()" in argv and len(argv) > 4:
        return f"{argv[4].decode()} worker"
    return f"child {pid}"


def _hwm(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _sample(root: int, peaks: dict[str, int], cpus: dict[str, float], done: threading.Event) -> None:
    roles: dict[int, str] = {}
    while not done.is_set():
        for pid in [root, *_children(root)]:
            role = roles.get(pid) or _role(pid, root)
            if not role.startswith("child"):  # a child seen before its exec is named again next time
                roles[pid] = role
            value, cpu = _hwm(pid), _cpu(pid)
            if value is not None:
                peaks[role] = max(peaks.get(role, 0), value)
            if cpu is not None:
                cpus[role] = max(cpus.get(role, 0.0), cpu)
        done.wait(0.05)


def cold_run(mode: str, extra: list[str]) -> Run:
    env = dict(os.environ, **MODES[mode])
    with tempfile.TemporaryDirectory() as private:
        out = Path(private) / "report.json"
        peaks: dict[str, int] = {}
        cpus: dict[str, float] = {}
        done = threading.Event()
        start = time.perf_counter()
        process = subprocess.Popen([*COMMAND, "-o", str(out), *extra], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        sampler = threading.Thread(target=_sample, args=(process.pid, peaks, cpus, done), daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        report = out.read_bytes() if out.exists() else b""
    # ru_maxrss of a reaped child is the largest of it and its own reaped descendants (Linux), in KiB.
    return Run(wall, usage.ru_maxrss * 1024, process.returncode, usage.ru_utime + usage.ru_stime, peaks, cpus,
               report)


def import_times(mode: str, extra: list[str]) -> dict[str, float]:
    """Cumulative import seconds of the big modules in one run (every process of the tree writes to stderr)."""
    env = dict(os.environ, **MODES[mode], PYTHONPROFILEIMPORTTIME="1")
    result = subprocess.run([*COMMAND, "-o", os.devnull, *extra], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=False)
    seconds: dict[str, float] = {}
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)$", line)
        if match and match.group(3) in ("torch", "tensorflow", "keras", "pyarrow", "pydantic", "pandas", "sklearn"):
            name = match.group(3)
            seconds[name] = max(seconds.get(name, 0.0), int(match.group(1)) / 1e6)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("extra", nargs="*", help="more `cwcontrib validate` arguments (after --)")
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f} at start")
    runs: dict[str, list[Run]] = {mode: [] for mode in MODES}
    for i in range(1, args.repeats + 1):
        for mode in MODES:
            run = cold_run(mode, args.extra)
            runs[mode].append(run)
            peaks = ", ".join(f"{role} {value / GIB:.2f} GiB / {run.cpus.get(role, 0):.1f} s CPU"
                              for role, value in sorted(run.peaks.items()))
            print(f"#{i} {mode}: {run.wall:.2f} s wall, {run.cpu:.2f} s CPU, exit {run.code}, largest process "
                  f"{run.largest / GIB:.2f} GiB ({peaks}, sampled)")
    medians = {mode: statistics.median(r.wall for r in found) for mode, found in runs.items()}
    for mode, found in runs.items():
        largest = max(r.largest for r in found)
        cpu = statistics.median(r.cpu for r in found)
        print(f"{mode}: median {medians[mode]:.2f} s wall, {cpu:.2f} s CPU, largest process {largest / GIB:.2f} GiB")
    print(f"one process / workers: {medians['one process'] / medians['workers']:.2f}x "
          f"(goal: workers < 10 s and every process < 1 GiB; load average {os.getloadavg()[0]:.1f} at end)")
    reports = {r.report for found in runs.values() for r in found}
    print("JSON reports of both modes byte-identical: " + ("yes" if len(reports) == 1 else f"NO ({len(reports)})"))
    for mode in MODES:
        where = import_times(mode, args.extra)
        listed = ", ".join(f"{k} {v:.2f} s" for k, v in sorted(where.items()))
        print(f"imports, {mode} (cumulative, one run): {listed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
