"""The latent-competence null: exact links, the break test, and the verdicts built on it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emergence.curves import Curve, extract_curves
from emergence.simulate import simulate_family
from emergence.stats._data import as_curve_data
from emergence.stats.latent import (
    LatentLink,
    item_heterogeneity,
    item_noise_var,
    latent_break_test,
    latent_kind,
    value_resolution,
)
from emergence.verdict import assess

X = np.linspace(7, 11, 10)


@pytest.mark.parametrize("kind, y, kw", [
    ("exact_match", [0.01, 0.2, 0.7], dict(lengths=[1.0, 5.0], weights=[0.3, 0.7])),
    ("multiple_choice", [0.3, 0.6, 0.9], dict(chance=0.25)),
    ("edit_distance", [3.5, 1.0, 0.1], dict(lengths=[4.0, 6.0], weights=[0.5, 0.5])),
    ("loglik", [-8.0, -2.0, -0.1], dict(lengths=[5.0], weights=[1.0])),
    ("brier", [0.7, 0.4, 0.05], dict(chance=0.25)),
    ("perplexity", [40.0, 5.0, 1.2], {}),
    ("bounded", [10.0, 50.0, 90.0], dict(lo=0.0, hi=100.0)),
])
def test_links_invert_exactly(kind, y, kw):
    lengths = np.array(kw.pop("lengths", [1.0]))
    weights = np.array(kw.pop("weights", [1.0]))
    lk = LatentLink(kind, lengths, weights, **kw)
    y = np.array([y])
    ce = lk.to_ce(y)
    np.testing.assert_allclose(lk.mean(ce), y, rtol=1e-9)
    # the derivative is the derivative of the mean
    h = 1e-6
    np.testing.assert_allclose(lk.dmean(ce), (lk.mean(ce + h) - lk.mean(ce - h)) / (2 * h),
                               rtol=1e-4)


def test_exact_match_link_is_schaeffers_formula():
    # one target length: CE = -ln(EM) / L, so ln CE is ln(-ln EM) - ln L
    lk = LatentLink("exact_match", np.array([5.0]), np.array([1.0]))
    em = np.array([[0.002, 0.3, 0.79]])
    np.testing.assert_allclose(lk.to_ce(em), -np.log(em) / 5)
    # heterogeneous items average over their difficulty (a mixture, not one curve)
    het = lk.with_heterogeneity(1.0)
    assert het.lengths.size == 9 and het.weights.sum() == pytest.approx(1.0)
    assert not np.allclose(het.to_ce(em), lk.to_ce(em))


def test_latent_kinds_follow_the_declared_facts():
    assert latent_kind("exact_match") == "exact_match"
    assert latent_kind("acc", chance=0.25) == "multiple_choice"
    assert latent_kind("acc", chance=0.0) == "exact_match"
    assert latent_kind("token_edit_distance") == "edit_distance"
    assert latent_kind("target_loglik") == "loglik"
    assert latent_kind("brier_score", chance=0.25) == "brier"
    assert latent_kind("brier_score") == "brier"  # tested only once the chance level is known

    class Declared:
        latent = None
        sharp = False
        lower, upper = 0.0, 1.0

    assert latent_kind("my_f1", Declared()) == "bounded"
    Declared.lower = -np.inf
    assert latent_kind("my_score", Declared()) == "none"


def test_value_resolution():
    assert value_resolution(np.array([0.014, 0.0, 0.25])) == pytest.approx(0.001)
    assert value_resolution(np.array([0.5, 0.25])) == pytest.approx(0.01)
    assert value_resolution(np.array([3.0, 7.0])) == 1.0


def test_item_heterogeneity_recovers_the_spread_of_difficulties():
    df = simulate_family("power_law", n_items=2000, item_sd=1.0, seed=3,
                         metrics=["exact_match"])
    c = extract_curves(df, x="params").curves[0]
    lk = LatentLink("exact_match", np.array([5.0]), np.array([1.0]))
    sg = item_heterogeneity(lk, c.y, c.items)
    assert 0.75 <= sg <= 1.25
    df0 = simulate_family("power_law", n_items=2000, seed=3, metrics=["exact_match"])
    c0 = extract_curves(df0, x="params").curves[0]
    assert item_heterogeneity(lk, c0.y, c0.items) <= 0.25


@pytest.mark.parametrize("sd", [0.0, 1.0])
def test_item_noise_is_the_item_by_scale_interaction(sd):
    """The same items at every scale: the noise of a per-scale mean is what varies within an
    item, not how items differ. Checked against the variance of the means over 300 redraws of
    the noise with the items held fixed (log-likelihoods: multiplicative gamma token noise;
    edit distances: binomial over the target's tokens)."""
    rng = np.random.default_rng(7)
    n, S = 200, 8
    lens = rng.integers(1, 9, n) if sd else np.full(n, 5)
    cei = np.outer(np.exp(rng.normal(0.0, sd, n)), np.exp(-0.818 * np.linspace(0, 4, S) + 0.3))
    est = {"ll": [], "ted": []}
    means = {"ll": [], "ted": []}
    for _ in range(300):
        ll = -cei * rng.gamma(lens[:, None] / 0.25, 0.25, (n, S))
        ted = rng.binomial(lens[:, None], 1.0 - np.exp(-cei)).astype(float)
        for k, v in (("ll", ll), ("ted", ted)):
            est[k].append(item_noise_var(v) / n)
            means[k].append(v.mean(axis=0))
    across = ll.var(axis=0, ddof=1) / n
    for k in est:
        ratio = np.mean(est[k], axis=0) / np.var(means[k], axis=0)
        assert np.all((ratio > 0.8) & (ratio < 1.45 if k == "ll" else ratio < 2.0)), (k, ratio)
    if sd:  # the spread across items would overstate the noise many times over
        assert np.all(across > 5 * np.var(means["ll"], axis=0))


def test_item_noise_never_exceeds_the_spread_across_items():
    # items learned at sizes of their own: per-item logistic trajectories with random midpoints
    # misfit both the multiplicative and the rank-1 model
    rng = np.random.default_rng(3)
    x = np.linspace(0, 5, 6)
    mid = rng.uniform(0, 5, (200, 1))
    p = 1 / (1 + np.exp(-3 * (x - mid)))
    ll = np.log(np.clip(p * rng.uniform(0.9, 1.0, p.shape), 1e-6, 1))
    ted = rng.binomial(4, 1 - p).astype(float)
    for v in (ll, ted):
        assert np.all(item_noise_var(v) <= v.var(axis=0, ddof=1) * (1 + 1e-12))


def test_item_noise_falls_back_to_the_spread_across_items_when_it_cannot_be_separated():
    y = np.array([[-1.0, -0.5, 0.2], [-2.0, -1.0, -0.5]])
    assert np.allclose(item_noise_var(y), y.var(axis=0, ddof=1))


def _test_curve(truth, metric, seed, **kw):
    df = simulate_family(truth, seed=seed, metrics=[metric], **kw)
    c = extract_curves(df, x="params").curves[0]
    d = as_curve_data(c)
    return c, d, latent_kind(metric, c.info, d.chance)


def test_power_law_is_inside_the_null_and_a_hinge_is_found():
    ps, hs = [], []
    for seed in range(12):
        c, d, k = _test_curve("power_law", "token_edit_distance", seed, n_items=300)
        ps.append(latent_break_test(d, kind=k, item_lengths=c.item_lengths, n_boot=99,
                                    seed=seed).pvalue)
        c, d, k = _test_curve("hinge", "token_edit_distance", seed, n_items=300)
        r = latent_break_test(d, kind=k, item_lengths=c.item_lengths, n_boot=99, seed=seed)
        hs.append(r.pvalue)
    assert np.mean(np.array(ps) <= 0.05) <= 0.25
    assert np.mean(np.array(hs) <= 0.05) >= 0.75
    assert r.best_kind in ("hinge", "step") and r.effect > 0


def test_result_states_null_reference_and_predicts_on_the_metric_scale():
    c, d, k = _test_curve("logistic", "exact_match", 1, n_items=400)
    r = latent_break_test(d, kind=k, item_lengths=c.item_lengths, n_boot=49, seed=0)
    assert "smooth latent competence" in r.null and "parametric bootstrap" in r.reference
    assert r.to_frame().loc[0, "test"] == "latent_break"
    fit = r.predict(d.x)
    assert fit.shape == d.y.shape and np.all((fit >= 0) & (fit <= 1))
    assert np.max(np.abs(fit - d.y)) < 0.1
    stat, p = r
    assert stat == r.statistic and 0 < p <= 1
    # same seed, same result
    r2 = latent_break_test(d, kind=k, item_lengths=c.item_lengths, n_boot=49, seed=0)
    assert r2.pvalue == r.pvalue and np.array_equal(r2.replicates, r.replicates)


def test_sequential_p_values_are_exact_at_or_below_the_level():
    # Besag-Clifford stopping: a p-value at or below exact_below equals the one of all B
    # replicates (same seed, same stream); one above it stays above it, from fewer replicates
    seen_small = seen_stop = False
    for truth, metric, seed in [("power_law", "exact_match", 0), ("hinge", "exact_match", 1),
                                ("power_law", "target_loglik", 2),
                                ("hinge", "token_edit_distance", 3),
                                ("saturating", "exact_match", 4)]:
        c, d, k = _test_curve(truth, metric, seed, n_items=300)
        full = latent_break_test(d, kind=k, item_lengths=c.item_lengths, n_boot=499, seed=seed,
                                 exact_below=None)
        seq = latent_break_test(d, kind=k, item_lengths=c.item_lengths, n_boot=499, seed=seed)
        assert full.n_boot_used == 499 and seq.n_boot_used <= 499
        assert np.array_equal(seq.replicates, full.replicates[:seq.n_boot_used])
        for f in ("pvalue", "pvalue_two_sided", "pvalue_one_sided", "decel_pvalue"):
            pf, ps = getattr(full, f), getattr(seq, f)
            if pf <= 0.1:
                assert ps == pf, (truth, metric, f)
                seen_small = True
            else:
                assert ps > 0.1, (truth, metric, f)
        if seq.n_boot_used < 499:
            seen_stop = True
            assert "stopped after" in seq.reference
    assert seen_small and seen_stop
    with pytest.raises(ValueError, match="exact_below"):
        latent_break_test(d, kind=k, n_boot=9, exact_below=1.5)


def test_schaeffers_exact_model_is_not_a_genuine_transition():
    # methods.md 1.2: per-token CE an exact power law, L = 5, 10 scales from 1e7 to 1e11, 500
    # identical items; exact match rises from about 0.002 to 0.79. At alpha = 0.05 about 5% of
    # such families may be called candidates by chance: 10 families allow at most 2 (P of more
    # than 2 at a true rate of 5% is 1.2%)
    verdicts = []
    for seed in range(10):
        df = simulate_family("power_law", n_items=500, target_tokens=5, seed=seed,
                             metrics=["exact_match", "token_edit_distance"])
        vt = assess(extract_curves(df, x="params"), n_boot=199, seed=seed, progress=False,
                    ic=False)
        verdicts.append(vt.verdicts().iloc[0]["verdict"])
    assert verdicts.count("candidate genuine transition") <= 2, verdicts
    assert verdicts.count("metric artifact") >= 5, verdicts


@pytest.mark.parametrize("values", [
    [0.014, 0, 0, 0, 0, 0, 0, 0],         # bbh_fewshot_snarks, Pythia rows (ObsScaling)
    [0, 0, 0, 0, 0, 0, 0.002, 0.002],      # gsm8k_cot_zeroshot
])
@pytest.mark.parametrize("n_items", [np.nan, 1000.0])
def test_aggregate_zeros_are_underpowered(values, n_items):
    x = 10 ** np.linspace(7.8, 10.1, 8)
    c = Curve("pythia", "t", "exact_match", 0, "params", x, np.array(values, float),
              np.full(8, np.nan), np.full(8, n_items), tuple(f"m{i}" for i in range(8)))
    v = assess([c], n_boot=99, progress=False).verdicts().iloc[0]
    assert v["verdict"] == "underpowered"
    assert "stuck at its floor" in v["reasons"]


def test_single_token_edit_distance_is_degenerate():
    df = simulate_family("hinge", n_items=300, target_tokens=1, seed=2,
                         metrics=["exact_match", "token_edit_distance"])
    vt = assess(extract_curves(df, x="params"), n_boot=99, seed=0, progress=False, ic=False)
    rows = vt.to_frame().set_index("metric")
    assert rows.loc["token_edit_distance", "degenerate_of"] == "exact_match"
    assert not rows.loc["token_edit_distance", "break_counts"]
    assert "neither confirm nor refute" in vt.verdicts().iloc[0]["reasons"]


def test_replicate_runs_measure_the_scatter():
    df = simulate_family("power_law", n_items=200, scatter_sd=0.3, n_runs=3, seed=4,
                         metrics=["exact_match", "target_loglik"])
    cs = extract_curves(df, x="params", runs="mean")
    assert all(c.runs is not None and c.runs.shape == (3, 10) for c in cs.curves)
    np.testing.assert_allclose(cs.curves[0].runs.mean(axis=0), cs.curves[0].y)
    vt = assess(cs, n_boot=99, seed=0, progress=False, ic=False)
    rows = vt.to_frame()
    assert (rows["tau2_source"] == "runs").all() and (rows["n_runs"] == 3).all()
    assert (rows["tau2"] > 0).all()
    assert "measured from replicate runs" in vt.verdicts().iloc[0]["reasons"]


def test_replicates_redraw_the_runs_and_re_measure_their_scatter():
    # the reference draws every run on its own and re-measures the scatter from their spread in
    # each replicate (a fixed scatter from three runs ignores its own uncertainty and rejects
    # too often); the vectorised estimator equals the one-set estimator row by row
    from emergence.stats.latent import LatentLink, _runs_tau2, _runs_tau2_many, _Setup

    link = LatentLink("exact_match", np.array([1.0, 3.0]), np.array([0.5, 0.5]))
    rng = np.random.default_rng(0)
    runs = rng.uniform(0.05, 0.9, size=(4, 3, 8))
    n = np.full(8, 200.0)
    setup = _Setup(link, np.linspace(7, 11, 8), n, None, None, True)
    many = _runs_tau2_many(setup, runs)
    one = [_runs_tau2(setup, r) for r in runs]
    np.testing.assert_allclose(many, one, rtol=1e-12)
    df = simulate_family("power_law", n_items=200, scatter_sd=0.3, n_runs=3, seed=5,
                         metrics=["target_loglik"], n_scales=8)
    c = extract_curves(df, x="params", runs="mean").curves[0]
    d = as_curve_data(c)
    r = latent_break_test(d, kind="loglik", item_lengths=c.item_lengths, runs=c.runs,
                          n_boot=99, seed=1)
    assert r.tau2_source == "runs"
    assert "3 runs per scale drawn one by one" in r.reference
    assert "re-measured from their spread" in r.reference


def test_below_chance_is_never_a_metric_artifact():
    rng = np.random.default_rng(0)
    x = 10 ** np.linspace(8, 11, 10)
    p = np.r_[np.full(5, 0.19), [0.2, 0.3, 0.45, 0.6, 0.7]]
    y = rng.binomial(2000, p) / 2000
    c = Curve("f", "arc_challenge", "acc", 0, "params", x, y, np.full(10, np.nan),
              np.full(10, 2000.0), tuple(f"m{i}" for i in range(10)), chance=0.25)
    vt = assess([c], n_boot=99, progress=False, ic=False)
    v = vt.verdicts().iloc[0]
    assert vt.to_frame().iloc[0]["below_chance_scales"] >= 5
    assert v["verdict"] != "metric artifact"
    assert "below chance" in v["reasons"]


def test_saturating_loss_is_inside_the_null():
    rng = np.random.default_rng(1)
    x = 10 ** np.linspace(7, 11, 10)
    loss = (1.7 + 400 * x ** -0.34) * np.exp(rng.normal(0, 0.003, 10))
    c = Curve("f", "lm", "loss", None, "params", x, loss, np.full(10, 0.005),
              np.full(10, np.nan), tuple(f"m{i}" for i in range(10)))
    row = assess([c], n_boot=99, progress=False, ic=False).to_frame().iloc[0]
    assert row["latent"] == "loss" and row["pblrt_pvalue"] > 0.05
    assert row["shape_floor"] > 0


def test_every_row_names_its_null():
    df = simulate_family("logistic", n_items=200, seed=5)
    vt = assess(extract_curves(df, x="params"), n_boot=49, progress=False, ic=False)
    g = vt.verdicts().iloc[0]
    for m in ("exact_match", "token_edit_distance", "target_loglik"):
        assert f"{m}: latent (" in g["null_models"]
    assert isinstance(vt.to_frame(), pd.DataFrame)
