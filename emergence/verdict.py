"""Verdicts: is an apparent transition real, a metric artifact, or beyond what the data resolve?

:func:`assess` runs the tests of :mod:`emergence.stats` on every curve, adjusts the p-values
across curves (Benjamini-Hochberg) and combines the metrics of each (family, task[, model])
into one verdict with its reasons.

An emergent ability is a sudden *improvement*: after the breakpoint the metric improves faster
than before (a convex kink or an upward jump in the direction of improvement, on the metric's
link scale). Every break and curvature test is therefore one-sided in that direction
(``direction="improving"`` in :func:`~emergence.stats.bootstrap.pblrt_test`). A concave kink
(improvement slowing down: saturation, a ceiling, an irreducible loss) is the opposite of
emergence; it is tested separately (one-sided, ``decelerating``) and only ever reported as such.

``"candidate genuine transition"``
    An accelerating break (hinge or step) or accelerating curvature survives against the
    metric's smooth null on its link scale: under a continuous metric, or under exact match /
    accuracy against the Mirage (``ln(-ln y)`` linear) or chance-floored sigmoid null. An
    accelerating break does not count when a significant slowdown fits the same curve better
    (the best break of either sign is decelerating): on a saturating curve an early upward step
    only absorbs the concavity.
``"metric artifact"``
    An accelerating break is significant against a straight line in the raw metric (the
    "apparent" transition), but the metric-appropriate smooth null explains it and no
    continuous metric shows an accelerating break. Metrics that are continuous but sharp in
    per-token error (BLEU, ROUGE) only ever count as apparent transitions.
``"underpowered"``
    Every metric of the group has too few scales (fewer than ``min_scales``) or fewer than three
    scales above the ``3/n`` resolution limit.
``"no transition"``
    Neither an apparent nor a surviving accelerating break. A significant slowdown
    (decelerating break or concave curvature) is named in the reasons as saturation, not an
    emergent transition.

Seed variance (one trained model per scale) is not captured: item-level uncertainty is a lower
bound, which every verdict states.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._validation import check_interval
from .curves import fit_curve
from .stats._data import as_curve_data, default_null
from .stats.bootstrap import pblrt_test
from .stats.davies import davies_test
from .stats.ic import ic_table
from .stats.intervals import binomial_test_chance
from .stats.multiple import fdr
from .stats.paired import adjacent_mcnemar_test
from .stats.scores import emergence_score, emergence_score_interval
from .stats.supf import supf_test, threshold_interval
from .tidy import Curve, CurveSet

__all__ = [
    "VERDICTS",
    "VerdictTable",
    "assess",
    "assess_curve",
    "combine",
    "fitted_lines",
    "curve_seed",
]

VERDICTS = ("candidate genuine transition", "metric artifact", "underpowered", "no transition")
KEY_COLS = ["family", "model", "task", "shots", "metric", "x_name"]
GROUP_COLS = ["family", "model", "task", "shots", "x_name"]
SEED_NOTE = "seed variance not observed: item-level uncertainty is a lower bound"


def curve_seed(curve: Curve, seed: int) -> np.random.SeedSequence:
    """Seed of one curve, derived from ``seed`` and the curve's identity (order independent)."""
    key = "|".join(str(curve.key[k]) for k in KEY_COLS)
    return np.random.SeedSequence([int(seed) & 0xFFFFFFFF, zlib.crc32(key.encode())])


#: below this share of null replicates bending the tested way, the one-sided p-value is not used
#: alone (see :func:`_pvalue`)
MIN_NULL_SHARE = 0.25


def _pvalue(res, label: str, notes: list[str]) -> float:
    """p-value of a one-sided PB-LRT for the verdict.

    When the simulated null bends systematically against the tested direction (fewer than
    ``MIN_NULL_SHARE`` of the replicates' best breaks go the tested way; about 1/2 for a
    well-behaved null), the one-sided p-value leans on that bend, so the larger of the one- and
    two-sided p-values is used and a note says so.
    """
    p = res.pvalue
    if res.direction != "both" and np.isfinite(res.null_share) and \
            res.null_share < MIN_NULL_SHARE:
        p = max(p, res.pvalue_two_sided)
        notes.append(f"{label}: only {100 * res.null_share:.0f}% of null replicates bend the "
                     "tested way (floor/ceiling effects with model-to-model scatter), so the "
                     "two-sided p-value is used when larger")
    return float(p)


def _resolved(d) -> tuple[int, str]:
    """Scales above the 3/n resolution limit (above chance for multiple choice)."""
    if not d.proportion:
        return d.n_scales, ""
    if d.n is None:
        return d.n_scales, "item counts unknown: the 3/n resolution limit is not checked"
    ch = d.chance if np.isfinite(d.chance) else 0.0
    y = d.y if d.higher_is_better else 1 - d.y
    lim = ch + 3.0 / d.n
    k = int(np.sum(y > lim))
    return k, ""


def assess_curve(
    curve: Curve,
    *,
    seed: int = 0,
    n_boot: int = 999,
    alpha: float = 0.05,
    min_scales: int = 6,
    ic: bool = True,
) -> dict:
    """All tests on one curve, as one flat row (p-values not yet adjusted across curves).

    Never raises on bad data: a curve that cannot be tested gets ``status`` ``"underpowered"``
    or ``"error"`` with the reason.
    """
    row: dict = {k: curve.key[k] for k in KEY_COLS}
    row.update(n_scales=curve.n_scales, status="ok", reason="", notes="")
    notes: list[str] = list(curve.notes)
    try:
        d = as_curve_data(curve, min_scales=2)
    except (ValueError, TypeError) as e:
        row.update(status="error", reason=str(e))
        return row
    row.update(
        n_scales=d.n_scales, kind=d.kind, sharp=d.sharp, proportion=d.proportion,
        n_items=float(np.median(d.n)) if d.n is not None else np.nan,
        has_items=d.items is not None, chance=d.chance,
        y_first=float(d.y[0]), y_last=float(d.y[-1]),
    )
    resolved, rnote = _resolved(d)
    row["resolved_scales"] = resolved
    if rnote:
        notes.append(rnote)
    if d.n is None:
        notes.append("aggregate-only curve: no item counts, replicates are Gaussian on the link "
                      "scale and the resolution limit is unknown")
    elif d.items is None:
        notes.append("no item matrix: binomial item noise assumed, no paired or cluster "
                     "bootstrap")
    # Emergence Score (oriented so that higher is better)
    ysign = 1.0 if d.higher_is_better else -1.0
    if d.n_scales >= 3:
        es = emergence_score(d.x, ysign * d.y, n_items=d.n if d.proportion else None,
                             stderr=d.stderr)
        row.update(es=es.score, es_unfloored=es.unfloored_score, es_floor_applied=es.floor_applied)
        if d.items is not None and d.n_scales >= 3:
            ss = np.random.default_rng(curve_seed(curve, seed + 7))
            iv = emergence_score_interval(ysign * d.items, d.x, n_boot=min(n_boot, 999),
                                          alpha=alpha, seed=ss)
            row.update(es_low=iv.low, es_high=iv.high)
    # descriptive item-level checks: first scale above chance, largest paired gain
    lab = [str(v) for v in np.asarray(curve.labels)[np.argsort(curve.x, kind="mergesort")]]
    if d.proportion and d.n is not None:
        ch = d.chance if np.isfinite(d.chance) else 0.0
        k = np.round((d.y if d.higher_is_better else 1 - d.y) * d.n)
        above = binomial_test_chance(k, d.n, ch).pvalue <= alpha
        row["first_above_chance"] = lab[int(np.argmax(above))] if above.any() else ""
    if d.binary_items and d.n_scales >= 2:
        mc = adjacent_mcnemar_test(d.items if d.higher_is_better else 1 - d.items,
                                   labels=lab).table
        gain = (mc["b"] - mc["c"]).to_numpy()
        j = int(np.argmax(gain))
        row.update(mcnemar_max_gain=int(gain[j]), mcnemar_pair=f"{mc['from'][j]}->{mc['to'][j]}",
                   mcnemar_p_bonf=float(min(1.0, mc["pvalue"][j] * len(mc))))
    null = default_null(d)
    row["null_model"] = null
    if d.n_scales < max(min_scales, 5):
        row.update(status="underpowered",
                   reason=f"{d.n_scales} scales; a break test against a 2-parameter null needs at "
                   f"least {max(min_scales, 5)}")
        row["notes"] = "; ".join(dict.fromkeys(notes))
        return row
    if d.proportion and d.n is not None and resolved < 3:
        row.update(status="underpowered",
                   reason=f"only {resolved} of {d.n_scales} scales above the 3/n resolution limit "
                   f"({3 / np.min(d.n):.3g} above chance)")
    ss = curve_seed(curve, seed).spawn(6)
    try:
        # primary: one-sided (accelerating improvement) break against the smooth null
        main = pblrt_test(curve, null=null, n_boot=n_boot, seed=ss[0])
        # the curve-level note above already says the curve is aggregate-only
        notes.extend(n for n in main.notes
                     if not (d.n is None and n.startswith("aggregate-only:")))
        row.update(pblrt_stat=main.statistic, pblrt_p=_pvalue(main, "break test", notes),
                   pblrt_p_two_sided=main.pvalue_two_sided, pblrt_null_share=main.null_share,
                   pblrt_kind=main.best_kind,
                   pblrt_psi=main.psi, pblrt_effect=main.effect, simulate=main.simulate,
                   link=main.link, pblrt_direction=main.direction,
                   improve_sign=main.improve_sign,
                   pblrt_effect_direction=main.effect_direction,
                   pblrt_any_kind=main.any_kind, pblrt_any_psi=main.any_psi,
                   pblrt_any_effect=main.any_effect, pblrt_any_direction=main.any_direction)
        if null == "power_law":
            notes.append("power_law null is a pure power law (no irreducible-loss or asymptote "
                         "term): a curve approaching a floor or ceiling bends towards slower "
                         "improvement on log y, which is reported as saturation, never as a "
                         "transition")
        if null == "linear":
            row.update(naive_p=row["pblrt_p"], naive_kind=main.best_kind, naive_psi=main.psi,
                       naive_direction=main.effect_direction)
        else:
            nv = pblrt_test(curve, null="linear", n_boot=n_boot, seed=ss[1])
            row.update(naive_p=_pvalue(nv, "raw-metric break test", notes),
                       naive_kind=nv.best_kind, naive_psi=nv.psi,
                       naive_direction=nv.effect_direction)
        cv = pblrt_test(curve, null=null, alternative="curvature", n_boot=n_boot, seed=ss[2])
        row.update(curv_p=_pvalue(cv, "curvature test", notes), curv_effect=cv.any_effect,
                   curv_direction=cv.any_direction)
        # the opposite one-sided tests: improvement slowing down (saturation)
        dc = pblrt_test(curve, null=null, direction="decelerating", n_boot=n_boot, seed=ss[4])
        row.update(decel_p=_pvalue(dc, "slowdown test", notes), decel_kind=dc.best_kind,
                   decel_psi=dc.psi,
                   decel_effect=dc.effect)
        dcv = pblrt_test(curve, null=null, alternative="curvature", direction="decelerating",
                         n_boot=n_boot, seed=ss[5])
        row.update(decel_curv_p=_pvalue(dcv, "concave-curvature test", notes))
        # cross-checks on the link scale: Davies (2002), one-sided in the improving direction
        # (R segmented alternative "greater"/"less"), and Hansen sup-F (two-sided, with the
        # direction of its best break)
        from .curves import get_link

        lk = get_link(main.link, main.chance)
        z = lk.forward(lk.adjust(d.y, d.n))
        if main.pvalue <= alpha and main.best_kind in ("hinge", "step"):
            ci = threshold_interval(d.x, z, kind=main.best_kind, alpha=alpha, n_grid=60)
            row.update(psi_low=ci.low, psi_high=ci.high)
        dalt = "greater" if main.improve_sign > 0 else "less"
        dv = davies_test(d.x, z, alternative=dalt)
        row.update(davies_p=dv.pvalue, davies_best=dv.best, davies_alternative=dalt)
        try:
            sf = supf_test(d.x, z, n_boot=n_boot, seed=ss[3])
            row.update(supf_stat=sf.statistic, supf_p=sf.pvalue, supf_psi=sf.psi,
                       supf_direction=_direction(sf.shift, main.improve_sign))
        except ValueError as e:
            notes.append(f"sup-F not run: {e}")
        if ic:
            tab = ic_table(x=d.x, y=d.y, chance=d.chance).to_frame().set_index("model")
            row["ic_best"] = str(tab["aicc"].idxmin()) if tab["aicc"].notna().any() else ""
            brk = [m for m in ("hinge", "step") if m in tab.index]
            for c in ("w_aicc", "w_aicc_psi3", "w_bic", "w_bic_psi3"):
                row[f"{c}_break"] = float(tab.loc[brk, c].sum()) if brk else np.nan
    except (ValueError, np.linalg.LinAlgError, FloatingPointError) as e:
        row.update(status="error", reason=f"{type(e).__name__}: {e}")
    row["notes"] = "; ".join(dict.fromkeys(notes))
    return row


def _direction(v: float, sign: float) -> str:
    if v is None or not np.isfinite(v) or v == 0:
        return "none"
    return "accelerating" if sign * v > 0 else "decelerating"


P_COLS = ("pblrt_p", "naive_p", "curv_p", "decel_p", "decel_curv_p")


def _add_qvalues(df: pd.DataFrame, alpha: float) -> pd.DataFrame:
    df = df.copy()
    for col in P_COLS:
        if col not in df:
            df[col] = np.nan
        p = pd.to_numeric(df[col], errors="coerce").to_numpy(float)
        q, _ = fdr(p, alpha=alpha, method="fdr_bh")
        df[col[:-2] + "_q"] = q
    for col in ("pblrt_effect_direction", "naive_direction", "curv_direction",
                "pblrt_any_direction"):
        if col not in df:
            df[col] = "none"
        df[col] = df[col].fillna("none").astype(str)
    ok = df["status"] == "ok"
    acc = "accelerating"
    # every flag is about accelerating improvement; the tests are one-sided, and the direction
    # is checked again so that rows of another origin cannot flip the meaning
    df["apparent_break"] = ok & (df["naive_q"] <= alpha) & (df["naive_direction"] == acc)
    df["break_survives"] = ok & (df["pblrt_q"] <= alpha) & (df["pblrt_effect_direction"] == acc)
    df["accelerating"] = (ok & (df["curv_q"] <= alpha) & (df["curv_p"] <= alpha)
                          & (df["curv_direction"] == acc))
    slow_break = ok & (df["decel_q"] <= alpha)
    df["slowing"] = slow_break | (ok & (df["decel_curv_q"] <= alpha))
    # an upward step on a saturating curve only absorbs its concavity: it does not count when a
    # significant slowdown fits the curve better (the best break of either sign decelerates)
    df["break_dominated"] = (df["break_survives"] & slow_break
                             & (df["pblrt_any_direction"] == "decelerating"))
    df["break_counts"] = df["break_survives"] & ~df["break_dominated"]
    return df


def _fmt(v: float) -> str:
    return "nan" if not np.isfinite(v) else (f"{v:.2g}" if v < 0.001 else f"{v:.3f}")


def _slowing_reason(r, alpha: float) -> str:
    """Reason text for a significant slowdown of improvement (saturation)."""
    if r["decel_q"] <= alpha and isinstance(r.get("decel_kind"), str) \
            and r["decel_kind"] in ("hinge", "step"):
        what = ("improvement slows after" if r["decel_kind"] == "hinge"
                else "step towards worse values at")
        txt = (f"{r['metric']}: {what} 10^{r['decel_psi']:.2f} ({r['decel_kind']} against the "
               f"{r['null_model']} null, p={_fmt(r['decel_p'])}, q={_fmt(r['decel_q'])})")
    else:
        txt = (f"{r['metric']}: improvement slows down (concave curvature on the "
               f"{r['null_model']} link scale, p={_fmt(r['decel_curv_p'])}, "
               f"q={_fmt(r['decel_curv_q'])})")
    txt += ": saturation, not an emergent transition"
    if r.get("break_dominated", False):
        txt += (f"; the accelerating {r['pblrt_kind']} at 10^{r['pblrt_psi']:.2f} "
                f"(p={_fmt(r['pblrt_p'])}) fits worse than the slowdown and is not counted")
    if r["null_model"] == "power_law":
        txt += ("; the power_law null has no irreducible-loss term, so a curve approaching its "
                "floor bends this way")
    return txt


def combine(rows: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Group verdicts across metrics from per-curve rows with q-values.

    Parameters
    ----------
    rows : DataFrame
        Output of :meth:`VerdictTable.to_frame` (one row per curve).
    alpha : float, default=0.05
        FDR level used on the q-values.

    Returns
    -------
    DataFrame
        One row per (family, model, task, shots, x_name): ``verdict``, ``reasons`` and the
        metrics in each role.
    """
    out = []
    gcols = [c for c in GROUP_COLS if c in rows]
    for key, g in rows.groupby(gcols, dropna=False, sort=True):
        reasons: list[str] = []
        ok = g[g["status"] == "ok"]
        under = g[g["status"] == "underpowered"]
        err = g[g["status"] == "error"]
        for _, r in under.iterrows():
            reasons.append(f"{r['metric']}: underpowered ({r['reason']})")
        for _, r in err.iterrows():
            reasons.append(f"{r['metric']}: not tested ({r['reason']})")
        cont = ok[(ok["kind"] == "continuous") & ~ok["sharp"].astype(bool)]
        genuine = []
        slow = []
        for _, r in ok.iterrows():
            if r["sharp"]:
                continue  # BLEU/ROUGE are sharp in per-token error: never evidence on their own
            if r["break_counts"]:
                genuine.append(f"{r['metric']}: accelerating {r['pblrt_kind']} at "
                               f"10^{r['pblrt_psi']:.2f} survives against the "
                               f"{r['null_model']} null (p={_fmt(r['pblrt_p'])}, "
                               f"q={_fmt(r['pblrt_q'])})")
            elif r["accelerating"]:
                genuine.append(f"{r['metric']}: accelerating curvature on the "
                               f"{r['null_model']} link scale (p={_fmt(r['curv_p'])}, "
                               f"q={_fmt(r['curv_q'])})")
            if r["slowing"]:
                slow.append(_slowing_reason(r, alpha))
        apparent = ok[ok["apparent_break"] | (ok["sharp"] & ok["break_survives"])]
        if genuine:
            verdict = "candidate genuine transition"
            reasons = genuine + slow + reasons
            hit = ok[(ok["break_counts"] | ok["accelerating"]) & ~ok["sharp"]]
            disc_only = not (hit["kind"] == "continuous").any()
            if disc_only and len(cont):
                reasons.append("not confirmed under continuous metrics "
                               f"({', '.join(cont['metric'])}: no break)")
            if disc_only and not len(cont):
                reasons.append("no continuous metric available to confirm")
        elif len(apparent):
            verdict = "metric artifact"
            pre = []
            for _, r in apparent.iterrows():
                if r["sharp"]:
                    pre.append(f"{r['metric']}: break (q={_fmt(r['pblrt_q'])}) under a metric that "
                               "is sharp in per-token error (Schaeffer et al. 2023), not evidence "
                               "of a transition by itself")
                    continue
                pre.append(f"{r['metric']}: apparent accelerating {r['naive_kind']} against a "
                           f"straight line (q={_fmt(r['naive_q'])}) is explained by the smooth "
                           f"{r['null_model']} null (accelerating break not significant after "
                           f"FDR: p={_fmt(r['pblrt_p'])}, q={_fmt(r['pblrt_q'])})")
            if len(cont):
                pre.append("no accelerating break under continuous metrics "
                           f"({', '.join(cont['metric'])})")
            else:
                pre.append("no continuous metric available; the conclusion rests on the "
                           "link-scale null")
            reasons = pre + slow + reasons
        elif len(ok) == 0:
            verdict = "underpowered"
            if not reasons:
                reasons.append("no metric could be tested")
        else:
            verdict = "no transition"
            reasons = ["no accelerating break against a straight line or the smooth null under "
                       f"{', '.join(ok['metric'])}"] + slow + reasons
        limits = {n for ns in g["notes"].fillna("") for n in str(ns).split("; ") if n}
        agg = sorted(g.loc[g["notes"].fillna("").str.contains("aggregate-only"), "metric"])
        if agg:
            reasons.append(f"limits: {', '.join(agg)} aggregate-only (no item counts), so "
                           "bootstrap noise is Gaussian on the link scale and the resolution "
                           "limit is unknown")
        reasons.append(SEED_NOTE)
        rec = dict(zip(gcols, key if isinstance(key, tuple) else (key,), strict=True))
        rec.update(
            verdict=verdict,
            reasons="; ".join(reasons),
            metrics=", ".join(g["metric"]),
            metrics_tested=int(len(ok)),
            min_pblrt_q=float(ok["pblrt_q"].min()) if len(ok) else np.nan,
            limits="; ".join(sorted(limits)),
        )
        out.append(rec)
    return pd.DataFrame(out)


@dataclass(frozen=True)
class VerdictTable:
    """Result of :func:`assess`.

    Attributes
    ----------
    rows : DataFrame
        One row per curve: identity, status, every p-value and q-value, Emergence Score,
        chosen null, flags and notes.
    groups : DataFrame
        One row per (family, model, task, shots, x_name) with ``verdict`` and ``reasons``.
    alpha : float
    n_boot : int
    seed : int
    excluded : DataFrame
        Rows excluded while building the curves (from the CurveSet), with reasons.
    """

    rows: pd.DataFrame
    groups: pd.DataFrame
    alpha: float
    n_boot: int
    seed: int
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_frame(self) -> pd.DataFrame:
        """One row per curve."""
        return self.rows.copy()

    def verdicts(self) -> pd.DataFrame:
        """One row per group across its metrics."""
        return self.groups.copy()

    def summary(self) -> str:
        """Verdict counts and settings."""
        counts = self.groups["verdict"].value_counts() if len(self.groups) else pd.Series()
        lines = [f"{len(self.rows)} curves in {len(self.groups)} groups "
                 f"(B = {self.n_boot}, BH-FDR q <= {self.alpha}, seed {self.seed})"]
        for v in VERDICTS:
            lines.append(f"  {v}: {int(counts.get(v, 0))}")
        if len(self.excluded):
            lines.append(f"  {len(self.excluded)} table rows excluded before testing")
        return "\n".join(lines)


def _as_curves(curves) -> tuple[list[Curve], pd.DataFrame]:
    if isinstance(curves, CurveSet):
        return list(curves.curves), curves.excluded
    if isinstance(curves, Curve):
        return [curves], pd.DataFrame()
    if isinstance(curves, Iterable):
        cl = list(curves)
        bad = [type(c).__name__ for c in cl if not isinstance(c, Curve)]
        if bad:
            raise TypeError(f"`curves` must be a CurveSet or Curves; got {bad[:3]}. Build them "
                            "with emergence.extract_curves(table, x=...).")
        return cl, pd.DataFrame()
    raise TypeError("`curves` must be a CurveSet, a Curve or a list of Curves.")


def finalize(rows: list[dict] | pd.DataFrame, *, alpha: float, n_boot: int, seed: int,
             excluded: pd.DataFrame | None = None) -> VerdictTable:
    """Adjust p-values across curves and build group verdicts (used by :func:`assess` and the
    screen)."""
    df = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows
    if not len(df):
        df = pd.DataFrame(columns=KEY_COLS + ["status", "reason", "notes"])
    for c in ("kind", "sharp", "notes"):
        if c not in df:
            df[c] = np.nan if c != "sharp" else False
    df["sharp"] = df["sharp"].fillna(False).astype(bool)
    df = _add_qvalues(df, alpha)
    groups = combine(df, alpha=alpha) if len(df) else pd.DataFrame()
    if len(groups):
        gid = df.groupby([c for c in GROUP_COLS if c in df], dropna=False, sort=True).ngroup()
        df["verdict"] = groups["verdict"].to_numpy()[gid.to_numpy()]
    return VerdictTable(df, groups, alpha, n_boot, seed,
                        excluded if excluded is not None else pd.DataFrame())


def assess(
    curves,
    *,
    seed: int = 0,
    n_boot: int = 999,
    alpha: float = 0.05,
    min_scales: int = 6,
    ic: bool = True,
    progress: bool = True,
) -> VerdictTable:
    """Test every curve and give one verdict per (family, model, task, shots, x) with reasons.

    Parameters
    ----------
    curves : CurveSet, Curve or list of Curve
        From :func:`emergence.tidy.extract_curves`. Curves of the same task under several
        metrics (e.g. ``acc`` and a log-likelihood) are judged together.
    seed : int, default=0
        Each curve's bootstrap draws come from ``SeedSequence([seed, crc32(curve key)])``, so a
        curve's results do not depend on which other curves are assessed.
    n_boot : int, default=999
        Bootstrap replicates per test.
    alpha : float, default=0.05
        False discovery rate for the Benjamini-Hochberg q-values across all curves.
    min_scales : int, default=6
        Curves with fewer scales are "underpowered" (a hinge or step plus a 2-parameter null
        leaves too few residual degrees of freedom).
    ic : bool, default=True
        Also fit the AICc/BIC comparison (descriptive).
    progress : bool, default=True
        Show a tqdm progress bar.

    Returns
    -------
    VerdictTable
        ``.to_frame()`` one row per curve, ``.verdicts()`` one row per group.

    Notes
    -----
    Per curve: the primary parametric-bootstrap LRT of an accelerating hinge/step against the
    metric's smooth null (:func:`~emergence.stats.bootstrap.pblrt_test`, one-sided in the
    direction of faster improvement), the same test against a straight line in the raw metric
    (the "apparent" transition), an accelerating-curvature test on the link scale, the two
    opposite one-sided tests for a slowdown (decelerating hinge/step, concave curvature:
    saturation), and as cross-checks the Davies (2002) test on the link scale (one-sided in the
    improving direction, R ``segmented`` ``alternative="greater"``/``"less"``) and the Hansen
    sup-F test (two-sided; ``supf_direction`` gives the direction of its best break), the
    Emergence Score (floored, with an item-bootstrap interval when items are present) and an
    AICc/BIC table. Row columns ``pblrt_direction``, ``improve_sign``,
    ``pblrt_effect_direction``, ``pblrt_any_direction`` (best break of either sign),
    ``curv_direction``, ``naive_direction``, ``decel_*`` record the directions. q-values use
    Benjamini-Hochberg (``fdr_bh``) across all curves for each of the five PB-LRT p-values.
    When the primary test rejects at ``alpha``, ``psi_low``/``psi_high`` give the Hansen (2000)
    LR confidence set for the break (link scale, log10 units). The decision rules are in the
    module docstring.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from emergence.tidy import extract_curves
    >>> from emergence.verdict import assess
    >>> params = np.logspace(8, 11, 8)
    >>> acc = np.exp(-np.exp(8.0 - 0.8 * np.log10(params)))
    >>> df = pd.DataFrame({"family": "toy", "model": [f"m{i}" for i in range(8)],
    ...                    "task": "arith", "metric": "exact_match", "value": acc.round(3),
    ...                    "n_items": 1000, "params": params})
    >>> vt = assess(extract_curves(df, x="params"), n_boot=199, progress=False)
    >>> vt.verdicts()["verdict"].tolist()
    ['metric artifact']
    """
    alpha = check_interval(alpha, "alpha", 0, 1)
    if int(n_boot) < 19:
        raise ValueError(f"`n_boot` must be at least 19; got {n_boot!r}.")
    cl, excluded = _as_curves(curves)
    it = cl
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(cl, desc="assess", unit="curve")
    rows = [assess_curve(c, seed=seed, n_boot=int(n_boot), alpha=alpha, min_scales=min_scales,
                         ic=ic) for c in it]
    return finalize(rows, alpha=alpha, n_boot=int(n_boot), seed=seed, excluded=excluded)


def fitted_lines(
    curve: Curve, *, n_points: int = 100, null: str = "auto", alternative: str = "both",
    direction: str = "improving",
) -> pd.DataFrame:
    """Fitted smooth null and best break curve for plotting.

    Parameters
    ----------
    curve : Curve
    n_points : int, default=100
        Points per line, evenly spaced in log10 scale over the curve's range.
    null : str, default="auto"
        As in :func:`~emergence.stats.bootstrap.pblrt_test`.
    alternative : {"both", "hinge", "step"}, default="both"
    direction : {"improving", "decelerating", "both"}, default="improving"
        Sign of the break (see :func:`~emergence.stats.bootstrap.pblrt_test`): the default
        shows the accelerating break the primary test looks for (the null line again when no
        accelerating break improves the fit); ``"both"`` shows the best break of either sign.

    Returns
    -------
    DataFrame
        Columns ``x`` (the curve's scale units, not log), ``model`` (``"null"`` or
        ``"break"``), ``y``, ``fit`` (description), plus ``family``, ``task``, ``metric``. The
        lines are the ones the primary test compares (link-scale fits, back-transformed).
        Curves with fewer than 5 scales get the null line only (fitted by
        :func:`~emergence.curves.fit_curve`); curves that cannot be fitted give an empty frame.

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.tidy import Curve
    >>> from emergence.verdict import fitted_lines
    >>> x = np.logspace(8, 11, 8)
    >>> c = Curve("f", "t", "exact_match", 0, "params", x, np.r_[np.zeros(5), [.3, .5, .6]],
    ...           np.full(8, np.nan), np.full(8, 500.0), tuple("abcdefgh"))
    >>> sorted(fitted_lines(c, n_points=20)["model"].unique())
    ['break', 'null']
    """
    cols = ["x", "model", "y", "fit", "family", "task", "metric"]
    try:
        d = as_curve_data(curve, min_scales=2)
    except (ValueError, TypeError):
        return pd.DataFrame(columns=cols)
    grid = np.linspace(d.x.min(), d.x.max(), int(n_points))
    parts = []
    ident = {"family": curve.family, "task": curve.task, "metric": curve.metric}
    if d.n_scales >= 5:
        try:
            r = pblrt_test(curve, null=null, alternative=alternative, direction=direction,
                           n_boot=1, seed=0)
        except ValueError:
            return pd.DataFrame(columns=cols)
        parts.append(pd.DataFrame({"x": 10**grid, "model": "null", "y": r.predict(grid, "null"),
                                   "fit": r.null_model, **ident}))
        parts.append(pd.DataFrame({"x": 10**grid, "model": "break",
                                   "y": r.predict(grid, "break"),
                                   "fit": (f"{r.effect_direction} {r.best_kind} at "
                                           f"10^{r.psi:.2f} ({r.link} link)"
                                           if r.best_kind != "none" else
                                           f"no {direction} break (= null)"),
                                   **ident}))
    else:
        m = default_null(d) if null == "auto" else null
        try:
            f = fit_curve(d.x, d.y, model=m, chance=d.chance, n_items=d.n)
        except ValueError:
            return pd.DataFrame(columns=cols)
        parts.append(pd.DataFrame({"x": 10**grid, "model": "null", "y": f.predict(grid),
                                   "fit": m, **ident}))
    return pd.concat(parts, ignore_index=True)[cols]
