"""The scaling section of the HTML report: figures (PNG) and tables (CSV) from one tidy table.

:func:`report_section` picks what the table supports:

* **loss laws**: for each loss-like curve (loss, perplexity, ...) with several model sizes and
  token counts, the Chinchilla law (4,500-start grid, bootstrap intervals), the loss-against-compute
  figure with the compute-optimal frontier, and the placement of every model relative to that
  frontier (active parameters for mixture-of-experts models). With a single model size (or a single
  token count) only a one-axis power law is fitted, and the notes say so;
* **emergence**: for the proportion metrics (accuracy, exact match) with the widest range, the
  chance-floored sigmoid with its 5%-95% transition zone and bootstrap interval;
* **backtests**: for the same curves, fit below a cutoff and forecast above it (sigmoid and linear;
  the Mirage route when a perplexity of the same task is present).

Observational tables (many families with few models each) are pooled across families.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .._csvsafe import write_csv
from .._defaults import N_BOOT, SEED
from .._exceptions import EmergenceError
from .._random import SeedLike
from ..plots import figure_style, save_figure
from ..registry import MetricFacts, find_metric_info
from ..schema import validate
from ..tidy import extract_curves
from .allocation import place_models
from .backtest import backtest, backtest_frame, fit_sigmoid, pooled_curve
from .chinchilla import BESIROGLU_2024, fit_chinchilla, is_loss_metric, loss_runs
from .plots import plot_backtests, plot_emergence, plot_loss_vs_compute, plot_placement
from .powerlaw import fit_power_law

__all__ = ["report_section"]


def _slug(s: str) -> str:
    """Readable file-name part plus a hash of the exact text (``x/y`` and ``x-y`` differ)."""
    digest = hashlib.sha256(str(s).encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return "".join(ch if ch.isalnum() else "_" for ch in str(s)).strip("_")[:60] + "_" + digest


def _loss_combos(t: pd.DataFrame, facts: MetricFacts | None = None) -> list[tuple[str, str, Any]]:
    lossy = t["metric"].astype(str).map(lambda m: is_loss_metric(m, facts)).astype(bool)
    sub = t[lossy & t["item"].isna()]
    combos = sub[["task", "metric", "shots"]].drop_duplicates()
    combos = combos.assign(_s=combos["shots"].astype("float64").fillna(-1)).sort_values(
        ["_s", "task", "metric"])
    return [(r.task, r.metric, r.shots) for r in combos.itertuples(index=False)]


def report_section(
    table: pd.DataFrame,
    out_dir: str | Path,
    *,
    seed: SeedLike = SEED,
    n_boot: int = N_BOOT,
    cutoff: float | None = None,
    max_loss_curves: int = 1,
    max_curves: int = 4,
    min_tokens_fraction: float = 0.01,
    grid: np.ndarray | None = None,
    dpi: int = 200,
    metric_facts: MetricFacts | None = None,
    chance: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Write the scaling-law figures and tables of ``table`` into ``out_dir``.

    Parameters
    ----------
    table : DataFrame
        Tidy table.
    out_dir : str or Path
        Report folder; files go to ``figures/scaling_*.png`` and ``tables/scaling_*.csv``.
    seed : None, int, SeedSequence or Generator
        Randomness of the bootstraps.
    n_boot : int, default=999
        Bootstrap replicates of each fit.
    cutoff : float, optional
        Scale below which backtests fit (default: 1e22 FLOPs when that leaves at least 3 points on
        each side, else the scale below which about 60% of the points lie).
    max_loss_curves, max_curves : int
        How many loss curves and proportion curves to treat.
    min_tokens_fraction : float, default=0.01
        Checkpoints that have seen less than this share of their model's final tokens are left out
        of the loss-law fit (warm-up is not described by the law); the count is in the notes.
    grid : ndarray, optional
        Starts of the Chinchilla fit (default: the 4,500-point published grid).
    dpi : int, default=200
        Resolution of the PNG figures (an SVG is written beside each).
    metric_facts, chance : mapping, optional
        Declared metric facts and chance levels, as in :func:`emergence.tidy.extract_curves`.

    Returns
    -------
    dict
        ``{"title": str, "figures": [{"path", "title", "caption", "flag"}], "tables": [{"path",
        "title", "frame", "note"}], "notes": [str]}``. Paths are relative to ``out_dir`` (each
        PNG has an SVG beside it); ``frame`` is the DataFrame written to the CSV; ``flag`` says
        when a figure shows a fit that is not a result (degenerate or uninformative, a zone
        beyond the data), empty otherwise.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np, pandas as pd
    >>> x = np.geomspace(1e20, 1e24, 10)
    >>> t = pd.DataFrame({"family": [f"f{i}" for i in range(10)], "model": [f"m{i}" for i in range(10)],
    ...                   "task": "arith", "metric": "acc", "flops": x,
    ...                   "value": 1 / (1 + np.exp(-2 * (np.log10(x) - 22)))})
    >>> out = report_section(t, tempfile.mkdtemp(), n_boot=50)
    >>> sorted(f["path"] for f in out["figures"])[:1]
    ['figures/scaling_backtest_arith_acc_6ff6b1d8.png']
    """
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    t = validate(table, metric_facts=metric_facts)
    figures: list[dict[str, str]] = []
    tables: list[dict[str, Any]] = []
    notes: list[str] = []

    def save_fig(ax_or_fig, name: str, title: str, caption: str, flag: str = "") -> None:
        fig = getattr(ax_or_fig, "figure", ax_or_fig)
        path = f"figures/scaling_{name}.png"
        save_figure(fig, out / path, dpi=dpi)
        plt.close(fig)
        figures.append({"path": path, "title": title, "caption": caption, "flag": flag})

    def save_table(frame: pd.DataFrame, name: str, title: str, note: str = "") -> None:
        path = f"tables/scaling_{name}.csv"
        write_csv(frame, out / path)
        tables.append({"path": path, "title": title, "frame": frame, "note": note})

    # ---- loss laws ------------------------------------------------------------------------
    placed = False
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
        slug = _slug(f"{task}_{metric}_{'' if pd.isna(shots) else int(shots)}")
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
            frame = fit.to_frame()
            frame.insert(0, "curve", name)
            save_table(frame, f"chinchilla_{slug}", f"Chinchilla law for {name}")
            with figure_style():
                ax = plot_loss_vs_compute(fit.runs, fit, loss_label=loss_label)
            ax.set_title(f"{name}: L(N, D) = E + A/N^α + B/D^β", fontsize=9, parse_math=False)
            p = fit.params
            save_fig(ax, f"loss_vs_compute_{slug}", f"Loss against compute: {name}",
                     f"Each colour is one model size across training; dashed: the fitted law "
                     f"(E={p.E:.3g}, A={p.A:.3g}, B={p.B:.3g}, α={p.alpha:.3g}, β={p.beta:.3g}); "
                     "black: compute-optimal frontier; grey: best observed size at each budget. "
                     "Lines are drawn over the observed compute range only. Checkpoints of one "
                     "run share a learning-rate schedule, so intermediate points overstate the "
                     "loss a run tuned for that budget would reach.")
            if not placed:
                pm = place_models(t, fit)
                save_table(pm, "placement", f"Models relative to the compute-optimal frontier "
                           f"({name} law)")
                with figure_style():
                    ax = plot_placement(pm, fit, title=f"Models against the compute-optimal "
                                        f"size of the fitted {name} law")
                save_fig(ax, "placement", f"Compute-optimal placement ({name} law)",
                         "Each model's (active) parameters against its training compute; black: "
                         "the compute-optimal size N_opt(C) of the fitted law, grey band: within "
                         "1.5x of it. Above the band: more parameters and fewer tokens than "
                         "optimal (under-trained); below: over-trained.")
                placed = True
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
            frame = pl.to_frame()
            frame.insert(0, "curve", name)
            save_table(frame, f"powerlaw_{slug}", f"Power law for {name}")
        else:
            notes.append(f"{name}: too few runs for a loss law ({len(runs)}).")

    # ---- placement against a published law when the table has no loss law ----------------
    if not placed:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pm = place_models(t, BESIROGLU_2024)
        known = pm["status"] != "unknown scale"
        if known.sum() >= 2:
            pm = pm.drop(columns=[c for c in ("loss_pred", "loss_opt", "loss_excess")
                                  if c in pm.columns])
            save_table(pm, "placement", "Models relative to the compute-optimal frontier "
                       "(published law: Besiroglu et al. 2024, the Epoch replication of "
                       "Chinchilla)",
                       note="The table has no loss to fit a law of its own, so the frontier is "
                       "the Epoch replication's (70B parameters and about 20 tokens per "
                       "parameter at Chinchilla's budget). Losses are not predicted for these "
                       "models: only their allocation is compared.")
            with figure_style():
                ax = plot_placement(pm[known], BESIROGLU_2024)
            save_fig(ax, "placement", "Compute-optimal placement (Epoch replication law)",
                     f"{int(known.sum())} models with known parameters and tokens (or FLOPs) "
                     "against the compute-optimal size N_opt(C) of Besiroglu et al. (2024); grey "
                     "band: within 1.5x. Above it: under-trained for their compute; below: "
                     "over-trained (the usual case for recent models trained on many tokens)."
                     + (f" {int((~known).sum())} models without parameters or tokens are left "
                        "out." if (~known).any() else ""))
        elif len(pm):
            notes.append(f"no compute-optimal placement: {int(known.sum())} of {len(pm)} models "
                         "have both parameters and tokens (or FLOPs).")

    # ---- emergence and backtests --------------------------------------------------------
    def is_prop(m: str) -> bool:
        info = find_metric_info(m, metric_facts)
        return info is not None and info.is_proportion

    prop = t[t["metric"].astype(str).map(is_prop).astype(bool) & t["item"].isna()]
    if not len(prop):
        notes.append("no proportion metric (accuracy, exact match) in the table: no emergence "
                     "figure or backtest.")
        return {"title": "Scaling laws and predictability", "figures": figures,
                "tables": tables, "notes": notes}
    x = "flops" if prop["flops"].notna().mean() > 0.5 else "params"
    per_fam = prop.groupby("family")["model"].nunique()
    pooled = len(per_fam) >= 5 and per_fam.median() <= 4
    curves = []
    if pooled:
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
    curves = curves[:max_curves]
    sig_rows, bt = [], []
    for c in curves:
        shot = "" if c.shots is None else f"{c.shots}shot"
        slug = _slug(f"{c.family if c.family != '(pooled)' else ''}_{c.task}_{c.metric}_{shot}")
        try:
            sf = fit_sigmoid(c, n_boot=n_boot, seed=seed)
        except EmergenceError as exc:
            notes.append(f"{c.name}: {exc}")
            continue
        sig_rows.append(sf.to_frame())
        ylab = f"{c.metric} ({'higher' if c.info.higher_is_better else 'lower'} is better)"
        with figure_style():
            ax = plot_emergence(sf, ylabel=ylab)
        z0, z1 = sf.zone
        out_of = [f"{'starts' if i == 0 else 'ends'} at 10^{np.log10(z):.1f}"
                  for i, z in enumerate((z0, z1)) if np.isfinite(z)
                  and (z < np.min(sf.x) if i == 0 else z > np.max(sf.x))]
        flag = ("The transition zone reaches beyond the data (" + ", ".join(out_of)
                + f"; data from 10^{np.log10(np.min(sf.x)):.1f} to "
                f"10^{np.log10(np.max(sf.x)):.1f}): it is an extrapolation of the fitted "
                "sigmoid, drawn clipped to the data.") if out_of else ""
        save_fig(ax, f"emergence_{slug}", f"Transition zone: {c.name}",
                 "Chance-floored sigmoid in log scale; dark band: 5%-95% of the way from floor "
                 f"to ceiling; light band: {sf.level:.0%} bootstrap bounds of the zone's edges.",
                 flag)
        xs = np.sort(c.x[np.isfinite(c.y)])
        cut = cutoff
        if cut is None:
            if x == "flops" and (xs < 1e22).sum() >= 3 and (xs >= 1e22).sum() >= 1:
                cut = 1e22
            else:
                k = max(3, int(np.ceil(0.6 * xs.size)))
                cut = float(np.sqrt(xs[min(k, xs.size - 1) - 1] * xs[min(k, xs.size - 1)]))
        methods = ["sigmoid", "linear"]
        cont = None
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
                if cc:
                    cont = cc[0]
                    methods.append("mirage")
                break
        done = []
        for m in methods:
            try:
                r = backtest(c, method=m, cutoff=cut, continuous=cont, n_boot=n_boot, seed=seed)
            except EmergenceError as exc:
                notes.append(f"{c.name} ({m} backtest): {exc}")
                continue
            bt.append(r)
            done.append(r)
        if done:
            bad = [f"{r.method}: {', '.join(r.flags)}" for r in done if r.flags]
            flag = ("Not results: " + "; ".join(bad) + " (see the flags and notes columns of "
                    "the backtest table).") if bad else ""
            routes = ", ".join(r.method for r in done)
            save_fig(plot_backtests(done), f"backtest_{slug}", f"Backtests: {c.name}",
                     f"Fitted below {done[0].x_name} = {done[0].cutoff:.3g} (dashed line), "
                     f"forecast above with a {done[0].level:.0%} prediction interval, one panel "
                     f"per route ({routes}"
                     + ("; mirage: the per-token loss of the same task extrapolated as a power "
                        "law and mapped to exact match" if "mirage" in routes else "")
                     + "); red points fall outside the interval. A flagged panel is not a "
                     "result.", flag)
    if sig_rows:
        save_table(pd.concat(sig_rows, ignore_index=True), "transitions",
                   "Sigmoid fits and transition zones")
    if bt:
        save_table(backtest_frame(bt), "backtests", "Predictability backtests",
                   note="Rows with flags are not results: 'degenerate' (the sigmoid is a step "
                   "the fitted scales do not resolve) or 'uninformative' (the prediction "
                   "interval spans half the metric's range or more, so coverage says little).")
    return {"title": "Scaling laws and predictability", "figures": figures, "tables": tables,
            "notes": notes}
