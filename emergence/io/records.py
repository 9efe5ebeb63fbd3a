"""Reading and writing plain per-item records tables (CSV, JSON lines, JSON arrays).

The records schema (columns, key, :func:`~emergence.records.validate_records`) is defined in
:mod:`emergence.records`; this module reads such tables from files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from .._exceptions import FormatError, SchemaError
from .._validation import how
from ..records import _is_na, validate_records
from ._files import Head, check_file, guarded, iter_jsonl, load_json, now_reading, read_csv_text

__all__ = ["read_records", "read_jsonl", "is_records_file", "RECORD_SUFFIXES"]

#: File suffixes :func:`read_records` reads.
RECORD_SUFFIXES: tuple[str, ...] = (".csv", ".jsonl", ".ndjson", ".json")


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


#: Names (after the aliases above) that make a table a records table: an item id and what the
#: model produced for it.
_ITEM_NAMES = frozenset({"item", "doc_id", "id"})
_OUTPUT_NAMES = frozenset({"prediction", "output", "response", "target_loglik", "logprob",
                           "loglik", "choice_loglik", "choice_logliks"})


def _looks_like_records(names: set[str], columns: Mapping[str, str] | None) -> bool:
    names = set(names)
    for ours, theirs in (columns or {}).items():  # a declared mapping names our columns
        if theirs in names:
            names.add(ours)
    if "value" in names or "schema_version" in names:
        return False  # a scores table / an Every Eval Ever instance file
    return bool(names & _ITEM_NAMES) and bool(names & (_OUTPUT_NAMES | {"output_type"}))


def is_records_file(head: Head, columns: Mapping[str, str] | None = None) -> bool:
    """True for a plain per-item records table: a ``.csv`` header, or the first object of a
    ``.jsonl``/``.json`` file, with an item id (``item``, ``doc_id``, ``id``) and a model output
    (``prediction``, ``target_loglik``, ``choice_loglik`` or an alias, or ``output_type``) and no
    ``value`` column (that is a scores table). ``columns`` (our name -> the file's column) counts
    mapped columns under our names.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from emergence.io._files import read_head
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.csv"
    >>> _ = p.write_text("model,question,answer,target\\nm,0,1,1\\n")
    >>> is_records_file(read_head(p)), is_records_file(read_head(p), {"item": "question",
    ...                                                               "prediction": "answer"})
    (False, True)
    """
    if head.suffix not in RECORD_SUFFIXES:
        return False
    if head.suffix == ".csv":
        return _looks_like_records(set(head.header), columns)
    obj = head.first_object
    if obj is None and head.suffix == ".json" and head.first_char == "[":
        data = load_json(head.path)  # parsed once; read_records gets the same object
        obj = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else None
    return obj is not None and _looks_like_records(set(map(str, obj)), columns)


def _infer_output_type(df: pd.DataFrame) -> pd.Series:
    def col(c: str) -> pd.Series:
        if c in df.columns:
            return df[c].map(lambda v: not _is_na(v))
        return pd.Series(False, index=df.index)

    out = pd.Series("loglikelihood", index=df.index, dtype="object")
    if "prediction" in df.columns:
        # a table of generations: a row whose prediction is empty, NA or missing is still a
        # generation (scored NaN with the note "no prediction"), not a log-likelihood request
        out[col("prediction") | ~col("target_loglik")] = "generate_until"
    out[col("choice_loglik")] = "multiple_choice"
    return out


@guarded("per-item records table (CSV, JSONL or JSON)")
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
    multiple choice, rows with a ``prediction`` are generations, the rest log-likelihoods. In a
    table with a ``prediction`` column, a row whose prediction is empty or missing (and that has
    no ``target_loglik``) stays a generation: :func:`emergence.scoring.rescore` gives it
    ``value = NaN`` with the note "no prediction", and analyses list it as excluded.

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
        now_reading(p)
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
        if not len(df):
            raise FormatError(f"{p}: holds no records (a header without rows, or an empty "
                              "list); is the file truncated?")
        ren = {k: v for k, v in _PLAIN_ALIASES.items() if k in df.columns and v not in df.columns}
        ren.update(columns or {})
        df = df.rename(columns=ren)
        if "task" not in df.columns:
            if task is None:
                fix = how("task='...'", "--task NAME")
                raise SchemaError(f"{p}: no 'task' column; pass {fix}.")
            df["task"] = task
        if "output_type" not in df.columns:
            if not {"prediction", "target_loglik", "choice_loglik"} & set(df.columns):
                raise FormatError(
                    f"{p}: no 'prediction', 'target_loglik' or 'choice_loglik' column, so "
                    f"nothing to score (columns: {list(map(str, df.columns))[:8]}). Rename the "
                    "column that holds the model's output to 'prediction'."
                )
            df["output_type"] = _infer_output_type(df)
        if "item" in df.columns:
            df["item"] = df["item"].map(lambda v: v if _is_na(v) else str(v))
        frames.append(df)
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    now_reading(None)
    return validate_records(df, name=str(paths[0]) if len(paths) == 1 else None)


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
