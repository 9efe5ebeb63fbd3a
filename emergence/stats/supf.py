"""Andrews sup-F with Hansen's fixed-regressor multiplier bootstrap, and the Chow test."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sps

from .._defaults import ALPHA, N_BOOT
from .._random import SeedLike
from .._validation import check_interval, check_log10_x, check_option, check_rng
from ._results import TestResult

__all__ = ["SupFResult", "ChowResult", "ThresholdInterval", "supf_test", "chow_test",
           "threshold_interval", "BREAKS"]

#: Break columns: "full" = intercept and slope change (Andrews/Chow), "hinge", "step".
BREAKS = ("full", "hinge", "step")


def _break_cols(x: np.ndarray, psi: float, kind: str) -> np.ndarray:
    above = (x > psi).astype(float)
    if kind == "full":
        return np.column_stack([above, np.maximum(x - psi, 0.0)])
    if kind == "hinge":
        return np.maximum(x - psi, 0.0)[:, None]
    return above[:, None]


def _resid_maker(X: np.ndarray) -> np.ndarray:
    Q, _ = np.linalg.qr(X)
    return np.eye(X.shape[0]) - Q @ Q.T


def _check_xy(x, y):
    x = check_log10_x(x).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.size != y.size:
        raise ValueError(f"`x` and `y` lengths differ ({x.size} vs {y.size}).")
    if np.any(~np.isfinite(x)) or np.any(~np.isfinite(y)):
        raise ValueError("`x` and `y` must be finite; drop NaN points first.")
    order = np.argsort(x, kind="mergesort")
    x, y = x[order], y[order]
    if np.any(np.diff(x) == 0):
        raise ValueError("tied x values: a break between them is undefined; average them first.")
    return x, y


@dataclass(frozen=True)
class SupFResult(TestResult):
    """Result of :func:`supf_test`.

    Attributes
    ----------
    statistic : float
        :math:`\\sup_\\psi F(\\psi)` over the trimmed candidate breaks.
    pvalue : float
        Multiplier-bootstrap p-value :math:`(1 + \\#\\{F^* \\ge F\\})/(B + 1)`.
    psi : float
        Break (between-scale midpoint, log10 scale) attaining the supremum.
    null, reference : str
    kind : str
        ``full``, ``hinge`` or ``step``.
    trim : float
    n_boot : int
    residuals : str
        Residuals multiplied in the bootstrap (``null`` or ``alternative`` fit).
    candidates, fstats : ndarray
        Candidate breaks and :math:`F(\\psi)` at each.
    replicates : ndarray
    shift : float
        Sign and size of the best break: the mean, over the scales above ``psi``, of what the
        break columns add to the no-break line (link units). Positive: the curve runs above its
        pre-break trend after ``psi``; negative: below. The test itself is two-sided (an F
        statistic); compare ``shift`` with the metric's improvement direction to tell an
        accelerating from a decelerating break.
    """

    statistic: float
    pvalue: float
    psi: float
    null: str
    reference: str
    kind: str
    trim: float
    n_boot: int
    residuals: str
    candidates: np.ndarray = field(repr=False)
    fstats: np.ndarray = field(repr=False)
    replicates: np.ndarray = field(repr=False)
    shift: float = float("nan")

    _name = "sup_f"


def _candidates(x: np.ndarray, kind: str, trim: float) -> np.ndarray:
    s = x.size
    q = 2 if kind == "full" else 1
    h = max(int(np.ceil(trim * s)), q + 1 if kind == "full" else 2)
    idx = np.arange(h, s - h + 1)  # number of points at or below the break
    return (x[idx - 1] + x[idx]) / 2


def supf_test(
    log10_x: np.ndarray,
    y: np.ndarray,
    *,
    kind: str = "full",
    trim: float = 0.15,
    n_boot: int = N_BOOT,
    residuals: str = "null",
    seed: SeedLike = None,
) -> SupFResult:
    """Andrews (1993) sup-F test for a break at an unknown scale, Hansen (1996) bootstrap.

    Parameters
    ----------
    log10_x, y : array_like
        log10 of the scale (a raw scale is refused) and per-scale values (or their link
        transform).
    kind : {"full", "hinge", "step"}, default="full"
        ``full``: intercept and slope may both change (Andrews' structural-change test);
        ``hinge``: slope change only (continuous); ``step``: level change only.
    trim : float, default=0.15
        Each regime keeps at least ``ceil(trim * S)`` scales (and at least 3 per regime for
        ``full``, 2 otherwise).
    n_boot : int, default=999
    residuals : {"null", "alternative"}, default="null"
        Residuals multiplied by the N(0, 1) draws: from the no-break fit, or from the best
        break fit (Hansen's heteroskedasticity-robust variant).
    seed : int, Generator, SeedSequence or None

    Returns
    -------
    SupFResult

    Notes
    -----
    :math:`F(\\psi) = \\frac{\\mathrm{RSS}_0 - \\mathrm{RSS}_1(\\psi)}
    {\\mathrm{RSS}_1(\\psi)/(S - 2 - q)}` (the Wald form, ``q`` times the Chow F, as in
    ``strucchange``). The fixed-regressor bootstrap draws
    :math:`y^*_s = \\hat e_s v_s`, :math:`v_s \\sim N(0, 1)`, keeps ``x`` fixed and recomputes
    :math:`\\sup_\\psi F^*(\\psi)`; it is asymptotically valid (Hansen 1996) and avoids the
    unreliable asymptotic tables at 5-20 scales. ``F(psi)`` with ``kind="full"`` equals
    R ``strucchange::Fstats`` (checked in the test-suite). The test is two-sided; the sign of
    the best break is reported as ``shift``.

    References
    ----------
    .. [1] Andrews, D. W. K. "Tests for parameter instability and structural change with
       unknown change point." Econometrica 61(4): 821-856 (1993).
    .. [2] Hansen, B. E. "Inference when a nuisance parameter is not identified under the null
       hypothesis." Econometrica 64(2): 413-430 (1996).

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.stats.supf import supf_test
    >>> x = np.linspace(8, 11, 12)
    >>> y = 0.1 * x + 0.8 * (x > 9.6) + np.random.default_rng(0).normal(0, 0.05, 12)
    >>> res = supf_test(x, y, seed=0)
    >>> res.pvalue < 0.01, round(res.psi, 2), res.shift > 0
    (True, 9.5, True)
    """
    check_option(kind, "kind", BREAKS)
    check_option(residuals, "residuals", ("null", "alternative"))
    trim = check_interval(trim, "trim", 0, 0.5)
    x, y = _check_xy(log10_x, y)
    s = x.size
    q = 2 if kind == "full" else 1
    cands = _candidates(x, kind, trim)
    if cands.size == 0 or s - 2 - q < 1:
        raise ValueError(f"{s} scales leave no candidate break with trim={trim} for a {kind} "
                         "break; the curve is underpowered for this test.")
    X0 = np.column_stack([np.ones(s), x])
    M0 = _resid_maker(X0)
    Ms = np.stack([_resid_maker(np.column_stack([X0, _break_cols(x, p, kind)])) for p in cands])

    MsT = np.ascontiguousarray(Ms.transpose(0, 2, 1))

    def fstats(Y):  # Y (B, S) -> (B, K)
        r0 = np.einsum("bs,bs->b", Y @ M0, Y)
        R1 = np.matmul(Y[None, :, :], MsT)           # (K, B, S): each break's residuals
        r1 = np.maximum(np.einsum("kbs,kbs->bk", R1, R1), 1e-300)
        return (r0[:, None] - r1) / (r1 / (s - 2 - q))

    F = fstats(y[None, :])[0]
    j = int(np.argmax(F))
    T = float(F[j])
    bc = _break_cols(x, cands[j], kind)
    coef = np.linalg.lstsq(np.column_stack([X0, bc]), y, rcond=None)[0][2:]
    above = x > cands[j]
    shift = float(np.mean(bc[above] @ coef)) if above.any() else float("nan")
    e = M0 @ y if residuals == "null" else Ms[j] @ y
    rng = check_rng(seed)
    V = rng.standard_normal((int(n_boot), s))
    Ts = fstats(V * e[None, :]).max(axis=1)
    p = float((1 + np.count_nonzero(Ts >= T - 1e-12 * max(abs(T), 1))) / (int(n_boot) + 1))
    what = {"full": "intercept and slope", "hinge": "slope (continuous kink)",
            "step": "level (jump)"}[kind]
    return SupFResult(
        statistic=T,
        pvalue=p,
        psi=float(cands[j]),
        null=f"no change in {what} at any candidate scale",
        reference=(f"Hansen fixed-regressor multiplier bootstrap (N(0,1) x {residuals} residuals)"
                   f", B = {int(n_boot)}, {cands.size} candidate breaks, trim {trim:g}"),
        kind=kind,
        trim=trim,
        n_boot=int(n_boot),
        residuals=residuals,
        candidates=cands,
        fstats=F,
        replicates=Ts,
        shift=shift,
    )


@dataclass(frozen=True)
class ChowResult(TestResult):
    """Result of :func:`chow_test`.

    Attributes
    ----------
    statistic : float
        F statistic.
    pvalue : float
        Upper tail of ``F(df_num, df_den)``.
    psi : float
        The declared break.
    df_num, df_den : int
    null, reference : str
    kind : str
    n_below, n_above : int
        Scales at or below / above ``psi``.
    """

    statistic: float
    pvalue: float
    psi: float
    df_num: int
    df_den: int
    null: str
    reference: str
    kind: str
    n_below: int
    n_above: int

    _name = "chow"


def chow_test(
    log10_x: np.ndarray, y: np.ndarray, psi: float, *, kind: str = "full"
) -> ChowResult:
    """Chow (1960) F test for a break at a scale declared in advance.

    Parameters
    ----------
    log10_x, y : array_like
        log10 of the scale (a raw scale is refused) and per-scale values.
    psi : float
        Break location, chosen *before* seeing the data (e.g. a pre-registered compute level).
        Choosing it at the visible jump inflates the size badly; use :func:`supf_test` or
        :func:`~emergence.stats.bootstrap.pblrt_test` then.
    kind : {"full", "hinge", "step"}, default="full"
        ``full``: separate lines on each side (classic Chow); ``hinge``: slope change only;
        ``step``: level change only.

    Returns
    -------
    ChowResult

    Notes
    -----
    :math:`F = \\frac{(\\mathrm{RSS}_0 - \\mathrm{RSS}_1)/q}{\\mathrm{RSS}_1/(S - 2 - q)}
    \\sim F(q, S - 2 - q)` under Gaussian homoskedastic errors, ``q = 2`` for ``full``. Matches
    R ``strucchange::sctest(y ~ x, type = "Chow", point = i)`` (test-suite).

    References
    ----------
    .. [1] Chow, G. C. "Tests of equality between sets of coefficients in two linear
       regressions." Econometrica 28(3): 591-605 (1960).

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.stats.supf import chow_test
    >>> x = np.arange(10.0)
    >>> y = np.r_[np.zeros(5), np.ones(5)] + 0.01 * np.sin(x)
    >>> res = chow_test(x, y, psi=4.5)
    >>> res.df_num, res.df_den, res.pvalue < 1e-6
    (2, 6, True)
    """
    check_option(kind, "kind", BREAKS)
    x, y = _check_xy(log10_x, y)
    s = x.size
    q = 2 if kind == "full" else 1
    below = int(np.sum(x <= psi))
    need = 2
    if below < need or s - below < need or s - 2 - q < 1:
        raise ValueError(f"psi={psi} leaves {below} and {s - below} scales on each side; each "
                         f"regime needs at least {need} and S - {2 + q} >= 1.")
    X0 = np.column_stack([np.ones(s), x])
    X1 = np.column_stack([X0, _break_cols(x, psi, kind)])
    r0 = float(y @ _resid_maker(X0) @ y)
    r1 = float(y @ _resid_maker(X1) @ y)
    df_den = s - 2 - q
    F = ((r0 - r1) / q) / (max(r1, 1e-300) / df_den)
    return ChowResult(
        statistic=float(F),
        pvalue=float(sps.f.sf(F, q, df_den)),
        psi=float(psi),
        df_num=q,
        df_den=df_den,
        null=f"no {kind} break at the declared scale {psi:g}",
        reference=f"F({q}, {df_den}) (Gaussian homoskedastic errors; psi fixed in advance)",
        kind=kind,
        n_below=below,
        n_above=s - below,
    )


@dataclass(frozen=True)
class ThresholdInterval:
    """Result of :func:`threshold_interval`.

    Attributes
    ----------
    psi : float
        Least-squares break estimate (log10 scale).
    low, high : float
        Smallest and largest grid value inside the confidence set.
    alpha : float
    critical : float
        :math:`c(\\alpha) = -2 \\ln(1 - \\sqrt{1 - \\alpha})`.
    kind : str
    grid, lr : ndarray
        Grid of breakpoints and :math:`LR_n(\\psi)`.
    disjoint : bool
        True when the confidence set is not one interval (``low``/``high`` then span it).
    """

    psi: float
    low: float
    high: float
    alpha: float
    critical: float
    kind: str
    grid: np.ndarray = field(repr=False)
    lr: np.ndarray = field(repr=False)
    disjoint: bool = False

    def to_frame(self):
        """One row: estimate, bounds, level."""
        import pandas as pd

        return pd.DataFrame([{"psi": self.psi, "low": self.low, "high": self.high,
                              "alpha": self.alpha, "critical": self.critical, "kind": self.kind,
                              "disjoint": self.disjoint}])

    def summary(self) -> str:
        """Short text."""
        return (f"break at {self.psi:.4g}, {100 * (1 - self.alpha):g}% LR set "
                f"[{self.low:.4g}, {self.high:.4g}] (Hansen 2000, c = {self.critical:.3f})")


def threshold_interval(
    log10_x: np.ndarray,
    y: np.ndarray,
    *,
    kind: str = "full",
    alpha: float = ALPHA,
    n_grid: int = 200,
) -> ThresholdInterval:
    """Hansen (2000) confidence set for the break location by inverting the LR statistic.

    Parameters
    ----------
    log10_x, y : array_like
        log10 of the scale (a raw scale is refused) and per-scale values (or their link
        transform).
    kind : {"full", "hinge", "step"}, default="full"
    alpha : float, default=0.05
    n_grid : int, default=200
        Breakpoints evaluated between the 2nd and the 2nd-to-last scale.

    Returns
    -------
    ThresholdInterval

    Notes
    -----
    :math:`LR_n(\\psi) = S (S_n(\\psi) - S_n(\\hat\\psi)) / S_n(\\hat\\psi)` and the set is
    :math:`\\{\\psi : LR_n(\\psi) \\le c(\\alpha)\\}` with :math:`c(\\alpha) = -2\\ln(1 -
    \\sqrt{1 - \\alpha})` (7.35 at 95%). The theory covers a discontinuous threshold under
    homoskedastic errors with a shrinking effect; with 5-20 scales read it as approximate. A step
    is only identified between observed scales, so its set is a union of gaps.

    References
    ----------
    .. [1] Hansen, B. E. "Sample splitting and threshold estimation." Econometrica 68(3):
       575-603 (2000).

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.stats.supf import threshold_interval
    >>> x = np.linspace(8, 11, 12)
    >>> y = 0.1 * x + 0.8 * (x > 9.6) + np.random.default_rng(0).normal(0, 0.05, 12)
    >>> ci = threshold_interval(x, y, kind="step")
    >>> bool(ci.low <= 9.6 <= ci.high)
    True
    """
    check_option(kind, "kind", BREAKS)
    alpha = check_interval(alpha, "alpha", 0, 1)
    x, y = _check_xy(log10_x, y)
    s = x.size
    if s < 5:
        raise ValueError(f"{s} scales: a break location needs at least 5.")
    grid = np.linspace(x[1], x[s - 2], int(n_grid))
    X0 = np.column_stack([np.ones(s), x])
    ss = np.array([float(y @ _resid_maker(np.column_stack([X0, _break_cols(x, p, kind)])) @ y)
                   for p in grid])
    j = int(np.argmin(ss))
    smin = max(ss[j], 1e-300)
    lr = s * (ss - smin) / smin
    crit = float(-2 * np.log(1 - np.sqrt(1 - alpha)))
    inside = lr <= crit
    idx = np.flatnonzero(inside)
    disjoint = bool(np.any(np.diff(idx) > 1))
    return ThresholdInterval(float(grid[j]), float(grid[idx[0]]), float(grid[idx[-1]]), alpha,
                             crit, kind, grid, lr, disjoint)
