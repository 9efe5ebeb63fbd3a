"""Figures: the same task under several metrics, side by side, against log scale.

Plotting functions consume curves or tidy frames; they never compute test statistics and never
call ``plt.show()``.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from emergence import datasets
>>> from emergence.curves import extract_curves
>>> from emergence.plots import sideplot
>>> df = datasets.load("pythia-v1")
>>> cs = extract_curves(df[df.shots == 0], x="params", tasks=["lambada_openai"])
>>> g = sideplot(cs.curves)
>>> len(g.axes.flat)
2
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns

from ._defaults import ALPHA
from .curves import Curve
from .stats.intervals import curve_points

__all__ = ["curve_points", "plot_curve", "sideplot", "SCALE_LABELS", "figure_style", "save_figure",
           "resolution_limit", "below_chance", "data_range", "lines_within_data",
           "plot_verdict_map"]

SCALE_LABELS = {
    "params": "parameters",
    "nonembedding_params": "non-embedding parameters",
    "active_params": "active parameters",
    "tokens": "training tokens",
    "flops": "training FLOPs",
    "step": "training step",
}


#: Resolution rule drawn on proportion panels: values within ``3/n`` of chance are not resolved
#: (the rule of the verdict module; ``3/n`` is the one-sided 95% upper bound of a zero count).
RESOLUTION_RULE = "chance + 3/n"

#: Line styles of fitted lines, by the ``model`` column of a fits frame.
LINE_STYLES = {
    "null": {"ls": "--", "color": "0.30"},
    "break": {"ls": "-.", "color": "#c0392b"},
    "accelerating": {"ls": "-.", "color": "#c0392b"},
    "decelerating": {"ls": "-.", "color": "#7d3c98"},
}


@contextmanager
def figure_style():
    """The one style of every figure of the package (seaborn ``ticks``, ``paper`` context).

    Used as a context manager so that the caller's global matplotlib settings are left alone.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> with figure_style():
    ...     fig, ax = plt.subplots()
    >>> plt.close(fig)
    """
    rc = {"axes.grid": True, "grid.color": "0.92", "grid.linewidth": 0.6,
          "axes.titlesize": 9, "axes.labelsize": 8, "legend.fontsize": 7,
          "xtick.labelsize": 7, "ytick.labelsize": 7, "svg.fonttype": "none",
          "axes.spines.top": False, "axes.spines.right": False}
    with sns.axes_style("ticks", rc=rc), sns.plotting_context("paper", rc=rc):
        yield


_SUPERSCRIPT = str.maketrans("0123456789-\N{MINUS SIGN}", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁻")
_MATH_POWER = re.compile(r"^\$\\mathdefault\{(?:([0-9.]+)\\times\s*)?(\d+)\^\{([-\N{MINUS SIGN}]?\d+)\}\}\$$")


class _PlainLogFormatter(mticker.LogFormatterSciNotation):
    """Log-axis tick labels as plain text (``10⁹``, ``2×10⁹``): the same labels as matplotlib's
    default, without a math-text parse per label and resolution (most of a report's drawing
    time)."""

    def __call__(self, x, pos=None):
        s = super().__call__(x, pos)
        m = _MATH_POWER.match(s)
        if m is None:
            return s
        coef, base, power = m.groups()
        text = base + power.translate(_SUPERSCRIPT)
        return f"{coef}\N{MULTIPLICATION SIGN}{text}" if coef else text


def _plain_log_ticks(fig: plt.Figure) -> None:
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for fmt in (axis.get_major_formatter(), axis.get_minor_formatter()):
                if type(fmt) is mticker.LogFormatterSciNotation:
                    fmt.__class__ = _PlainLogFormatter


def save_figure(fig: plt.Figure, path: str | Path, *, dpi: int = 200,
                formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write ``fig`` once per format next to each other (``path`` without or with a suffix).

    PNG at ``dpi`` (200 by default, enough to reuse in a paper) and SVG (vector) beside it;
    returns the written paths, PNG first.
    """
    base = Path(path)
    base = base.with_suffix("") if base.suffix.lower() in (".png", ".svg", ".pdf") else base
    out = []
    _plain_log_ticks(fig)
    for fmt in formats:
        p = base.with_name(base.name + "." + fmt)
        fig.savefig(p, dpi=dpi, bbox_inches="tight")
        out.append(p)
    return out


def _use_log_y(curve_or_metric) -> bool:
    info = curve_or_metric.info if isinstance(curve_or_metric, Curve) else curve_or_metric
    return info.lower >= 1 and np.isinf(info.upper)


def resolution_limit(curve: Curve) -> float:
    """Value below which a proportion is not resolved from chance: ``chance + 3/n`` (``n`` the
    smallest item count of the curve; ``1 - ...`` for lower-is-better proportions).

    NaN when the metric is not a proportion or the item counts are unknown. A drawing aid that
    restates the rule of :mod:`emergence.verdict`; it tests nothing.
    """
    n = curve.n_items[np.isfinite(curve.n_items) & (curve.n_items > 0)]
    if not curve.info.is_proportion or n.size == 0:
        return float("nan")
    ch = curve.chance if np.isfinite(curve.chance) else 0.0
    lim = ch + 3.0 / float(n.min())
    return lim if curve.info.higher_is_better else 1.0 - lim


def below_chance(curve: Curve) -> np.ndarray:
    """Mask of the points on the wrong side of chance (below it for higher-is-better metrics)."""
    if not np.isfinite(curve.chance):
        return np.zeros(curve.y.shape, dtype=bool)
    return curve.y < curve.chance if curve.info.higher_is_better else curve.y > curve.chance


def _points(curve: Curve, points: pd.DataFrame | None, interval: str, alpha: float
            ) -> pd.DataFrame:
    """The curve's points as given (an analysis's table), else computed (:func:`curve_points`)."""
    return points if points is not None else curve_points(curve, interval=interval, alpha=alpha)


def data_range(curve: Curve, *, interval: str = "wilson", alpha: float = ALPHA,
               pad: float = 0.1, points: pd.DataFrame | None = None) -> tuple[float, float]:
    """The y range a panel shows: points and their intervals, padded by ``pad`` of the span
    (in log10 on a log axis). Fitted lines are drawn only inside it. ``points``: the curve's
    rows of :func:`curve_points` when already computed (for example ``Analysis.points``)."""
    pts = _points(curve, points, interval, alpha)
    v = np.r_[pts["value"], pts["low"], pts["high"]].astype(float)
    v = v[np.isfinite(v)]
    if _use_log_y(curve):
        v = v[v > 0]
    if v.size == 0:
        return (float("nan"), float("nan"))
    lo, hi = float(v.min()), float(v.max())
    if _use_log_y(curve):
        span = np.log10(hi) - np.log10(lo) or 1.0
        return lo / 10 ** (pad * span), hi * 10 ** (pad * span)
    span = (hi - lo) or max(abs(hi), 1e-9)
    return lo - pad * span, hi + pad * span


def lines_within_data(curve: Curve, fits: pd.DataFrame | None, *, interval: str = "wilson",
                      alpha: float = ALPHA, points: pd.DataFrame | None = None
                      ) -> tuple[pd.DataFrame, list[str]]:
    """Split fitted lines into those drawn and those left out.

    A line is drawn when it lies on the data's x range and, over that range, inside the data's
    y range (:func:`data_range`); a fit on a scale the data do not reach (for example a
    chance-floored link on a curve below chance) is left out. ``points`` as in
    :func:`data_range`.

    Returns
    -------
    (DataFrame, list of str)
        The lines to draw (restricted to the curve's x range) and the ``model`` names left out.
    """
    if fits is None or not len(fits):
        return pd.DataFrame(columns=["x", "model", "y"]), []
    lo, hi = data_range(curve, interval=interval, alpha=alpha, points=points)
    xmin, xmax = float(np.min(curve.x)), float(np.max(curve.x))
    keep, dropped = [], []
    for name, f in fits.groupby("model", sort=False):
        f = f[(f["x"] >= xmin * (1 - 1e-9)) & (f["x"] <= xmax * (1 + 1e-9))]
        y = f["y"].to_numpy(float)
        if len(f) and np.all(np.isfinite(y)) and np.isfinite(lo) and y.min() >= lo \
                and y.max() <= hi:
            keep.append(f)
        else:
            dropped.append(str(name))
    out = pd.concat(keep, ignore_index=True) if keep else pd.DataFrame(columns=fits.columns)
    return out, dropped


def plot_curve(
    curve: Curve,
    *,
    ax: plt.Axes | None = None,
    interval: str = "wilson",
    alpha: float = ALPHA,
    show_chance: bool = True,
    show_resolution: bool = True,
    fits: pd.DataFrame | None = None,
    color: str | None = None,
    legend: bool = True,
    note: str | None = None,
    points: pd.DataFrame | None = None,
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
        Draw and label the chance level when known; points on the wrong side of chance are
        drawn hollow and counted in the panel.
    show_resolution : bool, default=True
        Draw and label the resolution limit (``chance + 3/n``) of proportions with item counts.
    fits : DataFrame, optional
        Fitted lines with columns ``x``, ``model`` and ``y`` (for example from
        :func:`emergence.verdict.fitted_lines`). ``model`` picks the style (``"null"``,
        ``"break"``, ``"accelerating"``, ``"decelerating"``); an optional ``label`` column
        names the line and an optional ``psi`` column (log10 x) marks the break location with a
        labelled vertical line. Only lines inside the data's range are drawn
        (:func:`lines_within_data`).
    legend : bool, default=True
        Draw a legend on the axes (:func:`sideplot` draws one legend for the figure instead).
    note : str, optional
        Short text in the panel's top-left corner (e.g. why no line is drawn).
    points : DataFrame, optional
        The curve's points with interval bounds as already computed (its rows of
        :attr:`emergence.analysis.Analysis.points`); by default :func:`curve_points` computes
        them with ``interval`` and ``alpha``.

    Notes
    -----
    A curve averaged over replicate runs (:attr:`emergence.curves.Curve.runs`) also shows each run
    as a faint line, so the between-run spread is visible next to the intervals.

    Returns
    -------
    Axes
    """
    ax = ax if ax is not None else plt.gca()
    pts = _points(curve, points, interval, alpha)
    color = color or sns.color_palette()[0]
    has = np.isfinite(pts["low"]) & np.isfinite(pts["high"])
    yerr = np.vstack([pts["value"] - pts["low"], pts["high"] - pts["value"]])
    yerr[:, ~has.to_numpy()] = 0.0
    yerr = np.clip(yerr, 0, None)
    if curve.runs is not None:
        # replicate runs: each run as a faint line, their mean (the curve) bold
        for i, row in enumerate(curve.runs):
            ok = np.isfinite(row)
            ax.plot(curve.x[ok], row[ok], "-", color=color, alpha=0.3, lw=0.9, zorder=2,
                    label=f"{curve.runs.shape[0]} runs" if i == 0 else None)
    ivl = {"none": "", interval: f"{100 * (1 - alpha):.0f}% {interval} interval"}
    methods = [m for m in dict.fromkeys(pts["interval_method"]) if m != "none"]
    what = ", ".join(ivl.get(m, f"{100 * (1 - alpha):.0f}% {m}") for m in methods)
    ax.errorbar(pts["x"], pts["value"], yerr=yerr, fmt="-", color=color, lw=1.4,
                capsize=2.5, zorder=3, label=f"observed ({what})" if what else "observed")
    low = below_chance(curve) if show_chance else np.zeros(curve.y.shape, dtype=bool)
    ax.plot(curve.x[~low], curve.y[~low], "o", color=color, ms=4, zorder=4)
    if low.any():
        ax.plot(curve.x[low], curve.y[low], "o", mfc="white", mec=color, ms=4.5, zorder=4,
                label="below chance (hollow)")
        ax.text(0.98, 0.02, f"{int(low.sum())} of {low.size} points below chance",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=6.5, color="#b03a2e")
    ylo, yhi = data_range(curve, interval=interval, alpha=alpha, pad=0.05, points=pts)
    trans = ax.get_yaxis_transform()
    if show_chance and np.isfinite(curve.chance):
        ax.axhline(curve.chance, color="0.45", ls=":", lw=1.2, label="chance")
        ax.text(0.99, curve.chance, f"chance {curve.chance:g} ", transform=trans, fontsize=6.5,
                color="0.35", va="top", ha="right")
        ylo, yhi = min(ylo, curve.chance), max(yhi, curve.chance)
    lim = resolution_limit(curve) if show_resolution else float("nan")
    if np.isfinite(lim) and ylo <= lim <= yhi:
        ax.axhline(lim, color="#e67e22", ls=(0, (1, 2)), lw=1.0,
                   label=f"resolution limit ({RESOLUTION_RULE})")
        ax.text(0.99, lim, f"resolution limit {lim:.3g} ", transform=trans, fontsize=6.5,
                color="#ca6f1e", va="bottom", ha="right")
    shown, _ = lines_within_data(curve, fits, interval=interval, alpha=alpha, points=pts)
    for name, f in shown.groupby("model", sort=False):
        st = LINE_STYLES.get(str(name), {"ls": ":", "color": "0.5"})
        label = str(f["label"].iloc[0]) if "label" in f.columns else str(name)
        ax.plot(f["x"], f["y"], ls=st["ls"], lw=1.4, color=st["color"], label=label, zorder=2)
        if "psi" in f.columns and np.isfinite(f["psi"].iloc[0]):
            psi = float(f["psi"].iloc[0])
            ax.axvline(10**psi, color=st["color"], lw=0.8, ls=(0, (2, 2)), zorder=1)
            ax.text(10**psi, 0.98, f" 10^{psi:.2f}", transform=ax.get_xaxis_transform(),
                    color=st["color"], fontsize=6.5, va="top", ha="left")
    ax.set_xscale("log")
    if _use_log_y(curve):
        ax.set_yscale("log")
    if np.isfinite(ylo) and np.isfinite(yhi) and yhi > ylo:
        ax.set_ylim(ylo, yhi)
    # names come from data: render them literally (a "$" must not start matplotlib math text)
    ax.set_xlabel(SCALE_LABELS.get(curve.x_name, curve.x_name), parse_math=False)
    arrow = "higher is better" if curve.info.higher_is_better else "lower is better"
    ax.set_ylabel(f"{curve.metric} ({arrow})", parse_math=False)
    ax.set_title(curve.metric if not note else f"{curve.metric}\n{note}", parse_math=False,
                 fontsize=8.5 if note else None)
    if legend:
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
    notes: dict[str, str] | None = None,
    title: str | None = None,
    points: dict[str, pd.DataFrame] | None = None,
) -> sns.FacetGrid:
    """Figure-level: one panel per metric of the same task, sharing the log-scale x axis.

    Drawn in :func:`figure_style`, with one legend for the whole figure below the panels.

    Parameters
    ----------
    curves : sequence of Curve
        Curves of one (family, task, shots), one per metric.
    height, aspect, col_wrap
        Passed to :class:`seaborn.FacetGrid`.
    interval : str, default="wilson"
        Binomial interval method for proportions.
    fits : dict metric -> DataFrame, optional
        Fitted lines per metric (columns ``x``, ``model``, ``y``; see :func:`plot_curve`).
    notes : dict metric -> str, optional
        Short text per panel (see :func:`plot_curve`).
    title : str, optional
        Figure title (default: family / task / shots).
    points : dict metric -> DataFrame, optional
        Each curve's points with interval bounds as already computed (see :func:`plot_curve`).

    Returns
    -------
    seaborn.FacetGrid
    """
    if not curves:
        raise ValueError("`curves` is empty; nothing to plot.")
    order = [c.metric for c in curves]
    frame = pd.DataFrame({"metric": order})
    ncol = len(order)
    with figure_style():
        g = sns.FacetGrid(frame, col="metric", col_order=order, sharey=False, sharex=True,
                          height=height, aspect=aspect,
                          col_wrap=min(col_wrap, ncol) if col_wrap and ncol > 1 else None)
        for c, ax in zip(curves, g.axes.flat, strict=False):
            plot_curve(c, ax=ax, interval=interval, fits=(fits or {}).get(c.metric),
                       legend=False, note=(notes or {}).get(c.metric),
                       points=(points or {}).get(c.metric))
            ax.tick_params(labelbottom=True)
            ax.set_xlabel(SCALE_LABELS.get(c.x_name, c.x_name) + " (log scale)",
                          parse_math=False)
        handles: dict[str, object] = {}
        for ax in g.axes.flat:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(lab, h)
        c0 = curves[0]
        who = c0.model or c0.family
        shots = "" if c0.shots is None else f", {c0.shots}-shot"
        g.figure.suptitle(title or f"{who}: {c0.task}{shots}", fontsize=10, parse_math=False)
        g.figure.tight_layout()
        if handles:
            width = g.figure.get_figwidth()
            leg = g.figure.legend(list(handles.values()), list(handles.keys()),
                                  loc="upper center", bbox_to_anchor=(0.5, 0.0),
                                  ncol=max(1, min(len(handles), int(width // 2.2))),
                                  frameon=False, fontsize=7)
            for text in leg.get_texts():
                text.set_parse_math(False)
    return g


def plot_verdict_map(
    data: pd.DataFrame,
    *,
    outcome_colors: dict[str, str],
    verdict_colors: dict[str, str],
    row_height: float = 0.19,
    width: float = 7.5,
) -> plt.Figure:
    """Every task (rows) under every metric (columns): one coloured cell per curve's outcome.

    Parameters
    ----------
    data : DataFrame
        One row per curve with columns ``section`` (sort key), ``section_title``, ``anchor``
        (task identity), ``row`` (task label), ``metric``, ``outcome`` (a key of
        ``outcome_colors``) and ``verdict`` (the task's verdict, a key of ``verdict_colors``).
    outcome_colors, verdict_colors : dict
        Colours of the cells and of the verdict column.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"section": 0, "section_title": "s", "anchor": ["a", "a", "b"],
    ...                   "row": ["t1", "t1", "t2"], "metric": ["acc", "ppl", "acc"],
    ...                   "outcome": ["no break", "accelerating break", "underpowered"],
    ...                   "verdict": ["candidate genuine transition", "candidate genuine transition",
    ...                               "underpowered"]})
    >>> fig = plot_verdict_map(d, outcome_colors={"no break": "grey", "underpowered": "white",
    ...     "accelerating break": "red"}, verdict_colors={"candidate genuine transition": "red",
    ...     "underpowered": "gold"})
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['verdict', 'acc', 'ppl']
    """
    from matplotlib.patches import Patch, Rectangle

    d = data.copy()
    metrics = list(dict.fromkeys(d["metric"]))
    rows = d.drop_duplicates("anchor")[["section", "section_title", "anchor", "row", "verdict"]]
    y_of: dict[str, float] = {}
    labels, ticks, heads = [], [], []
    y = 0.0
    for _, sec in rows.groupby("section", sort=False):
        heads.append((y, str(sec["section_title"].iloc[0])))
        y += 1.2
        for r in sec.itertuples(index=False):
            y_of[r.anchor] = y
            ticks.append(y)
            labels.append(str(r.row))
            y += 1.0
    with figure_style():
        fig, ax = plt.subplots(figsize=(width, 1.4 + row_height * y), layout="constrained")
        for r in rows.itertuples(index=False):
            ax.add_patch(Rectangle((-0.45, y_of[r.anchor] - 0.42), 0.9, 0.84, lw=0,
                                   color=verdict_colors.get(r.verdict, "0.8")))
        for r in d.itertuples(index=False):
            j = metrics.index(r.metric) + 1
            ax.add_patch(Rectangle((j - 0.45, y_of[r.anchor] - 0.42), 0.9, 0.84, lw=0.4,
                                   ec="0.6", fc=outcome_colors.get(r.outcome, "0.5")))
        for yy, title in heads:
            ax.text(-0.55, yy + 0.3, title, fontsize=7, fontweight="bold", ha="left",
                    va="center", parse_math=False)
            ax.axhline(yy - 0.1, color="0.7", lw=0.6)
        ax.set_xlim(-0.6, len(metrics) + 0.6)
        ax.set_ylim(y, -0.4)
        ax.set_yticks(ticks, labels, fontsize=6.5)
        ax.set_xticks(range(len(metrics) + 1), ["verdict"] + metrics, rotation=35, ha="left",
                      fontsize=7)
        for t in ax.get_xticklabels() + ax.get_yticklabels():
            t.set_parse_math(False)
        ax.xaxis.tick_top()
        ax.grid(False)
        ax.tick_params(length=0)
        for s in ax.spines.values():
            s.set_visible(False)
        used_v = [v for v in verdict_colors if v in set(rows["verdict"])]
        used_o = [o for o in outcome_colors if o in set(d["outcome"])]
        hv = [Patch(fc=verdict_colors[v], label=f"verdict: {v}") for v in used_v]
        ho = [Patch(fc=outcome_colors[o], ec="0.6", label=o) for o in used_o]
        fig.legend(handles=hv + ho, loc="outside lower center", ncol=2, frameon=False,
                   fontsize=7)
    return fig
