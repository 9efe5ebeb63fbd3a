"""Scaling figures and flags: legends that fit, zones clipped to the data, failed fits flagged,
the allocation default of the CLI."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from emergence.cli import main
from emergence.scaling import (
    BESIROGLU_2024,
    backtest,
    fit_sigmoid,
    place_models,
)
from emergence.scaling.plots import (
    plot_backtests,
    plot_emergence,
    plot_loss_vs_compute,
    plot_placement,
)


def test_loss_vs_compute_many_sizes_colour_bar_not_legend():
    # 245 runs of distinct sizes (as in the Chinchilla replication): a colour bar, not 245 entries
    rng = np.random.default_rng(0)
    N = np.exp(rng.uniform(np.log(4e7), np.log(1.6e10), 245))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), 245))
    runs = pd.DataFrame({"N": N, "D": D, "loss": BESIROGLU_2024.predict(N, D)})
    ax = plot_loss_vs_compute(runs, BESIROGLU_2024)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["compute-optimal frontier", "best observed size at budget"]
    assert len(ax.figure.axes) == 2  # the colour bar of the sizes
    # every run is inside the axes (no cut at a loss quantile)
    lo, hi = ax.get_ylim()
    assert lo <= runs["loss"].min() and runs["loss"].max() <= hi
    plt.close(ax.figure)


def test_loss_vs_compute_few_sizes_keep_their_legend():
    N, D = np.meshgrid([1e8, 1e9, 1e10], np.geomspace(1e9, 1e12, 6))
    runs = pd.DataFrame({"N": N.ravel(), "D": D.ravel(),
                         "loss": BESIROGLU_2024.predict(N.ravel(), D.ravel())})
    ax = plot_loss_vs_compute(runs, BESIROGLU_2024)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:3] == ["100M", "1B", "10B"] and len(ax.figure.axes) == 1
    # predicted lines stay on the observed compute range
    C = 6 * runs["N"] * runs["D"]
    for ln in ax.lines:
        x = np.asarray(ln.get_xdata(), float)
        assert x.min() >= C.min() * (1 - 1e-9) and x.max() <= C.max() * (1 + 1e-9)
    plt.close(ax.figure)


def test_emergence_zone_clipped_to_data_with_labelled_axes():
    x = np.geomspace(1e20, 1e22, 8)
    y = 0.5 / (1 + np.exp(-0.9 * (np.log10(x) - 21)))  # a slow rise: the zone spans ~13 decades
    fit = fit_sigmoid(x, y, chance=0.0, n_boot=30, seed=0)
    assert fit.zone[0] < x.min() and fit.zone[1] > x.max()
    ax = plot_emergence(fit, ylabel="acc (higher is better)")
    lo, hi = ax.get_xlim()
    assert lo > x.min() / 2 and hi < x.max() * 2  # the axis is the data's, not the zone's
    for p in ax.patches:  # shaded spans end at the data
        x0, x1 = p.get_x(), p.get_x() + p.get_width()
        assert x0 >= x.min() * (1 - 1e-9) and x1 <= x.max() * (1 + 1e-9)
    assert ax.get_xlabel().endswith("(log scale)")
    assert ax.get_ylabel() == "acc (higher is better)"
    assert any("zone beyond the data" in t.get_text() for t in ax.texts)
    plt.close(ax.figure)


def test_degenerate_and_uninformative_backtests_are_flagged():
    x = np.geomspace(1e19, 1e24, 20)
    # flat at zero below the cutoff, then a jump: the sigmoid below the cutoff is a step
    y = np.r_[np.zeros(11), [0.02], np.full(8, 0.5)]
    y[10] = 0.4
    r = backtest(x, y, method="sigmoid", cutoff=x[12], chance=0.0, n_boot=50, seed=0)
    assert "degenerate" in r.flags and r.to_row()["flags"].iloc[0].startswith("degenerate")
    assert any(n.startswith("degenerate fit") for n in r.notes)
    assert "NOT A RESULT" in r.summary()
    # a well-identified linear trend with small noise is not flagged
    rng = np.random.default_rng(1)
    yl = 0.1 + 0.05 * np.log10(x / 1e19) + rng.normal(0, 0.01, x.size)
    ok = backtest(x, yl, method="linear", cutoff=1e22, n_boot=50, seed=0)
    assert ok.flags == () and ok.interval_share < 0.5
    # noisy proportions: the interval covers most of [0, 1]
    yn = np.clip(0.5 + rng.normal(0, 0.3, x.size), 0, 1)
    wide = backtest(x, yn, method="linear", cutoff=1e22, n_boot=50, seed=0)
    assert "uninformative" in wide.flags and wide.interval_share >= 0.5
    fig = plot_backtests([r, ok])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("sigmoid: degenerate") and titles[0].endswith("not a result")
    assert titles[1].startswith("linear: MAE")
    plt.close(fig)


def test_placement_figure():
    runs = pd.DataFrame({"model": ["small-long", "big-short", "opt"], "N": [1e9, 7e10, 7e10],
                         "D": [1e12, 2e10, 1.4e12]})
    pm = place_models(runs, BESIROGLU_2024)
    ax = plot_placement(pm, BESIROGLU_2024)
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    assert {"over-trained (1)", "under-trained (1)", "near-optimal (1)",
            "compute-optimal size"} <= labels
    plt.close(ax.figure)


def test_allocate_defaults_to_the_epoch_replication(capsys):
    assert main(["scaling", "allocate", "--compute", "5.76e23"]) == 0
    out = capsys.readouterr().out.split("\n")
    vals = dict(zip(out[0].split(), out[1].split(), strict=True))
    # Besiroglu et al. (2024): about 72B parameters and 1.33T tokens at Chinchilla's budget
    assert float(vals["N_opt"]) == pytest.approx(7.23e10, rel=0.01)
    assert float(vals["D_opt"]) == pytest.approx(1.33e12, rel=0.01)
    assert main(["scaling", "allocate", "--compute", "5.76e23", "--law", "hoffmann"]) == 0
    out = capsys.readouterr().out.split("\n")
    vals = dict(zip(out[0].split(), out[1].split(), strict=True))
    assert float(vals["tokens_per_param"]) == pytest.approx(92.65, rel=0.01)
