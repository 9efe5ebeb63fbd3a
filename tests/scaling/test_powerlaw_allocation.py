"""One-axis power laws (checked against statsmodels OLS) and compute-optimal allocation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.optimize import minimize_scalar

from emergence import EmergenceError
from emergence.curves import extract_curves
from emergence.scaling import (
    BESIROGLU_2024,
    HOFFMANN_2022,
    compute_optimal,
    fit_chinchilla,
    fit_power_law,
    place_models,
)


def test_floor_recovered_exactly():
    x = np.geomspace(1e7, 1e10, 8)
    fit = fit_power_law(x, 1.69 + 406.4 * x**-0.34, n_boot=0)
    assert fit.E == pytest.approx(1.69, rel=1e-6)
    assert fit.A == pytest.approx(406.4, rel=1e-5)
    assert fit.alpha == pytest.approx(0.34, rel=1e-6)


def test_no_floor_matches_statsmodels():
    # reference: OLS of log y on log x (statsmodels), t intervals and prediction intervals
    rng = np.random.default_rng(0)
    x = np.geomspace(1e8, 1e11, 9)
    y = 2e3 * x**-0.25 * np.exp(rng.normal(0, 0.03, x.size))
    fit = fit_power_law(x, y, floor=False, n_boot=0, level=0.9)
    ols = sm.OLS(np.log(y), sm.add_constant(np.log(x))).fit()
    assert fit.alpha == pytest.approx(-ols.params[1], rel=1e-10)
    assert np.log(fit.A) == pytest.approx(ols.params[0], rel=1e-10)
    ci = fit.intervals().set_index("parameter")
    ref = ols.conf_int(alpha=0.1)
    assert ci.loc["alpha", "ci_low"] == pytest.approx(-ref[1, 1], rel=1e-8)
    assert np.log(ci.loc["A", "ci_high"]) == pytest.approx(ref[0, 1], rel=1e-8)
    x0 = np.array([3e11, 1e12])
    band = fit.band(x0, kind="prediction")
    pr = ols.get_prediction(sm.add_constant(np.log(x0))).summary_frame(alpha=0.1)
    np.testing.assert_allclose(np.log(band["lo"]), pr["obs_ci_lower"], rtol=1e-8)
    np.testing.assert_allclose(np.log(band["hi"]), pr["obs_ci_upper"], rtol=1e-8)
    conf = fit.band(x0, kind="confidence")
    np.testing.assert_allclose(np.log(conf["hi"]), pr["mean_ci_upper"], rtol=1e-8)


def test_no_floor_interval_coverage():
    # exact t intervals: coverage of alpha close to nominal over 300 simulated data sets
    x = np.geomspace(1e7, 1e10, 8)
    hits = 0
    for s in range(300):
        y = 3e3 * x**-0.3 * np.exp(np.random.default_rng(s).normal(0, 0.05, x.size))
        ci = fit_power_law(x, y, floor=False, n_boot=0).intervals().set_index("parameter")
        hits += ci.loc["alpha", "ci_low"] < 0.3 < ci.loc["alpha", "ci_high"]
    assert 0.91 <= hits / 300 <= 0.98


def test_floor_bootstrap_seeded_and_band():
    rng = np.random.default_rng(1)
    x = np.geomspace(1e7, 1e10, 10)
    y = (1.7 + 400 * x**-0.34) * np.exp(rng.normal(0, 0.005, x.size))
    a = fit_power_law(x, y, n_boot=300, seed=5)
    b = fit_power_law(x, y, n_boot=300, seed=5)
    pd.testing.assert_frame_equal(a.bootstrap, b.bootstrap)
    ci = a.intervals().set_index("parameter")
    assert ci.loc["E", "ci_low"] < a.E < ci.loc["E", "ci_high"]
    band = a.band([1e11, 1e12], kind="prediction")
    assert (band["lo"] < band["predicted"]).all() and (band["predicted"] < band["hi"]).all()
    assert "power law" in a.summary()
    assert set(a.to_frame()["parameter"]) == {"E", "A", "alpha"}


def test_power_law_from_curve():
    df = pd.DataFrame({"family": "f", "model": ["a", "b", "c", "d"], "task": "t",
                       "metric": "loss", "value": [4.0, 3.0, 2.5, 2.2],
                       "params": [1e7, 1e8, 1e9, 1e10]})
    c = extract_curves(df, x="params").curves[0]
    fit = fit_power_law(c, floor=False, n_boot=0)
    assert fit.x_name == "params" and fit.y_name == "loss"


def test_power_law_bad_input():
    x = np.geomspace(1, 100, 5)
    with pytest.raises(EmergenceError, match="must be positive"):
        fit_power_law(x, np.array([1.0, 0.5, -0.1, 0.2, 0.1]))
    with pytest.raises(EmergenceError, match="2 points but the power law with a floor has 3"):
        fit_power_law(x[:2], np.array([2.0, 1.0]))
    with pytest.raises(EmergenceError, match="same x"):
        fit_power_law(np.ones(4), np.array([2.0, 1.0, 1.5, 1.2]))
    exact = fit_power_law(x[:3], np.array([3.0, 2.0, 1.5]), n_boot=100)
    assert exact.bootstrap is None and any("exact fit" in n for n in exact.notes)


@pytest.mark.parametrize("law", [HOFFMANN_2022, BESIROGLU_2024], ids=["hoffmann", "besiroglu"])
def test_compute_optimal_matches_numerical_minimum(law):
    for C in (1e20, 5.76e23, 1e26):
        res = minimize_scalar(lambda ln, C=C: law.predict(np.exp(ln), C / (6 * np.exp(ln))),
                              bounds=(np.log(1e6), np.log(1e14)), method="bounded",
                              options={"xatol": 1e-10})
        row = compute_optimal(C, law).iloc[0]
        assert row["N_opt"] == pytest.approx(np.exp(res.x), rel=1e-4)
        assert row["D_opt"] * row["N_opt"] * 6 == pytest.approx(C)


def test_fixed_ratio_and_bootstrap_intervals():
    fr = compute_optimal([6e21, 6e23], None, tokens_per_param=20)
    np.testing.assert_allclose(fr["tokens_per_param"], 20)
    rng = np.random.default_rng(2)
    N = np.exp(rng.uniform(np.log(4e7), np.log(1.6e10), 80))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), 80))
    L = BESIROGLU_2024.predict(N, D) * np.exp(rng.normal(0, 0.003, 80))
    g = np.array([[5.0, 7.0, 0.5, 0.3, 0.3], [6.0, 8.0, 0.6, 0.35, 0.35]])
    fit = fit_chinchilla(params=N, tokens=D, loss=L, grid=g, n_boot=40, seed=0)
    out = compute_optimal([1e22, 1e24], fit)
    assert (out["N_opt_lo"] < out["N_opt"]).all() and (out["N_opt"] < out["N_opt_hi"]).all()
    with pytest.raises(EmergenceError, match="positive"):
        compute_optimal([0.0], HOFFMANN_2022)


def test_place_models_uses_active_params():
    t = pd.DataFrame({"family": ["moe", "dense"], "model": ["moe-47b", "dense-13b"],
                      "task": "t", "metric": "acc", "value": [0.5, 0.5],
                      "params": [47e9, 13e9], "active_params": [13e9, 13e9],
                      "tokens": [2e12, 2e12]})
    out = place_models(t, HOFFMANN_2022).set_index("model")
    # same active parameters and tokens: the same place on the frontier
    assert out.loc["moe-47b", "N"] == 13e9
    assert out.loc["moe-47b", "size_ratio"] == pytest.approx(out.loc["dense-13b", "size_ratio"])
    assert out.loc["moe-47b", "C"] == pytest.approx(6 * 13e9 * 2e12)
    runs = pd.DataFrame({"model": ["a", "b", "c"], "N": [1e9, 7e10, 1e10], "D": [1e12, 2e10, 2e11]})
    st = place_models(runs, tokens_per_param=20)["status"].tolist()
    assert st == ["over-trained", "under-trained", "near-optimal"]
    lw = place_models(runs, HOFFMANN_2022)
    assert (lw["loss_excess"] >= -1e-12).all()
