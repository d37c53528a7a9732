"""CONTRIBUTING.md's examples are real: its trial block and table header follow the schema, and every shell block
runs (or is marked, with its reason, as one that cannot run in a test)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from cwcontrib.limits import Limits
from cwcontrib.manifest import load_manifest
from cwcontrib.schema import generate_schema
from cwcontrib.spdx import canonical_license, judge_license, license_text_path
from cwcontrib.trials import RESERVED_COLUMNS
from tests.conftest import DEMO, REPO

GUIDE = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")


def yaml_block(starting_with: str) -> dict[str, Any]:
    [block] = [b for b in re.findall(r"```yaml\n(.*?)```", GUIDE, re.S) if b.startswith(starting_with)]
    data: dict[str, Any] = yaml.safe_load(block)
    return data


def test_trial_example_validates_inside_the_demo_manifest() -> None:
    demo = load_manifest(DEMO, Limits()).data
    demo["trials"] = yaml_block("trials:")["trials"]
    jsonschema.Draft202012Validator(generate_schema(demo["schema_version"])).validate(demo)


def test_trials_table_example_validates() -> None:
    demo = load_manifest(DEMO, Limits()).data
    demo.update(yaml_block("trials_table:"))
    jsonschema.Draft202012Validator(generate_schema(demo["schema_version"])).validate(demo)


def test_hardware_example_validates_as_schema_1_1_only() -> None:
    demo = load_manifest(DEMO, Limits()).data
    demo.update(yaml_block("schema_version:"))
    jsonschema.Draft202012Validator(generate_schema("1.1")).validate(demo)
    assert not jsonschema.Draft202012Validator(generate_schema("1.0")).is_valid({**demo, "schema_version": "1.0"})
    keys = demo["frameworks"]
    assert keys["pytorch-a100"]["name"] == keys["pytorch-v100"]["name"] and "hardware" not in keys["keras"]


def test_table_header_uses_known_column_shapes() -> None:
    header = re.search(r"^id,.*$", GUIDE, re.M)
    assert header is not None
    for column in header.group(0).split(","):
        head, _, rest = column.partition(".")
        assert head in RESERVED_COLUMNS or (head in ("pytorch", "keras") and rest)


def test_example_accuracies_are_k_over_360() -> None:
    for accuracy in re.findall(r"test_accuracy: ([0-9.]+)\s+# .*?(\d+)", GUIDE):
        assert abs(float(accuracy[0]) * 360 - round(float(accuracy[0]) * 360)) < 1e-6


def test_license_paragraph_says_what_the_checks_do() -> None:
    for accepted in ("CC-BY-4.0", "(MIT OR Apache-2.0) AND CC-BY-4.0", "Apache-2.0 WITH LLVM-exception",
                     "GPL-2.0-only"):
        assert f"`{accepted}`" in GUIDE and judge_license(accepted).accepted
    assert "`GPL-2.0`" in GUIDE and not judge_license("GPL-2.0").accepted
    assert "`mit`" in GUIDE and canonical_license("mit") == "MIT"
    assert f"`{license_text_path('LicenseRef-<name>')}`" in GUIDE


# --- Every shell block runs: the guide cannot rot ----------------------------------------------------------------

SHELL_LANGUAGES = ("bash", "sh", "console")
MARKER = re.compile(r"^<!--\s*(not-run|exit):\s*(.*?)\s*-->$")
FENCE = re.compile(r"^```(\w*)\s*$")
# What the guide holds today: a block marked not-run or given another exit status is a decision, seen in review.
EXPECTED_RUN, EXPECTED_NOT_RUN, EXPECTED_FAILING = 4, 3, 1


@dataclass(frozen=True)
class ShellBlock:
    line: int  # of the opening fence, 1-based
    language: str
    script: str
    not_run: str | None  # the reason, when marked <!-- not-run: reason -->
    exit_status: int  # 0 unless marked <!-- exit: N -->


def shell_blocks(text: str) -> list[ShellBlock]:
    """Every fenced bash/sh/console block with the marker on the last non-blank line before it, if any; a marker
    anywhere else is an error (it would silently apply to nothing)."""
    lines = text.splitlines()
    blocks: list[ShellBlock] = []
    used: set[int] = set()
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        language, body = fence.group(1), lines[i + 1:end]
        if language in SHELL_LANGUAGES:
            before = next((j for j in range(i - 1, -1, -1) if lines[j].strip()), None)
            marker = MARKER.match(lines[before].strip()) if before is not None else None
            if marker and before is not None:
                used.add(before)
            if language == "console":  # commands are the `$ ` lines; the rest is output shown to the reader
                body = [line[2:] for line in body if line.startswith("$ ")]
            blocks.append(ShellBlock(
                line=i + 1, language=language, script="\n".join(body) + "\n",
                not_run=marker.group(2) if marker and marker.group(1) == "not-run" else None,
                exit_status=int(marker.group(2)) if marker and marker.group(1) == "exit" else 0))
        i = end + 1
    stray = [n + 1 for n, line in enumerate(lines) if MARKER.match(line.strip()) and n not in used]
    assert stray == [], f"markers on lines {stray} are not right before a shell block"
    return blocks


def test_shell_blocks_are_counted_and_every_skip_says_why() -> None:
    blocks = shell_blocks(GUIDE)
    not_run = [b for b in blocks if b.not_run is not None]
    assert all(b.not_run for b in not_run), "a not-run marker needs its reason"
    assert (len(blocks) - len(not_run), len(not_run), sum(b.exit_status != 0 for b in blocks)) == \
        (EXPECTED_RUN, EXPECTED_NOT_RUN, EXPECTED_FAILING)


def test_a_marker_must_sit_right_before_a_shell_block() -> None:
    with pytest.raises(AssertionError, match="not right before a shell block"):
        shell_blocks("<!-- not-run: nothing follows -->\n\nSome prose.\n\n```bash\ntrue\n```\n")
    [block] = shell_blocks("<!-- exit: 3 -->\n\n```console\n$ cwcontrib explain CW304\nCW304 ...\n```\n")
    assert (block.exit_status, block.script) == (3, "cwcontrib explain CW304\n")


def test_every_shell_block_runs_in_a_fresh_folder(tmp_path: Path) -> None:
    """In order, in one folder holding a copy of the demo, with the repository's .venv/bin first on PATH: what a
    contributor types. Nothing is read from or written to the real home or data folder."""
    work = tmp_path / "work"
    shutil.copytree(DEMO, work / "submissions" / DEMO.name)
    env = {key: value for key, value in os.environ.items() if not key.startswith("CWCONTRIB_")}
    env.update(PATH=f"{REPO / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}", HOME=str(tmp_path / "home"),
               CWCONTRIB_SEED="c0ffee", OMP_WAIT_POLICY="PASSIVE", TF_CPP_MIN_LOG_LEVEL="2")
    ran = 0
    for block in shell_blocks(GUIDE):
        if block.not_run is not None:
            continue
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", block.script], cwd=work, env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == block.exit_status, (
            f"CONTRIBUTING.md line {block.line}: exit {result.returncode}, expected {block.exit_status}\n"
            f"{block.script}\n--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}")
        ran += 1
    assert ran == EXPECTED_RUN
    assert (work / "submissions" / "my-study" / "submission.yaml").is_file()  # the blocks built on each other
