"""Paired tests between adjacent scales on the same items (McNemar exact)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binom

from ._results import TestResult, fmt_p

__all__ = ["AdjacentMcNemarResult", "adjacent_mcnemar_test"]


@dataclass(frozen=True)
class AdjacentMcNemarResult(TestResult):
    """Result of :func:`adjacent_mcnemar_test`.

    Attributes
    ----------
    table : DataFrame
        One row per adjacent pair: ``from``, ``to``, ``b`` (wrong then right), ``c`` (right
        then wrong), ``statistic`` (``min(b, c)``), ``pvalue`` (exact two-sided).
    null, reference : str
    statistic, pvalue : float
        Largest gain between adjacent scales (``b - c``, in items) and its p-value.
    """

    table: pd.DataFrame
    statistic: float
    pvalue: float
    null: str = "items are as likely to flip right-to-wrong as wrong-to-right between scales"
    reference: str = "exact Binomial(b + c, 1/2) on discordant items (McNemar 1947), two-sided"

    _name = "mcnemar_adjacent"

    def to_frame(self) -> pd.DataFrame:
        """The per-pair table."""
        return self.table.copy()

    def summary(self) -> str:
        """Short text with each adjacent pair."""
        lines = [f"McNemar exact, adjacent scales; H0: {self.null}"]
        for _, r in self.table.iterrows():
            lines.append(f"  {r['from']} -> {r['to']}: b={r['b']}, c={r['c']}, "
                         f"p = {fmt_p(r['pvalue'])}")
        return "\n".join(lines)


def adjacent_mcnemar_test(
    items: np.ndarray, labels: list[str] | tuple[str, ...] | None = None
) -> AdjacentMcNemarResult:
    """McNemar's exact test between each pair of adjacent scales on paired 0/1 items.

    Parameters
    ----------
    items : ndarray, shape (n_items, n_scales)
        0/1 scores of the same items at every scale, columns in scale order.
    labels : sequence of str, optional
        Names of the scales (default ``"0", "1", ...``).

    Returns
    -------
    AdjacentMcNemarResult

    Notes
    -----
    With ``b`` = #(wrong at s, right at s+1) and ``c`` = #(right at s, wrong at s+1),
    ``b ~ Binomial(b + c, 1/2)`` under H0. Pairing removes item difficulty, so this is far more
    powerful than comparing two independent proportions. The p-value is that of
    :func:`statsmodels.stats.contingency_tables.mcnemar` with ``exact=True``
    (``min(2 P(Binomial(b + c, 1/2) <= min(b, c)), 1)``), computed for all pairs at once. The p-values are
    per pair; adjust them (e.g. :func:`emergence.stats.multiple.fdr`) when reading many.

    References
    ----------
    .. [1] McNemar, Q. "Note on the sampling error of the difference between correlated
       proportions or percentages." Psychometrika 12(2): 153-157 (1947).

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.stats.paired import adjacent_mcnemar_test
    >>> items = np.array([[0, 0, 1], [0, 1, 1], [0, 0, 1], [1, 1, 1], [0, 0, 1]] * 4)
    >>> res = adjacent_mcnemar_test(items)
    >>> res.table[["b", "c"]].values.tolist()
    [[4, 0], [12, 0]]
    >>> round(float(res.table["pvalue"].iloc[1]), 6)
    0.000488
    """
    m = np.asarray(items, dtype=float)
    if m.ndim != 2 or m.shape[1] < 2:
        raise ValueError(f"`items` must be (n_items, n_scales >= 2); got shape {m.shape}.")
    if not np.all((m == 0) | (m == 1)):
        raise ValueError("McNemar needs 0/1 item scores; continuous items need a paired "
                         "t or permutation test instead.")
    s = m.shape[1]
    labels = [str(i) for i in range(s)] if labels is None else [str(v) for v in labels]
    if len(labels) != s:
        raise ValueError(f"{len(labels)} labels for {s} scales.")
    b, c, stat, p = _adjacent_mcnemar(m)
    tab = pd.DataFrame({"from": labels[:-1], "to": labels[1:], "b": b, "c": c,
                        "statistic": stat, "pvalue": p})
    j = int(np.argmax(b - c))
    return AdjacentMcNemarResult(tab, float(b[j] - c[j]), float(p[j]))


def _adjacent_mcnemar(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Counts ``b``, ``c`` (int64), statistics and exact p-values of every adjacent pair of the
    0/1 matrix ``m`` (checked by the caller), all pairs at once.

    The p-value is statsmodels' ``mcnemar(exact=True)``: ``min(2 F(min(b, c); b + c, 1/2), 1)``
    with ``F`` the binomial CDF, and 1 when ``b + c = 0``; the statistic is ``min(b, c)``.
    """
    lo, hi = m[:, :-1], m[:, 1:]
    b = np.count_nonzero((lo == 0) & (hi == 1), axis=0).astype(np.int64)
    c = np.count_nonzero((lo == 1) & (hi == 0), axis=0).astype(np.int64)
    stat = np.minimum(b, c).astype(float)
    tot = b + c
    p = np.ones(b.size)
    some = tot > 0
    if some.any():
        p[some] = np.minimum(binom.cdf(stat[some], tot[some], 0.5) * 2, 1)
    return b, c, stat, p
