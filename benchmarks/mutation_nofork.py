"""Run named mutmut mutants in ONE process, without forking (issue 9; benchmarks/RESULTS.md, "evaluate.py").

mutmut 3 forks a child per mutant from a process that has already imported the frameworks; a Keras child sometimes
hangs there until mutmut's wall-clock limit, which mutmut then counts as "timeout" (detected). This runner gives
the true result of each mutant: mutmut's trampolined module picks the mutant named by MUTANT_UNDER_TEST at call
time, so one pytest process can try them in turn.

In a throw-away worktree where `mutmut run` has generated the mutants (never in the checkout: it overwrites the
module), copy the trampolined module over the real one, then name the mutants:

    cp mutants/cwcontrib/evaluate.py cwcontrib/evaluate.py
    MUTATION_TESTS="tests/test_mutants_evaluate.py tests/test_evaluation_harness.py" \\
        .venv/bin/python benchmarks/mutation_nofork.py cwcontrib.evaluate.x_predict_torch__mutmut_3 ...

Prints `RESULT <mutant> <pytest exit code>` per mutant: 0 means it survived.
"""

from __future__ import annotations

import os
import sys

import pytest


def main(mutants: list[str]) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    tests = os.environ.get("MUTATION_TESTS", "").split()
    if not tests or not mutants:
        print(__doc__, file=sys.stderr)
        return 2
    os.environ["MUTANT_UNDER_TEST"] = ""
    baseline = int(pytest.main(["-x", "-q", "-p", "no:cacheprovider", *tests]))
    print("baseline", baseline, flush=True)
    if baseline != 0:
        return 1  # the unmutated module must pass, or no result means anything
    for name in mutants:
        os.environ["MUTANT_UNDER_TEST"] = name
        code = int(pytest.main(["-x", "-q", "-p", "no:cacheprovider", "--no-header", "-rN", *tests]))
        print("RESULT", name, code, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
