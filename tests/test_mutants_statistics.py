"""Mutants of cwcontrib/statistics.py that survived tests/test_statistics_scipy.py (mutmut, issue 9), killed here:
the argument walls alone, the exact boundary of the quantile's criterion, and every field of McNemar's result."""

from __future__ import annotations

import math

import pytest

from cwcontrib.statistics import McNemar, mcnemar, poisson_quantile


@pytest.mark.parametrize("mean", [0.0, -1.0, math.inf, math.nan])
def test_the_mean_must_be_positive_and_finite(mean: float) -> None:
    with pytest.raises(ValueError, match="positive finite mean"):
        poisson_quantile(mean, 0.5)


@pytest.mark.parametrize("q", [0.0, 1.0, -0.1, 1.5])
def test_q_must_be_strictly_between_0_and_1(q: float) -> None:
    with pytest.raises(ValueError, match="0 < q < 1"):
        poisson_quantile(2.0, q)


def test_a_cdf_exactly_at_q_is_enough() -> None:
    """Smallest k with P(X <= k) >= q: when P(X <= 0) is exactly q (as the function computes it), k is 0."""
    for mean in (0.7, 1.0, 2.0):
        q = math.exp(-mean)  # pmf[0], bit for bit
        assert q <= 0.5
        assert poisson_quantile(mean, q) == 0
        assert poisson_quantile(mean, math.nextafter(q, 1.0)) == 1


def test_mcnemar_reports_both_discordant_counts() -> None:
    result = mcnemar(3, 5)
    assert (result.b, result.c) == (3, 5)
    assert mcnemar(0, 0) == McNemar(0, 0, 1.0)
    assert result.as_dict() == {"only_first_correct": 3, "only_second_correct": 5, "p_value": result.p_value}


def test_mcnemar_p_values_are_rounded_to_12_decimals() -> None:
    """Rounded so that reports are byte-identical across libm builds; 13 decimals would show their noise."""
    p = mcnemar(5, 17).p_value  # 0.016900539398193297: its 13th decimal is not 0
    assert p == round(p, 12) and p != round(p, 11)


def _exact_tail_case() -> tuple[float, int, float]:
    """A mean and k whose upper tail P(X > k), summed as poisson_quantile sums it, is exactly 1 - q for a float q
    above one half: the one case where the criterion's strict `>` matters (found by search, not hard-coded, so that
    another libm's last bit cannot make the case vanish)."""
    for tenths in range(10, 2000):
        mean = tenths / 10
        top = int(mean + 40 * math.sqrt(mean) + 100)
        pmf = [math.exp(k * math.log(mean) - mean - math.lgamma(k + 1)) for k in range(top + 1)]
        tail = 0.0
        for k in range(top, -1, -1):
            q = 1.0 - tail
            if tail > 0 and 0.5 < q < 1.0 and 1.0 - q == tail:
                return mean, k, q
            tail += pmf[k]
    raise AssertionError("no exact case found")


def test_a_tail_of_exactly_one_minus_q_meets_the_quantile() -> None:
    """P(X > k) = 1 - q means P(X <= k) = q: k is the smallest k with P(X <= k) >= q, and just above q it is not."""
    mean, k, q = _exact_tail_case()
    assert poisson_quantile(mean, q) == k
    assert poisson_quantile(mean, math.nextafter(q, 1.0)) == k + 1
