"""One latent-competence null for every metric: does per-token competence break?

Schaeffer, Miranda and Koyejo (2023) model a language model's competence on a task by its
per-token cross-entropy on the target, ``CE(N)``, a power law in scale ``N``: the probability
of emitting the correct token is ``p = exp(-CE)``. Every metric of the same predictions is then
an exact, known function of ``CE`` (and of the target length ``L`` of each item):

=====================  ==========================================  ===============================
latent kind            mean metric as a function of CE             inverse (per-scale mean -> CE)
=====================  ==========================================  ===============================
``exact_match``        mean_i exp(-L_i CE)                         Newton on the mixture over L
``multiple_choice``    c + (1 - c) exp(-CE)   (chance c)           -ln((y - c) / (1 - c))
``edit_distance``      mean(L) (1 - exp(-CE))  (substitutions)     -ln(1 - y / mean(L))
``loglik``             -mean(L) CE                                 -y / mean(L)
``loglik_per_token``   -CE                                         -y
``per_token_p``        exp(-CE)                                    -ln y
``brier``              ((1-c)(1 - exp(-CE)))^2 k/(k-1)  (k = 1/c)  from q = 1 - sqrt(y (k-1)/k)
``loss``               CE (nats per token)                         y
``perplexity``         exp(CE)                                     ln y
``bounded``            lo + (hi - lo) exp(-CE) (declared bounds)   -ln((y - lo) / (hi - lo))
=====================  ==========================================  ===============================

(lower-is-better bounded metrics use ``hi - y``). The question the test asks is the same for
every metric: is the latent competence curve smooth, or does it break?

The smooth null (:data:`SHAPES`) is a family of monotone curves with a floor and a ceiling,
written as a straight line in ``x = log10 N`` after a shape transform of ``CE``:

.. math:: \\eta = -\\ln\\frac{e^{\\nu (CE - E)} - 1}{\\nu}
          \\quad(\\nu > 0), \\qquad \\eta = -\\ln(CE - E) \\quad (\\nu = 0),
          \\qquad \\eta = b_0 + b_1 x.

``nu = 0, E = 0`` is Schaeffer et al.'s exact power law (``ln CE`` linear in ``log N``);
``nu = 1`` is a per-token logistic competence (``logit p`` linear in ``log N``); ``E > 0`` is an
irreducible loss (metrics saturate below perfect). The metric's own floor (chance, 0 correct,
edit distance ``L``) and ceiling come from the exact link above. Shapes in between (``nu`` on a
grid from 0 to 1, ``E`` a fraction of the smallest observed ``CE``) absorb the bends that
heterogeneous items and saturation put into a smooth curve. The grid stops at the logistic: a
shape sharper than it bends like a hinge and would absorb the accelerations the test is for.
Token edit distance keeps ``nu = 2`` as well (:func:`default_shapes`): its substitution-model
link does not average over item difficulty, and the mean of heterogeneous items bends beyond
the logistic.
The shape is chosen by profile likelihood, Jacobian included (the Box-Cox argument: the
likelihood of the observed means, not of their transform).

The alternative adds a hinge ``delta (x - psi)_+`` or a step ``gamma 1[x > psi]`` to the line
on the ``eta`` scale, for every shape, with ``psi`` searched over a grid. ``eta`` increases
with competence for every metric, so an accelerating break (the emergence alternative) is
``delta > 0`` or ``gamma > 0``; a decelerating one (saturation) is ``< 0``.

Noise: per-scale means carry item noise (binomial over items grouped by target length for 0/1
metrics; the items' own variance for continuous ones; the reported standard error; or, for
aggregate-only tables, a floor from the resolution of the reported values) plus
model-to-model scatter ``tau^2`` on the ``eta`` scale (one model per scale is one draw of a
noisy training process). ``tau^2`` is estimated by moments, from the null fit for the
simulation and from the break fit inside the statistic; when several runs per scale are given,
their spread measures it directly. The reference distribution is a parametric bootstrap
under the fitted null with the estimated ``tau^2``; every replicate repeats the shape choice,
the ``tau^2`` estimate and the breakpoint search, so the p-value accounts for all of them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import numpy as np

from .._defaults import N_BOOT
from .._random import SeedLike
from .._validation import check_option, check_rng, check_scatter_sd
from ._results import TestResult
from .bootstrap import CHUNK, _Buffers, _candidates
from .bootstrap import _line_and_columns_sums as _wls

__all__ = [
    "LATENT_KINDS",
    "SHAPES",
    "SHAPES_EDIT",
    "default_shapes",
    "LatentLink",
    "LatentBreakResult",
    "latent_break_test",
    "item_noise_var",
    "latent_kind",
    "value_resolution",
]

LATENT_KINDS = ("exact_match", "multiple_choice", "edit_distance", "loglik", "loglik_per_token",
                "per_token_p", "brier", "loss", "perplexity", "bounded")
_FLOORS = (0.0, 0.15, 0.3, 0.5, 0.65, 0.8, 0.93, 0.99)
#: shape grid of the smooth null: (nu, E as a fraction of the smallest observed CE). ``nu`` runs
#: from Schaeffer et al.'s power law (0) to per-token logistic competence (1) and stops there: a
#: shape sharper than logistic bends like a hinge and absorbs the accelerations the test is for
SHAPES: tuple[tuple[float, float], ...] = tuple(
    (nu, e) for nu in (0.0, 0.5, 1.0) for e in _FLOORS
)
#: shape grid for token edit distance: :data:`SHAPES` and ``nu = 2``. Its link (the substitution
#: model) does not average over how item difficulty spreads, and the mean edit distance of
#: heterogeneous items bends beyond the logistic; the sharper shapes stand in for that averaging
SHAPES_EDIT: tuple[tuple[float, float], ...] = SHAPES + tuple((2.0, e) for e in _FLOORS)


def default_shapes(kind: str) -> tuple[tuple[float, float], ...]:
    """The null's shape grid for a latent kind: :data:`SHAPES_EDIT` for edit distance, else
    :data:`SHAPES`."""
    return SHAPES_EDIT if kind == "edit_distance" else SHAPES
DIRECTIONS = ("improving", "decelerating", "both")
#: Gauss-Hermite nodes and weights for a standard normal (item heterogeneity)
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(9)
_GH_W = _GH_W / _GH_W.sum()
#: grid of item-heterogeneity sd on ln CE, matched to the spread of item totals
SIGMAS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5)

_NAME_KINDS = {
    "exact_match": "exact_match", "em": "exact_match", "exact_str_match": "exact_match",
    "exact": "exact_match", "pass@1": "exact_match",
    "acc": "multiple_choice", "acc_norm": "multiple_choice", "mc1": "multiple_choice",
    "multiple_choice_grade": "multiple_choice", "acc_bytes": "multiple_choice",
    "token_edit_distance": "edit_distance",
    "target_loglik": "loglik", "loglik": "loglik", "log_likelihood": "loglik",
    "loglik_per_token": "loglik_per_token",
    "p_token": "per_token_p", "p_vocab": "per_token_p", "p_correct": "per_token_p",
    "p_choices": "per_token_p",
    "brier_score": "brier", "brier": "brier",
    "loss": "loss", "val_loss": "loss", "train_loss": "loss", "cross_entropy": "loss",
    "ppl": "perplexity", "perplexity": "perplexity", "word_perplexity": "perplexity",
    "byte_perplexity": "perplexity", "bits_per_byte": "loss",
}


def latent_kind(metric: str, info=None, chance: float = float("nan")) -> str:
    """How ``metric`` relates to per-token competence (one of :data:`LATENT_KINDS` or ``"none"``).

    The metric's declared facts decide (``info.latent`` when the registry gives it); otherwise
    the built-in names above. A 0/1 metric with a chance level above 0 is read through the
    chance-floored (multiple-choice) link, at chance 0 through the exact-match link. Metrics
    with no known relation but declared finite bounds use the ``bounded`` link; others
    (unbounded, unknown relation) give ``"none"``.

    Examples
    --------
    >>> latent_kind("exact_match"), latent_kind("acc", chance=0.25), latent_kind("acc", chance=0.0)
    ('exact_match', 'multiple_choice', 'exact_match')
    >>> latent_kind("token_edit_distance"), latent_kind("ppl")
    ('edit_distance', 'perplexity')

    The multiple-choice and Brier links need the chance level; without it the caller must not
    test (the verdict says the chance level is unknown and how to declare it).
    """
    declared = getattr(info, "latent", None) if info is not None else None
    base = str(metric).split(",", 1)[0]
    kind = declared if declared not in (None, "", "none") else _NAME_KINDS.get(base)
    if kind in ("exact_match", "multiple_choice"):
        if np.isfinite(chance) and chance > 0:
            return "multiple_choice"
        if kind == "multiple_choice" and not (np.isfinite(chance) and chance == 0):
            # chance unknown: the chance-floored link cannot be used honestly
            return "multiple_choice"
        return "exact_match"
    if kind in LATENT_KINDS:
        return kind
    if info is not None and getattr(info, "sharp", False):
        return "none"
    lo = getattr(info, "lower", -np.inf) if info is not None else -np.inf
    hi = getattr(info, "upper", np.inf) if info is not None else np.inf
    if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
        return "bounded"
    return "none"


def value_resolution(y: np.ndarray) -> float:
    """Resolution of reported values: ``10**-d`` for the fewest decimals ``d`` that write them all.

    Examples
    --------
    >>> value_resolution(np.array([0.014, 0.0, 0.25]))
    0.001
    """
    y = np.asarray(y, float)
    y = y[np.isfinite(y)]
    for d in range(0, 9):
        s = y * 10.0**d
        if np.all(np.abs(s - np.round(s)) <= 1e-6 * np.maximum(1.0, np.abs(s))):
            return 10.0**-d
    return 1e-9


@dataclass(frozen=True)
class LatentLink:
    """Exact map between a metric's per-scale mean and per-token cross-entropy ``CE``.

    Parameters
    ----------
    kind : str
        One of :data:`LATENT_KINDS`.
    lengths, weights : ndarray
        Distinct target lengths ``L_j`` (tokens) and the share of items with each (exact match,
        edit distance, log-likelihood). ``[1.0], [1.0]`` when lengths are unknown.
    chance : float
        Chance level (multiple choice, Brier); 0 otherwise.
    lo, hi, higher_is_better :
        Declared bounds and orientation (``bounded`` kind).
    units : ndarray
        Bernoulli units behind each scale's mean (items, or items times tokens for edit distance);
        the share of successes is kept ``0.5 / (units + 1)`` away from 0 and 1 so that a scale
        with no success maps to a finite ``CE``.
    """

    kind: str
    lengths: np.ndarray
    weights: np.ndarray
    chance: float = 0.0
    lo: float = 0.0
    hi: float = 1.0
    higher_is_better: bool = True
    units: np.ndarray | None = None

    @property
    def mean_length(self) -> float:
        return float(np.sum(self.lengths * self.weights))

    def with_heterogeneity(self, sigma: float) -> LatentLink:
        """The same link for items whose per-token CE varies as ``CE * exp(sigma * z)``,
        ``z ~ N(0, 1)`` (Gauss-Hermite nodes folded into the length mixture)."""
        if sigma <= 0 or self.kind not in ("exact_match", "multiple_choice"):
            return self
        m = np.multiply.outer(self.lengths, np.exp(sigma * _GH_X)).ravel()
        w = np.multiply.outer(self.weights, _GH_W).ravel()
        return LatentLink(self.kind, m, w, self.chance, self.lo, self.hi, self.higher_is_better,
                          self.units)

    def _eps(self, shape) -> np.ndarray:
        if self.units is None:
            return np.full(shape, 1e-6)
        return np.broadcast_to(0.5 / (np.asarray(self.units, float) + 1.0), shape)

    def share(self, y: np.ndarray) -> np.ndarray:
        """Share of success ``q`` in (0, 1) for probability-type kinds (adjusted)."""
        k = self.kind
        if k == "multiple_choice":
            q = (y - self.chance) / (1.0 - self.chance)
        elif k == "edit_distance":
            q = 1.0 - y / self.mean_length
        elif k == "per_token_p" or k == "exact_match":
            q = y
        elif k == "brier":
            kk = 1.0 / self.chance
            q = 1.0 - np.sqrt(np.maximum(y, 0.0) * (kk - 1.0) / kk)
            q = (q - self.chance) / (1.0 - self.chance)
        elif k == "bounded":
            q = (y - self.lo) / (self.hi - self.lo)
            if not self.higher_is_better:
                q = 1.0 - q
        else:
            raise ValueError(f"no success share for latent kind {k!r}")
        e = self._eps(np.shape(q))
        return np.clip(q, e, 1.0 - e)

    def to_ce(self, y: np.ndarray) -> np.ndarray:
        """Per-token cross-entropy from per-scale means (vectorised)."""
        y = np.asarray(y, float)
        k = self.kind
        if k == "loglik":
            return np.maximum(-y / self.mean_length, 1e-9)
        if k == "loglik_per_token":
            return np.maximum(-y, 1e-9)
        if k == "loss":
            return np.maximum(y, 1e-9)
        if k == "perplexity":
            return np.maximum(np.log(np.maximum(y, 1.0 + 1e-12)), 1e-9)
        q = self.share(y)
        if k not in ("exact_match", "multiple_choice") or self.lengths.size == 1:
            return -np.log(q) / (self.lengths[0] if k in ("exact_match", "multiple_choice")
                                 else 1.0)
        # mixture over target lengths: solve sum_j w_j exp(-L_j CE) = q (convex, decreasing):
        # Newton from the left converges monotonically (compiled, element by element)
        from ._kernels import mixture_ce  # compiled on first use

        q = np.ascontiguousarray(q, dtype=float)
        out = np.empty(q.size)
        mixture_ce(q.ravel(), np.ascontiguousarray(self.lengths, dtype=float),
                   np.ascontiguousarray(self.weights, dtype=float), out)
        return out.reshape(q.shape)

    def mean(self, ce: np.ndarray) -> np.ndarray:
        """Expected per-scale mean of the metric at cross-entropy ``ce``."""
        ce = np.asarray(ce, float)
        k = self.kind
        if k == "exact_match":
            return np.exp(-np.multiply.outer(ce, self.lengths)) @ self.weights
        if k == "multiple_choice":
            return self.chance + (1.0 - self.chance) * (
                np.exp(-np.multiply.outer(ce, self.lengths)) @ self.weights)
        if k == "edit_distance":
            return self.mean_length * (1.0 - np.exp(-ce))
        if k == "loglik":
            return -self.mean_length * ce
        if k == "loglik_per_token":
            return -ce
        if k == "per_token_p":
            return np.exp(-ce)
        if k == "brier":
            kk = 1.0 / self.chance
            return ((1.0 - self.chance) * (1.0 - np.exp(-ce))) ** 2 * kk / (kk - 1.0)
        if k == "loss":
            return ce
        if k == "perplexity":
            return np.exp(ce)
        q = np.exp(-ce)
        q = q if self.higher_is_better else 1.0 - q
        return self.lo + (self.hi - self.lo) * q

    def dmean(self, ce: np.ndarray) -> np.ndarray:
        """Derivative of :meth:`mean` with respect to ``CE``."""
        ce = np.asarray(ce, float)
        k = self.kind
        if k == "exact_match":
            return -(np.exp(-np.multiply.outer(ce, self.lengths)) * self.lengths) @ self.weights
        if k == "multiple_choice":
            return -(1.0 - self.chance) * (
                (np.exp(-np.multiply.outer(ce, self.lengths)) * self.lengths) @ self.weights)
        if k == "edit_distance":
            return self.mean_length * np.exp(-ce)
        if k == "loglik":
            return np.full_like(ce, -self.mean_length)
        if k == "loglik_per_token":
            return -np.ones_like(ce)
        if k == "per_token_p":
            return -np.exp(-ce)
        if k == "brier":
            kk = 1.0 / self.chance
            p = np.exp(-ce)
            return 2.0 * (1.0 - self.chance) ** 2 * (1.0 - p) * p * kk / (kk - 1.0)
        if k == "loss":
            return np.ones_like(ce)
        if k == "perplexity":
            return np.exp(ce)
        s = (self.hi - self.lo) * np.exp(-ce)
        return -s if self.higher_is_better else s

    def binary_var(self, ce: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Variance of the per-scale mean of 0/1 items (grouped by target length)."""
        if self.kind in ("exact_match", "multiple_choice"):
            mu = np.exp(-np.multiply.outer(ce, self.lengths))
            if self.kind == "multiple_choice":
                mu = self.chance + (1.0 - self.chance) * mu
            return (mu * (1 - mu)) @ self.weights / n
        if self.kind == "edit_distance":  # substitution model: Binomial(L_i, 1 - p) per item
            q = np.exp(-ce)
            return self.mean_length * q * (1 - q) / n
        if self.kind == "bounded":
            q = np.exp(-ce)
            return (self.hi - self.lo) ** 2 * q * (1 - q) / n
        mu = self.mean(ce)
        return mu * (1 - mu) / n


def item_heterogeneity(link: LatentLink, y: np.ndarray, items: np.ndarray,
                       item_lengths: np.ndarray | None = None) -> float:
    """Spread of item difficulty (sd of ln CE across items) matched to the item totals.

    For 0/1 items seen at every scale, items that differ in difficulty give totals (number of
    scales answered correctly) that spread more than exchangeable items would. For each ``sigma``
    of :data:`SIGMAS` the per-scale CE is solved from the means, the variance of item totals
    implied by the model (target lengths and heterogeneity) is computed, and the ``sigma`` whose
    implied variance is closest to the observed one is returned (moment matching).
    """
    tot = items.sum(axis=1)
    v_obs = float(tot.var(ddof=1))
    best, err = 0.0, np.inf
    for sg in SIGMAS:
        lk = link.with_heterogeneity(sg)
        ce = lk.to_ce(y[None, :])[0]
        mu = np.exp(-np.multiply.outer(ce, lk.lengths))            # (S, J)
        if lk.kind == "multiple_choice":
            mu = lk.chance + (1 - lk.chance) * mu
        M = mu.sum(axis=0)
        V = (mu * (1 - mu)).sum(axis=0)
        e1 = float(M @ lk.weights)
        v = float((M**2 + V) @ lk.weights) - e1**2
        if abs(v - v_obs) < err:
            best, err = sg, abs(v - v_obs)
    return best


def _multiplicative(items: np.ndarray) -> bool:
    """Whether :func:`item_noise_var` models the items' noise on ``ln|y|`` (values of one sign):
    the noise of a per-scale mean is then a fixed share of its square, wherever the curve is."""
    Y = np.asarray(items, float)
    return bool(Y.ndim == 2 and Y.shape[0] >= 3 and Y.shape[1] >= 3 and np.all(np.isfinite(Y))
                and (np.all(Y < 0) or np.all(Y > 0)))


def item_noise_var(items: np.ndarray) -> np.ndarray:
    """Variance of one item's value at each scale around the item's own trajectory.

    The same items are seen at every scale, so what differs between items at one scale (one
    item is long or hard at every scale) is not noise of the per-scale mean: it is the same in
    every scale's mean and is absorbed by the curve's intercept. The noise is the item x scale
    interaction:

    - values of one sign (log-likelihoods, losses): item and scale effects multiply, so the
      two-way additive model is fitted to ``ln|y|``; with per-scale noise variances ``s_t`` the
      interaction residuals have ``E[sum_i r_is^2] = (n - 1)((1 - 2/S) s_s + sum_t s_t / S^2)``,
      solved for the per-scale factor (1 with fewer than 20 items), times each item's own
      log-scale variance from its row (a long target varies less on the log scale than a
      one-token one), and carried back to the value's scale item by item
      (``Var y_is = y_is^2 s_i f_s``, delta method);
    - otherwise (counts with zeros, such as edit distances): the rank-1 (item x scale) fit by
      singular value decomposition, with residual degrees of freedom
      ``(n - 1)(1 - v_s^2 / sum v^2)`` at scale ``s`` (``v`` the scale profile).

    Either estimate is capped at the variance across items at that scale, of which the
    interaction is a part (items learned at different sizes misfit both models, whose residuals
    could otherwise exceed it). Fewer than 3 items or scales: the variance across items (the
    conservative upper bound).

    Parameters
    ----------
    items : ndarray, shape (n_items, n_scales)

    Returns
    -------
    ndarray, shape (n_scales,)
        Variance of one item's value at each scale; the per-scale mean has this over ``n_items``.

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.stats.latent import item_noise_var
    >>> rng = np.random.default_rng(0)
    >>> hard = np.exp(rng.normal(0, 1, (500, 1)))           # items differ 7x in difficulty
    >>> ce = np.exp(-np.linspace(0, 3, 8))                  # per-token CE falls with scale
    >>> ll = -5 * hard * ce * rng.gamma(25, 1 / 25, (500, 8))   # 20% token noise
    >>> ratio = item_noise_var(ll) / ll.var(axis=0, ddof=1)
    >>> bool(np.all(ratio < 0.1))                           # most spread is item difficulty
    True
    """
    Y = np.asarray(items, float)
    n, S = Y.shape
    if n < 3 or S < 3 or not np.all(np.isfinite(Y)):
        return Y.var(axis=0, ddof=1)
    if _multiplicative(Y):
        Z = np.log(np.abs(Y))
        R = Z - Z.mean(axis=1, keepdims=True) - Z.mean(axis=0) + Z.mean()
        R2 = R**2
        # item i's own log-scale variance from its row (items differ: a long target varies less
        # on the log scale than a one-token one) ...
        s_item = R2.sum(axis=1) / ((S - 1) * (n - 1) / n)
        # ... times a per-scale factor (mean 1) from the columns
        if n >= 20:
            A = (1.0 - 2.0 / S) * np.eye(S) + 1.0 / S**2
            f = np.linalg.solve(A, R2.sum(axis=0) / (n - 1))
            f = np.maximum(f, 0.05 * max(float(f.mean()), 0.0))
            f = f / max(float(f.mean()), 1e-300)
        else:
            f = np.ones(S)
        est = (Y**2 * s_item[:, None]).mean(axis=0) * f
    else:
        U, sv, Vt = np.linalg.svd(Y, full_matrices=False)
        R = Y - sv[0] * np.outer(U[:, 0], Vt[0])
        lev = Vt[0] ** 2 / np.sum(Vt[0] ** 2)
        est = (R**2).sum(axis=0) / np.maximum((n - 1) * (1.0 - lev), 1.0)
    # the interaction is part of the spread across items: when items follow trajectories of their
    # own (learned at different sizes), the models above misfit and their residuals can exceed
    # the whole spread, which is the bound
    return np.minimum(est, Y.var(axis=0, ddof=1))


def _shape_eta_all(ce: np.ndarray, shapes, buf: _Buffers | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``eta`` and ``d eta / d CE`` (G, B, S) of every shape ``(nu, e)`` for rows of ``ce``
    (B, S), and the floors ``E = e * min(ce)`` (G, B); each run of equal ``nu`` in the grid in
    one pass, in place.

    ``eta = -ln(CE - E)`` for ``nu = 0``, else ``-ln((e^{nu D} - 1) / nu)`` with ``D = CE - E``,
    computed as ``-nu D - ln(1 - e^{-nu D}) + ln nu`` (stable for large ``nu D``).
    """
    buf = _Buffers() if buf is None else buf
    G, (B, S) = len(shapes), ce.shape
    E = np.array([float(e) for _, e in shapes])[:, None] * ce.min(axis=1)
    D = np.subtract(ce[None, :, :], E[:, :, None], out=buf.get("D", (G, B, S)))
    np.maximum(D, 1e-12, out=D)
    eta = buf.get("eta", (G, B, S))
    deta = buf.get("deta", (G, B, S))
    start = 0
    for nu, run in itertools.groupby(float(nu) for nu, _ in shapes):
        stop = start + len(list(run))
        Dg, eg, dg = D[start:stop], eta[start:stop], deta[start:stop]
        start = stop
        if nu == 0:
            # eta = -ln D, d eta / d CE = -1 / D
            np.negative(np.log(Dg, out=eg), out=eg)
            np.divide(-1.0, Dg, out=dg)
            continue
        # eta = -nu D - ln(om) + ln nu with om = -expm1(-nu D); d eta / d CE = -nu / om
        np.multiply(-nu, Dg, out=eg)
        om = np.negative(np.expm1(eg, out=dg), out=dg)
        eg -= np.log(om, out=Dg)
        eg += np.log(nu)
        np.divide(-nu, om, out=dg)
    return eta, deta, E


def _shape_ce(eta: np.ndarray, nu: float, E: float) -> np.ndarray:
    """Inverse of :func:`_shape_eta_all`: ``CE`` from ``eta`` at the floor ``E`` of the fitted null."""
    if nu == 0:
        return E + np.exp(-eta)
    return E + np.log1p(nu * np.exp(-eta)) / nu


def _moment_tau2(rss: np.ndarray, a: np.ndarray, x: np.ndarray, dof: int,
                 c: np.ndarray | None, sums=None, trace=None) -> np.ndarray:
    """Method-of-moments (DerSimonian-Laird) model-to-model scatter.

    Scatter adds ``c_s tau^2`` to the variance of ``eta_s`` (``c = 1``: a variance on the shape's
    own scale; ``c=None`` is the same as ones). With true variances ``1/a_s + c_s tau^2``,
    ``E[sum a_s r_s^2] = dof + tau^2 sum a_s c_s (1 - h_s)`` (``h`` the leverages of the weighted
    line fit; for a fit with ``dof < S - 2`` the sum is scaled by ``dof / (S - 2)``), so
    ``tau^2 = max(0, (RSS - dof) / sum a c (1 - h))``. ``sums``: the weighted sums
    ``(Sw, Sx, Sxx, det)`` of ``a`` when already computed; ``trace``: ``sum a c (1 - h)`` from
    :func:`_moment_trace`.
    """
    if trace is None:
        trace = _moment_trace(a, x, c, sums)
    tr = trace * dof / max(x.size - 2, 1)
    return np.maximum(rss - dof, 0.0) / np.maximum(tr, 1e-300)


def _moment_trace(a: np.ndarray, x: np.ndarray, c: np.ndarray | None, sums=None,
                  buf: _Buffers | None = None) -> np.ndarray:
    """``sum_s a_s c_s (1 - h_s)`` of :func:`_moment_tau2` (per row)."""
    buf = _Buffers() if buf is None else buf
    if sums is None:
        Sw = a.sum(axis=1)
        Sx = (a * x).sum(axis=1)
        Sxx = (a * x * x).sum(axis=1)
        det = Sw * Sxx - Sx**2
    else:
        Sw, Sx, Sxx, det = sums
    # h = a (Sxx - 2 x Sx + x x Sw) / det
    h = np.multiply(2 * x, Sx[:, None], out=buf.get("h", a.shape))
    np.subtract(Sxx[:, None], h, out=h)
    h += np.multiply(x * x, Sw[:, None], out=buf.get("u", a.shape))
    np.multiply(a, h, out=h)
    h /= det[:, None]
    np.subtract(1.0, h, out=h)
    np.multiply(a if c is None else a * c, h, out=h)
    return h.sum(axis=1)


@dataclass
class _Setup:
    link: LatentLink
    x: np.ndarray
    n: np.ndarray | None          # items per scale (None: unknown)
    var_fixed: np.ndarray | None  # variance of the per-scale mean when not binary (S,)
    overdisp: np.ndarray | None   # edit distance: empirical / substitution-model variance
    binary: bool
    runs: int = 1
    # variance of ln CE between runs (per run): the observed curve's, or one per replicate row
    tau2_runs: float | np.ndarray | None = None
    est_disp: bool = False        # item counts unknown: quasi-binomial dispersion estimated
    # var_fixed is relative (variance / value^2): the noise of one-sign items, multiplicative
    relative: bool = False


def _fixed_var(var_fixed: np.ndarray, relative: bool, Y: np.ndarray) -> np.ndarray:
    """Item-noise variance of the per-scale means ``Y`` when it is not binomial: fixed, or for
    multiplicative noise (one-sign items) the fixed relative variance times ``Y^2``."""
    return var_fixed * np.square(Y) if relative else np.broadcast_to(var_fixed, Y.shape)


class _Fits:
    """Fits of :func:`_fit_all`: ``fits[g]`` is a dict of shape ``g``'s arrays (rows of the
    replicates); ``d0``, ``red`` and ``coef`` hold every shape at once, (G, B) and (G, B, K)."""

    def __init__(self, arrays: dict, E: np.ndarray, G: int, B: int):
        self._arrays = arrays
        self._E = E
        self._G, self._B = G, B
        K = arrays["red"].shape[1]
        self.d0 = (arrays["base"] + arrays["rss0"]).reshape(G, B)
        self.red = arrays["red"].reshape(G, B, K)
        self.coef = arrays["coef"].reshape(G, B, K)

    def __len__(self) -> int:
        return self._G

    def __getitem__(self, g: int) -> dict:
        g = int(g)
        if not -self._G <= g < self._G:
            raise IndexError(g)
        g %= self._G
        sl = slice(g * self._B, (g + 1) * self._B)
        out = {k: v[sl] for k, v in self._arrays.items()}
        out["E"] = self._E[g]
        return out


def _noise(setup: _Setup, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-token cross-entropy of the rows of ``Y`` (B, S), ``d mean / d CE`` and the item-noise
    variance of ``CE`` (delta method; per scale mean of ``setup.runs`` runs)."""
    lk = setup.link
    ce = lk.to_ce(Y)
    dmu = lk.dmean(ce)
    if setup.binary:
        v = lk.binary_var(ce, setup.n)
        if setup.overdisp is not None:
            v = v * setup.overdisp
    else:
        v = _fixed_var(setup.var_fixed, setup.relative, Y)
    v = v / setup.runs
    return ce, dmu, v / dmu**2


@dataclass(frozen=True)
class _KernelGrid:
    """What the compiled replicate loop needs that stays the same for every chunk of one test:
    the scales sorted (``order``) and centred (``x``), the break candidates as hinge flags,
    centred breakpoints and the first sorted scale where each column is nonzero, the shape grid
    (``nus``, ``floors``), and the candidates' columns (``cols``, for the numpy formulation)."""

    cols: np.ndarray
    order: np.ndarray
    x: np.ndarray
    hinge: np.ndarray
    psi: np.ndarray
    first: np.ndarray
    nus: np.ndarray
    floors: np.ndarray


def _kernel_grid(x: np.ndarray, cand, shapes) -> _KernelGrid:
    """:class:`_KernelGrid` of scales ``x`` for ``_candidates``' ``(cols, kinds, psis)`` (hinge
    and step columns, rebuilt from kind and breakpoint and checked against ``cols``)."""
    cols, ckind, cpsi = cand
    order = np.argsort(x, kind="stable")
    xs = x[order]
    mid = float(xs.mean())
    hinge = np.asarray(ckind) == "hinge"
    psi = np.asarray(cpsi, float)
    rebuilt = np.where(hinge[:, None], np.maximum(xs[None, :] - psi[:, None], 0.0),
                       (xs[None, :] > psi[:, None]).astype(float))
    if not np.array_equal(rebuilt, cols[:, order]):
        raise ValueError("break candidates must be hinge (x - psi)_+ or step 1[x > psi] columns")
    return _KernelGrid(cols=cols, order=order, x=xs - mid, hinge=hinge, psi=psi - mid,
                       first=np.searchsorted(xs, psi, side="right").astype(np.int64),
                       nus=np.array([float(nu) for nu, _ in shapes]),
                       floors=np.array([float(e) for _, e in shapes]))


def _replicate_stats(setup: _Setup, Y: np.ndarray, grid: _KernelGrid, shapes, df1: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``_stats(_fit_all(setup, Y, grid.cols, shapes, df1))[:3]``: the statistics ``T_up``,
    ``T_dn``, ``T_2`` of every replicate row of ``Y``, computed by the compiled
    :func:`~emergence.stats._kernels.replicate_stats` in one pass per replicate. The kernel
    takes the scales sorted and ``x`` centred (neither changes the fits but for rounding).
    """
    from . import _kernels as _kernel  # compiled on first use: importing numba costs a moment

    ce, dmu, var_ce = _noise(setup, Y)
    B = Y.shape[0]
    if setup.est_disp:
        mode, t_alt = _kernel.DISPERSION, np.zeros(B)
    elif setup.tau2_runs is not None:
        mode = _kernel.SCATTER_RUNS
        t_alt = np.broadcast_to(np.asarray(setup.tau2_runs, float), (B,)) / setup.runs
    else:
        mode, t_alt = _kernel.SCATTER_ESTIMATED, np.zeros(B)
    o = grid.order
    ce = np.ascontiguousarray(ce[:, o])
    var_ce = np.ascontiguousarray(var_ce[:, o])
    with np.errstate(divide="ignore"):
        log_var = np.log(var_ce)
    eta, deta, _ = _shape_eta_all(ce, shapes)
    return _kernel.replicate_stats(
        ce, eta, deta, var_ce, log_var, np.log(np.abs(dmu[:, o])), grid.nus, grid.floors,
        grid.x, grid.hinge, grid.psi, grid.first, mode,
        np.ascontiguousarray(t_alt, dtype=float), int(df1))


def _fit_all(setup: _Setup, Y: np.ndarray, cols: np.ndarray, shapes, df1: int) -> _Fits:
    """Everything the statistic needs for each replicate row of ``Y`` (B, S), per shape."""
    buf = _Buffers()
    ce, dmu, var_ce = _noise(setup, Y)
    B, S = Y.shape
    G = len(shapes)
    N = G * B
    x = setup.x
    # every shape at once: rows (shape, replicate) stacked, one weighted fit for all of them
    eta3, deta3, E = _shape_eta_all(ce, shapes, buf)                  # (G, B, S), (G, B)
    eta = eta3.reshape(N, S)
    # item-noise weights on the eta scale: 1 / max(var_ce deta^2, 1e-300)
    a = np.square(deta3, out=buf.get("a", deta3.shape))
    np.multiply(var_ce, a, out=a)
    np.maximum(a, 1e-300, out=a)
    np.divide(1.0, a, out=a)
    a = a.reshape(N, S)
    if setup.tau2_runs is not None:
        # scatter measured from runs on ln CE, carried to each shape's eta (delta method)
        c = ((deta3 * ce) ** 2).reshape(N, S)
    else:
        # scatter estimated from the fit: a variance on each shape's own eta scale (c = 1)
        c = None
    rss0a, reda, _, _, _, sums_a = _wls(eta, a, x, cols, coef=False, buf=buf)
    if setup.est_disp:
        # unknown item counts: the item noise is p(1 - p)/n with n unknown, so its scale is
        # estimated (quasi-binomial dispersion, at least the resolution floor) instead of an
        # additive scatter
        phi_alt = np.maximum((rss0a[:, None] - reda).min(axis=1) / df1, 1.0)
        # the null-fit dispersion, for simulation (the shape takes two more parameters)
        t_null = np.maximum(rss0a / max(S - 4, 1), 1.0)
        t_alt = phi_alt
        w = np.divide(a, phi_alt[:, None], out=buf.get("w", a.shape))
    else:
        if setup.tau2_runs is not None:
            t_alt = np.tile(np.broadcast_to(np.asarray(setup.tau2_runs, float), (B,)),
                            G) / setup.runs
            t_null = t_alt
        else:
            tr = _moment_trace(a, x, c, sums_a, buf)
            np.subtract(rss0a[:, None], reda, out=reda)
            t_alt = _moment_tau2(reda.min(axis=1), a, x, df1, c, trace=tr)
            t_null = _moment_tau2(rss0a, a, x, S - 2, c, trace=tr)
        # w = 1 / (1 / a + t_alt c)
        w = np.divide(1.0, a, out=buf.get("w", a.shape))
        w += t_alt[:, None] if c is None else t_alt[:, None] * c
        np.divide(1.0, w, out=w)
    rss0, red, coef, (b0, b1), (c0, c1), _ = _wls(eta, w, x, cols, buf=buf)
    # log-likelihood of the means (Jacobian of eta(y) included), up to constants
    jac = np.divide(deta3, dmu, out=buf.get("jac", deta3.shape))
    np.abs(jac, out=jac)
    np.log(jac, out=jac)
    lw = np.log(w, out=buf.get("lw", w.shape))
    base = -lw.sum(axis=1) - 2.0 * jac.reshape(N, S).sum(axis=1)
    arrays = dict(eta=eta, a=a, w=w, rss0=rss0, red=red, coef=coef, b0=b0, b1=b1, c0=c0, c1=c1,
                  base=base, tau2=t_null, tau2_alt=t_alt)
    return _Fits(arrays, E, G, B)


def _runs_tau2(setup: _Setup, runs: np.ndarray) -> float:
    """Run-to-run variance of ``ln CE`` from replicate runs.

    The spread of the runs' ``ln CE`` at every scale minus the item noise of one run (delta
    method), averaged over scales and floored at 0.
    """
    return float(_runs_tau2_many(setup, np.asarray(runs, float)[None])[0])


def _runs_tau2_many(setup: _Setup, runs: np.ndarray) -> np.ndarray:
    """:func:`_runs_tau2` for each of ``M`` sets of runs, ``runs`` of shape ``(M, R, S)``; the
    item noise of one run from ``setup`` (link, item counts or fixed variance, dispersion)."""
    link = setup.link
    M, R, S = runs.shape
    ce_r = link.to_ce(runs.reshape(M * R, S))                  # (M R, S)
    dmu = link.dmean(ce_r)
    if setup.binary:
        v = link.binary_var(ce_r, setup.n)
        if setup.overdisp is not None:
            v = v * setup.overdisp
    else:
        v = _fixed_var(setup.var_fixed, setup.relative, runs.reshape(M * R, S))
    item = (v / dmu**2 / ce_r**2).reshape(M, R, S).mean(axis=1)
    between = np.log(ce_r).reshape(M, R, S).var(axis=1, ddof=1)
    return np.maximum((between - item).mean(axis=1), 0.0)


def _stats(fits: _Fits):
    """Profile LR statistics over shapes and breaks, for both directions at once.

    ``D0`` is the best null, ``D_up``/``D_dn`` the best accelerating/decelerating break (break
    coefficient restricted to that sign): ``T_up = D0 - D_up``, ``T_dn = D0 - D_dn`` and the
    two-sided ``D0 - min(D_up, D_dn)``. Returns the three statistics and the (shape, candidate)
    of each best break (the first in (shape, candidate) order among ties).
    """
    d0 = fits.d0                                                        # (G, B)
    red = fits.red                                                      # (G, B, K)
    coef = fits.coef
    G, B, K = red.shape
    ar = np.arange(B)
    d0min = d0.min(axis=0)
    g0 = np.argmin(d0, axis=0)
    buf = _Buffers()
    # replicate-major copies: the best (shape, candidate) of a replicate is one argmin over a row
    redT = buf.get("redT", (B, G, K))
    np.copyto(redT, red.transpose(1, 0, 2))
    coefT = buf.get("coefT", (B, G, K))
    np.copyto(coefT, coef.transpose(1, 0, 2))
    d0b = d0.T[:, :, None]
    right = buf.get("right", (B, G, K), bool)
    m = buf.get("m", (B, G, K))
    # red >= 0 by construction; where it is finite, red * [right] is where(right, red, 0) exactly
    finite = bool(np.isfinite(redT).all())
    best = {}
    for name, cmp in (("up", np.greater), ("dn", np.less)):
        # a candidate of the wrong sign is fitted at 0: it reduces nothing (D is the null's)
        cmp(coefT, 0.0, out=right)
        if finite:
            np.multiply(redT, right, out=m)
        else:
            np.copyto(m, np.where(right, redT, 0.0))
        np.subtract(d0b, m, out=m)
        flat = m.reshape(B, G * K)
        j = np.argmin(flat, axis=1)
        best[name] = (flat[ar, j], j // K, j % K)
    up, dn = best["up"][0], best["dn"][0]
    T_up = np.maximum(d0min - up, 0.0)
    T_dn = np.maximum(d0min - dn, 0.0)
    T_2 = np.maximum(d0min - np.minimum(up, dn), 0.0)
    return T_up, T_dn, T_2, g0, best


@dataclass(frozen=True)
class LatentBreakResult(TestResult):
    """Result of :func:`latent_break_test`. Unpacks as ``statistic, pvalue``.

    Attributes
    ----------
    statistic, pvalue : float
        Profile likelihood-ratio statistic for an accelerating break (hinge or step) in latent
        competence and its parametric-bootstrap p-value ``(1 + #{T* >= T}) / (B + 1)``, reported
        only when the best break of either sign accelerates (1 otherwise): a curve whose bend is
        a slowdown is never evidence of acceleration, even if an upward step also improves on
        the null (the rejection region is a subset of the one-sided test's, so the size stays
        at most alpha).
    decel_pvalue, pvalue_two_sided : float
        The same for a slowdown (saturation), and the two-sided test, from the same replicates.
    pvalue_one_sided : float
        The accelerating test's p-value without the direction condition.
    null, reference : str
        The null hypothesis and reference distribution in words.
    latent : str
        Latent kind of the metric (how it maps to per-token cross-entropy).
    shape_nu, shape_floor : float
        Shape of the fitted smooth null (``nu``; irreducible ``E`` in nats per token).
    null_params : ndarray
        ``(b0, b1)`` of the null line on the ``eta`` scale.
    tau2 : float
        Model-to-model scatter: estimated from the fit, a variance on the fitted shape's ``eta``
        scale; measured from replicate runs, the variance of ``ln CE`` between runs (of one run;
        each replicate draws ``n_runs`` runs with it and re-measures it from their spread).
    tau2_source : str
        ``"runs"`` (measured from replicate runs per scale), ``"declared"`` (``scatter_sd``, a
        variance of ``ln CE``) or ``"null fit"`` (estimated).
    best_kind, psi, effect : accelerating break on the observed curve (``"none"`` if no
        accelerating candidate improves the fit); ``psi`` on the log10 scale.
    decel_kind, decel_psi, decel_effect : the same for the best decelerating break.
    any_direction : str
        Direction of the best break of either sign (``accelerating``/``decelerating``).
    fitted : ndarray
        Fitted null means at the observed scales (the simulation truth).
    n_boot, n_scales : int
    n_boot_used : int
        Replicates drawn: ``n_boot``, or fewer when every p-value was certainly above
        ``exact_below`` (sequential stopping).
    replicates : ndarray
        Accelerating-break statistics of the replicates.
    notes : tuple of str
    """

    statistic: float
    pvalue: float
    decel_pvalue: float
    pvalue_two_sided: float
    null: str
    reference: str
    latent: str
    shape_nu: float
    shape_floor: float
    null_params: np.ndarray
    tau2: float
    tau2_source: str
    best_kind: str
    psi: float
    effect: float
    decel_kind: str
    decel_psi: float
    decel_effect: float
    any_direction: str
    fitted: np.ndarray
    n_boot: int
    n_scales: int
    replicates: np.ndarray = field(repr=False)
    n_boot_used: int = 0
    notes: tuple[str, ...] = ()
    x: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    link: LatentLink | None = field(default=None, repr=False)
    break_params: dict = field(default_factory=dict, repr=False)
    eta: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    item_sigma: float = 0.0
    pvalue_one_sided: float = float("nan")
    weights: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]

    _name = "latent_break"

    def _row(self):
        row = super()._row()
        row["notes"] = "; ".join(self.notes)
        return row

    def predict(self, log10_x: np.ndarray, which: str = "null") -> np.ndarray:
        """Fitted mean of the metric at ``log10_x`` under the null or a break.

        ``which``: ``"null"``, ``"accelerating"`` or ``"decelerating"`` (the best break of that
        direction; the null where none improves the fit).
        """
        check_option(which, "which", ("null", "accelerating", "decelerating"))
        xx = np.asarray(log10_x, float)
        bp = self.break_params.get(which) if which != "null" else None
        if bp is None:
            nu, E = self.shape_nu, self.shape_floor
            eta = self.null_params[0] + self.null_params[1] * xx
        else:
            nu, E = bp["nu"], bp["E"]
            col = (np.maximum(xx - bp["psi"], 0.0) if bp["kind"] == "hinge"
                   else (xx > bp["psi"]).astype(float))
            eta = bp["b0"] + bp["b1"] * xx + bp["effect"] * col
        return self.link.mean(_shape_ce(eta, nu, E))


#: Default level below which the latent test's p-values are exact (see ``exact_below``).
EXACT_BELOW = 0.1


def _binary_items(items: np.ndarray | None) -> bool:
    return items is not None and bool(np.all((items == 0) | (items == 1)))


def latent_break_test(
    d,
    *,
    kind: str,
    item_lengths: np.ndarray | None = None,
    runs: np.ndarray | None = None,
    n_boot: int = N_BOOT,
    seed: SeedLike = None,
    shapes: tuple[tuple[float, float], ...] | None = None,
    alternative: str = "both",
    bounds: tuple[float, float] = (0.0, 1.0),
    exact_below: float | None = EXACT_BELOW,
    scatter_sd: float | None = None,
) -> LatentBreakResult:
    """Parametric-bootstrap profile LR test for a break in latent per-token competence.

    Parameters
    ----------
    d : CurveData
        From :func:`emergence.stats._data.as_curve_data` (``x`` on the log10 scale).
    kind : str
        Latent kind of the metric (:func:`latent_kind`).
    item_lengths : ndarray, optional
        Target length in tokens of each item (rows of ``d.items``); unknown lengths are taken
        as 1 (each answer one unit) and a note says so.
    runs : ndarray, optional
        Per-scale values of replicate runs, shape ``(R, S)`` (R >= 2): their spread measures the
        run-to-run scatter directly; ``d.y`` is then the mean over runs.
    n_boot : int, default=999
    seed : int, Generator, SeedSequence or None
    shapes : tuple of (nu, e), optional
        Grid of null shapes; default :func:`default_shapes` of ``kind``. ``((0.0, 0.0),)`` is
        Schaeffer et al.'s pure power law.
    alternative : {"both", "hinge", "step"}, default="both"
    bounds : (float, float), default=(0, 1)
        Declared range of the metric (used by the ``bounded`` kind).
    exact_below : float or None, default=0.1
        Sequential Monte Carlo p-values (Besag and Clifford 1991): replicates are drawn in
        chunks of :data:`CHUNK`, and drawing stops once every reported p-value has
        ``ceil(exact_below * (B + 1))`` exceedances, so is certainly above ``exact_below``. Every
        p-value at or below ``exact_below`` is exactly the one of all ``B`` replicates (same
        seed, same stream), so a decision at any level ``alpha <= exact_below`` is the same as
        with all ``B``; larger p-values are ``(1 + k) / (m + 1)`` from the ``m`` replicates
        drawn (``n_boot_used``). ``None`` draws all ``B``.
    scatter_sd : float, optional
        Declared model-to-model scatter: the standard deviation of ``ln CE`` between models of
        the same size trained independently (one run each), e.g. measured from seeds of the same
        family at other sizes. Used in the statistic and the reference instead of an estimate
        from the curve's own points (which has ``S - 4`` degrees of freedom). Runs per scale
        (``runs``), when given, measure it from the data instead; curves without item counts
        (noise scale estimated) do not use it. A notes entry says which applied.

    Returns
    -------
    LatentBreakResult

    Notes
    -----
    H0: ``eta(CE(N))`` is a straight line in ``log10 N`` for some shape ``(nu, E)`` of the grid
    (smooth latent competence with floor and ceiling), observed through the metric's exact link
    with item noise and Gaussian model-to-model scatter ``tau^2`` on the ``eta`` scale.
    Statistic: ``T = D0 - D_up`` with ``D = -2 log L`` of the per-scale means (Gaussian,
    delta-method variance ``1/a_s + tau^2``, Jacobian of the shape transform included),
    minimised over shapes (``D0``) and over shapes, breakpoints and kinds with the break
    coefficient restricted to accelerating values (``D_up``); the p-value counts only when the
    best break of either sign accelerates (a slowdown that fits better is saturation). Reference:
    parametric bootstrap from the fitted null (shape, line, ``tau^2`` from the null fit),
    replicates drawn at item level (binomial per target-length group for 0/1 items; the
    substitution model scaled to the items' dispersion for edit distance; Gaussian with the
    items' or reported variance otherwise, a fixed share of each value's square for items of one
    sign, whose noise :func:`item_noise_var` models on ``ln|y|``), each refitted in full.

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.stats._data import as_curve_data
    >>> from emergence.stats.latent import latent_break_test
    >>> x = np.linspace(7, 11, 10)
    >>> ce = 10 ** (-0.35 * (x - 7) + 0.1)             # Schaeffer's power law, L = 5
    >>> k = np.random.default_rng(0).binomial(500, np.exp(-5 * ce))
    >>> d = as_curve_data(x=x, y=k / 500, n_items=500, metric="exact_match", min_scales=5)
    >>> r = latent_break_test(d, kind="exact_match", item_lengths=np.full(500, 5.0), seed=1)
    >>> bool(r.pvalue > 0.05)
    True
    """
    check_option(alternative, "alternative", ("both", "hinge", "step"))
    shapes = default_shapes(kind) if shapes is None else tuple(shapes)
    rng = check_rng(seed)
    n_boot = int(n_boot)
    if n_boot < 0:
        raise ValueError(f"`n_boot` must be >= 0 (0: fit only); got {n_boot!r}.")
    if exact_below is not None and not 0 < float(exact_below) < 1:
        raise ValueError(f"`exact_below` must be in (0, 1) or None; got {exact_below!r}.")
    notes: list[str] = []
    x = d.x
    S = x.size
    items = d.items
    binary = _binary_items(items) or (items is None and d.proportion)
    nitem = d.n if d.n is not None else None
    if kind in ("exact_match", "edit_distance", "loglik") and item_lengths is not None \
            and items is not None and len(item_lengths) == items.shape[0] \
            and np.all(np.isfinite(item_lengths)) and np.all(np.asarray(item_lengths) >= 1):
        lens, cnt = np.unique(np.asarray(item_lengths, float), return_counts=True)
        wts = cnt / cnt.sum()
    else:
        lens, wts, cnt = np.array([1.0]), np.array([1.0]), None
        if kind in ("exact_match", "edit_distance", "loglik"):
            notes.append("target lengths unknown: each answer counts as one token (L = 1), so "
                         "the latent link is the metric's own bounded logistic family")
    units = None
    resolution = None
    if nitem is None and d.proportion:
        resolution = value_resolution(d.y)
        nitem = np.full(S, 1.0 / resolution)
        notes.append(f"no item counts: item noise floored by the resolution of the reported "
                     f"values ({resolution:g}), as if {1 / resolution:.0f} items per scale")
    if nitem is not None:
        units = nitem * (float(np.sum(lens * wts)) if kind == "edit_distance" else 1.0)
    if kind in ("multiple_choice", "brier") and not (np.isfinite(d.chance) and 0 < d.chance < 1):
        raise ValueError(f"the {kind} latent link needs the chance level; declare it "
                         "(chance=... / --chance TASK=VALUE)")
    link = LatentLink(kind, lens, wts, chance=float(d.chance) if np.isfinite(d.chance) else 0.0,
                      lo=float(bounds[0]), hi=float(bounds[1]),
                      higher_is_better=bool(d.higher_is_better), units=units)
    sigma = 0.0
    if kind in ("exact_match", "multiple_choice") and _binary_items(items) and S >= 3:
        sigma = item_heterogeneity(link, d.y, items)
        if sigma > 0:
            link = link.with_heterogeneity(sigma)
            notes.append(f"items differ in difficulty (sd {sigma:g} of ln CE across items, "
                         "matched to the spread of item totals): the latent link averages over it")
    var_fixed = None
    relative = False
    overdisp = None
    if kind == "edit_distance" and items is not None:
        ce_obs = link.to_ce(d.y[None, :])[0]
        q = np.exp(-ce_obs)
        model_v = float(np.sum(lens * wts)) * q * (1 - q) / items.shape[0]
        emp_v = item_noise_var(items) / items.shape[0]
        overdisp = np.maximum(emp_v / np.maximum(model_v, 1e-300), 1.0)
        binary = True  # substitution model (binomial over tokens), scaled by the dispersion
        nitem = np.full(S, float(items.shape[0]))
    elif not binary:
        if items is not None and items.shape[0] > 1:
            var_fixed = item_noise_var(items) / items.shape[0]
        elif d.stderr is not None:
            var_fixed = np.asarray(d.stderr, float) ** 2
        else:
            r = value_resolution(d.y)
            var_fixed = np.full(S, r**2 / 12.0)
            notes.append(f"no standard errors: noise floored by the resolution of the reported "
                         f"values ({r:g}); model-to-model scatter is estimated from the fit")
        floor = (1e-6 * max(np.ptp(d.y), np.abs(d.y).max(), 1e-12)) ** 2
        var_fixed = np.maximum(var_fixed, floor)
        if items is not None and _multiplicative(items):
            # noise estimated on ln|y| (item_noise_var): the reference keeps it a fixed share of
            # each scale's value, so a replicate whose value differs from the data's (the null
            # misses a break) has the data's relative noise, not its absolute one
            relative = True
            var_fixed = var_fixed / np.square(d.y)
    nrun = 1
    tau2_runs = None
    declared = False
    scatter_sd = check_scatter_sd(scatter_sd)
    setup = _Setup(link, x, nitem, var_fixed, overdisp, binary, est_disp=resolution is not None,
                   relative=relative)
    if runs is not None and np.ndim(runs) == 2 and runs.shape[0] >= 2:
        nrun = int(runs.shape[0])
        if var_fixed is not None and items is not None:
            # items are means over runs: their variance already shrank by the number of runs
            var_fixed = var_fixed * nrun
        # the runs measure the scatter: no dispersion is estimated
        setup = replace(setup, var_fixed=var_fixed, est_disp=False)
        tau2_runs = _runs_tau2(setup, runs)
        setup = replace(setup, runs=nrun, tau2_runs=tau2_runs)
        notes.append(f"{nrun} runs per scale: run-to-run scatter measured directly from their "
                     f"spread (variance {tau2_runs:.3g} of ln CE per run)"
                     + ("" if scatter_sd is None else
                        f"; the declared scatter (sd {scatter_sd:g}) is not used"))
    elif scatter_sd is not None and setup.est_disp:
        notes.append(f"declared scatter (sd {scatter_sd:g}) not used: without item counts the "
                     "noise scale is estimated from the curve")
    elif scatter_sd is not None:
        declared = True
        tau2_runs = scatter_sd**2
        setup = replace(setup, tau2_runs=tau2_runs)
        notes.append(f"model-to-model scatter declared: sd {scatter_sd:g} of ln CE per model "
                     "(not estimated from the curve)")
    cols, ckind, cpsi = _candidates(x, alternative)
    df1 = max(S - 4, 1)
    fits = _fit_all(setup, d.y[None, :], cols, shapes, df1)
    T_up, T_dn, T_2, g0, best = _stats(fits)
    _, g_up, k_up = best["up"]
    _, g_dn, k_dn = best["dn"]
    g0 = int(g0[0])
    f0 = fits[g0]
    nu0, e0 = shapes[g0]
    b0, b1 = float(f0["b0"][0]), float(f0["b1"][0])
    E0 = float(f0["E"][0])
    # per-model scatter (per run when runs are given); the mean of nrun runs has 1/nrun of it
    tau2 = float(f0["tau2"][0]) if tau2_runs is None else float(tau2_runs)
    tau2_sim = tau2 if tau2_runs is None else tau2 / nrun
    phi = 1.0
    if setup.est_disp:
        phi, tau2, tau2_sim = tau2, 0.0, 0.0
        notes.append(f"item noise scaled by the dispersion around the smooth null ({phi:.3g} "
                     f"times a binomial with {1 / resolution:.0f} items)")
    eta0 = b0 + b1 * x
    ce0 = _shape_ce(eta0, nu0, E0)
    mu0 = link.mean(ce0)

    def brk(g, k):
        g, k = int(g[0]), int(k[0])
        f = fits[g]
        eff = float(f["coef"][0, k])
        return dict(kind=str(ckind[k]), psi=float(cpsi[k]), effect=eff, nu=shapes[g][0],
                    E=float(f["E"][0]), b0=float(f["b0"][0] - eff * f["c0"][0, k]),
                    b1=float(f["b1"][0] - eff * f["c1"][0, k]))

    up = brk(g_up, k_up) if T_up[0] > 1e-9 else None
    dn = brk(g_dn, k_dn) if T_dn[0] > 1e-9 else None
    any_dir = ("none" if T_2[0] <= 1e-9 else
               "accelerating" if best["up"][0][0] <= best["dn"][0][0] else "decelerating")
    eta_obs = fits[g0]["eta"][0]
    w_obs = fits[g0]["w"][0]
    common = dict(
        statistic=float(T_up[0]), latent=kind, shape_nu=float(nu0), shape_floor=E0,
        null_params=np.array([b0, b1]), tau2=tau2,
        tau2_source=("declared" if declared else "runs" if tau2_runs is not None
                     else "null fit"),
        best_kind=up["kind"] if up else "none", psi=up["psi"] if up else float("nan"),
        effect=up["effect"] if up else 0.0,
        decel_kind=dn["kind"] if dn else "none", decel_psi=dn["psi"] if dn else float("nan"),
        decel_effect=dn["effect"] if dn else 0.0, any_direction=any_dir, fitted=mu0,
        n_boot=n_boot, n_scales=S, x=x, link=link,
        break_params={k: v for k, v in (("accelerating", up), ("decelerating", dn))
                      if v is not None},
        eta=eta_obs, item_sigma=sigma, weights=w_obs,
    )
    if n_boot == 0:  # fit only (for drawing): no reference distribution
        nan = float("nan")
        return LatentBreakResult(pvalue=nan, decel_pvalue=nan, pvalue_two_sided=nan,
                                 null="", reference="fit only (n_boot = 0)",
                                 replicates=np.empty(0), notes=tuple(notes), **common)
    # --- parametric bootstrap under the fitted null ---------------------------------------
    # model-to-model scatter around the fitted null (measured from runs: on ln CE; estimated
    # from the fit: on the fitted shape's eta scale), then item-level noise
    def simulate(m: int) -> tuple[np.ndarray, np.ndarray | None]:
        """``m`` replicate curves, and with runs the run-to-run scatter each of them measures:
        every run is drawn on its own (scatter on ln CE, then its item noise), the replicate is
        their mean and its scatter is re-measured from their spread, as on the data."""
        if tau2_runs is None:
            eps = rng.standard_normal((m, S))
            return draw(_shape_ce(eta0[None, :] + np.sqrt(tau2_sim) * eps, nu0, E0), 1), None
        if declared:  # the declared scatter on ln CE, then item noise; nothing to re-measure
            eps = rng.standard_normal((m, S))
            return draw(ce0[None, :] * np.exp(np.sqrt(tau2_runs) * eps), 1), None
        eps = rng.standard_normal((m * nrun, S))
        yr = draw(ce0[None, :] * np.exp(np.sqrt(tau2_runs) * eps), nrun).reshape(m, nrun, S)
        return yr.mean(axis=1), _runs_tau2_many(setup, yr)

    def draw(ce_s: np.ndarray, per: int) -> np.ndarray:
        """Metric values with item noise at latent ``ce_s``; ``per``: runs averaged later (the
        Gaussian item variance is then that of one run)."""
        m = ce_s.shape[0]
        mu_s = link.mean(ce_s)
        if binary:
            if kind in ("exact_match", "multiple_choice") and link.lengths.size > 1:
                probs = np.exp(-ce_s[..., None] * link.lengths)                # (m, S, J)
                if kind == "multiple_choice":
                    probs = link.chance + (1 - link.chance) * probs
                n_j = np.round(float(np.median(nitem)) * link.weights).astype(np.int64)
                keep = n_j > 0
                n_j, probs = n_j[keep], probs[..., keep]
                return rng.binomial(np.broadcast_to(n_j, probs.shape),
                                    np.clip(probs, 0, 1)).sum(axis=2) / n_j.sum()
            if kind == "edit_distance":
                L = float(np.sum(lens * wts))
                ntok = np.round(nitem * L).astype(np.int64)
                qwrong = np.clip(1.0 - np.exp(-ce_s), 0, 1)
                cnts = rng.binomial(np.broadcast_to(ntok, qwrong.shape), qwrong)
                dev = cnts / nitem - mu_s
                return np.clip(mu_s + np.sqrt(overdisp) * dev, 0.0, L)
            nn = np.maximum(np.round(nitem / phi), 1).astype(np.int64)
            if kind == "exact_match":
                p = np.clip(mu_s, 0, 1)
            else:
                p = np.clip(mu_s, 0, 1) if link.kind != "bounded" else np.clip(
                    (mu_s - link.lo) / (link.hi - link.lo), 0, 1)
            Ys = rng.binomial(np.broadcast_to(nn, p.shape), p) / nn
            if link.kind == "bounded":
                Ys = link.lo + (link.hi - link.lo) * Ys
            return Ys
        sd = np.sqrt(var_fixed / (nrun / per))
        Ys = mu_s + (sd * np.abs(mu_s) if relative else sd) * rng.standard_normal((m, S))
        if kind in ("loglik", "loglik_per_token"):
            Ys = np.minimum(Ys, -1e-12)
        elif kind in ("loss",):
            Ys = np.maximum(Ys, 1e-12)
        elif kind == "perplexity":
            Ys = np.maximum(Ys, 1.0 + 1e-12)
        return Ys

    # Replicates come in fixed chunks (the same stream whether or not the loop stops early).
    # Sequential Monte Carlo p-values (Besag & Clifford 1991): the loop stops once every
    # p-value the result reports has h = ceil(exact_below * (B + 1)) exceedances, i.e. is
    # certainly above ``exact_below``; every p-value at or below it is exactly the one of all
    # B replicates, so every decision at a level alpha <= exact_below is unchanged.
    obs = {"up": float(T_up[0]), "dn": float(T_dn[0]), "2": float(T_2[0])}
    track = ["up", "2"]
    if any_dir == "decelerating" and not setup.est_disp:
        track.append("dn")
    h = (int(np.ceil(exact_below * (n_boot + 1))) if exact_below is not None
         else n_boot + 1)
    counts = dict.fromkeys(obs, 0)
    reps: dict[str, list[np.ndarray]] = {k: [] for k in obs}
    done = 0
    grid = _kernel_grid(x, (cols, ckind, cpsi), shapes)
    while done < n_boot:
        m = min(CHUNK, n_boot - done)
        ys, tau2_rep = simulate(m)
        st = setup if tau2_rep is None else replace(setup, tau2_runs=tau2_rep)
        for key, Ts in zip(("up", "dn", "2"), _replicate_stats(st, ys, grid, shapes, df1),
                           strict=True):
            reps[key].append(Ts)
            t = obs[key]
            counts[key] += int(np.count_nonzero(Ts >= t - 1e-9 * max(abs(t), 1.0)))
        done += m
        if all(counts[k] >= h for k in track):
            break
    Ts_up, Ts_dn, Ts_2 = (np.concatenate(reps[k]) for k in ("up", "dn", "2"))

    def pv(T, Ts):
        t = float(T[0])
        return float((1 + np.count_nonzero(Ts >= t - 1e-9 * max(abs(t), 1.0))) / (Ts.size + 1))

    p_up, p_dn = pv(T_up, Ts_up), pv(T_dn, Ts_dn)
    if setup.est_disp:
        # the noise scale is estimated from a handful of points: the two-sided reference, with
        # the direction of the best break, holds its size where the one-sided one does not
        p_up = p_dn = pv(T_2, Ts_2)
        notes.append("item counts unknown: the two-sided p-value is used with the direction of "
                     "the best break")
    shape_txt = ("Schaeffer et al.'s power law" if (nu0 == 0 and e0 == 0) else
                 f"nu = {nu0:g}" + (f", irreducible CE {E0:.3g}" if e0 > 0 else ""))
    null_txt = (f"smooth latent competence: eta(CE) linear in log10 scale for a shape of the grid "
                f"(fitted: {shape_txt}), seen through the exact {kind} link; alternative adds an "
                "accelerating hinge or step on the latent scale")
    sim_txt = {True: "item-level binomial draws per target-length group",
               False: "Gaussian means with the items' or reported variance"}[bool(binary)]
    if relative:
        sim_txt = "Gaussian means with the items' relative variance (multiplicative noise)"
    if kind == "edit_distance":
        sim_txt = "substitution-model token counts scaled to the items' dispersion"
    if declared:
        sim_txt = f"declared scatter on ln CE, then {sim_txt[0].lower()}{sim_txt[1:]}"
    elif tau2_runs is not None:
        sim_txt = (f"{nrun} runs per scale drawn one by one (scatter on ln CE, then "
                   f"{sim_txt.split(' (')[0].lower()}) and averaged, the scatter re-measured from "
                   "their spread")
    refit = "shape and breakpoint" if declared else "shape, scatter and breakpoint"
    ref = (f"parametric bootstrap under the fitted null with model-to-model scatter tau^2 = "
           f"{tau2:.3g} " + ("of ln CE (declared)" if declared else "on the latent scale")
           + f"; {sim_txt}; {refit} refitted in every replicate; B = {n_boot}"
           + ("" if Ts_up.size == n_boot else
              f" (stopped after {Ts_up.size}: every p-value certainly above {exact_below:g}, "
              "sequential Monte Carlo p-values)"))
    return LatentBreakResult(
        pvalue=(p_up if any_dir == "accelerating" else 1.0),
        decel_pvalue=(p_dn if any_dir == "decelerating" else 1.0),
        pvalue_two_sided=pv(T_2, Ts_2), pvalue_one_sided=pv(T_up, Ts_up),
        null=null_txt, reference=ref, replicates=Ts_up, n_boot_used=int(Ts_up.size),
        notes=tuple(notes), **common,
    )
