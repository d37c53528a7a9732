"""`cwcontrib index` and `load_catalog()` on a synthetic catalog of 2,400 runs / 1,200 pairs (issue 16).

    python3 benchmarks/bench_index.py [--submissions 12 --trials 100] [--repeats 5]

Builds a temporary repository whose submissions/ holds SUBMISSIONS synthetic digits-cnn sweeps of TRIALS trials
each (benchmarks/make_sweep.py: real demo weights), then measures in the same run:
- the first build (every submission validated, stages 1-4 and the re-evaluation check, hashed, indexed);
- a rebuild with nothing changed (issue 16's goal: <= 1 s), median of REPEATS;
- `load_catalog("runs")` and `load_catalog("pairs")` from the checkout (goal: <= 50 ms), median of REPEATS;
- adding one submission: the files hashed by the rebuild, split into the new submission's and the others'
  (goal: nothing already indexed is hashed again).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from make_sweep import make_sweep


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - start, value


def count_hashes() -> Counter[str]:
    """Every submission file hashed from now on, by submission folder."""
    from cwcontrib.checks import files

    counts: Counter[str] = Counter()
    original = files.sha256_confined

    def counting(root: Path, rel: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        counts[Path(root).name] += 1
        return original(root, rel, *args, **kwargs)

    files.sha256_confined = counting  # type: ignore[assignment]
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=12)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from cwcontrib.catalog.api import load_catalog
    from cwcontrib.catalog.index import build_catalog

    with tempfile.TemporaryDirectory(prefix="cwcontrib-bench-index-") as tmp:
        repo = Path(tmp)
        for i in range(args.submissions):
            make_sweep(repo / "submissions" / f"sweep-{i:02d}", args.trials, "digits-cnn")
        runs = args.submissions * args.trials * 2
        print(f"{args.submissions} submissions x {args.trials} trials: {runs} runs, {runs // 2} pairs; "
              f"{os.cpu_count()} CPUs")
        first, _ = timed(build_catalog, repo)
        print(f"first build: {first:.1f} s")
        rebuilds = [timed(build_catalog, repo)[0] for _ in range(args.repeats)]
        os.chdir(repo)  # load_catalog() reads the checkout it runs in
        print(f"rebuild, nothing changed: median {statistics.median(rebuilds):.3f} s (goal <= 1 s; "
              f"{', '.join(f'{s:.3f}' for s in rebuilds)})")
        for table in ("runs", "pairs"):
            loads = [timed(load_catalog, table)[0] for _ in range(args.repeats)]
            rows = len(load_catalog(table))
            print(f"load_catalog({table!r}): {rows} rows, median {statistics.median(loads) * 1000:.1f} ms "
                  f"(goal <= 50 ms)")
        counts = count_hashes()
        make_sweep(repo / "submissions" / "sweep-new", 5, "digits-cnn")
        added, _ = timed(build_catalog, repo)
        new = counts.pop("sweep-new", 0)
        print(f"adding one submission: {added:.1f} s; files hashed: {new} of the new submission, "
              f"{sum(counts.values())} of the {args.submissions} already indexed (goal 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
