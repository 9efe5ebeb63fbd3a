"""PB-LRT, sup-F, Chow, McNemar, FDR and the information-criterion table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from scipy.special import expit

from emergence.curve_models import break_grid, fit_curve
from emergence.curves import Curve
from emergence.registry import MetricInfo
from emergence.stats.bootstrap import pblrt_test
from emergence.stats.ic import akaike_weights, ic_table
from emergence.stats.multiple import fdr
from emergence.stats.paired import adjacent_mcnemar_test
from emergence.stats.supf import chow_test, supf_test

REF = Path(__file__).resolve().parents[1] / "reference"
#: an unbounded higher-is-better score, declared (a name alone is not a fact)
SCORE = MetricInfo("score", -np.inf, np.inf, True, "continuous")
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
    assert a.to_frame().equals(b.to_frame())
    assert a.direction == "improving" and a.effect_direction == "accelerating"
    assert a.improve_sign == -1.0 and a.effect < 0  # ln(-ln y) falls as accuracy rises
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
    res = pblrt_test(log10_x=X10, y=y, metric=SCORE, null="linear", alternative="hinge",
                     direction="both", n_boot=19, seed=0)
    X0 = np.column_stack([np.ones(10), X10])
    rss0 = np.sum((y - X0 @ np.linalg.lstsq(X0, y, rcond=None)[0]) ** 2)
    rss1 = min(
        np.sum((y - X1 @ np.linalg.lstsq(X1, y, rcond=None)[0]) ** 2)
        for X1 in (np.column_stack([X0, np.maximum(X10 - p, 0)]) for p in break_grid(X10, "hinge"))
    )
    assert res.statistic == pytest.approx((rss0 - rss1) / (rss1 / 6), rel=1e-6)


def _constrained_rss(X0, col, y, sign):
    """RSS of y on [X0, col] with sign * coef(col) >= 0 (scipy bounded least squares)."""
    from scipy.optimize import lsq_linear

    X = np.column_stack([X0, col])
    lb = np.r_[-np.inf, -np.inf, 0.0 if sign > 0 else -np.inf]
    ub = np.r_[np.inf, np.inf, np.inf if sign > 0 else 0.0]
    b = lsq_linear(X, y, bounds=(lb, ub), method="bvls", tol=1e-14).x
    return float(np.sum((y - X @ b) ** 2))


@pytest.mark.parametrize("direction", ["improving", "decelerating", "both"])
def test_pblrt_one_sided_statistic_matches_bounded_least_squares(direction):
    # identity link, higher is better: improving = the hinge/step coefficient is positive
    rng = np.random.default_rng(7)
    y = np.clip(0.3 + 0.05 * (X10 - 8) - 0.06 * np.maximum(X10 - 9.4, 0)
                + rng.normal(0, 0.01, 10), 0.01, 0.99)
    res = pblrt_test(log10_x=X10, y=y, metric=SCORE, null="linear", direction=direction,
                     n_boot=19, seed=0)
    sign = {"improving": 1.0, "decelerating": -1.0, "both": 0.0}[direction]
    X0 = np.column_stack([np.ones(10), X10])
    rss0 = np.sum((y - X0 @ np.linalg.lstsq(X0, y, rcond=None)[0]) ** 2)
    cols = [np.maximum(X10 - p, 0) for p in break_grid(X10, "hinge")]
    cols += [(X10 > p).astype(float) for p in break_grid(X10, "step")]
    if sign:
        rss1 = min(_constrained_rss(X0, c, y, sign) for c in cols)
    else:
        rss1 = min(np.sum((y - X @ np.linalg.lstsq(X, y, rcond=None)[0]) ** 2)
                   for X in (np.column_stack([X0, c]) for c in cols))
    assert res.statistic == pytest.approx((rss0 - rss1) / (rss1 / 6), rel=1e-6, abs=1e-9)
    assert res.direction == direction and res.improve_sign == 1.0
    # the curve bends down (slower improvement): that is the best break of either sign
    assert res.any_direction == "decelerating" and res.any_kind == "hinge"
    if direction == "improving":
        assert res.effect >= 0 and res.effect_direction in ("accelerating", "none")
        assert res.pvalue > 0.05
    else:
        assert res.effect_direction == "decelerating" and res.pvalue <= 0.1


def test_pblrt_one_sided_replicates_vectorised_match_a_loop():
    # the constrained replicate statistics equal a per-replicate bounded least-squares fit
    from emergence.stats.bootstrap import _break_stats, _candidates

    rng = np.random.default_rng(3)
    Z = 0.1 * X10 + rng.normal(0, 0.05, (6, 10))
    W = np.ones_like(Z)
    cols, _, _ = _candidates(X10, "both")
    X0 = np.column_stack([np.ones(10), X10])
    for sign in (1.0, -1.0):
        rss0, rss1, coef, _ = _break_stats(Z, W, X10, cols, sign)
        assert np.all(sign * coef >= 0)
        for b in range(Z.shape[0]):
            exp = [_constrained_rss(X0, c, Z[b], sign) for c in cols]
            np.testing.assert_allclose(rss1[b], exp, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize(("link", "hib", "sign"), [
    ("identity", True, 1), ("log", True, 1), ("log", False, -1), ("neglog", True, -1),
    ("mirage", True, -1), ("chance_logit", True, 1), ("identity", False, -1)])
def test_improvement_sign(link, hib, sign):
    from emergence.stats.bootstrap import improvement_sign

    assert improvement_sign(link, hib) == sign


def _sat_curve(p, n, seed, metric="exact_match", chance=float("nan")):
    k = np.random.default_rng(seed).binomial(n, p)
    return _curve(k / n, n=n, metric=metric, chance=chance)


SATURATING = 0.2 + 0.5 * (1 - np.exp(-1.5 * (X10 - 8))) / (1 - np.exp(-4.5))  # 0.2 -> 0.7
HOCKEY = np.where(X10 < 9.5, 0.05, 0.05 + 0.3 * (X10 - 9.5))  # flat, then a fast rise


def test_pblrt_saturating_curve_is_a_slowdown_not_a_break():
    # accuracy rising fast, then flattening (large n): a concave kink on every link
    for metric, chance in (("exact_match", float("nan")), ("acc", 0.2)):
        c = _sat_curve(SATURATING if metric == "exact_match" else SATURATING + 0.05, 5000, 0,
                       metric, chance)
        cur = pblrt_test(c, alternative="curvature", n_boot=199, seed=1)
        assert cur.statistic == 0 and cur.pvalue == 1.0 and cur.best_kind == "none"
        assert cur.any_direction == "decelerating"
        # the slowdown is significant (p about 0.0005 and 0.009 with B = 1,999 and several seeds)
        dec = pblrt_test(c, direction="decelerating", n_boot=999, seed=1)
        assert dec.pvalue <= 0.02 and dec.effect_direction == "decelerating"
        both = pblrt_test(c, direction="both", n_boot=199, seed=1)
        assert both.pvalue <= 0.1 and both.effect_direction == "decelerating"
        # the fitted "break" line of the one-sided test never bends the wrong way
        imp = pblrt_test(c, n_boot=199, seed=1)
        assert imp.effect_direction in ("accelerating", "none")
        assert imp.any_direction == "decelerating"


def test_pblrt_convex_hockey_stick_has_power():
    rej = [pblrt_test(_sat_curve(HOCKEY, 1000, r), n_boot=199, seed=r).pvalue <= 0.05
           for r in range(20)]
    assert np.mean(rej) >= 0.9
    r = pblrt_test(_sat_curve(HOCKEY, 1000, 0), n_boot=199, seed=0)
    assert r.effect_direction == "accelerating" and r.any_direction == "accelerating"
    assert r.best_kind == "hinge" and 9.0 <= r.psi <= 10.0


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
    agg = pblrt_test(log10_x=X10, y=items.mean(0), metric="acc", chance=0.25, n_boot=99, seed=0)
    assert agg.simulate == "gaussian" and any("aggregate-only" in n for n in agg.notes)
    # continuous item matrix -> residual resampling
    cont = rng.normal(0, 1, (80, 10)) + 0.3 * X10
    rc = pblrt_test(log10_x=X10, y=cont.mean(0), items=cont, metric="loglik", n_boot=99, seed=0)
    assert rc.simulate == "residual" and rc.null_model == "linear"


def test_pblrt_bad_input():
    with pytest.raises(ValueError, match="at least 5"):
        pblrt_test(log10_x=X10[:4], y=[0.1, 0.2, 0.3, 0.4], metric="acc")
    with pytest.raises(ValueError, match="finite"):
        pblrt_test(log10_x=X10, y=np.r_[np.nan, np.ones(9) * 0.5], metric="acc")
    with pytest.raises(ValueError, match="tied"):
        pblrt_test(log10_x=np.r_[X10[:9], X10[8]], y=np.linspace(0.1, 0.5, 10), metric="acc")
    with pytest.raises(ValueError, match="direction"):
        pblrt_test(log10_x=X10, y=np.linspace(0.1, 0.5, 10), n_items=100, metric="acc",
                   direction="up")
    with pytest.raises(ValueError, match="rasch"):
        pblrt_test(log10_x=X10, y=np.linspace(0.1, 0.5, 10), n_items=100, metric="acc",
                   simulate="rasch")


def test_pblrt_all_zero_and_non_monotone_x():
    c = _curve(np.zeros(10))
    r = pblrt_test(c, n_boot=99, seed=0)
    assert np.isfinite(r.statistic) and r.pvalue > 0.05
    rng = np.random.default_rng(4)
    perm = rng.permutation(10)
    y = np.clip(0.2 + 0.05 * (X10 - 8), 0, 1)
    a = pblrt_test(log10_x=X10[perm], y=y[perm], n_items=100, metric="acc", n_boot=49, seed=1)
    b = pblrt_test(log10_x=X10, y=y, n_items=100, metric="acc", n_boot=49, seed=1)
    assert a.statistic == pytest.approx(b.statistic)


@pytest.mark.slow
@pytest.mark.parametrize(("metric", "chance", "z"), [
    ("exact_match", float("nan"), 6.3 - 0.7 * X10),      # Mirage / Gompertz null
    ("acc", 0.25, -9.0 + 0.9 * X10),                     # chance-floored sigmoid null
])
def test_pblrt_size_bounded_monte_carlo(metric, chance, z):
    # 1,000 null curves (10 scales, 200 items), B = 99: the rejection rate at 0.05 of the
    # one-sided (improving) break and curvature tests and of the two-sided break test has
    # Monte Carlo sd ~0.007; the bound 0.05 +/- 0.03 fails only for a broken test.
    from emergence.curve_models import get_link

    link = "mirage" if metric == "exact_match" else "chance_logit"
    p = get_link(link, chance).inverse(z)
    rng = np.random.default_rng(11)
    rej = np.zeros(3)
    for r in range(1000):
        k = rng.binomial(200, p)
        kw = dict(x=X10, y=k / 200, n_items=200, metric=metric, chance=chance, n_boot=99,
                  seed=r)
        rej += [pblrt_test(**kw).pvalue <= 0.05,
                pblrt_test(**kw, alternative="curvature").pvalue <= 0.05,
                pblrt_test(**kw, direction="both").pvalue <= 0.05]
    assert np.all((0.02 <= rej / 1000) & (rej / 1000 <= 0.08)), rej / 1000


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


def test_mcnemar_all_pairs_at_once_equals_statsmodels_pair_by_pair():
    """The vectorised counts and p-values are exactly statsmodels' mcnemar(exact=True), pair by
    pair (the plain loop the table used to be built with), incl. pairs with b + c = 0."""
    from statsmodels.stats.contingency_tables import mcnemar

    rng = np.random.default_rng(11)
    for n, s in ((1, 2), (7, 3), (60, 6), (400, 10)):
        p = np.sort(rng.random(s))
        items = (rng.random((n, s)) < p).astype(float)
        items[:, 0] = items[:, 1]  # one pair without discordant items
        res = adjacent_mcnemar_test(items)
        rows = []
        for i in range(s - 1):
            a, bcol = items[:, i], items[:, i + 1]
            b = int(np.sum((a == 0) & (bcol == 1)))
            c = int(np.sum((a == 1) & (bcol == 0)))
            both = int(np.sum((a == 1) & (bcol == 1)))
            neither = int(np.sum((a == 0) & (bcol == 0)))
            if b + c == 0:
                stat, pv = 0.0, 1.0
            else:
                r = mcnemar(np.array([[neither, b], [c, both]]), exact=True)
                stat, pv = float(r.statistic), float(r.pvalue)
            rows.append({"from": str(i), "to": str(i + 1), "b": b, "c": c, "statistic": stat,
                         "pvalue": min(pv, 1.0)})
        ref = pd.DataFrame(rows)
        pd.testing.assert_frame_equal(res.table, ref, check_exact=True)
        j = int(np.argmax(ref["b"] - ref["c"]))
        assert res.statistic == float(ref["b"][j] - ref["c"][j])
        assert res.pvalue == ref["pvalue"][j]


def test_fdr_matches_statsmodels_and_handles_nan():
    from statsmodels.stats.multitest import multipletests

    p = np.array([0.001, 0.2, 0.03, 0.04, 0.5])
    res = fdr(p, method="fdr_bh")
    q = res.qvalue
    np.testing.assert_allclose(q, multipletests(p, method="fdr_bh")[1])
    assert res.reject.tolist() == multipletests(p, method="fdr_bh")[0].tolist()
    q2 = fdr(np.r_[p, np.nan]).qvalue
    np.testing.assert_allclose(q2[:5], q)
    assert np.isnan(q2[5])
    frame = fdr(np.r_[p, np.nan]).to_frame()
    assert list(frame.columns) == ["pvalue", "qvalue", "reject"] and not frame["reject"].iloc[5]
    with pytest.raises(ValueError):
        fdr([1.5])


def test_ic_table_weights_and_counts():
    x = np.linspace(8, 11, 10)
    y = np.exp(-np.exp(6.3 - 0.7 * x)) + 0.003 * np.sin(5 * x)
    tab = ic_table(log10_x=x, y=y)
    t = tab.to_frame()
    assert tab.best in ("gompertz", "logistic4")
    for c in ("w_aicc", "w_bic", "w_aicc_psi3", "w_bic_psi3"):
        assert t[c].sum() == pytest.approx(1.0)
    h = t.set_index("model").loc["hinge"]
    assert h["aicc_psi3"] > h["aicc"] and h["bic_psi3"] > h["bic"]
    assert akaike_weights([1.0, 1.0]).tolist() == [0.5, 0.5]
    neg = ic_table(log10_x=x, y=y - 0.5)
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


def test_pblrt_two_sided_pvalue_from_the_same_replicates():
    # aggregate-only curve: the Gaussian replicates do not depend on the direction, so the
    # two-sided p-value reported by the one-sided test equals the two-sided test's p-value
    rng = np.random.default_rng(12)
    y = 0.2 + 0.04 * (X10 - 8) + 0.05 * np.maximum(X10 - 9.5, 0) + rng.normal(0, 0.01, 10)
    one = pblrt_test(log10_x=X10, y=y, metric=SCORE, null="linear", n_boot=199, seed=4)
    two = pblrt_test(log10_x=X10, y=y, metric=SCORE, null="linear", direction="both", n_boot=199,
                     seed=4)
    assert one.simulate == "gaussian"
    assert one.pvalue_two_sided == two.pvalue and two.pvalue_two_sided == two.pvalue
    assert one.pvalue <= two.pvalue and one.effect_direction == "accelerating"
    # a well-behaved null bends either way about equally often
    assert 0.35 <= one.null_share <= 0.65


def test_every_test_result_shares_the_test_result_base():
    from emergence.stats._results import TestResult
    from emergence.stats.intervals import binomial_test_chance
    from emergence.stats.paired import adjacent_mcnemar_test

    b = binomial_test_chance([30, 25], 100, 0.25)
    items = np.array([[0, 1, 1], [0, 0, 1], [1, 1, 1], [0, 1, 1]], dtype=float)
    m = adjacent_mcnemar_test(items, labels=["a", "b", "c"])
    for res in (b, m):
        assert isinstance(res, TestResult)
        stat, p = res
        assert stat is res.statistic and p is res.pvalue
        assert "pvalue" in res.to_frame().columns and "H0" in res.summary()


def test_log10_arguments_refuse_a_raw_scale():
    # a raw scale passed where log10 is expected used to give another p-value silently
    raw = 10**X10
    y = np.linspace(0.1, 0.5, 10)
    with pytest.raises(ValueError, match="`log10_x` must be log10 of the scale"):
        pblrt_test(log10_x=raw, y=y, n_items=100, metric="acc", n_boot=19)
    with pytest.raises(ValueError, match="must be log10 of the scale"):
        supf_test(raw, y)
    with pytest.raises(ValueError, match="must be log10 of the scale"):
        fit_curve(raw, y, model="linear")
    with pytest.warns(FutureWarning, match="log10_x"):
        old = pblrt_test(x=X10, y=y, n_items=100, metric="acc", n_boot=19, seed=0)
    new = pblrt_test(log10_x=X10, y=y, n_items=100, metric="acc", n_boot=19, seed=0)
    assert old.pvalue == new.pvalue
    with pytest.warns(FutureWarning, match="log10_x"), pytest.raises(ValueError, match="raw"):
        pblrt_test(x=raw, y=y, n_items=100, metric="acc", n_boot=19)
