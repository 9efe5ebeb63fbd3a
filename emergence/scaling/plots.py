"""Figures for scaling laws: loss against compute with the compute-optimal frontier, the emergence
figure (fitted sigmoid with its transition zone) and backtest forecasts.

Every function draws on ``ax`` (a new figure when None) and returns the Axes; none computes a
statistic (they take fitted results) and none calls ``plt.show()``.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from .allocation import compute_optimal
from .backtest import BacktestResult, SigmoidFit
from .chinchilla import ChinchillaFit, ChinchillaParams

__all__ = ["plot_loss_vs_compute", "plot_emergence", "plot_backtest"]


def _ax(ax: Axes | None, size=(6.4, 4.4)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def _fmt_n(n: float) -> str:
    for div, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            v = n / div
            return f"{v:.3g}{unit}"
    return f"{n:.3g}"


def plot_loss_vs_compute(
    runs: pd.DataFrame,
    law: ChinchillaFit | ChinchillaParams | None = None,
    *,
    ax: Axes | None = None,
    frontier: bool = True,
    best_at_budget: bool = True,
    loss_label: str = "loss",
) -> Axes:
    """Loss against training compute for each model size, with the law's frontier.

    Parameters
    ----------
    runs : DataFrame
        Columns ``N``, ``D`` and ``loss`` (``C`` optional; ``C = 6 N D`` otherwise): e.g.
        :func:`~emergence.scaling.loss_runs` or ``ChinchillaFit.runs``.
    law : ChinchillaFit or ChinchillaParams, optional
        Draws each size's predicted curve ``L(N, C / 6N)`` (dashed), the compute-optimal
        frontier ``L(N_opt(C), D_opt(C))`` (black) and the best of the observed sizes at each
        budget (grey band).
    best_at_budget : bool
        Without a law, the best observed loss at or below each budget (a step line).

    Returns
    -------
    Axes

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from emergence.scaling import HOFFMANN_2022
    >>> N, D = np.meshgrid([1e8, 1e9, 1e10], np.geomspace(1e9, 1e12, 6))
    >>> runs = pd.DataFrame({"N": N.ravel(), "D": D.ravel(),
    ...                      "loss": HOFFMANN_2022.predict(N.ravel(), D.ravel())})
    >>> ax = plot_loss_vs_compute(runs, HOFFMANN_2022)
    >>> ax.get_xscale()
    'log'
    """
    ax = _ax(ax)
    r = runs.copy()
    if "C" not in r.columns:
        r["C"] = 6.0 * r["N"] * r["D"]
    r = r[np.isfinite(r["loss"]) & (r["C"] > 0)]
    if "used" in r.columns:
        r = r[r["used"].astype(bool)]
    sizes = np.sort(r["N"].unique())
    pal = sns.color_palette("viridis", n_colors=max(len(sizes), 1))
    params = law.params if isinstance(law, ChinchillaFit) else law
    cmin, cmax = r["C"].min(), r["C"].max()
    cgrid = np.geomspace(cmin / 3, cmax * 10, 200)
    for col, n in zip(pal, sizes, strict=False):
        s = r[r["N"] == n].sort_values("C")
        ax.plot(s["C"], s["loss"], "o-", ms=3, lw=1, color=col, label=_fmt_n(n), alpha=0.85)
        if params is not None:
            ax.plot(cgrid, params.predict(n, cgrid / (6 * n)), "--", lw=0.8, color=col)
    if params is not None:
        if frontier:
            opt = compute_optimal(cgrid, params)
            ax.plot(opt["C"], opt["loss_opt"], "-", color="black", lw=2,
                    label="compute-optimal frontier")
        if best_at_budget and len(sizes):
            pred = np.stack([params.predict(n, cgrid / (6 * n)) for n in sizes])
            best = pred.min(axis=0)
            ax.plot(cgrid, best, "-", color="0.5", lw=5, alpha=0.35,
                    label="best observed size at budget")
    elif best_at_budget and len(r):
        s = r.sort_values("C")
        env = np.minimum.accumulate(s["loss"].to_numpy())
        ax.step(s["C"], env, where="post", color="0.4", lw=1.5, label="best loss within budget")
    ax.set_xscale("log")
    ax.set_yscale("log")
    lo, hi = r["loss"].min(), r["loss"].quantile(0.98)
    if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
        ax.set_ylim(lo * 0.95, hi * 1.05)
    # losses often span less than a decade: label intermediate ticks, not only powers of 10
    ax.yaxis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0)))
    ax.yaxis.set_major_formatter(mticker.FormatStrFormatter("%.3g"))
    ax.yaxis.set_minor_formatter(mticker.NullFormatter())
    ax.set_xlabel("training compute C = 6ND (FLOPs)")
    ax.set_ylabel(loss_label)
    ax.legend(fontsize=7, ncol=2, title="parameters", title_fontsize=7)
    return ax


def plot_emergence(
    fit: SigmoidFit,
    *,
    ax: Axes | None = None,
    labels: Any = None,
    color: Any = "C0",
) -> Axes:
    """Emergence figure: points, fitted sigmoid with bootstrap band, shaded transition zone.

    The zone (5%-95% of the way from floor to ceiling) is shaded; the lighter outer shading is its
    bootstrap interval (outer bounds of the two edges).

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.scaling import fit_sigmoid
    >>> x = np.geomspace(1e20, 1e24, 12)
    >>> y = 0.25 + 0.75 / (1 + np.exp(-3 * (np.log10(x) - 22)))
    >>> ax = plot_emergence(fit_sigmoid(x, y, chance=0.25, n_boot=50, seed=0))
    >>> len(ax.patches) >= 1
    True
    """
    ax = _ax(ax)
    lo_x, hi_x = fit.x.min(), fit.x.max()
    z0, z1 = fit.zone
    c0, c1 = fit.zone_ci
    xs = [v for v in (lo_x, hi_x, z0, z1) if np.isfinite(v) and v > 0]
    span = np.log10(max(xs)) - np.log10(min(xs))
    grid = np.geomspace(min(xs) / 10 ** (0.05 * span), max(xs) * 10 ** (0.05 * span), 300)
    if np.isfinite(c0) and np.isfinite(c1) and c1 > c0:
        ax.axvspan(max(c0, grid[0]), min(c1, grid[-1]), color=color, alpha=0.08, lw=0,
                   label=f"zone {fit.level:.0%} bootstrap bounds")
    if np.isfinite(z0) and np.isfinite(z1):
        ax.axvspan(z0, z1, color=color, alpha=0.2, lw=0, label="transition zone (5%-95%)")
    band = fit.band(grid)
    if band["lo"].notna().any():
        ax.fill_between(grid, band["lo"], band["hi"], color=color, alpha=0.25, lw=0)
    ax.plot(grid, band["predicted"], color=color, lw=2, label="chance-floored sigmoid")
    ax.scatter(fit.x, fit.y, color="black", s=14, zorder=3, label="observed")
    ax.axhline(fit.floor, color="0.5", lw=0.8, ls=":", label=f"floor {fit.floor:.2g}")
    if labels is not None:
        for xv, yv, lb in zip(fit.x, fit.y, labels, strict=False):
            ax.annotate(str(lb), (xv, yv), fontsize=6, xytext=(2, 2), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlim(grid[0], grid[-1])
    ax.set_xlabel(fit.x_name)
    ax.set_ylabel("value")
    ax.set_title(fit.name, fontsize=9)
    ax.legend(fontsize=7)
    return ax


def plot_backtest(result: BacktestResult, *, ax: Axes | None = None, color: Any = "C1") -> Axes:
    """Observed points, the forecast with its prediction interval and the cutoff.

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.scaling import backtest
    >>> x = np.geomspace(1e8, 1e11, 8)
    >>> res = backtest(x, 0.1 * np.log10(x), method="linear", cutoff=1e10)
    >>> plot_backtest(res).get_xscale()
    'log'
    """
    ax = _ax(ax)
    p = result.points
    ax.fill_between(p["x"], p["lo"], p["hi"], color=color, alpha=0.2, lw=0,
                    label=f"{result.level:.0%} prediction interval")
    ax.plot(p["x"], p["predicted"], color=color, lw=1.5, label=f"{result.method} fit/forecast")
    fit = p["split"] == "fit"
    ax.scatter(p.loc[fit, "x"], p.loc[fit, "observed"], color="black", s=16, zorder=3,
               label="fitted")
    fc = p[~fit]
    ax.scatter(fc["x"], fc["observed"], facecolor=np.where(fc["inside"], "white", "red"),
               edgecolor="black", s=22, zorder=3, label="forecast (red: outside interval)")
    ax.axvline(result.cutoff, color="0.3", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel(result.x_name)
    ax.set_ylabel("value")
    ax.set_title(f"{result.name}\nMAE {result.mae:.3g}, coverage {result.coverage:.0%}",
                 fontsize=8)
    ax.legend(fontsize=7)
    return ax
