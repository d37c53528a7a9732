"""`cwcontrib validate` of the demo from a cold process, end to end (issue 16).

    python3 benchmarks/bench_cold.py [--repeats 3] [-- extra validate arguments]

Runs `python -m cwcontrib validate submissions/digits-cnn-pair --format json --quiet` REPEATS times, each in a
new process, and prints the median wall time and the peak RSS of the largest process (the validator and any
worker it starts, from wait4's rusage), then where the time goes: `python -X importtime` cumulative import
times of torch, tensorflow and keras in one more run. Issue 16's goal: < 10 s wall, no process over 1 GB
(baseline 2026-12-02: 14.6 s, 1.63 GB). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND = [sys.executable, "-m", "cwcontrib", "validate", "submissions/digits-cnn-pair", "--format", "json",
           "--quiet", "-o", os.devnull]


def cold_run(extra: list[str]) -> tuple[float, int, int]:
    """Wall seconds, peak RSS in bytes of the largest process in the tree, exit code."""
    start = time.perf_counter()
    process = subprocess.Popen([*COMMAND, *extra], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    # ru_maxrss of a reaped child is the largest of it and its own reaped descendants (Linux), in KiB.
    return wall, usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status)


def import_times(extra: list[str]) -> dict[str, float]:
    """Cumulative import seconds of the big frameworks in one run, from -X importtime."""
    result = subprocess.run([sys.executable, "-X", "importtime", *COMMAND[1:], *extra], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    seconds: dict[str, float] = {}
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)$", line)
        if match and match.group(3) in ("torch", "tensorflow", "keras", "pyarrow", "pydantic", "pandas"):
            name = match.group(3)
            seconds[name] = max(seconds.get(name, 0.0), int(match.group(1)) / 1e6)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("extra", nargs="*", help="more `cwcontrib validate` arguments (after --)")
    args = parser.parse_args(argv)
    env_note = f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    runs = [cold_run(args.extra) for _ in range(args.repeats)]
    for i, (wall, rss, code) in enumerate(runs, 1):
        print(f"#{i}: {wall:.2f} s, peak RSS {rss / 2**30:.2f} GiB, exit {code}")
    walls = [wall for wall, _, _ in runs]
    print(f"cold validate of the demo: median {statistics.median(walls):.2f} s (goal < 10 s), largest process "
          f"{max(rss for _, rss, _ in runs) / 2**30:.2f} GiB (goal < 1 GiB); {env_note}")
    where = import_times(args.extra)
    print("imports (cumulative, one run): " + ", ".join(f"{k} {v:.2f} s" for k, v in sorted(where.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
