"""Binomial intervals, exact test against chance and the Emergence Score."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from emergence.stats.intervals import binomial_test_chance, proportion_interval
from emergence.stats.scores import (
    emergence_score,
    emergence_score_interval,
    step_noise_floor,
)

# R 4.x: binom.test(x, n)$conf.int (Clopper-Pearson) and
#        binom.test(x, n, 0.25, alternative="greater")$p.value
R_BINOM = [
    # x, n, p_greater_0.25, cp_low, cp_high
    (0, 100, 1.0, 0.0, 0.0362166926451765),
    (3, 50, 0.999912912314167, 0.0125485878353341, 0.165481946603773),
    (30, 100, 0.149541046566574, 0.212406420489537, 0.399814676179804),
    (7, 20, 0.214218052398792, 0.153909204784541, 0.592188534532828),
]


def test_clopper_pearson_matches_r():
    x = np.array([r[0] for r in R_BINOM])
    n = np.array([r[1] for r in R_BINOM])
    res = proportion_interval(x, n, method="beta")
    # R prints 15 significant digits; the Beta quantiles agree to ~1e-12
    np.testing.assert_allclose(res.low, [r[3] for r in R_BINOM], atol=1e-10)
    np.testing.assert_allclose(res.high, [r[4] for r in R_BINOM], atol=1e-10)


def test_binomial_chance_matches_r_and_scipy():
    x = np.array([r[0] for r in R_BINOM])
    n = np.array([r[1] for r in R_BINOM])
    res = binomial_test_chance(x, n, 0.25)
    np.testing.assert_allclose(res.pvalue, [r[2] for r in R_BINOM], rtol=1e-10)
    for xi, ni, p in zip(x, n, res.pvalue, strict=True):
        assert p == pytest.approx(sps.binomtest(int(xi), int(ni), 0.25, "greater").pvalue)
    stat, pv = res
    assert stat.tolist() == x.tolist()
    assert len(res.to_frame()) == 4 and "chance" in res.summary()


def test_binomial_chance_zero_chance():
    res = binomial_test_chance([0, 1], [50, 50], 0.0)
    assert res.pvalue.tolist() == [1.0, 0.0]


def test_wilson_closed_form_at_zero_and_r_prop_test():
    z = sps.norm.ppf(0.975)
    low, high = proportion_interval(0, 100, method="wilson")
    assert float(low) == 0.0
    assert float(high) == pytest.approx(z**2 / (100 + z**2), rel=1e-12)
    # R: prop.test(5, 100, correct=FALSE)$conf.int
    low, high = proportion_interval(5, 100, method="wilson")
    assert float(low) == pytest.approx(0.021543679154368, rel=1e-9)
    assert float(high) == pytest.approx(0.111750469231919, rel=1e-9)


def test_jeffreys_and_agresti_coull_edges():
    res = proportion_interval([0, 10], [10, 10], method="jeffreys")
    assert res.low[0] == 0.0 and res.high[1] == 1.0
    a, b = sps.beta.ppf([0.025, 0.975], 3.5, 7.5)
    lo, hi = proportion_interval(3, 10, method="jeffreys")
    assert float(lo) == pytest.approx(a) and float(hi) == pytest.approx(b)
    z = sps.norm.ppf(0.975)
    nt = 10 + z**2
    pt = (3 + z**2 / 2) / nt
    lo, hi = proportion_interval(3, 10, method="agresti_coull")
    assert float(lo) == pytest.approx(pt - z * np.sqrt(pt * (1 - pt) / nt))
    assert float(hi) == pytest.approx(pt + z * np.sqrt(pt * (1 - pt) / nt))


def test_interval_bad_input():
    with pytest.raises(ValueError, match="method"):
        proportion_interval(1, 10, method="exact")
    with pytest.raises(ValueError, match="nobs"):
        proportion_interval(11, 10, method="wilson")
    with pytest.raises(ValueError, match="finite"):
        proportion_interval(np.nan, 10, method="wilson")
    with pytest.raises(ValueError, match="whole"):
        proportion_interval(0.5, 10, method="wilson")
    with pytest.raises(ValueError, match="chance"):
        binomial_test_chance(1, 10, 1.0)


def test_emergence_score_by_hand():
    y = [0.1, 0.2, 0.1, 0.5, 0.9]
    # diffs 0.1, -0.1, 0.4, 0.4 -> squares .01 .01 .16 .16 -> median .085
    res = emergence_score([1, 2, 3, 4, 5], y, floor=None)
    assert res.score == pytest.approx(0.8 / np.sqrt(0.085))
    assert res.sign == 1 and not res.floor_applied
    # order is taken from x, not from the input order
    res2 = emergence_score([5, 4, 3, 2, 1], y[::-1], floor=None)
    assert res2.score == pytest.approx(res.score)
    # decreasing curve has a negative sign
    assert emergence_score([1, 2, 3, 4, 5], y[::-1], floor=None).score < 0
    # affine invariance (up to sign)
    res3 = emergence_score([1, 2, 3, 4, 5], 10 * np.array(y) + 3, floor=None)
    assert res3.score == pytest.approx(res.score)


def test_emergence_score_floor_prevents_explosion():
    y = [0, 0, 0, 0, 0, 0.01]
    raw = emergence_score(np.arange(6), y, floor=None)
    assert raw.score == np.inf
    fl = emergence_score(np.arange(6), y, n_items=100)
    assert fl.floor_applied and fl.floor_rule == "binomial"
    p = 1 / 100
    assert fl.denominator == pytest.approx(np.sqrt(2 * p * (1 - p) / 100))
    assert np.isfinite(fl.score) and fl.score < 1.0
    user = emergence_score(np.arange(6), y, floor=0.05)
    assert user.score == pytest.approx(0.01 / 0.05) and user.floor_rule == "user"
    se = emergence_score(np.arange(6), y, stderr=np.full(6, 0.01))
    assert se.floor_rule == "stderr" and se.denominator == pytest.approx(np.sqrt(2) * 0.01)
    assert emergence_score(np.arange(4), [0.3] * 4).score == 0.0
    assert step_noise_floor([1.0, 2.0]) == (0.0, "none")


def test_emergence_score_bad_input():
    with pytest.raises(ValueError, match="at least 3"):
        emergence_score([1, 2], [0, 1])
    with pytest.raises(ValueError, match="finite"):
        emergence_score([1, 2, 3], [0, np.nan, 1])
    with pytest.raises(ValueError, match="tied"):
        emergence_score([1, 2, 2], [0, 0.5, 1])
    with pytest.raises(ValueError, match="floor"):
        emergence_score([1, 2, 3], [0, 0.5, 1], floor="big")


def test_emergence_score_interval_reproducible_and_covers():
    rng = np.random.default_rng(3)
    p = np.array([0.02, 0.03, 0.05, 0.1, 0.5, 0.9])
    items = (rng.random((300, 6)) < p).astype(float)
    a = emergence_score_interval(items, np.arange(6), n_boot=299, seed=7)
    b = emergence_score_interval(items, np.arange(6), n_boot=299, seed=7)
    np.testing.assert_array_equal(a.replicates, b.replicates)
    assert a.low < a.estimate.score < a.high
    assert a.to_frame().shape[0] == 1
    # a flat curve: interval of the floored score stays O(1)
    flat = (rng.random((300, 6)) < 0.3).astype(float)
    f = emergence_score_interval(flat, np.arange(6), n_boot=299, seed=1)
    assert f.high < 10
