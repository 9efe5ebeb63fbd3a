"""Mirage consistency check: does per-token improvement predict the exact-match curve?

Schaeffer, Miranda & Koyejo (2023, §2 and App. A) model a target of L tokens, each correct with
probability p, independently. Then exact match is about p^L and token edit distance about
L (1 - p). If the observed curves agree with these predictions at every scale, the sharp
exact-match curve needs no "emergent" explanation: it is what a smooth per-token improvement looks
like through a nonlinear metric.

Per scale s, with items j = 1..n (the same items at every scale):

- target length :math:`L_j` in units of ``tokenizer`` (the unit of the edit distance too);
- pooled per-token probability :math:`\\hat p_s = \\exp(\\sum_j \\ell_{js} / \\sum_j L_j)` from the
  summed target log-likelihoods :math:`\\ell_{js}` (teacher forcing, nats);
- predicted exact match :math:`\\overline{ESM}_s = n^{-1} \\sum_j \\hat p_s^{L_j}` and predicted
  edit distance :math:`\\overline{TED}_s = n^{-1} \\sum_j L_j (1 - \\hat p_s)`;
- observed means of exact match and token edit distance of the greedy generations.

The differences observed - predicted get item-cluster bootstrap percentile intervals (items
resampled jointly across scales, the same draw for all quantities), Bonferroni-adjusted across
scales by default. The per-token independence is
known to be false (the authors say so); the check is a calibration diagnostic, not a test of the
model. Exact match here uses ``normalize`` on the generations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._defaults import N_BOOT
from ._random import SeedLike
from ._validation import check_interval, check_option, check_rng
from .curves import extract_curves
from .records import validate_records
from .registry import BUILTIN_METRICS, MetricInfo
from .scoring import _targets_of, attach_loglik, exact_match, token_edit_distance, tokenize
from .stats._resample import resampled_sums

__all__ = ["MirageResult", "mirage_check"]


@dataclass(frozen=True)
class MirageResult:
    """Observed versus Mirage-predicted exact match and edit distance per scale.

    Attributes
    ----------
    table : DataFrame
        One row per scale: label, x, n_items, L_mean, p_hat, esm_obs, esm_pred, esm_diff,
        esm_diff_low, esm_diff_high, ted_obs, ted_pred, ted_diff, ted_diff_low, ted_diff_high,
        loglog_esm (ln(-ln esm_obs), linear in log scale under the model; NaN at 0 or 1).
    task, x_name, tokenizer : str
    n_boot : int
    level : float
    excluded : DataFrame
        Rows left out while aligning items, with reasons.
    simultaneous : bool
        Whether the intervals are Bonferroni-adjusted across scales.
    """

    table: pd.DataFrame
    task: str
    x_name: str
    tokenizer: str
    n_boot: int
    level: float
    excluded: pd.DataFrame
    simultaneous: bool = True

    def to_frame(self) -> pd.DataFrame:
        """The per-scale table."""
        return self.table.copy()

    @property
    def consistent(self) -> bool:
        """True when every scale's interval for observed - predicted exact match covers 0."""
        t = self.table
        return bool(((t["esm_diff_low"] <= 0) & (t["esm_diff_high"] >= 0)).all())

    def summary(self) -> str:
        """One line per scale."""
        kind = "simultaneous (Bonferroni) " if self.simultaneous else ""
        lines = [f"Mirage check for {self.task} (L in {self.tokenizer} tokens, "
                 f"B={self.n_boot}, {kind}{self.level:.0%} intervals)"]
        for _, r in self.table.iterrows():
            lines.append(
                f"  {r['label']}: p_hat={r['p_hat']:.3f}  ESM obs {r['esm_obs']:.3f} vs pred "
                f"{r['esm_pred']:.3f} [{r['esm_diff_low']:+.3f}, {r['esm_diff_high']:+.3f}]  "
                f"TED obs {r['ted_obs']:.2f} vs pred {r['ted_pred']:.2f}")
        lines.append("  consistent with p^L at every scale" if self.consistent else
                     "  NOT consistent with p^L at some scale")
        return "\n".join(lines)


#: Facts of the four per-item series the check splits into curves (target length L in tokens).
_FACTS = {"em": BUILTIN_METRICS["exact_match"], "ted": BUILTIN_METRICS["token_edit_distance"],
          "ll": BUILTIN_METRICS["target_loglik"],
          "L": MetricInfo("L", 0.0, float("inf"), True, "continuous")}


def mirage_check(
    records: pd.DataFrame,
    *,
    task: str,
    loglik_task: str | None = None,
    filter: str | None = None,  # noqa: A002 - the harness's name
    x: str = "params",
    along: str = "size",
    tokenizer: str | Callable[[str], Any] = "whitespace",
    normalize: str | Callable[[str], str] = "strip",
    n_boot: int = N_BOOT,
    level: float = 0.95,
    seed: SeedLike = None,
    on_mismatch: str = "error",
    simultaneous: bool = True,
) -> MirageResult:
    """Compare observed exact match and edit distance with the p^L and L(1-p) predictions.

    Parameters
    ----------
    records : DataFrame
        Per-item records holding the generative ``task`` (greedy generations) and, unless its
        rows already carry ``target_loglik``, the companion ``loglik_task``.
    task : str
        Generative task.
    loglik_task : str, optional
        Loglikelihood task over the same documents with the target as continuation.
    filter : str, optional
        lm-eval filter of the generations to use (required when there are several).
    x : str, default="params"
    along : {"size", "step"}, default="size"
    tokenizer : {"whitespace", "characters"} or callable, default="whitespace"
        Unit of L and of the edit distance. Pass the model tokenizer's ``encode`` for model tokens.
    normalize : str or callable, default="strip"
        Exact-match normalisation (see :func:`emergence.scoring.normalize_text`).
    n_boot : int, default=999
    level : float, default=0.95
    seed : int, Generator or SeedSequence, optional
    on_mismatch : {"error", "intersect"}, default="error"
        Items missing at some scale (see :func:`emergence.curves.extract_curves`).
    simultaneous : bool, default=True
        Bonferroni-adjust the per-scale intervals (each at level ``1 - (1 - level) / S``) so that
        :attr:`MirageResult.consistent` ("every interval covers 0") has family-wise coverage of
        at least ``level`` when the model holds.

    Returns
    -------
    MirageResult

    Raises
    ------
    ValueError
        Task absent, several filters without ``filter=``, target log-likelihoods missing, a
        target log-likelihood of -inf, or fewer than 2 scales.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rows = []
    >>> for m, n, p in (("s", 1e6, 0.3), ("m", 1e7, 0.6), ("l", 1e8, 0.9)):
    ...     for j in range(40):
    ...         hit = j < round(40 * p * p)
    ...         rows.append({"model": m, "params": n, "task": "t", "item": str(j),
    ...                      "output_type": "generate_until", "target": "1 2",
    ...                      "prediction": "1 2" if hit else "1 3",
    ...                      "target_loglik": 2 * np.log(p)})
    >>> res = mirage_check(pd.DataFrame(rows), task="t", n_boot=200, seed=0)
    >>> res.table[["label", "p_hat", "esm_obs", "esm_pred"]].round(3).to_dict("records")[0]
    {'label': 's', 'p_hat': 0.3, 'esm_obs': 0.1, 'esm_pred': 0.09}
    """
    check_option(along, "along", ("size", "step"))
    check_interval(level, "level", 0.0, 1.0)
    rec = validate_records(records)
    if loglik_task is not None:
        rec = attach_loglik(rec, to_task=task, from_task=loglik_task)
    gen = rec[(rec["task"] == task) & (rec["output_type"] == "generate_until")]
    if gen.empty:
        raise ValueError(f"no generate_until records for task '{task}'.")
    filters = sorted(set(gen["filter"]))
    if filter is not None:
        if filter not in filters:
            raise ValueError(f"filter '{filter}' not in task '{task}'; available: {filters}.")
        gen = gen[gen["filter"] == filter]
    elif len(filters) > 1:
        raise ValueError(f"task '{task}' has several filters {filters}; pass filter=...")
    if gen["target_loglik"].isna().any():
        n = int(gen["target_loglik"].isna().sum())
        raise ValueError(
            f"{n} generations of '{task}' have no target log-likelihood; pass loglik_task=... "
            "(a loglikelihood task over the same documents)."
        )
    ll = gen["target_loglik"].to_numpy(np.float64)
    if np.isneginf(ll).any():
        raise ValueError(
            f"{int(np.isneginf(ll).sum())} target log-likelihoods are -inf; p_hat is undefined "
            "with a probability-zero target. Remove those items (on every scale)."
        )
    preds = gen["prediction"].fillna("").tolist()
    targets = _targets_of(gen)
    em = exact_match(preds, targets, normalize=normalize)
    ted = token_edit_distance(preds, gen["target"].fillna("").tolist(), tokenizer=tokenizer)
    L = np.fromiter((len(t) for t in tokenize(gen["target"].fillna("").tolist(), tokenizer)),
                    dtype=np.float64, count=len(gen))
    if (L == 0).any():
        raise ValueError(f"{int((L == 0).sum())} targets have no tokens (empty target).")
    base = gen[["model", "step", "task", "shots", "item", "params", "tokens", "flops"]].copy()
    base["family"] = gen["family"] if "family" in gen.columns else "_"
    base["family"] = base["family"].fillna("_")
    long = pd.concat([base.assign(metric=m, value=v) for m, v in
                      (("em", em), ("ted", ted), ("ll", ll), ("L", L))], ignore_index=True)
    cs = extract_curves(long, x=x, along=along, on_mismatch=on_mismatch, min_scales=2,
                        metric_facts=_FACTS)
    by_metric = {c.metric: c for c in cs}
    if set(by_metric) != {"em", "ted", "ll", "L"}:
        raise ValueError("fewer than 2 scales with items; the check needs at least 2 scales.")
    c_em, c_ted, c_ll, c_L = (by_metric[k] for k in ("em", "ted", "ll", "L"))
    Lv = c_L.items[:, 0]
    n = Lv.size
    rng = check_rng(seed)
    uniq, inv = np.unique(Lv, return_inverse=True)
    onehot = np.zeros((n, uniq.size))
    onehot[np.arange(n), inv] = 1.0
    mats = (Lv[:, None], c_ll.items, onehot, c_em.items, c_ted.items)
    # item resampling counts drawn in bounded chunks of replicates (memory linear in items);
    # row 0 is the data itself (every item once)
    sums = [np.vstack([M.sum(axis=0, keepdims=True), R]) for M, R in
            zip(mats, resampled_sums(rng, int(n_boot), *mats), strict=True)]
    sumL = sums[0][:, 0]  # (B+1,)
    p_hat = np.exp(sums[1] / sumL[:, None])  # (B+1, S)
    cnt_L = sums[2]  # (B+1, nL)
    esm_pred = np.einsum("bl,bls->bs", cnt_L, p_hat[:, None, :] ** uniq[None, :, None]) / n
    ted_pred = (sumL / n)[:, None] * (1.0 - p_hat)
    esm_obs = sums[3] / n
    ted_obs = sums[4] / n
    n_scales = c_em.items.shape[1]
    a = (1 - level) / 2 / (n_scales if simultaneous else 1)
    de, dt = esm_obs - esm_pred, ted_obs - ted_pred
    (de_lo, de_hi), (dt_lo, dt_hi) = (np.quantile(d[1:], [a, 1 - a], axis=0) for d in (de, dt))
    with np.errstate(divide="ignore", invalid="ignore"):
        e0 = esm_obs[0]
        loglog = np.where((e0 > 0) & (e0 < 1), np.log(-np.log(np.clip(e0, 1e-300, 1))), np.nan)
    table = pd.DataFrame({
        "label": list(c_em.labels), "x": c_em.x, "n_items": n, "L_mean": float(Lv.mean()),
        "p_hat": p_hat[0], "esm_obs": esm_obs[0], "esm_pred": esm_pred[0], "esm_diff": de[0],
        "esm_diff_low": de_lo, "esm_diff_high": de_hi, "ted_obs": ted_obs[0],
        "ted_pred": ted_pred[0], "ted_diff": dt[0], "ted_diff_low": dt_lo,
        "ted_diff_high": dt_hi, "loglog_esm": loglog,
    })
    unit = tokenizer if isinstance(tokenizer, str) else getattr(tokenizer, "__qualname__",
                                                                 "callable")
    return MirageResult(table, task, x, str(unit), int(n_boot), float(level), cs.excluded,
                        bool(simultaneous))
