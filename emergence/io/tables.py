"""Generic CSV tables, wide or long, with a column mapping, declared sentinels and a metadata join.

A *long* table has one row per (model, task, metric) with a value column. A *wide* table has one
row per model and one column per benchmark (``MMLU``, ``arithmetic_3ds_2_acc``); ``column_pattern``
splits such names into task, shots and metric. Scale information often lives in a second table
(size, tokens, FLOPs, family per model), joined on the model name with ``metadata=``.

Missing values: declared sentinels (e.g. ``-1``, ``-100``) and NaN cells are kept as rows with
``value = NaN`` and a ``note`` saying why; analyses exclude and report them. Undeclared negative
values for a metric that cannot be negative raise an error that suggests declaring the sentinel.

Examples
--------
>>> import pandas as pd
>>> from emergence.io.tables import read_table
>>> bench = pd.DataFrame({"Model": ["a", "b"], "MMLU": [0.25, 0.6], "GSM8K": [-1, 0.3]})
>>> meta = pd.DataFrame({"Model": ["a", "b"], "Model Size (B)": [1.0, 7.0]})
>>> df = read_table(bench, layout="wide", columns={"model": "Model"}, metric="acc",
...                 sentinels=(-1,), metadata=meta, metadata_columns={"params": "Model Size (B)"},
...                 units={"params": 1e9})
>>> df[["model", "task", "value", "params", "note"]].to_dict("records")[2]
{'model': 'a', 'task': 'GSM8K', 'value': nan, 'params': 1000000000.0, 'note': 'sentinel -1 (missing)'}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .._exceptions import SchemaError
from .._validation import check_option, format_rows
from ..registry import MetricFacts, find_metric_info
from ..schema import COLUMNS, OPTIONAL_COLUMNS, validate
from ._files import Head, guarded, read_csv_text

__all__ = ["read_table", "read_csv_any", "infer_n_items", "is_table", "TABLE_SUFFIXES"]

#: Suffixes of files read as tables (gzip allowed: ``.csv.gz``).
TABLE_SUFFIXES: tuple[str, ...] = (".csv", ".tsv")


def is_table(head: Head) -> bool:
    """True for a CSV/TSV table: named ``.csv``/``.tsv`` (optionally ``.gz``), or text that is
    not JSON whose first line has a comma or a tab. (A per-item records CSV is also a CSV; the
    registry asks :func:`emergence.io.records.is_records_file` first.)"""
    if head.suffix in TABLE_SUFFIXES:
        return True
    if head.suffix in (".json", ".jsonl", ".ndjson", ".parquet", ".eval"):
        return False
    line = head.first_line if head.first_line is not None else head.text.lstrip()[:4096]
    return head.first_char not in ("{", "[", "") and "\x00" not in head.text[:4096] and (
        "," in line or "\t" in line)

_SCALE_META = ("family", "params", "nonembedding_params", "active_params", "tokens", "flops", "step")


def read_csv_any(path: str | Path, *, text_columns: Iterable[str] = ()) -> pd.DataFrame:
    """Read a CSV/TSV (optionally gzipped) with a clear error naming the file.

    ``text_columns`` are read as text when present (item ids such as ``007`` keep their zeros).
    """
    return read_csv_text(path, dtype={c: str for c in text_columns})


def _as_frame(
    obj: str | Path | pd.DataFrame, what: str, text_columns: Iterable[str] = ()
) -> tuple[pd.DataFrame, str]:
    if isinstance(obj, pd.DataFrame):
        return obj.copy(), f"<{what} DataFrame>"
    return read_csv_any(obj, text_columns=text_columns), str(obj)


def _check_columns(frame: pd.DataFrame, needed: Iterable[str], where: str, role: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{where}: {role} column(s) {missing} not found; the table has columns "
            f"{list(frame.columns)}. Fix the column mapping."
        )


def _mark_missing(
    values: pd.Series, sentinels: Sequence[float], notes: pd.Series
) -> tuple[pd.Series, pd.Series]:
    values = pd.to_numeric(values, errors="coerce") if values.dtype == object else values
    notes = notes.copy()
    for s in sentinels:
        hit = np.isclose(values.astype(float), float(s), rtol=0, atol=1e-12) & values.notna()
        notes[hit] = f"sentinel {s:g} (missing)"
        values = values.mask(hit)
    return values, notes


@guarded("CSV/TSV table")
def read_table(
    data: str | Path | pd.DataFrame,
    *,
    layout: str = "auto",
    columns: Mapping[str, str] | None = None,
    value_columns: Sequence[str] | None = None,
    column_pattern: str | None = None,
    metric: str | None = None,
    task: str | None = None,
    shots: int | None = None,
    family: str | None = None,
    sentinels: Sequence[float] = (),
    percent: bool | Sequence[str] = False,
    metadata: str | Path | pd.DataFrame | None = None,
    metadata_columns: Mapping[str, str] | None = None,
    on: str | None = None,
    units: Mapping[str, float] | None = None,
    metric_facts: MetricFacts | None = None,
) -> pd.DataFrame:
    """Read a benchmark table (CSV path or DataFrame) into the tidy schema.

    Parameters
    ----------
    data : path or DataFrame
        The benchmark table.
    layout : {"auto", "long", "wide"}, default="auto"
        ``"long"``: one row per (model, task, metric) with a value column. ``"wide"``: one row
        per model, one column per benchmark. ``"auto"`` picks long when the mapped ``value``
        column exists.
    columns : mapping schema-name -> table column, optional
        Which table columns hold ``model``, ``task``, ``metric``, ``value``, ``stderr``,
        ``family``, ``params``, ``tokens``, ... (identity for columns already named so).
    value_columns : sequence of str, optional
        Wide layout: the benchmark columns (default: every numeric column not mapped elsewhere).
    column_pattern : str, optional
        Wide layout: regex with named groups ``task`` and optionally ``shots`` and ``metric``,
        applied to each benchmark column name, e.g.
        ``r"(?P<task>.+)_(?P<shots>\\d+)_(?P<metric>acc|exact_match|bleu)$"``.
    metric, task, shots, family : optional
        Constants for fields the table does not hold.
    sentinels : sequence of float, default=()
        Values that mean "missing" (e.g. ``(-1,)`` or ``(-100,)``); such cells become NaN with a
        note, and are reported by analyses.
    percent : bool or sequence of str, default=False
        ``True`` divides every value by 100; a sequence names the (wide) columns or metrics given
        in percent. Mixed units inside one metric raise an error naming the rows.
    metadata : path or DataFrame, optional
        Model-metadata table joined on the model name (size, tokens, FLOPs, family).
    metadata_columns : mapping schema-name -> metadata column, optional
        E.g. ``{"model": "Model", "family": "Model Family", "params": "Model Size (B)"}``.
    on : str, optional
        Join column in the metadata table (default: the mapped ``model`` column).
    units : mapping schema-name -> multiplier, optional
        Multipliers for scale columns, e.g. ``{"params": 1e9, "tokens": 1e12, "flops": 1e21}``.
    metric_facts : mapping, optional
        Facts of metrics the built-in table does not know (name -> spec string such as
        ``"lower,continuous,0:inf"`` or :class:`~emergence.registry.MetricInfo`), so that their
        values are checked against their range (and an undeclared sentinel such as ``-100`` is
        caught). Undeclared unknown metrics are read unchecked and refused by the analyses.

    Returns
    -------
    DataFrame
        Tidy table. Models missing from the metadata keep NaN scales (and analyses report them).

    Raises
    ------
    SchemaError
        Mapped columns missing, a column pattern that does not match, mixed percent/fraction
        values, undeclared sentinels, conflicting duplicate rows.
    """
    check_option(layout, "layout", ("auto", "long", "wide"))
    columns = dict(columns or {})
    colmap = {k: columns.get(k, k) for k in (*COLUMNS, *OPTIONAL_COLUMNS)}
    text = [colmap[c] for c, (dtype, _) in COLUMNS.items() if dtype == "string"]
    frame, where = _as_frame(data, "benchmark", text)
    if layout == "auto":
        layout = "long" if colmap["value"] in frame.columns else "wide"
    _check_columns(frame, [colmap["model"]], where, "model")
    if layout == "long":
        needed = [colmap["value"]]
        needed += [colmap["task"]] if task is None else []
        needed += [colmap["metric"]] if metric is None else []
        _check_columns(frame, needed, where, "mapped")
        long = pd.DataFrame({"model": frame[colmap["model"]].astype("string")})
        long["task"] = frame[colmap["task"]] if colmap["task"] in frame.columns else task
        long["metric"] = frame[colmap["metric"]] if colmap["metric"] in frame.columns else metric
        long["value"] = frame[colmap["value"]]
        for c in (*COLUMNS, *OPTIONAL_COLUMNS):
            if c in long.columns:
                continue
            if colmap[c] in frame.columns:
                long[c] = frame[colmap[c]].to_numpy()
        # other columns (e.g. a per-item answer length) travel with their rows
        used = {colmap[c] for c in COLUMNS} | set(long.columns)
        for c in frame.columns:
            if c not in used and not str(c).startswith("_"):
                long[c] = frame[c].to_numpy()
        long["_column"] = colmap["value"]
        long["_row"] = np.arange(len(frame)) + 2  # 1-based, after the header line
    else:
        long = _melt_wide(frame, where, colmap, value_columns, column_pattern, metric, task)
    if shots is not None and "shots" not in long.columns:
        long["shots"] = shots
    if family is not None and "family" not in long.columns:
        long["family"] = family
    here = where + ":" + long["_row"].astype(str)
    # a table written by this package keeps the provenance it states; others get file:line
    long["source"] = long["source"].astype("string").fillna(here) if "source" in long.columns \
        else here

    if "note" in long.columns:
        notes = long["note"].astype("string")
    else:
        notes = pd.Series(pd.NA, index=long.index, dtype="string")
    raw = long["value"]
    if pd.api.types.is_bool_dtype(raw):
        raw = raw.astype(object)
    numeric = pd.to_numeric(raw.map(lambda v: "bool" if isinstance(v, (bool, np.bool_)) else v),
                            errors="coerce")
    bad = numeric.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    # a cell that is not a number flags its row (value NaN, note), it does not abort the file
    notes[bad] = [f"cell {str(v)[:30]!r} is not a number" for v in raw[bad]]
    inf = numeric.notna() & ~np.isfinite(numeric.astype(float))
    notes[inf] = [f"cell {str(v)[:30]!r} is not finite" for v in raw[inf]]
    numeric = numeric.astype(float).mask(inf)
    values, notes = _mark_missing(numeric, sentinels, notes)
    long["value"] = values
    long["note"] = notes
    _apply_percent(long, percent, where, metric_facts)

    if metadata is not None:
        long = _join_metadata(long, metadata, metadata_columns, on, columns, where)
    for c, mult in (units or {}).items():
        if c not in long.columns:
            raise SchemaError(f"{where}: `units` names column '{c}', which the table does not have.")
        long[c] = pd.to_numeric(long[c], errors="coerce") * float(mult)
    long = long.drop(columns=[c for c in ("_row", "_column") if c in long.columns])
    return validate(long, name=where, allow_duplicates=True, metric_facts=metric_facts)


def _melt_wide(
    frame: pd.DataFrame,
    where: str,
    colmap: Mapping[str, str],
    value_columns: Sequence[str] | None,
    column_pattern: str | None,
    metric: str | None,
    task: str | None,
) -> pd.DataFrame:
    mapped = {v for k, v in colmap.items() if v in frame.columns}
    if value_columns is None:
        # a benchmark column holds numbers; one '-', 'True' or stray character in a cell must
        # not hide the whole column (such cells become NaN rows with a note)
        value_columns = [c for c in frame.columns if c not in mapped and _holds_numbers(frame[c])]
    else:
        _check_columns(frame, value_columns, where, "value")
    if not value_columns:
        raise SchemaError(
            f"{where}: no benchmark columns found for the wide layout; pass value_columns=[...] "
            "or use layout='long' with a value column."
        )
    pat = re.compile(column_pattern) if column_pattern else None
    # a task column (mapped or named 'task'): each benchmark column is a metric of that task
    task_col = colmap["task"] if task is None and colmap["task"] in frame.columns else None
    parts: list[pd.DataFrame] = []
    for col in value_columns:
        t, s, m = task or col, None, metric
        if task_col is not None and m is None:
            m = col
        if pat is not None:
            match = pat.fullmatch(col)
            if not match:
                raise SchemaError(
                    f"{where}: column '{col}' does not match column_pattern {column_pattern!r}. "
                    "Adjust the pattern or list value_columns explicitly."
                )
            g = match.groupdict()
            t = g.get("task") or t
            s = int(g["shots"]) if g.get("shots") else None
            m = g.get("metric") or m
        if m is None:
            raise SchemaError(
                f"{where}: no metric for column '{col}'; pass metric='acc' (or a column_pattern "
                "with a 'metric' group)."
            )
        part = pd.DataFrame({"model": frame[colmap["model"]].astype("string"),
                             "task": frame[task_col].to_numpy() if task_col else t, "metric": m,
                             "value": frame[col]})
        if s is not None:
            part["shots"] = s
        for c in _SCALE_META + ("stderr", "run", "shots", "n_items"):
            if c in part.columns:
                continue
            if colmap[c] in frame.columns and colmap[c] not in value_columns:
                part[c] = frame[colmap[c]].to_numpy()
        part["_column"] = col
        part["_row"] = np.arange(len(frame)) + 2
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _holds_numbers(col: pd.Series) -> bool:
    """A numeric column (booleans excluded), or a text column with at least one number."""
    if pd.api.types.is_bool_dtype(col):
        return False
    if pd.api.types.is_numeric_dtype(col):
        return True
    vals = col.map(lambda v: None if isinstance(v, (bool, np.bool_)) else v)
    return bool(pd.to_numeric(vals, errors="coerce").notna().any())


def _apply_percent(long: pd.DataFrame, percent: bool | Sequence[str], where: str,
                   facts: MetricFacts | None = None) -> None:
    if percent is True:
        mask = pd.Series(True, index=long.index)
    elif percent:
        names = set(percent)
        mask = long["_column"].isin(names) | long["metric"].isin(names)
        if not mask.any():
            raise SchemaError(f"{where}: `percent` names {sorted(names)}, which match no column "
                              "or metric.")
    else:
        mask = pd.Series(False, index=long.index)
    long.loc[mask, "value"] = long.loc[mask, "value"] / 100.0
    # Mixed units within one fraction-valued metric (never judged by column: a long table's
    # value column holds accuracies next to perplexities or BLEU): name both groups.
    for (col, metric), g in long[~mask].groupby(["_column", "metric"], sort=False):
        info = find_metric_info(str(metric), facts)
        if info is None or info.upper != 1.0:
            continue
        v = g["value"]
        hi = v > 1
        if hi.any() and (v[~hi & v.notna()] > 0).any():
            raise SchemaError(
                f"{where}: column '{col}' mixes percentages (lines "
                f"{format_rows(g.loc[hi, '_row'])}: {v[hi].head(3).tolist()}) with fractions "
                f"(lines {format_rows(g.loc[~hi & v.notna(), '_row'])}) of metric '{metric}'. "
                "Convert one group; "
                "percent=[...] (CLI: --percent) converts whole columns or metrics."
            )


def _join_metadata(
    long: pd.DataFrame,
    metadata: str | Path | pd.DataFrame,
    metadata_columns: Mapping[str, str] | None,
    on: str | None,
    columns: Mapping[str, str],
    where: str,
) -> pd.DataFrame:
    meta, mwhere = _as_frame(metadata, "metadata")
    mcols = dict(metadata_columns or {})
    key = on or mcols.get("model") or columns.get("model", "model")
    _check_columns(meta, [key], mwhere, "join")
    wanted = {k: v for k, v in mcols.items() if k != "model"}
    _check_columns(meta, list(wanted.values()), mwhere, "metadata")
    dup = meta[key].duplicated(keep=False)
    if dup.any():
        raise SchemaError(
            f"{mwhere}: model(s) {sorted(set(meta.loc[dup, key].astype(str)))[:5]} appear more "
            "than once in the metadata table; keep one row per model."
        )
    m = meta[[key, *wanted.values()]].rename(columns={v: k for k, v in wanted.items()})
    m = m.rename(columns={key: "model"})
    m["model"] = m["model"].astype("string")
    overlap = [c for c in wanted if c in long.columns]
    long = long.drop(columns=overlap)
    out = long.merge(m, on="model", how="left", validate="many_to_one")
    unmatched = sorted(set(long["model"]) - set(m["model"]))
    if unmatched:
        out.attrs["unmatched_models"] = unmatched
    return out


def infer_n_items(
    values: Sequence[float] | np.ndarray,
    *,
    max_n: int = 20_000,
    min_values: int = 10,
    tol: float = 1e-6,
) -> int | None:
    """Smallest item count ``n`` that makes every accuracy an exact multiple of ``1/n``.

    Published tables often give accuracies without item counts; when at least ``min_values``
    values are all multiples of ``1/n`` (within ``tol`` of an integer count), ``n`` is the test-set
    size (or a divisor of it: the result is a lower bound, which makes intervals conservative).
    Returns None when no ``n <= max_n`` fits every value or too few values are given.

    Examples
    --------
    >>> infer_n_items([k / 2000 for k in (3, 17, 1863, 1999, 400, 1201, 7, 88, 1000, 1500)])
    2000
    >>> infer_n_items([0.1234567, 0.5, 0.25] * 4) is None
    True
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < min_values or v.min() < 0 or v.max() > 1:
        return None
    for lo in range(1, max_n + 1, 2000):
        ns = np.arange(lo, min(lo + 2000, max_n + 1), dtype=float)
        prod = np.outer(v, ns)
        ok = np.abs(prod - np.rint(prod)).max(axis=0) < tol
        if ok.any():
            return int(ns[ok][0])
    return None
