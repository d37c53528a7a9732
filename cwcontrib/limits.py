"""Bounds that keep validation of a stranger's submission finite in time and memory.

Every limit has a finding code for when it is exceeded; docs/security.md lists the values.
"""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class Limits:
    manifest_bytes: int = 4 * MiB
    manifest_depth: int = 32
    manifest_values: int = 200_000
    files: int = 20_000
    tree_depth: int = 16
    file_bytes: int = 4 * GiB
    total_bytes: int = 512 * GiB
    table_bytes: int = 256 * MiB
    table_rows: int = 100_000
    table_columns: int = 512
    cell_chars: int = 4_096
    findings_per_code: int = 200
    # Declared text files (code, notes, JSON/YAML configs) are read whole to look for credentials.
    secret_scan_bytes: int = 16 * MiB
    # Reference models are built at the declared input shape; 320x320 covers 224 and 299 (ImageNet-style).
    reference_pixels: int = 320 * 320


DEFAULT_LIMITS = Limits()
