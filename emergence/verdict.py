"""Verdicts: is an apparent transition real, a metric artifact, or beyond what the data resolve?

:func:`assess` runs the tests of :mod:`emergence.stats` on every curve, adjusts the p-values
across curves (Benjamini-Hochberg) and combines the metrics of each (family, task[, model])
into one verdict with its reasons.

One question for every metric: does the latent competence curve break? Every metric with a known
relation to per-token competence (exact match, multiple-choice grade, token edit distance, target
log-likelihood, per-token probability, Brier score, losses; see
:mod:`emergence.stats.latent`) is mapped through its exact link to per-token cross-entropy, and
the primary test (:func:`~emergence.stats.latent.latent_break_test`) asks whether an
accelerating hinge or step in latent competence survives against a smooth null that has floors
and ceilings (Schaeffer et al.'s power law, per-token logistic competence, an irreducible loss,
heterogeneous items), with model-to-model scatter in the reference distribution.

``"candidate genuine transition"``
    An accelerating break in latent competence survives (BH q <= alpha) under at least one metric
    that is not sharp in per-token error and not a function of another metric on the same items,
    and no significant slowdown fits the same curve better.
``"metric artifact"``
    An accelerating break is significant against a straight line in the raw metric (the
    "apparent" transition), but smooth latent competence explains it under every metric.
    Metrics that are continuous but sharp in per-token error (BLEU, ROUGE) only ever count as
    apparent transitions. A curve below chance is never called an artifact.
``"underpowered"``
    No metric of the group could be tested: too few scales (fewer than ``min_scales``), or fewer
    than three scales resolvably above the floor (chance) or below the ceiling (``3/n``; for
    aggregate-only shares without item counts, ``n`` is the resolution of the reported values),
    so a curve stuck at 0 or 1 is never a transition.
``"no transition"``
    Neither an apparent nor a surviving accelerating break. A significant slowdown (decelerating
    break) is named in the reasons as saturation, not an emergent transition.

Every verdict names the null each metric was tested against and how much of the uncertainty is
run-to-run scatter (measured from replicate runs, or estimated and simulated) rather than item
noise.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._defaults import ALPHA, N_BOOT
from ._random import SeedLike, keyed_seed, root_seed, spawn
from ._validation import check_interval, check_option, check_scatter_sd
from .assessment import (
    COLUMNS,
    OLD_COLUMNS,
    P_COLUMNS,
    CurveAssessment,
    VocabularyError,
    assessment_frame,
)
from .curves import Curve, CurveSet
from .stats._data import as_curve_data
from .stats.bootstrap import pblrt_test
from .stats.davies import davies_test
from .stats.ic import ic_table
from .stats.intervals import binomial_test_chance
from .stats.latent import default_shapes, latent_break_test, latent_kind, value_resolution
from .stats.multiple import fdr
from .stats.paired import adjacent_mcnemar_test
from .stats.scores import emergence_score, emergence_score_interval
from .stats.supf import supf_test, threshold_interval

__all__ = [
    "CurveAssessment",
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


def curve_seed(curve: Curve, seed: int, *, offset: int = 0) -> np.random.SeedSequence:
    """Seed of one curve, derived from ``seed`` and the curve's identity (order independent).

    ``SeedSequence([(seed + offset) mod 2**32, crc32(key), higher 32-bit words of seed...])``
    (:func:`emergence._random.keyed_seed`): any non-negative integer seed, and seeds below
    ``2**32`` give the same streams as before 64-bit seeds were accepted.

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.curves import Curve
    >>> c = Curve("f", "t", "acc", 0, "params", np.array([1e8, 1e9]), np.array([.2, .4]),
    ...           np.full(2, np.nan), np.full(2, 100.0), ("a", "b"))
    >>> curve_seed(c, 2**40).entropy[2], curve_seed(c, 0).entropy == curve_seed(c, 2**40).entropy
    (256, False)
    """
    key = "|".join(str(curve.key[k]) for k in KEY_COLS)
    return keyed_seed(int(seed), zlib.crc32(key.encode()), offset=offset)


def _facts(curve: Curve):
    """Declared facts of the curve's metric (the curve's own when it carries them)."""
    info = getattr(curve, "facts", None)
    return info if info is not None else curve.info


def _below_chance(d) -> int:
    """Scales significantly below chance (one-sided binomial z > 2), for shares with a chance."""
    if not (d.proportion and d.n is not None and np.isfinite(d.chance) and d.chance > 0):
        return 0
    y = d.y if d.higher_is_better else 1 - d.y
    se = np.sqrt(d.chance * (1 - d.chance) / d.n)
    return int(np.sum(y < d.chance - 2 * se))


def _resolution_counts(d, kind: str) -> tuple[int, int, str]:
    """Scales resolvably above the metric's floor and below its ceiling (``3/n`` limits).

    Aggregate-only shares with no item count use the resolution of the reported values
    (``n = 1 / resolution``) so that exact zeros cannot look informative.
    """
    if not d.proportion:
        return d.n_scales, d.n_scales, ""
    note = ""
    n = d.n
    if n is None:
        r = value_resolution(d.y)
        n = np.full(d.n_scales, 1.0 / r)
        note = (f"no item counts: the 3/n resolution limit uses the resolution of the reported "
                f"values ({r:g})")
    ch = d.chance if np.isfinite(d.chance) else 0.0
    y = d.y if d.higher_is_better else 1 - d.y
    above = int(np.sum(y > ch + 3.0 / n))
    below = int(np.sum(y < 1.0 - 3.0 / n))
    return above, below, note


def assess_curve(
    curve: Curve,
    *,
    seed: SeedLike = 0,
    n_boot: int = N_BOOT,
    alpha: float = ALPHA,
    min_scales: int = 6,
    ic: bool = False,
    scatter_sd: float | None = None,
) -> CurveAssessment:
    """All tests on one curve (p-values not yet adjusted across curves).

    Never raises on bad data: a curve that cannot be tested gets ``status`` ``"underpowered"``
    or ``"error"`` with the reason. ``seed`` is turned into an integer as in :func:`assess`;
    ``scatter_sd`` is the declared model-to-model scatter, as in :func:`assess`.

    Returns
    -------
    CurveAssessment
        ``.to_frame()`` gives its row of :meth:`VerdictTable.to_frame` (without q-values).
    """
    scatter_sd = check_scatter_sd(scatter_sd)
    return CurveAssessment(**_assess_fields(curve, seed=root_seed(seed), n_boot=n_boot,
                                            alpha=alpha, min_scales=min_scales, ic=ic,
                                            scatter_sd=scatter_sd))


def _assess_fields(curve: Curve, *, seed: int, n_boot: int, alpha: float, min_scales: int,
                   ic: bool, scatter_sd: float | None = None) -> dict:
    """Fields of :class:`CurveAssessment` for one curve."""
    row: dict = {k: curve.key[k] for k in KEY_COLS}
    row.update(n_scales=curve.n_scales, status="ok", reason="", notes="")
    notes: list[str] = list(curve.notes)
    info = _facts(curve)
    try:
        d = as_curve_data(curve, min_scales=2)
    except (ValueError, TypeError) as e:
        row.update(status="error", reason=str(e))
        return row
    notes.extend(d.notes)
    kind = latent_kind(curve.metric, info, d.chance)
    row.update(
        n_scales=d.n_scales, kind=d.kind, sharp=d.sharp, proportion=d.proportion,
        n_items=float(np.median(d.n)) if d.n is not None else np.nan,
        has_items=d.items is not None, chance=d.chance,
        chance_source=str(getattr(curve, "chance_source", "") or
                          ("unknown" if not np.isfinite(d.chance) else "")),
        y_first=float(d.y[0]), y_last=float(d.y[-1]), latent=kind,
        n_runs=int(getattr(curve, "runs", None).shape[0])
        if getattr(curve, "runs", None) is not None else 1,
    )
    above, below, rnote = _resolution_counts(d, kind)
    row["resolved_scales"] = above
    row["below_ceiling_scales"] = below
    row["below_chance_scales"] = _below_chance(d)
    if rnote:
        notes.append(rnote)
    if d.n is None and d.proportion:
        notes.append("aggregate-only curve: no item counts")
    # Emergence Score (oriented so that higher is better)
    ysign = 1.0 if d.higher_is_better else -1.0
    if d.n_scales >= 3:
        es = emergence_score(d.x, ysign * d.y, n_items=d.n if d.proportion else None,
                             stderr=d.stderr)
        row.update(es=es.score, es_unfloored=es.unfloored_score, es_floor_applied=es.floor_applied)
        if d.items is not None and d.n_scales >= 3:
            ss = np.random.default_rng(curve_seed(curve, seed, offset=7))
            iv = emergence_score_interval(ysign * d.items, d.x, n_boot=min(n_boot, 999),
                                          alpha=alpha, seed=ss)
            row.update(es_low=iv.low, es_high=iv.high)
    # descriptive item-level checks: first scale above chance, largest paired gain
    lab = [str(v) for v in np.asarray(curve.labels)[np.argsort(curve.x, kind="mergesort")]]
    if d.proportion and d.n is not None:
        ch = d.chance if np.isfinite(d.chance) else 0.0
        k = np.round((d.y if d.higher_is_better else 1 - d.y) * d.n)
        above_ch = binomial_test_chance(k, d.n, ch).pvalue <= alpha
        row["first_above_chance"] = lab[int(np.argmax(above_ch))] if above_ch.any() else ""
    if d.binary_items and d.n_scales >= 2:
        mc = adjacent_mcnemar_test(d.items if d.higher_is_better else 1 - d.items, lab).table
        gain = (mc["b"] - mc["c"]).to_numpy()
        j = int(np.argmax(gain))
        row.update(mcnemar_max_gain=int(gain[j]), mcnemar_pair=f"{lab[j]}->{lab[j + 1]}",
                   mcnemar_pvalue_bonf=float(min(1.0, mc["pvalue"].iloc[j] * gain.size)))
    if d.n_scales < max(min_scales, 5):
        row.update(status="underpowered",
                   reason=f"{d.n_scales} scales; a break test against a smooth null needs at "
                   f"least {max(min_scales, 5)}")
        row["notes"] = "; ".join(dict.fromkeys(notes))
        return row
    if d.proportion and (above < 3 or below < 3):
        where = ("above the floor" + (" (chance)" if np.isfinite(d.chance) and d.chance > 0
                                      else "")) if above < 3 else "below the ceiling"
        nmin = np.min(d.n) if d.n is not None else 1.0 / value_resolution(d.y)
        row.update(status="underpowered",
                   reason=f"only {min(above, below)} of {d.n_scales} scales resolvably {where} "
                   f"(3/n = {3 / nmin:.3g}): the curve is stuck at its floor or ceiling")
        row["notes"] = "; ".join(dict.fromkeys(notes))
        return row
    if kind in ("multiple_choice", "brier") and not np.isfinite(d.chance):
        row.update(status="error",
                   reason=f"chance level unknown for a {kind.replace('_', '-')} metric: declare it "
                   "(extract_curves(..., chance={'TASK': 0.25}) or --chance TASK=0.25)")
        row["notes"] = "; ".join(dict.fromkeys(notes))
        return row
    ss = spawn(curve_seed(curve, seed), 4)
    runs = getattr(curve, "runs", None)
    try:
        if kind != "none":
            main = latent_break_test(d, kind=kind, item_lengths=getattr(curve, "item_lengths",
                                                                         None),
                                     runs=runs, n_boot=n_boot, seed=ss[0],
                                     bounds=(float(info.lower), float(info.upper)),
                                     scatter_sd=scatter_sd,
                                     # p-values at or below alpha exactly those of all B
                                     # replicates; larger ones from fewer (sequential)
                                     exact_below=alpha)
            notes.extend(main.notes)
            shape = ("power law" if main.shape_nu == 0 and main.shape_floor == 0 else
                     f"nu={main.shape_nu:g}" + (f", floor CE={main.shape_floor:.3g}"
                                                if main.shape_floor > 0 else ""))
            uses_lengths = kind in ("exact_match", "edit_distance", "loglik")
            lens_known = uses_lengths and not any(
                n.startswith("target lengths unknown") for n in main.notes)
            tok = (str(getattr(curve, "tokenizer", "") or "not stated")) if lens_known else ""
            row["tokenizer"] = tok
            why = (f"smooth latent competence with {shape} chosen by profile likelihood among "
                   f"{len(default_shapes(kind))} shapes, seen through the exact {kind.replace('_', ' ')} link"
                   + ("" if not uses_lengths else
                      f" with each item's target length (tokenizer: {tok})" if lens_known else
                      " with one unit per answer (target lengths unknown)")
                   + (f" and chance {d.chance:g}" if kind in ("multiple_choice", "brier") else ""))
            row.update(
                null_model=f"latent ({shape})", link=f"{kind} -> ln CE", null_why=why,
                pblrt_statistic=main.statistic, pblrt_pvalue=main.pvalue,
                pblrt_pvalue_two_sided=main.pvalue_two_sided, pblrt_n_boot_used=main.n_boot_used,
                pblrt_kind=main.best_kind, pblrt_psi=main.psi, pblrt_effect=main.effect,
                pblrt_effect_direction="accelerating" if main.effect > 0 else "none",
                pblrt_any_direction=main.any_direction,
                decel_pvalue=main.decel_pvalue, decel_kind=main.decel_kind,
                decel_psi=main.decel_psi, decel_effect=main.decel_effect,
                shape_nu=main.shape_nu, shape_floor=main.shape_floor, tau2=main.tau2,
                tau2_source=main.tau2_source, item_sigma=main.item_sigma,
                simulate="latent", improve_sign=1.0,
            )
            z = main.eta
            zw = main.weights
            dalt = "greater"
        else:
            # no known relation to per-token competence: a straight line in the raw metric
            # p-values at or below alpha exactly those of all B replicates (as above)
            main = pblrt_test(curve, null="linear", n_boot=n_boot, seed=ss[0], exact_below=alpha)
            dec = pblrt_test(curve, null="linear", direction="decelerating", n_boot=n_boot,
                             seed=ss[0], exact_below=alpha)
            notes.append(f"{curve.metric}: no declared relation to per-token competence, so the "
                         "smooth null is a straight line in the metric itself")
            row.update(
                null_model="linear", link="identity",
                null_why="a straight line in the metric itself (no declared relation to per-token "
                "competence)", pblrt_statistic=main.statistic,
                pblrt_pvalue=main.pvalue, pblrt_pvalue_two_sided=main.pvalue_two_sided,
                pblrt_n_boot_used=main.n_boot_used,
                pblrt_kind=main.best_kind, pblrt_psi=main.psi, pblrt_effect=main.effect,
                pblrt_effect_direction=main.effect_direction,
                pblrt_any_direction=main.any_direction, decel_pvalue=dec.pvalue,
                decel_kind=dec.best_kind, decel_psi=dec.psi, decel_effect=dec.effect,
                simulate=main.simulate, improve_sign=main.improve_sign,
            )
            z = d.y
            zw = None
            dalt = "greater" if main.improve_sign > 0 else "less"
        # the "apparent" transition: an accelerating break against a straight line in the metric
        nv = pblrt_test(curve, null="linear", n_boot=n_boot, seed=ss[1], exact_below=alpha)
        row.update(naive_pvalue=nv.pvalue, naive_kind=nv.best_kind, naive_psi=nv.psi,
                   naive_direction=nv.effect_direction, naive_any_direction=nv.any_direction)
        # cross-checks on the latent scale: Davies (2002), one-sided like the primary test
        # (R segmented alternative "greater"), weighted by the latent test's variances, and
        # Hansen sup-F (two-sided, unweighted)
        if row["pblrt_pvalue"] <= alpha and row["pblrt_kind"] in ("hinge", "step"):
            ci = threshold_interval(d.x, z, kind=row["pblrt_kind"], alpha=alpha, n_grid=60)
            row.update(psi_low=ci.low, psi_high=ci.high)
        dv = davies_test(d.x, z, alternative=dalt, weights=zw)
        row.update(davies_pvalue=dv.pvalue, davies_best=dv.best, davies_alternative=dalt)
        try:
            sf = supf_test(d.x, z, n_boot=n_boot, seed=ss[3])
            row.update(supf_statistic=sf.statistic, supf_pvalue=sf.pvalue, supf_psi=sf.psi,
                       supf_direction=_direction(sf.shift, 1.0 if dalt == "greater" else -1.0))
        except ValueError as e:
            notes.append(f"sup-F not run: {e}")
        if ic:
            tab = ic_table(log10_x=d.x, y=d.y, chance=d.chance).to_frame().set_index("model")
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


P_COLS = P_COLUMNS


def _add_qvalues(df: pd.DataFrame, alpha: float) -> pd.DataFrame:
    df = df.copy()
    for col in P_COLS:
        if col not in df:
            df[col] = np.nan
        p = pd.to_numeric(df[col], errors="coerce").to_numpy(float)
        q = fdr(p, alpha=alpha, method="fdr_bh").qvalue
        qcol = col.replace("_pvalue", "_qvalue")
        if qcol in df:
            df[qcol] = q
        else:  # beside its p-value
            df.insert(df.columns.get_loc(col) + 1, qcol, q)
    for col in ("pblrt_effect_direction", "naive_direction", "pblrt_any_direction",
                "naive_any_direction"):
        if col not in df:
            df[col] = "none"
        df[col] = df[col].fillna("none").astype(str)
    for col, default in (("degenerate_of", ""), ("below_chance_scales", 0), ("latent", "none")):
        if col not in df:
            df[col] = default
    df["degenerate_of"] = df["degenerate_of"].fillna("").astype(str)
    df["below_chance_scales"] = pd.to_numeric(df["below_chance_scales"],
                                              errors="coerce").fillna(0).astype(int)
    ok = df["status"] == "ok"
    acc = "accelerating"
    # every flag is about accelerating improvement; the tests are one-sided, and the direction
    # is checked again so that rows of another origin cannot flip the meaning
    # an accelerating step that only absorbs the concavity of a saturating curve (the best break
    # of either sign decelerates) is not an apparent transition either
    df["apparent_break"] = (ok & (df["naive_qvalue"] <= alpha) & (df["naive_direction"] == acc)
                            & (df["naive_any_direction"] != "decelerating"))
    df["break_survives"] = ok & (df["pblrt_qvalue"] <= alpha) & (df["pblrt_effect_direction"] == acc)
    slow_break = ok & (df["decel_qvalue"] <= alpha)
    df["slowing"] = slow_break
    # an upward step on a saturating curve only absorbs its concavity: it does not count when a
    # significant slowdown fits the curve better (the best break of either sign decelerates)
    df["break_dominated"] = (df["break_survives"] & slow_break
                             & (df["pblrt_any_direction"] == "decelerating"))
    df["below_chance"] = df["below_chance_scales"] > 0
    df["break_counts"] = (df["break_survives"] & ~df["break_dominated"]
                          & (df["degenerate_of"] == "") & ~df["sharp"].astype(bool))
    df["cited_break"] = np.where(df["break_counts"], "accelerating",
                                 np.where(df["slowing"], "decelerating", "none"))
    df["tested"] = ok
    return df


def _fmt(v: float) -> str:
    return "nan" if not np.isfinite(v) else (f"{v:.2g}" if v < 0.001 else f"{v:.3f}")


def _slowing_reason(r) -> str:
    """Reason text for a significant slowdown of improvement (saturation)."""
    if isinstance(r.get("decel_kind"), str) and r["decel_kind"] in ("hinge", "step"):
        what = ("improvement slows after" if r["decel_kind"] == "hinge"
                else "a drop in competence at")
        txt = (f"{r['metric']}: {what} 10^{r['decel_psi']:.2f} ({r['decel_kind']} against the "
               f"{r['null_model']} null, p={_fmt(r['decel_pvalue'])}, q={_fmt(r['decel_qvalue'])})")
    else:
        txt = (f"{r['metric']}: improvement slows down (p={_fmt(r['decel_pvalue'])}, "
               f"q={_fmt(r['decel_qvalue'])})")
    txt += ": saturation, not an emergent transition"
    if r.get("break_dominated", False):
        txt += (f"; the accelerating {r['pblrt_kind']} at 10^{r['pblrt_psi']:.2f} "
                f"(p={_fmt(r['pblrt_pvalue'])}) fits worse than the slowdown and is not counted")
    return txt


def _fmt_col(v: pd.Series) -> np.ndarray:
    """:func:`_fmt` over a column."""
    return np.array([_fmt(float(x)) for x in pd.to_numeric(v, errors="coerce").to_numpy(float)],
                    dtype=object)


def _col(df: pd.DataFrame, name: str, default) -> pd.Series:
    return df[name] if name in df else pd.Series(default, index=df.index)


def combine(rows: pd.DataFrame, *, alpha: float = ALPHA) -> pd.DataFrame:
    """Group verdicts across metrics from per-curve rows with q-values.

    Every reason is built once per row with column operations; one pass over the groups then
    only joins them, so a screen of many thousands of curves finishes in seconds.

    Parameters
    ----------
    rows : DataFrame
        Output of :meth:`VerdictTable.to_frame` (one row per curve), with the flags of the
        q-value step.
    alpha : float, default=0.05
        FDR level used on the q-values (the flags already apply it).

    Returns
    -------
    DataFrame
        One row per (family, model, task, shots, x_name): ``verdict``, ``reasons`` and the
        metrics in each role.
    """
    gcols = [c for c in GROUP_COLS if c in rows]
    if not len(rows):
        return pd.DataFrame()
    df = rows.reset_index(drop=True)
    n = len(df)
    status = df["status"].astype(str).to_numpy()
    ok = status == "ok"
    metric = df["metric"].astype(str).to_numpy(dtype=object)
    reason = _col(df, "reason", "").fillna("").astype(str).to_numpy(dtype=object)
    sharp = _col(df, "sharp", False).fillna(False).astype(bool).to_numpy()
    degen_of = _col(df, "degenerate_of", "").fillna("").astype(str).to_numpy(dtype=object)
    degen = degen_of != ""
    flag = {c: _col(df, c, False).fillna(False).astype(bool).to_numpy() & ok
            for c in ("break_counts", "slowing", "below_chance", "apparent_break",
                      "break_survives")}
    usable = ok & ~degen & ~sharp
    null_model = _col(df, "null_model", "").fillna("").astype(str).to_numpy(dtype=object)
    null_why = _col(df, "null_why", "").fillna("").astype(str).to_numpy(dtype=object)
    p_txt, q_txt = _fmt_col(_col(df, "pblrt_pvalue", np.nan)), _fmt_col(_col(df, "pblrt_qvalue", np.nan))
    nq_txt = _fmt_col(_col(df, "naive_qvalue", np.nan))
    psi = pd.to_numeric(_col(df, "pblrt_psi", np.nan), errors="coerce").to_numpy(float)
    kind = _col(df, "pblrt_kind", "").fillna("").astype(str).to_numpy(dtype=object)
    nkind = _col(df, "naive_kind", "").fillna("").astype(str).to_numpy(dtype=object)
    empty = np.full(n, "", dtype=object)
    r_pre = np.where(status == "underpowered", metric + ": underpowered (" + reason + ")",
                     np.where(status == "error", metric + ": not tested (" + reason + ")", empty))
    gen = usable & flag["break_counts"]
    psi_txt = np.array([f"{v:.2f}" if np.isfinite(v) else "nan" for v in psi], dtype=object)
    r_gen = np.where(gen, metric + ": accelerating " + kind + " in latent competence at 10^"
                     + psi_txt + " survives against the smooth " + null_model + " null (p="
                     + p_txt + ", q=" + q_txt + ")", empty)
    slow = usable & flag["slowing"]
    r_slow = empty.copy()
    if slow.any():
        sub = df.loc[slow].assign(break_dominated=_col(df, "break_dominated", False)[slow])
        r_slow[slow] = [_slowing_reason(r) for r in sub.to_dict("records")]
    r_degen = np.where(ok & degen, metric + ": equals a function of " + degen_of + " on these "
                       "items (two values per item), so it can neither confirm nor refute", empty)
    app = (flag["apparent_break"] & ~flag["below_chance"]) | (sharp & flag["break_survives"])
    r_app = np.where(app & sharp, metric + ": break (q=" + q_txt + ") under a metric that is "
                     "sharp in per-token error (Schaeffer et al. 2023), not evidence of a "
                     "transition by itself",
                     np.where(app, metric + ": apparent accelerating " + nkind + " against a "
                              "straight line (q=" + nq_txt + ") is explained by smooth latent "
                              "competence (" + null_model + "; accelerating break p=" + p_txt
                              + ", q=" + q_txt + ")", empty))
    below_n = pd.to_numeric(_col(df, "below_chance_scales", 0), errors="coerce").fillna(0) \
        .astype(int).to_numpy()
    tau2 = pd.to_numeric(_col(df, "tau2", np.nan), errors="coerce").to_numpy(float)
    tau_src = _col(df, "tau2_source", "").fillna("").astype(str).to_numpy()
    runs_src = tau_src == "runs"
    decl_src = tau_src == "declared"
    tau_txt = np.array(["nan" if not np.isfinite(v) else f"{v:.3g}" for v in tau2], dtype=object)
    notes = _col(df, "notes", "").fillna("").astype(str).to_numpy(dtype=object)
    pq = pd.to_numeric(_col(df, "pblrt_qvalue", np.nan), errors="coerce").to_numpy(float)
    has_tau = "tau2" in df
    # group ids from the key columns alone (grouping the whole table first drops the keys
    # from a copy of every other column, which costs more than the grouping)
    gid = df[gcols].groupby(gcols, dropna=False, sort=True).ngroup().to_numpy()
    order = np.argsort(gid, kind="stable")
    bounds = np.flatnonzero(np.r_[True, np.diff(gid[order]) != 0, True])
    keys = df[gcols].to_numpy(dtype=object)
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        ix = order[lo:hi]
        oki = ix[ok[ix]]
        pre = ([r_pre[i] for i in ix if status[i] == "underpowered"]
               + [r_pre[i] for i in ix if status[i] == "error"])
        other = [r_degen[i] for i in ix if r_degen[i]]
        bc = oki[flag["below_chance"][oki]]
        if len(bc):
            other.append(f"{', '.join(metric[bc])}: below chance at {int(below_n[bc].max())} "
                         "scale(s): the chance floor does not hold, so the chance-floored link "
                         "is not an explanation")
        slows = [r_slow[i] for i in ix if r_slow[i]]
        genuine = [r_gen[i] for i in ix if r_gen[i]]
        apparent = [r_app[i] for i in ix if r_app[i]]
        if genuine:
            verdict = "candidate genuine transition"
            reasons = genuine + slows + other + pre
            quiet = [metric[i] for i in oki if usable[i] and not flag["break_counts"][i]]
            if quiet:
                reasons.append(f"no surviving break under {', '.join(quiet)}")
        elif apparent:
            verdict = "metric artifact"
            reasons = apparent + slows + other + pre
        elif len(oki) == 0:
            verdict = "underpowered"
            reasons = pre or ["no metric could be tested"]
        else:
            verdict = "no transition"
            reasons = (["no accelerating break against a straight line or smooth latent "
                        f"competence under {', '.join(metric[oki])}"] + slows + other + pre)
        if has_tau and len(oki):
            rs = oki[runs_src[oki]]
            ds = oki[decl_src[oki]]
            if len(rs):
                reasons.append("run-to-run scatter measured from replicate runs (tau^2 = "
                               f"{', '.join(tau_txt[rs])} on the latent scale) and used in the "
                               "tests")
            elif len(ds):
                reasons.append(f"model-to-model scatter declared (sd {np.sqrt(tau2[ds[0]]):.3g} "
                               "of ln CE) and used in the tests of "
                               f"{', '.join(metric[ds])} instead of an estimate from the curve")
            else:
                reasons.append("one model per scale: model-to-model scatter estimated from the "
                               f"fit (tau^2 = {', '.join(tau_txt[oki])} on the latent scale) "
                               "and simulated in the reference distribution")
        limits = {m for i in ix for m in notes[i].split("; ") if m}
        rec = dict(zip(gcols, keys[ix[0]], strict=True))
        rec.update(
            verdict=verdict,
            reasons="; ".join(reasons),
            metrics=", ".join(metric[ix]),
            metrics_tested=int(len(oki)),
            min_pblrt_qvalue=float(np.nanmin(pq[oki])) if len(oki) and np.isfinite(pq[oki]).any()
            else np.nan,
            null_models="; ".join(f"{metric[i]}: {null_model[i]}"
                                  + (f" ({null_why[i]})" if null_why[i] else "") for i in oki),
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
        One row per curve: every column of :class:`~emergence.assessment.CurveAssessment`
        (identity, status, every ``*_pvalue``, Emergence Score, chosen null, notes), then the
        Benjamini-Hochberg ``*_qvalue`` beside each primary p-value, the flags and the verdict.
    groups : DataFrame
        One row per (family, model, task, shots, x_name) with ``verdict`` and ``reasons``.
    alpha : float
    n_boot : int
    seed : int
    excluded : DataFrame
        Rows excluded while building the curves (from the CurveSet), with reasons.
    assessments : tuple of CurveAssessment
        The typed per-curve results the rows were built from (empty when built from a table).
    """

    rows: pd.DataFrame
    groups: pd.DataFrame
    alpha: float
    n_boot: int
    seed: int
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame)
    assessments: tuple[CurveAssessment, ...] = ()

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


def finalize(
    rows: Sequence[CurveAssessment | Mapping] | pd.DataFrame,
    *,
    alpha: float,
    n_boot: int,
    seed: int,
    excluded: pd.DataFrame | None = None,
    extra: pd.DataFrame | None = None,
) -> VerdictTable:
    """Adjust p-values across curves and build group verdicts (used by :func:`assess` and the
    screen).

    Parameters
    ----------
    rows : sequence of CurveAssessment (or of their dicts), or DataFrame
        One per curve; the table is built by :func:`emergence.assessment.assessment_frame`. A
        DataFrame must use the columns of :data:`emergence.assessment.COLUMNS`.
    alpha, n_boot, seed
        As in :func:`assess` (recorded on the result).
    excluded : DataFrame, optional
        Table rows excluded while building the curves.
    extra : DataFrame, optional
        Columns appended to the row table, aligned with ``rows`` (the screen's ``curve_key``).

    Raises
    ------
    VocabularyError
        Rows with the column names of an older version (``pblrt_p``, ...).
    """
    assessments: tuple[CurveAssessment, ...] = ()
    if isinstance(rows, pd.DataFrame):
        old = [c for c in rows.columns if c in OLD_COLUMNS]
        if old:
            raise VocabularyError(f"columns of an older version of emergence: {old[:4]} (now "
                                  f"{[OLD_COLUMNS[c] for c in old[:4]]}); compute the rows again.")
        df = rows.reset_index(drop=True)
    else:
        assessments = tuple(r if isinstance(r, CurveAssessment) else CurveAssessment.from_dict(r)
                            for r in rows)
        df = assessment_frame(assessments)
    if extra is not None:
        df = pd.concat([df, extra.reset_index(drop=True)], axis=1)
    if not len(df):
        df = pd.DataFrame(columns=list(COLUMNS))
    for c in ("kind", "sharp", "notes"):
        if c not in df:
            df[c] = np.nan if c != "sharp" else False
    df["sharp"] = df["sharp"].fillna(False).astype(bool)
    df = _add_qvalues(df, alpha)
    groups = combine(df, alpha=alpha) if len(df) else pd.DataFrame()
    if len(groups):
        gcols = [c for c in GROUP_COLS if c in df]
        gid = df[gcols].groupby(gcols, dropna=False, sort=True).ngroup()
        df["verdict"] = groups["verdict"].to_numpy()[gid.to_numpy()]
    return VerdictTable(df, groups, alpha, n_boot, seed,
                        excluded if excluded is not None else pd.DataFrame(), assessments)


def assess(
    curves,
    *,
    seed: SeedLike = 0,
    n_boot: int = N_BOOT,
    alpha: float = ALPHA,
    min_scales: int = 6,
    ic: bool = False,
    progress: bool = True,
    scatter_sd: float | None = None,
) -> VerdictTable:
    """Test every curve and give one verdict per (family, model, task, shots, x) with reasons.

    Parameters
    ----------
    curves : CurveSet, Curve or list of Curve
        From :func:`emergence.curves.extract_curves`. Curves of the same task under several
        metrics (e.g. ``acc`` and a log-likelihood) are judged together.
    seed : int, SeedSequence, Generator or None, default=0
        Each curve's bootstrap draws come from ``SeedSequence([seed, crc32(curve key)])``
        (:func:`curve_seed`), so a curve's results do not depend on which other curves are
        assessed. Any non-negative integer; a Generator gives one 64-bit draw (advancing it), a
        SeedSequence its entropy, None a fresh seed; the integer used is ``VerdictTable.seed``.
    n_boot : int, default=999
        Bootstrap replicates per test.
    alpha : float, default=0.05
        False discovery rate for the Benjamini-Hochberg q-values across all curves.
    min_scales : int, default=6
        Curves with fewer scales are "underpowered" (a hinge or step plus a 2-parameter null
        leaves too few residual degrees of freedom).
    ic : bool, default=False
        Also fit the AICc/BIC comparison (descriptive, about as costly as the tests themselves:
        a multi-start 4-parameter logistic among its models).
    progress : bool, default=True
        Show a tqdm progress bar.
    scatter_sd : float, optional
        Declared model-to-model scatter: the sd of ``ln CE`` (per-token cross-entropy) between
        models of the same size trained independently, e.g. measured from seeds of the family at
        other sizes. The latent test uses it instead of estimating it from each curve's own
        points (``S - 4`` degrees of freedom with one model per scale, which costs most of the
        power against a hinge when the scatter is large). Curves with replicate runs measure it
        from their runs instead; aggregate curves without item counts estimate their noise
        scale. ``tau2_source`` says which applied to each curve.

    Returns
    -------
    VerdictTable
        ``.to_frame()`` one row per curve, ``.verdicts()`` one row per group.

    Notes
    -----
    Per curve: the primary test, an accelerating hinge or step in latent per-token competence
    against the smooth latent-competence null seen through the metric's exact link
    (:func:`~emergence.stats.latent.latent_break_test`), with its mirror image for a slowdown
    (saturation) from the same replicates; the apparent transition, a break against a straight
    line in the raw metric (:func:`~emergence.stats.bootstrap.pblrt_test` with
    ``null="linear"``); and as cross-checks the Davies (2002) test on the link scale (one-sided
    in the improving direction, R ``segmented`` ``alternative="greater"``/``"less"``) and the
    Hansen sup-F test (two-sided; ``supf_direction`` gives the direction of its best break), the
    Emergence Score (floored, with an item-bootstrap interval when items are present) and an
    AICc/BIC table. Row columns ``pblrt_direction``, ``improve_sign``,
    ``pblrt_effect_direction``, ``pblrt_any_direction`` (best break of either sign),
    ``naive_direction``, ``decel_*`` record the directions. q-values use Benjamini-Hochberg
    (``fdr_bh``) across all curves for each of ``pblrt_pvalue``, ``naive_pvalue`` and
    ``decel_pvalue``.
    When the primary test rejects at ``alpha``, ``psi_low``/``psi_high`` give the Hansen (2000)
    LR confidence set for the break (link scale, log10 units). The decision rules are in the
    module docstring.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from emergence.curves import extract_curves
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
    seed = root_seed(seed)
    scatter_sd = check_scatter_sd(scatter_sd)
    cl, excluded = _as_curves(curves)
    it = cl
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(cl, desc="assess", unit="curve")
    rows = [assess_curve(c, seed=seed, n_boot=int(n_boot), alpha=alpha, min_scales=min_scales,
                         ic=ic, scatter_sd=scatter_sd) for c in it]
    rows = [dataclasses.replace(r, degenerate_of=of) if of else r
            for r, of in zip(rows, degenerate_metrics(cl), strict=True)]
    return finalize(rows, alpha=alpha, n_boot=int(n_boot), seed=seed, excluded=excluded)


def degenerate_metrics(curves: list[Curve]) -> list[str]:
    """For each curve, the 0/1 metric of the same group it is a function of on these items.

    A continuous metric whose item scores take two values and equal ``a + b * other`` for a 0/1
    metric of the same (family, model, task, shots, x) on the same items (edit distance of
    single-token answers is ``1 - exact match``) carries no information of its own: it can
    neither confirm nor refute a break. Returns ``""`` for curves that are not degenerate.

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.curves import Curve
    >>> em = np.array([[0, 1, 1], [0, 0, 1.0]])
    >>> mk = lambda m, it: Curve("f", "t", m, 0, "params", np.array([1e8, 1e9, 1e10]),
    ...                          it.mean(0), np.full(3, np.nan), np.full(3, 2.0), ("a", "b", "c"),
    ...                          items=it, item_ids=("i1", "i2"))
    >>> degenerate_metrics([mk("exact_match", em), mk("token_edit_distance", 1 - em)])
    ['', 'exact_match']
    """
    out = [""] * len(curves)
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(curves):
        k = tuple(str(c.key[g]) for g in GROUP_COLS)
        groups.setdefault(k, []).append(i)
    for idx in groups.values():
        binary = [i for i in idx if curves[i].items is not None
                  and _facts(curves[i]).kind == "discontinuous"
                  and np.all(np.isin(curves[i].items, (0.0, 1.0)))]
        for i in idx:
            c = curves[i]
            if c.items is None or _facts(c).kind == "discontinuous":
                continue
            vals = np.unique(c.items)
            if vals.size > 2:
                continue
            for j in binary:
                o = curves[j]
                if o.items.shape != c.items.shape or o.item_ids != c.item_ids \
                        or not np.array_equal(o.x, c.x):
                    continue
                a, b = o.items.ravel(), c.items.ravel()
                if np.ptp(a) == 0:
                    continue
                slope, icpt = np.polyfit(a, b, 1)
                if np.allclose(icpt + slope * a, b, atol=1e-9):
                    out[i] = o.metric
                    break
    return out


def fitted_lines(
    curve: Curve, *, n_points: int = 100, which: str = "accelerating",
    scatter_sd: float | None = None,
) -> pd.DataFrame:
    """Fitted smooth latent null and one break curve of a curve, on the metric's scale.

    A fit, not a test (no bootstrap): the same fits the primary test compares, back-transformed
    through the metric's latent link, over the curve's own range.

    Parameters
    ----------
    curve : Curve
    n_points : int, default=100
        Points per line, evenly spaced in log10 scale over the curve's range.
    which : {"accelerating", "decelerating", "none"}, default="accelerating"
        Which break to draw beside the null: the one the verdict cites (the ``cited_break``
        column of :meth:`VerdictTable.to_frame`); ``"none"`` draws the null only.
    scatter_sd : float, optional
        The declared model-to-model scatter the verdict used (:func:`assess`), so that the
        drawn fits are the tested ones.

    Returns
    -------
    DataFrame
        Columns ``x`` (the curve's scale units, not log), ``model`` (``"null"`` or
        ``"break"``), ``y``, ``fit`` (description), plus ``family``, ``task``, ``metric``.
        Empty when the curve has fewer than 5 scales, no latent link or cannot be fitted.

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.curves import Curve
    >>> from emergence.verdict import fitted_lines
    >>> x = np.logspace(8, 11, 8)
    >>> c = Curve("f", "t", "exact_match", 0, "params", x, np.r_[np.zeros(5), [.3, .5, .6]],
    ...           np.full(8, np.nan), np.full(8, 500.0), tuple("abcdefgh"))
    >>> sorted(fitted_lines(c, n_points=20)["model"].unique())
    ['break', 'null']
    """
    check_option(which, "which", ("accelerating", "decelerating", "none"))
    # checked here: a bad declaration is an error, not a curve the fits below leave empty
    scatter_sd = check_scatter_sd(scatter_sd)
    cols = ["x", "model", "y", "fit", "family", "task", "metric"]
    empty = pd.DataFrame(columns=cols)
    try:
        d = as_curve_data(curve, min_scales=5)
    except (ValueError, TypeError):
        return empty
    info = _facts(curve)
    kind = latent_kind(curve.metric, info, d.chance)
    if kind == "none" or (kind in ("multiple_choice", "brier") and not np.isfinite(d.chance)):
        return empty
    try:
        r = latent_break_test(d, kind=kind, item_lengths=getattr(curve, "item_lengths", None),
                              runs=getattr(curve, "runs", None), n_boot=0,
                              bounds=(float(info.lower), float(info.upper)),
                              scatter_sd=scatter_sd)
    except (ValueError, FloatingPointError):
        return empty
    grid = np.linspace(d.x.min(), d.x.max(), int(n_points))
    ident = {"family": curve.family, "task": curve.task, "metric": curve.metric}
    parts = [pd.DataFrame({"x": 10**grid, "model": "null", "y": r.predict(grid, "null"),
                           "fit": f"smooth latent competence ({kind} link)", **ident})]
    if which != "none" and which in r.break_params:
        bp = r.break_params[which]
        parts.append(pd.DataFrame({"x": 10**grid, "model": "break", "y": r.predict(grid, which),
                                   "fit": f"{which} {bp['kind']} at 10^{bp['psi']:.2f}",
                                   **ident}))
    return pd.concat(parts, ignore_index=True)[cols]
