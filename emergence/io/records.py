"""Per-item records: what a model produced for each item, before any scoring.

Every per-item reader (:mod:`emergence.io.samples`, :mod:`emergence.io.bigbench`,
:mod:`emergence.io.helm`, :func:`read_records`) returns this table, and
:func:`emergence.scoring.rescore` scores it. One row per (model, checkpoint, task, filter, item).

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
- ``params``, ``tokens``, ``flops``, ``shots``: scale and regime; ``source``: file and line.

Optional extra columns (``family``, ``nonembedding_params``, ``note``, ...) are kept.

Examples
--------
>>> import pandas as pd
>>> from emergence.io.records import validate_records
>>> rec = validate_records(pd.DataFrame({
...     "model": ["m"], "task": ["t"], "item": [0], "output_type": ["generate_until"],
...     "prediction": ["42"], "target": ["42"]}))
>>> rec.loc[0, "item"], str(rec["step"].dtype)
('0', 'Int64')
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .._exceptions import FormatError, SchemaError
from .._validation import format_rows
from ..scale import parse_step
from ._files import check_file, iter_jsonl, load_json, read_csv_text

__all__ = [
    "RECORD_COLUMNS",
    "RECORD_REQUIRED",
    "OUTPUT_TYPES",
    "LIST_COLUMNS",
    "empty_records",
    "validate_records",
    "read_records",
    "step_from_revision",
]

#: Column -> (dtype, description); the order is the canonical order.
RECORD_COLUMNS: dict[str, tuple[str, str]] = {
    "model": ("string", "model name without checkpoint"),
    "step": ("Int64", "training step of the checkpoint; <NA> when unknown"),
    "revision": ("string", "checkpoint revision as given to the harness (e.g. 'step1000')"),
    "task": ("string", "task name"),
    "filter": ("string", "lm-eval filter name ('none' when the harness applies none)"),
    "item": ("string", "document id within the task"),
    "doc_hash": ("string", "sha256 of the document as written by lm-eval (NA elsewhere)"),
    "output_type": ("string", "generate_until | loglikelihood | multiple_choice | "
                              "loglikelihood_rolling"),
    "prediction": ("string", "generated text after the filter; NA for log-likelihood requests"),
    "target": ("string", "reference text (multiple choice: text of the correct choice)"),
    "targets": ("object", "list of acceptable references; NA when there is only `target`"),
    "choices": ("object", "list of scored continuations (multiple choice); NA otherwise"),
    "choice_loglik": ("object", "list of summed log-likelihoods (nats) of `choices`"),
    "gold": ("Int64", "index of the correct choice (multiple choice)"),
    "target_loglik": ("float64", "summed log-likelihood of the target in nats"),
    "target_ntokens": ("Int64", "number of model tokens of the target; NA unless known"),
    "is_greedy": ("boolean", "greedy decoding reproduces the target (lm-eval is_greedy)"),
    "params": ("float64", "parameter count"),
    "tokens": ("float64", "training tokens seen by the checkpoint"),
    "flops": ("float64", "training compute in FLOPs"),
    "shots": ("Int64", "number of in-context examples"),
    "source": ("string", "file (and line) the record was read from"),
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
LIST_COLUMNS: tuple[str, ...] = ("targets", "choices", "choice_loglik")


def empty_records() -> pd.DataFrame:
    """An empty records table with every column and its dtype.

    Examples
    --------
    >>> list(empty_records().columns[:4])
    ['model', 'step', 'revision', 'task']
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


def read_jsonl(path: str | Path) -> list[tuple[int, dict]]:
    """``(line number, object)`` for every non-blank line of a JSON-lines file.

    Raises
    ------
    FormatError
        A line is not valid JSON (the file is probably truncated) or not a JSON object; the
        message names the file and the line.
    """
    out = []
    for ln, obj in iter_jsonl(path):
        if not isinstance(obj, dict):
            raise FormatError(f"{path}: line {ln} is not a JSON object.")
        out.append((ln, obj))
    return out


def _is_na(v: object) -> bool:
    if v is None or v is pd.NA:
        return True
    return isinstance(v, float) and math.isnan(v)


def _as_list(v: object, col: str, row: object, where: str) -> object:
    if _is_na(v):
        return pd.NA
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except json.JSONDecodeError:
            raise SchemaError(
                f"{where}column '{col}' row {row} holds {v[:60]!r}, which is not a JSON list. "
                "Write lists as JSON (e.g. [\"a\", \"b\"])."
            ) from None
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if not isinstance(v, (list, tuple)):
        raise SchemaError(f"{where}column '{col}' row {row} must be a list; got {type(v).__name__}.")
    return list(v)


def _coerce(df: pd.DataFrame, col: str, dtype: str, where: str) -> pd.Series:
    s = df[col]
    if dtype == "object":
        return pd.Series([_as_list(v, col, i, where) for i, v in s.items()], index=s.index,
                         dtype="object")
    try:
        if dtype == "string":
            return s.astype("string")
        if dtype == "boolean":
            if s.dtype == "boolean":
                return s
            mapped = s.map(lambda v: pd.NA if _is_na(v) else
                           {"true": True, "false": False, "1": True, "0": False,
                            "1.0": True, "0.0": False}.get(str(v).strip().lower(), v))
            bad = mapped.map(lambda v: not (v is pd.NA or isinstance(v, (bool, np.bool_))))
            if bad.any():
                raise ValueError(f"non-boolean values {mapped[bad].head(3).tolist()}")
            return mapped.astype("boolean")
        num = pd.to_numeric(s, errors="raise")
        if dtype == "float64":
            return num.astype("float64")
        frac = num.notna() & (num.astype("float64") % 1 != 0)
        if frac.any():
            raise ValueError(f"non-integer values in rows {format_rows(df.index[frac])}")
        return num.astype("float64").round().astype("Int64")
    except (TypeError, ValueError) as exc:
        raise SchemaError(
            f"{where}column '{col}' must hold {dtype} values ({exc}). Fix the values or map the "
            "right column."
        ) from None


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
        Missing columns, unknown ``output_type``, choices and log-likelihoods of different lengths,
        a gold index outside the choices, NaN choice log-likelihoods, or duplicate
        (model, step, task, filter, output_type, item) rows; the message names rows and the fix.

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
    df.index = pd.RangeIndex(len(df))
    for col, (dtype, _) in RECORD_COLUMNS.items():
        if col not in df.columns:
            if dtype == "object":
                df[col] = pd.Series([pd.NA] * len(df), index=df.index, dtype="object")
            else:
                fill = np.nan if dtype == "float64" else pd.NA
                df[col] = pd.Series(fill, index=df.index, dtype=dtype)
        else:
            df[col] = _coerce(df, col, dtype, where)
    for col in ("model", "task", "item"):
        bad = df[col].isna() | (df[col].str.strip() == "")
        if bad.any():
            raise SchemaError(f"{where}column '{col}' is empty in rows {format_rows(df.index[bad])}.")
    df["filter"] = df["filter"].fillna("none")
    bad = ~df["output_type"].isin(OUTPUT_TYPES)
    if bad.any():
        raise SchemaError(
            f"{where}unknown output_type {sorted(set(df.loc[bad, 'output_type'].astype(str)))} in "
            f"rows {format_rows(df.index[bad])}; use one of {list(OUTPUT_TYPES)}."
        )
    nostep = df["step"].isna() & df["revision"].notna()
    if nostep.any():
        df.loc[nostep, "step"] = pd.array(
            [step_from_revision(r) for r in df.loc[nostep, "revision"]], dtype="Int64"
        )
    _check_choices(df, where)
    key = ["model", "step", "task", "filter", "output_type", "item"]
    dup = df.duplicated(key, keep=False)
    if dup.any():
        first = df[dup].iloc[0]
        raise SchemaError(
            f"{where}{int(dup.sum())} rows share (model, step, task, filter, output_type, "
            f"item), e.g. { {k: first[k] for k in key} } in rows {format_rows(df.index[dup])}. "
            "Checkpoints of one model need distinct 'step' (or 'revision' names like "
            "'step1000'), or distinct model names."
        )
    extra = [c for c in df.columns if c not in RECORD_COLUMNS]
    return df[list(RECORD_COLUMNS) + extra]


def _check_choices(df: pd.DataFrame, where: str) -> None:
    mc = df.index[df["output_type"] == "multiple_choice"]
    bad_len, bad_gold, bad_nan, no_ll = [], [], [], []
    targets = df["target"].astype("object").copy()
    tll = df["target_loglik"].copy()
    for i in mc:
        ch, ll, g = df.at[i, "choices"], df.at[i, "choice_loglik"], df.at[i, "gold"]
        if _is_na(ll):
            no_ll.append(i)
            continue
        if not _is_na(ch) and len(ch) != len(ll):
            bad_len.append(i)
            continue
        if any(_is_na(x) for x in ll):
            bad_nan.append(i)
            continue
        if _is_na(g) or not 0 <= int(g) < len(ll):
            bad_gold.append(i)
            continue
        if _is_na(targets[i]) and not _is_na(ch):
            targets[i] = str(ch[int(g)])
        if _is_na(tll[i]):
            tll[i] = float(ll[int(g)])
    if no_ll:
        raise SchemaError(
            f"{where}multiple-choice rows {format_rows(no_ll)} have no 'choice_loglik'; the "
            "per-choice log-likelihoods are needed to score them."
        )
    if bad_len:
        raise SchemaError(
            f"{where}rows {format_rows(bad_len)}: 'choices' and 'choice_loglik' differ in length."
        )
    if bad_nan:
        raise SchemaError(
            f"{where}rows {format_rows(bad_nan)}: 'choice_loglik' holds NaN; use -inf for a choice "
            "of probability zero, or remove the row."
        )
    if bad_gold:
        raise SchemaError(
            f"{where}rows {format_rows(bad_gold)}: 'gold' is missing or not a valid index into the "
            "choices."
        )
    df["target"] = targets.astype("string")
    df["target_loglik"] = tll.astype("float64")


_PLAIN_ALIASES = {
    "doc_id": "item",
    "id": "item",
    "output": "prediction",
    "response": "prediction",
    "logprob": "target_loglik",
    "loglik": "target_loglik",
    "choice_logliks": "choice_loglik",
    "label": "gold",
}


def _infer_output_type(df: pd.DataFrame) -> pd.Series:
    def col(c: str) -> pd.Series:
        if c in df.columns:
            return df[c].map(lambda v: not _is_na(v))
        return pd.Series(False, index=df.index)

    out = pd.Series("loglikelihood", index=df.index, dtype="object")
    out[col("prediction")] = "generate_until"
    out[col("choice_loglik")] = "multiple_choice"
    return out


def read_records(
    path: str | Path | Sequence[str | Path],
    *,
    columns: dict[str, str] | None = None,
    task: str | None = None,
) -> pd.DataFrame:
    """Read a plain long CSV or JSONL of per-item records.

    One row per (model, item): ``model, item, prediction, target`` plus any of ``task``,
    ``target_loglik`` (summed nats), ``target_ntokens``, ``choices``/``choice_loglik`` (JSON lists
    in CSV), ``gold``, ``targets``, ``step``, ``revision``, ``params``, ``tokens``, ``flops``,
    ``shots``. ``output_type`` is inferred per row when absent: rows with ``choice_loglik`` are
    multiple choice, rows with a ``prediction`` are generations, the rest log-likelihoods.

    Parameters
    ----------
    path : path or list of paths
        ``.csv``, ``.jsonl`` or ``.json`` (an array of objects).
    columns : dict, optional
        Map from the file's column names to record columns (``{"answer": "target"}``). Common
        aliases (``doc_id``, ``output``, ``logprob``, ``label``) are mapped automatically.
    task : str, optional
        Task name for files without a ``task`` column.

    Returns
    -------
    DataFrame
        A records table (see :func:`validate_records`).

    Raises
    ------
    FormatError
        Unreadable file, truncated JSON line, or unknown extension (the message names the file and
        line).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "r.csv").write_text("model,item,prediction,target\\nm1,0,41,42\\nm1,1,7,7\\n")
    >>> rec = read_records(d / "r.csv", task="add")
    >>> rec[["item", "output_type", "prediction"]].to_dict("records")[0]
    {'item': '0', 'output_type': 'generate_until', 'prediction': '41'}
    """
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    frames = []
    for p in paths:
        p = check_file(p)
        suffix = p.suffix.lower()
        if suffix == ".csv":
            df = read_csv_text(p, dtype={"item": str, "doc_id": str, "id": str})
            df["source"] = [f"{p}:{i + 2}" for i in range(len(df))]
        elif suffix in (".jsonl", ".ndjson"):
            rows = []
            for ln, obj in read_jsonl(p):
                obj["source"] = f"{p}:{ln}"
                rows.append(obj)
            df = pd.DataFrame(rows)
        elif suffix == ".json":
            data = load_json(p)
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise FormatError(f"{p}: expected a JSON array of record objects.")
            df = pd.DataFrame(data)
            df["source"] = [f"{p}:[{i}]" for i in range(len(df))]
        else:
            raise FormatError(f"{p}: unknown extension '{suffix}'; use .csv, .jsonl or .json.")
        ren = {k: v for k, v in _PLAIN_ALIASES.items() if k in df.columns and v not in df.columns}
        ren.update(columns or {})
        df = df.rename(columns=ren)
        if "task" not in df.columns:
            if task is None:
                raise SchemaError(f"{p}: no 'task' column; pass task='...'.")
            df["task"] = task
        if "output_type" not in df.columns:
            df["output_type"] = _infer_output_type(df)
        if "item" in df.columns:
            df["item"] = df["item"].map(lambda v: v if _is_na(v) else str(v))
        frames.append(df)
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return validate_records(df, name=str(paths[0]) if len(paths) == 1 else None)
