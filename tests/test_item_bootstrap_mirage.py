"""Item-cluster bootstrap, score-compute correlations and the Mirage check.

References: a direct loop over bootstrap replicates (same draws), scipy.stats correlations, and
simulations under the Mirage model (independent per-token errors) and off it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emergence.item_bootstrap import (
    cluster_bootstrap_means,
    item_bootstrap,
    item_correlations,
    score_compute_correlations,
)
from emergence.mirage import mirage_check
from emergence.stats._resample import resample_counts as _counts


def _scores(items: np.ndarray, metric: str = "exact_match", params=None) -> pd.DataFrame:
    n, s = items.shape
    params = params if params is not None else 10.0 ** (6 + np.arange(s))
    return pd.DataFrame({
        "family": "f", "model": np.repeat([f"m{k}" for k in range(s)], n), "task": "t",
        "metric": metric, "item": np.tile([str(j) for j in range(n)], s),
        "value": items.T.ravel(), "params": np.repeat(params, n),
        "flops": np.repeat(np.asarray(params) * 1e9, n)})


def test_bootstrap_equals_loop_over_the_same_draws():
    rng = np.random.default_rng(3)
    items = rng.random((30, 4))
    fast = cluster_bootstrap_means(items, n_boot=200, seed=11)
    idx = np.random.default_rng(11).integers(0, 30, size=(200, 30))
    slow = np.array([items[row].mean(axis=0) for row in idx])
    np.testing.assert_allclose(fast, slow, rtol=1e-12)
    # the same draw is used for every scale: the counts matrix has rows summing to n
    w = _counts(30, 5, np.random.default_rng(0))
    assert (w.sum(axis=1) == 30).all()


def test_bootstrap_reproducible_and_seeded():
    rng = np.random.default_rng(5)
    df = _scores((rng.random((40, 3)) < [0.1, 0.3, 0.8]).astype(float))
    a = item_bootstrap(df, n_boot=300, seed=42).table
    b = item_bootstrap(df, n_boot=300, seed=42).table
    c = item_bootstrap(df, n_boot=300, seed=43).table
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["ci_low"], c["ci_low"]) or not np.allclose(a["ci_high"],
                                                                        c["ci_high"])
    assert (a["ci_low"] <= a["mean"]).all() and (a["mean"] <= a["ci_high"]).all()
    assert np.isnan(a["diff"].iloc[0]) and a["diff"].iloc[1:].notna().all()


def test_paired_difference_is_narrower_than_independent():
    # strongly correlated items across scales: the joint draw makes the adjacent-scale change
    # much more precise than the per-scale means
    rng = np.random.default_rng(0)
    base = rng.random(200)
    items = np.column_stack([0.9 * base, 0.9 * base + 0.01])
    res = item_bootstrap(_scores(items, metric="p_choices"), n_boot=500, seed=1).table
    width_mean = (res["ci_high"] - res["ci_low"]).iloc[1]
    width_diff = (res["diff_high"] - res["diff_low"]).iloc[1]
    assert width_diff < width_mean / 10
    assert res["diff"].iloc[1] == pytest.approx(0.01)


@pytest.mark.slow
def test_bootstrap_interval_coverage():
    # H: the per-scale mean of Bernoulli(p) items; nominal 95% percentile intervals should cover
    # the true p in about 95% of simulated data sets (n=100 items)
    rng = np.random.default_rng(2024)
    p = np.array([0.2, 0.5])
    n, sims, hits = 100, 300, np.zeros(2)
    for _ in range(sims):
        items = (rng.random((n, 2)) < p).astype(float)
        r = cluster_bootstrap_means(items, n_boot=400, seed=rng)
        lo, hi = np.quantile(r, [0.025, 0.975], axis=0)
        hits += (lo <= p) & (p <= hi)
    cover = hits / sims
    # binomial sd of the coverage estimate at 300 sims is ~0.013
    assert np.all(cover > 0.90) and np.all(cover < 0.99)


@pytest.mark.parametrize("method,ref", [("pearson", stats.pearsonr), ("spearman", stats.spearmanr),
                                        ("kendall", stats.kendalltau)])
def test_item_correlations_match_scipy(method, ref):
    rng = np.random.default_rng(7)
    x = np.log10([1e6, 3e6, 1e7, 1e8, 1e9, 2e9])
    y = np.round(rng.random((60, 6)) * 4) / 4  # ties, as with quantised scores
    y[0] = 0.5  # constant item
    ours = item_correlations(x, y, method=method)
    assert np.isnan(ours[0])
    for j in range(1, 60):
        if np.ptp(y[j]) == 0:
            assert np.isnan(ours[j])
            continue
        assert ours[j] == pytest.approx(ref(x, y[j])[0], abs=1e-12)


def test_score_compute_correlations_chain_and_nan_counts():
    rng = np.random.default_rng(9)
    n, s = 50, 5
    ll = -5 + np.arange(s) * 0.8 + rng.normal(0, 0.3, (n, s))
    acc = (rng.random((n, s)) < 0.5).astype(float)
    acc[:10] = 0.0  # constant items -> NaN correlations, counted
    brier = 1 - np.exp(ll / 5)
    df = pd.concat([_scores(ll, "target_loglik"), _scores(acc, "multiple_choice_grade"),
                    _scores(brier, "brier_score")], ignore_index=True)
    res = score_compute_correlations(df, x="flops")
    assert res.table["metric"].tolist() == ["target_loglik", "brier_score",
                                            "multiple_choice_grade"]
    t = res.table.set_index("metric")
    assert t.loc["multiple_choice_grade", "n_nan"] >= 10
    assert t.loc["target_loglik", "mean"] > t.loc["multiple_choice_grade", "mean"]
    # Brier is lower-is-better: it was negated, so it correlates positively with scale
    assert t.loc["brier_score", "negated"] and t.loc["brier_score", "mean"] > 0.5
    assert t.loc["target_loglik", "auc_ccdf"] == pytest.approx(1 + t.loc["target_loglik",
                                                                         "mean"])
    assert len(res.per_item) == 3 * n
    assert "NaN" in res.summary()
    with pytest.raises(ValueError, match="at least 3 scales"):
        score_compute_correlations(_scores(ll[:, :2], "target_loglik"), x="flops")


def _mirage_records(p_by_scale, n=300, seed=0, force_correct=None):
    rng = np.random.default_rng(seed)
    L = rng.integers(1, 5, n)
    targets = ["".join(rng.choice(list("0123456789"), size=k)) for k in L]
    rows = []
    for s, p in enumerate(p_by_scale):
        for j, (t, k) in enumerate(zip(targets, L, strict=True)):
            ok = rng.random(k) < p
            if force_correct is not None and s == force_correct:
                ok[:] = True
            pred = "".join(c if o else "x" for c, o in
                           zip(t, ok, strict=True))
            rows.append({"model": f"m{s}", "params": 10.0 ** (6 + s), "task": "gen",
                         "item": str(j), "output_type": "generate_until", "prediction": pred,
                         "target": t, "target_loglik": k * np.log(p), "family": "f"})
    return pd.DataFrame(rows)


def test_mirage_consistent_under_the_model():
    p = [0.2, 0.5, 0.8, 0.95]
    res = mirage_check(_mirage_records(p), task="gen", tokenizer="characters", n_boot=400,
                       seed=0)
    t = res.table
    np.testing.assert_allclose(t["p_hat"], p, rtol=1e-12)
    np.testing.assert_allclose(t["esm_obs"], t["esm_pred"], atol=0.06)
    np.testing.assert_allclose(t["ted_obs"], t["ted_pred"], atol=0.15)
    assert "Mirage check for gen" in res.summary()


def test_mirage_false_inconsistency_rate():
    # H0 (the Mirage model holds): 'consistent' uses Bonferroni-adjusted 95% intervals across
    # scales, so the share of simulated data sets declared inconsistent should be about 5% or less
    # (20 data sets: allow up to 4, i.e. P(>4 | rate 0.05) < 0.003)
    p = [0.2, 0.5, 0.8, 0.95]
    flagged = sum(not mirage_check(_mirage_records(p, n=150, seed=100 + k), task="gen",
                                   tokenizer="characters", n_boot=200, seed=k).consistent
                  for k in range(20))
    assert flagged <= 4


def test_mirage_detects_a_jump_the_per_token_curve_does_not_predict():
    p = [0.2, 0.5, 0.8, 0.95]
    res = mirage_check(_mirage_records(p, force_correct=1), task="gen",
                       tokenizer="characters", n_boot=400, seed=0)
    assert not res.consistent
    row = res.table.iloc[1]
    assert row["esm_obs"] == 1.0 and row["esm_diff_low"] > 0


def test_mirage_input_errors():
    rec = _mirage_records([0.5, 0.9], n=20)
    with pytest.raises(ValueError, match="no target log-likelihood"):
        mirage_check(rec.assign(target_loglik=np.nan), task="gen")
    with pytest.raises(ValueError, match="-inf"):
        mirage_check(rec.assign(target_loglik=-np.inf), task="gen")
    with pytest.raises(ValueError, match="no generate_until"):
        mirage_check(rec, task="other")
    two = pd.concat([rec.assign(filter="a"), rec.assign(filter="b")], ignore_index=True)
    with pytest.raises(ValueError, match="several filters"):
        mirage_check(two, task="gen")
    assert len(mirage_check(two, task="gen", filter="a", n_boot=50, seed=0).table) == 2


def test_mirage_check_resamples_in_bounded_chunks(monkeypatch):
    # the item resampling counts are drawn a few replicates at a time (memory linear in items):
    # the same draws and the same table as with every replicate held at once
    from emergence.stats import _resample

    p = np.linspace(0.5, 0.95, 6)
    whole = mirage_check(_mirage_records(p), task="gen", tokenizer="characters", n_boot=120,
                         seed=3).table
    monkeypatch.setattr(_resample, "CHUNK_COUNTS", 500)
    chunked = mirage_check(_mirage_records(p), task="gen", tokenizer="characters", n_boot=120,
                           seed=3).table
    num = whole.select_dtypes("number").columns
    np.testing.assert_allclose(chunked[num].to_numpy(), whole[num].to_numpy(), rtol=1e-12,
                               atol=1e-12)
