"""Figures: the same task under several metrics, side by side, against log scale.

Plotting functions consume curves or tidy frames; they never compute test statistics and never
call ``plt.show()``.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from emergence import datasets
>>> from emergence.tidy import extract_curves
>>> from emergence.plots import sideplot
>>> df = datasets.load("pythia-v1")
>>> cs = extract_curves(df[df.shots == 0], x="params", tasks=["lambada_openai"])
>>> g = sideplot(cs.curves)
>>> len(g.axes.flat)
2
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .stats.intervals import proportion_interval
from .tidy import Curve

__all__ = ["curve_points", "plot_curve", "sideplot", "SCALE_LABELS"]

SCALE_LABELS = {
    "params": "parameters",
    "nonembedding_params": "non-embedding parameters",
    "active_params": "active parameters",
    "tokens": "training tokens",
    "flops": "training FLOPs",
    "step": "training step",
}


def curve_points(curve: Curve, *, interval: str = "wilson", alpha: float = 0.05) -> pd.DataFrame:
    """Points of a curve with interval bounds, as plotted and tabulated.

    Proportions with known item counts get binomial intervals (``interval`` method, statsmodels);
    other metrics with a reported standard error get ``value +/- z * stderr``; otherwise the bounds
    are NaN and ``interval_method`` says ``"none"``.

    Returns
    -------
    DataFrame
        Columns: the curve key, ``label``, ``x``, ``value``, ``low``, ``high``,
        ``interval_method``, ``n_items``, ``stderr``.
    """
    from scipy.stats import norm

    y = curve.y
    low = np.full_like(y, np.nan)
    high = np.full_like(y, np.nan)
    method = np.array(["none"] * y.size, dtype=object)
    n = curve.n_items
    if curve.info.is_proportion:
        ok = np.isfinite(n) & (n > 0)
        if ok.any():
            count = np.rint(y[ok] * n[ok])
            res = proportion_interval(count, n[ok], method=interval, alpha=alpha)
            low[ok], high[ok] = res.low, res.high
            method[ok] = interval
    z = norm.ppf(1 - alpha / 2)
    se_ok = np.isfinite(curve.stderr) & (method == "none")
    low[se_ok] = y[se_ok] - z * curve.stderr[se_ok]
    high[se_ok] = y[se_ok] + z * curve.stderr[se_ok]
    method[se_ok] = "normal (reported stderr)"
    out = pd.DataFrame(
        {
            "label": list(curve.labels),
            "x": curve.x,
            "value": y,
            "low": low,
            "high": high,
            "interval_method": method,
            "n_items": n,
            "stderr": curve.stderr,
        }
    )
    for k, v in reversed(list(curve.key.items())):
        out.insert(0, k, v)
    return out


def _use_log_y(curve_or_metric) -> bool:
    info = curve_or_metric.info if isinstance(curve_or_metric, Curve) else curve_or_metric
    return info.lower >= 1 and np.isinf(info.upper)


def plot_curve(
    curve: Curve,
    *,
    ax: plt.Axes | None = None,
    interval: str = "wilson",
    alpha: float = 0.05,
    show_chance: bool = True,
    fits: pd.DataFrame | None = None,
    color: str | None = None,
) -> plt.Axes:
    """Draw one curve against log scale with its intervals, chance level and optional fits.

    Parameters
    ----------
    curve : Curve
    ax : Axes, optional
        Defaults to the current axes.
    interval : str, default="wilson"
        Binomial interval method for proportions (see :func:`curve_points`).
    show_chance : bool, default=True
        Draw the chance level when known.
    fits : DataFrame, optional
        Fitted lines with columns ``x``, ``model`` and ``y`` (for example from
        :func:`emergence.verdict.fitted_lines`); drawn as dashed lines.

    Returns
    -------
    Axes
    """
    ax = ax if ax is not None else plt.gca()
    pts = curve_points(curve, interval=interval, alpha=alpha)
    color = color or sns.color_palette()[0]
    has = np.isfinite(pts["low"]) & np.isfinite(pts["high"])
    yerr = np.vstack([pts["value"] - pts["low"], pts["high"] - pts["value"]])
    yerr[:, ~has.to_numpy()] = 0.0
    yerr = np.clip(yerr, 0, None)
    ax.errorbar(pts["x"], pts["value"], yerr=yerr, fmt="o-", color=color, ms=4, lw=1.4,
                capsize=2.5, label=curve.metric, zorder=3)
    if show_chance and np.isfinite(curve.chance):
        ax.axhline(curve.chance, color="0.45", ls=":", lw=1.2, label=f"chance {curve.chance:g}")
    if fits is not None and len(fits):
        styles = ["--", "-.", (0, (5, 2, 1, 2)), ":"]
        for i, (name, f) in enumerate(fits.groupby("model", sort=False)):
            ax.plot(f["x"], f["y"], ls=styles[i % len(styles)], lw=1.3,
                    color=sns.color_palette()[1 + i % 8], label=str(name), zorder=2)
    ax.set_xscale("log")
    if _use_log_y(curve):
        ax.set_yscale("log")
    # names come from data: render them literally (a "$" must not start matplotlib math text)
    ax.set_xlabel(SCALE_LABELS.get(curve.x_name, curve.x_name), parse_math=False)
    arrow = "higher is better" if curve.info.higher_is_better else "lower is better"
    ax.set_ylabel(f"{curve.metric} ({arrow})", parse_math=False)
    ax.set_title(curve.metric, fontsize=10, parse_math=False)
    leg = ax.legend(fontsize=7, frameon=False, loc="best")
    for text in leg.get_texts():
        text.set_parse_math(False)
    return ax


def sideplot(
    curves: Sequence[Curve],
    *,
    height: float = 3.0,
    aspect: float = 1.25,
    col_wrap: int | None = 4,
    interval: str = "wilson",
    fits: dict[str, pd.DataFrame] | None = None,
    title: str | None = None,
) -> sns.FacetGrid:
    """Figure-level: one panel per metric of the same task, sharing the log-scale x axis.

    Parameters
    ----------
    curves : sequence of Curve
        Curves of one (family, task, shots), one per metric.
    height, aspect, col_wrap
        Passed to :class:`seaborn.FacetGrid`.
    interval : str, default="wilson"
        Binomial interval method for proportions.
    fits : dict metric -> DataFrame, optional
        Fitted lines per metric (columns ``x``, ``model``, ``y``).
    title : str, optional
        Figure title (default: family / task / shots).

    Returns
    -------
    seaborn.FacetGrid
    """
    if not curves:
        raise ValueError("`curves` is empty; nothing to plot.")
    order = [c.metric for c in curves]
    frame = pd.DataFrame({"metric": order})
    ncol = len(order)
    g = sns.FacetGrid(frame, col="metric", col_order=order, sharey=False, sharex=True,
                      height=height, aspect=aspect,
                      col_wrap=min(col_wrap, ncol) if col_wrap and ncol > 1 else None)
    for c, ax in zip(curves, g.axes.flat, strict=False):
        plot_curve(c, ax=ax, interval=interval, fits=(fits or {}).get(c.metric))
    c0 = curves[0]
    who = c0.model or c0.family
    shots = "" if c0.shots is None else f", {c0.shots}-shot"
    g.figure.suptitle(title or f"{who}: {c0.task}{shots}", fontsize=11, parse_math=False)
    g.figure.tight_layout()
    return g
