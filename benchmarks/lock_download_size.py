"""What a fresh install of requirements/lock.txt downloads on this machine: the size of the one file per
package that an installer picks for this interpreter and platform, as PyPI's simple API (PEP 691/700) states it.

    .venv/bin/python benchmarks/lock_download_size.py [requirements/lock.txt]
"""

from __future__ import annotations

import json
import re
import sys
import urllib.request
from pathlib import Path

from packaging.markers import Marker
from packaging.tags import sys_tags
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")
RANK = {tag: i for i, tag in enumerate(sys_tags())}


def files(name: str) -> list[dict[str, object]]:
    request = urllib.request.Request(f"https://pypi.org/simple/{name}/",
                                     headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return list(json.load(response)["files"])


def _sdist_version(filename: str) -> str | None:
    try:
        return str(parse_sdist_filename(filename)[1])
    except InvalidSdistFilename:  # ancient releases with non-PEP 440 versions
        return None


def _wheel_rank(filename: str, version: str) -> int | None:
    """How well a wheel of name==version fits this interpreter (lower is better), or None."""
    try:
        _, wheel_version, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:  # ancient releases with non-PEP 427 names
        return None
    if str(wheel_version) != version:
        return None
    return min((RANK[t] for t in tags if t in RANK), default=None)


def chosen(name: str, version: str) -> tuple[str, int]:
    """The best wheel for this interpreter, else the sdist, of name==version: (file name, bytes)."""
    best: tuple[int, str, int] | None = None
    sdist: tuple[str, int] | None = None
    for entry in files(name):
        filename, size = str(entry["filename"]), int(entry.get("size") or 0)  # type: ignore[call-overload]
        if filename.endswith(".whl"):
            rank = _wheel_rank(filename, version)
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, filename, size)
        elif filename.endswith(".tar.gz") and _sdist_version(filename) == version:
            sdist = (filename, size)
    if best:
        return best[1], best[2]
    if sdist:
        return sdist
    raise SystemExit(f"no file of {name}=={version} fits this interpreter")


def main(lock: str) -> None:
    picked = []
    for line in Path(lock).read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match and (match[3] is None or Marker(match[3]).evaluate()):
            picked.append(chosen(match[1], match[2]))
    total = sum(size for _, size in picked)
    print(f"{lock}: {len(picked)} files, {total / 1e9:.2f} GB to download on this interpreter and platform")
    for filename, size in sorted(picked, key=lambda p: -p[1])[:5]:
        print(f"  {size / 1e6:7.0f} MB  {filename}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "requirements/lock.txt")
