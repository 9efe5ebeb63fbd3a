"""Backtests, sigmoid transition fits, figures, the report section and the CLI."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from emergence import EmergenceError
from emergence.cli import main
from emergence.curves import Curve
from emergence.scaling import (
    backtest,
    backtest_frame,
    fit_sigmoid,
    per_token_loss,
    plot_backtest,
    plot_emergence,
    plot_loss_vs_compute,
    pooled_curve,
    report_section,
)


def _curve(x, y, metric="acc", task="t", chance=float("nan"), labels=None):
    n = len(x)
    return Curve(family="f", task=task, metric=metric, shots=0, x_name="flops",
                 x=np.asarray(x, float), y=np.asarray(y, float), stderr=np.full(n, np.nan),
                 n_items=np.full(n, np.nan),
                 labels=tuple(labels or [f"m{i}" for i in range(n)]), chance=chance)


def test_linear_backtest_matches_statsmodels_prediction_interval():
    rng = np.random.default_rng(0)
    x = np.geomspace(1e19, 1e24, 12)
    y = 0.1 * np.log10(x) - 1.5 + rng.normal(0, 0.02, x.size)
    res = backtest(x, y, method="linear", cutoff=1e22, level=0.9)
    fit = x < 1e22
    ols = sm.OLS(y[fit], sm.add_constant(np.log10(x[fit]))).fit()
    pr = ols.get_prediction(sm.add_constant(np.log10(x[~fit]))).summary_frame(alpha=0.1)
    fc = res.points[res.points["split"] == "forecast"]
    np.testing.assert_allclose(fc["lo"], pr["obs_ci_lower"], rtol=1e-10)
    np.testing.assert_allclose(fc["hi"], pr["obs_ci_upper"], rtol=1e-10)
    np.testing.assert_allclose(fc["predicted"], pr["mean"], rtol=1e-10)
    assert res.n_fit == int(fit.sum()) and res.n_forecast == int((~fit).sum())
    err = y[~fit] - pr["mean"].to_numpy()
    assert res.mae == pytest.approx(np.mean(np.abs(err)))


def test_linear_interval_coverage_under_the_null():
    # the forecast interval of a correctly specified linear model covers at the nominal rate
    x = np.geomspace(1e19, 1e24, 10)
    hits, total = 0, 0
    for s in range(300):
        y = 0.1 * np.log10(x) + np.random.default_rng(s).normal(0, 0.05, x.size)
        r = backtest(x, y, method="linear", cutoff=3e22, level=0.9)
        fc = r.points[r.points["split"] == "forecast"]
        hits += int(fc["inside"].iloc[0])
        total += 1
    assert 0.85 <= hits / total <= 0.95


def test_sigmoid_backtest_recovers_noise_free_curve():
    x = np.geomspace(1e20, 1e24, 16)
    y = 0.25 + 0.75 / (1 + np.exp(-2.0 * (np.log10(x) - 22.0)))
    res = backtest(_curve(x, y, chance=0.25), method="sigmoid", cutoff=3e22, n_boot=100, seed=0)
    assert res.params["floor"] == 0.25
    assert res.params["midpoint_log10x"] == pytest.approx(22.0, abs=1e-4)
    assert res.params["slope_per_decade"] == pytest.approx(2.0, rel=1e-4)
    assert res.mae < 1e-6 and res.jump_inside


def test_sigmoid_backtest_seeded():
    rng = np.random.default_rng(3)
    x = np.geomspace(1e20, 1e24, 14)
    y = np.clip(0.25 + 0.75 / (1 + np.exp(-2 * (np.log10(x) - 22.5)))
                + rng.normal(0, 0.03, x.size), 0, 1)
    a = backtest(x, y, method="sigmoid", cutoff=1e22, chance=0.25, n_boot=200, seed=7)
    b = backtest(x, y, method="sigmoid", cutoff=1e22, chance=0.25, n_boot=200, seed=7)
    pd.testing.assert_frame_equal(a.points, b.points)
    assert a.to_row().shape[0] == 1 and "jump_inside" in a.to_row()
    assert "sigmoid backtest" in a.summary()


def test_flat_below_cutoff_is_flagged_unidentified():
    x = np.geomspace(1e20, 1e24, 12)
    y = np.where(x < 1e22, 0.25, 0.9)
    res = backtest(x, y + np.linspace(0, 0.001, 12), method="sigmoid", cutoff=1e22, chance=0.25,
                   n_boot=100, seed=0)
    assert any("not identified" in n for n in res.notes)


def test_mirage_route_exact_under_the_mirage_model():
    # per-token loss l = (x / c)^alpha, exact match = exp(-L l): the route is exact
    x = np.geomspace(1e8, 1e11, 10)
    ell = (x / 1e6) ** -0.3
    em = np.exp(-5 * ell)
    ppl = np.exp(ell)
    r = backtest(x, em, method="mirage", cutoff=2e10, continuous=ppl, continuous_metric="ppl",
                 target_length=5)
    assert r.mae < 1e-10
    r2 = backtest(x, em, method="mirage", cutoff=2e10, continuous=ppl, continuous_metric="ppl")
    assert r2.params["L"] == pytest.approx(5.0, rel=1e-10)
    # the linear route on the same sharp curve misses the jump
    lin = backtest(x, em, method="linear", cutoff=2e10)
    assert lin.mae > 10 * max(r2.mae, 1e-6)


def test_mirage_with_curves_joins_on_labels():
    x = np.geomspace(1e8, 1e11, 8)
    ell = (x / 1e6) ** -0.3
    labels = [f"m{i}" for i in range(8)]
    em = _curve(x, np.exp(-3 * ell), metric="exact_match", labels=labels)
    pt = _curve(x[::-1], np.exp(-ell)[::-1], metric="p_token", labels=labels[::-1])
    r = backtest(em, method="mirage", cutoff=1e10, continuous=pt)
    assert r.mae < 1e-10


def test_per_token_loss_conversions():
    np.testing.assert_allclose(per_token_loss([np.e**2], "ppl"), [2.0])
    np.testing.assert_allclose(per_token_loss([-1.5], "loglik_per_token"), [1.5])
    np.testing.assert_allclose(per_token_loss([2.0], "loss"), [2.0])
    with pytest.raises(EmergenceError, match="per-token loss"):
        per_token_loss([0.5], "acc")


def test_backtest_bad_input():
    x = np.geomspace(1e20, 1e24, 8)
    y = np.linspace(0.1, 0.9, 8)
    with pytest.raises(EmergenceError, match="2 points below the cutoff"):
        backtest(x, y, method="linear", cutoff=5e20)
    with pytest.raises(EmergenceError, match="no point at or above"):
        backtest(x, y, method="linear", cutoff=1e25)
    with pytest.raises(EmergenceError, match="needs `continuous`"):
        backtest(x, y, method="mirage", cutoff=1e22)
    with pytest.raises(ValueError, match="method"):
        backtest(x, y, method="cubic", cutoff=1e22)
    with pytest.raises(EmergenceError, match="positive"):
        backtest(x, y - 0.5, method="power", cutoff=1e22)


def test_fit_sigmoid_zone_and_bootstrap():
    x = np.geomspace(1e20, 1e24, 15)
    y = 0.25 + 0.75 / (1 + np.exp(-3 * (np.log10(x) - 22)))
    f = fit_sigmoid(x, y, chance=0.25, n_boot=100, seed=0)
    half = np.log(19) / 3  # logit(0.95) / slope
    assert np.log10(f.zone[0]) == pytest.approx(22 - half, abs=1e-4)
    assert np.log10(f.zone[1]) == pytest.approx(22 + half, abs=1e-4)
    assert f.to_frame().shape[0] == 1
    rng = np.random.default_rng(1)
    noisy = fit_sigmoid(x, np.clip(y + rng.normal(0, 0.03, x.size), 0, 1), chance=0.25,
                        n_boot=300, seed=1)
    assert noisy.zone_ci[0] <= noisy.zone[0] and noisy.zone[1] <= noisy.zone_ci[1]


def test_pooled_curve_and_real_obsscaling_backtests():
    from emergence import datasets

    em = datasets.load("obsscaling-emergent")
    results = []
    for task, metric in em[["task", "metric"]].drop_duplicates().itertuples(index=False):
        c = pooled_curve(em, task=task, metric=metric)
        method = "linear" if metric == "bleu" else "sigmoid"
        results.append(backtest(c, method=method, cutoff=1e22, n_boot=100, seed=0))
    table = backtest_frame(results)
    assert len(table) == 8
    assert (table["n_fit"] >= 15).all() and (table["n_forecast"] >= 30).all()
    assert table["coverage"].between(0, 1).all()


def test_real_pythia_mirage_beats_sigmoid():
    from emergence import datasets
    from emergence.curves import extract_curves

    t = datasets.load("pythia-v1")
    lam = t[(t["task"] == "lambada_openai") & (t["shots"] == 0)]
    cs = {c.metric: c for c in extract_curves(lam, x="params")}
    mir = backtest(cs["acc"], method="mirage", continuous=cs["ppl"], cutoff=2e9)
    sig = backtest(cs["acc"], method="sigmoid", cutoff=2e9, n_boot=200, seed=0)
    # perplexity of the small models forecasts the large models' accuracy (MAE 0.036)
    assert mir.mae < 0.06 and mir.coverage == 1.0
    assert mir.mae < sig.mae


def test_figures_return_axes():
    from emergence.scaling import HOFFMANN_2022

    N, D = np.meshgrid([1e8, 1e9, 1e10], np.geomspace(1e9, 1e12, 5))
    runs = pd.DataFrame({"N": N.ravel(), "D": D.ravel(),
                         "loss": HOFFMANN_2022.predict(N.ravel(), D.ravel())})
    ax = plot_loss_vs_compute(runs, HOFFMANN_2022)
    assert len(ax.lines) >= 3 + 3 + 2  # sizes, law per size, frontier, best-at-budget
    ax2 = plot_loss_vs_compute(runs)
    assert ax2.get_yscale() == "log"
    x = np.geomspace(1e20, 1e24, 12)
    y = 0.25 + 0.75 / (1 + np.exp(-3 * (np.log10(x) - 22)))
    f = fit_sigmoid(x, y, chance=0.25, n_boot=50, seed=0)
    assert plot_emergence(f).get_xscale() == "log"
    r = backtest(x, y, method="sigmoid", cutoff=1e22, chance=0.25, n_boot=50, seed=0)
    assert plot_backtest(r).get_xscale() == "log"


def test_report_section_observational(tmp_path):
    from emergence import datasets

    em = datasets.load("obsscaling-emergent")
    out = report_section(em, tmp_path, n_boot=50, max_curves=2)
    assert out["figures"] and out["tables"]
    for item in out["figures"] + out["tables"]:
        assert (tmp_path / item["path"]).is_file()
    names = {t["path"] for t in out["tables"]}
    assert {"tables/scaling_transitions.csv", "tables/scaling_backtests.csv"} <= names
    assert any("pool" in n for n in out["notes"])


def test_report_section_loss_table_single_size(tmp_path):
    # one model across checkpoints: only a one-axis law, said plainly
    tok = np.geomspace(1e9, 3e11, 8)
    t = pd.DataFrame({"model": "m", "task": "val", "metric": "loss", "step": np.arange(8) + 1,
                      "value": 2 + 50 * tok**-0.2, "params": 1e9, "tokens": tok})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = report_section(t, tmp_path, n_boot=50)
    assert any("one-axis power law" in n for n in out["notes"])
    assert any("powerlaw" in t["path"] for t in out["tables"])


def test_cli_fit_allocate_backtest(tmp_path, capsys):
    from emergence.scaling import BESIROGLU_2024

    rng = np.random.default_rng(0)
    N = np.exp(rng.uniform(np.log(4e7), np.log(1.6e10), 40))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), 40))
    runs = pd.DataFrame({"model": [f"r{i}" for i in range(40)], "N": N, "D": D,
                         "loss": BESIROGLU_2024.predict(N, D)})
    csv = tmp_path / "runs.csv"
    runs.to_csv(csv, index=False)
    out = tmp_path / "fit"
    assert main(["scaling", "fit", str(csv), "--law", "chinchilla", "--grid", "coarse",
                 "--n-boot", "20", "--out", str(out), "--quiet"]) == 0
    params = pd.read_csv(out / "chinchilla_params.csv").set_index("parameter")
    assert params.loc["alpha", "estimate"] == pytest.approx(0.348, rel=1e-3)
    assert (out / "loss_vs_compute.png").is_file()
    assert main(["scaling", "allocate", "--compute", "1e21", "--law", str(out)]) == 0
    assert main(["scaling", "allocate", "--compute", "1e21", "--tokens-per-param", "20"]) == 0
    assert "N_opt" in capsys.readouterr().out
    assert main(["scaling", "fit", str(csv), "--law", "power", "--out", str(tmp_path / "p"),
                 "--quiet", "--n-boot", "0"]) == 0
    bad = runs.assign(loss=-1.0)
    bad.to_csv(tmp_path / "bad.csv", index=False)
    assert main(["scaling", "fit", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "b"),
                 "--quiet"]) == 2
    assert "must be positive" in capsys.readouterr().err
    assert main(["scaling", "fit", "no-such-table", "--quiet"]) == 2


def test_cli_backtest_obsscaling(tmp_path, capsys):
    assert main(["scaling", "backtest", "obsscaling-emergent", "--task", "arithmetic_2da",
                 "--metric", "acc", "--cutoff", "1e22", "--n-boot", "50",
                 "--out", str(tmp_path), "--quiet"]) == 0
    assert (tmp_path / "backtest_points.csv").is_file()
    assert "sigmoid backtest" in capsys.readouterr().out


def test_report_section_loss_by_size_without_tokens(tmp_path):
    n = np.geomspace(1e8, 1e11, 6)
    t = pd.DataFrame({"model": [f"m{i}" for i in range(6)], "task": "val", "metric": "loss",
                      "value": 1.7 + 400 * n**-0.34, "params": n})
    out = report_section(t, tmp_path, n_boot=50)
    assert any("no token counts" in x and "params" in x for x in out["notes"])
