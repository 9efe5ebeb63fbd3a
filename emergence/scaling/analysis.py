"""The scaling analysis of one tidy table: every fit the report's scaling section shows.

:func:`analyze_scaling` picks what the table supports and fits it; it draws nothing and writes
nothing (:func:`emergence.scaling.section.write_section` renders its result):

* **loss laws**: for each loss-like curve (loss, perplexity, ...) with several model sizes and
  token counts, the Chinchilla law (4,500-start grid, bootstrap intervals) and the placement of
  every model relative to its compute-optimal frontier (active parameters for mixture-of-experts
  models). With a single model size (or a single token count) only a one-axis power law is
  fitted, and the notes say so. Without a law of its own, models are placed against a published
  law (Besiroglu et al. 2024);
* **transitions**: for the proportion metrics (accuracy, exact match) with the widest range, the
  chance-floored sigmoid with its 5%-95% transition zone and bootstrap interval;
* **backtests**: for the same curves, fit below a cutoff and forecast above it (sigmoid and
  linear; the Mirage route when a perplexity of the same task is present).

Observational tables (many families with few models each) are pooled across families.

Examples
--------
>>> import numpy as np, pandas as pd
>>> x = np.geomspace(1e20, 1e24, 10)
>>> t = pd.DataFrame({"family": [f"f{i}" for i in range(10)],
...                   "model": [f"m{i}" for i in range(10)], "task": "arith", "metric": "acc",
...                   "flops": x, "value": 1 / (1 + np.exp(-2 * (np.log10(x) - 22)))})
>>> sa = analyze_scaling(t, n_boot=20)
>>> [tr.curve.name for tr in sa.transitions]
['(pooled) / arith / acc']
>>> [r.method for r in sa.transitions[0].backtests]
['sigmoid', 'linear']
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._defaults import N_BOOT, SEED
from .._exceptions import EmergenceError
from .._random import SeedLike
from ..curves import Curve, extract_curves
from ..registry import MetricFacts, find_metric_info
from ..schema import validate
from .allocation import place_models
from .backtest import BacktestResult, SigmoidFit, backtest, backtest_frame, fit_sigmoid, pooled_curve
from .chinchilla import (
    BESIROGLU_2024,
    ChinchillaFit,
    ChinchillaParams,
    fit_chinchilla,
    is_loss_metric,
    loss_runs,
)
from .powerlaw import PowerLawFit, fit_power_law

__all__ = ["LossLaw", "Placement", "ScalingAnalysis", "Transition", "analyze_scaling", "slug"]


def slug(s: str) -> str:
    """Readable file-name part plus a hash of the exact text (``x/y`` and ``x-y`` differ).

    Examples
    --------
    >>> slug("val/loss")
    'val_loss_cd4153b9'
    """
    digest = hashlib.sha256(str(s).encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return "".join(ch if ch.isalnum() else "_" for ch in str(s)).strip("_")[:60] + "_" + digest


@dataclass(frozen=True)
class LossLaw:
    """A loss law fitted to one loss-like curve of the table.

    Attributes
    ----------
    name : str
        ``task/metric`` (with ``N-shot`` when shots are set).
    slug : str
        File-name part of the curve (:func:`slug`).
    loss_label : str
        Axis label of the loss.
    fit : ChinchillaFit or PowerLawFit
        The two-axis law, or a one-axis power law when the table cannot identify two axes.
    """

    name: str
    slug: str
    loss_label: str
    fit: ChinchillaFit | PowerLawFit

    @property
    def two_axis(self) -> bool:
        """True for a Chinchilla law ``L(N, D)``, False for a one-axis power law."""
        return isinstance(self.fit, ChinchillaFit)


@dataclass(frozen=True)
class Placement:
    """Where each model sits relative to a compute-optimal frontier.

    Attributes
    ----------
    table : DataFrame
        :func:`~emergence.scaling.place_models` of the table (without predicted losses when the
        law is a published one).
    law : ChinchillaFit or ChinchillaParams
        The law of the frontier.
    law_name : str or None
        Name of the fitted loss law (:attr:`LossLaw.name`), None for the published law.
    shown : DataFrame
        The rows of ``table`` with a known scale (the ones drawn).
    """

    table: pd.DataFrame
    law: ChinchillaFit | ChinchillaParams
    law_name: str | None
    shown: pd.DataFrame

    @property
    def n_unknown(self) -> int:
        """Models left out of the figure: parameters or tokens (or FLOPs) unknown."""
        return len(self.table) - len(self.shown)


@dataclass(frozen=True)
class Transition:
    """The chance-floored sigmoid of one proportion curve and its backtests.

    Attributes
    ----------
    curve : Curve
    slug : str
        File-name part of the curve.
    sigmoid : SigmoidFit
    backtests : tuple of BacktestResult
        The routes that could be fitted below ``cutoff`` (sigmoid, linear, and mirage when a
        continuous metric of the same task is present).
    cutoff : float
        Scale below which the backtests fit.
    """

    curve: Curve
    slug: str
    sigmoid: SigmoidFit
    backtests: tuple[BacktestResult, ...]
    cutoff: float


@dataclass(frozen=True)
class ScalingAnalysis:
    """Result of :func:`analyze_scaling`: the fits of one table, with the settings that made them.

    Attributes
    ----------
    laws : tuple of LossLaw
        In the order of the table's loss curves.
    placement : Placement or None
        Against the first fitted Chinchilla law, else against the published law (None when fewer
        than two models have both parameters and tokens).
    transitions : tuple of Transition
        Widest-range proportion curves first.
    notes : tuple of str
        What was left out or could not be fitted, and why, in the order it happened.
    seed, n_boot
        Randomness and bootstrap replicates of every fit.
    """

    laws: tuple[LossLaw, ...] = ()
    placement: Placement | None = None
    transitions: tuple[Transition, ...] = ()
    notes: tuple[str, ...] = ()
    seed: SeedLike = SEED
    n_boot: int = N_BOOT

    def transitions_frame(self) -> pd.DataFrame:
        """Sigmoid fits and transition zones, one row per curve (empty without transitions)."""
        rows = [t.sigmoid.to_frame() for t in self.transitions]
        return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()

    def backtests_frame(self) -> pd.DataFrame:
        """Every backtest, one row per curve and route (empty without backtests)."""
        bt = [r for t in self.transitions for r in t.backtests]
        return backtest_frame(bt) if bt else pd.DataFrame()

    def to_frame(self) -> pd.DataFrame:
        """One row per fit: ``kind`` (chinchilla, power law, sigmoid, backtest) and its curve."""
        rows = [{"kind": "chinchilla" if law.two_axis else "power law", "curve": law.name}
                for law in self.laws]
        for t in self.transitions:
            rows.append({"kind": "sigmoid", "curve": t.curve.name})
            rows += [{"kind": f"backtest ({r.method})", "curve": t.curve.name}
                     for r in t.backtests]
        return pd.DataFrame(rows, columns=["kind", "curve"])

    def summary(self) -> str:
        """Counts of each kind of fit, and the notes."""
        where = ("none" if self.placement is None else
                 self.placement.law_name or "published law (Besiroglu et al. 2024)")
        lines = [f"scaling: {len(self.laws)} loss laws, placement: {where}, "
                 f"{len(self.transitions)} transitions "
                 f"(n_boot={self.n_boot}, seed={self.seed})"]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _loss_combos(t: pd.DataFrame, facts: MetricFacts | None = None) -> list[tuple[str, str, Any]]:
    lossy = t["metric"].astype(str).map(lambda m: is_loss_metric(m, facts)).astype(bool)
    sub = t[lossy & t["item"].isna()]
    combos = sub[["task", "metric", "shots"]].drop_duplicates()
    combos = combos.assign(_s=combos["shots"].astype("float64").fillna(-1)).sort_values(
        ["_s", "task", "metric"])
    return [(r.task, r.metric, r.shots) for r in combos.itertuples(index=False)]


def _loss_laws(t, notes, *, seed, n_boot, max_loss_curves, min_tokens_fraction, grid,
               metric_facts) -> tuple[list[LossLaw], Placement | None]:
    laws: list[LossLaw] = []
    placement = None
    for task, metric, shots in _loss_combos(t, metric_facts)[:max_loss_curves]:
        sel = t[(t["task"] == task) & (t["metric"] == metric)]
        sel = sel[sel["shots"].isna()] if pd.isna(shots) else sel[sel["shots"] == shots]
        name = f"{task}/{metric}" + ("" if pd.isna(shots) else f" {int(shots)}-shot")
        runs = loss_runs(sel, task=task, metric=metric, metric_facts=metric_facts)
        keep = np.isfinite(runs["loss"]) & (runs["loss"] > 0) & (runs["N"] > 0)
        if runs["D"].notna().any():  # tokens known: warm-up checkpoints stay out
            final = runs.groupby("model")["D"].transform("max")
            keep &= (runs["D"] > 0) & (runs["D"] >= min_tokens_fraction * final)
        if (~keep).any():
            notes.append(f"{name}: {int((~keep).sum())} of {len(runs)} runs left out of the loss "
                         f"law (missing/non-positive values or under {min_tokens_fraction:.0%} of "
                         "the model's final tokens).")
        runs = runs[keep].reset_index(drop=True)
        s = slug(f"{task}_{metric}_{'' if pd.isna(shots) else int(shots)}")
        loss_label = f"{task} {'log-perplexity (nats)' if 'pl' in metric else metric}"
        nN, nD = runs["N"].nunique(), runs["D"].dropna().nunique()
        if len(runs) >= 6 and nN >= 2 and nD >= 2 and runs["D"].notna().all():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fit = fit_chinchilla(runs, params="N", tokens="D", loss="loss",
                                         labels="label", n_boot=n_boot, seed=seed, grid=grid)
            except EmergenceError as exc:
                notes.append(f"{name}: the Chinchilla law could not be fitted ({exc})")
                continue
            laws.append(LossLaw(name, s, loss_label, fit))
            if placement is None:
                pm = place_models(t, fit)
                placement = Placement(pm, fit, name, pm)
        elif runs["model"].nunique() >= 3 or (nN == 1 and nD >= 3):
            axis = "N" if nN >= 2 else "D"
            if axis == "N":  # across sizes: the last checkpoint of each model
                runs = runs.sort_values("D", na_position="first").groupby("model").tail(1)
            try:
                pl = fit_power_law(runs[axis].to_numpy(), runs["loss"].to_numpy(),
                                   n_boot=n_boot, seed=seed,
                                   x_name="params" if axis == "N" else "tokens",
                                   y_name=loss_label, floor=len(runs) >= 4)
            except EmergenceError as exc:
                notes.append(f"{name}: no loss law ({exc})")
                continue
            why = ("only one model size" if axis == "D" else
                   "no token counts" if runs["D"].isna().any() else "only one token count")
            notes.append(f"{name}: {why}; the two-axis law is not identifiable, so only a "
                         f"one-axis power law in {pl.x_name} was fitted.")
            laws.append(LossLaw(name, s, loss_label, pl))
        else:
            notes.append(f"{name}: too few runs for a loss law ({len(runs)}).")
    return laws, placement


def _published_placement(t, notes) -> Placement | None:
    """Models against the published law when the table has no loss law of its own."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm = place_models(t, BESIROGLU_2024)
    known = pm["status"] != "unknown scale"
    if known.sum() >= 2:
        pm = pm.drop(columns=[c for c in ("loss_pred", "loss_opt", "loss_excess")
                              if c in pm.columns])
        return Placement(pm, BESIROGLU_2024, None, pm[known])
    if len(pm):
        notes.append(f"no compute-optimal placement: {int(known.sum())} of {len(pm)} models "
                     "have both parameters and tokens (or FLOPs).")
    return None


def _default_cutoff(xs: np.ndarray, x: str) -> float:
    """1e22 FLOPs when that leaves 3 points below and 1 above, else ~60% of the points below."""
    if x == "flops" and (xs < 1e22).sum() >= 3 and (xs >= 1e22).sum() >= 1:
        return 1e22
    k = max(3, int(np.ceil(0.6 * xs.size)))
    return float(np.sqrt(xs[min(k, xs.size - 1) - 1] * xs[min(k, xs.size - 1)]))


def _continuous_companion(t, c: Curve, x: str) -> Curve | None:
    """A continuous metric of the same task (and family) for the Mirage route, or None."""
    fam = t[(t["task"] == c.task) & t["item"].isna()]
    if c.family != "(pooled)":
        fam = fam[fam["family"] == c.family]
    for m in ("ppl", "perplexity", "p_token", "loglik_per_token", "loss"):
        if (fam["metric"] == m).any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cc = [k for k in extract_curves(fam[fam["metric"] == m], x=x, along="size",
                                                on_mismatch="intersect", ties="mean")
                      if k.shots == c.shots]
            return cc[0] if cc else None
    return None


def _transitions(t, notes, *, seed, n_boot, cutoff, max_curves, metric_facts,
                 chance) -> list[Transition]:
    def is_prop(m: str) -> bool:
        info = find_metric_info(m, metric_facts)
        return info is not None and info.is_proportion

    prop = t[t["metric"].astype(str).map(is_prop).astype(bool) & t["item"].isna()]
    if not len(prop):
        notes.append("no proportion metric (accuracy, exact match) in the table: no emergence "
                     "figure or backtest.")
        return []
    x = "flops" if prop["flops"].notna().mean() > 0.5 else "params"
    per_fam = prop.groupby("family")["model"].nunique()
    curves = []
    if len(per_fam) >= 5 and per_fam.median() <= 4:  # observational: pool the families
        for task, metric in prop[["task", "metric"]].drop_duplicates().itertuples(index=False):
            try:
                curves.append(pooled_curve(prop, task=task, metric=metric, x=x,
                                           metric_facts=metric_facts,
                                           chance={k: v for k, v in (chance or {}).items()
                                                   if k == task}))
            except EmergenceError as exc:
                notes.append(str(exc))
        notes.append("many families with few models each: curves pool all models (observational "
                     "scaling).")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cs = extract_curves(prop, x=x, along="size", on_mismatch="intersect", ties="mean",
                                metric_facts=metric_facts,
                                chance={k: v for k, v in (chance or {}).items()
                                        if k in set(prop["task"])})
        curves = list(cs)
    curves = [c for c in curves if c.n_scales >= 5 and np.isfinite(c.y).sum() >= 5]
    curves.sort(key=lambda c: -(np.nanmax(c.y) - np.nanmin(c.y)))
    out = []
    for c in curves[:max_curves]:
        shot = "" if c.shots is None else f"{c.shots}shot"
        s = slug(f"{c.family if c.family != '(pooled)' else ''}_{c.task}_{c.metric}_{shot}")
        try:
            sf = fit_sigmoid(c, n_boot=n_boot, seed=seed)
        except EmergenceError as exc:
            notes.append(f"{c.name}: {exc}")
            continue
        cut = cutoff if cutoff is not None else _default_cutoff(np.sort(c.x[np.isfinite(c.y)]), x)
        cont = _continuous_companion(t, c, x)
        done = []
        for m in ("sigmoid", "linear") + (("mirage",) if cont is not None else ()):
            try:
                done.append(backtest(c, method=m, cutoff=cut, continuous=cont, n_boot=n_boot,
                                     seed=seed))
            except EmergenceError as exc:
                notes.append(f"{c.name} ({m} backtest): {exc}")
        out.append(Transition(c, s, sf, tuple(done), cut))
    return out


def analyze_scaling(
    table: pd.DataFrame,
    *,
    seed: SeedLike = SEED,
    n_boot: int = N_BOOT,
    cutoff: float | None = None,
    max_loss_curves: int = 1,
    max_curves: int = 4,
    min_tokens_fraction: float = 0.01,
    grid: np.ndarray | None = None,
    metric_facts: MetricFacts | None = None,
    chance: dict[str, float] | None = None,
) -> ScalingAnalysis:
    """Fit the loss laws, placements, transitions and backtests that ``table`` supports.

    Parameters
    ----------
    table : DataFrame
        Tidy table.
    seed : None, int, SeedSequence or Generator
        Randomness of the bootstraps.
    n_boot : int, default=999
        Bootstrap replicates of each fit.
    cutoff : float, optional
        Scale below which backtests fit (default: 1e22 FLOPs when that leaves at least 3 points
        below and one above, else the scale below which about 60% of the points lie).
    max_loss_curves, max_curves : int
        How many loss curves and proportion curves to treat.
    min_tokens_fraction : float, default=0.01
        Checkpoints that have seen less than this share of their model's final tokens are left
        out of the loss-law fit (warm-up is not described by the law); the count is in the notes.
    grid : ndarray, optional
        Starts of the Chinchilla fit (default: the 4,500-point published grid).
    metric_facts, chance : mapping, optional
        Declared metric facts and chance levels, as in :func:`emergence.curves.extract_curves`.

    Returns
    -------
    ScalingAnalysis
    """
    t = validate(table, metric_facts=metric_facts)
    notes: list[str] = []
    laws, placement = _loss_laws(t, notes, seed=seed, n_boot=n_boot,
                                 max_loss_curves=max_loss_curves,
                                 min_tokens_fraction=min_tokens_fraction, grid=grid,
                                 metric_facts=metric_facts)
    if placement is None:
        placement = _published_placement(t, notes)
    transitions = _transitions(t, notes, seed=seed, n_boot=n_boot, cutoff=cutoff,
                               max_curves=max_curves, metric_facts=metric_facts, chance=chance)
    return ScalingAnalysis(tuple(laws), placement, tuple(transitions), tuple(notes),
                           seed=seed, n_boot=n_boot)
