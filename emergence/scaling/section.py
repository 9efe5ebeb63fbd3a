"""The scaling section of the HTML report: figures (PNG and SVG) and tables (CSV) of a
:class:`~emergence.scaling.analysis.ScalingAnalysis`.

:func:`write_section` renders only: every fit it draws or tabulates was made by
:func:`emergence.scaling.analysis.analyze_scaling` (what the table supports: loss laws and
compute-optimal placement, transition zones, backtests). :func:`report_section` is the two in one
call, for a single table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .._csvsafe import write_csv
from .._defaults import N_BOOT, SEED
from .._random import SeedLike
from ..plots import figure_style, save_figure
from ..registry import MetricFacts
from .analysis import ScalingAnalysis, analyze_scaling
from .plots import plot_backtests, plot_emergence, plot_loss_vs_compute, plot_placement

__all__ = ["report_section", "write_section"]

TITLE = "Scaling laws and predictability"

_PLOTS = {"loss_vs_compute": plot_loss_vs_compute, "placement": plot_placement,
          "emergence": plot_emergence, "backtests": plot_backtests}


def _draw(plot: str, args: tuple, kwargs: dict, styled: bool, title: str | None, path: Path,
          dpi: int) -> None:
    """Draw one figure of the section and save it (here or in a worker process): ``plot`` names
    the plotting function, called inside the package's figure style when ``styled``; ``title``
    is set afterwards (outside the style, as for every figure of the section)."""
    fn = _PLOTS[plot]
    if styled:
        with figure_style():
            ax = fn(*args, **kwargs)
    else:
        ax = fn(*args, **kwargs)
    if title is not None:
        ax.set_title(title, fontsize=9, parse_math=False)
    fig = getattr(ax, "figure", ax)
    save_figure(fig, path, dpi=dpi)
    plt.close(fig)


def write_section(result: ScalingAnalysis, out_dir: str | Path, *, dpi: int = 200,
                  pool=None) -> dict[str, Any]:
    """Write the figures and tables of a scaling analysis into ``out_dir``; nothing is fitted.

    Parameters
    ----------
    result : ScalingAnalysis
        From :func:`~emergence.scaling.analysis.analyze_scaling`.
    out_dir : str or Path
        Report folder; files go to ``figures/scaling_*.png`` and ``tables/scaling_*.csv``.
    dpi : int, default=200
        Resolution of the PNG figures (an SVG is written beside each).
    pool : concurrent.futures.Executor, optional
        Processes that draw the figures (the same files as drawn here); every figure is written
        when this function returns.

    Returns
    -------
    dict
        ``{"title": str, "figures": [{"path", "title", "caption", "flag"}], "tables": [{"path",
        "title", "frame", "note"}], "notes": [str]}``. Paths are relative to ``out_dir`` (each
        PNG has an SVG beside it); ``frame`` is the DataFrame written to the CSV; ``flag`` says
        when a figure shows a fit that is not a result (degenerate or uninformative, a zone
        beyond the data), empty otherwise.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np, pandas as pd
    >>> from emergence.scaling.analysis import analyze_scaling
    >>> x = np.geomspace(1e20, 1e24, 10)
    >>> t = pd.DataFrame({"family": "f", "model": [f"m{i}" for i in range(10)],
    ...                   "task": "arith", "metric": "acc", "flops": x,
    ...                   "value": 1 / (1 + np.exp(-2 * (np.log10(x) - 22)))})
    >>> out = write_section(analyze_scaling(t, n_boot=20), tempfile.mkdtemp())
    >>> [f["title"] for f in out["figures"]]
    ['Transition zone: f / arith / acc', 'Backtests: f / arith / acc']
    """
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    figures: list[dict[str, str]] = []
    tables: list[dict[str, Any]] = []

    drawing = []

    def save_fig(plot: tuple, name: str, title: str, caption: str, flag: str = "") -> None:
        """``plot``: (plotting function's name, args, kwargs, styled, title set afterwards)."""
        path = f"figures/scaling_{name}.png"
        job = (*plot, out / path, dpi)
        drawing.append(pool.submit(_draw, *job) if pool is not None else _draw(*job))
        figures.append({"path": path, "title": title, "caption": caption, "flag": flag})

    def save_table(frame: pd.DataFrame, name: str, title: str, note: str = "") -> None:
        path = f"tables/scaling_{name}.csv"
        write_csv(frame, out / path)
        tables.append({"path": path, "title": title, "frame": frame, "note": note})

    pm = result.placement
    for law in result.laws:
        frame = law.fit.to_frame()
        frame.insert(0, "curve", law.name)
        if not law.two_axis:
            save_table(frame, f"powerlaw_{law.slug}", f"Power law for {law.name}")
            continue
        fit = law.fit
        save_table(frame, f"chinchilla_{law.slug}", f"Chinchilla law for {law.name}")
        p = fit.params
        save_fig(("loss_vs_compute", (fit.runs, fit), {"loss_label": law.loss_label}, True,
                  f"{law.name}: L(N, D) = E + A/N^α + B/D^β"), f"loss_vs_compute_{law.slug}",
                 f"Loss against compute: {law.name}",
                 f"Each colour is one model size across training; dashed: the fitted law "
                 f"(E={p.E:.3g}, A={p.A:.3g}, B={p.B:.3g}, α={p.alpha:.3g}, β={p.beta:.3g}); "
                 "black: compute-optimal frontier; grey: best observed size at each budget. "
                 "Lines are drawn over the observed compute range only. Checkpoints of one "
                 "run share a learning-rate schedule, so intermediate points overstate the "
                 "loss a run tuned for that budget would reach.")
        if pm is not None and pm.law is fit:
            save_table(pm.table, "placement", f"Models relative to the compute-optimal frontier "
                       f"({law.name} law)")
            save_fig(("placement", (pm.shown, fit), {"title": f"Models against the "
                      f"compute-optimal size of the fitted {law.name} law"}, True, None),
                     "placement", f"Compute-optimal placement ({law.name} law)",
                     "Each model's (active) parameters against its training compute; black: "
                     "the compute-optimal size N_opt(C) of the fitted law, grey band: within "
                     "1.5x of it. Above the band: more parameters and fewer tokens than "
                     "optimal (under-trained); below: over-trained.")

    if pm is not None and pm.law_name is None:  # the published law: the table has none
        save_table(pm.table, "placement", "Models relative to the compute-optimal frontier "
                   "(published law: Besiroglu et al. 2024, the Epoch replication of "
                   "Chinchilla)",
                   note="The table has no loss to fit a law of its own, so the frontier is "
                   "the Epoch replication's (70B parameters and about 20 tokens per "
                   "parameter at Chinchilla's budget). Losses are not predicted for these "
                   "models: only their allocation is compared.")
        save_fig(("placement", (pm.shown, pm.law), {}, True, None), "placement",
                 "Compute-optimal placement (Epoch replication law)",
                 f"{len(pm.shown)} models with known parameters and tokens (or FLOPs) "
                 "against the compute-optimal size N_opt(C) of Besiroglu et al. (2024); grey "
                 "band: within 1.5x. Above it: under-trained for their compute; below: "
                 "over-trained (the usual case for recent models trained on many tokens)."
                 + (f" {pm.n_unknown} models without parameters or tokens are left "
                    "out." if pm.n_unknown else ""))

    for tr in result.transitions:
        c, sf = tr.curve, tr.sigmoid
        ylab = f"{c.metric} ({'higher' if c.info.higher_is_better else 'lower'} is better)"
        z0, z1 = sf.zone
        out_of = [f"{'starts' if i == 0 else 'ends'} at 10^{np.log10(z):.1f}"
                  for i, z in enumerate((z0, z1)) if np.isfinite(z)
                  and (z < np.min(sf.x) if i == 0 else z > np.max(sf.x))]
        flag = ("The transition zone reaches beyond the data (" + ", ".join(out_of)
                + f"; data from 10^{np.log10(np.min(sf.x)):.1f} to "
                f"10^{np.log10(np.max(sf.x)):.1f}): it is an extrapolation of the fitted "
                "sigmoid, drawn clipped to the data.") if out_of else ""
        save_fig(("emergence", (sf,), {"ylabel": ylab}, True, None), f"emergence_{tr.slug}",
                 f"Transition zone: {c.name}",
                 "Chance-floored sigmoid in log scale; dark band: 5%-95% of the way from floor "
                 f"to ceiling; light band: {sf.level:.0%} bootstrap bounds of the zone's edges.",
                 flag)
        done = tr.backtests
        if done:
            bad = [f"{r.method}: {', '.join(r.flags)}" for r in done if r.flags]
            flag = ("Not results: " + "; ".join(bad) + " (see the flags and notes columns of "
                    "the backtest table).") if bad else ""
            routes = ", ".join(r.method for r in done)
            save_fig(("backtests", (list(done),), {}, False, None), f"backtest_{tr.slug}",
                     f"Backtests: {c.name}",
                     f"Fitted below {done[0].x_name} = {done[0].cutoff:.3g} (dashed line), "
                     f"forecast above with a {done[0].level:.0%} prediction interval, one panel "
                     f"per route ({routes}"
                     + ("; mirage: the per-token loss of the same task extrapolated as a power "
                        "law and mapped to exact match" if "mirage" in routes else "")
                     + "); red points fall outside the interval. A flagged panel is not a "
                     "result.", flag)
    if result.transitions:
        save_table(result.transitions_frame(), "transitions", "Sigmoid fits and transition zones")
    if any(tr.backtests for tr in result.transitions):
        save_table(result.backtests_frame(), "backtests", "Predictability backtests",
                   note="Rows with flags are not results: 'degenerate' (the sigmoid is a step "
                   "the fitted scales do not resolve) or 'uninformative' (the prediction "
                   "interval spans half the metric's range or more, so coverage says little).")
    if pool is not None:  # every figure on disk before the section is returned
        for d in drawing:
            d.result()
    return {"title": TITLE, "figures": figures, "tables": tables, "notes": list(result.notes)}


def report_section(
    table: pd.DataFrame,
    out_dir: str | Path,
    *,
    seed: SeedLike = SEED,
    n_boot: int = N_BOOT,
    cutoff: float | None = None,
    max_loss_curves: int = 1,
    max_curves: int = 4,
    min_tokens_fraction: float = 0.01,
    grid: np.ndarray | None = None,
    dpi: int = 200,
    metric_facts: MetricFacts | None = None,
    chance: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Fit what ``table`` supports and write its figures and tables into ``out_dir``.

    :func:`~emergence.scaling.analysis.analyze_scaling`, then :func:`write_section`.

    Parameters
    ----------
    table : DataFrame
        Tidy table.
    out_dir : str or Path
        Report folder; files go to ``figures/scaling_*.png`` and ``tables/scaling_*.csv``.
    seed : None, int, SeedSequence or Generator
        Randomness of the bootstraps.
    n_boot : int, default=999
        Bootstrap replicates of each fit.
    cutoff : float, optional
        Scale below which backtests fit (default: 1e22 FLOPs when that leaves at least 3 points on
        each side, else the scale below which about 60% of the points lie).
    max_loss_curves, max_curves : int
        How many loss curves and proportion curves to treat.
    min_tokens_fraction : float, default=0.01
        Checkpoints that have seen less than this share of their model's final tokens are left out
        of the loss-law fit (warm-up is not described by the law); the count is in the notes.
    grid : ndarray, optional
        Starts of the Chinchilla fit (default: the 4,500-point published grid).
    dpi : int, default=200
        Resolution of the PNG figures (an SVG is written beside each).
    metric_facts, chance : mapping, optional
        Declared metric facts and chance levels, as in :func:`emergence.curves.extract_curves`.

    Returns
    -------
    dict
        ``{"title": str, "figures": [{"path", "title", "caption", "flag"}], "tables": [{"path",
        "title", "frame", "note"}], "notes": [str]}``. Paths are relative to ``out_dir`` (each
        PNG has an SVG beside it); ``frame`` is the DataFrame written to the CSV; ``flag`` says
        when a figure shows a fit that is not a result (degenerate or uninformative, a zone
        beyond the data), empty otherwise.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np, pandas as pd
    >>> x = np.geomspace(1e20, 1e24, 10)
    >>> t = pd.DataFrame({"family": [f"f{i}" for i in range(10)], "model": [f"m{i}" for i in range(10)],
    ...                   "task": "arith", "metric": "acc", "flops": x,
    ...                   "value": 1 / (1 + np.exp(-2 * (np.log10(x) - 22)))})
    >>> out = report_section(t, tempfile.mkdtemp(), n_boot=50)
    >>> sorted(f["path"] for f in out["figures"])[:1]
    ['figures/scaling_backtest_arith_acc_6ff6b1d8.png']
    """
    res = analyze_scaling(table, seed=seed, n_boot=n_boot, cutoff=cutoff,
                          max_loss_curves=max_loss_curves, max_curves=max_curves,
                          min_tokens_fraction=min_tokens_fraction, grid=grid,
                          metric_facts=metric_facts, chance=chance)
    return write_section(res, out_dir, dpi=dpi)
