"""Davies test for a change in slope, as in R ``segmented::davies.test``."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sps
from scipy.special import gammaln

from .._validation import check_option
from ._results import TestResult

__all__ = ["DaviesResult", "davies_test"]


@dataclass(frozen=True)
class DaviesResult(TestResult):
    """Result of :func:`davies_test`.

    Attributes
    ----------
    statistic : float
        ``M``: the maximum (or minimum / maximum absolute value, by ``alternative``) of the
        process over the grid.
    pvalue : float
        Davies upper bound, ``min(1, p_adj)``.
    best : float
        Grid value where the process is extreme ("best at"; not the MLE of psi).
    null, reference : str
    form : {"lm", "glm"}
        Davies (2002) linear-model form or Davies (1987) asymptotic form.
    type : str
        ``"t"`` (lm form), ``"lrt"`` or ``"wald"``.
    alternative : str
    family : str
    df : float
        Residual degrees of freedom (lm form; NaN for the asymptotic form).
    variation : float
        ``V``: total variation of the process.
    n_points : int
        Grid points with a valid statistic.
    values, process : ndarray
        Grid and the statistic at each grid point.
    """

    statistic: float
    pvalue: float
    best: float
    null: str
    reference: str
    form: str
    type: str
    alternative: str
    family: str
    df: float
    variation: float
    n_points: int
    values: np.ndarray = field(repr=False)
    process: np.ndarray = field(repr=False)

    _name = "davies"


def _wls(X, y, w):
    sw = np.sqrt(w)
    Xw = X * sw[:, None]
    XtX = Xw.T @ Xw
    inv = np.linalg.pinv(XtX)
    b = inv @ (Xw.T @ (y * sw))
    return b, inv


def _binom_glm(X, k, n, start=None, tol=1e-8, maxit=100):
    """Binomial logit GLM by IRLS as in R ``glm.fit`` (same start, convergence rule and
    covariance); returns coefficients, deviance, unscaled covariance and linear predictor."""
    p = k / n
    if start is None:
        mu = (k + 0.5) / (n + 1)
        eta = np.log(mu / (1 - mu))
    else:
        eta = start.copy()
        mu = 1 / (1 + np.exp(-eta))

    def dev_of(mu):
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = np.where(k > 0, k * np.log(k / (n * mu)), 0.0)
            t2 = np.where(n - k > 0, (n - k) * np.log((n - k) / (n * (1 - mu))), 0.0)
        return float(2 * np.sum(t1 + t2))

    dev = dev_of(mu)
    b = None
    for _ in range(maxit):
        wt = n * mu * (1 - mu)
        zz = eta + (p - mu) / (mu * (1 - mu))
        b, inv = _wls(X, zz, wt)
        eta = np.clip(X @ b, -700, 700)
        mu = np.clip(1 / (1 + np.exp(-eta)), 1e-15, 1 - 1e-15)
        new = dev_of(mu)
        if abs(new - dev) / (abs(new) + 0.1) < tol:
            dev = new
            break
        dev = new
    # like R's glm.fit, the covariance comes from the weights of the last IRLS step
    return b, dev, inv, eta


def davies_test(
    x: np.ndarray,
    y: np.ndarray,
    *,
    k: int = 10,
    alternative: str = "two.sided",
    form: str = "lm",
    type: str = "lrt",
    family: str = "gaussian",
    weights: np.ndarray | None = None,
    n_trials: np.ndarray | None = None,
    values: np.ndarray | None = None,
) -> DaviesResult:
    """Davies test for a non-zero change in slope with an unknown breakpoint.

    Model: :math:`y = \\beta_0 + \\beta_1 x + \\delta (x - \\psi)_+`; H0: :math:`\\delta = 0`
    (no slope change), where :math:`\\psi` exists only under the alternative.

    Parameters
    ----------
    x, y : array_like
        Regressor (e.g. log10 scale) and response. For ``family="binomial"`` ``y`` holds the
        success counts and ``n_trials`` the totals.
    k : int, default=10
        Grid size: ``k`` equally spaced values from the 2nd smallest to the 2nd largest ``x``
        (R's default).
    alternative : {"two.sided", "less", "greater"}, default="two.sided"
    form : {"lm", "glm"}, default="lm"
        ``"lm"``: Davies (2002) exact linear-model bound with the t process (R uses it for
        ``lm`` fits with n <= 300). ``"glm"``: Davies (1987) asymptotic bound with a normal
        reference (R's form for ``glm`` fits).
    type : {"lrt", "wald"}, default="lrt"
        Process of the asymptotic form: signed root likelihood ratio or Wald z. Ignored by the
        lm form.
    family : {"gaussian", "binomial"}, default="gaussian"
        Asymptotic form only; binomial uses a logit link and dispersion 1.
    weights : array_like, optional
        Prior weights (gaussian).
    n_trials : array_like, optional
        Binomial totals.
    values : array_like, optional
        Explicit grid of breakpoints (overrides ``k``).

    Returns
    -------
    DaviesResult

    Notes
    -----
    lm form, with :math:`t(\\psi)` the t statistic of :math:`\\delta`,
    :math:`W = Z^2/(Z^2 + \\mathrm{RSS})`, :math:`V = \\sum_i |\\arcsin\\sqrt{W_i} -
    \\arcsin\\sqrt{W_{i-1}}|`, :math:`u = M^2/(\\nu + M^2)`:

    .. math:: p = P(T_\\nu > M) + V (1 - u)^{(\\nu - 1)/2}
              \\frac{\\Gamma(\\nu/2 + 1/2)}{2 \\Gamma(\\nu/2) \\sqrt{\\pi}}

    asymptotic form: :math:`p = \\Phi(-M) + V e^{-M^2/2} / \\sqrt{8\\pi}`, with V the total
    variation of the process; both doubled for the two-sided alternative. The bound is
    conservative. Matches R ``segmented::davies.test`` to 1e-6 on the fixed cases in
    ``tests/reference/davies.R``.

    References
    ----------
    .. [1] Davies, R. B. "Hypothesis testing when a nuisance parameter is present only under the
       alternative." Biometrika 74(1): 33-43 (1987).
    .. [2] Davies, R. B. "Hypothesis testing when a nuisance parameter is present only under the
       alternative: linear model case." Biometrika 89(2): 484-489 (2002).
    .. [3] Muggeo, V. M. R. "segmented: an R package to fit regression models with broken-line
       relationships." R News 8(1): 20-25 (2008).

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.stats.davies import davies_test
    >>> x = np.arange(12.0)
    >>> y = 0.2 * x + 1.5 * np.maximum(x - 6, 0) + np.sin(x) / 5
    >>> res = davies_test(x, y)
    >>> res.pvalue < 0.01, round(res.best, 3)
    (True, 6.0)
    """
    check_option(alternative, "alternative", ("two.sided", "less", "greater"))
    check_option(form, "form", ("lm", "glm"))
    check_option(type, "type", ("lrt", "wald"))
    check_option(family, "family", ("gaussian", "binomial"))
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    n = x.size
    if y.size != n:
        raise ValueError(f"`x` and `y` lengths differ ({n} vs {y.size}).")
    if np.any(~np.isfinite(x)) or np.any(~np.isfinite(y)):
        raise ValueError("`x` and `y` must be finite; drop NaN points first.")
    if n < 4:
        raise ValueError(f"the Davies test needs at least 4 points; got {n}.")
    if int(k) <= 1 and values is None:
        raise ValueError("`k` must be > 1 (k >= 10 recommended).")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float).ravel()
    if family == "binomial":
        if form != "glm":
            raise ValueError("family='binomial' needs form='glm' (the Davies 1987 bound).")
        if n_trials is None:
            raise ValueError("family='binomial' needs `n_trials` (items per point).")
        nt = np.broadcast_to(np.asarray(n_trials, dtype=float), (n,)).copy()
    if values is None:
        xs = np.sort(x)
        values = np.linspace(xs[1], xs[n - 2], int(k))
    values = np.asarray(values, dtype=float)
    xreg = np.column_stack([np.ones(n), x])
    ris = np.full(values.size, np.nan)
    ris2 = np.full(values.size, np.nan)
    df_res = n - xreg.shape[1] - 1
    if family == "binomial":
        _, dev0, _, eta0 = _binom_glm(xreg, y, nt, tol=1e-14)
    if family == "gaussian":
        # every grid point at once (Frisch-Waugh-Lovell): with the weighted line [1, x]
        # projected out (QR), the hinge column h~ of grid point psi has coefficient
        # b = <h~, r0> / <h~, h~> and variance factor inv[0, 0] = 1 / <h~, h~>, and adds
        # <h~, r0>^2 / <h~, h~> to the explained sum of squares (r0: the line's residuals).
        # A column collinear with the line (its norm left below 1e-7 of its own, R's lm.fit
        # tolerance) leaves its grid point out, as a rank-deficient fit does.
        sw = np.sqrt(w)
        Q, _ = np.linalg.qr(xreg * sw[:, None])
        yw = y * sw
        r0 = yw - Q @ (Q.T @ yw)
        H = np.maximum(x[:, None] - values[None, :], 0.0) * sw[:, None]      # (n, k)
        Ht = H - Q @ (Q.T @ H)
        hh = np.einsum("nk,nk->k", Ht, Ht)
        est = hh > 1e-14 * np.maximum(np.einsum("nk,nk->k", H, H), 1e-300)
        hh = np.where(est, hh, np.nan)
        zz = (Ht.T @ r0) / np.sqrt(hh)                  # b / sqrt(inv[0, 0])
        dev = float(r0 @ r0) - zz**2
        # the deviance drop is zz^2, so for a gaussian fit the signed LRT statistic of the glm
        # form, sign(b) sqrt((dev0 - dev) / disp), is the Wald statistic b / sqrt(disp inv[0, 0])
        # and the lm form's t statistic alike
        ris = zz / np.sqrt(dev / df_res)
        if form == "lm":
            ris2 = zz**2 / (zz**2 + dev)
    for i, psi in enumerate(values if family == "binomial" else ()):
        X1 = np.column_stack([np.maximum(x - psi, 0.0), xreg])
        if np.linalg.matrix_rank(X1 * np.sqrt(w)[:, None]) < X1.shape[1]:
            continue
        b, dev, inv, _ = _binom_glm(X1, y, nt, start=eta0)
        if not np.isfinite(dev) or dev > dev0 + 1e-8 * (1 + dev0):
            continue  # IRLS failed (R's glm.fit gives NaN here and drops the point)
        if type == "lrt":
            ris[i] = np.sqrt(max(dev0 - dev, 0.0)) * np.sign(b[0])
        else:
            ris[i] = b[0] / np.sqrt(inv[0, 0])
    ok = np.isfinite(ris)
    vals, proc = values[ok], ris[ok]
    if proc.size == 0:
        raise ValueError("no grid point gave an estimable model; check x has distinct values.")
    if form == "lm":
        V = float(np.sum(np.abs(np.diff(np.arcsin(np.sqrt(ris2[ok]))))))
    else:
        V = float(np.sum(np.abs(np.diff(proc))))
    if alternative == "less":
        j = int(np.argmin(proc))
        M = float(proc[j])
    elif alternative == "greater":
        j = int(np.argmax(proc))
        M = float(proc[j])
    else:
        j = int(np.argmax(np.abs(proc)))
        M = float(abs(proc[j]))
    if form == "lm":
        p_naiv = float(sps.t.cdf(M, df_res)) if alternative == "less" else float(
            sps.t.sf(M, df_res))
        u = M**2 / (df_res + M**2)
        approx = V * (1 - u) ** ((df_res - 1) / 2) * np.exp(
            gammaln(df_res / 2 + 0.5) - gammaln(df_res / 2)) / (2 * np.sqrt(np.pi))
        ref = f"Davies (2002) bound with Student t({df_res}) process"
        typ = "t"
        dfv = float(df_res)
    else:
        p_naiv = float(sps.norm.cdf(M)) if alternative == "less" else float(sps.norm.sf(M))
        approx = V * np.exp(-(M**2) / 2) / np.sqrt(8 * np.pi)
        ref = f"Davies (1987) asymptotic bound with standard normal {type} process"
        typ = type
        dfv = float("nan")
    p_adj = (p_naiv + approx) * (1 if alternative != "two.sided" else 2)
    return DaviesResult(
        statistic=M,
        pvalue=float(min(p_adj, 1.0)),
        best=float(vals[j]),
        null="no change in slope (delta = 0) in b0 + b1 x + delta (x - psi)_+",
        reference=ref + f"; {vals.size} grid points",
        form=form,
        type=typ,
        alternative=alternative,
        family=family,
        df=dfv,
        variation=V,
        n_points=int(vals.size),
        values=vals,
        process=proc,
    )
