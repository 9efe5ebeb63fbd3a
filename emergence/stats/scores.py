"""Emergence Score (BIG-bench breakthroughness) with a noise floor, and its item bootstrap.

The score of Srivastava et al. (2022), used by Schaeffer et al. (2023, Fig. 5):

.. math::

    \\mathrm{ES} = \\operatorname{sign}(\\arg\\max_i y_i - \\arg\\min_i y_i)
        \\frac{\\max_i y_i - \\min_i y_i}{\\sqrt{\\operatorname{median}_i (y_i - y_{i-1})^2}}

with the points ordered by scale. When most consecutive steps are exactly zero (accuracy
quantised at ``1/n``) the median squared step is 0 and the score explodes, so the denominator
here is ``max(sqrt(median step^2), floor)`` where the floor is the noise standard deviation of one
step. The score is a screen, not a test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._defaults import ALPHA, N_BOOT
from .._random import SeedLike
from .._validation import check_interval, check_rng
from ._resample import resampled_sums

__all__ = [
    "EmergenceScore",
    "EmergenceScoreInterval",
    "emergence_score",
    "emergence_score_interval",
    "step_noise_floor",
]


@dataclass(frozen=True)
class EmergenceScore:
    """Result of :func:`emergence_score`.

    Attributes
    ----------
    score : float
        Signed Emergence Score (positive: the maximum comes after the minimum).
    numerator : float
        ``max(y) - min(y)``.
    denominator : float
        The denominator used: ``max(raw_denominator, floor)``.
    raw_denominator : float
        ``sqrt(median((y_i - y_{i-1})^2))`` without the floor (the published definition).
    floor : float
        Noise floor on the denominator (0 when none applies).
    floor_applied : bool
        True when the floor was larger than the raw denominator.
    floor_rule : str
        How the floor was obtained (``"stderr"``, ``"binomial"``, ``"user"`` or ``"none"``).
    sign : int
        ``sign(argmax - argmin)`` in scale order.
    n_scales : int
    unfloored_score : float
        The published score without a floor (``inf`` when the raw denominator is 0 and the
        range is not).
    """

    score: float
    numerator: float
    denominator: float
    raw_denominator: float
    floor: float
    floor_applied: bool
    floor_rule: str
    sign: int
    n_scales: int
    unfloored_score: float

    def to_frame(self) -> pd.DataFrame:
        """One row with every field."""
        return pd.DataFrame([{f: getattr(self, f) for f in self.__dataclass_fields__}])

    def summary(self) -> str:
        """Short text."""
        fl = f", floor {self.floor:.3g} ({self.floor_rule})" if self.floor > 0 else ""
        used = " [floor applied]" if self.floor_applied else ""
        return (
            f"Emergence Score = {self.score:.3g} (range {self.numerator:.3g} / step sd "
            f"{self.denominator:.3g}{fl}){used}; unfloored {self.unfloored_score:.3g}"
        )


def _check_xy(x, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"`x` and `y` must have the same length; got {x.size} and {y.size}.")
    if x.size < 3:
        raise ValueError(
            f"the Emergence Score needs at least 3 scales; got {x.size}. Add scales or report "
            "the curve as underpowered."
        )
    bad = np.flatnonzero(~(np.isfinite(x) & np.isfinite(y)))
    if bad.size:
        raise ValueError(
            f"`x` and `y` must be finite; positions {bad[:8].tolist()} are NaN or infinite. "
            "Remove those points (and report them) before scoring."
        )
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    tied = np.flatnonzero(np.diff(xs) == 0)
    if tied.size:
        raise ValueError(
            f"tied scales {sorted(set(xs[tied].tolist()))}: the score depends on the order of "
            "points. Average tied points first (extract_curves(..., ties='mean'))."
        )
    return xs, y[order], order


def _raw_parts(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numerator, raw denominator and sign for rows of ``Y`` (..., S) in scale order."""
    num = Y.max(axis=-1) - Y.min(axis=-1)
    den = np.sqrt(np.median(np.diff(Y, axis=-1) ** 2, axis=-1))
    sign = np.sign(np.argmax(Y, axis=-1) - np.argmin(Y, axis=-1))
    return num, den, sign


def step_noise_floor(
    y: np.ndarray,
    *,
    stderr: np.ndarray | None = None,
    n_items: np.ndarray | float | None = None,
) -> tuple[float, str]:
    """Noise standard deviation of one step between consecutive scales.

    Parameters
    ----------
    y : array_like
        Per-scale values in scale order.
    stderr : array_like, optional
        Per-scale standard errors. When all are finite the floor is
        ``sqrt(median(se_i^2 + se_{i-1}^2))``.
    n_items : int or array_like, optional
        Items per scale, for proportions in ``[0, 1]`` without standard errors. Under "no change"
        every scale has the same accuracy, estimated by ``p = mean(y)`` clipped to
        ``[1/n, 1 - 1/n]`` (one item: the resolution limit), and the floor is
        ``sqrt(median(p (1 - p) (1/n_i + 1/n_{i-1})))``.

    Returns
    -------
    floor : float
    rule : {"stderr", "binomial", "none"}

    Examples
    --------
    >>> from emergence.stats.scores import step_noise_floor
    >>> fl, rule = step_noise_floor([0, 0, 0, 0.5], n_items=100)
    >>> round(fl, 4), rule
    (0.0468, 'binomial')
    """
    y = np.asarray(y, dtype=float)
    if stderr is not None:
        se = np.asarray(stderr, dtype=float)
        if se.shape == y.shape and np.all(np.isfinite(se)) and np.any(se > 0):
            return float(np.sqrt(np.median(se[1:] ** 2 + se[:-1] ** 2))), "stderr"
    if n_items is not None:
        n = np.broadcast_to(np.asarray(n_items, dtype=float), y.shape)
        if np.all(np.isfinite(n)) and np.all(n >= 1) and y.min() >= 0 and y.max() <= 1:
            nmin = float(n.min())
            p = float(np.clip(y.mean(), 1.0 / nmin, 1.0 - 1.0 / nmin)) if nmin > 1 else 0.5
            v = p * (1 - p) * (1.0 / n[1:] + 1.0 / n[:-1])
            return float(np.sqrt(np.median(v))), "binomial"
    return 0.0, "none"


def emergence_score(
    x: np.ndarray,
    y: np.ndarray,
    *,
    floor: float | str | None = "auto",
    stderr: np.ndarray | None = None,
    n_items: np.ndarray | float | None = None,
) -> EmergenceScore:
    """Emergence Score (BIG-bench breakthroughness) with a floor on the denominator.

    Parameters
    ----------
    x : array_like
        Scales; only their order is used (points are sorted by ``x``; ties raise).
    y : array_like
        Per-scale values, oriented so that higher is better.
    floor : "auto", float or None, default="auto"
        Floor on the denominator (on the scale of ``y``). ``"auto"`` uses the noise standard
        deviation of one step (:func:`step_noise_floor`: from ``stderr`` when given, else the
        binomial variance from ``n_items`` for proportions, else no floor). A float sets it
        directly; None gives the published, unfloored score.
    stderr : array_like, optional
        Per-scale standard errors (same order as ``x``).
    n_items : int or array_like, optional
        Items per scale (same order as ``x``).

    Returns
    -------
    EmergenceScore

    Raises
    ------
    ValueError
        Fewer than 3 scales, NaN values, tied scales, negative floor.

    Notes
    -----
    The unfloored score is unbounded: with accuracies quantised at ``1/n`` and most steps equal
    to 0 the median squared step vanishes (Schaeffer et al. 2023, §4, report scores near 600).
    The floored score divides by at least the sampling noise of one step, so a flat curve of
    noise scores O(1). When no floor is available and the raw denominator is 0, ``score`` is
    ``inf`` (or NaN for a constant curve). Checked by hand-computed cases in the test-suite.

    References
    ----------
    .. [1] Srivastava, A., et al. "Beyond the Imitation Game: Quantifying and extrapolating the
       capabilities of language models." TMLR (2023).
    .. [2] Schaeffer, R., Miranda, B., and Koyejo, S. "Are emergent abilities of large language
       models a mirage?" NeurIPS (2023).

    Examples
    --------
    >>> from emergence.stats.scores import emergence_score
    >>> res = emergence_score([1, 2, 3, 4, 5], [0.0, 0.0, 0.0, 0.0, 0.6], n_items=100)
    >>> round(res.unfloored_score, 1), round(res.score, 2), res.floor_applied
    (inf, 13.06, True)
    """
    xs, ys, order = _check_xy(x, y)
    num, raw, sign = (float(v) for v in _raw_parts(ys))
    if isinstance(floor, str):
        if floor != "auto":
            raise ValueError(f"`floor` must be 'auto', a number >= 0 or None; got {floor!r}.")
        se = None if stderr is None else np.asarray(stderr, dtype=float).ravel()[order]
        ni = n_items
        if n_items is not None and np.ndim(n_items) > 0:
            ni = np.asarray(n_items, dtype=float).ravel()[order]
        fl, rule = step_noise_floor(ys, stderr=se, n_items=ni)
    elif floor is None:
        fl, rule = 0.0, "none"
    else:
        fl = check_interval(floor, "floor", 0, np.inf, closed="left")
        rule = "user"
    den = max(raw, fl)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = sign * num / den if den > 0 else (np.nan if num == 0 else sign * np.inf)
        unf = sign * num / raw if raw > 0 else (np.nan if num == 0 else sign * np.inf)
    if num == 0:
        score = unf = 0.0
    return EmergenceScore(
        float(score), num, den, raw, fl, bool(fl > raw), rule, int(sign), int(xs.size), float(unf)
    )


@dataclass(frozen=True)
class EmergenceScoreInterval:
    """Result of :func:`emergence_score_interval`.

    Attributes
    ----------
    estimate : EmergenceScore
        Score of the observed curve.
    low, high : float
        Percentile item-bootstrap interval of the (floored) score.
    alpha : float
    n_boot : int
    replicates : ndarray
        Bootstrap scores, shape ``(n_boot,)``.
    method : str
    """

    estimate: EmergenceScore
    low: float
    high: float
    alpha: float
    n_boot: int
    replicates: np.ndarray
    method: str = "item (cluster) bootstrap, percentile"

    def to_frame(self) -> pd.DataFrame:
        """One row: score, interval, floor details."""
        row = self.estimate.to_frame()
        row["low"] = self.low
        row["high"] = self.high
        row["alpha"] = self.alpha
        row["n_boot"] = self.n_boot
        row["method"] = self.method
        return row

    def summary(self) -> str:
        """Short text."""
        return (
            f"{self.estimate.summary()}\n  {100 * (1 - self.alpha):g}% {self.method}: "
            f"[{self.low:.3g}, {self.high:.3g}] (B = {self.n_boot})"
        )


def _item_floor(items: np.ndarray, sq: np.ndarray | None, means: np.ndarray, binary: bool,
                n: int | None = None) -> np.ndarray:
    """Per-replicate noise floor of a step from weighted item vectors.

    ``items`` are the (distinct) item vectors, ``sq`` the replicates' means of their squares
    (``W @ items**2 / n`` with ``W`` the resampling counts; unused for 0/1 items) and ``n`` the
    number of items (default: the rows of ``items``).
    """
    n = items.shape[0] if n is None else int(n)
    if binary:
        p = np.clip(means.mean(axis=-1), 1.0 / n, 1.0 - 1.0 / n)
        return np.sqrt(2.0 * p * (1 - p) / n)
    var = np.maximum(sq - means**2, 0.0) * n / max(n - 1, 1)
    se2 = var / n
    return np.sqrt(np.median(se2[:, 1:] + se2[:, :-1], axis=-1))


def emergence_score_interval(
    items: np.ndarray,
    x: np.ndarray,
    *,
    n_boot: int = N_BOOT,
    alpha: float = ALPHA,
    floor: float | str | None = "auto",
    seed: SeedLike = None,
) -> EmergenceScoreInterval:
    """Item-bootstrap interval of the Emergence Score.

    Items are resampled with replacement as whole vectors across scales (cluster bootstrap),
    which keeps the cross-scale correlation that shared items induce.

    Parameters
    ----------
    items : ndarray, shape (n_items, n_scales)
        Per-item scores, the same items at every scale, columns in the order of ``x``.
    x : array_like
        Scales (only the order is used).
    n_boot : int, default=999
    alpha : float, default=0.05
        Two-sided level of the percentile interval.
    floor : "auto", float or None, default="auto"
        As in :func:`emergence_score`; ``"auto"`` uses the binomial floor for 0/1 items and the
        item standard errors otherwise, recomputed in each replicate.
    seed : int, Generator, SeedSequence or None

    Returns
    -------
    EmergenceScoreInterval

    Notes
    -----
    Replicates are computed in chunks of replicates: resampling counts of the distinct item
    vectors ``W ~ Multinomial(n, count / n)``, shape ``(n_boot, n_distinct)``, give the replicate
    curves ``W @ vectors / n`` (the law of resampling the ``n`` items one by one). The counts are
    drawn as a multinomial when few distinct vectors repeat (at most ``2 ** n_scales`` for 0/1
    items) and item by item otherwise, so the cost is linear in items. The bootstrap resamples
    under the alternative, so the interval describes uncertainty of the score; it is not a test
    of "no transition".

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.stats.scores import emergence_score_interval
    >>> rng = np.random.default_rng(0)
    >>> items = (rng.random((200, 6)) < [0.0, 0.01, 0.02, 0.05, 0.4, 0.8]).astype(float)
    >>> res = emergence_score_interval(items, np.arange(6), n_boot=199, seed=1)
    >>> bool(res.low < res.estimate.score < res.high)
    True
    """
    items = np.asarray(items, dtype=float)
    if items.ndim != 2:
        raise ValueError(f"`items` must be 2-D (n_items, n_scales); got shape {items.shape}.")
    if np.any(~np.isfinite(items)):
        raise ValueError("`items` contains NaN or infinite scores; drop or score those items.")
    n, s = items.shape
    if n < 2:
        raise ValueError(f"need at least 2 items for an item bootstrap; got {n}.")
    xs, _, order = _check_xy(x, items.mean(axis=0))
    items = items[:, order]
    if int(n_boot) < 1:
        raise ValueError(f"`n_boot` must be a positive integer; got {n_boot!r}.")
    alpha = check_interval(alpha, "alpha", 0, 1)
    binary = bool(np.all((items == 0) | (items == 1)))
    rng = check_rng(seed)
    est = emergence_score(
        xs,
        items.mean(axis=0),
        floor=floor,
        stderr=None if binary else items.std(axis=0, ddof=1) / np.sqrt(n),
        n_items=n,
    )
    # identical item vectors are one cell: the resampling counts of the distinct vectors are
    # Multinomial(n, count / n), the law of resampling items one by one (drawn as a multinomial
    # when there are few distinct vectors, item by item otherwise)
    uniq, cnt = np.unique(items, axis=0, return_counts=True)
    need_sq = floor == "auto" and not binary
    sums = resampled_sums(rng, int(n_boot), uniq, *((uniq**2,) if need_sq else ()),
                          counts=cnt)
    Y = sums[0] / n
    num, raw, sign = _raw_parts(Y)
    if floor == "auto":
        fl = _item_floor(uniq, sums[1] / n if need_sq else None, Y, binary, n)
    elif floor is None:
        fl = np.zeros(len(Y))
    else:
        fl = np.full(len(Y), float(floor))
    den = np.maximum(raw, fl)
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.where(num == 0, 0.0, sign * num / den)
    lo, hi = np.quantile(sc, [alpha / 2, 1 - alpha / 2])
    return EmergenceScoreInterval(est, float(lo), float(hi), alpha, int(n_boot), sc)
