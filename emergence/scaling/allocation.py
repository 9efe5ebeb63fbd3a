"""Compute-optimal allocation: N_opt(C), D_opt(C) and where each model of a table sits.

Under the Chinchilla law L(N, D) = E + A/N^alpha + B/D^beta with training compute C = 6 N D,
minimising L at fixed C gives (Hoffmann et al. 2022, eq. 4)

.. math::

    N_{opt}(C) = G\\,(C/6)^{a},\\quad D_{opt}(C) = G^{-1}(C/6)^{b},\\quad
    G = \\left(\\frac{\\alpha A}{\\beta B}\\right)^{1/(\\alpha+\\beta)},\\;
    a = \\frac{\\beta}{\\alpha+\\beta},\\; b = \\frac{\\alpha}{\\alpha+\\beta}.

A fixed ratio (``tokens_per_param=20``, the usual Chinchilla rule of thumb) gives
``N_opt = sqrt(C / (6 r))`` instead. For mixture-of-experts models the parameters that cost
compute are the *active* ones, so placement uses the ``active_params`` column of the tidy table
(which defaults to ``params`` for dense models).

Examples
--------
>>> from emergence.scaling import HOFFMANN_2022, compute_optimal
>>> compute_optimal([5.76e23], HOFFMANN_2022)[["N_opt", "D_opt"]].round(-9).to_dict("records")
[{'N_opt': 32000000000.0, 'D_opt': 2982000000000.0}]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._exceptions import EmergenceError
from .._validation import check_interval
from ..schema import validate
from .chinchilla import HOFFMANN_2022, ChinchillaFit, ChinchillaParams

__all__ = ["compute_optimal", "place_models", "model_scales"]


def _params_of(law: Any) -> tuple[ChinchillaParams | None, pd.DataFrame | None]:
    if law is None:
        return None, None
    if isinstance(law, ChinchillaFit):
        return law.params, law.bootstrap
    if isinstance(law, ChinchillaParams):
        return law, None
    raise TypeError("`law` must be a ChinchillaFit, ChinchillaParams or None (fixed ratio); got "
                    f"{type(law).__name__}.")


def _nopt(C: np.ndarray, E, A, B, alpha, beta) -> np.ndarray:
    G = (alpha * A / (beta * B)) ** (1.0 / (alpha + beta))
    return G * (C / 6.0) ** (beta / (alpha + beta))


def compute_optimal(
    compute: Any,
    law: ChinchillaFit | ChinchillaParams | None = HOFFMANN_2022,
    *,
    tokens_per_param: float | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Compute-optimal model size and data for each compute budget.

    Parameters
    ----------
    compute : float or array
        Training budgets C in FLOPs (positive).
    law : ChinchillaFit, ChinchillaParams or None, default=HOFFMANN_2022
        Loss law to minimise. A :class:`ChinchillaFit` with a bootstrap adds percentile intervals
        ``N_opt_lo``/``N_opt_hi``. None requires ``tokens_per_param``.
    tokens_per_param : float, optional
        Use the fixed ratio D = r N instead of a law.
    level : float, default=0.95
        Level of the bootstrap intervals.

    Returns
    -------
    DataFrame
        ``C, N_opt, D_opt, tokens_per_param, loss_opt`` (loss NaN for a fixed ratio) and, with a
        bootstrap, ``N_opt_lo, N_opt_hi, D_opt_lo, D_opt_hi``.

    Examples
    --------
    >>> compute_optimal(6e21, None, tokens_per_param=20)[["N_opt", "D_opt"]].round(0)
              N_opt         D_opt
    0  7.071068e+09  1.414214e+11
    """
    C = np.atleast_1d(np.asarray(compute, dtype=float))
    if np.any(~(C > 0)) or np.any(~np.isfinite(C)):
        raise EmergenceError(f"compute budgets must be positive and finite; got {C[~(C > 0)]}.")
    level = check_interval(level, "level", 0.0, 1.0)
    params, boot = _params_of(law)
    if tokens_per_param is not None:
        r = check_interval(tokens_per_param, "tokens_per_param", 0.0, np.inf)
        N = np.sqrt(C / (6.0 * r))
        D = r * N
        loss = params.predict(N, D) if params is not None else np.full(C.shape, np.nan)
        return pd.DataFrame({"C": C, "N_opt": N, "D_opt": D, "tokens_per_param": D / N,
                             "loss_opt": loss})
    if params is None:
        raise EmergenceError("give a law (ChinchillaFit or ChinchillaParams) or tokens_per_param.")
    p = params
    N = _nopt(C, p.E, p.A, p.B, p.alpha, p.beta)
    D = C / (6.0 * N)
    out = pd.DataFrame({"C": C, "N_opt": N, "D_opt": D, "tokens_per_param": D / N,
                        "loss_opt": p.predict(N, D)})
    if boot is not None and len(boot):
        b = {k: boot[k].to_numpy()[:, None] for k in ("E", "A", "B", "alpha", "beta")}
        Nb = _nopt(C[None, :], **b)
        q = (1 - level) / 2
        lo, hi = np.nanquantile(Nb, [q, 1 - q], axis=0)
        out["N_opt_lo"], out["N_opt_hi"] = lo, hi
        out["D_opt_lo"], out["D_opt_hi"] = C / (6.0 * hi), C / (6.0 * lo)
    return out


def model_scales(table: pd.DataFrame, *, size: str = "active_params") -> pd.DataFrame:
    """One row per model (its last checkpoint): N (active parameters), D (tokens), C (FLOPs).

    Tokens missing but compute given: ``D = C / (6 N)``. Compute missing: ``C = 6 N D``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"model": ["moe", "dense"], "task": "t", "metric": "acc",
    ...                   "value": [0.5, 0.4], "params": [47e9, 7e9],
    ...                   "active_params": [13e9, 7e9], "tokens": [1e12, 2e12]})
    >>> model_scales(t)[["model", "N", "params"]].values.tolist()
    [['dense', 7000000000.0, 7000000000.0], ['moe', 13000000000.0, 47000000000.0]]
    """
    t = validate(table)
    step = t["step"].astype("float64").fillna(-1.0)
    t = t.assign(_s=step).sort_values(["family", "model", "_s"])
    last = t.groupby(["family", "model"], sort=True, dropna=False).tail(1)
    N = last[size].to_numpy(dtype=float)
    N = np.where(np.isnan(N), last["params"].to_numpy(dtype=float), N)
    D = last["tokens"].to_numpy(dtype=float)
    C = last["flops"].to_numpy(dtype=float)
    D = np.where(np.isnan(D), C / (6.0 * N), D)
    C = np.where(np.isnan(C), 6.0 * N * D, C)
    return pd.DataFrame({"family": last["family"].to_numpy(), "model": last["model"].to_numpy(),
                         "params": last["params"].to_numpy(dtype=float), "N": N, "D": D,
                         "C": C}).reset_index(drop=True)


def place_models(
    table: pd.DataFrame,
    law: ChinchillaFit | ChinchillaParams | None = HOFFMANN_2022,
    *,
    tokens_per_param: float | None = None,
    size: str = "active_params",
    tolerance: float = 1.5,
) -> pd.DataFrame:
    """Where each model sits relative to the compute-optimal frontier.

    Parameters
    ----------
    table : DataFrame
        Tidy table (any metric; only the scale columns are used) or a runs table with columns
        ``model, N, D`` (and optionally ``C``).
    law, tokens_per_param
        As in :func:`compute_optimal`.
    size : str, default="active_params"
        Parameter column of a tidy table (active parameters for mixture-of-experts models).
    tolerance : float, default=1.5
        A model within this factor of N_opt is ``"near-optimal"``.

    Returns
    -------
    DataFrame
        Per model: ``N, D, C, tokens_per_param, N_opt, D_opt, optimal_tokens_per_param,
        size_ratio`` (N / N_opt), ``status`` (``"over-trained"``: fewer parameters and more tokens
        than optimal for its compute; ``"under-trained"``: the reverse; ``"near-optimal"``), and
        with a law ``loss_pred`` and ``loss_opt`` (predicted loss of the model and of the optimal
        allocation of the same compute) and their difference ``loss_excess``. Rows without
        parameters or tokens keep NaN and status ``"unknown scale"``.

    Examples
    --------
    >>> import pandas as pd
    >>> runs = pd.DataFrame({"model": ["small-long", "big-short"], "N": [1e9, 7e10],
    ...                      "D": [1e12, 2e10]})
    >>> place_models(runs, tokens_per_param=20)["status"].tolist()
    ['over-trained', 'under-trained']
    """
    tol = check_interval(tolerance, "tolerance", 1.0, np.inf, closed="left")
    if {"N", "D"} <= set(table.columns) and "metric" not in table.columns:
        m = table.copy()
        if "C" not in m.columns:
            m["C"] = 6.0 * m["N"] * m["D"]
        if "model" not in m.columns:
            m["model"] = [str(i) for i in range(len(m))]
    else:
        m = model_scales(table, size=size)
    N, D = m["N"].to_numpy(dtype=float), m["D"].to_numpy(dtype=float)
    C = 6.0 * N * D
    ok = (N > 0) & (D > 0) & np.isfinite(C)
    params, _ = _params_of(law)
    opt = compute_optimal(np.where(ok, C, 1.0), law, tokens_per_param=tokens_per_param)
    out = m.copy()
    out["C"] = C
    out["tokens_per_param"] = D / N
    out["N_opt"] = np.where(ok, opt["N_opt"], np.nan)
    out["D_opt"] = np.where(ok, opt["D_opt"], np.nan)
    out["optimal_tokens_per_param"] = out["D_opt"] / out["N_opt"]
    ratio = N / out["N_opt"].to_numpy()
    out["size_ratio"] = ratio
    status = np.where(ratio > tol, "under-trained",
                      np.where(ratio < 1.0 / tol, "over-trained", "near-optimal"))
    out["status"] = np.where(ok, status, "unknown scale")
    if params is not None:
        out["loss_pred"] = np.where(ok, params.predict(N, D), np.nan)
        out["loss_opt"] = np.where(ok, params.predict(out["N_opt"], out["D_opt"]), np.nan)
        out["loss_excess"] = out["loss_pred"] - out["loss_opt"]
    return out
