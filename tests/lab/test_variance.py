"""Between-run and item-level variance of the lab (no torch needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emergence.lab.variance import pooled_run_variance, run_variance


def _table(values: np.ndarray, *, model="m", params=1e4, step=10, task="t", metric="loss"):
    k, n = values.shape
    return pd.DataFrame({
        "family": "f", "model": model, "step": step, "task": task, "metric": metric,
        "params": params, "run": np.repeat([f"seed{r}" for r in range(k)], n),
        "item": np.tile([str(i) for i in range(n)], k), "value": values.ravel(),
    })


def test_hand_computed_values():
    v = np.array([[1.0, 2.0, 3.0], [2.0, 2.0, 5.0], [0.0, 1.0, 2.0]])
    r = run_variance(_table(v)).iloc[0]
    means = v.mean(axis=1)
    assert r["n_runs"] == 3 and r["n_items"] == 3
    assert r["mean"] == pytest.approx(means.mean())
    assert r["var_between"] == pytest.approx(means.var(ddof=1))
    assert r["var_item"] == pytest.approx((v.var(axis=1, ddof=1) / 3).mean())
    assert r["share_between"] == pytest.approx(r["var_between"] / (r["var_between"]
                                                                  + r["var_item"]))
    # chi-square interval for the sd with 2 degrees of freedom (R: sqrt(2*s2/qchisq(.975, 2)))
    s2 = means.var(ddof=1)
    assert r["sd_between_lo"] == pytest.approx(np.sqrt(2 * s2 / 7.377758908227871))
    assert r["sd_between_hi"] == pytest.approx(np.sqrt(2 * s2 / 0.05063561596857975))


def test_final_step_per_model_and_single_run():
    early = _table(np.zeros((2, 4)), step=5)
    late = _table(np.array([[1.0, 0, 1, 0], [1.0, 1, 1, 0]]), step=10)
    one = _table(np.ones((1, 4)), model="solo", params=1e5, step=10)
    rv = run_variance(pd.concat([early, late, one]))
    assert rv["model"].tolist() == ["m", "solo"] and rv["step"].tolist() == [10, 10]
    assert rv.loc[0, "var_between"] == pytest.approx(np.var([0.5, 0.75], ddof=1))
    assert np.isnan(rv.loc[1, "var_between"]) and np.isnan(rv.loc[1, "share_between"])
    every = run_variance(pd.concat([early, late]), step=None)
    assert every["step"].tolist() == [5, 10]
    # identical runs with identical items: 0 / 0 is not a share
    assert np.isnan(every.loc[0, "share_between"])


def test_expectations_under_a_two_way_model():
    """var_between estimates var(a) + var(e)/n; var_item estimates (var(b) + var(e))/n."""
    rng = np.random.default_rng(7)
    k, n, sa, sb, se = 4, 50, 0.3, 1.0, 0.5
    vb, vi = [], []
    for _ in range(400):
        y = (rng.normal(0, sa, (k, 1)) + rng.normal(0, sb, (1, n))
             + rng.normal(0, se, (k, n)))
        r = run_variance(_table(y)).iloc[0]
        vb.append(r["var_between"])
        vi.append(r["var_item"])
    assert np.mean(vb) == pytest.approx(sa**2 + se**2 / n, rel=0.1)
    assert np.mean(vi) == pytest.approx((sb**2 + se**2) / n, rel=0.05)


def test_pooled_and_errors():
    a = _table(np.array([[1.0, 0, 1, 0], [1.0, 1, 1, 0]]))
    b = _table(np.array([[1.0, 1, 1, 1], [1.0, 1, 1, 1]]), model="big", params=1e6)
    p = pooled_run_variance(run_variance(pd.concat([a, b]))).iloc[0]
    assert p["n_sizes"] == 1 and p["n_degenerate"] == 1
    with pytest.raises(ValueError, match="'run' column"):
        run_variance(a.drop(columns="run"))
