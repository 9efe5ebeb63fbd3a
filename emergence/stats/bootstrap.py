"""Parametric-bootstrap likelihood-ratio test for a break against a smooth null.

The null is a straight line on the metric's link scale (see :mod:`emergence.curve_models`); the
alternative adds a hinge ``(x - psi)_+`` or a step ``1[x > psi]`` column with ``psi`` searched
over a grid, or a quadratic term (curvature). Replicates are simulated under the fitted null at
item level and every replicate is refitted, breakpoint search included. All replicates and all
candidate breakpoints are handled at once with closed-form weighted least squares
(Frisch-Waugh-Lovell), so B = 999 takes a few milliseconds.

An emergent ability is a sudden *improvement*, so by default the alternative is one-sided: only a
break or curvature that makes the metric improve faster after the breakpoint (a convex kink or an
upward jump in the direction of improvement) counts. A concave kink (improvement slowing down,
saturation, an irreducible loss) is the opposite of emergence; ``direction="decelerating"`` tests
for it and ``direction="both"`` gives the two-sided test.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from .._defaults import N_BOOT
from .._random import SeedLike
from .._validation import check_log10_x, check_option, check_rng
from ..curve_models import MODELS, break_grid, get_link
from ._data import CurveData, as_curve_data, default_null
from ._resample import resampled_sums
from ._results import TestResult

#: Replicates per chunk of the sequential parametric bootstraps: the latent test draws chunks of
#: ``CHUNK``, the PB-LRT a first chunk of ``2 * CHUNK`` and then the rest at once. The stream of
#: draws is the same whether or not a test stops early.
CHUNK = 100

__all__ = ["PBLRTResult", "pblrt_test", "improvement_sign", "ALTERNATIVES", "SIMULATIONS",
           "DIRECTIONS"]

ALTERNATIVES = ("both", "hinge", "step", "curvature")
#: ``improving``: accelerating improvement only (one-sided, the emergence alternative);
#: ``decelerating``: improvement slowing down only (saturation); ``both``: two-sided.
DIRECTIONS = ("improving", "decelerating", "both")
#: sign of dz/dy of each link (z = g(y))
LINK_SIGN = {"identity": 1.0, "log": 1.0, "neglog": -1.0, "mirage": -1.0, "chance_logit": 1.0}
SIMULATIONS = ("auto", "binomial", "rasch", "residual", "gaussian")
NULLS = ("auto", "linear", "power_law", "gompertz", "chance_sigmoid")
WEIGHTING = "empirical"


@dataclass(frozen=True)
class PBLRTResult(TestResult):
    """Result of :func:`pblrt_test`.

    Unpacks as ``statistic, pvalue``.

    Attributes
    ----------
    statistic : float
        :math:`T = (\\mathrm{RSS}_0 - \\min_\\psi \\mathrm{RSS}_1(\\psi)) / \\hat\\phi`, weighted
        residual sums of squares on the link scale (F-type likelihood-ratio statistic; see
        the Notes of :func:`pblrt_test`), with the break restricted to ``direction``.
    pvalue : float
        :math:`(1 + \\#\\{T^*_b \\ge T\\}) / (B + 1)`.
    null : str
        The null hypothesis in words.
    reference : str
        How the reference distribution was simulated.
    null_model, link : str
        Smooth null and its link scale.
    alternative : str
        ``both`` (hinge or step), ``hinge``, ``step`` or ``curvature``.
    best_kind : str
        Alternative column that fitted best on the observed curve (``hinge``/``step``/
        ``curvature``).
    psi : float
        Best breakpoint on the log10 scale (NaN for curvature).
    effect : float
        Coefficient of the break column on the link scale (slope change, jump or quadratic
        coefficient); 0 when no candidate in the tested direction improves the fit (then
        ``best_kind`` is ``"none"`` and ``psi`` NaN).
    direction : str
        ``improving`` (one-sided: accelerating improvement), ``decelerating`` (one-sided:
        improvement slowing down) or ``both`` (two-sided).
    improve_sign : float
        +1 or -1: the sign of a link-scale change that means improvement (sign of ``dz/dy``
        times +1 for higher-is-better metrics, -1 otherwise).
    effect_direction : str
        ``accelerating`` (``improve_sign * effect > 0``), ``decelerating`` (``< 0``) or
        ``none`` (``effect == 0``).
    any_kind, any_psi, any_effect, any_direction :
        The best break of either sign (unrestricted least squares) on the observed curve, with
        its direction: reported so that a decelerating break (saturation) can be named even
        when the one-sided test ignores it.
    pvalue_two_sided : float
        p-value of the two-sided statistic (breaks of either sign) from the same replicates.
    n_boot_used : int
        Replicates drawn: ``n_boot``, or fewer when ``exact_below`` stopped the draws early.
    null_share : float
        Share of the null replicates whose best break of either sign goes in the tested
        direction (the improving one for ``direction="both"``). About 1/2 when the simulated
        null has no systematic bend; far below 1/2 the one-sided p-value leans on a bend that
        the simulation puts into every replicate (floor/ceiling effects with large
        model-to-model scatter), and the two-sided p-value is the safer reading.
    null_params, break_params : ndarray
        Link-scale coefficients ``(b0, b1)`` and ``(b0, b1, effect)``.
    null_fitted : ndarray
        Fitted null on the y scale at the observed scales (the simulation truth).
    simulate : str
        ``binomial``, ``rasch``, ``residual`` or ``gaussian``.
    n_boot, n_scales : int
    n_items : float
        Median items per scale (NaN when unknown).
    crit : float
        95% quantile of the replicates.
    replicates : ndarray
        :math:`T^*_b`, shape ``(n_boot_used,)``.
    notes : tuple of str
        Limits of the analysis (aggregate-only data, unknown chance, ...).
    """

    statistic: float
    pvalue: float
    null: str
    reference: str
    null_model: str
    link: str
    alternative: str
    best_kind: str
    psi: float
    effect: float
    null_params: np.ndarray
    break_params: np.ndarray
    null_fitted: np.ndarray
    simulate: str
    n_boot: int
    n_scales: int
    n_items: float
    crit: float
    replicates: np.ndarray = field(repr=False)
    notes: tuple[str, ...] = ()
    x: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    chance: float = 0.0
    direction: str = "improving"
    improve_sign: float = 1.0
    effect_direction: str = "none"
    any_kind: str = ""
    any_psi: float = float("nan")
    any_effect: float = 0.0
    any_direction: str = "none"
    pvalue_two_sided: float = float("nan")
    null_share: float = float("nan")
    n_boot_used: int = 0

    _name = "pb_lrt"

    def _row(self):
        row = super()._row()
        row["notes"] = "; ".join(self.notes)
        return row

    def predict(self, log10_x: np.ndarray, which: str = "null") -> np.ndarray:
        """Fitted null or break curve on the y scale at ``log10_x`` (log10 of the scale)."""
        check_option(which, "which", ("null", "break"))
        x = check_log10_x(log10_x)
        lk = get_link(self.link, self.chance)
        if which == "null" or self.best_kind == "none":
            return lk.inverse(self.null_params[0] + self.null_params[1] * x)
        col = _columns(x, self.best_kind, np.array([self.psi]), self.x)[0]
        b = self.break_params
        return lk.inverse(b[0] + b[1] * x + b[2] * col)


def _columns(x: np.ndarray, kind: str, psis: np.ndarray, xref: np.ndarray) -> np.ndarray:
    if kind == "hinge":
        return np.maximum(x[None, :] - psis[:, None], 0.0)
    if kind == "step":
        return (x[None, :] > psis[:, None]).astype(float)
    mu = xref.mean()
    return ((x - mu) ** 2)[None, :]


def _candidates(x: np.ndarray, alternative: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Break columns (K, S), their kind labels and breakpoints."""
    cols, kinds, psis = [], [], []
    if alternative in ("both", "hinge"):
        g = break_grid(x, "hinge")
        cols.append(_columns(x, "hinge", g, x))
        kinds += ["hinge"] * g.size
        psis.append(g)
    if alternative in ("both", "step"):
        g = break_grid(x, "step")
        cols.append(_columns(x, "step", g, x))
        kinds += ["step"] * g.size
        psis.append(g)
    if alternative == "curvature":
        cols.append(_columns(x, "curvature", np.array([np.nan]), x))
        kinds.append("curvature")
        psis.append(np.array([np.nan]))
    return np.vstack(cols), np.array(kinds), np.concatenate(psis)


def _wls_line(Z: np.ndarray, W: np.ndarray, x: np.ndarray):
    """Weighted LS of each row of Z on [1, x]: coefficients, residuals and sums."""
    b0, b1, R0, sums, _ = _wls_line_wx(Z, W, x)
    return b0, b1, R0, sums


class _Buffers:
    """Scratch arrays by name, reused while their shape stays the same.

    The replicate chunks of one test fit arrays of the same shapes again and again; writing into
    the same memory spares the page faults that fresh large arrays cost on every call. Arrays
    taken from here are overwritten by the next call that uses the same buffers: results that
    outlive it must be copied (or computed without buffers).
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype=float) -> np.ndarray:
        """A C-contiguous array of ``shape`` (contents undefined): the start of the buffer
        ``name``, grown when too small (a smaller last chunk reuses the same memory)."""
        size = math.prod(shape)
        a = self._arrays.get(name)
        if a is None or a.size < size or a.dtype != dtype:
            a = np.empty(size, dtype)
            self._arrays[name] = a
        return a[:size].reshape(shape)


def _wls_line_wx(Z: np.ndarray, W: np.ndarray, x: np.ndarray, buf: _Buffers | None = None):
    """:func:`_wls_line`, also returning ``W * x`` (reused by the column fits)."""
    if Z.shape != W.shape:
        Z, W = np.broadcast_arrays(Z, W)
    buf = _Buffers() if buf is None else buf
    shape = W.shape
    Sw = W.sum(axis=1)
    Wx = np.multiply(W, x, out=buf.get("Wx", shape))
    Sx = Wx.sum(axis=1)
    t = np.multiply(Wx, x, out=buf.get("R0", shape))
    Sxx = t.sum(axis=1)
    np.multiply(W, Z, out=t)
    Sz = t.sum(axis=1)
    np.multiply(Wx, Z, out=t)
    Sxz = t.sum(axis=1)
    det = Sw * Sxx - Sx**2
    b1 = (Sw * Sxz - Sx * Sz) / det
    b0 = (Sz - b1 * Sx) / Sw
    # R0 = Z - b0 - b1 x, evaluated in that order
    R0 = np.subtract(Z, b0[:, None], out=t)
    R0 -= np.multiply(b1[:, None], x, out=buf.get("b1x", shape))
    return b0, b1, R0, (Sw, Sx, Sxx, det), Wx


def _line_and_columns(Z, W, x, cols):
    """Weighted line fit of each row of Z and every one-column extension (Frisch-Waugh-Lovell).

    Returns RSS0 (B,), the RSS reduction of each column (B, K), its coefficient (B, K), the line
    coefficients (b0, b1) and the column projections on the line (c0, c1) (B, K).
    """
    rss0, red, coef, line, proj, _ = _line_and_columns_sums(Z, W, x, cols)
    return rss0, red, coef, line, proj


def _line_and_columns_sums(Z, W, x, cols, coef: bool = True, buf: _Buffers | None = None):
    """:func:`_line_and_columns`, also returning the weighted sums ``(Sw, Sx, Sxx, det)`` of the
    line fit; ``coef=False`` leaves the column coefficients out (None). With ``buf`` the (B, S)
    and (B, K) arrays, returned ones included, live in those buffers (see :class:`_Buffers`).

    The arithmetic is the plain formulas' (same operations in the same order, written in place
    to spare temporaries), so the results are the same to the last bit.
    """
    buf = _Buffers() if buf is None else buf
    b0, b1, R0, (Sw, Sx, Sxx, det), Wx = _wls_line_wx(Z, W, x, buf)
    colsT = cols.T
    B, K = R0.shape[0], cols.shape[0]
    rss0 = np.einsum("bs,bs->b", W, np.square(R0, out=buf.get("sq", R0.shape)))
    Sh = np.matmul(W, colsT, out=buf.get("Sh", (B, K)))
    Sxh = np.matmul(Wx, colsT, out=buf.get("Sxh", (B, K)))
    Shh = np.matmul(W, (cols**2).T, out=buf.get("Shh", (B, K)))
    # c1 = (Sw Sxh - Sx Sh) / det
    c1 = np.multiply(Sw[:, None], Sxh, out=buf.get("c1", (B, K)))
    t = np.multiply(Sx[:, None], Sh, out=buf.get("c0", (B, K)))
    c1 -= t
    c1 /= det[:, None]
    # c0 = (Sh - c1 Sx) / Sw
    np.multiply(c1, Sx[:, None], out=t)
    c0 = np.subtract(Sh, t, out=t)
    c0 /= Sw[:, None]
    # hh = Shh - (c0 Sh + c1 Sxh)
    np.multiply(c0, Sh, out=Sh)
    np.multiply(c1, Sxh, out=Sxh)
    Sh += Sxh
    hh = np.subtract(Shh, Sh, out=Sh)
    np.multiply(W, R0, out=R0)
    cross = np.matmul(R0, colsT, out=buf.get("cross", (B, K)))
    np.maximum(Shh, 1e-300, out=Shh)
    Shh *= 1e-12
    ok = np.greater(hh, Shh, out=buf.get("ok", (B, K), bool))
    cf = None
    if coef:
        cf = buf.get("coef", (B, K))
        cf.fill(0.0)
        np.divide(cross, hh, out=cf, where=ok)
    red = buf.get("red", (B, K))
    red.fill(0.0)
    np.square(cross, out=cross)
    np.divide(cross, hh, out=red, where=ok)
    return rss0, red, cf, (b0, b1), (c0, c1), (Sw, Sx, Sxx, det)


def _break_stats(Z, W, x, cols, sign: float = 0.0):
    """Null and break weighted RSS for each row of Z (vectorised over rows and columns).

    Returns RSS0 (B,), RSS1 (B, K) and the break coefficients (B, K). With ``sign`` +1 or -1
    the break coefficient is constrained to ``sign * coef >= 0``: a candidate whose
    unconstrained coefficient has the other sign has its constrained optimum at 0, so it
    reduces nothing (``RSS1 = RSS0``) and its coefficient is reported as 0. ``sign=0``:
    unconstrained (two-sided).
    """
    rss0, red, coef, (b0, b1), (c0, c1) = _line_and_columns(Z, W, x, cols)
    # tolerance so that exactly flat curves (all 0 or all 1) give T = 0 rather than 0/0
    tau = 1e-12 * np.einsum("bs,bs->b", W, 1.0 + Z**2)
    rss1 = np.maximum(rss0[:, None] - red, 0.0) + tau[:, None]
    rss1, coef = _constrain(rss0 + tau, rss1, coef, sign)
    return rss0 + tau, rss1, coef, (b0, b1, c0, c1)


def _constrain(rss0, rss1, coef, sign: float):
    """One-sided version of unconstrained break fits: a candidate whose coefficient has the
    wrong sign is fitted at 0 (``RSS1 = RSS0``, coefficient 0). ``sign=0``: unchanged."""
    if not sign:
        return rss1, coef
    right = sign * coef > 0
    return np.where(right, rss1, rss0[:, None]), np.where(right, coef, 0.0)


class _Model:
    """Link, weights and simulation of one curve under one null."""

    def __init__(self, d: CurveData, null_model: str, simulate: str):
        self.d = d
        link_name = MODELS[null_model][0]
        if link_name == "log" and np.all(d.y < 0):
            link_name = "neglog"
        self.link = get_link(link_name, d.chance if null_model == "chance_sigmoid" else 0.0)
        self.null_model = null_model
        self.simulate = simulate
        self.weighting = WEIGHTING
        self.n = d.n
        self.binom_w = d.proportion and self.link.name in ("mirage", "chance_logit", "identity")
        # proportions without n: weights up to a constant
        self.n_for_w = d.n if d.n is not None else np.ones(d.n_scales)
        self.fixed_w = None
        if not d.proportion and self.link.name in ("identity", "log", "neglog"):
            se = None
            if d.items is not None and d.items.shape[0] > 1:
                se = d.items.std(axis=0, ddof=1) / np.sqrt(d.items.shape[0])
            elif d.stderr is not None:
                se = d.stderr
            if se is not None and np.all(se > 0):
                if self.link.name in ("log", "neglog"):
                    se = se / np.abs(d.y)  # delta method for log y
                self.fixed_w = 1.0 / se**2
        # weights in absolute units (item noise known): the statistic's scale is floored at
        # the item noise, and replicates add the estimated extra (model-level) dispersion
        self.known_scale = bool(
            (self.binom_w and d.n is not None and simulate in ("binomial", "rasch"))
            or (self.fixed_w is not None and simulate in ("residual", "gaussian"))
        )

    def transform(self, Y: np.ndarray) -> np.ndarray:
        if self.link.name in ("log", "neglog"):
            yy = Y if self.link.name == "log" else -Y
            return np.log(np.maximum(yy, 1e-12 * np.abs(self.d.y).max() + 1e-300))
        return self.link.forward(self.link.adjust(Y, self.n))

    def weights(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Delta-method weights ``n / (g'(p)^2 p (1 - p))`` at the adjusted observed shares
        (``weighting="empirical"``) or at an unweighted null fit (``"null"``)."""
        x = self.d.x
        if self.fixed_w is not None:
            return np.broadcast_to(self.fixed_w, Z.shape), None, None
        ones = np.ones_like(Z)
        if not self.binom_w:
            return ones, None, None
        b0, b1, _, _ = _wls_line(Z, ones, x)
        if self.weighting == "empirical":
            p0 = self.link.inverse(Z)  # the (adjusted) observed share at each scale
        else:
            p0 = self.link.inverse(b0[:, None] + b1[:, None] * x)
        if self.link.name == "identity":
            e = 0.5 / (np.max(self.n_for_w) + 1)
            pc = np.clip(p0, e, 1 - e)
            v = pc * (1 - pc)
        else:
            v = self.link.var_factor(p0)
        return self.n_for_w / v, b0, b1


def _statistic(rss0, rss1, df1: int, known_scale: bool):
    """F-type statistic ``(RSS0 - min RSS1) / phi`` and the dispersion ``phi``.

    ``phi = RSS1 / df1`` (the break model's residual variance, in units of the item noise when
    it is known). With known item noise ``phi`` is floored at 1, so deviations smaller than
    item noise never look significant.
    """
    r1 = rss1.min(axis=1)
    phi = r1 / df1
    if known_scale:
        phi = np.maximum(phi, 1.0)
    return (rss0 - r1) / phi, phi


def _fit_observed(m: _Model, cols, sign: float = 0.0):
    Z = m.transform(m.d.y[None, :])
    W, _, _ = m.weights(Z)
    W = np.ascontiguousarray(W)
    rss0, rss1, coef, (b0, b1, c0, c1) = _break_stats(Z, W, m.d.x, cols, sign)
    return Z, W, rss0, rss1, coef, b0, b1, c0, c1


def improvement_sign(link: str, higher_is_better: bool) -> float:
    """Sign of a change on the link scale that means the metric improved.

    ``sign(dz/dy)`` of the link (identity, log, chance_logit: +1; neglog ``log(-y)`` and the
    Mirage link ``ln(-ln y)``: -1) times +1 for higher-is-better metrics and -1 otherwise.

    Examples
    --------
    >>> from emergence.stats.bootstrap import improvement_sign
    >>> improvement_sign("mirage", True), improvement_sign("log", False)
    (-1.0, -1.0)
    >>> improvement_sign("chance_logit", True), improvement_sign("neglog", True)
    (1.0, -1.0)
    """
    check_option(link, "link", tuple(LINK_SIGN))
    return LINK_SIGN[link] * (1.0 if higher_is_better else -1.0)


def _direction_word(v: float, s: float) -> str:
    if not np.isfinite(v) or v == 0:
        return "none"
    return "accelerating" if s * v > 0 else "decelerating"


def _rasch_probs(items: np.ndarray, p0: np.ndarray, chance: float) -> np.ndarray:
    """Item x scale probabilities c + (1-c) sigma(theta_s - b_j) whose mean matches p0."""
    n, s = items.shape
    tot = items.sum(axis=1)
    b = -np.log((tot + 0.5) / (s - tot + 0.5))
    b -= b.mean()
    c = chance if np.isfinite(chance) else 0.0
    target = np.clip((p0 - c) / (1 - c), 1e-6, 1 - 1e-6)
    theta = np.log(target / (1 - target))
    for _ in range(50):
        q = 1 / (1 + np.exp(-(theta[None, :] - b[:, None])))
        f = q.mean(axis=0) - target
        fp = (q * (1 - q)).mean(axis=0)
        step = f / np.maximum(fp, 1e-12)
        theta -= np.clip(step, -5, 5)
        if np.max(np.abs(f)) < 1e-10:
            break
    q = 1 / (1 + np.exp(-(theta[None, :] - b[:, None])))
    return c + (1 - c) * q


def _simulate(m: _Model, p0: np.ndarray, z0: np.ndarray, W0: np.ndarray, rss0: float,
              phi: float, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Replicate curves on the link scale, shape (n_boot, S).

    With known item noise, ``phi > 1`` adds model-level scatter on the link scale with variance
    ``(phi - 1) / w_s`` before the item-level draws (a quasi-likelihood null).
    """
    d = m.d
    s = d.n_scales
    extra = None
    if m.known_scale and phi > 1:
        extra = np.sqrt((phi - 1) / W0)[None, :] * rng.standard_normal((n_boot, s))
    if m.simulate == "binomial":
        n = d.n.astype(np.int64)
        pp = np.clip(p0, 0, 1) if extra is None else np.clip(m.link.inverse(z0 + extra), 0, 1)
        k = rng.binomial(n, pp, size=(n_boot, s))
        return m.transform(k / n)
    if m.simulate == "rasch":
        if extra is not None:  # one overdispersed replicate curve at a time, vectorised over items
            out = np.empty((n_boot, s))
            for b in range(n_boot):
                pr = _rasch_probs(d.items, m.link.inverse(z0 + extra[b]),
                                  d.chance if m.null_model == "chance_sigmoid" else 0.0)
                out[b] = (rng.random(pr.shape) < pr).sum(axis=0)
            return m.transform(out / d.items.shape[0])
        probs = _rasch_probs(d.items, p0, d.chance if m.null_model == "chance_sigmoid" else 0.0)
        nitem = probs.shape[0]
        out = np.empty((n_boot, s))
        chunk = max(1, int(4e6 // (nitem * s)))
        for a in range(0, n_boot, chunk):  # chunks of replicates, each vectorised
            bsz = min(chunk, n_boot - a)
            u = rng.random((bsz, nitem, s))
            out[a : a + bsz] = (u < probs[None]).sum(axis=1)
        return m.transform(out / nitem)
    if m.simulate == "residual":
        items = d.items
        nitem = items.shape[0]
        E = items - items.mean(axis=0)
        (dev,) = resampled_sums(rng, n_boot, E)
        zc = z0[None, :] if extra is None else z0[None, :] + extra
        return m.transform(m.link.inverse(zc) + dev / nitem)
    eps = rng.standard_normal((n_boot, s))
    if m.known_scale:  # known per-scale noise (stderr), plus the estimated extra dispersion
        return z0[None, :] + np.sqrt(max(phi, 1.0)) * eps / np.sqrt(W0)
    # unknown scale: gaussian on the link scale with variance proportional to 1 / weight
    sigma = np.sqrt(rss0 / max(s - 2, 1))
    return z0[None, :] + sigma * eps / np.sqrt(W0)


def pblrt_test(
    curve=None,
    *,
    log10_x: np.ndarray | None = None,
    y: np.ndarray | None = None,
    n_items: np.ndarray | float | None = None,
    items: np.ndarray | None = None,
    chance: float | None = None,
    metric: str | None = None,
    null: str = "auto",
    alternative: str = "both",
    direction: str = "improving",
    higher_is_better: bool | None = None,
    simulate: str = "auto",
    n_boot: int = N_BOOT,
    seed: SeedLike = None,
    x: np.ndarray | None = None,
    exact_below: float | None = None,
) -> PBLRTResult:
    """Parametric-bootstrap likelihood-ratio test of a smooth null against a break.

    Parameters
    ----------
    curve : Curve, optional
        The curve to test (``log10x``, ``y``, ``n_items``, ``items``, ``chance``, ``metric``).
        Alternatively pass ``log10_x``, ``y`` and optionally ``n_items``/``items``/
        ``chance``/``metric``.
    log10_x : array_like, optional
        log10 of the scale of each point (e.g. ``numpy.log10(params)``). Values above 50 are
        refused as a raw scale.
    null : {"auto", "linear", "power_law", "gompertz", "chance_sigmoid"}, default="auto"
        Smooth null. ``"auto"``: Mirage/Gompertz for exact match (chance 0), chance-floored
        sigmoid for multiple choice (chance > 0), power law for positive continuous metrics,
        linear otherwise.
    alternative : {"both", "hinge", "step", "curvature"}, default="both"
        Break column(s) added to the null on the link scale. ``both`` takes the better of a
        hinge and a step at every grid point; ``curvature`` adds a quadratic term (accelerating
        or decelerating growth on the link scale).
    direction : {"improving", "decelerating", "both"}, default="improving"
        Sign restriction on the break coefficient, in the direction of improvement of the
        metric (see :func:`improvement_sign`). ``improving`` (the emergence alternative): the
        slope increases after the hinge, the step jumps, or the quadratic term bends, towards a
        better metric; a candidate with a coefficient of the other sign is fitted at 0 (no
        reduction of RSS), in the observed fit and in every replicate, so the bootstrap
        calibrates the one-sided supremum. ``decelerating``: the opposite one-sided test
        (improvement slows down: saturation, a floor or ceiling). ``both``: two-sided.
    higher_is_better : bool, optional
        Orientation of the metric; by default from the metric's registry entry
        (:func:`emergence.schema.metric_info`).
    simulate : {"auto", "binomial", "rasch", "residual", "gaussian"}, default="auto"
        How replicates are drawn under the fitted null. ``binomial``: counts
        ``Binomial(n_s, p0_s)`` (items independent and exchangeable); ``rasch``: item-level
        ``Bernoulli(c + (1-c) sigma(theta_s - b_j))`` with item difficulties ``b_j`` estimated
        from the item matrix and ``theta_s`` matching the null; ``residual``: item residual
        vectors resampled across scales (continuous items); ``gaussian``: normal errors on the
        link scale with the fitted residual variance (aggregate-only curves). ``auto`` picks
        binomial for proportions with known item counts, residual for continuous item matrices,
        and gaussian otherwise.
    n_boot : int, default=999
    seed : int, Generator, SeedSequence or None
    x : array_like, optional
        Deprecated name of ``log10_x`` (FutureWarning; removed after 2027-06): the raw scale is
        refused, as for ``log10_x``.
    exact_below : float, optional
        Sequential Monte Carlo p-values (Besag and Clifford 1991), as in
        :func:`emergence.stats.latent.latent_break_test`: the first ``2 * CHUNK`` replicates
        are drawn, then the rest, and drawing stops after the first chunk if both p-values have
        ``ceil(exact_below * (B + 1))`` exceedances, so are certainly above ``exact_below``.
        Every p-value at or below ``exact_below`` is exactly the one of all ``B`` replicates
        (same seed, same stream); larger ones are ``(1 + k) / (m + 1)`` from the ``m``
        replicates drawn (``n_boot_used``). ``None`` (default) draws all ``B``.

    Returns
    -------
    PBLRTResult

    Raises
    ------
    ValueError
        Fewer than 5 scales, NaN or tied scales, a simulation that needs data the curve lacks.

    Notes
    -----
    With link values :math:`z_s = g(\\tilde y_s)` (``(k + 1/2)/(n + 1)`` adjustment for
    proportions) and empirical delta-method weights :math:`w_s = n_s / (g'(\\tilde y_s)^2
    \\tilde y_s (1 - \\tilde y_s))` (so scales at the floor, where the link is unstable, carry
    little weight), the statistic is the likelihood-ratio (F-type) statistic

    .. math:: T = \\frac{\\mathrm{RSS}_0 - \\min_{\\psi} \\mathrm{RSS}_1(\\psi)}{\\hat\\phi},
              \\qquad \\hat\\phi = \\max\\Big(1, \\frac{\\min_\\psi \\mathrm{RSS}_1(\\psi)}{S - 4}\\Big)

    over a grid keeping two scales on each side of :math:`\\psi` (without the floor at 1 when
    the noise scale is unknown, i.e. aggregate-only curves). The floor means deviations smaller
    than item noise never count as a break; :math:`\\hat\\phi > 1` (model-to-model scatter
    beyond item noise) is carried into the replicates as extra link-scale noise with variance
    :math:`(\\hat\\phi - 1)/w_s`, a quasi-likelihood null. Each replicate repeats the whole
    computation (weights and breakpoint search included), so the p-value
    :math:`(1 + \\#\\{T^* \\ge T\\}) / (B + 1)` [1]_ accounts for the search. With a one-sided
    ``direction`` every candidate coefficient is constrained to the tested sign
    (:math:`s\\,\\delta \\ge 0`, with :math:`s` the improvement sign); the constrained
    least-squares optimum of a single extra column is the boundary 0 when the unconstrained
    coefficient has the wrong sign, so :math:`\\mathrm{RSS}_1(\\psi) = \\mathrm{RSS}_0` there,
    and :math:`\\hat\\phi` is the dispersion of the constrained fit. Size and power are
    checked by simulation in ``benchmarks/calibration.py``. Item-level uncertainty is a lower
    bound: training-seed variance is not observed.

    References
    ----------
    .. [1] Davison, A. C., and Hinkley, D. V. Bootstrap Methods and their Application.
       Cambridge University Press (1997), ch. 4.
    .. [2] Schaeffer, R., Miranda, B., and Koyejo, S. "Are emergent abilities of large
       language models a mirage?" NeurIPS (2023).

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.stats.bootstrap import pblrt_test
    >>> x = np.linspace(8, 11, 10)
    >>> p = np.exp(-np.exp(6.0 - 0.7 * x))            # Mirage curve: smooth on its link
    >>> k = np.random.default_rng(0).binomial(500, p)
    >>> res = pblrt_test(log10_x=x, y=k / 500, n_items=500, metric="exact_match", seed=1)
    >>> res.null_model, res.pvalue > 0.05, res.direction
    ('gompertz', True, 'improving')
    >>> sat = 0.25 + 0.5 * (1 - np.exp(-2.0 * (x - 7.9)))   # saturating accuracy
    >>> k = np.random.default_rng(1).binomial(2000, sat)
    >>> r = pblrt_test(log10_x=x, y=k / 2000, n_items=2000, metric="acc", chance=0.25, seed=1)
    >>> r.pvalue > 0.05, r.any_direction
    (True, 'decelerating')
    """
    check_option(null, "null", NULLS)
    check_option(alternative, "alternative", ALTERNATIVES)
    check_option(direction, "direction", DIRECTIONS)
    check_option(simulate, "simulate", SIMULATIONS)
    if int(n_boot) < 1:
        raise ValueError(f"`n_boot` must be a positive integer; got {n_boot!r}.")
    n_boot = int(n_boot)
    if exact_below is not None and not 0 < float(exact_below) < 1:
        raise ValueError(f"`exact_below` must be in (0, 1) or None; got {exact_below!r}.")
    if x is not None:
        if log10_x is not None:
            raise ValueError("pass `log10_x` only (`x` is its deprecated name).")
        warnings.warn("pblrt_test(x=...) is deprecated and will be removed after 2027-06: pass "
                      "log10_x= (log10 of the scale).", FutureWarning, stacklevel=2)
        log10_x = x
    d = as_curve_data(curve, log10_x=log10_x, y=y, n_items=n_items, items=items, chance=chance,
                      metric=metric, min_scales=5)
    rng = check_rng(seed)
    notes = list(d.notes)
    null_model = default_null(d) if null == "auto" else null
    if null_model == "chance_sigmoid" and not (np.isfinite(d.chance)):
        notes.append("chance level unknown: chance-floored sigmoid uses chance 0 (plain logit)")
    if null_model == "power_law" and not (np.all(d.y > 0) or np.all(d.y < 0)):
        raise ValueError("power_law null needs y of one sign at every scale; use "
                         "null='linear'.")
    if null_model in ("gompertz", "chance_sigmoid") and not (d.y.min() >= 0 and d.y.max() <= 1):
        raise ValueError(f"the {null_model} null needs values in [0, 1].")
    sim = simulate
    if sim == "auto":
        if d.proportion and d.n is not None:
            sim = "binomial"
        elif d.items is not None and not d.proportion:
            sim = "residual"
        else:
            sim = "gaussian"
    if sim in ("binomial",) and d.n is None:
        raise ValueError("simulate='binomial' needs item counts (n_items); use 'gaussian'.")
    if sim == "rasch" and not d.binary_items:
        raise ValueError("simulate='rasch' needs a 0/1 item matrix (items x scales).")
    if sim == "residual" and d.items is None:
        raise ValueError("simulate='residual' needs an item matrix (items x scales).")
    if sim == "gaussian":
        notes.append("aggregate-only: replicates are Gaussian on the link scale "
                     "(no item-level noise model)")
    m = _Model(d, null_model, sim)
    hib = d.higher_is_better if higher_is_better is None else bool(higher_is_better)
    s_imp = improvement_sign(m.link.name, hib)
    sign = {"improving": s_imp, "decelerating": -s_imp, "both": 0.0}[direction]
    cols, kinds, psis = _candidates(d.x, alternative)
    Z, W, rss0, rss1a, coefa, b0, b1, c0, c1 = _fit_observed(m, cols, 0.0)
    rss1, coef = _constrain(rss0, rss1a, coefa, sign)
    kbest = int(np.argmin(rss1[0]))
    kany = int(np.argmin(rss1a[0]))  # best break of either sign, reported (not tested)
    any_eff = float(coefa[0, kany])
    found = bool(coef[0, kbest] != 0)
    df1 = max(d.n_scales - 4 if alternative != "curvature" else d.n_scales - 3, 1)
    T, phi = _statistic(rss0, rss1, df1, m.known_scale)
    T, phi = float(T[0]), float(phi[0])
    T2 = float(_statistic(rss0, rss1a, df1, m.known_scale)[0][0])
    z0 = b0[0] + b1[0] * d.x
    p0 = m.link.inverse(z0)
    # replicates in fixed chunks (the same stream whether or not drawing stops early);
    # sequential Monte Carlo p-values (Besag & Clifford 1991) when exact_below is given
    h = int(np.ceil(exact_below * (n_boot + 1))) if exact_below is not None else n_boot + 1
    tested = sign if sign else s_imp
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    done = k1 = k2 = 0
    while done < n_boot:
        # two chunks at most: the first (2 CHUNK) decides most curves far from a break, the
        # rest in one piece (each chunk has a fixed cost)
        mm = min(2 * CHUNK, n_boot) if done == 0 else n_boot - done
        Zs = _simulate(m, p0, z0, W[0], float(rss0[0]), phi, mm, rng)
        Ws, _, _ = m.weights(Zs)
        r0s, r1sa, coefs, _ = _break_stats(Zs, np.ascontiguousarray(Ws), d.x, cols, 0.0)
        r1s, _ = _constrain(r0s, r1sa, coefs, sign)
        Ts_c = _statistic(r0s, r1s, df1, m.known_scale)[0]
        Ts2_c = _statistic(r0s, r1sa, df1, m.known_scale)[0]
        kb = np.argmin(r1sa, axis=1)
        parts.append((Ts_c, Ts2_c, tested * coefs[np.arange(coefs.shape[0]), kb] > 0))
        k1 += int(np.count_nonzero(Ts_c >= T - 1e-10 * max(abs(T), 1)))
        k2 += int(np.count_nonzero(Ts2_c >= T2 - 1e-10 * max(abs(T2), 1)))
        done += mm
        if k1 >= h and k2 >= h:
            break
    Ts, Ts2, toward = (np.concatenate(v) for v in zip(*parts, strict=True))
    pval = float((1 + k1) / (done + 1))
    pval2 = float((1 + k2) / (done + 1))
    # share of null replicates whose best break of either sign goes the tested way (improving
    # for "both"): about 1/2 when the simulated null has no systematic bend
    null_share = float(np.mean(toward))
    eff = float(coef[0, kbest])
    bb1 = b1[0] - eff * c1[0, kbest]
    bb0 = b0[0] - eff * c0[0, kbest]
    best_kind = str(kinds[kbest]) if found else "none"
    best_psi = float(psis[kbest]) if found else float("nan")
    link_desc = {"identity": "y", "log": "log y", "neglog": "log(-y)", "mirage": "ln(-ln y)",
                 "chance_logit": "logit((y - chance)/(1 - chance))"}[m.link.name]
    alt_desc = {"both": "a hinge or a step", "hinge": "a hinge", "step": "a step",
                "curvature": "a quadratic term"}[alternative]
    dir_desc = {"improving": " in the direction of faster improvement (one-sided)",
                "decelerating": " in the direction of slowing improvement (one-sided)",
                "both": " of either sign"}[direction]
    null_txt = (f"{null_model}: {link_desc} is linear in log10 {'scale'}; "
                f"alternative adds {alt_desc}{dir_desc}")
    ref = {
        "binomial": "parametric bootstrap, Binomial(n_items, p0) counts under the fitted null",
        "rasch": "parametric bootstrap, item-level Rasch Bernoulli draws under the fitted null",
        "residual": "parametric bootstrap, item residual vectors resampled around the fitted null",
        "gaussian": "parametric bootstrap, Gaussian errors on the link scale around the fitted null",
    }[sim] + f"; breakpoint searched in every replicate; B = {n_boot}" + (
        "" if done == n_boot else f" (stopped after {done}: both p-values certainly above "
        f"{exact_below:g}, sequential Monte Carlo p-values)")
    return PBLRTResult(
        statistic=T,
        pvalue=pval,
        null=null_txt,
        reference=ref,
        null_model=null_model,
        link=m.link.name,
        alternative=alternative,
        best_kind=best_kind,
        psi=best_psi,
        effect=eff,
        null_params=np.array([b0[0], b1[0]]),
        break_params=np.array([bb0, bb1, eff]),
        null_fitted=p0,
        simulate=sim,
        n_boot=n_boot,
        n_scales=d.n_scales,
        n_items=float(np.median(d.n)) if d.n is not None else float("nan"),
        crit=float(np.quantile(Ts, 0.95)),
        replicates=Ts,
        notes=tuple(notes),
        x=d.x,
        chance=float(m.link.chance),
        direction=direction,
        improve_sign=s_imp,
        effect_direction=_direction_word(eff, s_imp),
        any_kind=str(kinds[kany]) if any_eff != 0 else "none",
        any_psi=float(psis[kany]) if any_eff != 0 else float("nan"),
        any_effect=any_eff,
        any_direction=_direction_word(any_eff, s_imp),
        pvalue_two_sided=pval2,
        null_share=null_share,
        n_boot_used=done,
    )
