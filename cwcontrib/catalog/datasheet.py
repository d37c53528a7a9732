"""catalog/DATASHEET.md: the maintainers' prose (datasheet_template.md) with every number, table and figure
computed from the catalog's rows, and a check of the CrossedWires paper's printed values (paper_tables.yaml)
against the values regenerated from the imported original release."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from cwcontrib.catalog.datasheet_figures import HYPERPARAMETERS, mutual_information, render_figures
from cwcontrib.catalog.verification import EVIDENCE_COUNTS, evidence_count

HERE = Path(__file__).parent
TEMPLATE = HERE / "datasheet_template.md"
PAPER_TABLES = HERE / "paper_tables.yaml"
# Figures lie beside DATASHEET.md, not in a subfolder: a release publishes the catalog as flat assets.
FIGURE_PREFIX = "datasheet-"
TOP = 3
# The paper's tables describe the original release, imported as these submissions.
PAPER_SUBMISSIONS = {"vgg16": "crossedwires-2021-vgg16", "resnet50": "crossedwires-2021-resnet50",
                     "densenet121": "crossedwires-2021-densenet121"}
PAPER_TABLE_OF = {"vgg16": "table4_vgg16", "resnet50": "table5_resnet50", "densenet121": "table6_densenet121"}
# Columns of the paper's Tables 4-6 and where the catalog has them.
PAPER_ROW_COLUMNS = ("adam_epsilon", "batch_size", "learning_rate", "epochs", "pt_test_acc", "tf_test_acc",
                     "accuracy_diff")
CATALOG_OF = {"adam_epsilon": "optimizer_epsilon", "batch_size": "batch_size", "learning_rate": "learning_rate",
              "epochs": "epochs", "pt_test_acc": "acc_pytorch", "tf_test_acc": "acc_tensorflow",
              "accuracy_diff": "abs_gap"}
TIE_BREAK = ("pairs are ranked by |gap| (largest first for the top, smallest first for the bottom), ties broken by "
             "pair id in ascending order")


@dataclass(frozen=True)
class Frames:
    submissions: pd.DataFrame
    trials: pd.DataFrame
    runs: pd.DataFrame
    pairs: pd.DataFrame  # with the architecture and the trial's hyperparameters joined


def frames(tables: dict[str, list[dict[str, Any]]]) -> Frames:
    def frame(name: str) -> pd.DataFrame:
        return pd.DataFrame(tables.get(name, []))

    submissions, trials, runs, pairs = frame("submissions"), frame("trials"), frame("runs"), frame("pairs")
    if len(pairs):
        architecture = runs.set_index("run_id")["architecture"]
        pairs = pairs.assign(architecture=pairs["run_a"].map(architecture),
                             trial_key=pairs["submission_id"] + "/" + pairs["trial_id"])
        pairs = pairs.merge(trials[["trial_key", *HYPERPARAMETERS]], on="trial_key", how="left")
        pairs = pairs.sort_values("pair_id", kind="stable").reset_index(drop=True)
    return Frames(submissions, trials, runs, pairs)


# --- formatting -------------------------------------------------------------------------------------------------

def number(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if isinstance(value, (bool, str)):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.4g}"


def share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "—"


def cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(header: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return "*(nothing in the catalog yet)*"
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


# --- sections ---------------------------------------------------------------------------------------------------

def _summary(f: Frames) -> str:
    n = len(f.pairs)
    diverging = int(f.pairs["diverges"].sum()) if n else 0
    return (f"This catalog holds **{len(f.submissions)}** submissions, **{len(f.trials)}** trials, "
            f"**{len(f.runs)}** runs and **{n}** pairs; **{diverging}** pairs ({share(diverging, n)}) diverge by "
            f"at least 5 points (|gap| ≥ 0.05; the paper reports 52.3 % for the original release).")


def _selection(f: Frames, submission_ids: list[str]) -> str:
    rows = f.submissions.set_index("submission_id").loc[sorted(set(submission_ids))]
    return "; ".join(f"{sid}: {r['sweep_method'] or 'no sweep'} ({r['sweep_objective'] or 'no objective stated'})"
                     for sid, r in rows.iterrows())


def _submissions(f: Frames) -> str:
    rows = [[s["submission_id"], s["architecture"], s["dataset"], number(s["trials"]), number(s["pairs"]),
             s["contributors"], s["sweep_method"] or "—", s["sweep_objective"] or "—"]
            for _, s in f.submissions.sort_values("submission_id").iterrows()] if len(f.submissions) else []
    return table(["submission", "architecture", "dataset", "trials", "pairs", "contributors", "sweep",
                  "selection objective"], rows)


EVIDENCE_HEADERS = {"runs_reproduced_in_framework": "reproduced in own framework",
                    "runs_reproduced_in_onnxruntime": "reproduced only in ONNX Runtime",
                    "runs_not_reproduced": "not reproduced", "runs_not_reevaluated": "not re-evaluated"}


def _verification(f: Frames) -> str:
    statuses = ["reevaluated", "sampled-not-yet-evaluated", "self-reported", "results-only"]
    rows = []
    totals = dict.fromkeys(EVIDENCE_COUNTS, 0)
    for sid, group in sorted(f.runs.groupby("submission_id")) if len(f.runs) else []:
        counts = group["status"].value_counts()
        outcomes = [evidence_count(r) for r in group.to_dict("records")]
        for name in EVIDENCE_COUNTS:
            totals[name] += outcomes.count(name)
        rows.append([sid, number(len(group)), *[number(int(counts.get(s, 0))) for s in statuses],
                     *[number(outcomes.count(name)) for name in EVIDENCE_COUNTS]])
    framework, onnx, failed, never = (totals[name] for name in EVIDENCE_COUNTS)
    return ("### Verified and self-reported runs\n\n"
            + table(["submission", "runs", *statuses, *EVIDENCE_HEADERS.values()], rows)
            + f"\n\nOf {len(f.runs):,} runs, a re-evaluation by trusted code reproduced the claim of {framework:,} in "
              f"their own framework (the weights loaded strictly into the framework's trusted reference) and of "
              f"{onnx:,} only in ONNX Runtime (the run's exported ONNX graph: weaker evidence, the graph stands in "
              f"for the framework); {failed:,} were re-evaluated and not reproduced; {never:,} were not "
              f"re-evaluated.")


def _oddities(f: Frames) -> str:
    if not len(f.runs):
        return ""
    rows = []
    for (arch, framework), group in sorted(f.runs.groupby(["architecture", "framework"])):
        rows.append([arch, framework, number(len(group)), number(int(group["at_chance"].sum())),
                     number(int((~group["accuracy_is_k_over_n"]).sum()))])
    pairs = f.pairs
    both = int(pairs["both_at_chance"].sum()) if len(pairs) else 0
    anyone = int(pairs["any_at_chance"].sum()) if len(pairs) else 0
    return ("### Chance-level runs and accuracies that are not k/N\n\n"
            + table(["architecture", "framework", "runs", "at chance", "not k/N"], rows)
            + f"\n\n{anyone} pairs have at least one run at chance level (a gap that is one framework failing to "
              f"train), {both} have both.")


def _gap_stats(gaps: pd.Series) -> dict[str, float]:
    return {"min": float(gaps.min()), "max": float(gaps.max()), "median": float(gaps.median()),
            "mean": float(gaps.mean())}


def _table2(f: Frames) -> str:
    rows = []
    for arch, group in sorted(f.pairs.groupby("architecture")) if len(f.pairs) else []:
        stats = _gap_stats(group["abs_gap"])
        diverging = int(group["diverges"].sum())
        rows.append([arch, number(len(group)), number(stats["min"]), number(stats["max"]), number(stats["median"]),
                     number(stats["mean"]), f"{diverging} ({share(diverging, len(group))})",
                     number(int(group["any_at_chance"].sum())), _selection(f, list(group["submission_id"]))])
    return table(["architecture", "pairs", "min", "max", "median", "mean", "|gap| ≥ 0.05", "a run at chance",
                  "selection"], rows)


def _table3(f: Frames) -> str:
    rows = []
    for (arch, framework), group in sorted(f.runs.groupby(["architecture", "framework"])) if len(f.runs) else []:
        accuracy = group["test_accuracy"]
        rows.append([arch, framework, number(len(group)), number(float(accuracy.min())),
                     number(float(accuracy.max())), number(float(accuracy.median()))])
    return table(["architecture", "framework", "runs", "min", "max", "median"], rows)


def ranked(group: pd.DataFrame, top: bool) -> pd.DataFrame:
    """The TOP most (top=True) or least divergent pairs, with the stated tie-break."""
    by_id = group.sort_values("pair_id", kind="stable")
    return by_id.sort_values("abs_gap", ascending=not top, kind="stable").head(TOP)


def _pair_rows(group: pd.DataFrame) -> list[list[Any]]:
    return [[p["pair_id"], number(p["optimizer_epsilon"]), number(p["batch_size"]), number(p["learning_rate"]),
             number(p["epochs"]), f"{p['framework_a']} {number(p['accuracy_a'])}",
             f"{p['framework_b']} {number(p['accuracy_b'])}", number(p["abs_gap"]),
             f"{p['status_a']} / {p['status_b']}"]
            for _, p in group.iterrows()]


def _top_pairs(f: Frames) -> str:
    if not len(f.pairs):
        return table([], [])
    header = ["pair", "ε (Adam)", "batch size", "learning rate", "epochs", "run a", "run b", "|gap|", "status"]
    parts = [f"Top and bottom {TOP} per architecture; {TIE_BREAK}."]
    for arch, group in sorted(f.pairs.groupby("architecture")):
        parts.append(f"#### {arch}: top {TOP}\n\n" + table(header, _pair_rows(ranked(group, top=True))))
        parts.append(f"#### {arch}: bottom {TOP}\n\n" + table(header, _pair_rows(ranked(group, top=False))))
    return "\n\n".join(parts)


def _licenses(f: Frames) -> str:
    rows = [[s["submission_id"], s["license"], s["references"] or "—"]
            for _, s in f.submissions.sort_values("submission_id").iterrows()] if len(f.submissions) else []
    return table(["submission", "license", "references"], rows)


def _figures(f: Frames, folder: Path) -> str:
    by_arch = {str(arch): group for arch, group in sorted(f.pairs.groupby("architecture"))} if len(f.pairs) else {}
    information = {arch: mutual_information(group) for arch, group in by_arch.items()}
    written = render_figures(folder, FIGURE_PREFIX, f.runs, by_arch, information)
    parts = [f"![{caption}]({name})\n\n*{caption}.*" for name, caption in written]
    rows = [[arch, name, f"{mi:.4f}"] for arch, values in information.items() for name, mi in values]
    parts.append("Mutual information (nats) between |gap| and each hyperparameter (scikit-learn's k-nearest-"
                 "neighbour estimator, k = 3, random_state 0) and each pair of hyperparameters (the pair's cell in a "
                 "4 × 4 grid of quantiles, as one discrete feature), recomputed at every build:\n\n"
                 + table(["architecture", "hyperparameters", "mutual information"], rows))
    return "\n\n".join(parts)


# --- paper check ------------------------------------------------------------------------------------------------

def paper_facts(path: Path = PAPER_TABLES) -> dict[str, Any]:
    """The paper's values as printed: every scalar kept as its text, so that its precision is known."""
    with path.open(encoding="utf-8") as handle:
        return dict(yaml.load(handle, Loader=yaml.BaseLoader))  # BaseLoader builds only str, list and dict


def agrees(printed: str, value: float) -> bool:
    """Whether `value` rounded to the printed precision (the printed text's last digit) is the printed value."""
    target = Decimal(printed)
    step = Decimal(1).scaleb(target.as_tuple().exponent)  # type: ignore[arg-type]
    return Decimal(repr(float(value))).quantize(step, rounding=ROUND_HALF_UP) == target


def _check_row(what: str, printed: str, value: float | None) -> list[str]:
    if value is None:
        return [what, printed, "—", "not in this catalog", "—"]
    ok = agrees(printed, value)
    difference = "—" if ok else f"{value - float(printed):+.3g}"
    return [what, printed, f"{value:.6g}", "agrees" if ok else "differs", difference]


def _paper_pairs(f: Frames, arch: str) -> pd.DataFrame | None:
    sid = PAPER_SUBMISSIONS[arch]
    group = f.pairs[f.pairs["submission_id"] == sid] if len(f.pairs) else f.pairs
    if not len(group):
        return None
    runs = f.runs[f.runs["submission_id"] == sid].set_index("run_id")
    def accuracy_of(framework: str) -> list[float]:
        return [float(runs.loc[a if runs.loc[a, "framework"] == framework else b, "test_accuracy"])
                for a, b in zip(group["run_a"], group["run_b"], strict=True)]

    return group.assign(acc_pytorch=accuracy_of("pytorch"), acc_tensorflow=accuracy_of("tensorflow"))


def _matching_trial(pairs: pd.DataFrame, printed: list[str]) -> pd.Series | None:
    columns = dict(zip(PAPER_ROW_COLUMNS, printed, strict=True))
    for _, pair in pairs.iterrows():
        if all(agrees(columns[c], float(pair[CATALOG_OF[c]])) for c in PAPER_ROW_COLUMNS[:4]):
            return pair
    return None


def paper_check_rows(f: Frames, facts: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    for arch in PAPER_SUBMISSIONS:
        pairs = _paper_pairs(f, arch)
        stats = _gap_stats(pairs["abs_gap"]) if pairs is not None else {}
        for name, printed in facts["table2_accuracy_difference"][arch].items():
            rows.append(_check_row(f"Table 2 {arch} {name} |gap|", printed, stats.get(name)))
        for name, printed in facts["table3_framework_accuracy"][arch].items():
            side, which = name.split("_")
            column = "acc_pytorch" if side == "pt" else "acc_tensorflow"
            value = None if pairs is None else float(getattr(pairs[column], which)())
            rows.append(_check_row(f"Table 3 {arch} {side.upper()} {which}", printed, value))
        rows += _table456_rows(arch, pairs, facts[PAPER_TABLE_OF[arch]])
    rows += _text_rows(f, facts["text"])
    return rows


def _table456_rows(arch: str, pairs: pd.DataFrame | None, facts: dict[str, list[list[str]]]) -> list[list[str]]:
    rows = []
    label = {"vgg16": "Table 4", "resnet50": "Table 5", "densenet121": "Table 6"}[arch]
    for side in ("top", "bottom"):
        ours = ranked(pairs, top=side == "top") if pairs is not None else None
        if ours is not None and side == "bottom":
            ours = ours.iloc[::-1]  # the paper prints its bottom three largest first, sorted like its top three
        for rank, printed in enumerate(facts[side], start=1):
            gap = None if ours is None else float(ours.iloc[rank - 1]["abs_gap"])
            rows.append(_check_row(f"{label} {arch} {side} {rank}: |gap| at this rank", printed[-1], gap))
            match = _matching_trial(pairs, printed) if pairs is not None else None
            where = f"{label} {arch} {side} {rank}"
            if pairs is not None and match is None:
                rows.append([f"{where}: its hyperparameters", ", ".join(printed[:4]), "—",
                             "differs", "no trial has these hyperparameters"])
                continue
            for column, text in zip(PAPER_ROW_COLUMNS[4:], printed[4:], strict=True):
                value = None if match is None else float(match[CATALOG_OF[column]])
                trial = "" if match is None else f" ({match['trial_id']})"
                rows.append(_check_row(f"{where}: {column}{trial}", text, value))
    return rows


def _text_rows(f: Frames, text: dict[str, Any]) -> list[list[str]]:
    ids = set(PAPER_SUBMISSIONS.values())
    pairs = f.pairs[f.pairs["submission_id"].isin(ids)] if len(f.pairs) else f.pairs
    runs = f.runs[f.runs["submission_id"].isin(ids)] if len(f.runs) else f.runs
    present = len(pairs) > 0
    rows = [_check_row("text: share of pairs diverging by ≥ 5 points",
                       text["share_of_pairs_diverging_at_least_5_points"],
                       float(pairs["diverges"].mean()) if present else None)]
    for arch, printed in text["max_difference_per_architecture"].items():
        group = pairs[pairs["architecture"] == arch] if present else pairs
        rows.append(_check_row(f"text: largest |gap| of {arch}", printed,
                               float(group["abs_gap"].max()) if len(group) else None))
    trials = f.trials[f.trials["submission_id"].isin(ids)] if len(f.trials) else f.trials
    for arch, sid in PAPER_SUBMISSIONS.items():
        count = int((trials["submission_id"] == sid).sum()) if len(trials) else 0
        rows.append(_check_row(f"text: trials of {arch}", text["trials_per_architecture"], count or None))
    rows.append(_check_row("text: models (runs)", text["models"], len(runs) or None))
    rows.append([f"text: dataset size {text['dataset_size_gb']} GB", text["dataset_size_gb"], "—",
                 "not in this catalog", "the weights are not part of the imported results"])
    return rows


def _paper_check(f: Frames) -> str:
    rows = paper_check_rows(f, paper_facts())
    verdicts = [r[3] for r in rows]
    summary = (f"{verdicts.count('agrees')} of {len(rows)} printed values agree, {verdicts.count('differs')} differ, "
               f"{verdicts.count('not in this catalog')} cannot be compared.")
    return summary + "\n\n" + table(["value", "printed", "regenerated", "verdict", "difference"], rows)


# --- the document -----------------------------------------------------------------------------------------------

def render(tables: dict[str, list[dict[str, Any]]], folder: Path, template: Path = TEMPLATE) -> str:
    f = frames(tables)
    sections = {
        "summary": lambda: _summary(f), "submissions": lambda: _submissions(f),
        "verification": lambda: _verification(f), "oddities": lambda: _oddities(f),
        "table2": lambda: _table2(f), "table3": lambda: _table3(f), "top_pairs": lambda: _top_pairs(f),
        "figures": lambda: _figures(f, folder), "licenses": lambda: _licenses(f),
        "paper_check": lambda: _paper_check(f),
    }
    text = template.read_text(encoding="utf-8")
    unknown = sorted(set(re.findall(r"\{\{(\w+)\}\}", text)) - set(sections))
    if unknown:
        raise ValueError(f"{template.name}: unknown placeholders {unknown}")
    return re.sub(r"\{\{(\w+)\}\}", lambda m: sections[m.group(1)](), text)


def write_datasheet(staged: Path, tables: dict[str, list[dict[str, Any]]]) -> None:
    """DATASHEET.md and figures/*.png into the staging folder of a catalog build."""
    (staged / "DATASHEET.md").write_bytes(render(tables, staged).encode("utf-8"))
