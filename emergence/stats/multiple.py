"""Multiple testing across a screen (false discovery rate)."""

from __future__ import annotations

import numpy as np
from statsmodels.stats.multitest import multipletests

from .._defaults import ALPHA
from .._validation import check_interval

__all__ = ["fdr"]


def fdr(
    pvalues: np.ndarray, *, alpha: float = ALPHA, method: str = "fdr_bh"
) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted p-values (q-values) and rejections across many tests.

    Parameters
    ----------
    pvalues : array_like
        One p-value per test; NaN entries (tests that could not run) stay NaN and do not count
        towards the number of tests.
    alpha : float, default=0.05
        Target false discovery rate.
    method : str, default="fdr_bh"
        Any :func:`statsmodels.stats.multitest.multipletests` method, passed explicitly
        (statsmodels' own default is Holm-Sidak). ``"fdr_bh"`` is Benjamini-Hochberg (1995).

    Returns
    -------
    qvalues : ndarray
    reject : ndarray of bool

    References
    ----------
    .. [1] Benjamini, Y., and Hochberg, Y. "Controlling the false discovery rate: a practical
       and powerful approach to multiple testing." JRSS-B 57(1): 289-300 (1995).

    Examples
    --------
    >>> from emergence.stats.multiple import fdr
    >>> q, rej = fdr([0.01, 0.04, 0.03, float("nan"), 0.5])
    >>> q.round(3).tolist(), rej.tolist()
    ([0.04, 0.053, 0.053, nan, 0.5], [True, False, False, False, False])
    """
    alpha = check_interval(alpha, "alpha", 0, 1)
    p = np.asarray(pvalues, dtype=float).ravel()
    if np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must lie in [0, 1].")
    q = np.full(p.shape, np.nan)
    rej = np.zeros(p.shape, dtype=bool)
    ok = np.isfinite(p)
    if ok.any():
        r, qq, _, _ = multipletests(p[ok], alpha=alpha, method=method)
        q[ok] = qq
        rej[ok] = r
    return q, rej
