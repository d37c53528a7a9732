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


def artifact_entries(root: Path) -> list[dict[str, Any]]:
    entries = []
    for rel, entry in sorted(scan_tree(root, DEFAULT_LIMITS).files.items()):
        if rel in MANIFEST_NAMES:
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
    return yaml.safe_dump({"artifacts": artifact_entries(root)}, sort_keys=False)
