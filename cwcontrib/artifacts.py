"""Writing `artifacts` entries for a contributor: every regular file with format, size and sha256."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cwcontrib.hashing import sha256_confined
from cwcontrib.limits import DEFAULT_LIMITS
from cwcontrib.manifest import MANIFEST_NAMES
from cwcontrib.models import EXTENSIONS, ArtifactFormat
from cwcontrib.safefs import scan_tree


def format_for(path: str) -> ArtifactFormat | None:
    """The artifact format a file name implies (longest matching extension wins)."""
    lowered = path.lower()
    matches = [(len(ext), fmt) for fmt, exts in EXTENSIONS.items() for ext in exts if lowered.endswith(ext)]
    return max(matches, key=lambda m: m[0])[1] if matches else None


# Files tools leave behind that CONTRIBUTING forbids in a submission: never offered as entries to declare.
CLUTTER_NAMES = frozenset({".DS_Store", "Thumbs.db"})
CLUTTER_FOLDERS = frozenset({"__pycache__", ".ipynb_checkpoints"})


def is_clutter(rel: str) -> bool:
    *folders, name = rel.split("/")
    return name in CLUTTER_NAMES or any(folder in CLUTTER_FOLDERS for folder in folders)


def artifact_entries(root: Path) -> list[dict[str, Any]]:
    entries = []
    for rel, entry in sorted(scan_tree(root, DEFAULT_LIMITS).files.items()):
        if rel in MANIFEST_NAMES or is_clutter(rel):
            continue
        fmt = format_for(rel)
        entries.append({
            "path": rel,
            "format": fmt.value if fmt else "FILL-IN",
            "size": entry.size,
            "sha256": sha256_confined(root, rel),
        })
    return entries


def artifact_entries_yaml(root: Path) -> str:
    """The entries, preceded by a YAML comment naming the clutter left out (delete it: it is CW204 otherwise)."""
    clutter = sorted(rel for rel in scan_tree(root, DEFAULT_LIMITS).files if is_clutter(rel))
    note = "".join(f"# not listed, delete it (CONTRIBUTING.md step 1): {rel!r}\n" for rel in clutter)
    return note + yaml.safe_dump({"artifacts": artifact_entries(root)}, sort_keys=False)
