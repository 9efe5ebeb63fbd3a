"""The simulator of model families with a known truth (emergence.simulate)."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from emergence.curves import extract_curves
from emergence.schema import validate
from emergence.simulate import (
    TRUTHS,
    latent_log_ce,
    simulate_aggregate,
    simulate_family,
)

NUIS = dict(item_sd=0.5, scatter_sd=0.25, overdispersion=0.3, target_tokens=[1, 3, 8],
            spacing="random")


def test_same_seed_same_table_and_other_seed_differs():
    a = simulate_family("hinge", n_items=50, seed=7, **NUIS)
    b = simulate_family("hinge", n_items=50, seed=7, **NUIS)
    c = simulate_family("hinge", n_items=50, seed=8, **NUIS)
    pd.testing.assert_frame_equal(a, b)
    assert not np.array_equal(a["value"].to_numpy(), c["value"].to_numpy())
    g = np.random.default_rng(3)
    d = simulate_family("logistic", n_items=20, seed=g)
    e = simulate_family("logistic", n_items=20, seed=np.random.default_rng(3))
    pd.testing.assert_frame_equal(d, e)


def test_nuisances_draw_from_their_own_streams():
    # switching scatter on leaves the item offsets and lengths (and so the truth per item) alone
    a = simulate_family("power_law", n_items=30, item_sd=0.5, target_tokens=[2, 5], seed=1,
                        latent=True)
    b = simulate_family("power_law", n_items=30, item_sd=0.5, target_tokens=[2, 5], seed=1,
                        latent=True, scatter_sd=0.25)
    assert (a["target_tokens"].to_numpy() == b["target_tokens"].to_numpy()).all()
    la = np.log(-np.log(a["latent_p"].to_numpy()))
    lb = np.log(-np.log(b["latent_p"].to_numpy()))
    # the difference is one offset per scale, the same for every item
    diff = pd.Series(lb - la).groupby(a["model"].to_numpy()).agg(["min", "max"])
    assert np.allclose(diff["min"], diff["max"])
    assert diff["min"].abs().max() > 0


@pytest.mark.parametrize("truth", TRUTHS)
def test_output_is_schema_valid_and_extracts_one_item_matrix_per_metric(truth):
    df = simulate_family(truth, n_scales=6, n_items=40, seed=0, **NUIS)
    tidy = validate(df)
    assert len(tidy) == len(df) == 6 * 40 * 3
    assert tidy["target_tokens"].isin([1, 3, 8]).all()
    cs = extract_curves(df, x="params")
    assert len(cs.excluded) == 0
    assert sorted(c.metric for c in cs.curves) == ["exact_match", "target_loglik",
                                                   "token_edit_distance"]
    for c in cs.curves:
        assert c.items.shape == (40, 6)
        assert np.all(np.diff(c.x) > 0)
    em = cs.curves[0].items
    ted = cs.curves[2].items
    assert np.array_equal(em, (ted == 0).astype(float))  # one shared draw of wrong tokens


def test_multiple_choice_and_runs_columns():
    df = simulate_family("logistic", n_items=30, n_choices=4, n_runs=3, scatter_sd=0.25, seed=2)
    assert sorted(df["metric"].unique()) == ["acc", "brier_score", "target_loglik"]
    assert (df["n_choices"] == 4).all()
    assert sorted(df["run"].unique()) == [0, 1, 2]
    assert df["value"][df.metric == "brier_score"].between(0, 1).all()
    for _, part in df.groupby("run"):
        cs = extract_curves(part.drop(columns="run"), x="params")
        assert len(cs.curves) == 3
    # runs differ by their own scatter; the items are shared
    r0 = df[(df.run == 0) & (df.metric == "target_loglik")]["value"].to_numpy()
    r1 = df[(df.run == 1) & (df.metric == "target_loglik")]["value"].to_numpy()
    assert not np.allclose(r0, r1)


def _z(obs_sum, exp_sum, var_sum):
    return (obs_sum - exp_sum) / np.sqrt(var_sum)


def test_empirical_means_match_the_formulas():
    # 20,000 items per scale; each check is a z-score against the exact Monte Carlo sd
    df = simulate_family("power_law_floor", n_scales=5, n_items=20000, seed=11, latent=True,
                         item_sd=0.4, overdispersion=0.2, target_tokens=[1, 2, 5, 8])
    for metric, mean_fn, var_fn in (
        ("exact_match", lambda p, L: p ** L, lambda p, L: p ** L * (1 - p ** L)),
        ("token_edit_distance", lambda p, L: L * (1 - p), lambda p, L: L * p * (1 - p)),
        # target_loglik: mean -L CE, variance L CE^2 cv^2 with cv = 1
        ("target_loglik", lambda p, L: L * np.log(p), lambda p, L: L * np.log(p) ** 2),
    ):
        part = df[df.metric == metric]
        for _, g in part.groupby("model"):
            p = g["latent_p"].to_numpy()
            L = g["target_tokens"].to_numpy()
            z = _z(g["value"].sum(), mean_fn(p, L).sum(), var_fn(p, L).sum())
            assert abs(z) < 4.5, (metric, z)


def test_exact_match_follows_the_truth_shape_without_nuisances():
    x = np.linspace(7, 11, 6)
    df = simulate_family("logistic", log10_params=x, n_items=20000, seed=4,
                         metrics=["exact_match"])
    pm = np.exp(-np.exp(latent_log_ce("logistic", x)))
    em = df.groupby("params")["value"].mean().to_numpy()
    sd = np.sqrt(pm ** 5 * (1 - pm ** 5) / 20000)
    assert np.all(np.abs(em - pm ** 5) < 4.5 * sd + 1e-12)
    # logistic truth: the per-token logit is linear in log N
    logit = np.log(pm / (1 - pm))
    assert np.allclose(np.diff(logit), np.diff(logit)[0])


def test_multiple_choice_accuracy_has_the_chance_floor_and_brier_its_formula():
    k = 4
    df = simulate_family("power_law", n_scales=4, n_items=20000, n_choices=k, seed=5,
                         latent=True, target_tokens=3)
    acc = df[df.metric == "acc"]
    for _, g in acc.groupby("model"):
        p = g["latent_p"].to_numpy()
        q = 1 / k + (1 - 1 / k) * p ** 3
        assert abs(_z(g["value"].sum(), q.sum(), (q * (1 - q)).sum())) < 4.5
    ll = df[df.metric == "target_loglik"]["value"].to_numpy()
    br = df[df.metric == "brier_score"]["value"].to_numpy()
    q = 1 / k + (1 - 1 / k) * np.exp(ll)
    assert np.allclose(br, (1 - q) ** 2 * k / (k - 1))
    # at the smallest scale accuracy sits near chance, not near 0
    first = acc[acc.params == acc.params.min()]["value"].mean()
    assert 0.22 < first < 0.32


def test_truth_shapes():
    x = np.linspace(7, 11, 41)
    pl = latent_log_ce("power_law", x)
    assert np.allclose(np.diff(pl, 2), 0)  # ln CE linear in log N
    # Schaeffer et al.'s case: exact match with L = 5 from 0.002 to 0.79
    assert np.allclose(np.exp(-5 * np.exp(pl[[0, -1]])), [0.002, 0.79], atol=5e-4)
    fl = latent_log_ce("power_law_floor", x, shape={"E": 0.05})
    assert np.all(np.exp(fl) > 0.05) and np.exp(fl[-1]) < 0.05 + np.exp(pl[-1]) + 1e-12
    assert np.ptp(latent_log_ce("flat", x)) == 0
    h = latent_log_ce("hinge", x, shape={"factor": 5.0, "psi": 9.0})
    sl = np.diff(h) / np.diff(x)
    assert np.allclose(sl[x[1:] <= 9.0], sl[0])
    assert np.allclose(sl[x[:-1] >= 9.0], 5 * sl[0])
    s = latent_log_ce("step", x, shape={"jump": 1.5, "psi": 9.0})
    assert np.allclose(s - pl, np.where(x >= 9.0, -1.5, 0.0))
    sat = np.exp(-5 * np.exp(latent_log_ce("saturating", x)))
    top = np.exp(-5 * 0.01)
    assert np.mean(sat > 0.9 * top) > 0.6  # near its ceiling over most of the range
    with pytest.raises(ValueError, match="factor"):
        latent_log_ce("hinge", x, shape={"factor": 0.5})
    with pytest.raises(ValueError, match="unknown"):
        latent_log_ce("power_law", x, shape={"jump": 1.0})
    with pytest.raises(ValueError, match="truth"):
        latent_log_ce("sigmoid", x)


def test_uneven_spacing_keeps_the_ends_and_no_ties():
    df = simulate_family("power_law", n_scales=12, n_items=5, spacing="random", seed=9)
    x = np.log10(np.sort(df["params"].unique()))
    assert x.size == 12 and np.isclose(x[0], 7) and np.isclose(x[-1], 11)
    assert np.diff(x).std() > 0.05


def test_no_python_loop_per_item():
    # the number of Python and C function calls does not grow with the number of items:
    # the cost is vectorised, linear in the size of the arrays
    def calls(n):
        c = [0]

        def prof(frame, event, arg):
            if event in ("call", "c_call"):
                c[0] += 1

        sys.setprofile(prof)
        try:
            simulate_family("hinge", n_items=n, seed=0, **NUIS)
        finally:
            sys.setprofile(None)
        return c[0]

    simulate_family("hinge", n_items=3, seed=0, **NUIS)  # warm imports and caches
    assert calls(20) == calls(5000)


def test_aggregate_rows():
    agg = simulate_aggregate("power_law", n_scales=5, n_items=300, seed=3, with_stderr=True)
    full = simulate_family("power_law", n_scales=5, n_items=300, seed=3)
    mean = full.groupby(["params", "metric"])["value"].mean()
    got = agg.set_index(["params", "metric"])["value"]
    assert np.allclose(got.sort_index(), mean.sort_index())
    assert (agg["n_items"] == 300).all() and agg["stderr"].notna().all()
    cs = extract_curves(agg, x="params")
    assert len(cs.curves) == 3 and all(c.items is None for c in cs.curves)
    bare = simulate_aggregate("power_law", n_scales=5, n_items=300, seed=3, with_n_items=False,
                              decimals=3)
    assert "n_items" not in bare and np.allclose(bare["value"], bare["value"].round(3))
    runs = simulate_aggregate("flat", n_scales=5, n_items=30, n_runs=2, seed=3)
    assert len(runs) == 2 * 5 * 3 and set(runs["run"]) == {0, 1}


def test_bad_arguments():
    with pytest.raises(ValueError, match="metrics"):
        simulate_family(metrics=["acc"])
    with pytest.raises(ValueError, match="item_sd"):
        simulate_family(item_sd=-1)
    with pytest.raises(ValueError, match="target_tokens"):
        simulate_family(target_tokens=0)
    with pytest.raises(ValueError, match="n_choices"):
        simulate_family(n_choices=1)
    with pytest.raises(ValueError, match="spacing"):
        simulate_family(spacing="log")
