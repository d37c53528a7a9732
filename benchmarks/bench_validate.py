"""Stages 1-4 of `cwcontrib validate` on a synthetic sweep, against `openssl dgst -sha256` over the same files.

    python3 benchmarks/bench_validate.py [--trials 16 --arch resnet50] [--sweep DIR] [--repeats 3]

Makes the sweep with benchmarks/make_sweep.py (cached under $TMPDIR/cwcontrib-bench/), reads every file once so
the page cache is warm for both sides, then in the same run measures:
- the baseline: one single-threaded `openssl dgst -sha256` process over every file of the sweep;
- cwcontrib's stages 1-4 in this process (frameworks imported beforehand: their start-up is bench_cold's
  subject), time per stage, and the throughput of files + weights (the stages that read the bytes);
- peak RSS of this process, against the largest single file.
Prints figures and the ratio `throughput / openssl` (issue 16's goal: >= 1.6 on 2 cores). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from make_sweep import make_sweep


def sweep_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def warm(files: list[Path]) -> None:
    for path in files:
        with open(path, "rb") as handle:
            while handle.read(8 << 20):
                pass


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    """CPU time (user + system, all threads): the work done, which other jobs on a loaded machine do not change."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def openssl_seconds(files: list[Path]) -> tuple[float, float]:
    """Wall and CPU seconds of one `openssl dgst -sha256` over the files."""
    start, cpu = time.perf_counter(), cpu_seconds(resource.RUSAGE_CHILDREN)
    subprocess.run(["openssl", "dgst", "-sha256", *map(str, files)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu


def import_frameworks() -> None:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras  # noqa: F401
    import torch  # noqa: F401


def timed_validation(root: Path) -> tuple[dict[str, float], dict[str, float], bool]:
    """Stages 1-4 (re-evaluation off), with the seconds each stage and each check took."""
    from cwcontrib import validate
    from cwcontrib.checks.base import Options

    seconds: dict[str, float] = {}
    per_check: dict[str, float] = {}
    run_stage, run_check = validate.run_stage, validate._run_check

    def timed(ctx: Any, stage: str) -> list[Any]:
        start, cpu = time.perf_counter(), cpu_seconds()
        try:
            return run_stage(ctx, stage)
        finally:
            seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - start
            seconds[f"{stage} cpu"] = seconds.get(f"{stage} cpu", 0.0) + cpu_seconds() - cpu
            PEAKS.setdefault(stage, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)  # first run's

    def timed_check(ctx: Any, registered: Any) -> list[Any]:
        start = time.perf_counter()
        try:
            return run_check(ctx, registered)
        finally:
            per_check[registered.name] = per_check.get(registered.name, 0.0) + time.perf_counter() - start

    validate.run_stage = timed  # type: ignore[assignment]
    validate._run_check = timed_check  # type: ignore[assignment]
    try:
        result = validate.run_validation(root, options=Options(reeval=False))
    finally:
        validate.run_stage, validate._run_check = run_stage, run_check
    return seconds, per_check, result.report.ok


# Peak RSS of the process when each stage of the first run ended: the files stage runs before any reference
# model is built, so its growth over the imports is what reading the files costs.
PEAKS: dict[str, int] = {}

# The weights stage's check that builds the trusted reference models (a fixed cost per framework, whatever the
# number of files) and the one that compares every file with them.
READING = ("files", "weights")  # the stages whose CPU time is printed
BUILD_CHECK = "reference_architectures_match_the_declaration"
LOAD_CHECK = "weights_load_strictly"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--arch", default="resnet50", choices=("digits-cnn", "resnet50", "vgg16"))
    parser.add_argument("--sweep", type=Path, help="an existing sweep folder instead of a generated one")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    root = args.sweep
    if root is None:
        cache = Path(tempfile.gettempdir()) / "cwcontrib-bench"
        root = cache / f"sweep-{args.arch}-{args.trials}"
        if not (root / "submission.yaml").exists():
            make_sweep(root, args.trials, args.arch)
    files = sweep_files(root)
    total = sum(p.stat().st_size for p in files)
    largest = max(p.stat().st_size for p in files)
    print(f"sweep {root}: {len(files)} files, {total / 2**20:.0f} MiB, largest {largest / 2**20:.0f} MiB; "
          f"{os.cpu_count()} CPUs; {shutil.which('openssl')}")
    warm(files)
    import_frameworks()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    ratios, io_ratios, rows = [], [], []
    for repeat in range(args.repeats):
        base, base_cpu = openssl_seconds(files)
        stages, checks, ok = timed_validation(root)
        stages = {name: s for name, s in stages.items() if not name.endswith(" cpu") or name[:-4] in READING}
        reading = stages.get("files", 0.0) + stages.get("weights", 0.0)
        ratio = base / reading  # throughputs over the same bytes: (total / reading) / (total / base)
        # The reading work alone: the files stage and the per-file weights check, without building references.
        io_seconds = stages.get("files", 0.0) + checks.get(LOAD_CHECK, 0.0)
        ratios.append(ratio)
        io_ratios.append(base / io_seconds)
        rows.append((repeat + 1, base, base_cpu, stages, checks, reading, ratio, io_seconds, ok))
    for repeat, base, base_cpu, stages, checks, reading, ratio, io_seconds, ok in rows:
        per_stage = ", ".join(f"{name} {s:.2f} s" for name, s in stages.items())
        print(f"#{repeat}: openssl {base:.2f} s, cpu {base_cpu:.2f} s ({total / base / 2**20:.0f} MiB/s); cwcontrib "
              f"{per_stage} (weights: "
              f"references {checks.get(BUILD_CHECK, 0.0):.2f} s, files {checks.get(LOAD_CHECK, 0.0):.2f} s); "
              f"files+weights {reading:.2f} s ({total / reading / 2**20:.0f} MiB/s); ratio {ratio:.2f}; "
              f"without building references {io_seconds:.2f} s, ratio {base / io_seconds:.2f}; valid {ok}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"ratio files+weights throughput / openssl: median {statistics.median(ratios):.2f} (goal >= 1.6); "
          f"without building references: median {statistics.median(io_ratios):.2f}")
    print(f"peak RSS {peak / 2**20:.0f} MiB (after framework imports {rss_before / 2**20:.0f} MiB); largest file "
          f"{largest / 2**20:.0f} MiB; growth over imports / largest file: {(peak - rss_before) / largest:.2f}")
    growth = {stage: (PEAKS[stage] - rss_before) / largest for stage in ("files", "weights") if stage in PEAKS}
    print("peak RSS growth over imports / largest file, first run: "
          + ", ".join(f"by the end of {stage} {g:.2f}" for stage, g in growth.items())
          + " (the weights stage builds the reference models)")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
