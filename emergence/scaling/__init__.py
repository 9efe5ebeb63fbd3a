"""Scaling laws: loss laws, compute-optimal allocation and predictability backtests."""

from __future__ import annotations

from .allocation import compute_optimal, model_scales, place_models
from .backtest import (
    BacktestResult,
    SigmoidFit,
    backtest,
    backtest_frame,
    fit_sigmoid,
    per_token_loss,
    pooled_curve,
)
from .chinchilla import (
    BESIROGLU_2024,
    HOFFMANN_2022,
    ChinchillaFit,
    ChinchillaParams,
    ScalingFitError,
    default_grid,
    fit_chinchilla,
    loss_runs,
)
from .plots import plot_backtest, plot_emergence, plot_loss_vs_compute
from .powerlaw import PowerLawFit, fit_power_law
from .section import report_section

__all__ = [
    "BESIROGLU_2024",
    "HOFFMANN_2022",
    "ChinchillaFit",
    "ChinchillaParams",
    "ScalingFitError",
    "default_grid",
    "fit_chinchilla",
    "loss_runs",
    "PowerLawFit",
    "fit_power_law",
    "compute_optimal",
    "model_scales",
    "place_models",
    "BacktestResult",
    "backtest",
    "backtest_frame",
    "per_token_loss",
    "pooled_curve",
    "SigmoidFit",
    "fit_sigmoid",
    "plot_backtest",
    "plot_emergence",
    "plot_loss_vs_compute",
    "report_section",
]
