"""The analysis layer: curves, tests and verdicts, fitted lines and Emergence Scores, in one call.

:func:`analyze` runs every computation a report shows and returns an :class:`Analysis`;
:mod:`emergence.report` only renders one. One set of defaults (``seed``, ``n_boot``, ``alpha``,
``interval``) is stored on the result and passed on to every step, including the scaling fits
that the report draws.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from emergence.analysis import Section, analyze
>>> x = np.geomspace(1e7, 1e10, 8)
>>> t = pd.DataFrame({"family": "f", "model": [f"m{i}" for i in range(8)], "task": "t",
...                   "metric": "acc", "params": x, "n_items": 500,
...                   "value": 0.25 + 0.5 / (1 + np.exp(-3 * (np.log10(x) - 8.5)))})
>>> an = analyze([Section("demo", t)], n_boot=19, progress=False)
>>> an.to_frame()[["task", "metric", "n_scales", "outcome"]].shape
(1, 4)
>>> (an.n_boot, an.seed, an.alpha)
(19, 0, 0.05)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import verdict
from ._defaults import ALPHA, N_BOOT, SEED
from ._random import SeedLike, root_seed
from .curves import Curve, CurveSet, extract_curves
from .scaling.analysis import ScalingAnalysis, analyze_scaling
from .stats.intervals import curve_points
from .stats.scores import emergence_score

__all__ = ["Analysis", "Section", "SectionAnalysis", "analyze", "cited_break", "curve_outcome",
           "curve_points", "emergence_scores", "DEFAULT_SEED", "DEFAULT_N_BOOT", "DEFAULT_ALPHA"]

#: Defaults shared by :func:`analyze`, :func:`emergence.report.build_report` and the demo (the
#: package-wide values of :mod:`emergence._defaults`).
DEFAULT_SEED = SEED
DEFAULT_N_BOOT = N_BOOT
DEFAULT_ALPHA = ALPHA


@dataclass(frozen=True)
class Section:
    """One part of an analysis (and of its report): a table, the scale axis and which curves.

    Attributes
    ----------
    title : str
    table : DataFrame
        Tidy table.
    x : str
        Scale column for the x axis.
    along : {"size", "step"}
        Curves across models or across checkpoints (see :func:`emergence.curves.extract_curves`).
    tasks, metrics, families, models : list of str, optional
        Restrict the curves shown.
    step : "final", int or None
        Checkpoint selection for ``along="size"``.
    ties : {"error", "mean"}
        How tied scales are handled.
    runs : {"error", "mean", "separate"}
        How replicate runs (column ``run``) are handled (see
        :func:`emergence.curves.extract_curves`).
    min_scales : int
        Curves with fewer scales are reported as excluded.
    description : str
        Paragraph shown under the title (HTML-escaped).
    verdicts : bool
        Run the statistics engine on the curves when it is available.
    lines : bool
        Fit the lines a report draws on tested curves (the smooth null and the cited break);
        ``False`` skips those fits (the lab's tables draw no lines).
    kind : {"curves", "scaling"}
        ``"curves"``: side-by-side metric panels per task (the fields above apply).
        ``"scaling"``: loss-law fits, compute-optimal placement, transition zones and backtests
        of the table (:func:`emergence.scaling.analyze_scaling`).
    metric_facts : mapping, optional
        Declared facts of metrics the built-in registry does not know (see
        :func:`emergence.curves.extract_curves`).
    chance : mapping task -> float, optional
        Declared chance levels of tasks whose data do not give the number of choices.
    scatter_sd : float, optional
        Declared model-to-model scatter (sd of ``ln CE`` between models of the same size) for
        the verdicts and the drawn fits (see :func:`emergence.verdict.assess`).
    """

    title: str
    table: pd.DataFrame
    x: str = "params"
    along: str = "size"
    tasks: Sequence[str] | None = None
    metrics: Sequence[str] | None = None
    families: Sequence[str] | None = None
    models: Sequence[str] | None = None
    step: int | str | None = "final"
    ties: str = "error"
    runs: str = "error"
    min_scales: int = 3
    description: str = ""
    verdicts: bool = True
    lines: bool = True
    kind: str = "curves"
    metric_facts: Mapping[str, Any] | None = None
    chance: Mapping[str, float] | None = None
    scatter_sd: float | None = None



def emergence_scores(curves: Sequence[Curve]) -> pd.DataFrame:
    """Emergence Score of each curve (values oriented so that higher is better).

    Curves with fewer than 3 scales get NaN and a note. See
    :func:`emergence.stats.scores.emergence_score` for the floor on the denominator.
    """
    rows = []
    for c in curves:
        row = {**c.key, "n_scales": c.n_scales}
        if c.n_scales < 3:
            row.update(score=np.nan, unfloored_score=np.nan, floor_rule="", note="< 3 scales")
        else:
            sign = 1.0 if c.info.higher_is_better else -1.0
            se = c.stderr if np.all(np.isfinite(c.stderr)) else None
            n = c.n_items if np.all(np.isfinite(c.n_items)) else None
            r = emergence_score(c.x, sign * c.y, stderr=se, n_items=n)
            row.update(score=r.score, unfloored_score=r.unfloored_score,
                       floor_rule=r.floor_rule, note="")
        rows.append(row)
    return pd.DataFrame(rows)


def _get(row, col, default=np.nan):
    """A column of a verdict row, tolerating its absence (the table's columns evolve)."""
    if row is None:
        return default
    v = row.get(col, default) if hasattr(row, "get") else default
    return default if v is None else v


def _true(v) -> bool:
    try:
        return bool(v) and not (isinstance(v, float) and np.isnan(v))
    except (TypeError, ValueError):
        return False


def _finite(v) -> bool:
    try:
        return bool(np.isfinite(float(v)))
    except (TypeError, ValueError):
        return False


def curve_outcome(row) -> str:
    """Label of one curve's test outcome, read from a verdict row (see :data:`OUTCOMES`).

    Uses the row's ``outcome`` column when the verdict table provides one; otherwise the flags
    that :func:`emergence.verdict.assess` sets (``break_counts``, ``apparent_break``,
    ``break_survives`` with ``sharp``, ``slowing``, ``below_chance``, ``degenerate_of``).
    """
    given = _get(row, "outcome", None)
    if isinstance(given, str) and given:
        return given
    status = str(_get(row, "status", ""))
    if status == "underpowered":
        return "underpowered"
    if status != "ok":
        return "not tested"
    dup = _get(row, "degenerate_of", "")
    if isinstance(dup, str) and dup:
        return "duplicate of another metric"
    sharp = _true(_get(row, "sharp", False))
    if _true(_get(row, "break_counts", False)) and not sharp:
        return "accelerating break"
    if _true(_get(row, "accelerating", False)) and not sharp:
        return "accelerating curvature"
    below = _true(_get(row, "below_chance", False))
    if (_true(_get(row, "apparent_break", False)) and not below) or (
            sharp and _true(_get(row, "break_survives", False))):
        return "apparent jump, smooth null explains it"
    if _true(_get(row, "slowing", False)):
        return "slowdown (saturation)"
    if below:
        return "below chance"
    return "no break"


def cited_break(row, alpha: float = ALPHA) -> dict | None:
    """The break a curve's verdict text cites, read from its verdict row, or None.

    Reads the ``cited_break`` column (``"accelerating"``, ``"decelerating"`` or ``"none"``) with
    ``pblrt_kind``/``pblrt_psi`` or ``decel_kind``/``decel_psi`` (``cited_break_kind`` and
    ``cited_break_psi`` when the table has them). Tables without ``cited_break``: an
    accelerating break that counts (``break_counts``), else a significant slowdown
    (``decel_qvalue <= alpha``).

    Returns
    -------
    dict or None
        ``{"direction": "accelerating" | "decelerating", "kind": str, "psi": float}``.
    """
    if row is None or str(_get(row, "status", "")) != "ok":
        return None
    direction = _get(row, "cited_break", None)
    if not isinstance(direction, str):
        if _true(_get(row, "break_counts", False)):
            direction = "accelerating"
        elif _finite(_get(row, "decel_qvalue")) and float(_get(row, "decel_qvalue")) <= alpha:
            direction = "decelerating"
        else:
            direction = "none"
    if direction not in ("accelerating", "decelerating"):
        return None
    pre = "pblrt" if direction == "accelerating" else "decel"
    kind = _get(row, "cited_break_kind", None)
    kind = kind if isinstance(kind, str) else _get(row, f"{pre}_kind", "")
    psi = _get(row, "cited_break_psi")
    psi = psi if _finite(psi) else _get(row, f"{pre}_psi")
    if not isinstance(kind, str) or kind not in ("hinge", "step") or not _finite(psi):
        return None
    return {"direction": direction, "kind": kind, "psi": float(psi)}


_FIT_PSI = re.compile(r"at 10\^(-?\d+(?:\.\d+)?)")


def _lines_for(curve: Curve, row, alpha: float, scatter_sd: float | None = None
               ) -> tuple[pd.DataFrame | None, str]:
    """Fitted lines to draw for one curve and a note on what is drawn.

    Only tested curves get lines: the smooth null, plus the break the verdict cites (accelerating
    or slowing). The lines come from :func:`emergence.verdict.fitted_lines`; a break line is
    drawn only when it sits where the verdict row says (its ``psi`` within 0.01 decade).
    """
    status = str(_get(row, "status", ""))
    if row is None:
        return None, "not assessed: no fitted line"
    if status == "underpowered":
        return None, "underpowered: not tested, no fitted line"
    if status != "ok":
        return None, "not tested: no fitted line"
    cb = cited_break(row, alpha)
    fl = verdict.fitted_lines(curve, which=cb["direction"] if cb else "none",
                              scatter_sd=scatter_sd)
    if fl is None or not len(fl):
        return None, "no fitted line"
    null = fl[fl["model"] == "null"].assign(model="null")
    null = null.assign(label="fitted smooth null")
    parts = [null]
    note = "no break cited: dashed line is the smooth null"
    if cb is not None:
        brk = fl[fl["model"] == "break"]
        m = _FIT_PSI.search(str(brk["fit"].iloc[0])) if len(brk) and "fit" in brk else None
        if m and abs(float(m.group(1)) - cb["psi"]) <= 0.01:
            word = "faster improvement" if cb["direction"] == "accelerating" else \
                "improvement slows"
            parts.append(brk.assign(model=cb["direction"], psi=cb["psi"],
                                    label=f"cited break: {word}"))
            note = f"cited: {cb['direction']} {cb['kind']} at 10^{cb['psi']:.2f}"
        else:
            note = (f"cited {cb['direction']} {cb['kind']} at 10^{cb['psi']:.2f}: the refit "
                    "does not reproduce it, so no break line is drawn")
    return pd.concat(parts, ignore_index=True), note


@dataclass(frozen=True)
class SectionAnalysis:
    """Everything computed for one :class:`Section`.

    Attributes
    ----------
    section : Section
        The section as given.
    curves : tuple of Curve
        The curves of a ``kind="curves"`` section (empty for ``kind="scaling"``).
    excluded : DataFrame
        Rows left out of the curves, with the reason (column ``section`` added).
    scores : DataFrame
        Emergence Score per curve (:func:`emergence_scores`, column ``section`` added).
    curve_verdicts : DataFrame
        One row per tested curve from :func:`emergence.verdict.assess` (empty when not run).
    verdicts : DataFrame
        One verdict per task group (empty when not run).
    lines : tuple of (DataFrame or None)
        Per curve (same order as ``curves``): the fitted lines to draw (the smooth null and the
        cited break), or None for curves that were not tested.
    line_notes : tuple of str
        Per curve: what the lines are, or why there are none.
    outcomes : tuple of str
        Per curve: the outcome label read from its verdict row ("" when not assessed).
    points : DataFrame
        Every curve's points with interval bounds (:func:`curve_points`).
    scaling : ScalingAnalysis or None
        The fits of a ``kind="scaling"`` section (:func:`emergence.scaling.analyze_scaling`),
        None for other sections.
    assessment : VerdictTable or None
        The typed result of :func:`emergence.verdict.assess` behind ``curve_verdicts`` and
        ``verdicts`` (None when the section was not tested).
    """

    section: Section
    curves: tuple[Curve, ...] = ()
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame)
    scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    curve_verdicts: pd.DataFrame = field(default_factory=pd.DataFrame)
    verdicts: pd.DataFrame = field(default_factory=pd.DataFrame)
    lines: tuple[pd.DataFrame | None, ...] = ()
    line_notes: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    points: pd.DataFrame = field(default_factory=pd.DataFrame)
    scaling: ScalingAnalysis | None = None
    assessment: verdict.VerdictTable | None = None

    @property
    def curve_set(self) -> CurveSet:
        """The section's curves with the rows left out, as :func:`~emergence.curves.extract_curves`
        returns them."""
        return CurveSet(list(self.curves), self.excluded.drop(columns="section", errors="ignore"))

    def row_of(self, curve: Curve) -> pd.Series | None:
        """The verdict row of one curve of this section, or None."""
        if self.curve_verdicts.empty:
            return None
        sel = _match(self.curve_verdicts, curve.key)
        return sel.iloc[0] if len(sel) else None

    def points_of(self, curve: Curve) -> pd.DataFrame:
        """The points of one curve of this section with their interval bounds, as plotted."""
        if self.points.empty:
            return self.points
        return _match(self.points, curve.key).reset_index(drop=True)


def _stacked(name: str, doc: str) -> property:
    """A property of :class:`Analysis`: one table of its sections stacked (empty ones left out)."""

    def stack(self: Analysis) -> pd.DataFrame:
        parts = [getattr(s, name) for s in self.sections if not getattr(s, name).empty]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    return property(stack, doc=doc)


@dataclass(frozen=True)
class Analysis:
    """Result of :func:`analyze`: every number a report shows, with the settings that made them.

    Attributes
    ----------
    sections : tuple of SectionAnalysis
    seed, n_boot, alpha, interval
        The settings every step used, the scaling fits of ``kind="scaling"`` sections included.
    """

    sections: tuple[SectionAnalysis, ...]
    seed: int = DEFAULT_SEED
    n_boot: int = DEFAULT_N_BOOT
    alpha: float = DEFAULT_ALPHA
    interval: str = "wilson"

    scores = _stacked("scores", "Emergence Scores of every section (one row per curve).")
    excluded = _stacked("excluded", "Excluded rows of every section, with the reason.")
    verdicts = _stacked("verdicts", "Task verdicts of every section.")
    curve_verdicts = _stacked("curve_verdicts", "Per-curve test rows of every section.")
    points = _stacked("points", "Every curve's points with interval bounds.")

    def to_frame(self) -> pd.DataFrame:
        """One row per curve: its key, section, scales, Emergence Score, outcome and drawn lines."""
        rows = []
        for s in self.sections:
            for i, c in enumerate(s.curves):
                sc = s.scores.iloc[i] if i < len(s.scores) else {}
                rows.append({"section": s.section.title, **c.key, "n_scales": int(c.n_scales),
                             "score": sc.get("score", np.nan),
                             "unfloored_score": sc.get("unfloored_score", np.nan),
                             "outcome": s.outcomes[i] if i < len(s.outcomes) else "",
                             "lines": s.line_notes[i] if i < len(s.line_notes) else ""})
        cols = ["section", "family", "model", "task", "shots", "metric", "n_scales", "score",
                "unfloored_score", "outcome", "lines"]
        return pd.DataFrame(rows, columns=list(dict.fromkeys(
            cols + [k for r in rows for k in r])))

    def summary(self) -> str:
        """Counts per section and the settings used."""
        lines = [f"analysis: {len(self.sections)} sections (seed={self.seed}, "
                 f"n_boot={self.n_boot}, alpha={self.alpha:g}, interval={self.interval})"]
        for s in self.sections:
            if s.section.kind == "scaling":
                sc = s.scaling
                lines.append(f"  {s.section.title}: scaling section, {len(sc.laws)} loss laws, "
                             f"{len(sc.transitions)} transitions, {len(sc.notes)} notes")
                continue
            v = s.verdicts["verdict"].value_counts().to_dict() if "verdict" in s.verdicts else {}
            lines.append(f"  {s.section.title}: {len(s.curves)} curves, "
                         f"{len(s.curve_verdicts)} tested rows, {len(s.excluded)} rows excluded"
                         + (f", verdicts {v}" if v else ""))
        return "\n".join(lines)


def _match(df: pd.DataFrame, key: dict) -> pd.DataFrame:
    """Rows of ``df`` whose identity columns equal ``key`` (None/NaN match each other)."""
    sel = df
    for k, v in key.items():
        if k not in sel.columns:
            continue
        if v is None or (isinstance(v, float) and np.isnan(v)):
            sel = sel[sel[k].isna()]
        else:
            sel = sel[sel[k] == v]
    return sel


def _as_sections(data) -> list[Section]:
    if isinstance(data, Section):
        return [data]
    if isinstance(data, pd.DataFrame):
        return [Section("table", data)]
    sections = list(data)
    bad = [type(s).__name__ for s in sections if not isinstance(s, Section)]
    if bad:
        raise TypeError("`table_or_sections` must be a tidy DataFrame, a Section or a list of "
                        f"Section; got {', '.join(sorted(set(bad)))}.")
    return sections


def analyze(
    table_or_sections: pd.DataFrame | Section | Sequence[Section],
    *,
    x: str = "params",
    seed: SeedLike = DEFAULT_SEED,
    n_boot: int = DEFAULT_N_BOOT,
    alpha: float = DEFAULT_ALPHA,
    interval: str = "wilson",
    progress: bool = True,
) -> Analysis:
    """Build curves, test them, and compute the fitted lines and Emergence Scores.

    For each ``kind="curves"`` section: :func:`emergence.curves.extract_curves` with the section's
    selection, :func:`emergence_scores`, :func:`emergence.verdict.assess` (when
    ``section.verdicts``), :func:`emergence.verdict.fitted_lines` for tested curves only (the
    smooth null, and the break the verdict cites, drawn only where the row places it) and the
    plotted points with their intervals. For ``kind="scaling"`` sections:
    :func:`emergence.scaling.analyze_scaling` (loss laws, placement, transition zones and
    backtests) with the same ``seed`` and ``n_boot``.

    Parameters
    ----------
    table_or_sections : DataFrame, Section or sequence of Section
        A tidy table (one section with scale axis ``x`` and default selection) or sections.
    x : str, default="params"
        Scale axis when a bare table is given.
    seed : int, SeedSequence, Generator or None, default=0
        Seed of every bootstrap. It is turned into one integer (:func:`emergence._random.root_seed`;
        a Generator gives one draw) that is recorded as ``Analysis.seed`` and passed to every step.
    n_boot : int, default=999
        Bootstrap replicates of every test and fit.
    alpha : float, default=0.05
        False discovery rate of the verdicts (Benjamini-Hochberg across a section's curves).
    interval : str, default="wilson"
        Binomial interval method of the plotted points.
    progress : bool, default=True
        Show progress bars.

    Returns
    -------
    Analysis

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> x = np.geomspace(1e7, 1e10, 4)
    >>> t = pd.DataFrame({"family": "f", "model": list("abcd"), "task": "t", "metric": "acc",
    ...                   "params": x, "value": [0.1, 0.2, 0.4, 0.8]})
    >>> an = analyze(t, n_boot=19, progress=False)
    >>> row = an.to_frame().iloc[0]
    >>> row["metric"], int(row["n_scales"]), row["outcome"]
    ('acc', 4, 'underpowered')
    """
    from tqdm.auto import tqdm

    seed = root_seed(seed)
    if isinstance(table_or_sections, pd.DataFrame):
        sections = [Section("table", table_or_sections, x=x)]
    else:
        sections = _as_sections(table_or_sections)
    out: list[SectionAnalysis] = []
    for sec in sections:
        if sec.kind == "scaling":
            out.append(SectionAnalysis(sec, scaling=analyze_scaling(
                sec.table, seed=seed, n_boot=n_boot, metric_facts=sec.metric_facts,
                chance=dict(sec.chance) if sec.chance else None)))
            continue
        table = sec.table
        if sec.families is not None:
            table = table[table["family"].isin(sec.families)]
        if sec.models is not None:
            table = table[table["model"].isin(sec.models)]
        cs = extract_curves(
            table, x=sec.x, along=sec.along, step=sec.step, ties=sec.ties,
            min_scales=sec.min_scales, runs=sec.runs,
            tasks=list(sec.tasks) if sec.tasks is not None else None,
            metrics=list(sec.metrics) if sec.metrics is not None else None,
            metric_facts=sec.metric_facts, chance=sec.chance,
        )
        curves = tuple(cs.curves)
        curve_verd = pd.DataFrame()
        group_verd = pd.DataFrame()
        vt = None
        if sec.verdicts and curves:
            vt = verdict.assess(list(curves), seed=seed, n_boot=n_boot, alpha=alpha,
                                progress=progress, scatter_sd=sec.scatter_sd)
            curve_verd = vt.to_frame().assign(section=sec.title)
            group_verd = vt.verdicts().assign(section=sec.title)
        lines: list[pd.DataFrame | None] = []
        notes: list[str] = []
        outcomes: list[str] = []
        points = []
        for c in tqdm(curves, desc=f"lines: {sec.title[:24]}", disable=not progress,
                      unit="curve"):
            row = None
            if not curve_verd.empty:
                r = _match(curve_verd, c.key)
                row = r.iloc[0] if len(r) else None
            if row is None:
                lines.append(None)
                notes.append("")
                outcomes.append("")
            else:
                fl, note = (_lines_for(c, row, alpha, sec.scatter_sd) if sec.lines
                            else (None, "lines not fitted"))
                lines.append(fl)
                notes.append(note)
                outcomes.append(curve_outcome(row))
            points.append(curve_points(c, interval=interval).assign(section=sec.title))
        out.append(SectionAnalysis(
            sec, curves=curves, excluded=cs.excluded.assign(section=sec.title),
            scores=emergence_scores(curves).assign(section=sec.title),
            curve_verdicts=curve_verd, verdicts=group_verd, lines=tuple(lines),
            line_notes=tuple(notes), outcomes=tuple(outcomes), assessment=vt,
            points=pd.concat(points, ignore_index=True) if points else pd.DataFrame()))
    return Analysis(tuple(out), seed=seed, n_boot=n_boot, alpha=alpha, interval=interval)
