"""Predictability backtests: fit below a scale cutoff, forecast above it, with prediction intervals.

A jump that a smooth law fitted on the smaller models predicts is not "unpredictable". Four
routes, each on the scale where smoothness is expected (see the method catalog, section 6.1):

``"linear"``
    ``y = b0 + b1 log10 x`` for continuous metrics; exact t prediction intervals (Gaussian errors).
``"power"``
    ``y = A x^-alpha`` (least squares on log y, log x) for positive loss-like metrics; exact t
    prediction intervals on the log scale.
``"sigmoid"``
    chance-floored sigmoid in log compute, ``y = g + (1 - g) sigma(a + b log10 x)`` with g the
    task's chance level (Observational Scaling Laws' fixed-height sigmoid link, Ruan et al. 2024,
    with log compute as the predictor); prediction intervals by residual bootstrap, every replicate
    refitted (vectorised over replicates) plus a resampled residual. With about 10 fitted scales
    these intervals undercover (about 90% for a nominal 95% in simulation).
``"mirage"``
    the route of Schaeffer et al. (2023): a continuous per-token quantity (perplexity, loss,
    log-likelihood or per-token probability) gives the per-token loss l; fit
    ``log l = c0 + c1 log10 x`` (``l = (x/c)^alpha``) below the cutoff, forecast l above it with a
    t prediction interval, and predict exact match as ``p^L = exp(-L l)``. L is the target length
    in tokens when given, else estimated on the fitted scales by least squares of
    ``-log(EM) = L l`` (through the origin); the interval maps the interval of l (L held fixed).

Each backtest reports the forecast error (MAE, RMSE) on the scales above the cutoff, the share of
them inside the prediction interval, and whether the *jump* (the forecast point with the best
observed value) lies inside its interval.

References
----------
.. [1] Schaeffer, R., Miranda, B., Koyejo, S. "Are Emergent Abilities of Large Language Models a
   Mirage?" NeurIPS 2023, arXiv:2304.15004.
.. [2] Ruan, Y., Maddison, C. J., Hashimoto, T. "Observational Scaling Laws and the Predictability
   of Language Model Performance." NeurIPS 2024, arXiv:2405.10938.

Examples
--------
>>> import numpy as np
>>> from emergence.scaling import backtest
>>> x = np.geomspace(1e20, 1e24, 12)
>>> y = 0.25 + 0.75 / (1 + np.exp(-2.0 * (np.log10(x) - 22.5)))
>>> res = backtest(x, y, method="sigmoid", cutoff=1e22, chance=0.25, n_boot=200, seed=0)
>>> res.n_fit, res.n_forecast, bool(res.mae < 0.05)
(6, 6, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._defaults import N_BOOT
from .._exceptions import EmergenceError
from .._random import SeedLike
from .._validation import check_interval, check_option, check_rng
from ..curves import Curve
from ..registry import MetricFacts, MetricInfo, as_chance_map, metric_info, resolve_chance
from ..schema import validate
from ._optim import batched_lm

__all__ = [
    "BacktestResult",
    "SigmoidFit",
    "backtest",
    "backtest_frame",
    "fit_sigmoid",
    "pooled_curve",
    "per_token_loss",
]

METHODS = ("linear", "power", "sigmoid", "mirage")


@dataclass(frozen=True)
class BacktestResult:
    """Result of :func:`backtest`.

    Attributes
    ----------
    method : str
    name : str
        What was forecast (curve name).
    x_name : str
    cutoff : float
        Points with ``x < cutoff`` are fitted, the others forecast.
    level : float
        Level of the prediction intervals.
    points : DataFrame
        One row per point: ``label, x, observed, predicted, lo, hi, split`` (``"fit"`` or
        ``"forecast"``), ``inside``.
    params : dict
        Fitted parameters (names depend on the method).
    n_fit, n_forecast : int
    mae, rmse : float
        Forecast errors on the forecast points.
    coverage : float
        Share of forecast points inside their prediction interval.
    jump_label : str
        Forecast point with the best observed value (highest, or lowest for lower-is-better).
    jump_inside : bool
        Whether that point lies inside its interval.
    notes : tuple of str
    interval_share : float
        Median width of the prediction interval over the forecast points, as a share of the
        metric's range (its declared bounds, else the observed range).
    flags : tuple of str
        Why the backtest is not a result: ``"degenerate"`` (the sigmoid's rise is a step the
        fitted scales do not resolve, or fewer than two fitted points leave the floor) and
        ``"uninformative"`` (the prediction interval spans half the metric's range or more, so
        coverage says little). Each flag is explained in ``notes``.
    """

    method: str
    name: str
    x_name: str
    cutoff: float
    level: float
    points: pd.DataFrame
    params: dict[str, float]
    n_fit: int
    n_forecast: int
    mae: float
    rmse: float
    coverage: float
    jump_label: str
    jump_inside: bool
    notes: tuple[str, ...] = field(default_factory=tuple)
    interval_share: float = float("nan")
    flags: tuple[str, ...] = field(default_factory=tuple)

    def to_frame(self) -> pd.DataFrame:
        """The per-point table (fit and forecast points)."""
        out = self.points.copy()
        out.insert(0, "method", self.method)
        out.insert(0, "curve", self.name)
        return out

    def to_row(self) -> pd.DataFrame:
        """One row: method, cutoff, counts, errors, coverage and the jump verdict."""
        row = {"curve": self.name, "method": self.method, "x_name": self.x_name,
               "cutoff": self.cutoff, "level": self.level, "n_fit": self.n_fit,
               "n_forecast": self.n_forecast, "mae": self.mae, "rmse": self.rmse,
               "coverage": self.coverage, "jump_label": self.jump_label,
               "jump_inside": self.jump_inside, "interval_share": self.interval_share,
               "flags": ", ".join(self.flags)}
        row.update({f"param_{k}": v for k, v in self.params.items()})
        row["notes"] = "; ".join(self.notes)
        return pd.DataFrame([row])

    def summary(self) -> str:
        """Short text summary."""
        verdict = ("inside" if self.jump_inside else "OUTSIDE")
        lines = [f"{self.name}: {self.method} backtest, fit {self.n_fit} points with "
                 f"{self.x_name} < {self.cutoff:.3g}, forecast {self.n_forecast}",
                 f"  forecast MAE {self.mae:.4g}, RMSE {self.rmse:.4g}; "
                 f"{self.coverage:.0%} of forecasts inside the {self.level:.0%} prediction interval",
                 f"  best forecast point ({self.jump_label}) is {verdict} its interval"]
        if self.flags:
            lines.append(f"  NOT A RESULT ({', '.join(self.flags)}): see the notes")
        lines.extend(f"  {n}" for n in self.notes)
        return "\n".join(lines)


def backtest_frame(results: list[BacktestResult]) -> pd.DataFrame:
    """Stack :meth:`BacktestResult.to_row` of several backtests."""
    if not results:
        return pd.DataFrame()
    return pd.concat([r.to_row() for r in results], ignore_index=True)


def per_token_loss(values: Any, metric: str | MetricInfo) -> np.ndarray:
    """Per-token loss (nats) from a continuous metric, by its latent link
    (:data:`emergence.registry.LATENTS`).

    ``loss``: as is; ``perplexity`` -> log; ``loglik``/``loglik_per_token`` -> negated;
    ``per_token_p`` -> ``-log p``.

    Examples
    --------
    >>> per_token_loss([np.e, 1.0], "ppl").tolist()
    [1.0, 0.0]
    >>> per_token_loss([0.5], "p_token").round(4).tolist()
    [0.6931]
    """
    v = np.asarray(values, dtype=float)
    info = metric if isinstance(metric, MetricInfo) else metric_info(metric)
    if info.latent == "loss":
        return v
    if info.latent == "perplexity":
        return np.log(v)
    if info.latent == "per_token_p":
        return -np.log(v)
    if info.latent in ("loglik", "loglik_per_token"):
        return -v
    raise EmergenceError(f"cannot read a per-token loss from metric {info.name!r} (latent "
                         f"{info.latent!r}); use a perplexity, a loss, a log-likelihood or a "
                         "per-token probability.")


def _as_xy(data: Any, y: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, list[str], dict]:
    if isinstance(data, Curve):
        c = data
        meta = {"name": c.name, "x_name": c.x_name, "metric": c.metric, "chance": c.chance,
                "task": c.task, "facts": c.info}
        return np.asarray(c.x, float), np.asarray(c.y, float), list(c.labels), meta
    x = np.asarray(data, dtype=float).ravel()
    if y is None:
        raise EmergenceError("`y` is required when the first argument is not a Curve.")
    yv = np.asarray(y, dtype=float).ravel()
    if x.size != yv.size:
        raise EmergenceError(f"`x` has {x.size} values but `y` has {yv.size}.")
    lab = [str(s) for s in labels] if labels is not None else [str(i) for i in range(x.size)]
    return x, yv, lab, {"name": "y", "x_name": "x", "metric": "", "chance": np.nan, "task": "",
                        "facts": None}


def _t_interval(u: np.ndarray, v: np.ndarray, u0: np.ndarray, level: float):
    """OLS of v on [1, u]; predictions and t prediction intervals at u0."""
    n = u.size
    um = u.mean()
    sxx = np.sum((u - um) ** 2)
    b1 = np.sum((u - um) * (v - v.mean())) / sxx
    b0 = v.mean() - b1 * um
    resid = v - (b0 + b1 * u)
    s = np.sqrt(np.sum(resid**2) / (n - 2))
    se = s * np.sqrt(1 + 1 / n + (u0 - um) ** 2 / sxx)
    t = stats.t.ppf(0.5 + level / 2, n - 2)
    pred = b0 + b1 * u0
    return pred, pred - t * se, pred + t * se, {"intercept": b0, "slope": b1, "sigma": s}


def _sigmoid_rj(u: np.ndarray, Y: np.ndarray, g: float, top: float):
    h = top - g

    def rj(x: np.ndarray, rows: np.ndarray):
        a, b = x[:, 0:1], x[:, 1:2]
        z = np.clip(a + b * u, -500, 500)
        sg = 1.0 / (1.0 + np.exp(-z))
        yy = Y[rows] if Y.ndim == 2 else Y
        r = g + h * sg - yy
        d = h * sg * (1 - sg)
        J = np.stack([d, d * u], axis=2)
        return r, J

    return rj


def _fit_sigmoid(u: np.ndarray, y: np.ndarray, g: float, top: float) -> np.ndarray:
    """Best (a, b) of the sigmoid from a grid of midpoints and slopes (u centred)."""
    lo, hi = u.min(), u.max()
    span = max(hi - lo, 1e-6)
    mids = np.linspace(lo - 0.5 * span, hi + 1.5 * span, 9)
    slopes = np.array([0.25, 1.0, 4.0, 16.0]) / span
    starts = np.array([[-b * m, b] for m in mids for b in slopes])
    res = batched_lm(_sigmoid_rj(u, y, g, top), starts, max_iter=300)
    i = int(np.nanargmin(res.fun))
    return res.x[i]


def backtest(
    data: Curve | Any,
    y: Any = None,
    *,
    method: str = "sigmoid",
    cutoff: float,
    level: float = 0.95,
    chance: float | None = None,
    continuous: Curve | Any = None,
    continuous_metric: str | None = None,
    target_length: float | None = None,
    labels: Any = None,
    n_boot: int = N_BOOT,
    seed: SeedLike = None,
) -> BacktestResult:
    """Fit on scales below ``cutoff`` and forecast the scales at or above it.

    Parameters
    ----------
    data : Curve or array
        The curve to forecast, or its scale values ``x`` (with ``y``).
    y : array, optional
        Values when ``data`` is an array.
    method : {"sigmoid", "linear", "power", "mirage"}
        See the module notes.
    cutoff : float
        Scale (same units as x, e.g. FLOPs) separating fitted from forecast points.
    level : float, default=0.95
        Prediction-interval level.
    chance : float, optional
        Floor of the sigmoid (default: the curve's chance level, else 0).
    continuous : Curve or array, optional
        For ``method="mirage"``: the continuous metric on the same points (same labels for a
        Curve, same order for an array).
    continuous_metric : str, optional
        Metric name of ``continuous`` when it is an array (e.g. ``"ppl"``, ``"p_token"``).
    target_length : float, optional
        Target length L in tokens for the Mirage route (estimated when None).
    labels : sequence of str, optional
        Point labels when ``data`` is an array.
    n_boot : int, default=999
        Bootstrap replicates (sigmoid only).
    seed : None, int, SeedSequence or Generator

    Returns
    -------
    BacktestResult

    Raises
    ------
    EmergenceError
        Too few points below the cutoff for the method's parameters (plus one for the noise), no
        point above it, non-positive values for the power law or the Mirage route.
    """
    check_option(method, "method", METHODS)
    level = check_interval(level, "level", 0.0, 1.0)
    cutoff = check_interval(cutoff, "cutoff", 0.0, np.inf)
    x, yv, lab, meta = _as_xy(data, y, labels)
    ok = np.isfinite(x) & np.isfinite(yv) & (x > 0)
    notes: list[str] = []
    flags: list[str] = []
    if (~ok).any():
        miss = [lab[i] for i in np.flatnonzero(~ok)]
        notes.append(f"{len(miss)} points without a value or scale left out: "
                     + ", ".join(miss[:8]) + (" ..." if len(miss) > 8 else ""))
    cont = None
    if method == "mirage":
        if continuous is None:
            raise EmergenceError("method='mirage' needs `continuous`: the per-token loss, "
                                 "perplexity, log-likelihood or probability on the same points.")
        if isinstance(continuous, Curve):
            cmap = dict(zip(continuous.labels, continuous.y, strict=True))
            cmetric = continuous.info
            cont = np.array([cmap.get(lb, np.nan) for lb in lab], dtype=float)
            if np.isnan(cont[ok]).any():
                miss = [lab[i] for i in np.flatnonzero(ok & np.isnan(cont))]
                notes.append(f"{len(miss)} points without the continuous metric left out: "
                             + ", ".join(miss[:8]))
        else:
            cont = np.asarray(continuous, dtype=float).ravel()
            if cont.size != x.size:
                raise EmergenceError(f"`continuous` has {cont.size} values but the curve has "
                                     f"{x.size}.")
            if continuous_metric is None:
                raise EmergenceError("give `continuous_metric` (e.g. 'ppl', 'p_token', 'loss') "
                                     "with an array `continuous`.")
            cmetric = continuous_metric
        ell = per_token_loss(cont, cmetric)
        ok &= np.isfinite(ell) & (ell > 0)
    order = np.argsort(x[ok], kind="stable")
    idx = np.flatnonzero(ok)[order]
    x, yv = x[idx], yv[idx]
    lab = [lab[i] for i in idx]
    fit = x < cutoff
    n_fit, n_fc = int(fit.sum()), int((~fit).sum())
    need = {"linear": 3, "power": 3, "sigmoid": 3, "mirage": 3}[method]
    if n_fit < need:
        raise EmergenceError(f"{n_fit} points below the cutoff {cutoff:.3g}; the {method} backtest "
                             f"needs at least {need} (parameters plus one for the noise).")
    if n_fc == 0:
        raise EmergenceError(f"no point at or above the cutoff {cutoff:.3g}; nothing to forecast.")
    u = np.log10(x)
    info = meta["facts"]
    higher_better = True if info is None else info.higher_is_better
    params: dict[str, float]
    if method == "linear":
        pred, lo, hi, params = _t_interval(u[fit], yv[fit], u, level)
    elif method == "power":
        if np.any(yv <= 0):
            raise EmergenceError("the power law needs positive values; use method='linear'.")
        lp, llo, lhi, pr = _t_interval(u[fit], np.log(yv[fit]), u, level)
        pred, lo, hi = np.exp(lp), np.exp(llo), np.exp(lhi)
        params = {"A": float(np.exp(pr["intercept"])), "alpha": float(-pr["slope"] / np.log(10)),
                  "sigma_log": pr["sigma"]}
    elif method == "mirage":
        ell = per_token_loss(cont[idx], cmetric)
        lp, llo, lhi, pr = _t_interval(u[fit], np.log(ell[fit]), u, level)
        if target_length is None:
            pos = fit & (yv > 0) & (yv <= 1)
            if pos.sum() < 1:
                raise EmergenceError("every fitted point has exact match 0, so the target length "
                                     "cannot be estimated; pass `target_length`.")
            nl = -np.log(yv[pos])
            L = float(np.sum(ell[pos] * nl) / np.sum(ell[pos] ** 2))
            notes.append(f"target length estimated on the fitted points: L = {L:.3g} "
                         "(held fixed in the interval).")
        else:
            L = check_interval(target_length, "target_length", 0.0, np.inf)
        pred = np.exp(-L * np.exp(lp))
        lo, hi = np.exp(-L * np.exp(lhi)), np.exp(-L * np.exp(llo))
        params = {"c0": pr["intercept"], "c1": pr["slope"], "sigma_log_loss": pr["sigma"],
                  "L": L}
    else:  # sigmoid
        g = chance if chance is not None else meta["chance"]
        if g is None or not np.isfinite(g):
            g = 0.0
            notes.append("chance level unknown: the sigmoid's floor is 0 (declare it with "
                         "chance=... in Python, --chance at the command line).")
        g = float(g)
        top = 1.0
        uc = u.mean() if n_fit == 0 else u[fit].mean()
        uu = u - uc
        ab = _fit_sigmoid(uu[fit], yv[fit], g, top)
        sig = lambda a, b, z: g + (top - g) / (1 + np.exp(-np.clip(a + b * z, -500, 500)))  # noqa: E731
        fitted = sig(ab[0], ab[1], uu[fit])
        pred = sig(ab[0], ab[1], uu)
        resid = yv[fit] - fitted
        dof = n_fit - 2
        rc = (resid - resid.mean()) * np.sqrt(n_fit / dof)
        rng = check_rng(seed)
        B = max(int(n_boot), 1)
        Y = fitted[None, :] + rng.choice(rc, size=(B, n_fit), replace=True)
        rb = batched_lm(_sigmoid_rj(uu[fit], Y, g, top), np.repeat(ab[None], B, axis=0),
                        max_iter=300)
        curves = sig(rb.x[:, 0:1], rb.x[:, 1:2], uu[None, :])
        sim = curves + rng.choice(rc, size=curves.shape, replace=True)
        lo_b = info.lower if info is not None and np.isfinite(info.lower) else 0.0
        hi_b = info.upper if info is not None and np.isfinite(info.upper) else 1.0
        sim = np.clip(sim, lo_b, hi_b)
        q = (1 - level) / 2
        lo, hi = np.quantile(sim, [q, 1 - q], axis=0)
        nc = int((~rb.converged).sum())
        if nc:
            notes.append(f"{nc} of {B} bootstrap refits did not converge (kept).")
        b_per_decade = float(ab[1])
        params = {"floor": g, "ceiling": top, "midpoint_log10x": float(uc - ab[0] / ab[1])
                  if ab[1] != 0 else float("nan"), "slope_per_decade": b_per_decade}
        if np.sum(yv[fit] > g + 0.05 * (top - g)) < 2:
            notes.append("degenerate fit: fewer than two fitted points rise 5% above the floor, "
                         "so the sigmoid's midpoint and slope are not identified from the data "
                         "below the cutoff.")
            flags.append("degenerate")
        # a step-like fit: the 5%-95% rise holds fewer than two fitted points or is shorter than
        # a tenth of the fitted log-scale range
        on_rise = int(np.sum((fitted > g + 0.05 * (top - g)) & (fitted < top - 0.05 * (top - g))))
        rise = 2 * np.log(19.0) / abs(b_per_decade) if b_per_decade != 0 else np.inf
        width = float(np.ptp(u[fit]))
        if (on_rise < 2 or rise < 0.1 * width) and "degenerate" not in flags:
            notes.append(f"degenerate fit: the sigmoid rises from 5% to 95% within {rise:.2g} "
                         f"decades ({on_rise} fitted point(s) on the rise, {width:.2g} decades "
                         "fitted): a step the data below the cutoff do not resolve, not a "
                         "forecast.")
            flags.append("degenerate")
    inside = (yv >= lo) & (yv <= hi)
    span = (info.upper - info.lower) if info is not None and np.isfinite(info.upper - info.lower) \
        else float(np.ptp(yv))
    share = float(np.median(hi[~fit] - lo[~fit]) / span) if span > 0 else float("nan")
    if np.isfinite(share) and share >= 0.5:
        notes.append(f"uninformative: the {level:.0%} prediction interval spans {share:.0%} of "
                     "the metric's range (its declared bounds, else the observed range) at the "
                     "median forecast point, so its coverage says little.")
        flags.append("uninformative")
    pts = pd.DataFrame({"label": lab, "x": x, "observed": yv, "predicted": pred, "lo": lo,
                        "hi": hi, "split": np.where(fit, "fit", "forecast"), "inside": inside})
    f = ~fit
    err = yv[f] - pred[f]
    fc_y = yv[f]
    j = int(np.argmax(fc_y) if higher_better else np.argmin(fc_y))
    return BacktestResult(
        method=method, name=meta["name"], x_name=meta["x_name"], cutoff=cutoff, level=level,
        points=pts, params={k: float(v) for k, v in params.items()}, n_fit=n_fit, n_forecast=n_fc,
        mae=float(np.mean(np.abs(err))), rmse=float(np.sqrt(np.mean(err**2))),
        coverage=float(np.mean(inside[f])), jump_label=lab[int(np.flatnonzero(f)[j])],
        jump_inside=bool(inside[f][j]), notes=tuple(notes), interval_share=share,
        flags=tuple(dict.fromkeys(flags)),
    )


def pooled_curve(
    table: pd.DataFrame,
    *,
    task: str,
    metric: str,
    x: str = "flops",
    name: str | None = None,
    metric_facts: MetricFacts | None = None,
    chance: dict[str, float] | None = None,
) -> Curve:
    """One curve over every model of a table (all families pooled), for observational backtests.

    Rows without a value or scale stay out of the curve and are named in its ``notes``.
    ``metric_facts`` declares a metric the built-in table does not know and ``chance`` a task's
    chance level, as in :func:`emergence.curves.extract_curves`.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"family": ["a", "b", "a"], "model": ["a1", "b1", "a2"], "task": "t",
    ...                   "metric": "acc", "value": [0.3, 0.5, 0.4], "flops": [1e21, 3e22, 2e21]})
    >>> pooled_curve(t, task="t", metric="acc").labels
    ('a1', 'a2', 'b1')
    """
    t = validate(table, metric_facts=metric_facts)
    info = metric_info(metric, metric_facts)
    declared = as_chance_map(chance).get(task)
    t = t[(t["task"] == task) & (t["metric"] == metric) & t["item"].isna()]
    if not len(t):
        raise EmergenceError(f"no rows for task {task!r} and metric {metric!r}.")
    step = t["step"].astype("float64").fillna(-1.0)
    t = t.assign(_s=step).sort_values("_s").groupby(["family", "model"], dropna=False).tail(1)
    xv = t[x].to_numpy(dtype=float)
    yv = t["value"].to_numpy(dtype=float)
    good = np.isfinite(xv) & np.isfinite(yv) & (xv > 0)
    notes = ()
    if (~good).any():
        bad = t["model"].astype(str).to_numpy()[~good]
        notes = (f"{bad.size} models without {x} or value left out: " + ", ".join(bad[:10])
                 + (" ..." if bad.size > 10 else ""),)
    t = t[good]
    order = np.argsort(t[x].to_numpy(dtype=float), kind="stable")
    t = t.iloc[order]
    shots = t["shots"].dropna().unique()
    ch = resolve_chance(
        info, declared=declared,
        n_choices=t["n_choices"].astype("float64").to_numpy() if "n_choices" in t else None,
        table=t["chance"].astype("float64").to_numpy() if "chance" in t else None)
    if ch.source != "not applicable":
        notes = (*notes, ch.note)
    return Curve(
        family="(pooled)", task=task, metric=metric,
        shots=int(shots[0]) if len(shots) == 1 else None, x_name=x,
        x=t[x].to_numpy(dtype=float), y=t["value"].to_numpy(dtype=float),
        stderr=t["stderr"].to_numpy(dtype=float),
        n_items=t["n_items"].astype("float64").to_numpy(), labels=tuple(t["model"].astype(str)),
        model=name, chance=ch.value, notes=notes, facts=info, chance_source=ch.source,
    )


@dataclass(frozen=True)
class SigmoidFit:
    """Result of :func:`fit_sigmoid`: a chance-floored sigmoid in log10 scale and its transition.

    ``y = floor + (ceiling - floor) * sigma(slope * (log10 x - midpoint))``. The transition zone
    runs from 5% to 95% of the way from floor to ceiling:
    ``log10 x = midpoint + logit(q) / slope`` for q = 0.05 and 0.95.

    Attributes
    ----------
    floor, ceiling, midpoint, slope : float
        ``midpoint`` in log10 x; ``slope`` per decade.
    zone : tuple of float
        (x at 5%, x at 95%) in the units of x.
    zone_ci : tuple of float
        Bootstrap percentile interval of the lower edge's lower bound and the upper edge's upper
        bound ``(lo_5%, hi_95%)`` in units of x (NaN without a bootstrap).
    x, y : ndarray
    x_name, name : str
    bootstrap : DataFrame or None
        ``midpoint, slope, x05, x95`` per replicate (residual bootstrap, refitted).
    level : float
    notes : tuple of str
    """

    floor: float
    ceiling: float
    midpoint: float
    slope: float
    zone: tuple[float, float]
    zone_ci: tuple[float, float]
    x: np.ndarray
    y: np.ndarray
    x_name: str
    name: str
    bootstrap: pd.DataFrame | None = None
    level: float = 0.9
    notes: tuple[str, ...] = field(default_factory=tuple)

    def predict(self, x: Any) -> np.ndarray:
        """Fitted values at ``x``."""
        u = np.log10(np.asarray(x, dtype=float))
        z = np.clip(self.slope * (u - self.midpoint), -500, 500)
        return self.floor + (self.ceiling - self.floor) / (1 + np.exp(-z))

    def band(self, x: Any) -> pd.DataFrame:
        """Bootstrap confidence band of the curve at ``x`` (columns ``x, predicted, lo, hi``)."""
        x = np.asarray(x, dtype=float).ravel()
        pred = self.predict(x)
        if self.bootstrap is None or not len(self.bootstrap):
            nan = np.full(x.shape, np.nan)
            return pd.DataFrame({"x": x, "predicted": pred, "lo": nan, "hi": nan})
        b = self.bootstrap
        u = np.log10(x)[None, :]
        z = np.clip(b["slope"].to_numpy()[:, None] * (u - b["midpoint"].to_numpy()[:, None]),
                    -500, 500)
        cur = self.floor + (self.ceiling - self.floor) / (1 + np.exp(-z))
        q = (1 - self.level) / 2
        lo, hi = np.nanquantile(cur, [q, 1 - q], axis=0)
        return pd.DataFrame({"x": x, "predicted": pred, "lo": lo, "hi": hi})

    def to_frame(self) -> pd.DataFrame:
        """One row: parameters, transition zone and its bootstrap interval."""
        return pd.DataFrame([{"curve": self.name, "x_name": self.x_name, "floor": self.floor,
                              "ceiling": self.ceiling, "midpoint_log10x": self.midpoint,
                              "slope_per_decade": self.slope, "zone_lo": self.zone[0],
                              "zone_hi": self.zone[1], "zone_lo_ci": self.zone_ci[0],
                              "zone_hi_ci": self.zone_ci[1], "level": self.level,
                              "n": self.x.size, "notes": "; ".join(self.notes)}])

    def summary(self) -> str:
        """Short text summary."""
        return (f"{self.name}: sigmoid from {self.floor:.3g} to {self.ceiling:.3g}, midpoint "
                f"{self.x_name}=10^{self.midpoint:.2f}, transition (5%-95%) "
                f"{self.zone[0]:.3g} to {self.zone[1]:.3g} "
                f"({self.level:.0%} bootstrap outer bounds {self.zone_ci[0]:.3g}, "
                f"{self.zone_ci[1]:.3g})")


_LOGIT05 = float(np.log(0.05 / 0.95))


def fit_sigmoid(
    data: Curve | Any,
    y: Any = None,
    *,
    chance: float | None = None,
    ceiling: float = 1.0,
    n_boot: int = N_BOOT,
    level: float = 0.9,
    seed: SeedLike = None,
) -> SigmoidFit:
    """Fit a chance-floored sigmoid in log10 x and locate the transition zone (5%-95%).

    Parameters
    ----------
    data : Curve or array
        Curve (proportion metric) or scale values with ``y``.
    chance : float, optional
        Floor (default: the curve's chance level, else 0).
    ceiling : float, default=1.0
    n_boot : int, default=999
        Residual-bootstrap replicates (vectorised refits) for the band and the zone interval.
    level : float, default=0.9
    seed : None, int, SeedSequence or Generator

    Returns
    -------
    SigmoidFit

    Examples
    --------
    >>> import numpy as np
    >>> x = np.geomspace(1e20, 1e24, 15)
    >>> y = 0.25 + 0.75 / (1 + np.exp(-3 * (np.log10(x) - 22)))
    >>> f = fit_sigmoid(x, y, chance=0.25, n_boot=100, seed=0)
    >>> round(f.midpoint, 3), round(f.slope, 3)
    (22.0, 3.0)
    """
    level = check_interval(level, "level", 0.0, 1.0)
    x, yv, lab, meta = _as_xy(data, y, None)
    ok = np.isfinite(x) & np.isfinite(yv) & (x > 0)
    notes: list[str] = []
    if (~ok).any():
        notes.append(f"{int((~ok).sum())} points without value or scale left out.")
    x, yv = x[ok], yv[ok]
    if x.size < 3:
        raise EmergenceError(f"{x.size} points; the sigmoid has 2 parameters and needs at least 3 "
                             "points (one for the noise).")
    g = chance if chance is not None else meta["chance"]
    g = float(g) if g is not None and np.isfinite(g) else 0.0
    u = np.log10(x)
    uc = u.mean()
    ab = _fit_sigmoid(u - uc, yv, g, ceiling)
    a, b = float(ab[0]), float(ab[1])
    mid = uc - a / b if b != 0 else np.nan
    zone = (10 ** (mid + _LOGIT05 / b), 10 ** (mid - _LOGIT05 / b)) if b != 0 else (np.nan,) * 2
    zone = (min(zone), max(zone))
    boot = None
    zci = (np.nan, np.nan)
    if n_boot:
        rng = check_rng(seed)
        fitted = g + (ceiling - g) / (1 + np.exp(-np.clip(a + b * (u - uc), -500, 500)))
        resid = yv - fitted
        dof = x.size - 2
        rc = (resid - resid.mean()) * np.sqrt(x.size / dof)
        Y = fitted[None, :] + rng.choice(rc, size=(n_boot, x.size), replace=True)
        rb = batched_lm(_sigmoid_rj(u - uc, Y, g, ceiling), np.repeat(ab[None], n_boot, axis=0),
                        max_iter=300)
        bb = rb.x[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            mids = uc - rb.x[:, 0] / bb
            e1 = mids + _LOGIT05 / bb
            e2 = mids - _LOGIT05 / bb
        boot = pd.DataFrame({"midpoint": mids, "slope": bb, "x05": 10 ** np.minimum(e1, e2),
                             "x95": 10 ** np.maximum(e1, e2), "converged": rb.converged})
        q = (1 - level) / 2
        zci = (float(np.nanquantile(boot["x05"], q)), float(np.nanquantile(boot["x95"], 1 - q)))
    if np.sum(yv > g + 0.05 * (ceiling - g)) < 2:
        notes.append("fewer than two points rise 5% above the floor: the transition is not "
                     "located by the data.")
    if np.isfinite(mid) and (mid < u.min() or mid > u.max()):
        notes.append("the fitted midpoint lies outside the observed scales (extrapolated).")
    return SigmoidFit(floor=g, ceiling=ceiling, midpoint=float(mid), slope=b,
                      zone=(float(zone[0]), float(zone[1])), zone_ci=zci, x=x, y=yv,
                      x_name=meta["x_name"], name=meta["name"], bootstrap=boot, level=level,
                      notes=tuple(notes))
