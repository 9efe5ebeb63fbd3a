"""Figures for scaling laws: loss against compute with the compute-optimal frontier, the emergence
figure (fitted sigmoid with its transition zone) and backtest forecasts.

Every function draws on ``ax`` (a new figure when None) and returns the Axes; none computes a
statistic (they take fitted results) and none calls ``plt.show()``.
"""

from __future__ import annotations

from typing import Any

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..plots import SCALE_LABELS, figure_style
from ..schema import metric_info
from .allocation import compute_optimal
from .backtest import BacktestResult, SigmoidFit
from .chinchilla import ChinchillaFit, ChinchillaParams

__all__ = ["plot_loss_vs_compute", "plot_emergence", "plot_backtest", "plot_backtests",
           "plot_placement"]

#: above this many model sizes, the sizes get a colour bar instead of legend entries
MAX_SIZE_LEGEND = 10


def _ax(ax: Axes | None, size=(6.4, 4.4)) -> Axes:
    if ax is None:
        with figure_style():
            _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def _xlabel(x_name: str) -> str:
    return SCALE_LABELS.get(x_name, x_name) + " (log scale)"


def _ylabel(name: str, ylabel: str | None) -> str:
    if ylabel:
        return ylabel
    metric = str(name).rsplit(" / ", 1)[-1]
    try:
        hib = metric_info(metric).higher_is_better
    except Exception:  # noqa: BLE001 - an unknown metric name still gets a label
        return metric
    return f"{metric} ({'higher' if hib else 'lower'} is better)"


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
    many = len(sizes) > MAX_SIZE_LEGEND
    cmap = plt.get_cmap("viridis")
    norm = mcolors.LogNorm(vmin=sizes.min(), vmax=sizes.max()) if len(sizes) > 1 and \
        sizes.min() > 0 else None
    params = law.params if isinstance(law, ChinchillaFit) else law
    cmin, cmax = r["C"].min(), r["C"].max()
    cgrid = np.geomspace(cmin, cmax, 200)  # lines stay on the data's compute range
    for n in sizes:
        col = cmap(norm(n)) if norm is not None else cmap(0.5)
        s = r[r["N"] == n].sort_values("C")
        ax.plot(s["C"], s["loss"], "o-", ms=2.5 if many else 3, lw=0.8 if many else 1,
                color=col, label=None if many else _fmt_n(n), alpha=0.85)
        if params is not None:
            ax.plot(cgrid, params.predict(n, cgrid / (6 * n)), "--", lw=0.6 if many else 0.8,
                    color=col)
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
    lo, hi = r["loss"].min(), r["loss"].max()  # every plotted point stays inside the axes
    if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
        ax.set_ylim(lo * 0.95, hi * 1.05)
    # losses often span less than a decade: label intermediate ticks, not only powers of 10
    ax.yaxis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0)))
    ax.yaxis.set_major_formatter(mticker.FormatStrFormatter("%.3g"))
    ax.yaxis.set_minor_formatter(mticker.NullFormatter())
    ax.set_xlabel("training compute C = 6ND (FLOPs, log scale)")
    ax.set_ylabel(loss_label, parse_math=False)
    if many and norm is not None:
        sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        cb = ax.figure.colorbar(sm, ax=ax, pad=0.01)
        cb.set_label(f"parameters ({len(sizes)} sizes)")
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=7, ncol=2 if len(handles) > 6 else 1,
                  title=None if many else "parameters", title_fontsize=7, loc="best",
                  frameon=False)
    return ax


def plot_emergence(
    fit: SigmoidFit,
    *,
    ax: Axes | None = None,
    labels: Any = None,
    color: Any = "C0",
    ylabel: str | None = None,
) -> Axes:
    """Emergence figure: points, fitted sigmoid with bootstrap band, shaded transition zone.

    The zone (5%-95% of the way from floor to ceiling) is shaded; the lighter outer shading is its
    bootstrap interval (outer bounds of the two edges). Everything is drawn over the data's range
    only: a zone that reaches beyond the data is clipped at its edge, with an arrow and the
    zone's full extent written beside it.

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
    lo_x, hi_x = float(np.min(fit.x)), float(np.max(fit.x))
    z0, z1 = fit.zone
    c0, c1 = fit.zone_ci
    pad = 10 ** (0.03 * (np.log10(hi_x) - np.log10(lo_x)))
    left, right = lo_x / pad, hi_x * pad
    grid = np.geomspace(lo_x, hi_x, 300)
    if np.isfinite(c0) and np.isfinite(c1) and c1 > c0 and c0 < hi_x and c1 > lo_x:
        ax.axvspan(max(c0, lo_x), min(c1, hi_x), color=color, alpha=0.08, lw=0,
                   label=f"zone {fit.level:.0%} bootstrap bounds")
    if np.isfinite(z0) and np.isfinite(z1) and z0 < hi_x and z1 > lo_x:
        ax.axvspan(max(z0, lo_x), min(z1, hi_x), color=color, alpha=0.2, lw=0,
                   label="transition zone (5%-95%)")
    beyond = []
    if np.isfinite(z0) and z0 < lo_x:
        beyond.append(f"starts at 10^{np.log10(z0):.1f}")
        ax.annotate("", xy=(0.0, 0.06), xytext=(0.08, 0.06), xycoords="axes fraction",
                    arrowprops={"arrowstyle": "->", "color": color})
    if np.isfinite(z1) and z1 > hi_x:
        beyond.append(f"ends at 10^{np.log10(z1):.1f}")
        ax.annotate("", xy=(1.0, 0.06), xytext=(0.92, 0.06), xycoords="axes fraction",
                    arrowprops={"arrowstyle": "->", "color": color})
    if beyond:
        ax.text(0.5, 0.02, "zone beyond the data: " + ", ".join(beyond), ha="center",
                va="bottom", transform=ax.transAxes, fontsize=7, color="0.25")
    band = fit.band(grid)
    if band["lo"].notna().any():
        ax.fill_between(grid, band["lo"], band["hi"], color=color, alpha=0.25, lw=0)
    ax.plot(grid, band["predicted"], color=color, lw=2, label="chance-floored sigmoid")
    ax.scatter(fit.x, fit.y, color="black", s=14, zorder=3, label="observed")
    ax.axhline(fit.floor, color="0.5", lw=0.8, ls=":", label=f"floor (chance) {fit.floor:.2g}")
    if labels is not None:
        for xv, yv, lb in zip(fit.x, fit.y, labels, strict=False):
            ax.annotate(str(lb), (xv, yv), fontsize=6, xytext=(2, 2), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlim(left, right)
    ax.set_xlabel(_xlabel(fit.x_name), parse_math=False)
    ax.set_ylabel(_ylabel(fit.name, ylabel), parse_math=False)
    ax.set_title(fit.name, fontsize=9, parse_math=False)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    return ax


def plot_backtest(result: BacktestResult, *, ax: Axes | None = None, color: Any = "C1",
                  ylabel: str | None = None) -> Axes:
    """Observed points, the forecast with its prediction interval and the cutoff.

    A backtest flagged ``degenerate`` or ``uninformative`` (:attr:`BacktestResult.flags`) says
    so across the panel, and its title says it is not a result.

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
    p = result.points.sort_values("x")
    flags = tuple(getattr(result, "flags", ()))
    ax.fill_between(p["x"], p["lo"], p["hi"], color=color, alpha=0.2, lw=0,
                    label=f"{result.level:.0%} prediction interval")
    ax.plot(p["x"], p["predicted"], color=color, lw=1.5, ls=":" if flags else "-",
            label=f"{result.method} fit/forecast")
    fit = p["split"] == "fit"
    ax.scatter(p.loc[fit, "x"], p.loc[fit, "observed"], color="black", s=12, zorder=3,
               label="fitted")
    fc = p[~fit]
    ax.scatter(fc["x"], fc["observed"], facecolor=np.where(fc["inside"], "white", "red"),
               edgecolor="black", s=16, zorder=3, label="forecast (red: outside interval)")
    ax.axvline(result.cutoff, color="0.3", ls="--", lw=1)
    ax.set_xscale("log")
    obs = p["observed"].to_numpy(float)
    span = np.ptp(obs) or 1.0
    ax.set_ylim(np.nanmin(obs) - 0.1 * span, np.nanmax(obs) + 0.1 * span)
    ax.set_xlabel(_xlabel(result.x_name), parse_math=False)
    ax.set_ylabel(_ylabel(result.name, ylabel), parse_math=False)
    head = f"{result.method}: MAE {result.mae:.3g}, coverage {result.coverage:.0%}"
    if flags:
        head = f"{result.method}: {' and '.join(flags)}, not a result"
        ax.text(0.5, 0.5, " / ".join(flags).upper(), transform=ax.transAxes, ha="center",
                va="center", fontsize=16, color="#c0392b", alpha=0.35, rotation=20)
    ax.set_title(head, fontsize=8.5, color="#c0392b" if flags else "black", parse_math=False)
    ax.legend(fontsize=6.5, frameon=False, loc="upper left")
    return ax


def plot_backtests(results: list[BacktestResult], *, width: float = 4.2,
                   height: float = 3.6) -> plt.Figure:
    """The backtests of one curve side by side (sigmoid, linear, the Mirage route, ...), one
    panel per method on a shared y axis.

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.scaling import backtest
    >>> x = np.geomspace(1e8, 1e11, 8)
    >>> y = 0.1 * np.log10(x)
    >>> fig = plot_backtests([backtest(x, y, method=m, cutoff=1e10) for m in ("linear", "power")])
    >>> len(fig.axes)
    2
    """
    if not results:
        raise ValueError("`results` is empty; nothing to plot.")
    with figure_style():
        fig, axes = plt.subplots(1, len(results), figsize=(width * len(results), height),
                                 sharey=True, layout="constrained", squeeze=False)
        for k, (r, ax) in enumerate(zip(results, axes[0], strict=True)):
            plot_backtest(r, ax=ax, color=f"C{1 + k}")
            if k:
                ax.set_ylabel("")
        fig.suptitle(f"{results[0].name}: fitted below {results[0].x_name} = "
                     f"{results[0].cutoff:.3g} (dashed), forecast above", fontsize=9,
                     parse_math=False)
    return fig


def plot_placement(placement: pd.DataFrame, law: ChinchillaFit | ChinchillaParams | None = None,
                   *, tokens_per_param: float | None = None, tolerance: float = 1.5,
                   ax: Axes | None = None, title: str | None = None) -> Axes:
    """Each model's parameters against its training compute, beside the compute-optimal size.

    Parameters
    ----------
    placement : DataFrame
        From :func:`~emergence.scaling.place_models` (columns ``C``, ``N``, ``status``).
    law, tokens_per_param
        The allocation rule the placement used (drawn as the black line ``N_opt(C)``).
    tolerance : float, default=1.5
        The band of "near-optimal" sizes (``N_opt / tolerance`` to ``N_opt * tolerance``).

    Returns
    -------
    Axes

    Examples
    --------
    >>> import pandas as pd
    >>> from emergence.scaling import BESIROGLU_2024, place_models
    >>> runs = pd.DataFrame({"model": ["a", "b"], "N": [1e9, 7e10], "D": [1e12, 2e10]})
    >>> ax = plot_placement(place_models(runs, BESIROGLU_2024), BESIROGLU_2024)
    >>> ax.get_xscale(), ax.get_yscale()
    ('log', 'log')
    """
    ax = _ax(ax)
    m = placement[np.isfinite(placement["C"]) & (placement["C"] > 0)]
    colors = {"over-trained": "#2e86c1", "near-optimal": "#27ae60", "under-trained": "#c0392b"}
    for status, g in m.groupby("status", sort=False):
        ax.scatter(g["C"], g["N"], s=18, color=colors.get(status, "0.5"), label=f"{status} "
                   f"({len(g)})", zorder=3, edgecolor="white", linewidth=0.4)
    if len(m):
        cg = np.geomspace(m["C"].min(), m["C"].max(), 100)
        opt = compute_optimal(cg, law, tokens_per_param=tokens_per_param)
        ax.plot(opt["C"], opt["N_opt"], color="black", lw=1.6, label="compute-optimal size")
        ax.fill_between(opt["C"], opt["N_opt"] / tolerance, opt["N_opt"] * tolerance,
                        color="0.5", alpha=0.15, lw=0, label=f"within {tolerance:g}x")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training compute C = 6ND (FLOPs, log scale)")
    ax.set_ylabel("parameters N (active, log scale)")
    src = getattr(law.params if isinstance(law, ChinchillaFit) else law, "source", "")
    rule = f"{tokens_per_param:g} tokens per parameter" if tokens_per_param else (src or "law")
    ax.set_title(title or f"Models against the compute-optimal size ({rule})", fontsize=9,
                 parse_math=False)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    return ax
