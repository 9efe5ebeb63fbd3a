"""Figures of the lab: exact match beside edit distance and log-likelihood, across size and steps.

Works on the curves of a :class:`~emergence.lab.run.LabResult`; needs only matplotlib and
seaborn (no torch). The caller's matplotlib backend is kept (inline in a notebook; matplotlib
picks a non-interactive one on a machine without a display).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import seaborn as sns

from ..plots import SCALE_LABELS, plot_curve

__all__ = ["size_figure", "step_figure", "write_figures"]


_ORDER = ("exact_match", "multiple_choice_grade", "token_edit_distance", "brier_score",
          "target_loglik")


def _rank(metric: str) -> int:
    return _ORDER.index(metric) if metric in _ORDER else len(_ORDER)


def _metrics_of(curves) -> list[str]:
    seen: list[str] = []
    for c in curves:
        if c.metric not in seen:
            seen.append(c.metric)
    return sorted(seen, key=_rank)


def _tidy_axis(ax) -> None:
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _verdict_map(vt) -> dict:
    if vt is None or not len(vt.groups):
        return {}
    g = vt.verdicts()
    out = {}
    for r in g.itertuples(index=False):
        d = r._asdict()
        k = (None if "model" not in d or d["model"] is None or d["model"] != d["model"]
             else d["model"], d["task"])
        out[k] = d["verdict"]
    return out


def size_figure(curves, *, verdicts=None, tasks: list[str] | None = None) -> plt.Figure:
    """One row per task, one column per metric: values across size (final checkpoints).

    With several training runs per size each run is a faint line and their mean the bold line
    with its item-level interval (:func:`emergence.plots.plot_curve`).

    Parameters
    ----------
    curves : CurveSet or list of Curve
        Curves across size.
    verdicts : VerdictTable, optional
        Adds each task's verdict to its row title.
    tasks : list of str, optional
        Row order (default: all tasks of ``curves``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    cl = list(curves)
    tasks = tasks or sorted({c.task for c in cl})
    vmap = _verdict_map(verdicts)
    gen = [c for c in cl if not c.task.endswith("_mc")]
    mc = [c for c in cl if c.task.endswith("_mc")]
    ncol = max(len(_metrics_of(gen)), len(_metrics_of(mc)), 1)
    fig, axes = plt.subplots(len(tasks), ncol, figsize=(3.4 * ncol, 2.6 * len(tasks)),
                             squeeze=False)
    for i, task in enumerate(tasks):
        row = sorted([c for c in cl if c.task == task], key=lambda c: _rank(c.metric))
        for j, c in enumerate(row[:ncol]):
            plot_curve(c, ax=axes[i, j])
            _tidy_axis(axes[i, j])
            axes[i, j].set_title(f"{task}: {c.metric}", fontsize=9)
        for j in range(len(row), ncol):
            axes[i, j].set_visible(False)
        v = vmap.get((None, task))
        if v:
            axes[i, 0].annotate(f"verdict: {v}", xy=(0.0, 1.18), xycoords="axes fraction",
                                fontsize=8, color="0.25")
    n_runs = max((c.runs.shape[0] for c in cl if c.runs is not None), default=1)
    title = "Across size (final checkpoints)" if n_runs == 1 else (
        f"Across size (final checkpoints): mean of {n_runs} runs per size (bold), each run faint")
    fig.suptitle(title, fontsize=11, y=1.01)
    fig.tight_layout()
    return fig


def step_figure(curves, *, tasks: list[str] | None = None,
                order: list[str] | None = None) -> plt.Figure:
    """One row per task, one column per metric: values across training, one line per size.

    With several training runs per size each run is a faint line and their mean the bold line.

    Parameters
    ----------
    curves : CurveSet or list of Curve
        Curves across steps (one per size, task and metric).
    tasks : list of str, optional
    order : list of str, optional
        Sizes (model names) from smallest to largest; sets the colours.

    Returns
    -------
    matplotlib.figure.Figure
    """
    cl = list(curves)
    tasks = tasks or sorted({c.task for c in cl})
    sizes = list(order) if order is not None else sorted({c.model for c in cl})
    order_map = {m: i for i, m in enumerate(sizes)}
    palette = sns.color_palette("viridis", n_colors=max(len(sizes), 1))
    ncol = max(len(_metrics_of([c for c in cl if c.task == t])) for t in tasks)
    fig, axes = plt.subplots(len(tasks), ncol, figsize=(3.4 * ncol, 2.6 * len(tasks)),
                             squeeze=False)
    for i, task in enumerate(tasks):
        mets = _metrics_of([c for c in cl if c.task == task])
        for j, metric in enumerate(mets):
            ax = axes[i, j]
            for c in sorted([c for c in cl if c.task == task and c.metric == metric],
                            key=lambda c: order_map[c.model]):
                col = palette[order_map[c.model]]
                if c.runs is not None:
                    # each training run faint, their mean bold
                    for row in c.runs:
                        ok = np.isfinite(row)
                        ax.plot(c.x[ok], row[ok], "-", lw=0.7, alpha=0.35, color=col)
                ax.plot(c.x, c.y, "o-", ms=3, lw=1.8, color=col, label=c.model)
            ax.set_xscale("log")
            _tidy_axis(ax)
            ax.set_xlabel(SCALE_LABELS.get(cl[0].x_name, cl[0].x_name))
            ax.set_title(f"{task}: {metric}", fontsize=9)
            if i == 0 and j == 0:
                ax.legend(fontsize=6, frameon=False)
        for j in range(len(mets), ncol):
            axes[i, j].set_visible(False)
    n_runs = max((c.runs.shape[0] for c in cl if c.runs is not None), default=1)
    title = "Across training (one line per size)" if n_runs == 1 else (
        f"Across training: mean of {n_runs} runs per size (bold), each run faint")
    fig.suptitle(title, fontsize=11, y=1.01)
    fig.tight_layout()
    return fig


def write_figures(result, directory: str | Path) -> list[Path]:
    """Write ``size.png`` and ``steps.png`` for a :class:`~emergence.lab.run.LabResult`."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    fig = size_figure(result.curves_size, verdicts=result.verdict_size)
    paths.append(d / "size.png")
    fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)
    t = result.table
    order = list(t.drop_duplicates("model").sort_values("params")["model"])
    fig = step_figure(result.curves_step, order=order)
    paths.append(d / "steps.png")
    fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)
    return paths
