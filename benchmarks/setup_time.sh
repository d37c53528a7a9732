#!/usr/bin/env bash
# Set-up time of a fresh clone with cold caches: the lock (scripts/bootstrap: uv, hash-checked) against the
# two ways without uv, measured in the same run on the same machine. Prints a Markdown table; asserts nothing.
#
#   benchmarks/setup_time.sh [REPO]      # REPO defaults to this checkout; its committed HEAD is cloned
# pip reads the machine's pip.conf (here: local mirrors of the framework wheels); uv only PyPI. What the lock
# downloads is printed by benchmarks/lock_download_size.py.
set -euo pipefail
repo="$(cd "${1:-$(dirname "$0")/..}" && pwd)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
measure() {  # label, command...
  local label=$1 start seconds
  shift
  start=$(date +%s.%N)
  "$@" >"$work/log" 2>&1 || { echo "$label failed:" >&2; tail -20 "$work/log" >&2; exit 1; }
  seconds=$(echo "$(date +%s.%N) - $start" | bc)
  printf '| %s | %.0f s |\n' "$label" "$seconds"
}
fresh() { rm -rf "$work/clone" "$work/cache"; git clone -q "$repo" "$work/clone"; mkdir -p "$work/cache"; }

echo "| set-up on a fresh clone, cold caches | wall time |"
echo "| --- | --- |"
fresh
measure "scripts/bootstrap (uv pip sync of requirements/lock.txt, uv installed first)" \
  env UV_CACHE_DIR="$work/cache" "$work/clone/scripts/bootstrap"
fresh
measure "pip install --require-hashes -r requirements/lock.txt (same lock, pip)" bash -c "
  cd '$work/clone' && python3 -m venv .venv &&
  PIP_CACHE_DIR='$work/cache' .venv/bin/pip install -q --require-hashes --no-deps -r requirements/lock.txt &&
  PIP_CACHE_DIR='$work/cache' .venv/bin/pip install -q --no-deps --no-build-isolation -e ."
fresh
measure "pip install -c constraints.txt -e .[all,dev] (before the lock: newest of everything else)" bash -c "
  cd '$work/clone' && python3 -m venv .venv && PIP_CACHE_DIR='$work/cache' .venv/bin/pip install -q -U pip &&
  PIP_CACHE_DIR='$work/cache' .venv/bin/pip install -q -c constraints.txt -e '.[all,dev]'"
