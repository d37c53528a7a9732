"""catalog/DATASHEET.md of the three imported sweeps: its tables against values computed here, independently,
from the W&B exports with pandas; every export row a trial of the catalog; the same bytes on every rebuild; the
paper check lists every printed value."""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cwcontrib.catalog.api import read_table
from cwcontrib.catalog.datasheet import PAPER_TABLES, agrees
from cwcontrib.catalog.index import build_catalog
from tests.conftest import REPO
from tests.test_import_wandb import DATA, EXPORTS, FAKE_KEY, export_frame, needs_exports

N = 10_000
CEILING = 0.1 + 3 * math.sqrt(0.1 * 0.9 / N)  # chance for 10 classes: three binomial standard deviations


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The catalog of the three committed imports, built twice into two folders (the second from the cache)."""
    root = tmp_path_factory.mktemp("repo")
    for architecture in EXPORTS:
        name = f"crossedwires-2021-{architecture}"
        shutil.copytree(REPO / "submissions" / name, root / "submissions" / name)
    first = build_catalog(root, out=root / "catalog", step=lambda s: None).catalog
    second = build_catalog(root, out=root / "again" / "catalog", step=lambda s: None).catalog
    return first, second


def counted(accuracy: pd.Series) -> pd.Series:
    """An accuracy within 1e-6 of k/N is k/N (the semantics check's tolerance), else the value as exported."""
    k = (accuracy * N).round()
    return accuracy.where((accuracy - k / N).abs() > 1e-6, k / N)


def expected(architecture: str) -> pd.DataFrame:
    frame = export_frame(architecture)
    pt, tf = frame["pt_test_acc"].astype(float), frame["tf_test_acc"].astype(float)
    return pd.DataFrame({"name": frame["Name"], "pt": counted(pt), "tf": counted(tf),
                         "pt_k_over_n": ((pt * N).round() / N - pt).abs() <= 1e-6,
                         "gap": (counted(pt) - counted(tf)).abs()})


def section_table(text: str, heading: str) -> list[dict[str, str]]:
    """The first Markdown table after `heading`, as rows of cells (escaped pipes restored)."""
    lines = text[text.index(heading):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| "))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return [dict(zip(rows[0], row, strict=True)) for row in rows[2:]]


def same(printed: str, value: float) -> bool:
    return printed == (f"{int(value):,}" if float(value).is_integer() else f"{value:.4g}")


@needs_exports
def test_every_export_row_is_a_trial_of_the_catalog(built: tuple[Path, Path]) -> None:
    trials = read_table(built[0], "trials")
    for architecture in EXPORTS:
        ids = trials.loc[trials["submission_id"] == f"crossedwires-2021-{architecture}", "trial_id"]
        assert sorted(ids) == sorted(export_frame(architecture)["Name"])
    assert len(trials) == 1200


@needs_exports
def test_runs_whose_accuracy_is_not_k_over_n_are_marked(built: tuple[Path, Path]) -> None:
    runs = read_table(built[0], "runs").set_index("run_id")
    for architecture in EXPORTS:
        truth = expected(architecture)
        for _, row in truth.iterrows():
            run = runs.loc[f"crossedwires-2021-{architecture}/{row['name']}/pytorch"]
            assert bool(run["accuracy_is_k_over_n"]) == row["pt_k_over_n"]
            assert (run["test_correct"] is pd.NA) == (not row["pt_k_over_n"])
            assert run["test_accuracy"] == pytest.approx(row["pt"], abs=1e-12)
    assert runs["accuracy_is_k_over_n"].sum() == 2400 - (368 + 367 + 371)


@needs_exports
def test_table2_and_the_share_diverging_match_pandas(built: tuple[Path, Path]) -> None:
    text = (built[0] / "DATASHEET.md").read_text()
    rows = {r["architecture"]: r for r in section_table(text, "### Accuracy gaps per architecture")}
    for architecture in EXPORTS:
        gap = expected(architecture)["gap"]
        row = rows[architecture]
        assert row["pairs"] == "400"
        for name in ("min", "max", "median", "mean"):
            assert same(row[name], getattr(gap, name)()), (architecture, name, row[name])
        assert row["|gap| ≥ 0.05"].startswith(f"{int((gap >= 0.05).sum())} (")
        assert "maximise |acc_pytorch - acc_tensorflow|" in row["selection"]
    diverging = sum(int((expected(a)["gap"] >= 0.05).sum()) for a in EXPORTS)
    assert f"**{diverging}** pairs ({100 * diverging / 1200:.1f} %)" in text
    assert f"{100 * diverging / 1200:.1f}" == "52.3"  # what the paper reports


@needs_exports
def test_table3_matches_pandas(built: tuple[Path, Path]) -> None:
    rows = section_table((built[0] / "DATASHEET.md").read_text(), "### Accuracy per framework")
    table = {(r["architecture"], r["framework"]): r for r in rows}
    for architecture in EXPORTS:
        truth = expected(architecture)
        for framework, column in (("pytorch", "pt"), ("tensorflow", "tf")):
            row = table[(architecture, framework)]
            for name in ("min", "max", "median"):
                assert same(row[name], getattr(truth[column], name)()), (architecture, framework, name)


@needs_exports
def test_chance_and_non_k_over_n_counts_match_pandas(built: tuple[Path, Path]) -> None:
    rows = section_table((built[0] / "DATASHEET.md").read_text(), "### Chance-level runs")
    table = {(r["architecture"], r["framework"]): r for r in rows}
    for architecture in EXPORTS:
        truth = expected(architecture)
        assert table[(architecture, "pytorch")]["at chance"] == str(int((truth["pt"] <= CEILING).sum()))
        assert table[(architecture, "tensorflow")]["at chance"] == str(int((truth["tf"] <= CEILING).sum()))
        assert table[(architecture, "pytorch")]["not k/N"] == str(int((~truth["pt_k_over_n"]).sum()))
        assert table[(architecture, "tensorflow")]["not k/N"] == "0"


@pytest.mark.parametrize("top", [True, False], ids=["top", "bottom"])
@needs_exports
def test_top_and_bottom_pairs_follow_the_stated_tie_break(built: tuple[Path, Path], top: bool) -> None:
    text = (built[0] / "DATASHEET.md").read_text()
    for architecture in EXPORTS:
        heading = f"#### {architecture}: {'top' if top else 'bottom'} 3"
        pairs = [r["pair"].split("/")[1] for r in section_table(text, heading)]
        truth = expected(architecture).sort_values("name")
        truth = truth.sort_values("gap", ascending=not top, kind="stable")
        assert pairs == list(truth["name"][:3]), architecture


@needs_exports
def test_the_paper_check_lists_every_printed_value(built: tuple[Path, Path]) -> None:
    text = (built[0] / "DATASHEET.md").read_text()
    rows = section_table(text, "## Paper check")
    facts = yaml.load(PAPER_TABLES.read_text(), Loader=yaml.BaseLoader)
    printed = [v for arch in EXPORTS for v in facts["table2_accuracy_difference"][arch].values()]
    printed += [v for arch in EXPORTS for v in facts["table3_framework_accuracy"][arch].values()]
    assert [r["printed"] for r in rows[:4]] == list(facts["table2_accuracy_difference"]["vgg16"].values())
    listed = [r["printed"] for r in rows]
    for value in printed:
        assert value in listed
    assert all(r["verdict"] in ("agrees", "differs", "not in this catalog") for r in rows)
    table2 = {r["value"]: r for r in rows if r["value"].startswith("Table 2")}
    gap = expected("vgg16")["gap"]
    assert table2["Table 2 vgg16 max |gap|"]["verdict"] == ("agrees" if agrees("0.681", gap.max()) else "differs")
    assert table2["Table 2 vgg16 median |gap|"]["verdict"] == "agrees"
    # The paper prints its bottom three largest first: rank 1 of the bottom is the third smallest gap.
    ranks = {r["value"]: r for r in rows if "at this rank" in r["value"]}
    smallest = sorted(expected("densenet121")["gap"])[:3]
    assert ranks["Table 6 densenet121 bottom 1: |gap| at this rank"]["regenerated"] == f"{smallest[2]:.6g}"
    assert ranks["Table 6 densenet121 bottom 1: |gap| at this rank"]["verdict"] == "agrees"


def test_rounding_to_the_printed_precision() -> None:
    assert agrees("0.681", 0.6814) and not agrees("0.681", 0.6815194)
    assert agrees("0.100", 0.100000001) and agrees("4.17e-10", 4.17e-10) and not agrees("4.17e-10", 0.0)
    assert agrees("202", 202.0) and not agrees("0.0", 0.0883)


def test_rebuilding_gives_the_same_bytes(built: tuple[Path, Path]) -> None:
    first, second = built
    files = sorted(p.relative_to(first).as_posix() for p in first.rglob("*") if p.is_file())
    assert {"DATASHEET.md", "datasheet-accuracy-and-gap.png", "datasheet-hyperparameter-space.png",
            "datasheet-mutual-information.png"} <= set(files)
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert b"Software" not in (first / "datasheet-accuracy-and-gap.png").read_bytes()
    assert all(p.is_file() for p in first.iterdir())  # flat: a release publishes the folder as assets


@needs_exports
def test_the_key_is_in_no_catalog_file(built: tuple[Path, Path]) -> None:
    assert not [p for p in built[0].rglob("*") if p.is_file() and FAKE_KEY.encode() in p.read_bytes()]
    assert (DATA / EXPORTS["vgg16"]).read_bytes().count(FAKE_KEY.encode()) == 400  # the key the tests look for
