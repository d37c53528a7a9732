"""Print how the running environment differs from the lock: what `scripts/test --latest` is testing.

    .venv-latest/bin/python scripts/lock_drift.py requirements/lock.txt

Reads the lock's `name==version ; marker` lines (markers evaluated for this interpreter) and the installed
distributions; prints one line per package whose version differs, is new, or is gone. Exit status 0 always:
drift is information, the test suite that follows is the verdict.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name

PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def locked(lock: Path) -> dict[str, str]:
    pins = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match and (match[3] is None or Marker(match[3]).evaluate()):
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def installed() -> dict[str, str]:
    return {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}


def main(lock: Path) -> None:
    pins, have = locked(lock), installed()
    have.pop("cwcontrib", None)
    rows = []
    for name in sorted(pins.keys() | have.keys()):
        old, new = pins.get(name), have.get(name)
        if old != new:
            rows.append(f"  {name}: {old or '(not in the lock)'} -> {new or '(not installed)'}")
    print(f"drift from {lock}: {len(rows)} of {len(pins)} locked packages differ on Python "
          f"{sys.version_info.major}.{sys.version_info.minor}")
    print("\n".join(rows))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
