#!/usr/bin/env bash
# Mutation score of one cwcontrib module with only its fast test files (issue 9; benchmarks/RESULTS.md,
# "Mutation testing"). Runs in a throw-away git worktree of HEAD, so edits in the checkout never disturb it and
# pyproject.toml's [tool.mutmut] is changed only in that copy.
#
#   benchmarks/mutation.sh cwcontrib/safefs.py tests/test_safefs_confinement.py tests/test_mutants_safefs.py
#
# Prints mutmut's list of mutants that were not killed, then the count of each status. A module's `@check(...)`
# functions are rewritten as plain registrations in the copy first (undecorate_checks.py): mutmut 3 never mutates a
# decorated function, so the checks' own bodies would otherwise go untested. The named test files are taken from
# the checkout, so tests not yet committed count.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 MODULE TEST_FILE..." >&2; exit 2; }
module=$1; shift
repo=$(git rev-parse --show-toplevel)
copy=$(mktemp -d /tmp/cwcontrib-mutation.XXXXXX)
trap 'git -C "$repo" worktree remove --force "$copy"' EXIT
git -C "$repo" worktree add --detach --quiet "$copy" HEAD
ln -s "$repo/.venv" "$copy/.venv"
for t in "$@"; do cp "$repo/$t" "$copy/$t"; done
python3 "$repo/benchmarks/undecorate_checks.py" "$copy/$module"
tests=$(printf '"%s", ' "$@"); tests=${tests%, }
sed -i "s|^only_mutate = .*|only_mutate = [\"$module\"]|; \
s|^pytest_add_cli_args_test_selection = .*|pytest_add_cli_args_test_selection = [$tests]|" "$copy/pyproject.toml"
cd "$copy"
OMP_WAIT_POLICY=PASSIVE nice -n 10 .venv/bin/mutmut run --max-children "${MUTMUT_CHILDREN:-1}" >/dev/null 2>&1 || true
.venv/bin/mutmut results
echo "---"
.venv/bin/mutmut results --all true | awk -F': ' '{print $2}' | sort | uniq -c
