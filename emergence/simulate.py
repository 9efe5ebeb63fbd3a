"""Model families with a known truth: per-item evaluation results simulated from a latent competence.

Used to calibrate the verdicts (``benchmarks/calibration.py``): the truth is known, so the share
of each verdict measures size, power and accuracy. The output is the tidy per-item table that
:func:`emergence.curves.extract_curves` reads.

The latent model (Schaeffer, Miranda & Koyejo 2023, "Are Emergent Abilities of Large Language
Models a Mirage?", NeurIPS, section 2 and appendix A)
-------------------------------------------------------------------------------------------
A model with ``N`` parameters has per-token cross-entropy ``CE(N)`` on the target tokens and
per-token probability of the correct token ``p(N) = exp(-CE(N))``. Write ``x = log10 N``.
Everything random is added on the latent scale ``ln CE``:

    ln CE[r, i, s] = m(x_s) + u_i + v[r, s] + w[r, i, s]

for run ``r``, item ``i`` and scale ``s``, where ``m`` is the truth shape (below),
``u_i ~ N(0, item_sd^2)`` is the item's difficulty (fixed across scales and runs),
``v[r, s] ~ N(0, scatter_sd^2)`` is model-to-model scatter (one offset per trained model, i.e.
per scale and run) and ``w[r, i, s] ~ N(0, overdispersion^2)`` is item-by-model noise. Each item
has a target of ``L_i`` tokens (``target_tokens``: one length, or lengths drawn uniformly from a
given set). Then ``p[r, i, s] = exp(-exp(ln CE[r, i, s]))``.

Truth shapes ``m(x)`` (defaults in :data:`TRUTH_DEFAULTS`, chosen so that with ``L = 5`` and
``x`` from 7 to 11 exact match rises from near 0 to well above 0.5):

- ``power_law``: ``CE = (N / c)^(-alpha)``, i.e. ``m(x) = -alpha ln(10) (x - log10 c)``: the
  Mirage model, ln CE linear in log N. Defaults ``alpha = 0.3553``, ``log10_c = 7.266`` give exact
  match 0.002 at ``1e7`` and 0.79 at ``1e11`` with ``L = 5`` (the case in methods.md 1.2).
- ``power_law_floor``: ``CE = E + (N / c)^(-alpha)`` with irreducible ``E > 0`` (default 0.02),
  so exact match saturates at ``exp(-L E)`` below 1.
- ``logistic``: the per-token logit is linear in log N, ``p = sigmoid(a + b x)``, i.e.
  ``m(x) = ln(-ln sigmoid(a + b x))``. Defaults ``a = -7.9``, ``b = 1``.
- ``flat``: constant ``p`` (default 0.7): no improvement.
- ``saturating``: ``CE = E + (N / c)^(-alpha)`` with a steep exponent and ``c`` at the low end of
  the range (defaults ``E = 0.01``, ``alpha = 1.5``, ``log10_c = 7``): near its ceiling
  ``exp(-L E)`` over most of the range.
- ``hinge`` (a genuine transition): ``ln CE`` is the ``power_law`` line up to the breakpoint
  ``psi`` and falls ``factor`` times faster after it:
  ``m(x) = m_pl(x) - (factor - 1) alpha ln(10) max(x - psi, 0)``. ``factor >= 1``; default 3.
  ``psi`` defaults to the middle of the simulated range.
- ``step`` (a genuine transition): ``m(x) = m_pl(x) - jump [x >= psi]``, default ``jump = 1``
  (the per-token cross-entropy drops by the factor ``e^-jump`` at ``psi``).

Metrics per item (rows of the tidy table; ``value`` per item)
-------------------------------------------------------------
Generative items (``n_choices=None``), one shared draw per (run, item, scale):

- the number of wrong target tokens ``W ~ Binomial(L_i, 1 - p)`` (tokens independent, the
  substitution model of Schaeffer et al.'s appendix A.2: no insertions or deletions);
- ``token_edit_distance = W``, so ``E[TED] = L_i (1 - p)``;
- ``exact_match = 1[W = 0]``, so ``P(exact_match = 1) = p^L_i``;
- ``target_loglik``: the sum over the ``L_i`` target tokens of ``log p_token``. Each token's
  negative log-probability is ``CE * G_t`` with ``G_t ~ Gamma(shape=1/k, scale=k)``,
  ``k = loglik_cv^2`` (mean 1, coefficient of variation ``loglik_cv``), independently over
  tokens, so the sum is ``-CE * Gamma(shape=L_i/k, scale=k)``: mean ``-L_i CE``, variance
  ``L_i CE^2 loglik_cv^2``, always <= 0. ``CE`` is by definition the expected per-token negative
  log-likelihood, so the mean is exact. (``loglik_cv=0`` gives ``-L_i CE`` without noise.) The
  token-level noise of the log-likelihood is drawn independently of ``W``: the two share the
  latent ``CE`` but not the token draws.

Multiple-choice items (``n_choices=k``): the model writes the answer (all ``L_i`` tokens right,
probability ``p^L_i``) or else guesses uniformly among the ``k`` choices, so

- ``acc ~ Bernoulli(1/k + (1 - 1/k) p^L_i)`` (the chance-floored form of methods.md 1.2);
- ``target_loglik`` as above (the log-likelihood of the correct choice's ``L_i`` tokens);
- ``brier_score``: the model's probability of the correct choice is
  ``q = 1/k + (1 - 1/k) exp(target_loglik)`` with the rest spread evenly over the ``k - 1``
  distractors, and ``brier = (1 - q)^2 + (k - 1) ((1 - q)/(k - 1))^2 = (1 - q)^2 k/(k - 1)``
  (lm-eval's multiple-choice Brier score, range [0, 2]; here at most 1). It is a deterministic
  function of the item's log-likelihood, not an independent draw.

Extra columns: ``target_tokens`` (``L_i``), ``n_choices`` (multiple choice only), ``run`` (when
``n_runs > 1``; every run of a scale has the same model name) and, with ``latent=True``,
``latent_p`` (the per-token ``p[r, i, s]`` actually used). Everything is vectorised over
(run, item, scale): cost and memory are linear in ``n_items * n_scales * n_runs``. Each random
component draws from its own child generator, so switching one nuisance on or off leaves the
others' draws unchanged (common random numbers across calibration cells).

Examples
--------
>>> from emergence.simulate import simulate_family
>>> df = simulate_family("power_law", n_scales=8, n_items=100, seed=1)
>>> sorted(df["metric"].unique())
['exact_match', 'target_loglik', 'token_edit_distance']
>>> len(df) == 8 * 100 * 3
True
>>> em = df[df.metric == "exact_match"].groupby("params")["value"].mean()
>>> bool(em.iloc[0] < 0.05 and em.iloc[-1] > 0.6)
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ._random import SeedLike, spawn
from ._validation import check_option

__all__ = [
    "TRUTHS",
    "TRUTH_DEFAULTS",
    "latent_log_ce",
    "simulate_family",
    "simulate_aggregate",
]

#: Truth shapes: smooth ones first, then genuine transitions.
TRUTHS: tuple[str, ...] = (
    "power_law", "power_law_floor", "logistic", "flat", "saturating", "hinge", "step",
)

_PL = {"alpha": 0.3553, "log10_c": 7.266}

#: Default shape parameters of each truth (override with ``shape={...}``). ``psi=None`` means
#: the middle of the simulated range.
TRUTH_DEFAULTS: dict[str, dict[str, float | None]] = {
    "power_law": dict(_PL),
    "power_law_floor": {**_PL, "E": 0.02},
    "logistic": {"a": -7.9, "b": 1.0},
    "flat": {"p": 0.7},
    "saturating": {"alpha": 1.5, "log10_c": 7.0, "E": 0.01},
    "hinge": {**_PL, "psi": None, "factor": 3.0},
    "step": {**_PL, "psi": None, "jump": 1.0},
}

_LN10 = np.log(10.0)


def _shape_params(truth: str, shape: dict | None, x_range: tuple[float, float]) -> dict:
    check_option(truth, "truth", TRUTHS)
    par = dict(TRUTH_DEFAULTS[truth])
    unknown = set(shape or {}) - set(par)
    if unknown:
        raise ValueError(f"`shape` for truth {truth!r} takes {sorted(par)}; got unknown "
                         f"{sorted(unknown)}.")
    par.update(shape or {})
    if "psi" in par and par["psi"] is None:
        par["psi"] = 0.5 * (x_range[0] + x_range[1])
    if truth == "hinge" and par["factor"] < 1:
        raise ValueError(f"`shape['factor']` must be >= 1 (a faster fall after psi); got "
                         f"{par['factor']!r}.")
    if truth in ("power_law_floor", "saturating") and not par["E"] > 0:
        raise ValueError(f"`shape['E']` (irreducible cross-entropy) must be > 0; got {par['E']!r}.")
    if truth == "flat" and not 0 < par["p"] < 1:
        raise ValueError(f"`shape['p']` must be in (0, 1); got {par['p']!r}.")
    return par


def latent_log_ce(
    truth: str,
    log10_params: np.ndarray | Sequence[float],
    *,
    shape: dict | None = None,
    x_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """The truth shape ``m(x)``: ln of the per-token cross-entropy at ``x = log10 N``.

    Parameters
    ----------
    truth : str
        One of :data:`TRUTHS`.
    log10_params : array_like
        ``log10`` of the parameter counts.
    shape : dict, optional
        Overrides of :data:`TRUTH_DEFAULTS` for this truth.
    x_range : (float, float), optional
        Range used for the default breakpoint ``psi`` (its middle); default the range of
        ``log10_params``.

    Returns
    -------
    ndarray
        ``ln CE`` at each ``x``; the per-token probability is ``exp(-exp(m))``.

    Examples
    --------
    >>> import numpy as np
    >>> m = latent_log_ce("power_law", [7.0, 11.0])
    >>> np.round(np.exp(-5 * np.exp(m)), 3)  # exact match with L = 5
    array([0.002, 0.79 ])
    >>> h = latent_log_ce("hinge", [7.0, 9.0, 11.0], shape={"factor": 3.0, "psi": 9.0})
    >>> float(np.round((h[2] - h[1]) / (h[1] - h[0]), 6))  # slope after / before psi
    3.0
    """
    x = np.asarray(log10_params, dtype=float)
    if x_range is None:
        x_range = (float(np.min(x)), float(np.max(x))) if x.size else (0.0, 1.0)
    par = _shape_params(truth, shape, x_range)
    if truth == "flat":
        return np.full_like(x, np.log(-np.log(par["p"])))
    if truth == "logistic":
        z = par["a"] + par["b"] * x
        # ln(-ln sigmoid(z)) = ln(log1p(exp(-z))), computed stably
        return np.log(np.logaddexp(0.0, -z))
    pl = -par["alpha"] * _LN10 * (x - par["log10_c"])
    if truth == "power_law":
        return pl
    if truth in ("power_law_floor", "saturating"):
        return np.logaddexp(np.log(par["E"]), pl)
    if truth == "hinge":
        return pl - (par["factor"] - 1.0) * par["alpha"] * _LN10 * np.maximum(x - par["psi"], 0)
    # step
    return pl - par["jump"] * (x >= par["psi"])


def _rng_children(seed: SeedLike, k: int) -> list[np.random.Generator]:
    return spawn(seed, k)


def _scales(n_scales: int, x_range, spacing: str, log10_params, rng) -> np.ndarray:
    if log10_params is not None:
        x = np.sort(np.asarray(log10_params, dtype=float))
        if x.ndim != 1 or x.size < 2 or np.any(np.diff(x) <= 0) or not np.all(np.isfinite(x)):
            raise ValueError("`log10_params` must be at least 2 distinct finite values.")
        return x
    if int(n_scales) < 2:
        raise ValueError(f"`n_scales` must be at least 2; got {n_scales!r}.")
    lo, hi = map(float, x_range)
    if not hi > lo:
        raise ValueError(f"`x_range` must be (low, high) with high > low; got {x_range!r}.")
    if spacing == "even":
        return np.linspace(lo, hi, int(n_scales))
    # random log-spacing: the ends fixed, interior scales uniform on (lo, hi); kept at least
    # 1% of the range apart so that no two models tie
    while True:
        inner = np.sort(rng.uniform(lo, hi, int(n_scales) - 2))
        x = np.r_[lo, inner, hi]
        if np.all(np.diff(x) > 0.01 * (hi - lo)):
            return x


def _lengths(target_tokens, n_items: int, rng) -> np.ndarray:
    if np.ndim(target_tokens) == 0:
        lens = np.full(n_items, int(target_tokens))
    else:
        choices = np.asarray(target_tokens)
        if choices.size == 0:
            raise ValueError("`target_tokens` must be a length or a non-empty set of lengths.")
        lens = rng.choice(choices.astype(int), size=n_items, replace=True)
    if np.any(lens < 1) or np.any(lens != np.round(lens)):
        raise ValueError(f"`target_tokens` must be positive integers; got {target_tokens!r}.")
    return lens.astype(int)


def _simulate_arrays(
    truth, *, n_scales, n_items, x_range, spacing, log10_params, target_tokens, n_choices,
    item_sd, scatter_sd, overdispersion, n_runs, loglik_cv, shape, seed,
):
    for name, v in (("item_sd", item_sd), ("scatter_sd", scatter_sd),
                    ("overdispersion", overdispersion), ("loglik_cv", loglik_cv)):
        if not (np.isfinite(v) and v >= 0):
            raise ValueError(f"`{name}` must be a finite number >= 0; got {v!r}.")
    if int(n_items) < 1 or int(n_runs) < 1:
        raise ValueError(f"`n_items` and `n_runs` must be >= 1; got {n_items!r}, {n_runs!r}.")
    if n_choices is not None and int(n_choices) < 2:
        raise ValueError(f"`n_choices` must be >= 2 (or None for generative items); got "
                         f"{n_choices!r}.")
    check_option(spacing, "spacing", ("even", "random"))
    g_x, g_len, g_item, g_scat, g_od, g_w, g_ll, g_mc = _rng_children(seed, 8)
    n_items, n_runs = int(n_items), int(n_runs)
    x = _scales(n_scales, x_range, spacing, log10_params, g_x)
    rng_x = (float(x_range[0]), float(x_range[1])) if log10_params is None else (x[0], x[-1])
    S = x.size
    m = latent_log_ce(truth, x, shape=shape, x_range=rng_x)
    lens = _lengths(target_tokens, n_items, g_len)
    u = g_item.normal(0.0, item_sd, n_items) if item_sd else np.zeros(n_items)
    v = g_scat.normal(0.0, scatter_sd, (n_runs, S)) if scatter_sd else np.zeros((n_runs, S))
    w = (g_od.normal(0.0, overdispersion, (n_runs, n_items, S)) if overdispersion
         else 0.0)
    log_ce = m[None, None, :] + u[None, :, None] + v[:, None, :] + w
    log_ce = np.broadcast_to(log_ce, (n_runs, n_items, S))
    ce = np.exp(log_ce)
    p = np.exp(-ce)
    L = np.broadcast_to(lens[None, :, None], p.shape)
    wrong = g_w.binomial(L, 1.0 - p)
    if loglik_cv > 0:
        k = loglik_cv ** 2
        ll = -ce * g_ll.gamma(L / k, k)
    else:
        ll = -ce * L
    out = {"token_edit_distance": wrong.astype(float), "exact_match": (wrong == 0).astype(float),
           "target_loglik": ll}
    if n_choices is not None:
        kc = int(n_choices)
        guess = g_mc.random(p.shape) < 1.0 / kc
        out["acc"] = ((wrong == 0) | guess).astype(float)
        q = 1.0 / kc + (1.0 - 1.0 / kc) * np.exp(ll)
        out["brier_score"] = (1.0 - q) ** 2 * kc / (kc - 1.0)
    return x, lens, p, out


def _default_metrics(n_choices) -> tuple[str, ...]:
    if n_choices is None:
        return ("exact_match", "token_edit_distance", "target_loglik")
    return ("acc", "target_loglik", "brier_score")


def simulate_family(
    truth: str = "power_law",
    *,
    n_scales: int = 10,
    n_items: int = 200,
    x_range: tuple[float, float] = (7.0, 11.0),
    spacing: str = "even",
    log10_params: Sequence[float] | None = None,
    target_tokens: int | Sequence[int] = 5,
    n_choices: int | None = None,
    item_sd: float = 0.0,
    scatter_sd: float = 0.0,
    overdispersion: float = 0.0,
    n_runs: int = 1,
    loglik_cv: float = 1.0,
    shape: dict | None = None,
    metrics: Sequence[str] | None = None,
    family: str = "sim",
    task: str = "sim_task",
    latent: bool = False,
    seed: SeedLike = None,
) -> pd.DataFrame:
    """Per-item results of one simulated model family with a known latent competence.

    The model and every formula are in the module docstring (:mod:`emergence.simulate`).

    Parameters
    ----------
    truth : str, default="power_law"
        Shape of the latent competence, one of :data:`TRUTHS`.
    n_scales : int, default=10
        Number of model sizes.
    n_items : int, default=200
        Number of test items (the same items at every scale).
    x_range : (float, float), default=(7, 11)
        ``log10`` parameter counts of the smallest and largest model.
    spacing : {"even", "random"}, default="even"
        ``"even"``: equally spaced in log N. ``"random"``: the two ends fixed and the interior
        scales uniform in log N (uneven spacing).
    log10_params : array_like, optional
        Explicit ``log10`` parameter counts (overrides ``n_scales``, ``x_range``, ``spacing``).
    target_tokens : int or sequence of int, default=5
        Target length ``L`` in tokens, or a set of lengths each item draws one of uniformly.
    n_choices : int, optional
        Multiple-choice items with this many choices (metrics ``acc``, ``target_loglik``,
        ``brier_score``); None for generative items (``exact_match``,
        ``token_edit_distance``, ``target_loglik``).
    item_sd : float, default=0
        Sd of the per-item difficulty offset on ln CE (fixed across scales and runs).
    scatter_sd : float, default=0
        Sd of the per-model (scale and run) offset on ln CE.
    overdispersion : float, default=0
        Sd of the item-by-model offset on ln CE.
    n_runs : int, default=1
        Independent training runs per scale; each has its own scatter and overdispersion
        draws and the same items; written in the ``run`` column when > 1.
    loglik_cv : float, default=1
        Coefficient of variation of a token's negative log-likelihood around ``CE``.
    shape : dict, optional
        Overrides of :data:`TRUTH_DEFAULTS` for ``truth`` (``alpha``, ``log10_c``, ``E``, ``a``,
        ``b``, ``p``, ``psi``, ``factor``, ``jump``).
    metrics : sequence of str, optional
        Subset of the metrics to write (default all of the item type's metrics).
    family, task : str
        Names written in the table.
    latent : bool, default=False
        Add the column ``latent_p`` (per-token probability used for each row).
    seed : int, Generator or SeedSequence, optional
        Same seed, same table.

    Returns
    -------
    DataFrame
        Tidy per-item rows: ``family``, ``model``, ``task``, ``metric``, ``item``, ``value``,
        ``params``, ``target_tokens`` [, ``n_choices``] [, ``run``] [, ``latent_p``], one row per
        (run, scale, item, metric), ordered by run, scale, metric, item.

    Raises
    ------
    ValueError
        Unknown truth, shape parameter or metric, or out-of-range settings.

    Examples
    --------
    >>> from emergence.simulate import simulate_family
    >>> from emergence.curves import extract_curves
    >>> df = simulate_family("hinge", n_scales=8, n_items=50, target_tokens=[2, 4, 8],
    ...                      scatter_sd=0.25, seed=0)
    >>> cs = extract_curves(df, x="params")
    >>> [(c.metric, c.items.shape) for c in cs.curves]
    [('exact_match', (50, 8)), ('target_loglik', (50, 8)), ('token_edit_distance', (50, 8))]
    >>> mc = simulate_family("logistic", n_items=20, n_choices=4, seed=0)
    >>> sorted(mc["metric"].unique()), int(mc["n_choices"].iloc[0])
    (['acc', 'brier_score', 'target_loglik'], 4)
    """
    avail = _default_metrics(n_choices)
    metrics = avail if metrics is None else tuple(metrics)
    bad = [mt for mt in metrics if mt not in avail]
    if bad or not metrics:
        raise ValueError(f"`metrics` must be a non-empty subset of {list(avail)} for "
                         f"{'multiple-choice' if n_choices else 'generative'} items; got "
                         f"{list(metrics)}.")
    x, lens, p, vals = _simulate_arrays(
        truth, n_scales=n_scales, n_items=n_items, x_range=x_range, spacing=spacing,
        log10_params=log10_params, target_tokens=target_tokens, n_choices=n_choices,
        item_sd=item_sd, scatter_sd=scatter_sd, overdispersion=overdispersion, n_runs=n_runs,
        loglik_cv=loglik_cv, shape=shape, seed=seed,
    )
    R, n, S = p.shape
    M = len(metrics)
    models = np.char.add(f"{family}-", np.char.zfill(np.arange(S).astype(str), len(str(S - 1))))
    items = np.char.add("i", np.char.zfill(np.arange(n).astype(str), len(str(n - 1))))
    models, items = models.astype(object), items.astype(object)
    # row order: run, scale, metric, item -> arrays of shape (R, S, M, n)
    shp = (R, S, M, n)
    value = np.stack([vals[mt] for mt in metrics], axis=0)  # (M, R, n, S)
    value = value.transpose(1, 3, 0, 2)  # (R, S, M, n)
    cols: dict[str, object] = {
        "family": family,
        "model": np.broadcast_to(models[None, :, None, None], shp).ravel(),
        "task": task,
        "metric": np.broadcast_to(np.array(metrics, dtype=object)[None, None, :, None],
                                  shp).ravel(),
        "item": np.broadcast_to(items[None, None, None, :], shp).ravel(),
        "value": value.ravel(),
        "params": np.broadcast_to(10.0 ** x[None, :, None, None], shp).ravel(),
        "target_tokens": np.broadcast_to(lens[None, None, None, :], shp).ravel(),
    }
    if n_choices is not None:
        cols["n_choices"] = int(n_choices)
    if R > 1:
        cols["run"] = np.broadcast_to(np.arange(R)[:, None, None, None], shp).ravel()
    if latent:
        cols["latent_p"] = np.broadcast_to(p.transpose(0, 2, 1)[:, :, None, :], shp).ravel()
    return pd.DataFrame(cols)


def simulate_aggregate(
    truth: str = "power_law",
    *,
    with_n_items: bool = True,
    with_stderr: bool = False,
    decimals: int | None = None,
    **kwargs,
) -> pd.DataFrame:
    """Per-scale aggregates of a simulated family: what a published table gives.

    Simulates the items with :func:`simulate_family` (same arguments, same seed, same items)
    and keeps, per (run, scale, metric), the mean over items.

    Parameters
    ----------
    truth : str, default="power_law"
        As in :func:`simulate_family`.
    with_n_items : bool, default=True
        Write the item count in ``n_items``; False leaves it unknown (most published tables).
    with_stderr : bool, default=False
        Write the standard error of the mean over items (sample sd / sqrt(n)) in ``stderr``.
    decimals : int, optional
        Round ``value`` (and ``stderr``) to this many decimals, as published tables do.
    **kwargs
        Passed to :func:`simulate_family` (``latent`` is not accepted).

    Returns
    -------
    DataFrame
        One row per (run, scale, metric) with ``family``, ``model``, ``task``, ``metric``,
        ``value``, ``params`` [, ``n_items``] [, ``stderr``] [, ``n_choices``] [, ``run``].

    Examples
    --------
    >>> from emergence.simulate import simulate_aggregate
    >>> agg = simulate_aggregate("power_law", n_scales=6, n_items=400, seed=3, decimals=3,
    ...                          metrics=["exact_match"])
    >>> print(agg[["model", "value", "n_items"]].head(2).to_string(index=False))
    model  value  n_items
    sim-0  0.002      400
    sim-1  0.042      400
    """
    if "latent" in kwargs:
        raise ValueError("`latent` is not available for aggregates.")
    df = simulate_family(truth, **kwargs)
    keys = ["family", "model", "task", "metric", "params"]
    for c in ("n_choices", "run"):
        if c in df:
            keys.append(c)
    g = df.groupby(keys, sort=False, dropna=False)["value"]
    out = g.mean().rename("value").reset_index()
    n = g.size().to_numpy()
    if with_stderr:
        out["stderr"] = g.std(ddof=1).to_numpy() / np.sqrt(n)
    if with_n_items:
        out["n_items"] = n
    if decimals is not None:
        out["value"] = out["value"].round(int(decimals))
        if with_stderr:
            out["stderr"] = out["stderr"].round(int(decimals))
    return out
