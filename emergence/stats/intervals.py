"""Binomial intervals for per-scale accuracies and exact tests against chance.

Both functions are vectorised over scales: pass arrays of counts and item totals.
:func:`curve_points` gives every point of a curve its interval (binomial, or from a reported
standard error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from .._defaults import ALPHA
from .._validation import check_interval, check_option
from ._results import TestResult, fmt_p

if TYPE_CHECKING:
    from ..curves import Curve

__all__ = [
    "INTERVAL_METHODS",
    "ProportionInterval",
    "BinomialChanceResult",
    "proportion_interval",
    "binomial_test_chance",
    "curve_points",
]

#: Interval methods accepted by :func:`proportion_interval` (statsmodels names).
INTERVAL_METHODS = ("wilson", "jeffreys", "beta", "agresti_coull")

_METHOD_LABEL = {
    "wilson": "Wilson score (1927)",
    "jeffreys": "Jeffreys (equal-tailed Beta(x+1/2, n-x+1/2))",
    "beta": "Clopper-Pearson exact (1934)",
    "agresti_coull": "Agresti-Coull (1998)",
}


def _counts(count, nobs) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(count, dtype=float)
    n = np.asarray(nobs, dtype=float)
    c, n = np.broadcast_arrays(c, n)
    if np.any(~np.isfinite(c)) or np.any(~np.isfinite(n)):
        bad = np.flatnonzero(~(np.isfinite(c) & np.isfinite(n)).ravel())
        raise ValueError(
            f"`count` and `nobs` must be finite; positions {bad[:8].tolist()} are not. "
            "Drop the points with unknown item counts before computing intervals."
        )
    if np.any(n < 1) or np.any(c < 0) or np.any(c > n):
        bad = np.flatnonzero(((n < 1) | (c < 0) | (c > n)).ravel())
        raise ValueError(
            "`count` must be in [0, nobs] and `nobs` >= 1; violated at positions "
            f"{bad[:8].tolist()}."
        )
    if np.any(np.abs(c - np.round(c)) > 1e-6) or np.any(np.abs(n - np.round(n)) > 1e-9):
        raise ValueError(
            "`count` and `nobs` must be whole numbers of items; for a share of items pass "
            "count = round(value * nobs)."
        )
    return np.round(c), np.round(n)


@dataclass(frozen=True)
class ProportionInterval:
    """Result of :func:`proportion_interval`.

    Unpacks as ``low, high``.

    Attributes
    ----------
    estimate, low, high : ndarray
        Point estimate ``count / nobs`` and interval bounds (same shape as the inputs).
    count, nobs : ndarray
    method : str
        Statsmodels method name (``wilson``, ``jeffreys``, ``beta`` = Clopper-Pearson,
        ``agresti_coull``).
    alpha : float
        Two-sided level: the interval has nominal coverage ``1 - alpha``.
    """

    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    count: np.ndarray
    nobs: np.ndarray
    method: str
    alpha: float

    def __iter__(self):
        yield self.low
        yield self.high

    def to_frame(self) -> pd.DataFrame:
        """One row per proportion: count, nobs, estimate, low, high, method, alpha."""
        return pd.DataFrame(
            {
                "count": np.ravel(self.count),
                "nobs": np.ravel(self.nobs),
                "estimate": np.ravel(self.estimate),
                "low": np.ravel(self.low),
                "high": np.ravel(self.high),
                "method": self.method,
                "alpha": self.alpha,
            }
        )

    def summary(self) -> str:
        """Short text with the method and each interval."""
        lines = [f"{_METHOD_LABEL[self.method]} {100 * (1 - self.alpha):g}% intervals"]
        for c, n, lo, hi in zip(
            np.ravel(self.count), np.ravel(self.nobs), np.ravel(self.low), np.ravel(self.high),
            strict=True,
        ):
            lines.append(f"  {int(c)}/{int(n)}: [{lo:.4f}, {hi:.4f}]")
        return "\n".join(lines)


def proportion_interval(
    count: np.ndarray | float,
    nobs: np.ndarray | float,
    *,
    method: str,
    alpha: float = ALPHA,
) -> ProportionInterval:
    """Confidence intervals for binomial proportions (vectorised).

    Parameters
    ----------
    count : array_like of int
        Items correct at each scale.
    nobs : array_like of int
        Items evaluated at each scale (broadcast against ``count``).
    method : {"wilson", "jeffreys", "beta", "agresti_coull"}
        Required: ``"beta"`` is the Clopper-Pearson exact interval. Wilson or Jeffreys are
        recommended for small counts [2]_; Clopper-Pearson is conservative.
    alpha : float, default=0.05
        Two-sided level; coverage ``1 - alpha``.

    Returns
    -------
    ProportionInterval
        Unpacks as ``low, high`` arrays.

    Raises
    ------
    ValueError
        Non-integer, negative or non-finite counts, ``count > nobs``, unknown method.

    Notes
    -----
    Wraps :func:`statsmodels.stats.proportion.proportion_confint`. With :math:`z = \\Phi^{-1}
    (1-\\alpha/2)` the Wilson interval at ``count = 0`` is :math:`[0, z^2/(n + z^2)]`, e.g.
    ``[0, 0.0370]`` for ``n = 100``; the Clopper-Pearson upper bound at ``count = 0`` is
    :math:`1 - (\\alpha/2)^{1/n}` [1]_ (``0.0362`` for ``n = 100``). Jeffreys bounds are set to
    0 at ``count = 0`` and to 1 at ``count = nobs``. Checked against these closed forms and
    against R ``binom.test`` in the test-suite.

    References
    ----------
    .. [1] Clopper, C. J., and Pearson, E. S. "The use of confidence or fiducial limits
       illustrated in the case of the binomial." Biometrika 26(4): 404-413 (1934).
    .. [2] Brown, L. D., Cai, T. T., and DasGupta, A. "Interval estimation for a binomial
       proportion." Statistical Science 16(2): 101-133 (2001).

    Examples
    --------
    >>> from emergence.stats.intervals import proportion_interval
    >>> low, high = proportion_interval([0, 5], [100, 100], method="wilson")
    >>> high.round(4).tolist()
    [0.037, 0.1118]
    """
    check_option(method, "method", INTERVAL_METHODS)
    alpha = check_interval(alpha, "alpha", 0, 1)
    c, n = _counts(count, nobs)
    low, high = proportion_confint(c, n, alpha=alpha, method=method)
    low = np.clip(np.asarray(low, dtype=float), 0.0, 1.0)
    high = np.clip(np.asarray(high, dtype=float), 0.0, 1.0)
    if method == "jeffreys":
        low = np.where(c == 0, 0.0, low)
        high = np.where(c == n, 1.0, high)
    return ProportionInterval(c / n, low, high, c, n, method, alpha)


@dataclass(frozen=True)
class BinomialChanceResult(TestResult):
    """Result of :func:`binomial_test_chance`.

    Unpacks as ``statistic, pvalue`` (arrays, one entry per proportion).

    Attributes
    ----------
    statistic : ndarray
        Observed counts.
    pvalue : ndarray
        Exact one-sided p-values :math:`P(X \\ge \\text{count})`, :math:`X \\sim
        \\text{Binomial}(n, \\text{chance})`.
    count, nobs, chance : ndarray
    null : str
    reference : str
    """

    statistic: np.ndarray
    pvalue: np.ndarray
    count: np.ndarray
    nobs: np.ndarray
    chance: np.ndarray
    null: str = "accuracy equals chance (items answered at random)"
    reference: str = "exact Binomial(nobs, chance), one-sided (greater)"

    _name = "binomial_chance"

    def to_frame(self) -> pd.DataFrame:
        """One row per proportion."""
        c = np.ravel(self.count)
        return pd.DataFrame(
            {
                "count": c,
                "nobs": np.ravel(self.nobs),
                "estimate": c / np.ravel(self.nobs),
                "chance": np.ravel(np.broadcast_to(self.chance, self.count.shape)),
                "pvalue": np.ravel(self.pvalue),
                "null": self.null,
                "reference": self.reference,
            }
        )

    def summary(self) -> str:
        """Short text."""
        lines = [f"Exact binomial test against chance; H0: {self.null}"]
        for c, n, ch, p in zip(
            np.ravel(self.count), np.ravel(self.nobs),
            np.ravel(np.broadcast_to(self.chance, self.count.shape)), np.ravel(self.pvalue),
            strict=True,
        ):
            lines.append(f"  {int(c)}/{int(n)} vs chance {ch:g}: p = {fmt_p(p)}")
        return "\n".join(lines)


def binomial_test_chance(
    count: np.ndarray | float,
    nobs: np.ndarray | float,
    chance: np.ndarray | float,
) -> BinomialChanceResult:
    """Exact one-sided binomial test of accuracy above chance (vectorised).

    Parameters
    ----------
    count, nobs : array_like of int
        Items correct and items evaluated (broadcast together).
    chance : float or array_like
        Chance accuracy in ``[0, 1)`` (``1/K`` for K options). With ``chance = 0`` any
        success is impossible under H0, so ``p = 1`` when ``count = 0`` and ``p = 0`` otherwise.

    Returns
    -------
    BinomialChanceResult

    Notes
    -----
    :math:`p = P(X \\ge x) = \\text{binom.sf}(x - 1; n, p_0)`, identical to
    :func:`scipy.stats.binomtest` with ``alternative="greater"`` and to R
    ``binom.test(x, n, p0, alternative="greater")`` (checked in the test-suite). The test
    treats items as independent draws; for clustered scores use a cluster bootstrap.

    Examples
    --------
    >>> from emergence.stats.intervals import binomial_test_chance
    >>> res = binomial_test_chance([30, 25], 100, 0.25)
    >>> res.pvalue.round(4).tolist()
    [0.1495, 0.5383]
    """
    c, n = _counts(count, nobs)
    ch = np.asarray(chance, dtype=float)
    if np.any(~np.isfinite(ch)) or np.any(ch < 0) or np.any(ch >= 1):
        raise ValueError(
            f"`chance` must be in [0, 1); got {np.ravel(ch)[:8].tolist()}. Use 1/K for a task "
            "with K answer options."
        )
    c, n, ch = np.broadcast_arrays(c, n, ch)
    p = sps.binom.sf(c - 1, n, ch)
    p = np.clip(p, 0.0, 1.0)
    return BinomialChanceResult(c.copy(), p, c.copy(), n.copy(), ch.copy())


def curve_points(curve: Curve, *, interval: str = "wilson", alpha: float = ALPHA) -> pd.DataFrame:
    """Points of a curve (:class:`emergence.curves.Curve`) with interval bounds, as plotted and
    tabulated.

    Proportions with known item counts get binomial intervals (``interval`` method, statsmodels);
    other metrics with a reported standard error get ``value +/- z * stderr``; otherwise the bounds
    are NaN and ``interval_method`` says ``"none"``.

    Returns
    -------
    DataFrame
        Columns: the curve key, ``label``, ``x``, ``value``, ``low``, ``high``,
        ``interval_method``, ``n_items``, ``stderr``, ``n_runs`` and ``run_sd`` (number of
        replicate runs averaged into ``value`` and their standard deviation, the between-run
        spread; NaN for single-run curves).

    Examples
    --------
    >>> import pandas as pd
    >>> from emergence.curves import extract_curves
    >>> t = pd.DataFrame({"family": "f", "model": list("abc"), "task": "t", "metric": "acc",
    ...                   "params": [1e7, 1e8, 1e9], "value": [0.3, 0.5, 0.9],
    ...                   "n_items": 100})
    >>> pts = curve_points(extract_curves(t, x="params").curves[0])
    >>> pts[["value", "low", "high"]].round(3).values.tolist()[0]
    [0.3, 0.219, 0.396]
    """
    y = curve.y
    low = np.full_like(y, np.nan)
    high = np.full_like(y, np.nan)
    method = np.array(["none"] * y.size, dtype=object)
    n = curve.n_items
    if curve.info.is_proportion:
        ok = np.isfinite(n) & (n > 0)
        if ok.any():
            count = np.rint(y[ok] * n[ok])
            res = proportion_interval(count, n[ok], method=interval, alpha=alpha)
            low[ok], high[ok] = res.low, res.high
            method[ok] = interval
    z = sps.norm.ppf(1 - alpha / 2)
    se_ok = np.isfinite(curve.stderr) & (method == "none")
    low[se_ok] = y[se_ok] - z * curve.stderr[se_ok]
    high[se_ok] = y[se_ok] + z * curve.stderr[se_ok]
    method[se_ok] = "normal (reported stderr)"
    out = pd.DataFrame(
        {
            "label": list(curve.labels),
            "x": curve.x,
            "value": y,
            "low": low,
            "high": high,
            "interval_method": method,
            "n_items": n,
            "stderr": curve.stderr,
            "n_runs": np.nan,
            "run_sd": np.nan,
        }
    )
    if curve.runs is not None:
        ok = np.isfinite(curve.runs)
        k = ok.sum(axis=0)
        out["n_runs"] = k.astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.array([np.std(curve.runs[ok[:, j], j], ddof=1) if k[j] > 1 else np.nan
                           for j in range(curve.runs.shape[1])])
        out["run_sd"] = sd
    for k, v in reversed(list(curve.key.items())):
        out.insert(0, k, v)
    return out
