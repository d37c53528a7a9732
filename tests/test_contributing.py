"""CONTRIBUTING.md's examples are real: its trial block and table header follow the schema."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
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
