"""Figures of emergence.plots: interval bounds against statsmodels, axes, labels and lines drawn."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from statsmodels.stats.proportion import proportion_confint

from emergence.curves import Curve
from emergence.plots import SCALE_LABELS, curve_points, plot_curve, sideplot

X = np.array([7e7, 4e8, 1.4e9, 6.9e9])


def _curve(metric="acc", y=(0.2, 0.35, 0.6, 0.8), n=(500, 500, 500, 500),
           se=(np.nan,) * 4, chance=0.25, x_name="params", task="arith", **kw):
    return Curve(family="fam", task=task, metric=metric, shots=0, x_name=x_name, x=X.copy(),
                 y=np.array(y, float), stderr=np.array(se, float), n_items=np.array(n, float),
                 labels=("a", "b", "c", "d"), chance=chance, **kw)


def test_curve_points_binomial_intervals_match_statsmodels():
    c = _curve()
    for method in ("wilson", "beta"):
        pts = curve_points(c, interval=method, alpha=0.1)
        lo, hi = proportion_confint(np.array([100, 175, 300, 400]), 500, alpha=0.1, method=method)
        np.testing.assert_allclose(pts["low"], lo, rtol=1e-12)
        np.testing.assert_allclose(pts["high"], hi, rtol=1e-12)
        assert (pts["interval_method"] == method).all()
    # the curve key comes first, then the points in scale order
    assert list(pts.columns[:6]) == ["family", "model", "task", "shots", "metric", "x_name"]
    assert pts["x"].tolist() == X.tolist() and pts["label"].tolist() == ["a", "b", "c", "d"]


def test_curve_points_reported_stderr_and_unknown():
    # perplexity is not a proportion: value +/- z * reported stderr; without a stderr, no bounds
    c = _curve(metric="ppl", y=(40.0, 20.0, 10.0, 8.0), n=(np.nan,) * 4,
               se=(2.0, 1.0, np.nan, 0.5), chance=np.nan)
    pts = curve_points(c, alpha=0.05)
    z = norm.ppf(0.975)
    np.testing.assert_allclose(pts["low"].iloc[[0, 1, 3]], [40 - 2 * z, 20 - z, 8 - 0.5 * z])
    np.testing.assert_allclose(pts["high"].iloc[[0, 1, 3]], [40 + 2 * z, 20 + z, 8 + 0.5 * z])
    assert pts["interval_method"].tolist() == ["normal (reported stderr)"] * 2 + ["none"] + [
        "normal (reported stderr)"]
    assert np.isnan(pts["low"].iloc[2]) and np.isnan(pts["high"].iloc[2])


def test_curve_points_proportion_without_counts_uses_stderr():
    # a proportion whose item count is unknown at one scale falls back to its stderr there
    c = _curve(n=(500, np.nan, 500, 500), se=(np.nan, 0.02, np.nan, np.nan))
    pts = curve_points(c)
    assert pts["interval_method"].tolist() == ["wilson", "normal (reported stderr)", "wilson",
                                               "wilson"]
    assert pts["low"].iloc[1] == pytest.approx(0.35 - norm.ppf(0.975) * 0.02)


def test_plot_curve_axes_labels_and_lines():
    c = _curve()
    ax = plot_curve(c)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    assert ax.get_xlabel() == SCALE_LABELS["params"] == "parameters"
    assert ax.get_ylabel() == "acc (higher is better)"
    data, low_caps, high_caps = ax.lines[:3]  # the points, then the error-bar caps
    np.testing.assert_allclose(np.asarray(data.get_xdata(), float), X)
    np.testing.assert_allclose(np.asarray(data.get_ydata(), float), c.y)
    lo, hi = proportion_confint(np.array([100, 175, 300, 400]), 500, method="wilson")
    np.testing.assert_allclose(np.asarray(low_caps.get_ydata(), float), lo, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(high_caps.get_ydata(), float), hi, rtol=1e-12)
    chance = [ln for ln in ax.lines if ln.get_label() == "chance"]
    assert len(chance) == 1 and set(chance[0].get_ydata()) == {0.25}
    assert "chance 0.25" in [t.get_text().strip() for t in ax.texts]  # labelled in place
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert set(labels) == {"observed (95% wilson interval)", "chance",
                           "resolution limit (chance + 3/n)", "below chance (hollow)"}
    # the first point (0.2) lies below chance 0.25: drawn hollow and counted in the panel
    assert "1 of 4 points below chance" in [t.get_text() for t in ax.texts]


def test_plot_curve_log_y_for_unbounded_metric_and_fits():
    c = _curve(metric="ppl", y=(40.0, 20.0, 10.0, 8.0), n=(np.nan,) * 4, chance=np.nan,
               x_name="flops")
    fits = pd.DataFrame({"model": ["smooth"] * 3 + ["break"] * 3,
                         "x": np.r_[X[:3], X[1:]], "y": [38.0, 21, 11, 19, 10, 8.5]})
    ax = plot_curve(c, fits=fits, show_chance=False)
    assert ax.get_yscale() == "log"  # perplexity: lower bound 1, no upper bound
    assert ax.get_xlabel() == "training FLOPs"
    assert ax.get_ylabel() == "ppl (lower is better)"
    drawn = {ln.get_label(): ln for ln in ax.lines}
    assert not any(k.startswith("chance") for k in drawn)
    np.testing.assert_allclose(np.asarray(drawn["break"].get_xdata(), float), X[1:])
    np.testing.assert_allclose(np.asarray(drawn["break"].get_ydata(), float), [19, 10, 8.5])
    assert drawn["smooth"].get_linestyle() != drawn["break"].get_linestyle()


def test_plot_curve_names_rendered_literally():
    c = _curve(metric="acc", x_name=r"my $\frac{$ scale")
    ax = plot_curve(c)
    assert ax.get_xlabel() == r"my $\frac{$ scale"  # unknown scale names are shown as given
    ax.figure.canvas.draw()  # matplotlib's math parser would raise on the malformed "$\frac{$"


def test_sideplot_one_panel_per_metric():
    acc = _curve()
    ppl = _curve(metric="ppl", y=(40.0, 20.0, 10.0, 8.0), n=(np.nan,) * 4, chance=np.nan)
    em = _curve(metric="exact_match", y=(0.0, 0.01, 0.2, 0.7))
    g = sideplot([acc, ppl, em], col_wrap=2)
    axes = list(g.axes.flat)
    assert len(axes) == 3
    assert [ax.get_title() for ax in axes] == ["acc", "ppl", "exact_match"]
    assert [ax.get_yscale() for ax in axes] == ["linear", "log", "linear"]
    assert g.figure._suptitle.get_text() == "fam: arith, 0-shot"
    # panels share the log-scale x axis
    assert all(ax.get_xscale() == "log" for ax in axes)
    assert len({tuple(ax.get_xlim()) for ax in axes}) == 1
    plt.close(g.figure)
    g2 = sideplot([acc], title="custom")
    assert g2.figure._suptitle.get_text() == "custom" and len(g2.axes.flat) == 1


def test_sideplot_empty():
    with pytest.raises(ValueError, match="`curves` is empty"):
        sideplot([])


def test_save_figure_png_equals_savefig_tight(tmp_path):
    """save_figure writes the PNG pixel-identical to matplotlib's bbox_inches="tight" at 200 dpi
    (same tick labels) and an SVG beside it, and leaves the figure's layout engine as it was."""
    import warnings

    from PIL import Image

    from emergence.curves import extract_curves
    from emergence.plots import save_figure, sideplot
    from emergence.simulate import simulate_family

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cs = extract_curves(simulate_family("power_law", n_items=50, seed=1), x="params").curves
    fig = sideplot(list(cs), title="three metrics").figure
    engine = fig.get_layout_engine()
    png, svg = save_figure(fig, tmp_path / "fig")
    # (after save_figure, whose log-axis labels are plain text, the reference draws the same)
    fig.savefig(tmp_path / "ref.png", dpi=200, bbox_inches="tight")
    assert fig.get_layout_engine() is engine
    assert svg.read_text().lstrip().startswith("<?xml")
    ref = np.asarray(Image.open(tmp_path / "ref.png"))
    np.testing.assert_array_equal(np.asarray(Image.open(png)), ref)


def test_save_figure_writes_log_tick_labels_as_plain_text(tmp_path):
    from emergence.plots import save_figure
    fig, ax = plt.subplots()
    ax.plot([1e7, 3e9, 2e11], [0.5, 2.0, 3.0])
    ax.set_xscale("log")
    ax.set_yscale("log")
    save_figure(fig, tmp_path / "f")
    labels = [t.get_text() for t in ax.get_xticklabels()]
    minor = [t.get_text() for t in ax.get_yticklabels(minor=True)]
    plt.close(fig)
    assert "10⁹" in labels and "10¹¹" in labels
    assert not any("$" in s for s in labels + minor)
    assert any("×10" in s for s in minor)
    svg = (tmp_path / "f.svg").read_text()
    assert "10⁹" in svg and "mathdefault" not in svg
