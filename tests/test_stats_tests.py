"""PB-LRT, sup-F, Chow, McNemar, FDR and the information-criterion table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from scipy.special import expit

from emergence.curves import break_grid, fit_curve
from emergence.stats.bootstrap import pblrt_test
from emergence.stats.ic import akaike_weights, ic_table
from emergence.stats.multiple import fdr
from emergence.stats.paired import adjacent_mcnemar_test
from emergence.stats.supf import chow_test, supf_test
from emergence.tidy import Curve

REF = Path(__file__).resolve().parent / "reference"
X10 = np.linspace(8, 11, 10)


def _curve(y, n=200, metric="exact_match", chance=float("nan"), items=None):
    return Curve(family="f", task="t", metric=metric, shots=0, x_name="params",
                 x=10**X10, y=np.asarray(y, float), stderr=np.full(10, np.nan),
                 n_items=np.full(10, float(n)), labels=tuple(map(str, range(10))),
                 items=items, chance=chance)


def test_pblrt_reproducible_and_detects_step():
    p = np.where(X10 > 9.6, 0.45, 0.03)
    k = np.random.default_rng(0).binomial(200, p)
    c = _curve(k / 200)
    a = pblrt_test(c, n_boot=199, seed=3)
    b = pblrt_test(c, n_boot=199, seed=3)
    np.testing.assert_array_equal(a.replicates, b.replicates)
    assert a.pvalue == 1 / 200 and a.best_kind in ("step", "hinge")
    assert 9.0 < a.psi < 10.0
    assert a.null_model == "gompertz" and a.simulate == "binomial"
    stat, pv = a
    assert stat == a.statistic and pv == a.pvalue
    assert {"statistic", "pvalue", "null", "reference"} <= set(a.to_frame().columns)
    # the fitted break curve goes through the jump
    yb = a.predict(X10, "break")
    assert yb[-1] > 0.3 and yb[0] < 0.1


def test_pblrt_statistic_matches_direct_least_squares():
    rng = np.random.default_rng(1)
    y = np.clip(0.3 + 0.05 * (X10 - 8) + rng.normal(0, 0.03, 10), 0.01, 0.99)
    res = pblrt_test(x=X10, y=y, metric="score", null="linear", alternative="hinge",
                     n_boot=19, seed=0)
    X0 = np.column_stack([np.ones(10), X10])
    rss0 = np.sum((y - X0 @ np.linalg.lstsq(X0, y, rcond=None)[0]) ** 2)
    rss1 = min(
        np.sum((y - X1 @ np.linalg.lstsq(X1, y, rcond=None)[0]) ** 2)
        for X1 in (np.column_stack([X0, np.maximum(X10 - p, 0)]) for p in break_grid(X10, "hinge"))
    )
    assert res.statistic == pytest.approx((rss0 - rss1) / (rss1 / 6), rel=1e-6)


def test_pblrt_other_paths():
    rng = np.random.default_rng(2)
    p = 0.25 + 0.75 * expit(-9 + 0.9 * X10)
    items = (rng.random((150, 10)) < p).astype(float)
    c = _curve(items.mean(0), n=150, metric="acc", chance=0.25, items=items)
    r = pblrt_test(c, simulate="rasch", n_boot=99, seed=0)
    assert r.null_model == "chance_sigmoid" and r.simulate == "rasch" and 0 < r.pvalue <= 1
    cur = pblrt_test(c, alternative="curvature", n_boot=99, seed=0)
    assert cur.best_kind == "curvature" and np.isnan(cur.psi)
    # aggregate only: no item counts -> gaussian replicates, limitation noted
    agg = pblrt_test(x=X10, y=items.mean(0), metric="acc", chance=0.25, n_boot=99, seed=0)
    assert agg.simulate == "gaussian" and any("aggregate-only" in n for n in agg.notes)
    # continuous item matrix -> residual resampling
    cont = rng.normal(0, 1, (80, 10)) + 0.3 * X10
    rc = pblrt_test(x=X10, y=cont.mean(0), items=cont, metric="loglik", n_boot=99, seed=0)
    assert rc.simulate == "residual" and rc.null_model == "linear"


def test_pblrt_bad_input():
    with pytest.raises(ValueError, match="at least 5"):
        pblrt_test(x=X10[:4], y=[0.1, 0.2, 0.3, 0.4], metric="acc")
    with pytest.raises(ValueError, match="finite"):
        pblrt_test(x=X10, y=np.r_[np.nan, np.ones(9) * 0.5], metric="acc")
    with pytest.raises(ValueError, match="tied"):
        pblrt_test(x=np.r_[X10[:9], X10[8]], y=np.linspace(0.1, 0.5, 10), metric="acc")
    with pytest.raises(ValueError, match="rasch"):
        pblrt_test(x=X10, y=np.linspace(0.1, 0.5, 10), n_items=100, metric="acc",
                   simulate="rasch")


def test_pblrt_all_zero_and_non_monotone_x():
    c = _curve(np.zeros(10))
    r = pblrt_test(c, n_boot=99, seed=0)
    assert np.isfinite(r.statistic) and r.pvalue > 0.05
    rng = np.random.default_rng(4)
    perm = rng.permutation(10)
    y = np.clip(0.2 + 0.05 * (X10 - 8), 0, 1)
    a = pblrt_test(x=X10[perm], y=y[perm], n_items=100, metric="acc", n_boot=49, seed=1)
    b = pblrt_test(x=X10, y=y, n_items=100, metric="acc", n_boot=49, seed=1)
    assert a.statistic == pytest.approx(b.statistic)


@pytest.mark.slow
def test_pblrt_size_bounded_monte_carlo():
    # 300 null curves (Mirage null, 10 scales, 200 items), B = 99: rejection rate at 0.05
    # has Monte Carlo sd ~0.013; the bound 0.05 +/- 0.04 fails only for a broken test.
    rng = np.random.default_rng(11)
    p = np.exp(-np.exp(6.3 - 0.7 * X10))
    rej = 0
    for r in range(300):
        k = rng.binomial(200, p)
        res = pblrt_test(x=X10, y=k / 200, n_items=200, metric="exact_match", n_boot=99, seed=r)
        rej += res.pvalue <= 0.05
    assert 0.01 <= rej / 300 <= 0.09


def test_supf_and_chow_match_strucchange():
    ref = pd.read_csv(REF / "strucchange_reference.csv", dtype=str)
    for _, row in ref.iterrows():
        x = np.array(row["x"].split(";"), float)
        y = np.array(row["y"].split(";"), float)
        f = np.array(row["fstats"].split(";"), float)
        res = supf_test(x, y, trim=1e-6, n_boot=9, seed=0)
        # R: Fstats(y ~ x, from = 3, to = n - 3)$Fstats (15 significant digits printed)
        np.testing.assert_allclose(res.fstats, f, rtol=1e-9)
        pt = int(row["chow_point"])
        ch = chow_test(x, y, psi=(x[pt - 1] + x[pt]) / 2)
        # R: sctest(y ~ x, type = "Chow", point = pt)
        assert ch.statistic == pytest.approx(float(row["chow_F"]), rel=1e-9)
        assert ch.pvalue == pytest.approx(float(row["chow_p"]), rel=1e-9)


def test_supf_bootstrap_and_errors():
    rng = np.random.default_rng(0)
    y = 0.1 * X10 + rng.normal(0, 0.05, 10)
    a = supf_test(X10, y, n_boot=199, seed=5)
    assert a.pvalue == supf_test(X10, y, n_boot=199, seed=5).pvalue
    assert a.pvalue > 0.01
    with pytest.raises(ValueError, match="underpowered"):
        supf_test(X10[:5], y[:5])
    with pytest.raises(ValueError, match="each side"):
        chow_test(X10, y, psi=8.1)


def test_mcnemar_matches_binomial():
    rng = np.random.default_rng(3)
    items = (rng.random((100, 4)) < [0.2, 0.25, 0.5, 0.55]).astype(float)
    res = adjacent_mcnemar_test(items, labels=["a", "b", "c", "d"])
    for _, r in res.table.iterrows():
        b, c = int(r["b"]), int(r["c"])
        exp = sps.binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
        assert r["pvalue"] == pytest.approx(exp, rel=1e-9)
    assert list(res.table["from"]) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="0/1"):
        adjacent_mcnemar_test(items + 0.5)


def test_fdr_matches_statsmodels_and_handles_nan():
    from statsmodels.stats.multitest import multipletests

    p = np.array([0.001, 0.2, 0.03, 0.04, 0.5])
    q, rej = fdr(p, method="fdr_bh")
    np.testing.assert_allclose(q, multipletests(p, method="fdr_bh")[1])
    q2, _ = fdr(np.r_[p, np.nan])
    np.testing.assert_allclose(q2[:5], q)
    assert np.isnan(q2[5])
    with pytest.raises(ValueError):
        fdr([1.5])


def test_ic_table_weights_and_counts():
    x = np.linspace(8, 11, 10)
    y = np.exp(-np.exp(6.3 - 0.7 * x)) + 0.003 * np.sin(5 * x)
    tab = ic_table(x=x, y=y)
    t = tab.to_frame()
    assert tab.best in ("gompertz", "logistic4")
    for c in ("w_aicc", "w_bic", "w_aicc_psi3", "w_bic_psi3"):
        assert t[c].sum() == pytest.approx(1.0)
    h = t.set_index("model").loc["hinge"]
    assert h["aicc_psi3"] > h["aicc"] and h["bic_psi3"] > h["bic"]
    assert akaike_weights([1.0, 1.0]).tolist() == [0.5, 0.5]
    neg = ic_table(x=x, y=y - 0.5)
    assert "power_law" in neg.skipped and "gompertz" in neg.skipped


def test_fit_curve_recovers_parameters():
    y = 0.25 + 0.75 * expit(-9 + 0.9 * X10)
    f = fit_curve(X10, y, model="chance_sigmoid", chance=0.25)
    np.testing.assert_allclose(f.link_params, [-9, 0.9], atol=1e-5)
    s = fit_curve(X10, np.where(X10 > 9.6, 0.5, 0.1), model="step")
    assert s.params["gamma"] == pytest.approx(0.4, abs=1e-9)
    lg = fit_curve(X10, 0.1 + 0.6 * expit(3 * (X10 - 9.5)), model="logistic4")
    assert lg.params["x0"] == pytest.approx(9.5, abs=1e-3)
    with pytest.raises(ValueError, match="one sign"):
        fit_curve(X10, X10 - 9, model="power_law")
    with pytest.raises(ValueError, match="scales"):
        fit_curve(X10[:3], [0.1, 0.2, 0.3], model="hinge")


def test_threshold_interval_hansen():
    from emergence.stats.supf import threshold_interval

    assert threshold_interval(X10, X10, alpha=0.05).critical == pytest.approx(7.35, abs=0.01)
    rng = np.random.default_rng(2)
    y = 0.1 * X10 + 0.8 * (X10 > 9.6) + rng.normal(0, 0.05, 10)
    ci = threshold_interval(X10, y, kind="step")
    assert ci.low <= 9.6 <= ci.high and ci.high - ci.low < 1.0
    assert threshold_interval(X10, y, kind="step", alpha=0.01).critical == pytest.approx(
        10.59, abs=0.01)
