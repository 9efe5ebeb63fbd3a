"""Per-scale aggregates of per-item scores: item-cluster bootstrap intervals and per-sample
score-compute correlations.

Both work on the item matrix of a :class:`emergence.curves.Curve` (items x scales, the same items at
every scale; :func:`emergence.curves.extract_curves` raises on an item mismatch, or keeps the common
items with ``on_mismatch="intersect"`` and reports how many were dropped).

**Item-cluster bootstrap.** The resampling unit is an item's whole vector of scores across scales
(Field & Welsh 2007), so intervals reflect the dependence between scales that share items. One
``n_boot x n_items`` matrix of resampled item indices is drawn per curve and used for every scale;
it is applied as a matrix of counts, so the replicate means of all scales are one matrix product.

**Score-compute correlations** (Schaeffer et al. 2024, "Why has predicting downstream capabilities
of frontier AI models with scale remained elusive?", §4.2 of the methods notes): for every item,
the correlation across scales between log10 of the scale and the item's score; the distribution of
these correlations is summarised per metric. Metrics where lower is better (Brier score, edit
distance) are negated first, so a positive correlation always means "improves with scale". Items
whose score is constant across scales give NaN correlations; they are counted, never dropped
silently.

Examples
--------
>>> import numpy as np
>>> from emergence.item_bootstrap import cluster_bootstrap_means
>>> items = np.array([[0, 1], [0, 1], [1, 1], [0, 0.]])
>>> reps = cluster_bootstrap_means(items, n_boot=500, seed=0)
>>> reps.shape, bool(np.all(reps[:, 0] <= reps[:, 1]))
((500, 2), True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ._defaults import N_BOOT
from ._random import SeedLike
from ._validation import check_interval, check_option, check_rng
from .curves import extract_curves
from .stats._resample import resampled_sums

__all__ = [
    "cluster_bootstrap_means",
    "item_bootstrap",
    "BootstrapAggregates",
    "item_correlations",
    "score_compute_correlations",
    "CorrelationSummary",
    "CHAIN",
]

#: The transformation chain of Schaeffer et al. (2024), from most to least predictable.
CHAIN: tuple[str, ...] = ("target_loglik", "p_vocab", "p_choices", "brier_score",
                          "multiple_choice_grade")


def cluster_bootstrap_means(
    items: np.ndarray,
    *,
    n_boot: int = N_BOOT,
    seed: SeedLike = None,
) -> np.ndarray:
    """Replicate per-scale means resampling items (rows) jointly across scales (columns).

    Parameters
    ----------
    items : ndarray, shape (n_items, n_scales)
        Per-item scores; no NaN.
    n_boot : int, default=999
    seed : int, Generator or SeedSequence, optional

    Returns
    -------
    ndarray, shape (n_boot, n_scales)
        Mean of each scale in each replicate. Replicate ``b`` uses the same resampled items for
        every scale.

    Examples
    --------
    >>> import numpy as np
    >>> cluster_bootstrap_means(np.ones((3, 2)), n_boot=4, seed=1).tolist()
    [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]
    """
    y = np.asarray(items, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] < 1:
        raise ValueError(f"`items` must be a non-empty (n_items, n_scales) matrix; got {y.shape}.")
    if np.isnan(y).any():
        raise ValueError("`items` holds NaN; remove or impute those items first.")
    if int(n_boot) < 1:
        raise ValueError(f"`n_boot` must be a positive integer; got {n_boot!r}.")
    rng = check_rng(seed)
    (sums,) = resampled_sums(rng, int(n_boot), y)
    return sums / y.shape[0]


@dataclass(frozen=True)
class BootstrapAggregates:
    """Per-scale means with item-cluster bootstrap intervals.

    Attributes
    ----------
    table : DataFrame
        One row per curve and scale: family, model (for ``along="step"``), task, shots, metric,
        x_name, label, x, n_items, mean, se, ci_low, ci_high, and for every scale after the first
        the change from the previous scale with its interval (diff, diff_low, diff_high).
    replicates : dict
        Curve name -> (n_boot, n_scales) replicate means (the joint bootstrap distribution).
    excluded : DataFrame
        Rows of the input left out, with reasons (from :func:`emergence.curves.extract_curves`).
    n_boot, level : int, float
    notes : tuple of str
    """

    table: pd.DataFrame
    replicates: dict[str, np.ndarray]
    excluded: pd.DataFrame
    n_boot: int
    level: float
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_frame(self) -> pd.DataFrame:
        """The per-scale table."""
        return self.table.copy()

    def summary(self) -> str:
        """Counts of curves, scales and excluded rows."""
        n_c = self.table.groupby(["family", "task", "metric"], dropna=False).ngroups
        lines = [f"{n_c} curves, {len(self.table)} scale points, item-cluster bootstrap "
                 f"B={self.n_boot}, {self.level:.0%} percentile intervals"]
        if len(self.excluded):
            for reason, n in self.excluded["reason"].value_counts().items():
                lines.append(f"  excluded {n} rows: {reason}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


def _item_curves(scores: pd.DataFrame, x: str, along: str, on_mismatch: str,
                 metrics: Sequence[str] | None, min_scales: int, runs: str = "error"):
    cs = extract_curves(scores, x=x, along=along, on_mismatch=on_mismatch, metrics=metrics,
                        min_scales=min_scales, runs=runs)
    curves = [c for c in cs if c.items is not None]
    return curves, cs.excluded


def item_bootstrap(
    scores: pd.DataFrame,
    *,
    x: str = "params",
    along: str = "size",
    n_boot: int = N_BOOT,
    level: float = 0.95,
    seed: SeedLike = None,
    on_mismatch: str = "error",
    metrics: Sequence[str] | None = None,
    runs: str = "error",
) -> BootstrapAggregates:
    """Per-scale means of per-item scores with item-cluster bootstrap percentile intervals.

    Parameters
    ----------
    scores : DataFrame
        Tidy table with ``item`` set (e.g. from :func:`emergence.scoring.rescore`).
    x : str, default="params"
        Scale column.
    along : {"size", "step"}, default="size"
    n_boot : int, default=999
    level : float, default=0.95
    seed : int, Generator or SeedSequence, optional
        One child stream per curve is spawned from it, so results do not depend on curve order.
    on_mismatch : {"error", "intersect"}, default="error"
        Items differing between scales: raise listing the missing items, or keep the common items
        (the count dropped is noted and the rows reported in ``excluded``).
    metrics : list of str, optional
    runs : {"error", "mean", "separate"}, default="error"
        Replicate runs (column ``run``, e.g. Inspect epochs): see
        :func:`emergence.curves.extract_curves`; with ``"mean"`` each item's score is its mean
        over the runs before the item bootstrap.

    Returns
    -------
    BootstrapAggregates

    Notes
    -----
    The interval is the percentile interval of the replicate means, where each replicate draws
    ``n_items`` items with replacement and uses them at every scale. The change between adjacent
    scales gets its interval from the same replicates, so it accounts for the pairing of items.
    Checked against a direct loop over replicates in the tests.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"family": "f", "model": ["a"] * 4 + ["b"] * 4, "task": "t",
    ...                    "metric": "exact_match", "item": ["1", "2", "3", "4"] * 2,
    ...                    "value": [0, 0, 1, 0, 1, 1, 1, 0.], "params": [1e6] * 4 + [1e7] * 4})
    >>> res = item_bootstrap(df, n_boot=200, seed=0)
    >>> res.table[["label", "mean", "n_items"]].to_dict("records")
    [{'label': 'a', 'mean': 0.25, 'n_items': 4}, {'label': 'b', 'mean': 0.75, 'n_items': 4}]
    """
    check_option(along, "along", ("size", "step"))
    check_interval(level, "level", 0.0, 1.0)
    if int(n_boot) < 2:
        raise ValueError(f"`n_boot` must be at least 2; got {n_boot!r}.")
    curves, excluded = _item_curves(scores, x, along, on_mismatch, metrics, 1, runs)
    if not curves:
        raise ValueError("no per-item curves in the table (is the 'item' column set?).")
    rng = check_rng(seed)
    children = rng.spawn(len(curves))
    a = (1 - level) / 2
    rows, reps, notes = [], {}, []
    for c, child in zip(curves, children, strict=True):
        r = cluster_bootstrap_means(c.items, n_boot=int(n_boot), seed=child)
        reps[c.name] = r
        lo, hi = np.quantile(r, [a, 1 - a], axis=0)
        d = np.diff(r, axis=1)
        dlo, dhi = (np.quantile(d, [a, 1 - a], axis=0) if d.shape[1] else
                    (np.empty(0), np.empty(0)))
        means = c.items.mean(axis=0)
        for s in range(c.n_scales):
            rows.append({
                "family": c.family, "model": c.model, "task": c.task, "shots": c.shots,
                "metric": c.metric, "x_name": c.x_name, "label": c.labels[s], "x": c.x[s],
                "n_items": int(c.items.shape[0]), "mean": means[s],
                "se": float(r[:, s].std(ddof=1)), "ci_low": lo[s], "ci_high": hi[s],
                "diff": means[s] - means[s - 1] if s else np.nan,
                "diff_low": dlo[s - 1] if s else np.nan,
                "diff_high": dhi[s - 1] if s else np.nan,
            })
        notes.extend(f"{c.name}: {n}" for n in c.notes)
    return BootstrapAggregates(pd.DataFrame(rows), reps, excluded, int(n_boot), float(level),
                               tuple(notes))


# ---------------------------------------------------------------------------------------------
# per-sample correlations


def item_correlations(
    x: np.ndarray, items: np.ndarray, *, method: str = "spearman"
) -> np.ndarray:
    """Correlation across scales between ``x`` and each item's scores, vectorised over items.

    Parameters
    ----------
    x : ndarray, shape (n_scales,)
    items : ndarray, shape (n_items, n_scales)
    method : {"pearson", "spearman", "kendall"}, default="spearman"
        Spearman uses average ranks; Kendall is tau-b (ties in either variable corrected), as in
        ``scipy.stats.kendalltau``.

    Returns
    -------
    ndarray, shape (n_items,)
        NaN for items whose scores are constant across scales (or when ``x`` is constant).

    Examples
    --------
    >>> import numpy as np
    >>> item_correlations(np.array([1., 2, 3]), np.array([[1., 2, 3], [3, 2, 1], [1, 1, 1]]))
    array([ 1., -1., nan])
    """
    check_option(method, "method", ("pearson", "spearman", "kendall"))
    xv = np.asarray(x, dtype=np.float64)
    y = np.atleast_2d(np.asarray(items, dtype=np.float64))
    if y.shape[1] != xv.size:
        raise ValueError(f"`items` has {y.shape[1]} scales but `x` has {xv.size}.")
    if method == "kendall":
        i, k = np.triu_indices(xv.size, 1)
        sx = np.sign(xv[i] - xv[k])
        sy = np.sign(y[:, i] - y[:, k])
        den = np.sqrt(np.sum(sx**2) * np.sum(sy**2, axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, (sy @ sx) / np.where(den > 0, den, 1), np.nan)
    if method == "spearman":
        xv = stats.rankdata(xv)
        y = stats.rankdata(y, axis=1)
    xc = xv - xv.mean()
    yc = y - y.mean(axis=1, keepdims=True)
    den = np.sqrt(np.sum(xc**2) * np.sum(yc**2, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 1e-300, (yc @ xc) / np.where(den > 1e-300, den, 1), np.nan)
    return np.clip(r, -1.0, 1.0)


@dataclass(frozen=True)
class CorrelationSummary:
    """Distribution of per-item score-compute correlations per metric.

    Attributes
    ----------
    table : DataFrame
        One row per (family, model, task, shots, metric): n_items, n_nan, frac_nan, mean,
        median, std, skew, kurtosis, auc_ccdf, neg_w1_plus1, neg_w1_minus1, in the order of
        :data:`CHAIN` where it applies.
    per_item : DataFrame
        The correlation of every item (NaN kept).
    method, x_name : str
    excluded : DataFrame
    """

    table: pd.DataFrame
    per_item: pd.DataFrame
    method: str
    x_name: str
    excluded: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """The summary table."""
        return self.table.copy()

    def summary(self) -> str:
        """One line per metric: mean correlation and NaN share."""
        lines = [f"per-item {self.method} correlation with log10({self.x_name})"]
        for _, r in self.table.iterrows():
            lines.append(f"  {r['task']} / {r['metric']}: mean {r['mean']:.3f}, median "
                         f"{r['median']:.3f}, NaN {int(r['n_nan'])}/{int(r['n_items'])}")
        return "\n".join(lines)


def score_compute_correlations(
    scores: pd.DataFrame,
    *,
    x: str = "flops",
    method: str = "spearman",
    along: str = "size",
    metrics: Sequence[str] | None = None,
    on_mismatch: str = "error",
) -> CorrelationSummary:
    """Per-item correlations between log10(scale) and score, summarised per metric.

    Parameters
    ----------
    scores : DataFrame
        Tidy per-item scores (from :func:`emergence.scoring.rescore`).
    x : str, default="flops"
        Scale column (Schaeffer et al. 2024 use compute).
    method : {"pearson", "spearman", "kendall"}, default="spearman"
    along : {"size", "step"}, default="size"
    metrics : list of str, optional
        Default: the metrics of :data:`CHAIN` present in the table, else every metric.
    on_mismatch : {"error", "intersect"}, default="error"

    Returns
    -------
    CorrelationSummary

    Notes
    -----
    For correlations :math:`r_j \\in [-1, 1]`, the area under the complementary CDF over
    :math:`[-1, 1]` equals :math:`1 + \\bar r`, and the 1-Wasserstein distances to the point
    masses at +1 and -1 are :math:`1 - \\bar r` and :math:`1 + \\bar r`; they are reported (as
    in the paper, negated for the distances) with NaN correlations excluded and counted.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"family": "f", "model": list("aabbcc"), "task": "t",
    ...                    "metric": "p_choices", "item": ["1", "2"] * 3,
    ...                    "value": [.2, .5, .3, .5, .4, .5],
    ...                    "params": [1e6] * 2 + [1e7] * 2 + [1e8] * 2})
    >>> res = score_compute_correlations(df, x="params")
    >>> res.table[["metric", "n_items", "n_nan", "mean"]].to_dict("records")
    [{'metric': 'p_choices', 'n_items': 2, 'n_nan': 1, 'mean': 1.0}]
    """
    check_option(method, "method", ("pearson", "spearman", "kendall"))
    if metrics is None:
        present = set(scores["metric"].astype(str))
        chain = [m for m in CHAIN if m in present]
        metrics = chain or None
    curves, excluded = _item_curves(scores, x, along, on_mismatch, metrics, 3)
    if not curves:
        why = ""
        if len(excluded) and "reason" in excluded:
            why = " Excluded rows: " + "; ".join(
                f"{n} x {r}" for r, n in excluded["reason"].value_counts().head(3).items()) + "."
        raise ValueError(
            "no per-item curves with at least 3 scales; correlations across scales need 3 or "
            f"more models (or checkpoints) with the same items and a known '{x}'.{why}"
        )
    rows, per_item = [], []
    for c in curves:
        sign = 1.0 if c.info.higher_is_better else -1.0
        r = item_correlations(np.log10(c.x), sign * c.items, method=method)
        ok = r[~np.isnan(r)]
        m = float(ok.mean()) if ok.size else np.nan
        rows.append({
            "family": c.family, "model": c.model, "task": c.task, "shots": c.shots,
            "metric": c.metric, "n_scales": c.n_scales, "n_items": r.size,
            "n_nan": int(np.isnan(r).sum()), "frac_nan": float(np.isnan(r).mean()),
            "mean": m, "median": float(np.median(ok)) if ok.size else np.nan,
            "std": float(ok.std(ddof=1)) if ok.size > 1 else np.nan,
            "skew": float(stats.skew(ok)) if ok.size > 2 and ok.std() > 0 else np.nan,
            "kurtosis": float(stats.kurtosis(ok)) if ok.size > 3 and ok.std() > 0 else np.nan,
            "auc_ccdf": 1.0 + m, "neg_w1_plus1": -(1.0 - m), "neg_w1_minus1": -(1.0 + m),
            "negated": sign < 0,
        })
        per_item.append(pd.DataFrame({"family": c.family, "task": c.task, "metric": c.metric,
                                      "item": list(c.item_ids or ()), "correlation": r}))
    order = {m: i for i, m in enumerate(CHAIN)}
    table = pd.DataFrame(rows)
    table["_o"] = table["metric"].map(order).fillna(len(order))
    table = table.sort_values(["family", "task", "_o", "metric"], kind="mergesort").drop(
        columns="_o").reset_index(drop=True)
    return CorrelationSummary(table, pd.concat(per_item, ignore_index=True), method, x, excluded)
