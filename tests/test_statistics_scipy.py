"""cwcontrib.statistics against scipy.stats on many inputs, boundaries included: the two hand-written formulas
(McNemar's exact test, the Poisson quantile behind the tolerance) must agree with a maintained implementation."""

from __future__ import annotations

import itertools

import pytest
from scipy import stats

from cwcontrib.statistics import FLIP_RATE, QUANTILE, mcnemar, poisson_quantile, tolerance


def scipy_mcnemar(b: int, c: int) -> float:
    """McNemar's exact test is a two-sided binomial test of b successes in b + c trials at p = 1/2."""
    if b + c == 0:
        return 1.0
    return float(stats.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue)


SMALL = list(itertools.product(range(41), repeat=2))  # every pair up to 40 discordant examples each
LARGE = [(1, 1_000), (0, 5_000), (5_000, 0), (4_999, 5_001), (4_800, 5_000), (10_000, 10_000), (300, 360),
         (25, 60), (1_000, 1_100), (134, 2)]


@pytest.mark.parametrize(("b", "c"), SMALL + LARGE)
def test_mcnemar_agrees_with_scipy_binomtest(b: int, c: int) -> None:
    ours = mcnemar(b, c)
    assert ours.p_value == pytest.approx(scipy_mcnemar(b, c), rel=1e-9, abs=1e-12)
    assert 0.0 <= ours.p_value <= 1.0
    assert ours.p_value == mcnemar(c, b).p_value  # symmetric in the two classifiers


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 101, 1_000])
def test_mcnemar_boundaries(n: int) -> None:
    assert mcnemar(n, n).p_value == 1.0  # equal discordant counts: no evidence at all
    if n:
        assert mcnemar(0, n).p_value == pytest.approx(min(1.0, 2 * 0.5 ** n), abs=1e-12)


MEANS = [1.0, 1.5, 2.0, 2.5, 3.6, 5.0, 7.3, 10.0, 12.5, 21.0, 50.0, 99.9, 100.0, 250.0, 1_000.0, 5_000.0]
QUANTILES = [0.5, 0.9, 0.95, 0.99, 0.999, 0.9999]


@pytest.mark.parametrize(("mean", "q"), list(itertools.product(MEANS, QUANTILES)))
def test_poisson_quantile_agrees_with_scipy_ppf(mean: float, q: float) -> None:
    assert poisson_quantile(mean, q) == int(stats.poisson.ppf(q, mean))


@pytest.mark.parametrize("n", [1, 2, 100, 360, 999, 1_000, 1_001, 1_797, 2_000, 10_000, 50_000, 60_000, 100_000,
                               1_000_000])
def test_tolerance_is_scipys_poisson_quantile(n: int) -> None:
    assert tolerance(n) == int(stats.poisson.ppf(QUANTILE, max(n * FLIP_RATE, 1.0)))


@pytest.mark.parametrize(("n", "documented"), [(360, 5), (10_000, 21), (50_000, 73)])
def test_the_documented_tolerances_are_scipys(n: int, documented: int) -> None:
    # docs/reevaluation.md's table
    assert tolerance(n) == documented == int(stats.poisson.ppf(QUANTILE, max(n * FLIP_RATE, 1.0)))


def test_poisson_quantile_at_exact_cdf_values() -> None:
    # q exactly at a CDF value is the boundary of "smallest k with P(X <= k) >= q"
    for mean in (1.0, 4.0, 30.0):
        for k in range(0, int(3 * mean) + 3):
            q = float(stats.poisson.cdf(k, mean))
            if q < 1.0:
                assert abs(poisson_quantile(mean, q) - k) <= 1  # float rounding may put q a hair on either side
                assert poisson_quantile(mean, q * (1 - 1e-9)) == int(stats.poisson.ppf(q * (1 - 1e-9), mean))


@pytest.mark.parametrize("mean", [1.0, 30.0, 1_000.0])
@pytest.mark.parametrize("q", [1 - 1e-12, 1 - 1e-14, 0.9999999999999986])
def test_poisson_quantile_close_to_one(mean: float, q: float) -> None:
    # summed from 0, the CDF rounded below such q and the quantile ran to its safety cap (401 instead of 82)
    assert abs(poisson_quantile(mean, q) - int(stats.poisson.ppf(q, mean))) <= 1


@pytest.mark.parametrize(("mean", "q"), [(0.0, 0.5), (-1.0, 0.5), (1.0, 0.0), (1.0, 1.0), (float("nan"), 0.5)])
def test_poisson_quantile_refuses_meaningless_arguments(mean: float, q: float) -> None:
    with pytest.raises(ValueError):
        poisson_quantile(mean, q)
