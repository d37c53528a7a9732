"""The statistics of re-evaluation: how far an honest re-run may drift, and McNemar's test for pairs.

Tolerance. Re-running the same weights on other hardware or library builds changes a prediction only
when two logits are within rounding error of each other, so changed predictions are rare, independent
events: their number is modelled as Poisson with mean N * FLIP_RATE (at least 1). A claim passes when
|claimed k - measured k| is within the 99.9 % quantile of that distribution. With FLIP_RATE = 1e-3
(generous: fp32 re-runs across GPUs and CPUs typically flip far fewer than 1 in 1,000 predictions),
N = 10,000 gives a tolerance of 21 examples (0.21 points), so a claim inflated by one point (100
examples) fails, while N = 360 allows 5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FLIP_RATE = 1e-3
QUANTILE = 0.999


def poisson_quantile(mean: float, q: float) -> int:
    """Smallest k with P(X <= k) >= q for X ~ Poisson(mean) (scipy.stats.poisson.ppf; compared in the tests).

    Hand-written because scipy is not a dependency of the validator. The pmf is computed in log space (exp(-mean)
    alone underflows beyond mean = 745). For q above one half the criterion is the equivalent P(X > k) <= 1 - q
    with the upper tail summed from far out inwards: summed from 0, the CDF rounds below a q close to 1 and
    never reaches it.
    """
    if not 0.0 < q < 1.0 or not 0.0 < mean < math.inf:
        raise ValueError(f"need 0 < q < 1 and a positive finite mean, got q={q}, mean={mean}")
    top = int(mean + 40 * math.sqrt(mean) + 100)  # P(X > top) is below 1e-300: nothing a float can hold
    log_mean = math.log(mean)
    pmf = [math.exp(k * log_mean - mean - math.lgamma(k + 1)) for k in range(top + 1)]
    if q <= 0.5:
        cumulative = 0.0
        for k, p in enumerate(pmf):
            cumulative += p
            if cumulative >= q:
                return k
        return top
    tail, answer = 0.0, top  # tail = P(X > k), k going down from top
    for k in range(top, -1, -1):
        if tail > 1.0 - q:
            break
        answer = k
        tail += pmf[k]
    return answer


def tolerance(n: int, flip_rate: float = FLIP_RATE, q: float = QUANTILE) -> int:
    """How many correct-count units an honest re-run of a claim on N examples may differ by."""
    return poisson_quantile(max(n * flip_rate, 1.0), q)


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test on the discordant pairs of two classifiers on the same examples.

    b: examples only the first got right; c: only the second. p_value is two-sided.
    """

    b: int
    c: int
    p_value: float

    def as_dict(self) -> dict[str, float | int]:
        return {"only_first_correct": self.b, "only_second_correct": self.c, "p_value": self.p_value}


def mcnemar(b: int, c: int) -> McNemar:
    n = b + c
    if n == 0:
        return McNemar(b, c, 1.0)
    k = min(b, c)
    # Exact binomial tail in log space: sum_{i<=k} C(n, i) / 2^n, doubled for two sides.
    log_terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2)
                 for i in range(k + 1)]
    top = max(log_terms)
    tail = math.exp(top) * sum(math.exp(t - top) for t in log_terms)
    return McNemar(b, c, round(min(1.0, 2 * tail), 12))
