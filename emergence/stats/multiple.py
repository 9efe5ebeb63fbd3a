"""Multiple testing across a screen (false discovery rate)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from .._defaults import ALPHA
from .._validation import check_interval

__all__ = ["FDRResult", "fdr"]


@dataclass(frozen=True)
class FDRResult:
    """Result of :func:`fdr`.

    Attributes
    ----------
    pvalue : ndarray
        The p-values given (NaN where a test could not run).
    qvalue : ndarray
        Adjusted p-values (NaN where ``pvalue`` is NaN).
    reject : ndarray of bool
        ``qvalue <= alpha`` under the method's rule (False where ``pvalue`` is NaN).
    alpha : float
        Target false discovery rate.
    method : str
        The :func:`statsmodels.stats.multitest.multipletests` method.
    n_tests : int
        Finite p-values counted as tests.
    """

    pvalue: np.ndarray
    qvalue: np.ndarray
    reject: np.ndarray
    alpha: float
    method: str
    n_tests: int

    def to_frame(self) -> pd.DataFrame:
        """One row per test: ``pvalue``, ``qvalue``, ``reject``."""
        return pd.DataFrame({"pvalue": self.pvalue, "qvalue": self.qvalue, "reject": self.reject})

    def summary(self) -> str:
        """Number of rejections among the tests, with the method and level."""
        return (f"{self.method}: {int(self.reject.sum())} of {self.n_tests} tests rejected at "
                f"q <= {self.alpha:g}" + (f" ({self.pvalue.size - self.n_tests} not run)"
                                          if self.pvalue.size > self.n_tests else ""))

    def __str__(self) -> str:
        return self.summary()


def fdr(
    pvalues: np.ndarray, *, alpha: float = ALPHA, method: str = "fdr_bh"
) -> FDRResult:
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
    FDRResult
        ``qvalue`` and ``reject`` arrays in the order of ``pvalues``; ``.to_frame()`` one row per
        test.

    References
    ----------
    .. [1] Benjamini, Y., and Hochberg, Y. "Controlling the false discovery rate: a practical
       and powerful approach to multiple testing." JRSS-B 57(1): 289-300 (1995).

    Examples
    --------
    >>> from emergence.stats.multiple import fdr
    >>> res = fdr([0.01, 0.04, 0.03, float("nan"), 0.5])
    >>> res.qvalue.round(3).tolist(), res.reject.tolist()
    ([0.04, 0.053, 0.053, nan, 0.5], [True, False, False, False, False])
    >>> res.summary()
    'fdr_bh: 1 of 4 tests rejected at q <= 0.05 (1 not run)'
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
    return FDRResult(p, q, rej, alpha, str(method), int(ok.sum()))
