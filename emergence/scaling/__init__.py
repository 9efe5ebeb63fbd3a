"""Scaling laws: loss laws, compute-optimal allocation and predictability backtests."""

from __future__ import annotations

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

__all__ = [
    "BESIROGLU_2024",
    "HOFFMANN_2022",
    "ChinchillaFit",
    "ChinchillaParams",
    "ScalingFitError",
    "default_grid",
    "fit_chinchilla",
    "loss_runs",
]
