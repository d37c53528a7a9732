"""Stage 5: a sample of trials is re-evaluated and compared with the claims.

The sample is drawn with a seed that is fixed only after the submission is (the runner passes `--seed`, e.g.
the base branch's head and the approved commit), mixed with the submission's content digest. Seeded from the
content alone, a contributor could run the same sampler locally and edit a description until the sample
avoided an inflated claim. Without a seed the sample is drawn at random, and the report says so; the seed and
its source are recorded so a sample can be repeated. When both runs of a trial are evaluated, the pair's
per-example disagreement and McNemar's test between the frameworks are reported too.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from cwcontrib.checks.base import Context, Options, check
from cwcontrib.codes import finding
from cwcontrib.evaluate import (
    Evaluation,
    harness_identity,
    load_keras_weights,
    load_torch_state,
    predict_keras,
    predict_torch,
    resolve_device,
)
from cwcontrib.findings import Finding
from cwcontrib.statistics import mcnemar, tolerance
from cwcontrib.trials import ResolvedTrial
from cwcontrib.weights import model_tensors, read_weights


def content_digest(ctx: Context) -> str:
    """sha256 of the manifest as data plus every declared file's checksum: the submission's content."""
    assert ctx.model is not None and ctx.manifest is not None
    files = sorted((a.path or a.uri or "", a.sha256) for a in ctx.model.artifacts)
    payload = json.dumps([ctx.manifest.data, files], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


SEED_ENV_VAR = "CWCONTRIB_SEED"
_SEED = re.compile(r"[0-9a-f]{1,256}")
_RANDOM_NOTE = ("neither --seed nor $CWCONTRIB_SEED was given: drawn from os.urandom, so nobody could predict this "
                "sample; pass --seed with this value to repeat it")


def parse_seed(text: str) -> str:
    """A seed is 1 to 256 hex digits (two commit shas fit), compared in lower case."""
    seed = text.strip().lower()
    if not _SEED.fullmatch(seed):
        raise ValueError(f"a seed is 1 to 256 hexadecimal digits (e.g. two commit shas), not {text[:80]!r}")
    return seed


@dataclass(frozen=True)
class Seed:
    value: str
    source: str  # "--seed", "$CWCONTRIB_SEED" or "random"

    def mixed_with(self, content: str) -> str:
        """The digest the sample is drawn from: the seed, fixed after submission, and the content."""
        return hashlib.sha256(f"{self.value}:{content}".encode()).hexdigest()

    def as_dict(self, content: str) -> dict[str, str]:
        entry = {"value": self.value, "source": self.source, "sample_digest": self.mixed_with(content)}
        if self.source == "random":
            entry["note"] = _RANDOM_NOTE
        return entry


def resolve_seed(options: Options) -> Seed:
    if options.seed is not None:
        return Seed(parse_seed(options.seed), "--seed")
    from_env = os.environ.get(SEED_ENV_VAR, "")
    if from_env:
        try:
            return Seed(parse_seed(from_env), f"${SEED_ENV_VAR}")
        except ValueError as exc:
            raise ValueError(f"${SEED_ENV_VAR}: {exc}") from None
    return Seed(os.urandom(16).hex(), "random")


def sample_trials(trials: list[ResolvedTrial], k: int, digest: str) -> list[ResolvedTrial]:
    """k trials drawn with a PRNG seeded from `digest` (the seed mixed with the content digest)."""
    ordered = sorted(trials, key=lambda t: t.id)
    if k >= len(ordered):
        return ordered
    chosen = random.Random(int(digest, 16)).sample(ordered, k)
    return sorted(chosen, key=lambda t: t.id)


def _predict(ctx: Context, key: str, path: str, fmt: str, x: np.ndarray, device: str) -> np.ndarray:
    reference = ctx.references[key]
    tensors = read_weights(ctx.root, path, fmt)
    if reference.framework == "pytorch":
        load_torch_state(reference.model, tensors)
        return predict_torch(reference.model, x, device)
    load_keras_weights(reference.model, model_tensors(tensors, fmt))
    return predict_keras(reference.model, x)


def _pair_result(trial: ResolvedTrial, labels: np.ndarray, evaluated: dict[str, Evaluation]) -> dict[str, Any]:
    (a, first), (b, second) = sorted(evaluated.items())[:2]
    pa = np.frombuffer(first.predictions, dtype=np.uint8)
    pb = np.frombuffer(second.predictions, dtype=np.uint8)
    correct_a, correct_b = pa == labels, pb == labels
    test = mcnemar(int(np.sum(correct_a & ~correct_b)), int(np.sum(~correct_a & correct_b)))
    n = len(labels)
    return {
        "trial": trial.id,
        "frameworks": [a, b],
        "claimed_gap": abs(first.claimed_correct - second.claimed_correct) / n,
        "measured_gap": abs(first.measured_correct - second.measured_correct) / n,
        "disagreements": int(np.sum(pa != pb)),
        "disagreement_rate": float(np.mean(pa != pb)),
        "mcnemar": test.as_dict(),
    }


@check("evaluation", "CW500", "CW501", "CW502")
def claims_reproduce(ctx: Context) -> Iterator[Finding]:
    from cwcontrib.datasets import DatasetError, load_test_split, preprocess

    model = ctx.model
    if model is None or not ctx.options.reeval or not ctx.weights_ok:
        return
    digest = content_digest(ctx)
    seed = resolve_seed(ctx.options)
    pool = [t for t in ctx.trials if any((t.id, k) in ctx.weights_ok for k in t.runs)]
    chosen = pool if ctx.options.all_trials else sample_trials(pool, ctx.options.sample, seed.mixed_with(digest))
    dataset = model.dataset
    try:
        split = load_test_split(dataset.name, ctx.options.data_dir)
    except DatasetError as exc:
        yield finding("CW501", str(exc), ctx.at("/dataset/name"))
        return
    x = preprocess(split, dataset.preprocessing.rescale, dataset.preprocessing.mean, dataset.preprocessing.std)
    device = resolve_device(ctx.options.device)
    n = len(split.labels)
    allowed = tolerance(n)
    formats = {a.path: a.format.value for a in model.artifacts if a.path}
    evaluations: list[dict[str, Any]] = []
    pairs: list[dict[str, Any]] = []
    ctx.progress.start("re-evaluating", sum(len(t.runs) for t in chosen))
    try:
        for trial in chosen:
            evaluated: dict[str, Evaluation] = {}
            for key, run in sorted(trial.runs.items()):
                ctx.progress.advance(1)
                if (trial.id, key) not in ctx.weights_ok or run.run.weights is None:
                    continue
                framework = ctx.references[key].framework
                used = device if framework == "pytorch" else "cpu"
                ctx.looking_at = run.run.weights
                try:
                    predictions = _predict(ctx, key, run.run.weights, formats[run.run.weights], x, used)
                except Exception as exc:  # the framework rejected the model or input: not verifiable
                    yield finding("CW502", f"{run.run.weights}: {type(exc).__name__}: {exc}", run.at("weights"))
                    continue
                result = Evaluation(
                    trial=trial.id, framework=key, n=n,
                    claimed_correct=round(run.run.test_accuracy * n),
                    measured_correct=int(np.sum(predictions == split.labels)),
                    tolerance=allowed, device=used, harness=harness_identity(framework),
                    predictions=predictions.tobytes(),
                )
                evaluated[key] = result
                evaluations.append(result.as_dict())
                if not result.reproduced:
                    yield finding("CW500", f"claimed {result.claimed_correct}/{n}, measured "
                                           f"{result.measured_correct}/{n} (tolerance ±{allowed})",
                                  run.at("test_accuracy"))
            if len(evaluated) >= 2:
                pairs.append(_pair_result(trial, split.labels, evaluated))
    finally:
        ctx.progress.finish()
    ctx.results["evaluation"] = {
        "content_digest": digest,
        "seed": seed.as_dict(digest),
        "dataset": {"name": split.name, "sha256": split.sha256, "n": n},
        "sample": {"trials": [t.id for t in chosen], "of": len(pool), "all": ctx.options.all_trials},
        "tolerance": {"examples": allowed, "rule": "Poisson(max(1, N*1e-3)) 99.9% quantile; docs/reevaluation.md"},
        "runs": evaluations,
        "pairs": pairs,
    }
