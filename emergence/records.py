"""Per-item records: what a model produced for each item, before any scoring.

This module defines the records table (its columns, key and :func:`validate_records`); reading
them from files is :mod:`emergence.io` (every per-item reader returns this table, e.g.
:func:`emergence.io.records.read_records`), and :func:`emergence.scoring.rescore` scores them.
One row per (family, model, checkpoint, task, shots, filter, output type, item, run):
:data:`RECORD_KEY`.

Columns (:data:`RECORD_COLUMNS`):

- ``model``, ``step``, ``revision``, ``task``, ``filter``, ``item`` (document id as a string),
  ``doc_hash`` (lm-eval's sha256 of the document, NA elsewhere);
- ``output_type``: ``generate_until``, ``loglikelihood``, ``multiple_choice`` or
  ``loglikelihood_rolling``;
- ``prediction``: the generated (filtered) text, NA for log-likelihood requests;
- ``target``: the reference text (for multiple choice, the text of the correct choice);
  ``targets``: every acceptable reference (list) when there are several;
- ``choices``, ``choice_loglik``: the scored continuations and their summed log-likelihoods in nats
  (multiple choice); ``gold``: index of the correct choice;
- ``target_loglik``: summed log-likelihood of the target in nats; ``target_ntokens``: number of
  model tokens of the target when known; ``is_greedy``: the target is the greedy continuation;
- ``params``, ``tokens``, ``flops``, ``shots``: scale and regime; ``source``: file and line;
- ``family`` and ``run`` (replicate runs) complete the key;
- ``choice_values``, ``rank_loglik``, ``tie_break``: how the source itself grades a multiple-choice
  item (BIG-bench: target scores, its logged ``scores``, ties broken by a hash);
- ``normalize``: the source's own exact-match normalisation;
- ``invalid``: why a logged value is unusable (the row is kept and scored NaN with that reason).

Optional extra columns (``nonembedding_params``, ``note``, ``harness_scores``, ...) are kept.

Examples
--------
>>> import pandas as pd
>>> from emergence.records import validate_records
>>> rec = validate_records(pd.DataFrame({
...     "model": ["m"], "task": ["t"], "item": [0], "output_type": ["generate_until"],
...     "prediction": ["42"], "target": ["42"]}))
>>> rec.loc[0, "item"], str(rec["step"].dtype)
('0', 'Int64')
"""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from ._exceptions import DataExclusionWarning, SchemaError
from ._validation import format_rows
from .sizes import parse_step

__all__ = [
    "RECORD_COLUMNS",
    "RECORD_REQUIRED",
    "RECORD_KEY",
    "OUTPUT_TYPES",
    "LIST_COLUMNS",
    "empty_records",
    "validate_records",
    "step_from_revision",
]

#: Column -> (dtype, description); the order is the canonical order.
RECORD_COLUMNS: dict[str, tuple[str, str]] = {
    "family": ("string", "model family (BIG-bench 'BIG-G T=0', ...); NA when the log names none"),
    "model": ("string", "model name without checkpoint"),
    "step": ("Int64", "training step of the checkpoint; <NA> when unknown"),
    "revision": ("string", "checkpoint revision as given to the harness (e.g. 'step1000')"),
    "task": ("string", "task name"),
    "filter": ("string", "lm-eval filter name ('none' when the harness applies none)"),
    "item": ("string", "document id within the task"),
    "run": ("string", "replicate run (training or generation seed); NA when there is one run"),
    "doc_hash": ("string", "sha256 of the document as written by lm-eval (NA elsewhere)"),
    "output_type": ("string", "generate_until | loglikelihood | multiple_choice | "
                              "loglikelihood_rolling"),
    "prediction": ("string", "generated text after the filter; NA for log-likelihood requests"),
    "target": ("string", "reference text (multiple choice: text of the correct choice)"),
    "targets": ("object", "list of acceptable references; NA when there is only `target`"),
    "choices": ("object", "list of scored continuations (multiple choice); NA otherwise"),
    "choice_loglik": ("object", "list of summed log-likelihoods (nats) of `choices`"),
    "gold": ("Int64", "index of the correct choice (multiple choice)"),
    "n_choices": ("Int64", "number of answer options when the log states it (defaults to the "
                           "number of scored choices of a multiple-choice record)"),
    "choice_values": ("object", "credit for choosing each choice when the source grades by target "
                                "score (BIG-bench target_scores: fractional, several correct); NA "
                                "means 1 for the gold choice and 0 otherwise"),
    "rank_loglik": ("object", "the per-choice scores the source ranked to pick its answer, when they "
                              "differ from choice_loglik (BIG-bench 'scores'); NA otherwise"),
    "tie_break": ("string", "how the source breaks ties between equally scored choices: 'first' "
                            "(lm-eval; the default when NA) or 'bigbench' (sha256 of the scores)"),
    "normalize": ("string", "the source's own exact-match normalisation ('none' for BIG-bench "
                            "exact_str_match, 'strip' for HELM exact_match, ...); NA when unknown"),
    "target_loglik": ("float64", "summed log-likelihood of the target in nats"),
    "target_ntokens": ("Int64", "number of model tokens of the target; NA unless known"),
    "is_greedy": ("boolean", "greedy decoding reproduces the target (lm-eval is_greedy)"),
    "params": ("float64", "parameter count"),
    "tokens": ("float64", "training tokens seen by the checkpoint"),
    "flops": ("float64", "training compute in FLOPs"),
    "shots": ("Int64", "number of in-context examples"),
    "source": ("string", "file (and line) the record was read from"),
    "invalid": ("string", "why a logged value of this record cannot be used (corrupt or out of "
                          "range); NA when clean. Re-scoring gives NaN scores with this note"),
}

#: Columns a records frame must provide.
RECORD_REQUIRED: tuple[str, ...] = ("model", "task", "item", "output_type")

#: Allowed values of ``output_type``.
OUTPUT_TYPES: tuple[str, ...] = (
    "generate_until",
    "loglikelihood",
    "multiple_choice",
    "loglikelihood_rolling",
)

#: Columns holding Python lists (or NA).
LIST_COLUMNS: tuple[str, ...] = ("targets", "choices", "choice_loglik", "choice_values",
                                 "rank_loglik")

#: Columns that identify one record.
RECORD_KEY: tuple[str, ...] = ("family", "model", "step", "task", "shots", "filter", "output_type",
                               "item", "run")


def empty_records() -> pd.DataFrame:
    """An empty records table with every column and its dtype.

    Examples
    --------
    >>> list(empty_records().columns[:4])
    ['family', 'model', 'step', 'revision']
    """
    return pd.DataFrame({c: pd.Series(dtype=d) for c, (d, _) in RECORD_COLUMNS.items()})


def step_from_revision(revision: object) -> int | None:
    """Training step encoded in a revision name (``step1000``, ``global_step500``), else None.

    Examples
    --------
    >>> step_from_revision("step143000"), step_from_revision("main")
    (143000, None)
    """
    if revision is None or (isinstance(revision, float) and math.isnan(revision)):
        return None
    if revision is pd.NA:
        return None
    return parse_step(str(revision))


def _is_na(v: object) -> bool:
    if v is None or v is pd.NA:
        return True
    return isinstance(v, float) and math.isnan(v)


def _as_list(v: object) -> tuple[object, str | None]:
    """A list cell (JSON text in CSV files) -> (list or NA, problem or None)."""
    if _is_na(v):
        return pd.NA, None
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except json.JSONDecodeError:
            return pd.NA, f"{v[:40]!r} is not a JSON list"
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if not isinstance(v, (list, tuple)):
        return pd.NA, f"{str(v)[:40]!r} is not a list"
    return list(v), None


_BOOL = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}


def _coerce(df: pd.DataFrame, col: str, dtype: str) -> tuple[pd.Series, pd.Series]:
    """Coerce one column; a cell that does not convert becomes NA and its row gets a reason."""
    s = df[col]
    bad = pd.Series(pd.NA, index=s.index, dtype="string")
    if dtype == "object":
        vals, why = [], []
        for v in s:
            x, w = _as_list(v)
            vals.append(x)
            why.append(w)
        for i, w in zip(s.index, why, strict=True):
            if w is not None:
                bad[i] = f"column '{col}': {w}"
        return pd.Series(vals, index=s.index, dtype="object"), bad
    if dtype == "string":
        return s.astype("string"), bad
    if dtype == "boolean":
        if s.dtype == "boolean":
            return s, bad
        mapped = s.map(lambda v: pd.NA if _is_na(v) else
                       v if isinstance(v, (bool, np.bool_)) else _BOOL.get(str(v).strip().lower(), v))
        wrong = mapped.map(lambda v: not (v is pd.NA or isinstance(v, (bool, np.bool_))))
        for i in s.index[wrong]:
            bad[i] = f"column '{col}': {str(s[i])[:40]!r} is not true/false"
        return mapped.mask(wrong, pd.NA).astype("boolean"), bad
    num = pd.to_numeric(s, errors="coerce")
    notnum = num.isna() & ~s.map(_is_na) & ~s.astype(str).str.strip().str.lower().isin(
        ["", "nan", "none", "null", "na", "<na>"])
    for i in s.index[notnum]:
        bad[i] = f"column '{col}': {str(s[i])[:40]!r} is not a number"
    if dtype == "float64":
        return num.astype("float64"), bad
    num = num.astype("float64")
    frac = num.notna() & ((num % 1 != 0) | ~np.isfinite(num))
    for i in s.index[frac]:
        bad[i] = f"column '{col}': {s[i]!r} is not a whole number"
    return num.mask(frac).round().astype("Int64"), bad


def _rows_of(df: pd.DataFrame, mask: object, labels: pd.Index) -> str:
    """Where rows are: their file and line (``source``) when known, else their row labels."""
    idx = df.index[np.asarray(mask, dtype=bool)] if not isinstance(mask, list) else mask
    src = df.loc[idx, "source"] if "source" in df.columns else pd.Series(pd.NA, index=idx)
    shown = [str(v) if not _is_na(v) else f"row {labels[i]}" for i, v in zip(idx, src,
                                                                               strict=True)]
    return format_rows(shown, limit=4)


def validate_records(frame: pd.DataFrame, *, name: str | None = None) -> pd.DataFrame:
    """Check a per-item records table and return a normalised copy.

    Missing optional columns are added (NA), dtypes coerced (lists may be given as JSON strings),
    ``step`` is filled from ``revision`` names like ``step1000``, and for multiple-choice rows
    ``target`` and ``target_loglik`` default to the gold choice.

    Parameters
    ----------
    frame : DataFrame
        At least the columns in :data:`RECORD_REQUIRED`.
    name : str, optional
        Name used in error messages (usually the file).

    Returns
    -------
    DataFrame
        Columns in :data:`RECORD_COLUMNS` order, then any extra columns.

    Raises
    ------
    SchemaError
        Missing columns, empty model/task/item, unknown ``output_type``, or records sharing their
        key (:data:`RECORD_KEY`); the message names the file and line (``source``) and the fix.

    Notes
    -----
    A bad *value* does not abort: a cell that does not convert (``"abc"`` as a log-likelihood),
    a positive log-likelihood, choices and log-likelihoods of different lengths, NaN choice
    log-likelihoods or a gold index outside the choices flag their row in ``invalid`` (with the
    reason); :func:`emergence.scoring.rescore` gives that row NaN scores with the reason as note
    and counts them.

    Examples
    --------
    >>> import pandas as pd
    >>> rec = validate_records(pd.DataFrame({
    ...     "model": ["m"], "task": ["t"], "item": ["q1"], "output_type": ["multiple_choice"],
    ...     "choices": [["a", "b"]], "choice_loglik": [[-1.0, -2.0]], "gold": [1]}))
    >>> rec.loc[0, "target"], float(rec.loc[0, "target_loglik"])
    ('b', -2.0)
    """
    where = f"{name}: " if name else ""
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"{where}expected a pandas DataFrame; got {type(frame).__name__}.")
    missing = [c for c in RECORD_REQUIRED if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{where}missing required record column(s) {missing}; the table has "
            f"{list(frame.columns)}. Records need model, task, item and output_type."
        )
    df = frame.copy()
    labels = frame.index
    df.index = pd.RangeIndex(len(df))
    invalid = pd.Series(pd.NA, index=df.index, dtype="string")
    if "invalid" in df.columns:
        invalid = df["invalid"].astype("string")

    def flag(reasons: pd.Series) -> None:
        nonlocal invalid
        new = reasons.notna() & invalid.isna()
        invalid = invalid.mask(new, reasons)

    _scale_facts(df, where)

    for col, (dtype, _) in RECORD_COLUMNS.items():
        if col == "invalid":
            continue
        if col not in df.columns:
            if dtype == "object":
                df[col] = pd.Series([pd.NA] * len(df), index=df.index, dtype="object")
            else:
                fill = np.nan if dtype == "float64" else pd.NA
                df[col] = pd.Series(fill, index=df.index, dtype=dtype)
        else:
            df[col], bad = _coerce(df, col, dtype)
            flag(bad)
    for col in ("model", "task", "item"):
        bad = df[col].isna() | (df[col].str.strip() == "")
        if bad.any():
            raise SchemaError(f"{where}column '{col}' is empty at {_rows_of(df, bad, labels)}; "
                              f"every record needs a {col}.")
    df["filter"] = df["filter"].fillna("none")
    bad = ~df["output_type"].isin(OUTPUT_TYPES)
    if bad.any():
        found = sorted(set(df.loc[bad, "output_type"].astype(str)))
        shown = [v if len(v) <= 40 else v[:37] + "..." for v in found[:5]]
        raise SchemaError(
            f"{where}unknown output_type {shown}{' and more' if len(found) > 5 else ''} at "
            f"{_rows_of(df, bad, labels)}; use one of {list(OUTPUT_TYPES)}."
        )
    nostep = df["step"].isna() & df["revision"].notna()
    if nostep.any():
        df.loc[nostep, "step"] = pd.array(
            [step_from_revision(r) for r in df.loc[nostep, "revision"]], dtype="Int64"
        )
    # a log-probability above 0 is impossible: the value is corrupt, the row is flagged
    pos = df["target_loglik"] > 0
    flag(pd.Series(np.where(pos, [f"positive log-likelihood {v:g} (a log-probability is <= 0)"
                                  for v in df["target_loglik"].fillna(0)], None),
                   index=df.index, dtype="string"))
    df["invalid"] = invalid
    _check_choices(df)
    _check_duplicates(df, where, labels)
    extra = [c for c in df.columns if c not in RECORD_COLUMNS]
    return df[list(RECORD_COLUMNS) + extra]


#: Scale facts a log may state about its model (checked, not scored): a value that is not a
#: positive finite number is unknown, as if the log did not state it.
SCALE_FACTS: tuple[str, ...] = ("params", "nonembedding_params", "active_params", "tokens",
                                "flops")


def _size_value(v: Any) -> float:
    """A stated size as a float: NaN when absent (or a boolean), -1 when not a number."""
    if _is_na(v) or isinstance(v, (bool, np.bool_)):
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError, OverflowError):
        return -1.0   # present but not a number: reported by the caller


def _scale_facts(df: pd.DataFrame, where: str) -> None:
    """Scale columns to float; values that are not positive finite numbers become NaN (unknown)
    with a warning naming the file and column. The record itself stays valid: its score does not
    depend on the model's size, and an unknown size is declared with ``--params`` / ``params=``.
    """
    for col in SCALE_FACTS:
        if col not in df.columns:
            continue
        s = df[col]
        elementwise = (s.dtype == object or pd.api.types.is_bool_dtype(s)
                       or not pd.api.types.is_numeric_dtype(s))
        vals = (np.array([_size_value(v) for v in s], dtype=np.float64) if elementwise
                else s.to_numpy(np.float64, na_value=np.nan))
        stated = ~s.map(_is_na).to_numpy(bool)
        bad = stated & ~(np.isfinite(vals) & (vals > 0))
        if bad.any():
            shown = ", ".join(repr(str(v)[:20]) for v in pd.unique(s[bad].astype(str))[:3])
            here = where
            if not here and "source" in df.columns:
                files = pd.unique(df.loc[bad, "source"].dropna().astype(str).str.replace(
                    r":[^:/\\]*$", "", regex=True))
                here = (", ".join(files[:2]) + (" and others" if len(files) > 2 else "") + ": "
                        if len(files) else "")
            warnings.warn(
                f"{here}column '{col}' holds {int(bad.sum())} value(s) that are not positive "
                f"numbers ({shown}); taken as unknown. Declare sizes with --params at the CLI or "
                "params= in Python.", DataExclusionWarning, stacklevel=3)
            vals = np.where(bad, np.nan, vals)
        df[col] = vals


def _check_duplicates(df: pd.DataFrame, where: str, labels: pd.Index) -> None:
    key = list(RECORD_KEY)
    dup = df.duplicated(key, keep=False)
    if not dup.any():
        return
    first = df[dup].iloc[0]
    same = dup & (df[key].astype("string").fillna("<NA>") ==
                  pd.Series({k: first[k] for k in key}).astype("string").fillna("<NA>")).all(axis=1)
    shown = {k: (None if _is_na(first[k]) else first[k]) for k in key}
    srcs = df.loc[same, "source"].dropna().astype(str)
    files = {x.rsplit(":", 1)[0] for x in srcs}
    hint = ("They come from different files: give each file's model a distinct 'step' "
            "(checkpoint), model name, family or run (replicate), e.g. with the step=/model=/"
            "family= arguments (CLI: --model, --family)."
            if len(files) > 1 else
            "Within one file an item id may appear once per (task, shots, filter, output_type, "
            "run); check that the log is not duplicated.")
    raise SchemaError(
        f"{where}{int(dup.sum())} records share their key (family, model, step, task, shots, "
        f"filter, output_type, item, run); e.g. {shown} at {_rows_of(df, same, labels)}. {hint}"
    )


def _num_list(v: Any) -> list[float] | None:
    try:
        return [float(x) for x in v]
    except (TypeError, ValueError):
        return None


def _check_choices(df: pd.DataFrame) -> None:
    """Multiple-choice rows: lists of one length, numbers, a valid gold index; else flagged."""
    mc = df.index[(df["output_type"] == "multiple_choice") & df["invalid"].isna()]
    targets = df["target"].astype("object").copy()
    tll = df["target_loglik"].copy()
    invalid = df["invalid"].copy()
    lls = df["choice_loglik"].copy()
    for i in mc:
        ch, ll, g = df.at[i, "choices"], df.at[i, "choice_loglik"], df.at[i, "gold"]
        cv, rk = df.at[i, "choice_values"], df.at[i, "rank_loglik"]
        why = None
        nums = None if _is_na(ll) else _num_list(ll)
        if _is_na(ll):
            why = "no 'choice_loglik' (per-choice log-likelihoods are needed to score it)"
        elif nums is None:
            why = f"'choice_loglik' {str(ll)[:40]} holds a value that is not a number"
        elif not _is_na(ch) and len(ch) != len(nums):
            why = f"{len(ch)} choices but {len(nums)} log-likelihoods"
        elif any(math.isnan(x) for x in nums):
            why = "'choice_loglik' holds NaN (use -inf for a choice of probability zero)"
        elif any(x > 0 for x in nums):
            why = "'choice_loglik' holds a positive log-likelihood (a log-probability is <= 0)"
        elif _is_na(g) or not 0 <= int(g) < len(nums):
            why = f"'gold' {g} is missing or not an index into the {len(nums)} choices"
        elif not _is_na(cv) and (_num_list(cv) is None or len(cv) != len(nums)):
            why = "'choice_values' must hold one number per choice"
        elif not _is_na(rk) and (_num_list(rk) is None or len(rk) != len(nums)):
            why = "'rank_loglik' must hold one number per choice"
        if why is not None:
            invalid[i] = why
            continue
        lls[i] = nums
        if _is_na(targets[i]) and not _is_na(ch):
            targets[i] = str(ch[int(g)])
        if _is_na(tll[i]):
            tll[i] = float(nums[int(g)])
    df["choice_loglik"] = lls
    df["target"] = targets.astype("string")
    df["target_loglik"] = tll.astype("float64")
    df["invalid"] = invalid.astype("string")
