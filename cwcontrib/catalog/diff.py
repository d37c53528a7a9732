"""What changed between two catalogs: submissions added, removed or changed; runs added or removed; verification
statuses that moved; pairs whose gap changed. The release changelog (issue 13) reads the same comparison."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cwcontrib.catalog.api import plain, read_table


def _meta(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "catalog.json").read_text(encoding="utf-8"))
    return data


def _column(folder: Path, table: str, key: str, column: str) -> dict[str, Any]:
    frame = read_table(folder, table)
    return {str(k): plain(v) for k, v in zip(frame[key], frame[column], strict=True)}


def diff_catalogs(old: Path, new: Path) -> dict[str, list[str]]:
    before, after = _meta(old)["submissions"], _meta(new)["submissions"]
    changes: dict[str, list[str]] = {
        "submission added": sorted(set(after) - set(before)),
        "submission removed": sorted(set(before) - set(after)),
        "submission changed": sorted(s for s in set(before) & set(after)
                                     if before[s]["content_digest"] != after[s]["content_digest"]),
    }
    old_status, new_status = (_column(f, "runs", "run_id", "status") for f in (old, new))
    changes["run added"] = sorted(set(new_status) - set(old_status))
    changes["run removed"] = sorted(set(old_status) - set(new_status))
    changes["status changed"] = [f"{run}: {old_status[run]} -> {new_status[run]}"
                                 for run in sorted(set(old_status) & set(new_status))
                                 if old_status[run] != new_status[run]]
    old_gap, new_gap = (_column(f, "pairs", "pair_id", "gap") for f in (old, new))
    changes["gap changed"] = [f"{pair}: {old_gap[pair]:+.4f} -> {new_gap[pair]:+.4f}"
                              for pair in sorted(set(old_gap) & set(new_gap)) if old_gap[pair] != new_gap[pair]]
    return changes
