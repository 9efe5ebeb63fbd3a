"""From the tidy table to curves: one (x, y) series per family, task, shots and metric.

A :class:`Curve` is what the statistics consume: scale values sorted ascending, the per-scale
values, their standard errors and item counts, and, when the table has per-item rows, the item
matrix (items x scales). :func:`extract_curves` builds them and reports every row it leaves out.

Examples
--------
>>> import pandas as pd
>>> from emergence.curves import extract_curves
>>> df = pd.DataFrame({"family": "f", "model": ["m1", "m2", "m3"], "task": "t",
...                    "metric": "acc", "value": [0.3, 0.2, 0.9], "params": [3e9, 1e8, 1e10]})
>>> cs = extract_curves(df, x="params")
>>> cs.curves[0].x.tolist()
[100000000.0, 3000000000.0, 10000000000.0]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._exceptions import DeclarationError, SchemaError
from ._validation import check_option, format_rows, how
from .registry import (
    CHANCE_SOURCES,
    MetricFacts,
    MetricInfo,
    as_chance_map,
    as_metric_facts,
    check_metrics,
    find_metric_info,
    resolve_chance,
)
from .schema import KEY, SCALE_COLUMNS, validate

__all__ = ["Curve", "CurveSet", "extract_curves", "compact_excluded"]


@dataclass(frozen=True)
class Curve:
    """One scaling curve: a metric on a task across scales.

    Attributes
    ----------
    family, task, metric : str
        What the curve is of. ``model`` is set for curves along training steps.
    shots : int or None
    x_name : str
        Scale column used (``params``, ``flops``, ...). Fits use ``log10(x)``.
    x, y, stderr, n_items : ndarray
        Per-scale arrays sorted by ``x``; ``stderr``/``n_items`` NaN where unknown.
    labels : tuple of str
        Model (or checkpoint) label of each point.
    items : ndarray or None
        Per-item scores, shape (n_items, n_scales), same items at every scale.
    item_ids : tuple of str or None
    chance : float
        Chance level (NaN when unknown or not applicable).
    notes : tuple of str
        Handling applied while building the curve (ties averaged, items intersected, where the
        chance level comes from, ...).
    item_lengths : ndarray or None
        Target length in tokens of each item (from a ``target_tokens`` column), aligned with
        ``item_ids``; the latent links of exact match and edit distance use it.
    tokenizer : str
        Tokenizer(s) that counted those tokens (from a ``tokenizer`` column, e.g. ``"digits"``
        or ``"digits, whitespace"``); ``""`` when not stated.
    runs : ndarray or None
        Per-scale values of replicate runs, shape ``(n_runs, n_scales)`` (from a ``run``
        column, with ``runs="mean"`` in :func:`extract_curves`); ``y`` is then their mean and
        the spread between rows is the run-to-run variation.
    run_ids : tuple of str or None
        Run label of each row of ``runs``.
    run : str or None
        The run of a curve built per run (``runs="separate"`` in :func:`extract_curves`).
    facts : MetricInfo
        Direction, kind, range and latent link of the metric: the built-in entry or the caller's
        declaration. Left out, it is looked up in the built-in table (and a metric the table
        does not know raises :class:`~emergence.UnknownMetricError` when the curve is tested).
    chance_source : {"data", "declared", "definition", "not applicable", "unknown"}
        Where ``chance`` comes from. Left out, it is "declared" when ``chance`` is given and
        "unknown" otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.registry import MetricInfo
    >>> c = Curve("f", "t", "val_bpb", None, "params", np.array([1e8, 1e9]),
    ...           np.array([1.2, 1.0]), np.full(2, np.nan), np.full(2, np.nan), ("a", "b"),
    ...           facts=MetricInfo.parse("val_bpb", "lower,continuous,0:inf,loss"))
    >>> c.info.higher_is_better, c.chance_source
    (False, 'unknown')
    """

    family: str
    task: str
    metric: str
    shots: int | None
    x_name: str
    x: np.ndarray
    y: np.ndarray
    stderr: np.ndarray
    n_items: np.ndarray
    labels: tuple[str, ...]
    model: str | None = None
    items: np.ndarray | None = None
    item_ids: tuple[str, ...] | None = None
    chance: float = float("nan")
    notes: tuple[str, ...] = ()
    item_lengths: np.ndarray | None = None
    runs: np.ndarray | None = None
    run_ids: tuple[str, ...] | None = None
    run: str | None = None
    facts: MetricInfo | None = None
    chance_source: str | None = None
    tokenizer: str = ""

    def __post_init__(self) -> None:
        if self.facts is None:
            object.__setattr__(self, "facts", find_metric_info(self.metric))
        elif not isinstance(self.facts, MetricInfo):
            raise TypeError(f"`facts` must be a MetricInfo; got {type(self.facts).__name__}.")
        src = self.chance_source
        if src is None:
            src = "declared" if np.isfinite(self.chance) else "unknown"
        elif src not in CHANCE_SOURCES:
            raise ValueError(f"`chance_source` must be one of {', '.join(CHANCE_SOURCES)}; got "
                             f"{src!r}.")
        object.__setattr__(self, "chance_source", src)

    @property
    def n_scales(self) -> int:
        """Number of scales (points) on the curve."""
        return int(self.x.size)

    @property
    def log10x(self) -> np.ndarray:
        """``log10`` of the scale values: the axis every fit uses."""
        return np.log10(self.x)

    @property
    def info(self) -> MetricInfo:
        """Range, orientation, kind and latent link of the curve's metric (:attr:`facts`).

        Raises
        ------
        UnknownMetricError
            The metric is not built in and the curve was built without ``facts``.
        """
        if self.facts is not None:
            return self.facts
        return check_metrics([self.metric], function="extract_curves")[self.metric]

    @property
    def key(self) -> dict[str, object]:
        """Identifying fields as a dict (for tables)."""
        return {
            "family": self.family,
            "model": self.model,
            "task": self.task,
            "shots": self.shots,
            "metric": self.metric,
            "x_name": self.x_name,
            **({"run": self.run} if self.run is not None else {}),
        }

    @property
    def name(self) -> str:
        """Short human-readable name."""
        who = self.model if self.model else self.family
        shots = "" if self.shots is None else f" {self.shots}-shot"
        run = "" if self.run is None else f" / run {self.run}"
        return f"{who} / {self.task}{shots} / {self.metric}{run}"

    def to_frame(self) -> pd.DataFrame:
        """One row per point."""
        out = pd.DataFrame(
            {
                "label": list(self.labels),
                self.x_name: self.x,
                "value": self.y,
                "stderr": self.stderr,
                "n_items": self.n_items,
            }
        )
        for k, v in reversed(list(self.key.items())):
            if k != "x_name":
                out.insert(0, k, v)
        return out


@dataclass(frozen=True)
class CurveSet:
    """Curves extracted from a table, with the rows that were left out and why.

    Attributes
    ----------
    curves : list of Curve
    excluded : DataFrame
        Excluded rows of the input table with a ``reason`` column. Nothing is dropped silently.
    """

    curves: list[Curve]
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __len__(self) -> int:
        return len(self.curves)

    def __iter__(self):
        return iter(self.curves)

    def to_frame(self) -> pd.DataFrame:
        """All points of all curves as one long table."""
        if not self.curves:
            return pd.DataFrame()
        return pd.concat([c.to_frame() for c in self.curves], ignore_index=True)

    def summary(self) -> str:
        """Counts of curves and excluded rows by reason."""
        lines = [f"{len(self.curves)} curves"]
        if len(self.excluded):
            for reason, n in self.excluded["reason"].value_counts().items():
                lines.append(f"  excluded {n} rows: {reason}")
        return "\n".join(lines)


_RUNS_MEAN = "runs='mean'"
_RUNS_SEP = "runs='separate'"


def _fix_ties() -> str:
    return how("ties='mean'", "--ties mean")


def _final_steps(df: pd.DataFrame) -> pd.Series:
    """Boolean mask: the last checkpoint of each model (rows with no step count as final)."""
    step = df["step"].astype("float64")
    last = step.groupby([df["family"], df["model"]], dropna=False).transform("max")
    return step.isna() | (step == last)


def extract_curves(
    data: pd.DataFrame,
    *,
    x: str = "params",
    along: str = "size",
    step: int | str | None = "final",
    ties: str = "error",
    on_mismatch: str = "error",
    min_scales: int = 2,
    tasks: list[str] | None = None,
    metrics: list[str] | None = None,
    progress: bool | None = None,
    runs: str = "error",
    metric_facts: MetricFacts | None = None,
    chance: Mapping[str, float] | None = None,
) -> CurveSet:
    """Split a tidy table into curves.

    Parameters
    ----------
    data : DataFrame
        A tidy table (validated here).
    x : str, default="params"
        Scale column: one of ``params``, ``nonembedding_params``, ``active_params``, ``tokens``,
        ``flops``, ``step``.
    along : {"size", "step"}, default="size"
        ``"size"``: one curve per (family, task, shots, metric) across models.
        ``"step"``: one curve per (family, model, task, shots, metric) across checkpoints.
    step : "final", int or None, default="final"
        For ``along="size"``: which checkpoint of each model to use. ``"final"`` takes each
        model's last step; an int selects that step; None requires one row per model. The
        checkpoints left out are listed in ``excluded``.
    ties : {"error", "mean"}, default="error"
        Two points of a curve with the same scale: raise, or average them (noted in the curve).
    on_mismatch : {"error", "intersect"}, default="error"
        Per-item curves whose item sets differ between scales: raise listing the missing items,
        or keep the items present at every scale (the number dropped is noted).
    min_scales : int, default=2
        Curves with fewer scales are excluded (and reported) rather than returned.
    tasks, metrics : list of str, optional
        Restrict to these tasks / metrics.
    progress : bool, optional
        Show a progress bar while building curves; by default shown for tables of 100,000
        rows or more.
    runs : {"error", "mean", "separate"}, default="error"
        Several replicate runs (column ``run``) of the same model: raise (averaging is a choice
        the caller makes), average them per scale (``"mean"``: ``y`` is the mean over runs and
        the per-run values are kept in :attr:`Curve.runs` for the between-run spread), or build
        one curve per run (``"separate"``). A table with one run per model is unaffected.
    metric_facts : mapping, optional
        Facts of metrics the built-in table (:data:`emergence.registry.BUILTIN_METRICS`) does not
        know, or overrides of its entries: metric name -> spec string
        (``"lower,continuous,0:inf,loss"``: direction, kind, range, latent link) or
        :class:`~emergence.registry.MetricInfo`. Each curve carries its metric's facts in
        :attr:`Curve.facts`.
    chance : mapping task -> float, optional
        Declared chance levels (``{"hellaswag": 0.25}``) for multiple-choice tasks whose data do
        not give the number of choices. The number of choices in per-item data (column
        ``n_choices``, filled by :func:`emergence.scoring.rescore` from the logs) takes
        precedence; then this declaration; then a ``chance`` column of the table; else the
        chance level is unknown (NaN, ``chance_source="unknown"``). Exact match has chance 0 by
        definition. Each curve says where its chance came from in ``chance_source`` and
        ``notes``.

    Returns
    -------
    CurveSet
        Every row of the (task- and metric-restricted) table is either a point of a curve or a
        row of ``excluded`` with its reason; identical duplicate rows are counted once and the
        copies listed as excluded.

    Raises
    ------
    UnknownMetricError
        A metric of the (filtered) table is neither built in nor in ``metric_facts``; the
        message names the argument that declares it.
    DeclarationError
        A malformed declaration, or ``chance`` names a task the table does not have.
    SchemaError
        Unknown ``x`` column, tied scales (with ``ties="error"``), item mismatch (with
        ``on_mismatch="error"``), several rows per scale with ``step=None``, or several runs
        per model with ``runs="error"``.

    Examples
    --------
    A loss the built-in table does not know is declared, not guessed:

    >>> import pandas as pd
    >>> df = pd.DataFrame({"model": ["a", "b", "c"], "task": "lm", "metric": "val_bpb",
    ...                    "value": [1.3, 1.1, 1.0], "params": [1e7, 1e8, 1e9]})
    >>> try:
    ...     extract_curves(df)
    ... except Exception as e:
    ...     print(type(e).__name__)
    UnknownMetricError
    >>> c = extract_curves(df, metric_facts={"val_bpb": "lower,continuous,0:inf,loss"}).curves[0]
    >>> c.facts.higher_is_better, c.chance_source
    (False, 'not applicable')

    Chance is read from the data or declared, never taken from a task's name:

    >>> acc = df.assign(metric="acc", value=[0.25, 0.3, 0.6], task="hellaswag")
    >>> extract_curves(acc).curves[0].chance_source
    'unknown'
    >>> c = extract_curves(acc, chance={"hellaswag": 0.25}).curves[0]
    >>> c.chance, c.chance_source
    (0.25, 'declared')
    """
    check_option(x, "x", SCALE_COLUMNS)
    check_option(runs, "runs", ("error", "mean", "separate"))
    check_option(along, "along", ("size", "step"))
    check_option(ties, "ties", ("error", "mean"))
    check_option(on_mismatch, "on_mismatch", ("error", "intersect"))
    facts = as_metric_facts(metric_facts)
    declared = as_chance_map(chance)
    df = validate(data, allow_duplicates=True, metric_facts=facts)
    if declared:
        absent = sorted(set(declared) - set(df["task"].astype(str)))
        if absent:
            have = sorted(set(df["task"].astype(str)))
            raise DeclarationError(
                f"{how('chance=', '--chance')} declares task(s) {absent} that the table does not "
                f"have; its tasks: {', '.join(have[:20])}{' ...' if len(have) > 20 else ''}.")
    excluded: list[pd.DataFrame] = []

    def drop(mask: pd.Series, reason) -> None:
        nonlocal df
        if mask.any():
            part = df[mask].copy()
            part["reason"] = reason if isinstance(reason, str) else reason[mask]
            excluded.append(part)
            df = df[~mask]

    if tasks is not None:
        df = df[df["task"].isin(tasks)]
    if metrics is not None:
        df = df[df["metric"].isin(metrics)]
    infos = check_metrics(df["metric"].astype(str).unique(), facts, function="extract_curves")
    drop(df.duplicated(list(KEY), keep="first"),
         "identical duplicate of another row (counted once)")
    drop(df["value"].isna(), "no value: " + df["note"].fillna("NaN").astype(str))
    drop(df[x].isna(), f"unknown scale '{x}' (add it to the table or a model-metadata table)")
    drop(df[x].astype("float64") <= 0, f"scale '{x}' is 0 (cannot be placed on a log axis)")
    if along == "size":
        if step == "final":
            drop(~_final_steps(df), "earlier checkpoint of a model (step='final' keeps the last)")
        elif step is not None:
            drop(df["step"].astype("float64") != float(step),
                 f"other checkpoint than step {step} (step={step})")
        group_cols = ["family", "task", "shots", "metric"]
        point_col = "model"
    else:
        group_cols = ["family", "model", "task", "shots", "metric"]
        point_col = "step"
        drop(df["step"].isna(), "no step (along='step' needs checkpoint steps)")

    multi_run = None
    if "run" in df.columns and df["run"].notna().any():
        if runs == "separate":
            group_cols = group_cols + ["run"]
        else:
            n_runs = df.groupby(group_cols + [point_col], dropna=False, sort=True)["run"].nunique()
            many = n_runs[n_runs > 1]
            if len(many) and runs == "error":
                gk = dict(zip(group_cols + [point_col], many.index[0], strict=True))
                raise SchemaError(
                    f"{gk} has {int(many.iloc[0])} replicate runs (column 'run'). Averaging "
                    f"them is a choice: pass {how(_RUNS_MEAN, '--runs mean')} to average per scale "
                    "and keep the per-run values for the between-run spread, or "
                    f"{how(_RUNS_SEP, '--runs separate')} for one curve per run."
                )
            if len(many):
                multi_run = many.index.droplevel(point_col).unique()
    show = len(df) >= 100_000 if progress is None else progress
    curves, dropped = _split_curves(df, group_cols, x, point_col, ties, on_mismatch, min_scales,
                                    show, infos, declared, multi_run)
    excluded.extend(dropped)
    excluded = [e for e in excluded if len(e)]
    exc = pd.concat(excluded, ignore_index=True) if excluded else pd.DataFrame(
        columns=list(df.columns) + ["reason"]
    )
    return CurveSet(curves, exc)


def _group_key(df: pd.DataFrame, group_cols: list[str], row: int) -> dict:
    out = {}
    for c in group_cols:
        v = df[c].iloc[row]
        out[c] = v.item() if isinstance(v, np.generic) else v
    return out


def compact_excluded(excluded: pd.DataFrame) -> pd.DataFrame:
    """Excluded rows with per-item rows summarised: one row per (curve key, checkpoint, reason).

    Aggregate rows are kept as they are (``rows`` = 1). Per-item rows excluded for the same
    reason at the same model, step, task, shots and metric become one row whose ``item`` says
    how many items it stands for and whose ``rows`` counts them, so that an excluded earlier
    checkpoint of a per-item table is one line, not thousands. Counts are preserved:
    ``compact_excluded(e)["rows"].sum() == len(e)``.

    Examples
    --------
    >>> import pandas as pd
    >>> e = pd.DataFrame({"model": "m", "step": 1, "task": "t", "metric": "acc",
    ...                   "item": ["1", "2", None], "value": [1.0, 0.0, 0.5], "reason": "r"})
    >>> c = compact_excluded(e)
    >>> c["rows"].tolist(), c["item"].iloc[1]
    ([1, 2], '2 items')
    """
    if excluded.empty or "item" not in excluded.columns:
        return excluded.assign(rows=1) if not excluded.empty else excluded
    per_item = excluded["item"].notna()
    agg = excluded[~per_item].assign(rows=1)
    if not per_item.any():
        return agg
    it = excluded[per_item]
    keys = [c for c in ("section", "family", "model", "step", "task", "shots", "metric", "reason")
            if c in it.columns]
    grouped = it.groupby(keys, dropna=False, sort=False)
    first = grouped.head(1).set_index(keys)
    n = grouped.size()
    first = first.assign(rows=n.reindex(first.index).to_numpy(), value=np.nan)
    first["item"] = [f"{k} items" for k in first["rows"]]
    first = first.reset_index()[list(agg.columns)]
    return pd.concat([agg, first], ignore_index=True)


def _split_curves(
    df: pd.DataFrame,
    group_cols: list[str],
    x: str,
    point_col: str,
    ties: str,
    on_mismatch: str,
    min_scales: int,
    progress: bool,
    infos: dict[str, MetricInfo],
    declared: dict[str, float],
    multi_run: pd.Index | None = None,
) -> tuple[list[Curve], list[pd.DataFrame]]:
    """All curves of ``df`` with one ``groupby``: aggregate-only curves without tied scales are
    cut from sorted arrays; curves with per-item rows or averaged ties go through
    :func:`_build_curve`. Returns the curves in group order and the excluded rows."""
    from tqdm.auto import tqdm

    excluded: list[pd.DataFrame] = []
    if df.empty:
        return [], excluded
    gid = df.groupby(group_cols, dropna=False, sort=True).ngroup().to_numpy()
    has_item = df["item"].notna().to_numpy()
    slow = np.zeros(gid.max() + 1, dtype=bool)
    slow[gid[has_item]] = True
    if multi_run is not None:
        # curves with replicate runs are averaged per scale in _build_curve
        in_multi = pd.MultiIndex.from_frame(df[group_cols]).isin(multi_run) if len(
            group_cols) > 1 else df[group_cols[0]].isin(multi_run)
        slow[gid[np.asarray(in_multi)]] = True

    # aggregate rows: one point per model (or step) and scale
    fast_rows = ~slow[gid]
    a = df[fast_rows]
    ag = gid[fast_rows]
    point = a[point_col]
    dup = pd.DataFrame({"g": ag, "p": point.to_numpy()}).duplicated(keep=False).to_numpy()
    if dup.any():
        first_g = ag[dup].min()
        sel = dup & (ag == first_g)
        gk = _group_key(a, group_cols, int(np.flatnonzero(sel)[0]))
        raise SchemaError(
            f"several rows per {point_col} for {gk}: {format_rows(point[sel])}. "
            "Select one checkpoint (step=...) or give distinct model names."
        )
    xv = a[x].to_numpy(float)
    tied = pd.DataFrame({"g": ag, "x": xv}).duplicated(keep=False).to_numpy()
    if tied.any():
        first_g = ag[tied].min()
        if ties == "error":
            sel = (ag == first_g)
            order = np.lexsort((point.to_numpy()[sel].astype(str), xv[sel]))
            labels = point[sel].astype(str).to_numpy()[order]
            xs = xv[sel][order]
            tmask = pd.Series(xs).duplicated(keep=False).to_numpy()
            gk = _group_key(a, group_cols, int(np.flatnonzero(sel)[0]))
            raise SchemaError(
                f"tied scales for {gk}: points {labels[tmask].tolist()} share {x} values "
                f"{sorted(set(xs[tmask].tolist()))}. Give distinct scales, choose another x, or "
                f"pass {_fix_ties()} to average them."
            )
        slow[ag[tied]] = True
        keep = ~tied & ~slow[ag]
        a, ag, xv = a[keep], ag[keep], xv[keep]

    out: list[tuple[int, Curve]] = []
    # slow path: per-item curves and curves with tied scales, one group at a time
    slow_ids = np.flatnonzero(slow)
    if len(slow_ids):
        sdf = df[slow[gid]]
        for g_id, g in zip(slow_ids, (g for _, g in sdf.groupby(gid[slow[gid]], sort=True)),
                           strict=True):
            gk = _group_key(g, group_cols, 0)
            curve, dropped = _build_curve(g, gk, x, point_col, ties, on_mismatch,
                                          infos[str(gk["metric"])], declared.get(str(gk["task"])))
            if dropped is not None and len(dropped):
                excluded.append(dropped)
            if curve is None:
                continue
            if curve.n_scales < min_scales:
                part = g.drop(index=dropped.index) if dropped is not None else g.copy()
                part["reason"] = (
                    f"curve has {curve.n_scales} scale(s); at least {min_scales} are needed"
                )
                excluded.append(part)
                continue
            out.append((int(g_id), curve))

    # fast path: sort once by (curve, scale, point) and cut the arrays at the curve boundaries
    if len(a):
        order = np.lexsort((xv, ag))  # no tied scales here: (curve, scale) is a total order
        a = a.iloc[order]
        ag = ag[order]
        xv = xv[order]
        starts = np.flatnonzero(np.r_[True, ag[1:] != ag[:-1]])
        ends = np.r_[starts[1:], len(ag)]
        counts = ends - starts
        short = counts < min_scales
        if short.any():
            rows = np.repeat(short, counts)
            part = a[rows].copy()
            n_row = np.repeat(counts, counts)[rows]
            part["reason"] = [f"curve has {n} scale(s); at least {min_scales} are needed"
                              for n in n_row]
            excluded.append(part)
        y = a["value"].to_numpy(float)
        se = pd.to_numeric(a["stderr"], errors="coerce").to_numpy(float)
        ni = pd.to_numeric(a["n_items"], errors="coerce").to_numpy(float)
        labels = a[point_col].astype(str).tolist()
        keys = {c: a[c].iloc[starts].tolist() for c in group_cols}
        nch = a["n_choices"].astype("float64").to_numpy() if "n_choices" in a else None
        tch = a["chance"].astype("float64").to_numpy() if "chance" in a else None
        for k in tqdm(np.flatnonzero(~short), desc="curves", unit="curve", disable=not progress,
                      mininterval=0.5, leave=False):
            s, e = starts[k], ends[k]
            task, metric = str(keys["task"][k]), str(keys["metric"][k])
            ch = resolve_chance(infos[metric], n_choices=None if nch is None else nch[s:e],
                                declared=declared.get(task), declared_by=how("chance=", "--chance"),
                                table=None if tch is None else tch[s:e])
            shots = keys["shots"][k]
            out.append((int(ag[s]), Curve(
                family=str(keys["family"][k]),
                task=task,
                metric=metric,
                shots=None if pd.isna(shots) else int(shots),
                x_name=x,
                x=xv[s:e],
                y=y[s:e],
                stderr=se[s:e],
                n_items=ni[s:e],
                labels=tuple(labels[s:e]),
                model=str(keys["model"][k]) if "model" in keys else None,
                chance=ch.value,
                notes=(ch.note,) if ch.source != "not applicable" else (),
                run=str(keys["run"][k]) if "run" in keys else None,
                facts=infos[metric],
                chance_source=ch.source,
            )))
    out.sort(key=lambda t: t[0])
    return [c for _, c in out], excluded


def _build_curve(
    g: pd.DataFrame,
    gk: dict,
    x: str,
    point_col: str,
    ties: str,
    on_mismatch: str,
    info: MetricInfo,
    declared_chance: float | None,
) -> tuple[Curve | None, pd.DataFrame | None]:
    notes: list[str] = []
    per_point = "model" if point_col == "model" else "step"
    runs_mat = None
    if "run" in g.columns and g["run"].notna().any() and g["run"].nunique(dropna=True) > 1:
        # replicate runs: keep each run's per-scale mean (their spread is the run-to-run
        # scatter the statistics use); the curve's value is the mean over runs
        rk = g["run"].astype(str)
        per_run = g.groupby([g[per_point].astype(str), rk], sort=False)["value"].mean()
        runs_wide = per_run.unstack()
        complete = runs_wide.notna().all(axis=0)
        if not complete.all():
            notes.append(f"runs {sorted(runs_wide.columns[~complete].tolist())[:5]} are missing at "
                         "some scales and are not used for the run-to-run spread")
        runs_mat = runs_wide.loc[:, complete]
        notes.append(f"{runs_mat.shape[1]} runs per scale: values are means over runs")
        if g["item"].notna().any():
            g = (g.groupby([per_point, "item"], dropna=False, sort=False)
                 .agg({**{c: "first" for c in g.columns if c not in (per_point, "item", "value")},
                       "value": "mean"}).reset_index())
        else:
            g = (g.groupby(per_point, dropna=False, sort=False)
                 .agg({**{c: "first" for c in g.columns if c not in (per_point, "value")},
                       "value": "mean"}).reset_index())
    has_items = g["item"].notna()
    agg = g[~has_items]
    itm = g[has_items]
    dropped = None
    items_mat = None
    item_ids = None
    n_choices = None
    if len(itm) and len(agg):
        # per-item rows carry more than the aggregates of the same curve: they take precedence
        superseded = agg.copy()
        superseded["reason"] = "aggregate row superseded by per-item rows of the same curve"
        dropped = superseded
        agg = agg.iloc[0:0]
    if len(itm):
        # per-item rows: aggregate per point; check items are the same at every point
        pts = itm.groupby(per_point, dropna=False, sort=False)
        sets = {p: set(s["item"]) for p, s in pts}
        common = set.intersection(*sets.values())
        union = set.union(*sets.values())
        if common != union:
            missing = {str(p): sorted(union - s)[:5] for p, s in sets.items() if s != union}
            if on_mismatch == "error":
                raise SchemaError(
                    f"items differ between scales for {gk}: missing at {missing} "
                    f"({len(union - common)} items not present at every scale). Evaluate all "
                    "models on the same items (an item whose value is NaN at one scale, listed in "
                    "the excluded rows as 'no value', is missing there too), or pass "
                    f"on_mismatch='intersect' to keep the {len(common)} common items."
                )
            mask = ~itm["item"].isin(common)
            part = itm[mask].copy()
            part["reason"] = "item not present at every scale (on_mismatch='intersect')"
            dropped = part if dropped is None else pd.concat([dropped, part], ignore_index=True)
            itm = itm[~mask]
            notes.append(f"{len(union - common)} items not present at every scale were dropped")
        wide = itm.pivot_table(index="item", columns=per_point, values="value", aggfunc="mean")
        item_ids = tuple(str(i) for i in wide.index)
        if "n_choices" in itm.columns:
            k = itm["n_choices"].astype("float64").groupby(itm["item"]).first()
            n_choices = k.reindex(list(wide.index)).to_numpy(float)
        rows = []
        for p, s in itm.groupby(per_point, dropna=False, sort=False):
            first = s.iloc[0]
            vals = wide[p].to_numpy(float)
            rows.append({**first.to_dict(), "value": float(np.mean(vals)),
                         "stderr": float(np.std(vals, ddof=1) / np.sqrt(vals.size))
                         if vals.size > 1 else np.nan,
                         "n_items": vals.size, "item": pd.NA, "_point": p})
        agg = pd.DataFrame(rows)
        items_mat = wide
    else:
        agg = agg.assign(_point=agg[per_point])
        if "n_choices" in agg.columns:
            n_choices = agg["n_choices"].astype("float64").to_numpy()

    if agg.empty:
        return None, dropped
    table_chance = g["chance"].astype("float64").to_numpy() if "chance" in g.columns else None
    ch = resolve_chance(info, n_choices=n_choices, declared=declared_chance,
                        declared_by=how("chance=", "--chance"), table=table_chance)
    if ch.source != "not applicable":
        notes.append(ch.note)
    dup = agg["_point"].duplicated(keep=False)
    if dup.any():
        raise SchemaError(
            f"several rows per {per_point} for {gk}: {format_rows(agg.loc[dup, '_point'])}. "
            "Select one checkpoint (step=...) or give distinct model names."
        )
    agg = agg.sort_values([x, "_point"], kind="mergesort")
    xv = agg[x].to_numpy(float)
    tied = pd.Series(xv).duplicated(keep=False).to_numpy()
    if tied.any():
        labels = agg.loc[tied, "_point"].astype(str).tolist()
        if ties == "error":
            raise SchemaError(
                f"tied scales for {gk}: points {labels} share {x} values "
                f"{sorted(set(xv[tied].tolist()))}. Give distinct scales, choose another x, or "
                f"pass {_fix_ties()} to average them."
            )
        notes.append(f"tied scales averaged: {labels}")
        agg = agg.assign(_lab=agg["_point"].astype(str))
        agg = (
            agg.groupby(x, sort=True)
            .agg(value=("value", "mean"), stderr=("stderr", "mean"),
                 n_items=("n_items", "sum"), _lab=("_lab", "+".join))
            .reset_index()
        )
        agg["_point"] = agg["_lab"]
        if items_mat is not None:
            notes.append("item matrix unavailable after averaging tied scales")
            items_mat = None
            item_ids = None
    labels = tuple(str(p) for p in agg["_point"])
    items = None
    item_lengths = None
    tokenizer = ""
    if items_mat is not None:
        items = items_mat[[p for p in agg["_point"]]].to_numpy(float)
        if "target_tokens" in itm.columns:
            tt = pd.to_numeric(itm.groupby("item")["target_tokens"].first(), errors="coerce")
            tt = tt.reindex(items_mat.index).to_numpy(float)
            if np.all(np.isfinite(tt) & (tt >= 1)):
                item_lengths = tt
                if "tokenizer" in itm.columns:
                    tokenizer = ", ".join(sorted(itm["tokenizer"].dropna().astype(str).unique()))
    runs = None
    run_ids = None
    if runs_mat is not None and runs_mat.shape[1] >= 2:
        try:
            runs = runs_mat.loc[[str(p) for p in agg["_point"]]].to_numpy(float).T
            run_ids = tuple(str(r) for r in runs_mat.columns)
        except KeyError:
            notes.append("run-level values could not be aligned with the averaged scales")
    shots = gk.get("shots")
    curve = Curve(
        family=str(gk["family"]),
        task=str(gk["task"]),
        metric=str(gk["metric"]),
        shots=None if pd.isna(shots) else int(shots),
        x_name=x,
        x=agg[x].to_numpy(float),
        y=agg["value"].to_numpy(float),
        stderr=pd.to_numeric(agg["stderr"], errors="coerce").to_numpy(float),
        n_items=pd.to_numeric(agg["n_items"], errors="coerce").to_numpy(float),
        labels=labels,
        model=str(gk["model"]) if "model" in gk else None,
        items=items,
        item_ids=item_ids,
        chance=ch.value,
        notes=tuple(notes),
        item_lengths=item_lengths,
        runs=runs,
        run_ids=run_ids,
        run=None if pd.isna(gk.get("run", pd.NA)) else str(gk["run"]),
        facts=info,
        chance_source=ch.source,
        tokenizer=tokenizer,
    )
    return curve, dropped
