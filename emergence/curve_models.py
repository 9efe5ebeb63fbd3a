"""Mean functions for scaling curves: smooth nulls, break alternatives and a 4-parameter logistic.

Every smooth null is a straight line on a *link* scale, with ``x = log10(scale)``:

=================  ==================================  =====================================
model              form (y scale)                      link: straight line in x
=================  ==================================  =====================================
``linear``         b0 + b1 x                           identity
``power_law``      exp(b0 + b1 x)  (= A * scale^b)     ``log y`` (``log(-y)`` if y < 0)
``gompertz``       exp(-exp(b0 + b1 x))  (Mirage)      ``ln(-ln y)``
``chance_sigmoid`` g + (1 - g) sigma(b0 + b1 x)         ``logit((y - g) / (1 - g))``
=================  ==================================  =====================================

Break alternatives add one column on the same link scale: ``hinge`` adds ``delta (x - psi)_+``
(continuous kink), ``step`` adds ``gamma 1[x > psi]`` (jump). ``logistic4`` is
``c + (d - c) sigma(k (x - x0))`` on the y scale.

Fits minimise the squared error on the y scale (Gaussian likelihood with variance estimated, so
log-likelihoods, AICc and BIC are comparable across models of the same curve); link-scale least
squares gives the starting values. The breakpoint ``psi`` is profiled over a grid.

Examples
--------
>>> import numpy as np
>>> from emergence.curve_models import fit_curve
>>> x = np.linspace(7, 11, 9)
>>> y = np.exp(-np.exp(7.1 - 0.8 * x))
>>> fit = fit_curve(x, y, model="gompertz")
>>> np.round(fit.link_params, 3).tolist()
[7.1, -0.8]
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import expit, logit

from ._exceptions import ConvergenceWarning
from ._validation import check_log10_x, check_option

__all__ = [
    "LINKS",
    "MODELS",
    "Link",
    "CurveFit",
    "get_link",
    "fit_curve",
    "break_grid",
    "design",
]

LINKS = ("identity", "log", "neglog", "mirage", "chance_logit")
#: model name -> (link, kind) ; kind in {"line", "hinge", "step", "logistic4"}
MODELS: dict[str, tuple[str | None, str]] = {
    "linear": ("identity", "line"),
    "power_law": ("log", "line"),
    "gompertz": ("mirage", "line"),
    "mirage": ("mirage", "line"),
    "chance_sigmoid": ("chance_logit", "line"),
    "hinge": (None, "hinge"),
    "step": (None, "step"),
    "logistic4": ("identity", "logistic4"),
}


@dataclass(frozen=True)
class Link:
    """A link function ``z = g(y)`` in which smooth nulls are straight lines in ``x``.

    Parameters
    ----------
    name : {"identity", "log", "neglog", "mirage", "chance_logit"}
        ``neglog`` is ``log(-y)`` for negative metrics (a log-likelihood whose negative follows
        a power law).
    chance : float, default=0.0
        Chance level ``g`` (``chance_logit`` only).
    eps : float, default=1e-3
        Values are clipped to ``[eps, 1 - eps]`` (in the chance-rescaled share for
        ``chance_logit``; in ``y`` for ``mirage``; ``log`` clips at ``eps`` times the largest
        value) before transforming, so 0 and 1 stay finite. With ``n`` items use the
        empirical adjustment ``(k + 1/2) / (n + 1)`` first (see :meth:`adjust`).
    """

    name: str
    chance: float = 0.0
    eps: float = 1e-3

    def __post_init__(self) -> None:
        check_option(self.name, "link", LINKS)
        if self.name == "chance_logit" and not (0 <= self.chance < 1):
            raise ValueError(f"`chance` must be in [0, 1) for the chance_logit link; got "
                             f"{self.chance!r}.")

    def adjust(self, y: np.ndarray, n: np.ndarray | float | None) -> np.ndarray:
        """Empirical boundary adjustment ``(k + 1/2) / (n + 1)`` for proportions with ``n`` items."""
        y = np.asarray(y, dtype=float)
        if self.name in ("mirage", "chance_logit") and n is not None:
            n = np.asarray(n, dtype=float)
            ok = np.isfinite(n) & (n > 0)
            return np.where(ok, (y * np.where(ok, n, 1) + 0.5) / (np.where(ok, n, 1) + 1), y)
        return y

    def forward(self, y: np.ndarray) -> np.ndarray:
        """``z = g(y)`` (vectorised; clipping as documented)."""
        y = np.asarray(y, dtype=float)
        e = self.eps
        if self.name == "identity":
            return y.copy()
        if self.name in ("log", "neglog"):
            yy = y if self.name == "log" else -y
            top = np.max(np.abs(y), axis=-1, keepdims=True) if y.ndim else abs(y)
            return np.log(np.maximum(yy, e * top + 1e-300))
        if self.name == "mirage":
            yc = np.clip(y, e, 1 - e)
            return np.log(-np.log(yc))
        q = (y - self.chance) / (1 - self.chance)
        return logit(np.clip(q, e, 1 - e))

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """``y = g^{-1}(z)``."""
        z = np.asarray(z, dtype=float)
        if self.name == "identity":
            return z.copy()
        if self.name == "log":
            return np.exp(np.clip(z, -700, 700))
        if self.name == "neglog":
            return -np.exp(np.clip(z, -700, 700))
        if self.name == "mirage":
            return np.exp(-np.exp(np.clip(z, -700, 700)))
        return self.chance + (1 - self.chance) * expit(z)

    def var_factor(self, p: np.ndarray) -> np.ndarray:
        """Delta-method variance of ``g(p_hat)`` for one Bernoulli item: ``g'(p)^2 p (1 - p)``.

        Divide by ``n`` for a share of ``n`` items. Only for the proportion links.
        """
        p = np.asarray(p, dtype=float)
        e = self.eps
        if self.name == "mirage":
            pc = np.clip(p, e, 1 - e)
            return (1 - pc) / (pc * np.log(pc) ** 2)
        if self.name == "chance_logit":
            c = self.chance
            q = np.clip((p - c) / (1 - c), e, 1 - e)
            pc = c + (1 - c) * q
            return pc * (1 - pc) / ((1 - c) ** 2 * q**2 * (1 - q) ** 2)
        return np.ones_like(p)


def get_link(name: str, chance: float = 0.0, eps: float = 1e-3) -> Link:
    """Build a :class:`Link` (``chance`` NaN counts as 0)."""
    ch = 0.0 if chance is None or not np.isfinite(chance) else float(chance)
    return Link(name, ch, eps)


def break_grid(log10_x: np.ndarray, kind: str) -> np.ndarray:
    """Candidate breakpoints for a hinge or a step, keeping at least two points on each side.

    Hinge: the observed scales ``x_2 .. x_{S-2}`` (1-based) and the midpoints between them, so
    at least two points lie at or below and two strictly above ``psi``. Step: the midpoints
    between ``x_i`` and ``x_{i+1}`` for ``i = 2 .. S-2``.

    Examples
    --------
    >>> from emergence.curve_models import break_grid
    >>> break_grid(np.arange(6.0), "hinge").tolist()
    [1.0, 1.5, 2.0, 2.5, 3.0]
    >>> break_grid(np.arange(6.0), "step").tolist()
    [1.5, 2.5, 3.5]
    """
    x = np.sort(np.asarray(log10_x, dtype=float))
    s = x.size
    if s < 4:
        return np.empty(0)
    mids = (x[:-1] + x[1:]) / 2
    if kind == "hinge":
        pts = x[1 : s - 2]
        mm = mids[1 : s - 3]
        return np.sort(np.concatenate([pts, mm]))
    if kind == "step":
        return mids[1 : s - 2]
    raise ValueError(f"`kind` must be 'hinge' or 'step'; got {kind!r}.")


def design(log10_x: np.ndarray, kind: str, psi: float | None = None) -> np.ndarray:
    """Design matrix on the link scale: ``[1, log10_x]`` plus the hinge or step column."""
    x = np.asarray(log10_x, dtype=float)
    cols = [np.ones_like(x), x]
    if kind == "hinge":
        cols.append(np.maximum(x - psi, 0.0))
    elif kind == "step":
        cols.append((x > psi).astype(float))
    return np.column_stack(cols)


@dataclass(frozen=True)
class CurveFit:
    """Result of :func:`fit_curve`.

    Attributes
    ----------
    model : str
        Model name (``linear``, ``power_law``, ``gompertz``, ``chance_sigmoid``, ``hinge``,
        ``step``, ``logistic4``).
    link : str
        Link scale on which the model is a line (plus break column).
    params : dict
        Named parameters (``b0, b1[, delta | gamma, psi]`` on the link scale, or
        ``c, d, k, x0`` for ``logistic4``).
    link_params : ndarray
        Coefficients on the link scale (``b0, b1[, delta | gamma]``).
    psi : float
        Breakpoint (NaN for models without one).
    loglik : float
        Gaussian log-likelihood on the y scale at the fitted curve (variance profiled).
    rss : float
        Residual sum of squares on the y scale.
    n_obs : int
        Number of scales.
    n_params : int
        Mean parameters + 1 (variance); the breakpoint counts as 1.
    df_resid : int
        ``n_obs - n_params + 1`` (residual df of the mean model).
    aicc, bic : float
        With the breakpoint counted as 1 parameter (NaN when ``n_obs - k - 1 <= 0``).
    aicc_psi3, bic_psi3 : float
        With the breakpoint counted as 3 parameters (equal to ``aicc``/``bic`` without one).
    converged : bool
    fitted : ndarray
        Fitted values on the y scale at the observed ``x``.
    chance : float
    """

    model: str
    link: str
    params: dict
    link_params: np.ndarray
    psi: float
    loglik: float
    rss: float
    n_obs: int
    n_params: int
    df_resid: int
    aicc: float
    bic: float
    aicc_psi3: float
    bic_psi3: float
    converged: bool
    fitted: np.ndarray
    chance: float = 0.0
    x: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)

    def predict(self, log10_x: np.ndarray) -> np.ndarray:
        """Fitted curve on the y scale at ``log10_x`` (log10 of the scale; a raw scale is
        refused)."""
        x = check_log10_x(log10_x)
        if self.model == "logistic4":
            p = self.params
            return p["c"] + (p["d"] - p["c"]) * expit(p["k"] * (x - p["x0"]))
        kind = MODELS[self.model][1]
        X = design(x, kind, self.psi)
        link = get_link(self.link, self.chance)
        return link.inverse(X @ self.link_params)

    def to_frame(self) -> pd.DataFrame:
        """One row: model, link, parameters, log-likelihood, df, AICc/BIC."""
        row = {
            "model": self.model,
            "link": self.link,
            **{f"param_{k}": v for k, v in self.params.items()},
            "loglik": self.loglik,
            "rss": self.rss,
            "n_obs": self.n_obs,
            "n_params": self.n_params,
            "df_resid": self.df_resid,
            "aicc": self.aicc,
            "bic": self.bic,
            "aicc_psi3": self.aicc_psi3,
            "bic_psi3": self.bic_psi3,
            "converged": self.converged,
        }
        return pd.DataFrame([row])

    def summary(self) -> str:
        """Short text."""
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return (
            f"{self.model} ({self.link} link): {ps}; loglik={self.loglik:.4g}, "
            f"df_resid={self.df_resid}, AICc={self.aicc:.4g}, BIC={self.bic:.4g}"
        )


def _ic(loglik: float, n: int, k: int) -> tuple[float, float]:
    aic = 2 * k - 2 * loglik
    aicc = aic + 2 * k * (k + 1) / (n - k - 1) if n - k - 1 > 0 else float("nan")
    bic = k * np.log(n) - 2 * loglik
    return float(aicc), float(bic)


def _loglik(rss: float, n: int) -> float:
    rss = max(rss, 1e-300)
    return float(-0.5 * n * (np.log(2 * np.pi * rss / n) + 1))


def _ls(X: np.ndarray, z: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(X, z, rcond=None)[0]


def _polish(x, y, kind, psi, link, beta0) -> tuple[np.ndarray, bool]:
    """Least squares on the y scale for a line (+ break column) on the link scale."""
    X = design(x, kind, psi)
    if link.name == "identity":
        return _ls(X, y), True

    def resid(b):
        return link.inverse(X @ b) - y

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            sol = optimize.least_squares(resid, beta0, method="lm", max_nfev=200 * (len(beta0) + 1))
        ok = bool(sol.success) and np.all(np.isfinite(sol.x))
        if ok and np.sum(resid(sol.x) ** 2) <= np.sum(resid(beta0) ** 2) + 1e-15:
            return sol.x, True
        return beta0, ok
    except (ValueError, np.linalg.LinAlgError):
        return beta0, False


def _as_xy(x, y=None):
    from .curves import Curve

    if isinstance(x, Curve):
        c = x
        return c.log10x, c.y, c.chance, c.n_items
    if y is None:
        raise ValueError("pass a Curve, or `log10_x` and `y` arrays.")
    return check_log10_x(x), np.asarray(y, dtype=float), float("nan"), None


def fit_curve(
    log10_x,
    y: np.ndarray | None = None,
    *,
    model: str = "linear",
    link: str | None = None,
    chance: float | None = None,
    n_items: np.ndarray | float | None = None,
    psi: float | None = None,
) -> CurveFit:
    """Fit one mean function to a curve.

    Parameters
    ----------
    log10_x : array_like or Curve
        log10 of the scale of each point (a raw scale is refused), or a
        :class:`~emergence.curves.Curve` (its ``log10x`` and ``y`` are used).
    y : array_like, optional
        Per-scale values when ``log10_x`` is an array.
    model : {"linear", "power_law", "gompertz", "chance_sigmoid", "hinge", "step", "logistic4"}
        ``"mirage"`` is an alias of ``"gompertz"``.
    link : str, optional
        Link scale for ``hinge`` and ``step`` (default ``identity``); fixed by the model
        otherwise.
    chance : float, optional
        Chance level for the ``chance_logit`` link (default: the curve's, else 0).
    n_items : int or array_like, optional
        Items per scale; used for the ``(k + 1/2) / (n + 1)`` boundary adjustment of the
        starting values on the proportion links.
    psi : float, optional
        Fix the breakpoint (Chow-type fit); by default it is profiled over :func:`break_grid`
        and refined between grid points.

    Returns
    -------
    CurveFit

    Raises
    ------
    ValueError
        Unknown model, non-finite values, fewer points than mean parameters, values outside
        the link's range (e.g. ``power_law`` with ``y <= 0``).

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.curve_models import fit_curve
    >>> x = np.arange(8.0)
    >>> y = 0.1 + 0.05 * np.maximum(x - 4, 0)
    >>> fit = fit_curve(x, y, model="hinge")
    >>> round(fit.psi, 3), round(fit.params["delta"], 3)
    (4.0, 0.05)
    """
    xx, yy, cch, cn = _as_xy(log10_x, y)
    if chance is None:
        chance = cch
    if n_items is None:
        n_items = cn
    check_option(model, "model", tuple(MODELS))
    bad = np.flatnonzero(~(np.isfinite(xx) & np.isfinite(yy)))
    if bad.size:
        raise ValueError(f"x and y must be finite; positions {bad[:8].tolist()} are not.")
    order = np.argsort(xx, kind="mergesort")
    xx, yy = xx[order], yy[order]
    if n_items is not None and np.ndim(n_items) > 0:
        n_items = np.asarray(n_items, dtype=float)[order]
    lname, kind = MODELS[model]
    if lname is None:
        lname = link or "identity"
    elif link is not None and link != lname:
        raise ValueError(f"model {model!r} is a line on the {lname!r} link; got link={link!r}.")
    n = xx.size
    n_mean = {"line": 2, "hinge": 4, "step": 4, "logistic4": 4}[kind]
    if psi is not None and kind in ("hinge", "step"):
        n_mean -= 1
    if n < n_mean:
        raise ValueError(f"model {model!r} has {n_mean} mean parameters but the curve has "
                         f"{n} scales.")
    if lname == "log" and np.all(yy < 0):
        lname = "neglog"  # power law in -y (e.g. a log-likelihood)
    elif lname == "log" and np.any(yy <= 0):
        raise ValueError("power_law needs y of one sign at every scale (it is linear in "
                         "log |y|).")
    lk = get_link(lname, chance if chance is not None else 0.0)
    if kind == "logistic4":
        return _fit_logistic4(xx, yy)
    z = lk.forward(lk.adjust(yy, n_items))
    if kind == "line":
        b0 = _ls(design(xx, "line"), z)
        beta, ok = _polish(xx, yy, "line", None, lk, b0)
        psi_hat = float("nan")
    else:
        grid = np.array([psi]) if psi is not None else break_grid(xx, kind)
        if grid.size == 0:
            raise ValueError(f"a {kind} needs at least 4 scales; got {n}.")
        best = (np.inf, None, None, False)
        for p in grid:
            b0 = _ls(design(xx, kind, p), z)
            beta, ok = _polish(xx, yy, kind, p, lk, b0)
            rss = float(np.sum((lk.inverse(design(xx, kind, p) @ beta) - yy) ** 2))
            if rss < best[0]:
                best = (rss, p, beta, ok)
        _, psi_hat, beta, ok = best
        if psi is None and kind == "hinge" and grid.size > 1:
            psi_hat, beta, ok = _refine_hinge(xx, yy, lk, grid, psi_hat, beta, ok)
        psi_hat = float(psi_hat)
    fitted = lk.inverse(design(xx, kind, psi_hat) @ beta)
    rss = float(np.sum((fitted - yy) ** 2))
    names = ["b0", "b1"] + (["delta"] if kind == "hinge" else ["gamma"] if kind == "step" else [])
    params = dict(zip(names, map(float, beta), strict=True))
    if kind in ("hinge", "step"):
        params["psi"] = psi_hat
    ll = _loglik(rss, n)
    k = n_mean + 1
    aicc, bic = _ic(ll, n, k)
    if kind in ("hinge", "step") and psi is None:
        aicc3, bic3 = _ic(ll, n, k + 2)
    else:
        aicc3, bic3 = aicc, bic
    if not ok:
        warnings.warn(f"{model} fit did not converge; starting values kept.", ConvergenceWarning,
                      stacklevel=2)
    return CurveFit(
        model, lname, params, np.asarray(beta, float), psi_hat, ll, rss, n, k, n - n_mean,
        aicc, bic, aicc3, bic3, bool(ok), fitted, float(lk.chance), xx,
    )


def _refine_hinge(xx, yy, lk, grid, psi_hat, beta, ok):
    """Refine the hinge location between the neighbouring grid points."""
    i = int(np.searchsorted(grid, psi_hat))
    lo = grid[max(i - 1, 0)]
    hi = grid[min(i + 1, grid.size - 1)]
    if hi <= lo:
        return psi_hat, beta, ok
    store = {}

    def obj(p):
        z0 = lk.forward(lk.inverse(design(xx, "hinge", psi_hat) @ beta))
        b0 = _ls(design(xx, "hinge", p), z0) if lk.name != "identity" else beta
        b, o = _polish(xx, yy, "hinge", p, lk, b0)
        r = float(np.sum((lk.inverse(design(xx, "hinge", p) @ b) - yy) ** 2))
        store[p] = (b, o, r)
        return r

    res = optimize.minimize_scalar(obj, bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-6 * (hi - lo + 1e-12)})
    p = float(res.x)
    if p not in store:
        obj(p)
    b, o, r = store[p]
    r0 = float(np.sum((lk.inverse(design(xx, "hinge", psi_hat) @ beta) - yy) ** 2))
    if r < r0:
        return p, b, o
    return psi_hat, beta, ok


def _fit_logistic4(xx: np.ndarray, yy: np.ndarray) -> CurveFit:
    n = xx.size

    def f(b, x):
        return b[0] + (b[1] - b[0]) * expit(b[2] * (x - b[3]))

    span = max(float(np.ptp(xx)), 1e-9)

    def jac(b):
        sg = expit(b[2] * (xx - b[3]))
        ds = sg * (1 - sg)
        return np.column_stack([1 - sg, sg, (b[1] - b[0]) * ds * (xx - b[3]),
                                -(b[1] - b[0]) * ds * b[2]])

    best = None
    for x0 in np.quantile(xx, [0.25, 0.5, 0.75]):
        b0 = np.array([yy.min(), yy.max(), 8 / span, x0])
        if yy[np.argmax(xx)] < yy[np.argmin(xx)]:
            b0[:2] = b0[1::-1]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                sol = optimize.least_squares(lambda b: f(b, xx) - yy, b0, jac=jac, method="lm",
                                             max_nfev=400)
            r = float(np.sum(sol.fun**2))
            if np.isfinite(r) and (best is None or r < best[0]):
                best = (r, sol.x, bool(sol.success))
        except (ValueError, np.linalg.LinAlgError):
            continue
    if best is None:
        raise ValueError("logistic4 fit failed for every starting value.")
    rss, b, ok = best
    ll = _loglik(rss, n)
    aicc, bic = _ic(ll, n, 5)
    params = dict(zip(["c", "d", "k", "x0"], map(float, b), strict=True))
    return CurveFit(
        "logistic4", "identity", params, np.asarray(b), float("nan"), ll, rss, n, 5, n - 4,
        aicc, bic, aicc, bic, ok, f(b, xx), 0.0, xx,
    )
