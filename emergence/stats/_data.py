"""Normalise a Curve or plain arrays into the arrays the tests use."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_log10_x
from ..registry import MetricInfo, metric_info

__all__ = ["CurveData", "as_curve_data", "default_null"]


@dataclass(frozen=True)
class CurveData:
    """Sorted, checked arrays of one curve.

    ``x`` is on the log10 scale. ``n`` is the number of items per scale (None when unknown),
    ``items`` the (n_items, n_scales) matrix (None when absent), ``proportion`` True for shares
    of items in [0, 1].
    """

    x: np.ndarray
    y: np.ndarray
    n: np.ndarray | None
    items: np.ndarray | None
    stderr: np.ndarray | None
    chance: float
    proportion: bool
    metric: str
    kind: str
    sharp: bool
    higher_is_better: bool
    notes: tuple[str, ...] = ()
    facts: MetricInfo | None = None
    chance_source: str = "unknown"

    @property
    def n_scales(self) -> int:
        return int(self.x.size)

    @property
    def binary_items(self) -> bool:
        return self.items is not None and bool(np.all((self.items == 0) | (self.items == 1)))


def as_curve_data(
    curve=None,
    *,
    log10_x=None,
    y=None,
    n_items=None,
    items=None,
    stderr=None,
    chance=None,
    metric: str | MetricInfo | None = None,
    log_x: bool = False,
    min_scales: int = 3,
    x=None,
) -> CurveData:
    """Build :class:`CurveData` from a Curve or arrays, raising clear errors on bad input.

    ``log10_x`` given as arrays is used as is (already log10; a raw scale is refused) unless
    ``log_x`` is True (then it is the raw scale). ``x`` is the same as ``log10_x``. A Curve
    brings its metric's facts (:attr:`~emergence.curves.Curve.facts`); with arrays, ``metric``
    is a built-in name or a :class:`~emergence.registry.MetricInfo` (an unknown name raises
    :class:`~emergence.UnknownMetricError`), or None for an unnamed series.
    """
    from ..curves import Curve

    notes: list[str] = []
    if curve is not None:
        if not isinstance(curve, Curve):
            raise TypeError(f"expected a Curve; got {type(curve).__name__}. Pass arrays as x=, y=.")
        if np.any(~np.isfinite(curve.x)):
            raise ValueError(f"{curve.name}: scale values must be finite.")
        keep = curve.x > 0
        xv = np.log10(np.where(keep, curve.x, 1.0))[keep]
        yv = np.asarray(curve.y, float)[keep]
        nv = np.asarray(curve.n_items, float)[keep]
        items = curve.items[:, keep] if curve.items is not None else None
        stderr = np.asarray(curve.stderr, float)[keep]
        if not keep.all():
            dropped = [str(lab) for lab, k in zip(curve.labels, keep, strict=True) if not k]
            notes.append(f"left out {len(dropped)} point(s) with scale <= 0 (log axis): "
                         f"{', '.join(dropped[:5])}")
        chance_source = curve.chance_source if chance is None else "declared"
        chance = curve.chance if chance is None else chance
        info: MetricInfo | None = curve.info
        metric = curve.metric
        name = curve.name
    else:
        if log10_x is None:
            log10_x = x
        if log10_x is None or y is None:
            raise ValueError("pass a Curve or both `log10_x` and `y`.")
        xv = np.asarray(log10_x, float).ravel()
        if log_x:
            xv = np.log10(xv)
        check_log10_x(xv)
        yv = np.asarray(y, float).ravel()
        nv = n_items
        if isinstance(metric, MetricInfo):
            info, metric = metric, metric.name
        elif metric is None:
            info, metric = None, "value"
        else:
            info = metric_info(metric)
        chance_source = "declared" if chance is not None else "unknown"
        name = "curve"
    if xv.shape != yv.shape:
        raise ValueError(f"{name}: x and y lengths differ ({xv.size} vs {yv.size}).")
    bad = np.flatnonzero(~(np.isfinite(xv) & np.isfinite(yv)))
    if bad.size:
        raise ValueError(f"{name}: x and y must be finite; positions {bad[:8].tolist()} are NaN "
                         "or infinite. Remove those points (and report them) first.")
    order = np.argsort(xv, kind="mergesort")
    if np.any(np.diff(order) < 0):
        notes.append("points sorted by scale")
    xv, yv = xv[order], yv[order]
    if np.any(np.diff(xv) == 0):
        raise ValueError(f"{name}: tied scales {sorted(set(xv[:-1][np.diff(xv) == 0].tolist()))}; "
                         "average them first (extract_curves(..., ties='mean')).")
    if xv.size < min_scales:
        raise ValueError(f"{name}: {xv.size} scales; at least {min_scales} are needed.")
    if nv is not None:
        nv = np.broadcast_to(np.asarray(nv, float), xv.shape).copy()
        if np.ndim(n_items if curve is None else curve.n_items) > 0:
            nv = nv[order]
        if not np.all(np.isfinite(nv) & (nv >= 1)):
            nv = None
    if items is not None:
        items = np.asarray(items, float)[:, order]
        if items.ndim != 2 or np.any(~np.isfinite(items)):
            raise ValueError(f"{name}: item matrix must be 2-D and finite.")
        if nv is None:
            nv = np.full(xv.size, float(items.shape[0]))
    if stderr is not None:
        stderr = np.asarray(stderr, float)
        stderr = stderr[order] if stderr.shape == order.shape else None
        if stderr is not None and not np.all(np.isfinite(stderr) & (stderr > 0)):
            stderr = None
    in01 = bool(yv.min() >= 0 and yv.max() <= 1)
    proportion = info.is_proportion if info is not None else (in01 and nv is not None)
    if proportion and not in01:
        raise ValueError(f"{name}: metric {metric!r} is a share of items but values lie outside "
                         "[0, 1]; rescale percentages to shares.")
    ch = float(chance) if chance is not None and np.isfinite(chance) else float("nan")
    if info is not None:
        kind, sharp, hib = info.kind, info.sharp, info.higher_is_better
    else:  # an unnamed series: shares of items when counts are given, else continuous
        kind, sharp, hib = ("discontinuous" if proportion else "continuous"), False, True
    if not np.isfinite(ch):
        chance_source = chance_source if chance_source != "declared" else "unknown"
    return CurveData(xv, yv, nv, items, stderr, ch, proportion, str(metric), kind, sharp,
                     hib, tuple(notes), info, chance_source)


_EXACT = ("exact_match", "em", "exact_str_match", "pass@1", "exact")


def default_null(d: CurveData) -> str:
    """Metric-appropriate smooth null (methods: exact match -> Mirage; multiple choice ->
    chance-floored sigmoid; continuous -> linear, or power law for positive metrics).

    Lower-is-better proportions are not given a Mirage null (the link assumes an accuracy).
    """
    if d.proportion:
        base = d.metric.split(",", 1)[0].lower()
        if np.isfinite(d.chance) and d.chance > 0:
            return "chance_sigmoid"
        exact = d.facts.latent == "exact_match" if d.facts is not None else base.startswith(_EXACT)
        if exact or (np.isfinite(d.chance) and d.chance == 0):
            return "gompertz" if d.higher_is_better else "linear"
        return "chance_sigmoid"
    lower = d.facts.lower if d.facts is not None else -np.inf
    upper = d.facts.upper if d.facts is not None else np.inf
    if not d.sharp and ((lower >= 0 and np.all(d.y > 0)) or (upper <= 0 and np.all(d.y < 0))):
        return "power_law"
    return "linear"
