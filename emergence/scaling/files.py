"""The files ``emergence scaling`` writes for one fit: its tables, summary and figure.

Presentation: each writer takes a fitted result (:func:`~emergence.scaling.fit_chinchilla`,
:func:`~emergence.scaling.fit_power_law`, :func:`~emergence.scaling.backtest`) and writes it;
nothing is fitted here.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..plots import figure_style, save_figure
from .allocation import place_models
from .backtest import BacktestResult
from .chinchilla import ChinchillaFit
from .plots import plot_backtest, plot_loss_vs_compute
from .powerlaw import PowerLawFit

__all__ = ["write_backtest", "write_chinchilla", "write_power_law"]


def write_chinchilla(fit: ChinchillaFit, out: str | Path, *, table: pd.DataFrame | None = None,
                     size: str = "active_params") -> list[Path]:
    """Write a Chinchilla fit: parameters, runs, bootstrap, the loss-vs-compute figure, and
    where the models of ``table`` sit (when it is a tidy table). Returns the files written."""
    out = _folder(out)
    files = [out / "chinchilla_params.csv", out / "chinchilla_runs.csv"]
    fit.to_frame().to_csv(files[0], index=False)
    fit.runs.to_csv(files[1], index=False)
    if fit.bootstrap is not None:
        files.append(out / "chinchilla_bootstrap.csv")
        fit.bootstrap.to_csv(files[-1], index=False)
    with figure_style():
        ax = plot_loss_vs_compute(fit.runs, fit)
    files.append(out / "loss_vs_compute.png")
    save_figure(ax.figure, files[-1])  # PNG at 200 dpi and SVG
    if table is not None and "metric" in table.columns:
        files.append(out / "placement.csv")
        place_models(table, fit, size=size).to_csv(files[-1], index=False)
    files.append(out / "summary.txt")
    files[-1].write_text(fit.summary() + "\n")
    return files


def write_power_law(fit: PowerLawFit, out: str | Path) -> list[Path]:
    """Write a one-axis power-law fit (parameters and summary). Returns the files written."""
    out = _folder(out)
    files = [out / "power_params.csv", out / "summary.txt"]
    fit.to_frame().to_csv(files[0], index=False)
    files[1].write_text(fit.summary() + "\n")
    return files


def write_backtest(res: BacktestResult, out: str | Path) -> list[Path]:
    """Write a backtest: its points, summary row and figure. Returns the files written."""
    out = _folder(out)
    files = [out / "backtest_points.csv", out / "backtest_summary.csv", out / "backtest.png"]
    res.to_frame().to_csv(files[0], index=False)
    res.to_row().to_csv(files[1], index=False)
    with figure_style():
        ax = plot_backtest(res)
    save_figure(ax.figure, files[2])
    return files


def _folder(out: str | Path) -> Path:
    p = Path(out)
    p.mkdir(parents=True, exist_ok=True)
    return p
