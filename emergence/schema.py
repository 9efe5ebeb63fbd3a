"""The tidy long table: the one definition every loader produces and every analysis consumes.

One row per (family, model, step, task, shots, metric[, item][, run]); ``run`` tells replicate
runs of the same model apart (training or generation seeds). Scale columns carry the model's
size and training budget; ``value`` carries the score. Rows are never dropped silently: a row whose
value is missing or a declared sentinel keeps ``value = NaN`` and says why in ``note``; analyses
exclude such rows and report them.

Examples
--------
>>> import pandas as pd
>>> from emergence.schema import validate
>>> df = pd.DataFrame({"model": ["a", "b"], "task": ["t", "t"], "metric": ["acc", "acc"],
...                    "value": [0.25, 0.5], "params": [1e8, 1e9]})
>>> tidy = validate(df)
>>> list(tidy.columns[:6])
['family', 'model', 'step', 'task', 'shots', 'metric']
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from ._exceptions import DataExclusionWarning, SchemaError
from ._validation import format_rows, how
from .registry import MetricFacts, MetricInfo, as_metric_facts, find_metric_info, metric_info

__all__ = [
    "COLUMNS",
    "KEY",
    "DEFAULT_FAMILY",
    "REQUIRED",
    "SCALE_COLUMNS",
    "OPTIONAL_COLUMNS",
    "MetricInfo",
    "metric_info",
    "empty",
    "validate",
    "excluded_rows",
]

#: Column name -> (pandas dtype, description). The order is the canonical column order.
COLUMNS: dict[str, tuple[str, str]] = {
    "family": ("string", "model family (e.g. 'Pythia'); curves across size are drawn per family; "
               "'all' when the source gives none"),
    "model": ("string", "model name without checkpoint (e.g. 'pythia-160m')"),
    "step": ("Int64", "training step of the checkpoint; <NA> when unknown or not applicable"),
    "task": ("string", "task name as in the source (e.g. 'lambada_openai')"),
    "shots": ("Int64", "number of in-context examples; <NA> when unknown"),
    "metric": ("string", "metric name; lm-eval filters other than 'none' kept as 'metric,filter'"),
    "item": ("string", "item (document) id for per-item rows; <NA> for per-scale aggregates"),
    "run": ("string", "replicate run (training or generation seed) of the same model; <NA> when "
            "the source has one run"),
    "value": ("float64", "the score; NaN when missing (then `note` says why)"),
    "stderr": ("float64", "standard error of `value` as reported by the source; NaN if unknown"),
    "n_items": ("Int64", "number of test items behind an aggregate `value`; <NA> if unknown"),
    "n_choices": ("Int64", "number of answer options of a multiple-choice item, as the log states "
                  "it (or of every item of an aggregate row); chance = mean of 1/k; <NA> "
                  "otherwise"),
    "target_tokens": ("Int64", "tokens in the target under the tokenizer used for token edit "
                      "distance (per-item rows of generations); <NA> otherwise"),
    "params": ("float64", "total parameter count"),
    "nonembedding_params": ("float64", "parameters excluding embedding and unembedding matrices"),
    "active_params": ("float64", "parameters active per token (mixture-of-experts); else = params"),
    "tokens": ("float64", "training tokens seen by this checkpoint"),
    "flops": ("float64", "training compute in FLOPs; 6 * params * tokens when not given"),
    "revision": ("string", "checkpoint revision string from the source (e.g. 'step13000')"),
    "source": ("string", "file (and row) the value was read from"),
    "note": ("string", "why a row is flagged (missing value, sentinel, ...); <NA> when clean"),
}

#: Columns kept (and checked) when a table has them; they are not added when absent.
OPTIONAL_COLUMNS: dict[str, tuple[str, str]] = {
    "tokenizer": ("string", "tokenizer that counted `target_tokens` (and the tokens of token edit "
                  "distance) for the row: 'digits', 'whitespace', 'characters' or the name of a "
                  "model tokenizer; written by re-scoring; <NA> otherwise"),
    "chance": ("float64", "chance level declared for the row's task and metric by whoever wrote "
               "the table (e.g. the bundled datasets); NaN when not declared"),
}

#: Columns a frame must provide before :func:`validate` fills the rest.
REQUIRED: tuple[str, ...] = ("model", "task", "metric", "value")

#: Family given to rows without one: all such models form one family.
DEFAULT_FAMILY = "all"

#: Columns that identify one row.
KEY: tuple[str, ...] = ("family", "model", "step", "task", "shots", "metric", "item", "run")

#: Scale axes usable as ``x`` in analyses.
SCALE_COLUMNS: tuple[str, ...] = (
    "params",
    "nonembedding_params",
    "active_params",
    "tokens",
    "flops",
    "step",
)


def empty() -> pd.DataFrame:
    """An empty tidy table with every column and its dtype."""
    return pd.DataFrame({c: pd.Series(dtype=d) for c, (d, _) in COLUMNS.items()})


def _coerce(frame: pd.DataFrame, col: str, dtype: str, where: str) -> pd.Series:
    s = frame[col]
    try:
        if dtype == "string":
            return s.astype("string")
        if dtype == "float64":
            return pd.to_numeric(s, errors="raise").astype("float64")
        if dtype == "Int64":
            num = pd.to_numeric(s, errors="raise")
            frac = num.notna() & (num.astype("float64") % 1 != 0)
            if frac.any():
                raise ValueError(f"non-integer values in rows {format_rows(frame.index[frac])}")
            return num.astype("float64").round().astype("Int64")
    except (ValueError, TypeError) as exc:
        bad = []
        for idx, v in s.items():
            try:
                float(v)
            except (TypeError, ValueError):
                if v is not None and not (isinstance(v, float) and math.isnan(v)):
                    bad.append(idx)
        rows = format_rows(bad) if bad else "?"
        raise SchemaError(
            f"{where}column '{col}' must hold {dtype} values; could not convert rows {rows} "
            f"({exc}). Fix the values or map the right column."
        ) from None
    raise AssertionError(dtype)  # pragma: no cover


def validate(
    frame: pd.DataFrame,
    *,
    name: str | None = None,
    allow_duplicates: bool = False,
    metric_facts: MetricFacts | None = None,
) -> pd.DataFrame:
    """Check a table against the tidy schema and return a normalised copy.

    Missing optional columns are added (NA), dtypes are coerced, ``family`` defaults to
    ``"all"`` (every model of the table in one family),
    ``active_params`` defaults to ``params``, ``flops`` defaults to ``6 * params * tokens`` (with
    active parameters for mixture-of-experts models), and NaN values get a ``note``.

    Parameters
    ----------
    frame : DataFrame
        Long table with at least the columns in :data:`REQUIRED`.
    name : str, optional
        Name of the table (usually its file) used in error messages.
    allow_duplicates : bool, default=False
        Keep exact duplicate rows. Duplicates of the key with *different* values always raise.
    metric_facts : mapping, optional
        Declared facts of metrics the built-in table does not know (or overrides), name ->
        :class:`~emergence.registry.MetricInfo` or spec string such as
        ``"lower,continuous,0:inf"``. Values of known or declared metrics are checked against
        their range; metrics known to neither are kept unchecked here, and analyses
        (:func:`emergence.curves.extract_curves`) refuse them until declared.

    Returns
    -------
    DataFrame
        Columns in :data:`COLUMNS` order, then the :data:`OPTIONAL_COLUMNS` present, then any
        extra columns.

    Raises
    ------
    SchemaError
        Missing columns, unconvertible values, negative or zero scales, values outside the
        metric's range (percent given for a fraction, undeclared sentinels), or conflicting
        duplicates; the message names the column, the rows and the fix.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"model": ["a"], "task": ["t"], "metric": ["acc"], "value": [42.0]})
    >>> try:
    ...     validate(df, name="scores.csv")
    ... except Exception as e:
    ...     print(type(e).__name__)
    SchemaError

    >>> neg = pd.DataFrame({"model": ["a", "b"], "task": "t", "metric": "acc,norm",
    ...                     "value": [-0.2, 0.4]})          # chance-normalised: real negatives
    >>> validate(neg)["value"].tolist()
    [-0.2, 0.4]
    """
    where = f"{name}: " if name else ""
    facts = as_metric_facts(metric_facts)
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"{where}expected a pandas DataFrame; got {type(frame).__name__}.")
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{where}missing required column(s) {missing}; the table has {list(frame.columns)}. "
            "Rename or map your columns (e.g. emergence.io.read_table(..., columns={...}))."
        )
    df = frame.copy()
    df.index = pd.RangeIndex(len(df))
    for col, (dtype, _) in COLUMNS.items():
        if col not in df.columns:
            fill = np.nan if dtype == "float64" else pd.NA
            df[col] = pd.Series(fill, index=df.index, dtype=dtype)
        else:
            df[col] = _coerce(df, col, dtype, where)
    for col, (dtype, _) in OPTIONAL_COLUMNS.items():
        if col in df.columns:
            df[col] = _coerce(df, col, dtype, where)
    _check_optional(df, where)

    for col in ("model", "task", "metric"):
        bad = df[col].isna() | (df[col].str.strip() == "")
        if bad.any():
            raise SchemaError(
                f"{where}column '{col}' is empty in {_at(df, df.index[bad], where)}; every row "
                f"needs a {col}."
            )
    # without a family, all models of the table form one family (one curve per task and metric)
    df["family"] = df["family"].fillna(DEFAULT_FAMILY)
    df["active_params"] = df["active_params"].fillna(df["params"])
    compute_params = df["active_params"]
    est = 6.0 * compute_params * df["tokens"]
    df["flops"] = df["flops"].fillna(est)

    for col in SCALE_COLUMNS:
        v = df[col].astype("float64")
        bad = v.notna() & ~np.isfinite(v)
        if col in ("step", "tokens", "flops"):
            bad |= v.notna() & (v < 0)
        else:
            bad |= v.notna() & (v <= 0)
        if bad.any():
            sign = "non-negative" if col in ("step", "tokens", "flops") else "positive"
            raise SchemaError(
                f"{where}column '{col}' must be {sign} and finite; rows "
                f"{format_rows(df.index[bad])} hold {df.loc[bad, col].head(3).tolist()}. "
                "Use NaN for unknown sizes and check the units."
            )
    neg_se = df["stderr"].notna() & (df["stderr"] < 0)
    if neg_se.any():
        raise SchemaError(
            f"{where}column 'stderr' is negative in {_at(df, df.index[neg_se], where)}; "
            "use NaN when unknown (a -1 sentinel must be declared to the loader)."
        )

    nan = df["value"].isna() & df["note"].isna()
    df.loc[nan, "note"] = "missing value (NaN)"
    inf = np.isinf(df["value"])
    if inf.any():
        raise SchemaError(
            f"{where}column 'value' is infinite in {_at(df, df.index[inf], where)}; "
            "replace with NaN (and a note) or a finite value."
        )

    _check_ranges(df, where, facts)
    df = _check_duplicates(df, where, allow_duplicates)
    opt = [c for c in OPTIONAL_COLUMNS if c in df.columns]
    extra = [c for c in df.columns if c not in COLUMNS and c not in OPTIONAL_COLUMNS]
    return df[list(COLUMNS) + opt + extra]


def _at(df: pd.DataFrame, idx: object, where: str = "") -> str:
    """Rows by their file lines (``source``) when the table records them, else by row label."""
    idx = list(idx)
    src = df.loc[idx, "source"] if "source" in df.columns else pd.Series(pd.NA, index=idx)
    if len(idx) and src.notna().all():
        parts = [str(x).rsplit(":", 1) for x in src]
        files = {p[0] for p in parts if len(p) == 2 and p[1].isdigit()}
        if len(files) == 1 and all(len(p) == 2 and p[1].isdigit() for p in parts):
            f = files.pop()
            lines = "lines " + format_rows([p[1] for p in parts], limit=6)
            return lines if where.startswith(f) else f"{f} {lines}"
        return "rows " + format_rows(src.astype(str).tolist(), limit=3)
    return "rows " + format_rows(idx)


def _check_optional(df: pd.DataFrame, where: str) -> None:
    if "n_choices" in df.columns:
        k = df["n_choices"]
        bad = k.notna() & (k < 1)
        if bad.any():
            raise SchemaError(
                f"{where}column 'n_choices' must be at least 1; rows {format_rows(df.index[bad])} "
                f"hold {k[bad].head(3).tolist()}. Use <NA> when the number of choices is unknown."
            )
    if "chance" in df.columns:
        c = df["chance"]
        bad = c.notna() & ~((c >= 0) & (c < 1))
        if bad.any():
            raise SchemaError(
                f"{where}column 'chance' must be in [0, 1) (1/k for k answer choices); rows "
                f"{format_rows(df.index[bad])} hold {c[bad].head(3).tolist()}. Use NaN when no "
                "chance level is declared."
            )


def _declare(metric: object, spec: str) -> str:
    """How to declare a metric's facts, as the user types it (argument or flag)."""
    return how(f"metric_facts={{'{metric}': '{spec}'}}", f"--metric-info '{metric}={spec}'")


def _with_range(info: MetricInfo, rng: str) -> str:
    words = info.spec().split(",")
    words[2] = rng
    return ",".join(words)


def _check_ranges(df: pd.DataFrame, where: str, facts: dict[str, MetricInfo]) -> None:
    for metric, idx in df.groupby("metric", sort=False).groups.items():
        info = find_metric_info(str(metric), facts)
        if info is None:
            continue  # unknown metrics are refused by the analyses until declared
        v = df.loc[idx, "value"]
        below = v < info.lower - 1e-9
        above = v > info.upper + 1e-9
        if not (below.any() or above.any()):
            continue
        rows_b = list(v.index[below])
        rows_a = list(v.index[above])
        if info.upper == 1.0 and above.any() and (v[above] <= 100).all():
            within = v.index[(v <= 1) & (v >= 0)]
            mixed = (
                f" while {_at(df, within, where)} are fractions (mixed units)" if len(within) else ""
            )
            raise SchemaError(
                f"{where}metric '{metric}' is a fraction in [0, 1] but {_at(df, rows_a, where)} "
                f"hold {v[above].head(3).round(4).tolist()}, which look like percentages{mixed}. "
                f"Divide by 100 ({how('read_table(..., percent=True)', '--percent')} does this per "
                f"column) or declare the metric's range "
                f"({_declare(metric, _with_range(info, '0:100'))})."
            )
        if below.any():
            vals = sorted(set(v[below].round(6).tolist()))[:3]
            raise SchemaError(
                f"{where}metric '{metric}' must be >= {info.lower}; {_at(df, rows_b, where)} "
                f"hold {vals}. If these are missing-value sentinels, declare them "
                f"({how(f'read_table(..., sentinels=({vals[0]:g},))', f'--sentinel {vals[0]:g}')})"
                "; else fix the values."
            )
        raise SchemaError(
            f"{where}metric '{metric}' must be <= {info.upper}; {_at(df, rows_a, where)} hold "
            f"{v[above].head(3).tolist()}. Fix the values or declare the range "
            f"({_declare(metric, info.spec())}, with the right LO:HI)."
        )


def _check_duplicates(df: pd.DataFrame, where: str, allow: bool) -> pd.DataFrame:
    key = list(KEY)
    dup = df.duplicated(key, keep=False)
    if not dup.any():
        return df
    groups = df[dup].groupby(key, dropna=False, sort=False)
    for k, g in groups:
        vals = g["value"]
        if vals.nunique(dropna=False) > 1 or (vals.isna().any() and vals.notna().any()):
            label = dict(zip(key, k, strict=True))
            label = {a: b for a, b in label.items() if not pd.isna(b)}
            raise SchemaError(
                f"{where}duplicate rows for {label} with different values "
                f"{vals.tolist()} ({_at(df, g.index, where)}). Keep one row per key: "
                "distinguish them by 'step', 'shots', 'family' or 'run' (replicate runs), or "
                "remove the stale one."
            )
    if allow:
        return df
    first = ~df.duplicated(key, keep="first")
    n_drop = int((~first).sum())
    if n_drop:
        # identical duplicates carry no information; they are collapsed, said and counted
        warnings.warn(
            f"{where}{n_drop} identical duplicate row(s) collapsed (rows "
            f"{format_rows(df.index[~first])}); pass allow_duplicates=True to keep them.",
            DataExclusionWarning,
            stacklevel=3,
        )
        out = df[first].copy()
        out.attrs["collapsed_duplicates"] = n_drop
        return out
    return df


def excluded_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows an analysis will exclude (``value`` NaN), with the reason in ``note``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = validate(pd.DataFrame({"model": ["a", "b"], "task": ["t", "t"],
    ...                             "metric": ["acc", "acc"], "value": [0.5, None]}))
    >>> excluded_rows(df)[["model", "note"]].to_dict("records")
    [{'model': 'b', 'note': 'missing value (NaN)'}]
    """
    return frame[frame["value"].isna()]
