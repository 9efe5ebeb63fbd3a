"""Scaling laws: loss laws, compute-optimal allocation and predictability backtests.

* :func:`fit_power_law`: one axis, ``L(x) = E + A x^-alpha`` (or without E), least squares on log L.
* :func:`fit_chinchilla`: ``L(N, D) = E + A/N^alpha + B/D^beta`` as Hoffmann et al. (2022) and
  Besiroglu et al. (2024) fit it (log-sum-exp form, Huber loss on log residuals, L-BFGS from their
  4,500-point grid, all starts solved as one vectorised batch), with bootstrap intervals.
* :func:`compute_optimal`, :func:`place_models`: N_opt(C), D_opt(C), tokens per parameter, and where
  each model sits (active parameters for mixture-of-experts models).
* :func:`backtest`: fit below a cutoff, forecast above with prediction intervals (linear, power,
  chance-floored sigmoid, Mirage route); :func:`fit_sigmoid` locates the 5%-95% transition zone.
* Tables to fits (:mod:`.runs`): :func:`as_runs` / :func:`read_runs` (runs tables),
  :func:`power_law_runs`, :func:`load_law`, :func:`backtest_table`; ``write_*``
  (:mod:`.files`) for the files the ``emergence scaling`` command writes.
* :func:`analyze_scaling`: every fit a table supports (loss laws, placement, transition zones,
  backtests) in one typed :class:`ScalingAnalysis`, which the analysis layer runs for the report.
* Figures (:func:`plot_loss_vs_compute`, :func:`plot_emergence`, :func:`plot_backtest`),
  :func:`write_section` (renders a :class:`ScalingAnalysis` for the HTML report) and
  :func:`report_section` (fit and render one table). They are imported on first use, so the
  fits do not load the plotting stack.

Examples
--------
>>> from emergence.scaling import BESIROGLU_2024, compute_optimal
>>> round(float(compute_optimal(1e23, BESIROGLU_2024)["tokens_per_param"].iloc[0]), 1)
19.2
"""

from __future__ import annotations

from .allocation import compute_optimal, model_scales, place_models
from .analysis import LossLaw, Placement, ScalingAnalysis, Transition, analyze_scaling
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
    coarse_grid,
    default_grid,
    fit_chinchilla,
    loss_runs,
)
from .powerlaw import PowerLawFit, fit_power_law
from .runs import (
    as_runs,
    backtest_table,
    is_runs_file,
    load_law,
    power_law_runs,
    read_runs,
)

#: Presentation, imported on first use (module ``__getattr__``): name -> submodule.
_FIGURES = {"plot_backtest": "plots", "plot_backtests": "plots", "plot_emergence": "plots",
            "plot_loss_vs_compute": "plots", "plot_placement": "plots",
            "report_section": "section", "write_section": "section",
            "write_backtest": "files", "write_chinchilla": "files", "write_power_law": "files"}


def __getattr__(name: str):
    if name not in _FIGURES:
        raise AttributeError(f"module 'emergence.scaling' has no attribute {name!r}")
    if _FIGURES[name] == "plots":
        from . import plots as module
    elif _FIGURES[name] == "files":
        from . import files as module
    else:
        from . import section as module
    return getattr(module, name)


__all__ = [
    "BESIROGLU_2024",
    "HOFFMANN_2022",
    "ChinchillaFit",
    "ChinchillaParams",
    "ScalingFitError",
    "default_grid",
    "coarse_grid",
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
    "LossLaw",
    "Placement",
    "ScalingAnalysis",
    "Transition",
    "analyze_scaling",
    "plot_backtest",
    "plot_backtests",
    "plot_emergence",
    "plot_loss_vs_compute",
    "plot_placement",
    "report_section",
    "is_runs_file",
    "read_runs",
    "as_runs",
    "power_law_runs",
    "load_law",
    "backtest_table",
    "write_chinchilla",
    "write_power_law",
    "write_backtest",
    "write_section",
]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_FIGURES))
