"""The Chinchilla parametric loss law L(N, D) = E + A / N^alpha + B / D^beta.

Fitted the way Hoffmann et al. (2022, "approach 3") and the Epoch replication (Besiroglu et al.
2024) fit it: in the log-sum-exp parametrisation

.. math::

    \\log \\hat L_i = \\mathrm{LSE}(a - \\alpha \\log N_i,\\; b - \\beta \\log D_i,\\; e),
    \\qquad A = e^a,\\; B = e^b,\\; E = e^e,

minimising the Huber loss (``delta = 1e-3``) of the log-loss residuals
:math:`\\log \\hat L_i - \\log L_i` with L-BFGS from every point of a grid of initial values, and
keeping the best optimum. The grid of both papers is the default: ``alpha, beta`` in
{0, 0.5, ..., 2}, ``e`` in {-1, -0.5, ..., 1}, ``a, b`` in {0, 5, ..., 25} (4,500 starts).

All starts are optimised together: objective and analytic gradient are evaluated for the whole
batch of starts in one numpy expression, and each start keeps its own L-BFGS memory and line
search (:mod:`emergence.scaling._optim`). Bootstrap replicates (runs resampled with replacement)
are solved the same way, one problem per replicate, warm-started at the full-data optimum (as the
replication code does). ``exclude_top`` leaves out the highest-loss runs before fitting, an option the
replication used for its outlying small-compute runs.

Published values (documented in :data:`HOFFMANN_2022` and :data:`BESIROGLU_2024`):

=============  ======  ======  =======  =====  =====
fit            E       A       B        alpha  beta
=============  ======  ======  =======  =====  =====
Hoffmann 2022  1.69    406.4   410.7    0.34   0.28
Besiroglu 2024 1.82    482.0   2085.4   0.348  0.366
=============  ======  ======  =======  =====  =====

References
----------
.. [1] Hoffmann, J. et al. "Training Compute-Optimal Large Language Models." NeurIPS 2022,
   arXiv:2203.15556 (section 3.3 and appendix D.2).
.. [2] Besiroglu, T., Erdil, E., Barnett, M., You, J. "Chinchilla Scaling: A replication
   attempt." arXiv:2404.10102 (2024).

Examples
--------
>>> import numpy as np
>>> from emergence.scaling import BESIROGLU_2024, fit_chinchilla
>>> N, D = np.meshgrid(np.geomspace(7e7, 1.6e10, 8), np.geomspace(5e9, 5e11, 6))
>>> L = BESIROGLU_2024.predict(N.ravel(), D.ravel())
>>> fit = fit_chinchilla(params=N.ravel(), tokens=D.ravel(), loss=L, n_boot=0)  # fit only
>>> round(fit.params.alpha, 3), round(fit.params.beta, 3), round(fit.params.E, 2)
(0.348, 0.366, 1.82)
"""

from __future__ import annotations

import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._defaults import N_BOOT
from .._exceptions import ConvergenceWarning, DataExclusionWarning, EmergenceError
from .._random import SeedLike
from .._validation import check_interval, check_rng
from ..registry import BUILTIN_METRICS, MetricFacts, find_metric_info
from ._optim import batched_lbfgs

__all__ = [
    "ChinchillaParams",
    "ChinchillaFit",
    "ScalingFitError",
    "HOFFMANN_2022",
    "BESIROGLU_2024",
    "default_grid",
    "coarse_grid",
    "fit_chinchilla",
    "loss_runs",
]

PARAM_NAMES = ("E", "A", "B", "alpha", "beta")

#: Built-in metrics read as a loss (latent "loss" or "perplexity" in
#: :data:`emergence.registry.BUILTIN_METRICS`; perplexities enter as their log).
LOSS_METRICS = tuple(n for n, i in BUILTIN_METRICS.items() if i.latent in ("loss", "perplexity"))


def is_loss_metric(metric: str, metric_facts: MetricFacts | None = None) -> bool:
    """True for metrics :func:`loss_runs` reads as a loss: latent ``"loss"`` or
    ``"perplexity"`` in the built-in table or in ``metric_facts`` (loss, perplexity, bits per
    byte, declared losses).

    Examples
    --------
    >>> is_loss_metric("val_loss"), is_loss_metric("acc")
    (True, False)
    >>> is_loss_metric("val_bpb", {"val_bpb": "lower,continuous,0:inf,loss"})
    True
    """
    info = find_metric_info(str(metric), metric_facts)
    return info is not None and info.latent in ("loss", "perplexity")


class ScalingFitError(EmergenceError, RuntimeError):
    """A scaling-law fit did not converge from any start (the message names the best attempt)."""


@dataclass(frozen=True, slots=True)
class ChinchillaParams:
    """Parameters of L(N, D) = E + A / N^alpha + B / D^beta.

    Examples
    --------
    >>> from emergence.scaling import HOFFMANN_2022
    >>> round(HOFFMANN_2022.predict(70e9, 1.4e12).item(), 3)
    1.937
    """

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    source: str = ""

    @classmethod
    def from_log(cls, a: float, b: float, e: float, alpha: float, beta: float,
                 source: str = "") -> ChinchillaParams:
        """Build from the log-sum-exp parametrisation (a = log A, b = log B, e = log E)."""
        return cls(float(np.exp(e)), float(np.exp(a)), float(np.exp(b)), float(alpha),
                   float(beta), source)

    @property
    def log_vector(self) -> np.ndarray:
        """``(a, b, e, alpha, beta)``: the vector the optimiser works on."""
        return np.array([np.log(self.A), np.log(self.B), np.log(self.E), self.alpha, self.beta])

    def predict(self, N: Any, D: Any) -> np.ndarray:
        """Predicted loss at parameters ``N`` and training tokens ``D`` (broadcast)."""
        N = np.asarray(N, dtype=float)
        D = np.asarray(D, dtype=float)
        return self.E + self.A / N**self.alpha + self.B / D**self.beta

    def to_dict(self) -> dict[str, float]:
        """The five parameters as a dict."""
        return {k: getattr(self, k) for k in PARAM_NAMES}


#: Hoffmann et al. (2022), eq. (10): the fit of approach 3 as published.
HOFFMANN_2022 = ChinchillaParams(1.69, 406.4, 410.7, 0.34, 0.28, "Hoffmann et al. 2022")
#: Besiroglu et al. (2024): refit on the data reconstructed from Hoffmann et al.'s figure 4.
BESIROGLU_2024 = ChinchillaParams(1.82, 482.0, 2085.4, 0.348, 0.366, "Besiroglu et al. 2024")


def default_grid() -> np.ndarray:
    """The grid of initial values of Hoffmann et al. (2022) and Besiroglu et al. (2024).

    Returns
    -------
    ndarray (4500, 5)
        Columns ``(a, b, e, alpha, beta)``: ``a, b`` in {0, 5, ..., 25}, ``e`` in
        {-1, -0.5, ..., 1}, ``alpha, beta`` in {0, 0.5, ..., 2}.

    Examples
    --------
    >>> default_grid().shape
    (4500, 5)
    """
    ab = np.arange(0.0, 25.1, 5.0)
    e = np.arange(-1.0, 1.01, 0.5)
    ex = np.arange(0.0, 2.01, 0.5)
    g = np.meshgrid(ab, ab, e, ex, ex, indexing="ij")
    return np.stack([x.ravel() for x in g], axis=1)


def coarse_grid() -> np.ndarray:
    """A 162-point subset of :func:`default_grid` for quick fits: ``a, b`` in {0, 5, 10}, ``e`` in
    {0, 0.5}, ``alpha, beta`` in {0, 0.5, 1}.

    Examples
    --------
    >>> coarse_grid().shape
    (162, 5)
    """
    g = default_grid()
    return g[np.isin(g[:, 0], [0, 5, 10]) & np.isin(g[:, 1], [0, 5, 10])
             & np.isin(g[:, 2], [0, 0.5]) & np.isin(g[:, 3], [0, 0.5, 1])
             & np.isin(g[:, 4], [0, 0.5, 1])]


def _objective(logN: np.ndarray, logD: np.ndarray, logL: np.ndarray, delta: float,
               weights: np.ndarray | None = None, threads: int | None = None):
    """Vectorised Huber objective (divided by delta) and its analytic gradient.

    ``weights`` is None (all runs weight 1) or (S, n) with one row per problem. Large batches are
    split over ``threads`` worker threads (numpy releases the GIL in its array loops).
    """
    logN = np.ascontiguousarray(logN, dtype=float)
    logD = np.ascontiguousarray(logD, dtype=float)
    logL = np.ascontiguousarray(logL, dtype=float)
    if threads is None:  # two threads help on an idle machine and hurt on a busy one
        cpus = os.cpu_count() or 1
        busy = hasattr(os, "getloadavg") and os.getloadavg()[0] >= cpus
        threads = 1 if busy else min(2, cpus)
    n_threads = threads

    def block(x: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a, b, e = x[:, 0:1], x[:, 1:2], x[:, 2]
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            E1 = np.multiply(x[:, 3:4], logN)  # alpha log N
            np.subtract(a, E1, out=E1)
            np.exp(E1, out=E1)  # A / N^alpha
            E2 = np.multiply(x[:, 4:5], logD)
            np.subtract(b, E2, out=E2)
            np.exp(E2, out=E2)  # B / D^beta
            s = E1 + E2
            s += np.exp(e)[:, None]  # predicted loss
            r = np.log(s)
            r -= logL  # log residual
            psi = np.clip(r, -delta, delta)
            r -= 0.5 * psi
            r *= psi  # Huber loss: psi * (r - psi / 2)
            if weights is not None:
                w = weights[rows]
                r *= w
                psi *= w
            f = r.sum(axis=1)
            psi /= s  # d Huber / d pred
            grad = np.empty_like(x)
            grad[:, 2] = psi.sum(axis=1) * np.exp(e)
            E1 *= psi
            E2 *= psi
            grad[:, 0] = E1.sum(axis=1)
            grad[:, 1] = E2.sum(axis=1)
            grad[:, 3] = -np.einsum("kn,n->k", E1, logN)
            grad[:, 4] = -np.einsum("kn,n->k", E2, logD)
        f /= delta
        grad /= delta
        bad = ~np.isfinite(f)
        if bad.any():
            f[bad] = np.inf
        return f, grad

    def fg(x: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = x.shape[0]
        if n_threads < 2 or k * logN.size < 200_000:
            return block(x, rows)
        parts = np.array_split(np.arange(k), n_threads)
        with ThreadPoolExecutor(n_threads) as ex:
            out = list(ex.map(lambda p: block(x[p], rows[p]), parts))
        return np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out])

    return fg


@dataclass(frozen=True)
class ChinchillaFit:
    """Result of :func:`fit_chinchilla`.

    Attributes
    ----------
    params : ChinchillaParams
        Best fit over all starts.
    objective : float
        Sum of Huber losses of the log residuals at the optimum, divided by ``delta``.
    delta : float
        Huber threshold.
    runs : DataFrame
        Every input run: ``N``, ``D``, ``C``, ``loss``, ``predicted``, ``log_residual``, ``used`` and
        ``reason`` (why a run was left out, else empty).
    n_used, n_excluded : int
    n_starts, n_converged : int
        Grid starts and how many met a stopping test.
    starts : DataFrame
        One row per start: initial and final ``(a, b, e, alpha, beta)``, objective, status.
    bootstrap : DataFrame or None
        One row per bootstrap replicate: ``E, A, B, alpha, beta, objective, converged``.
    level : float
        Confidence level of the percentile intervals.
    seconds : float
        Wall time of the grid fit (bootstrap excluded).
    notes : tuple of str
    """

    params: ChinchillaParams
    objective: float
    delta: float
    runs: pd.DataFrame
    n_used: int
    n_excluded: int
    n_starts: int
    n_converged: int
    starts: pd.DataFrame
    bootstrap: pd.DataFrame | None = None
    level: float = 0.95
    seconds: float = float("nan")
    notes: tuple[str, ...] = field(default_factory=tuple)

    def predict(self, N: Any, D: Any) -> np.ndarray:
        """Fitted loss at ``N`` parameters and ``D`` tokens."""
        return self.params.predict(N, D)

    def intervals(self) -> pd.DataFrame:
        """Percentile bootstrap intervals per parameter (NaN without a bootstrap)."""
        rows = []
        lo_q, hi_q = (1 - self.level) / 2, 1 - (1 - self.level) / 2
        for k in PARAM_NAMES:
            est = getattr(self.params, k)
            if self.bootstrap is not None and len(self.bootstrap):
                v = self.bootstrap[k].to_numpy()
                v = v[np.isfinite(v)]
                lo, hi = np.quantile(v, [lo_q, hi_q]) if v.size else (np.nan, np.nan)
                se = float(np.std(v, ddof=1)) if v.size > 1 else np.nan
            else:
                lo = hi = se = np.nan
            rows.append({"parameter": k, "estimate": est, "se": se, "ci_low": float(lo),
                         "ci_high": float(hi), "level": self.level})
        return pd.DataFrame(rows)

    def to_frame(self) -> pd.DataFrame:
        """One row per parameter: estimate, bootstrap SE and interval, and the published values."""
        out = self.intervals()
        out["hoffmann_2022"] = [getattr(HOFFMANN_2022, k) for k in PARAM_NAMES]
        out["besiroglu_2024"] = [getattr(BESIROGLU_2024, k) for k in PARAM_NAMES]
        return out

    def summary(self) -> str:
        """Short text summary."""
        p = self.params
        lines = [
            "Chinchilla law L(N, D) = E + A/N^alpha + B/D^beta "
            f"(Huber delta={self.delta:g} on log loss, L-BFGS from {self.n_starts} starts, "
            f"{self.n_converged} converged)",
            f"runs used: {self.n_used}, excluded: {self.n_excluded}",
        ]
        iv = self.intervals()
        for _, r in iv.iterrows():
            ci = ("" if not np.isfinite(r.ci_low)
                  else f"  [{r.ci_low:.4g}, {r.ci_high:.4g}] ({self.level:.0%} bootstrap)")
            lines.append(f"  {r.parameter:>5} = {r.estimate:.4g}{ci}")
        a, b = p.alpha, p.beta
        lines.append(f"compute-optimal exponents: N_opt ~ C^{b / (a + b):.3f}, "
                     f"D_opt ~ C^{a / (a + b):.3f}")
        lines.extend(self.notes)
        return "\n".join(lines)


def _as_array(v: Any, name: str, data: pd.DataFrame | None) -> np.ndarray | None:
    if v is None:
        return None
    if data is not None and isinstance(v, str):
        if v not in data.columns:
            raise EmergenceError(f"column '{v}' (for `{name}`) not in the table; columns are "
                                 f"{list(data.columns)}.")
        v = data[v]
    return np.asarray(v, dtype=float).ravel()


def _check_positive(arr: np.ndarray, name: str, labels: np.ndarray) -> None:
    bad = np.flatnonzero(~(arr > 0) & np.isfinite(arr))
    if bad.size:
        shown = ", ".join(f"{labels[i]} ({arr[i]:g})" for i in bad[:8])
        more = f", ... ({bad.size - 8} more)" if bad.size > 8 else ""
        raise EmergenceError(
            f"`{name}` must be positive; non-positive values in runs {shown}{more}. "
            "Remove those runs or fix their values (sizes, tokens and losses enter as logs)."
        )


def fit_chinchilla(
    data: pd.DataFrame | None = None,
    *,
    params: Any = "N",
    tokens: Any = "D",
    flops: Any = None,
    loss: Any = "loss",
    labels: Any = None,
    delta: float = 1e-3,
    grid: np.ndarray | None = None,
    exclude_top: int = 0,
    n_boot: int = N_BOOT,
    level: float = 0.95,
    seed: SeedLike = None,
    max_iter: int = 2000,
    progress: bool = False,
) -> ChinchillaFit:
    """Fit L(N, D) = E + A / N^alpha + B / D^beta by Huber loss on log loss from a grid of starts.

    Parameters
    ----------
    data : DataFrame, optional
        Table of runs. When given, ``params``, ``tokens``, ``flops``, ``loss`` and ``labels`` are
        column names; otherwise they are arrays.
    params : str or array
        Parameters N of each run (use active parameters for mixture-of-experts models).
    tokens : str or array, optional
        Training tokens D. When missing (None, or a column absent from ``data``), ``D = C / (6 N)``
        from ``flops``.
    flops : str or array, optional
        Training compute C, used only when ``tokens`` is not available.
    loss : str or array
        Final loss of each run (positive).
    labels : str or array, optional
        Run names for messages and the ``runs`` table (default: row numbers).
    delta : float, default=1e-3
        Huber threshold on log-loss residuals.
    grid : ndarray (S, 5), optional
        Initial values ``(a, b, e, alpha, beta)``; default :func:`default_grid` (4,500 starts).
    exclude_top : int, default=0
        Leave out the ``exclude_top`` runs with the highest loss (reported in ``runs``).
    n_boot : int, default=999
        Bootstrap replicates (runs resampled with replacement, each refitted from the full-data
        optimum) for percentile intervals on every parameter. ``n_boot=0`` fits only (no
        intervals; ``intervals()`` is then NaN).
    level : float, default=0.95
        Confidence level of the intervals.
    seed : None, int, SeedSequence or Generator
        Randomness of the bootstrap.
    max_iter : int, default=2000
        L-BFGS iteration cap per start.
    progress : bool, default=False
        Show tqdm progress bars.

    Returns
    -------
    ChinchillaFit

    Raises
    ------
    EmergenceError
        Non-positive N, D or loss; a single model size or a single token count (the law is not
        identifiable; fit one axis with :func:`fit_power_law`); fewer than 5 runs.
    ScalingFitError
        No start converged; the message names the best attempt.

    Notes
    -----
    The objective is :math:`\\sum_i \\mathrm{Huber}_\\delta(\\log \\hat L_i - \\log L_i) / \\delta`;
    dividing by delta does not move the minimiser but keeps the optimiser's tolerances meaningful.
    Parameter recovery to better than 1% on simulated data is part of the test suite; on the
    4,500-start grid the fit of 245 runs takes a few seconds (``benchmarks/scaling_fit.py``).

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.scaling import HOFFMANN_2022, fit_chinchilla
    >>> rng = np.random.default_rng(0)
    >>> N = np.repeat(np.geomspace(1e8, 1e10, 6), 5)
    >>> D = np.tile(np.geomspace(2e9, 2e11, 5), 6)
    >>> L = HOFFMANN_2022.predict(N, D) * np.exp(rng.normal(0, 0.002, N.size))
    >>> fit = fit_chinchilla(params=N, tokens=D, loss=L, n_boot=50, seed=1)
    >>> ci = fit.intervals().set_index("parameter")
    >>> bool(ci.loc["alpha", "ci_low"] < 0.34 < ci.loc["alpha", "ci_high"])
    True
    """
    delta = check_interval(delta, "delta", 0.0, np.inf)
    level = check_interval(level, "level", 0.0, 1.0)
    if not isinstance(exclude_top, (int, np.integer)) or exclude_top < 0:
        raise ValueError(f"`exclude_top` must be a non-negative integer; got {exclude_top!r}.")
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ValueError(f"`n_boot` must be a non-negative integer; got {n_boot!r}.")
    notes: list[str] = []
    if data is not None:
        if isinstance(tokens, str) and tokens not in data.columns and flops is not None:
            tokens = None
    N = _as_array(params, "params", data)
    L = _as_array(loss, "loss", data)
    if N is None or L is None:
        raise EmergenceError("`params` and `loss` are required.")
    D = _as_array(tokens, "tokens", data)
    C = _as_array(flops, "flops", data)
    n = N.size
    if L.size != n:
        raise EmergenceError(f"`params` has {n} values but `loss` has {L.size}.")
    if labels is None:
        lab = np.array([str(i) for i in (data.index if data is not None else range(n))])
    else:
        lab = np.asarray(_as_array_str(labels, data))
    if D is None:
        if C is None:
            raise EmergenceError("give training tokens (`tokens`) or compute (`flops`); "
                                 "D = C / (6 N) is used when only compute is known.")
        _check_positive(C, "flops", lab)
        D = C / (6.0 * N)
        notes.append("training tokens computed as D = C / (6 N) from compute.")
    elif C is not None and np.any(~np.isfinite(D)):
        fill = ~np.isfinite(D)
        D = np.where(fill, C / (6.0 * N), D)
        notes.append(f"{int(fill.sum())} runs without tokens: D = C / (6 N) from compute.")
    if D.size != n:
        raise EmergenceError(f"`params` has {n} values but `tokens` has {D.size}.")
    for arr, name in ((N, "params"), (D, "tokens"), (L, "loss")):
        _check_positive(arr, name, lab)
    reason = np.array([""] * n, dtype=object)
    finite = np.isfinite(N) & np.isfinite(D) & np.isfinite(L)
    reason[~finite] = "missing N, D or loss"
    if exclude_top:
        order = np.argsort(np.where(finite, L, -np.inf))[::-1]
        top = [i for i in order if finite[i]][:exclude_top]
        reason[top] = f"one of the {exclude_top} highest losses (exclude_top={exclude_top})"
    used = reason == ""
    if (~used).any():
        warnings.warn(
            f"{int((~used).sum())} of {n} runs left out of the fit (see `runs`): "
            + ", ".join(sorted({str(r) for r in reason[~used]})),
            DataExclusionWarning, stacklevel=2,
        )
    nu = int(used.sum())
    if nu < 5:
        raise EmergenceError(f"the Chinchilla law has 5 parameters but only {nu} usable runs; "
                             "add runs or fit one axis with fit_power_law.")
    if np.unique(N[used]).size < 2:
        raise EmergenceError(
            f"all runs have one model size (N = {N[used][0]:g}): the law's N term cannot be "
            "separated from E. Only a one-axis fit is possible: use fit_power_law(tokens, loss)."
        )
    if np.unique(D[used]).size < 2:
        raise EmergenceError(
            f"all runs have one token count (D = {D[used][0]:g}): the law's D term cannot be "
            "separated from E. Only a one-axis fit is possible: use fit_power_law(params, loss)."
        )
    logN, logD, logL = np.log(N[used]), np.log(D[used]), np.log(L[used])
    x0 = default_grid() if grid is None else np.asarray(grid, dtype=float)
    if x0.ndim != 2 or x0.shape[1] != 5:
        raise ValueError(f"`grid` must have shape (S, 5) (a, b, e, alpha, beta); got {x0.shape}.")

    t0 = time.perf_counter()
    res = _run(_objective(logN, logD, logL, delta), x0, max_iter, progress, "grid starts")
    seconds = time.perf_counter() - t0
    conv = res.converged
    starts = pd.DataFrame(np.column_stack([x0, res.x]),
                          columns=[f"{p}0" for p in ("a", "b", "e", "alpha", "beta")]
                          + ["a", "b", "e", "alpha", "beta"])
    starts["objective"] = res.fun
    starts["status"] = res.reason
    starts["n_iter"] = res.n_iter
    if not conv.any():
        fin = np.isfinite(res.fun)
        if not fin.any():
            raise ScalingFitError("no start of the grid gave a finite objective; check the data.")
        i = int(np.nanargmin(np.where(fin, res.fun, np.nan)))
        best = ChinchillaParams.from_log(*res.x[i])
        raise ScalingFitError(
            f"the fit did not converge from any of {len(x0)} starts (max_iter={max_iter}). Best "
            f"attempt: start {i} {tuple(np.round(x0[i], 3))} reached objective {res.fun[i]:.6g} "
            f"with E={best.E:.4g}, A={best.A:.4g}, B={best.B:.4g}, alpha={best.alpha:.4g}, "
            f"beta={best.beta:.4g} (status {res.reason[i]}). Raise max_iter or check the data."
        )
    fc = np.where(conv, res.fun, np.inf)
    ib = int(np.argmin(fc))
    fall = np.where(np.isfinite(res.fun), res.fun, np.inf)
    if fall.min() < fc[ib] - 1e-9 * max(1.0, abs(fc[ib])):
        warnings.warn("a start that hit max_iter reached a lower objective than every converged "
                      "start; raise max_iter.", ConvergenceWarning, stacklevel=2)
    best = ChinchillaParams.from_log(*res.x[ib], source="fit")
    if np.any(np.abs(res.x[ib, 3:]) > 10):
        notes.append("an exponent is larger than 10: the data do not pin down that term.")

    pred = best.predict(N, D)
    runs = pd.DataFrame({"label": lab, "N": N, "D": D, "C": 6.0 * N * D, "loss": L,
                         "predicted": pred, "log_residual": np.log(pred) - np.log(L),
                         "used": used, "reason": reason})
    boot = None
    if n_boot:
        rng = check_rng(seed)
        boot = _bootstrap(logN, logD, logL, delta, res.x[ib], n_boot, rng, max_iter, progress)
        nb = int(boot["converged"].sum())
        if nb < len(boot):
            notes.append(f"{len(boot) - nb} of {len(boot)} bootstrap refits did not converge "
                         "(kept in `bootstrap`, used in the intervals).")
        if len(boot) < n_boot:
            notes.append(f"bootstrap interrupted after {len(boot)} of {n_boot} replicates.")
    return ChinchillaFit(
        params=best, objective=float(res.fun[ib]), delta=delta, runs=runs, n_used=nu,
        n_excluded=int(n - nu), n_starts=len(x0), n_converged=int(conv.sum()), starts=starts,
        bootstrap=boot, level=level, seconds=seconds, notes=tuple(notes),
    )


def _as_array_str(v: Any, data: pd.DataFrame | None) -> list[str]:
    if data is not None and isinstance(v, str):
        return data[v].astype(str).tolist()
    return [str(s) for s in v]


def _run(fg, x0: np.ndarray, max_iter: int, progress: bool, desc: str):
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(x0), desc=desc, unit="start")
        done = [0]

        def cb(it: int, n_active: int) -> None:
            fin = len(x0) - n_active
            bar.update(fin - done[0])
            done[0] = fin
    else:
        cb = None
    try:
        return batched_lbfgs(fg, x0, max_iter=max_iter, progress=cb)
    finally:
        if bar is not None:
            bar.close()


def _bootstrap(logN, logD, logL, delta, x_best, n_boot, rng, max_iter, progress,
               chunk: int = 200) -> pd.DataFrame:
    """Vectorised bootstrap: each replicate is one problem with resampling counts as weights."""
    n = logN.size
    parts = []
    try:
        for start in range(0, n_boot, chunk):
            b = min(chunk, n_boot - start)
            W = rng.multinomial(n, np.full(n, 1.0 / n), size=b).astype(float)
            x0 = np.repeat(x_best[None, :], b, axis=0)
            res = _run(_objective(logN, logD, logL, delta, W), x0, max_iter, progress,
                       f"bootstrap {start + b}/{n_boot}")
            x = res.x
            parts.append(pd.DataFrame({"E": np.exp(x[:, 2]), "A": np.exp(x[:, 0]),
                                       "B": np.exp(x[:, 1]), "alpha": x[:, 3], "beta": x[:, 4],
                                       "objective": res.fun, "converged": res.converged}))
    except KeyboardInterrupt:
        if not parts:
            raise
    return pd.concat(parts, ignore_index=True)


def loss_runs(
    table: pd.DataFrame,
    *,
    task: str | None = None,
    metric: str | None = None,
    size: str = "active_params",
    family: str | None = None,
    metric_facts: MetricFacts | None = None,
) -> pd.DataFrame:
    """Runs table (one row per model/checkpoint) of a loss-like metric from the tidy table.

    Loss-like metrics have latent ``"loss"`` or ``"perplexity"`` in the built-in table or in
    ``metric_facts``. Perplexities are turned into log-perplexity (nats), the loss they
    exponentiate. Rows with a missing value are kept with ``loss = NaN`` (the fits leave them
    out and say so).

    Parameters
    ----------
    table : DataFrame
        Tidy table (:func:`emergence.schema.validate`).
    task, metric : str, optional
        Which curve; required when the table holds more than one loss-like (task, metric).
    size : str, default="active_params"
        Parameter column (active parameters handle mixture-of-experts models; the schema fills it
        from ``params``).
    family : str, optional
        Restrict to one family.
    metric_facts : mapping, optional
        Declared metrics (e.g. ``{"val_bpb": "lower,continuous,0:inf,loss"}``); see
        :mod:`emergence.registry`.

    Returns
    -------
    DataFrame
        Columns ``family, model, step, label, N, D, C, loss, metric, task``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"model": ["a", "b"], "task": "lambada", "metric": "ppl",
    ...                   "value": [20.0, 10.0], "params": [1e8, 1e9], "tokens": [3e11, 3e11]})
    >>> loss_runs(t)[["N", "loss"]].round(3).to_dict("list")
    {'N': [100000000.0, 1000000000.0], 'loss': [2.996, 2.303]}
    """
    from ..schema import validate

    t = validate(table, metric_facts=metric_facts)
    if family is not None:
        t = t[t["family"] == family]
    if task is not None:
        t = t[t["task"] == task]
    if metric is not None:
        t = t[t["metric"] == metric]
    t = t[t["item"].isna()]
    t = t[t["metric"].map(lambda m: is_loss_metric(m, metric_facts)).astype(bool)]
    combos = t[["task", "metric"]].drop_duplicates()
    if len(combos) == 1:
        task_, metric_ = combos.iloc[0]
    if len(combos) == 0:
        raise EmergenceError("no loss-like metric in the table for the selection given (built "
                             "in: " + ", ".join(LOSS_METRICS) + "; declare another with latent "
                             "'loss': metric_facts={NAME: 'lower,continuous,0:inf,loss'} in "
                             "Python, --metric-info NAME=lower,continuous,0:inf,loss at the "
                             "command line).")
    if len(combos) > 1:
        opts = ", ".join(f"{r.task}/{r.metric}" for r in combos.itertuples())
        raise EmergenceError(f"several loss-like curves in the table ({opts}); pass `task` "
                             "and `metric`.")
    if t["shots"].nunique(dropna=False) > 1:
        raise EmergenceError(f"the {task_}/{metric_} rows have several shot counts "
                             f"({sorted(t['shots'].dropna().unique().tolist())}); select one.")
    v = t["value"].to_numpy(dtype=float)
    is_ppl = find_metric_info(metric_, metric_facts).latent == "perplexity"
    loss = np.log(v) if is_ppl else v
    N = t[size].to_numpy(dtype=float)
    if size != "params" and np.isnan(N).any():
        N = np.where(np.isnan(N), t["params"].to_numpy(dtype=float), N)
    step = t["step"]
    label = t["model"].astype(str) + np.where(step.isna(), "", "@" + step.astype(str))
    out = pd.DataFrame({
        "family": t["family"].to_numpy(), "model": t["model"].to_numpy(),
        "step": step.to_numpy(), "label": label.to_numpy(), "N": N,
        "D": t["tokens"].to_numpy(dtype=float), "C": t["flops"].to_numpy(dtype=float),
        "loss": loss, "metric": metric_, "task": task_,
    })
    miss = out["D"].isna() & out["C"].notna()
    out.loc[miss, "D"] = out.loc[miss, "C"] / (6.0 * out.loc[miss, "N"])
    out.loc[out["C"].isna(), "C"] = 6.0 * out["N"] * out["D"]
    return out.reset_index(drop=True)
