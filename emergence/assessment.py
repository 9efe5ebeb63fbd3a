"""The typed result of testing one curve, and the row table built from many.

:func:`emergence.verdict.assess_curve` returns a :class:`CurveAssessment`; :func:`assessment_frame`
turns a sequence of them into the per-curve table of :class:`emergence.verdict.VerdictTable`, the
screen's ``curves.csv`` and the report. Columns follow one vocabulary shared with the
:mod:`emergence.stats` results: ``statistic``, ``pvalue`` and ``qvalue`` (Benjamini-Hochberg,
added across curves by :func:`emergence.verdict.finalize`), prefixed by the test:

==========================  =====================================================================
prefix                      test
==========================  =====================================================================
``pblrt_``                  primary test: an accelerating break against the smooth null
                            (:func:`~emergence.stats.latent.latent_break_test` for metrics with a
                            latent link, else :func:`~emergence.stats.bootstrap.pblrt_test`
                            against a straight line)
``decel_``                  the opposite one-sided test: a slowdown (saturation)
``naive_``                  an accelerating break against a straight line in the raw metric (the
                            "apparent" transition)
``davies_``                 Davies (2002) cross-check on the link scale
``supf_``                   Hansen sup-F cross-check on the link scale
``mcnemar_``                exact McNemar between adjacent scales (largest gain)
==========================  =====================================================================

Examples
--------
>>> from emergence.assessment import CurveAssessment, assessment_frame
>>> a = CurveAssessment(family="f", model=None, task="t", shots=0, metric="acc",
...                     x_name="params", n_scales=8, pblrt_pvalue=0.01, pblrt_kind="hinge")
>>> assessment_frame([a])[["task", "pblrt_pvalue", "pblrt_kind", "davies_pvalue"]]
  task  pblrt_pvalue pblrt_kind  davies_pvalue
0    t          0.01      hinge            NaN
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._exceptions import EmergenceError
from .stats._results import fmt_p

__all__ = ["CurveAssessment", "assessment_frame", "COLUMNS", "OLD_COLUMNS",
           "VocabularyError", "P_COLUMNS"]

NAN = float("nan")


class VocabularyError(EmergenceError, ValueError):
    """Rows written with the column names of an older version (``pblrt_p``, ``davies_p``, ...)."""


@dataclass(frozen=True)
class CurveAssessment:
    """Result of :func:`emergence.verdict.assess_curve`: every test on one curve.

    p-values are not yet adjusted across curves (:func:`emergence.verdict.finalize` adds the
    ``*_qvalue`` columns and the verdict flags). Every field is always present; a test that did
    not run leaves NaN (numbers) or ``""`` (text).

    Attributes
    ----------
    family, model, task, shots, metric, x_name
        Identity of the curve.
    n_scales : int
        Scales tested (after leaving out non-positive ones).
    status : {"ok", "underpowered", "error"}
    reason : str
        Why a curve was not tested.
    notes : str
        Limits of the analysis, ``"; "``-separated.
    kind, sharp, proportion, latent
        The metric's kind (discontinuous/continuous), whether it is sharp in per-token error,
        whether it is a share, and its latent link (``"none"`` without one).
    n_items, has_items, chance, chance_source, y_first, y_last, n_runs
        What the curve holds.
    tokenizer : str
        Tokenizer that counted the items' target lengths used by the latent link (``"digits"``,
        ``"whitespace"``, ... as re-scoring wrote it; ``"not stated"`` when the lengths come
        without one; ``""`` when no target lengths are used).
    resolved_scales, below_ceiling_scales, below_chance_scales
        Scales resolvably above the floor (chance), below the ceiling, significantly below chance.
    es, es_unfloored, es_floor_applied, es_low, es_high
        Emergence Score (floored), its published unfloored value, and its item-bootstrap interval.
    first_above_chance : str
        First scale whose accuracy is significantly above chance (exact binomial).
    mcnemar_max_gain, mcnemar_pair, mcnemar_pvalue_bonf
        Largest paired gain between adjacent scales, where, and its Bonferroni p-value.
    null_model, link, null_why
        The smooth null of the primary test, its link, and why.
    pblrt_statistic, pblrt_pvalue, pblrt_pvalue_two_sided, pblrt_n_boot_used
        The primary test (one-sided, accelerating), its two-sided p-value and the replicates drawn.
    pblrt_kind, pblrt_psi, pblrt_effect, pblrt_effect_direction, pblrt_any_direction
        Its best accelerating break (``psi`` in log10 units) and the best break of either sign.
    decel_pvalue, decel_kind, decel_psi, decel_effect
        The slowdown test and its best break.
    shape_nu, shape_floor, tau2, tau2_source, item_sigma, simulate, improve_sign
        Shape of the latent null, model-to-model scatter and how the replicates were drawn.
    naive_pvalue, naive_kind, naive_psi, naive_direction, naive_any_direction
        The test against a straight line in the raw metric.
    psi_low, psi_high
        Hansen (2000) confidence set of the break (when the primary test rejects).
    davies_pvalue, davies_best, davies_alternative
        Davies cross-check.
    supf_statistic, supf_pvalue, supf_psi, supf_direction
        sup-F cross-check.
    ic_best, w_aicc_break, w_aicc_psi3_break, w_bic_break, w_bic_psi3_break
        AICc/BIC comparison (only with ``ic=True``).
    degenerate_of : str
        The 0/1 metric of the same group this metric is a function of on these items.
    """

    family: Any
    model: Any
    task: Any
    shots: Any
    metric: Any
    x_name: Any
    n_scales: int = 0
    status: str = "ok"
    reason: str = ""
    notes: str = ""
    kind: str = ""
    sharp: bool = False
    proportion: bool = False
    n_items: float = NAN
    has_items: bool = False
    chance: float = NAN
    chance_source: str = ""
    y_first: float = NAN
    y_last: float = NAN
    latent: str = "none"
    n_runs: int = 1
    tokenizer: str = ""
    resolved_scales: float = NAN
    below_ceiling_scales: float = NAN
    below_chance_scales: int = 0
    es: float = NAN
    es_unfloored: float = NAN
    es_floor_applied: bool = False
    es_low: float = NAN
    es_high: float = NAN
    first_above_chance: str = ""
    mcnemar_max_gain: float = NAN
    mcnemar_pair: str = ""
    mcnemar_pvalue_bonf: float = NAN
    null_model: str = ""
    link: str = ""
    null_why: str = ""
    pblrt_statistic: float = NAN
    pblrt_pvalue: float = NAN
    pblrt_pvalue_two_sided: float = NAN
    pblrt_n_boot_used: float = NAN
    pblrt_kind: str = ""
    pblrt_psi: float = NAN
    pblrt_effect: float = NAN
    pblrt_effect_direction: str = "none"
    pblrt_any_direction: str = "none"
    decel_pvalue: float = NAN
    decel_kind: str = ""
    decel_psi: float = NAN
    decel_effect: float = NAN
    shape_nu: float = NAN
    shape_floor: float = NAN
    tau2: float = NAN
    tau2_source: str = ""
    item_sigma: float = NAN
    simulate: str = ""
    improve_sign: float = NAN
    naive_pvalue: float = NAN
    naive_kind: str = ""
    naive_psi: float = NAN
    naive_direction: str = "none"
    naive_any_direction: str = "none"
    psi_low: float = NAN
    psi_high: float = NAN
    davies_pvalue: float = NAN
    davies_best: float = NAN
    davies_alternative: str = ""
    supf_statistic: float = NAN
    supf_pvalue: float = NAN
    supf_psi: float = NAN
    supf_direction: str = ""
    ic_best: str = ""
    w_aicc_break: float = NAN
    w_aicc_psi3_break: float = NAN
    w_bic_break: float = NAN
    w_bic_psi3_break: float = NAN
    degenerate_of: str = ""

    @property
    def key(self) -> dict[str, Any]:
        """Identity columns (family, model, task, shots, metric, x_name)."""
        return {k: getattr(self, k) for k in KEY_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        """Every field, as plain Python values (NaN kept)."""
        return {f: _plain(getattr(self, f)) for f in COLUMNS}

    def to_frame(self) -> pd.DataFrame:
        """One row with every column (:data:`COLUMNS`)."""
        return assessment_frame([self])

    def summary(self) -> str:
        """Short text: identity, status, and the p-value of every test that ran."""
        name = f"{self.family}/{self.task}/{self.metric}" + (
            f" ({self.model})" if isinstance(self.model, str) and self.model else "")
        lines = [f"{name}: {self.status}, {self.n_scales} scales"
                 + (f" ({self.reason})" if self.reason else "")]
        if self.status == "ok":
            lines.append(f"  null: {self.null_model} ({self.link})")
            for pre, what in (("pblrt", "accelerating break"), ("decel", "slowdown"),
                              ("naive", "break against a straight line"),
                              ("davies", "Davies"), ("supf", "sup-F")):
                p = getattr(self, f"{pre}_pvalue")
                if np.isfinite(p):
                    kind = getattr(self, f"{pre}_kind", "")
                    psi = getattr(self, f"{pre}_psi", NAN)
                    where = (f" ({kind} at 10^{psi:.2f})" if isinstance(kind, str)
                             and kind in ("hinge", "step") and np.isfinite(psi) else "")
                    lines.append(f"  {what}: p = {fmt_p(p)}{where}")
        if np.isfinite(self.es):
            lines.append(f"  Emergence Score {self.es:.3g}")
        if self.notes:
            lines.append(f"  notes: {self.notes}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    @classmethod
    def from_dict(cls, row: Mapping[str, Any], *, ignore: Sequence[str] = ()) -> CurveAssessment:
        """Rebuild from :meth:`to_dict` (e.g. a line of a screen's ``rows.jsonl``).

        ``None`` (JSON null) becomes the field's default. Keys named in ``ignore`` are skipped.

        Raises
        ------
        VocabularyError
            The row uses column names of an older version (``pblrt_p``, ``davies_p``, ...).
        ValueError
            Other unknown keys.
        """
        old = sorted(k for k in row if k in OLD_COLUMNS)
        if old:
            raise VocabularyError(
                f"row written with the column names of an older version of emergence "
                f"({', '.join(old[:4])}; now {', '.join(OLD_COLUMNS[k] for k in old[:4])}): "
                "compute it again (for a screen, use a new output folder or resume=False, "
                "--restart at the command line).")
        unknown = sorted(k for k in row if k not in _FIELDS and k not in ignore)
        if unknown:
            raise ValueError(f"unknown assessment column(s) {unknown[:6]}; known: "
                             f"{', '.join(COLUMNS)}.")
        kw = {}
        for k, v in row.items():
            if k not in _FIELDS:
                continue
            if k in KEY_FIELDS:
                kw[k] = v
            elif v is None or (isinstance(v, float) and math.isnan(v)
                               and not isinstance(_DEFAULTS[k], float)):
                continue  # the field's default
            else:
                kw[k] = v
        return cls(**kw)


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


_FIELDS = {f.name: f for f in dataclasses.fields(CurveAssessment)}
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(CurveAssessment)}

#: Every column of an assessment, in table order.
COLUMNS: tuple[str, ...] = tuple(_FIELDS)
KEY_FIELDS = ("family", "model", "task", "shots", "metric", "x_name")

#: Raw p-value columns that get a Benjamini-Hochberg ``*_qvalue`` across curves.
P_COLUMNS = ("pblrt_pvalue", "naive_pvalue", "decel_pvalue")

#: Column names of versions before the shared vocabulary -> their names now.
OLD_COLUMNS: dict[str, str] = {
    "pblrt_stat": "pblrt_statistic", "pblrt_p": "pblrt_pvalue",
    "pblrt_p_two_sided": "pblrt_pvalue_two_sided", "pblrt_q": "pblrt_qvalue",
    "naive_p": "naive_pvalue", "naive_q": "naive_qvalue",
    "decel_p": "decel_pvalue", "decel_q": "decel_qvalue",
    "davies_p": "davies_pvalue", "supf_stat": "supf_statistic", "supf_p": "supf_pvalue",
    "mcnemar_p_bonf": "mcnemar_pvalue_bonf", "min_pblrt_q": "min_pblrt_qvalue",
}


def assessment_frame(assessments: Sequence[CurveAssessment]) -> pd.DataFrame:
    """The per-curve table: one row per assessment, every column of :data:`COLUMNS`.

    The one place where typed assessments become the row table (used by
    :func:`emergence.verdict.finalize`, hence by ``assess``, ``screen`` and the report).
    """
    bad = [type(a).__name__ for a in assessments if not isinstance(a, CurveAssessment)]
    if bad:
        raise TypeError(f"expected CurveAssessment objects; got {sorted(set(bad))}.")
    data = {c: [getattr(a, c) for a in assessments] for c in COLUMNS}
    # float and bool columns holding only Python floats (bools) become arrays directly: the
    # same values and dtype as the conversions below, without a pandas pass per column
    convert = []
    for c, f in _FIELDS.items():
        py = float if f.type in ("float", float) else bool if f.type in ("bool", bool) else None
        if py is None:
            continue
        if all(type(v) is py for v in data[c]):
            data[c] = np.array(data[c], dtype=py)
        else:
            convert.append((c, py))
    df = pd.DataFrame(data, columns=list(COLUMNS))
    for c, py in convert:
        df[c] = (pd.to_numeric(df[c], errors="coerce").astype(float) if py is float
                 else df[c].astype(bool))
    return df
