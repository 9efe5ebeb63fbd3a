"""Readers: files -> tidy rows. No scoring happens here.

:func:`read` detects the format of each file by its content, not its name:

* lm-evaluation-harness aggregate results (v0.3 and v0.4 JSON) -> :func:`read_lm_eval`;
* CSV/TSV tables (tidy long, or wide with one column per benchmark) -> :func:`read_table`;
* lm-evaluation-harness per-sample logs (``samples_<task>_<ts>.jsonl`` of v0.4.3+, the JSON arrays
  of v0.4.0-0.4.2, ``*_write_out_info.json`` of v0.3) -> :func:`emergence.io.samples.load_samples`,
  then re-scored per item under every metric with :func:`emergence.scoring.rescore`.

* BIG-bench ``full-log_*.json`` (:mod:`emergence.io.bigbench`), Inspect ``.eval`` logs
  (:mod:`emergence.io.inspect_evals`, needs ``inspect_ai``) and lighteval
  ``details_*.parquet`` (:mod:`emergence.io.lighteval`) -> per-item records, re-scored;
* Every Eval Ever aggregate JSON and instance JSONL (:mod:`emergence.io.eee`) -> tidy rows.

HELM runs have their own reader (:mod:`emergence.io.helm`) because a run spans several files.
Scale facts the files do not give (or give wrongly) are declared with ``params=`` and
``tokens=`` (CLI: ``--params``, ``--tokens``) and apply to every format the same way.

Anything else raises :class:`~emergence.FormatError` naming the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .._exceptions import FormatError
from ..registry import MetricFacts
from ..schema import validate
from ._files import check_file, parse_json, read_text
from ._paths import expand_paths
from .bigbench import load_full_log
from .eee import is_eee_file, read_eee, write_eee
from .helm import load_run
from .inspect_evals import is_inspect_log, load_inspect
from .lighteval import is_lighteval_details, load_lighteval
from .lm_eval import is_lm_eval_aggregate, read_lm_eval
from .records import read_records, validate_records
from .samples import load_samples
from .tables import read_table

__all__ = [
    "read",
    "detect",
    "read_lm_eval",
    "read_table",
    "load_samples",
    "load_full_log",
    "load_run",
    "load_inspect",
    "load_lighteval",
    "read_eee",
    "write_eee",
    "apply_scale",
    "read_records",
    "validate_records",
]

_TABLE_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz")


def _suffix(path: Path) -> str:
    return "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix


def detect(path: str | Path) -> str:
    """Name the format of ``path``: ``"lm-eval-aggregate"``, ``"table"``, ``"per-item"`` (lm-eval
    samples), ``"bigbench"``, ``"inspect"``, ``"lighteval"`` or ``"eee"``.

    Raises
    ------
    FormatError
        The content is none of the formats read (the message names the file and the formats).
    """
    path = check_file(path)
    if _suffix(path) in _TABLE_SUFFIXES:
        return "table"
    if path.suffix == ".eval" or (path.suffix == ".json" and is_inspect_log(path)):
        return "inspect"
    if path.suffix == ".parquet":
        if is_lighteval_details(path):
            return "lighteval"
        raise FormatError(f"{path}: a parquet file not named like lighteval details "
                          "(details_<task>|<shots>_<date>.parquet).")
    if path.name.startswith("full-log_") and path.suffix == ".json":
        return "bigbench"
    if is_eee_file(path):
        return "eee"
    full = read_text(path)
    text = full.lstrip()
    head = text[:4096]
    if text[:1] in ("{", "["):
        if text[:1] == "{":
            first_line = text.split("\n", 1)[0]
            if first_line.strip() != text.strip():
                # several lines: a JSON object over many lines, or JSON lines (first line whole)
                try:
                    parse_json(first_line, path, line=1)
                    obj = None  # JSON lines
                except FormatError:
                    obj = parse_json(full, path)
            else:
                obj = parse_json(full, path)
            if obj is not None and is_lm_eval_aggregate(obj):
                return "lm-eval-aggregate"
        if _is_samples_log(path):
            return "per-item"
        raise FormatError(
            f"{path}: JSON that is not an lm-evaluation-harness results file (no 'results' "
            "mapping task -> metrics) and not a per-item log this package reads (lm-eval "
            "samples_*.jsonl / *_write_out_info.json, BIG-bench full-log_*.json, Inspect logs, "
            "Every Eval Ever files). "
            "Convert it to a CSV table with columns model, task, metric, value."
        )
    if "," in head.split("\n", 1)[0] or "\t" in head.split("\n", 1)[0]:
        return "table"
    raise FormatError(
        f"{path}: unknown format. Readable formats: lm-evaluation-harness results JSON "
        "(v0.3, v0.4), per-item logs (lm-eval --log_samples, BIG-bench, HELM) and CSV/TSV tables."
    )


def _is_samples_log(path: Path) -> bool:
    from .samples import detect_format

    try:
        detect_format(path)
    except FormatError:
        return False
    return True


def _readable(f: Path) -> bool:
    return _suffix(f) in _TABLE_SUFFIXES or f.suffix in (".json", ".jsonl", ".eval", ".parquet")


def read(
    paths: str | Path | Iterable[str | Path],
    *,
    progress: bool = False,
    params: float | Mapping[str, float] | None = None,
    tokens: float | Mapping[str, float] | None = None,
    scale_flags: tuple[str, str] = ("params", "tokens"),
    metric_facts: MetricFacts | None = None,
    **table_kwargs,
) -> pd.DataFrame:
    """Read result files of any supported format into one tidy table.

    Parameters
    ----------
    paths : path or iterable of paths
        Files or directories (searched recursively).
    progress : bool, default=False
        Show a progress bar over files.
    params, tokens : float or mapping model -> float, optional
        Declared parameter counts / training tokens: a number for every row, or one per model
        name. Declared values replace what the files state (lm-eval's parameter count includes
        embeddings, Inspect logs state none); see :func:`apply_scale`.
    scale_flags : (str, str), default=("params", "tokens")
        How errors name ``params`` and ``tokens`` (the CLI passes its flags).
    metric_facts : mapping, optional
        Declared facts of metrics the built-in table does not know (see
        :mod:`emergence.registry`); their values are checked against the declared range.
    **table_kwargs
        Passed to :func:`read_table` for CSV/TSV files (column mapping, sentinels, ...).

    Returns
    -------
    DataFrame
        Tidy table (see :mod:`emergence.schema`).

    Raises
    ------
    FormatError
        A file's format is unknown or malformed.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "scores.csv"
    >>> pd.DataFrame({"model": ["a", "b"], "task": "t", "metric": "acc", "value": [0.2, 0.4],
    ...               "params": [1e8, 1e9]}).to_csv(p, index=False)
    >>> read(p)["value"].tolist()
    [0.2, 0.4]
    """
    from tqdm.auto import tqdm

    files = expand_paths(paths, _readable, ".json, .jsonl, .eval, .parquet, .csv or .tsv")
    kinds = ("lm-eval-aggregate", "table", "per-item", "bigbench", "inspect", "lighteval", "eee")
    groups: dict[str, list[Path]] = {k: [] for k in kinds}
    for f in files:
        groups[detect(f)].append(f)
    parts: list[pd.DataFrame] = []
    if groups["lm-eval-aggregate"]:
        parts.append(read_lm_eval(groups["lm-eval-aggregate"], progress=progress))
    for f in tqdm(groups["table"], desc="tables", disable=not progress, unit="file"):
        parts.append(read_table(f, metric_facts=metric_facts, **table_kwargs))
    loaders = {"per-item": load_samples, "bigbench": load_full_log, "inspect": load_inspect,
               "lighteval": load_lighteval}
    for kind, loader in loaders.items():
        if groups[kind]:
            parts.append(_rescored(loader(groups[kind]), params, tokens, scale_flags))
    if groups["eee"]:
        parts.append(read_eee(groups["eee"]))
    if not parts:
        raise FormatError(f"nothing to read in {', '.join(map(str, files))}.")
    table = pd.concat(parts, ignore_index=True)
    table = apply_scale(table, "params", params, flag=scale_flags[0])
    table = apply_scale(table, "tokens", tokens, flag=scale_flags[1])
    # identical duplicates are kept here; extract_curves counts them once and lists the copies
    return validate(table, allow_duplicates=True, metric_facts=metric_facts)


def _rescored(records: pd.DataFrame, params: object, tokens: object,
              flags: tuple[str, str]) -> pd.DataFrame:
    from ..scoring import rescore

    records = apply_scale(records, "params", params, flag=flags[0], strict=False)
    records = apply_scale(records, "tokens", tokens, flag=flags[1], strict=False)
    return rescore(records)


def apply_scale(
    frame: pd.DataFrame,
    column: str,
    value: float | Mapping[str, float] | None,
    *,
    flag: str | None = None,
    strict: bool = True,
) -> pd.DataFrame:
    """Set a scale column (``params``, ``tokens``, ...) from a declared value or per-model mapping.

    Parameters
    ----------
    frame : DataFrame
        Tidy table or per-item records (a ``model`` column).
    column : str
        Column to set.
    value : float, mapping model -> float, or None
        A number for every row, or one per model name; None leaves the column as it is.
    flag : str, optional
        Name of the argument in error messages (``"params"``; the CLI passes ``"--params"``).
    strict : bool, default=True
        A mapping that names a model the table does not hold is an error (a typo would
        otherwise leave that model's scale unknown without a word).

    Returns
    -------
    DataFrame
        A copy with the declared values in ``column`` (other models keep theirs).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"model": ["a", "b"], "params": [None, 5.0]})
    >>> apply_scale(t, "params", {"a": 1e9})["params"].tolist()
    [1000000000.0, 5.0]
    """
    if value is None:
        return frame
    name = flag or column
    out = frame.copy()
    if isinstance(value, Mapping):
        models = set(out["model"].astype(str))
        unknown = sorted(set(map(str, value)) - models)
        if unknown and strict:
            shown = ", ".join(sorted(models)[:8])
            raise FormatError(
                f"{_arg(name)} names model(s) {unknown[:5]} that the data do not hold; its "
                f"models are {shown}{', ...' if len(models) > 8 else ''}. Use those names."
            )
        hit = out["model"].astype(str).map(lambda m: value.get(m))
        new = pd.to_numeric(hit, errors="coerce")
    else:
        try:
            new = pd.Series(float(value), index=out.index)
        except (TypeError, ValueError):
            raise FormatError(f"{_arg(name)} must be a number or a mapping model -> number; "
                              f"got {value!r}.") from None
    old = out[column].astype("float64") if column in out else pd.Series(float("nan"),
                                                                         index=out.index)
    changed = new.notna() & ~np.isclose(new.fillna(0), old.fillna(-1.0), rtol=1e-12, atol=0)
    # values derived from the replaced one (active = params, flops = 6 N D) are derived again
    if column == "params" and "active_params" in out:
        derived = out["active_params"].astype("float64")
        out.loc[changed & (derived.isna() | np.isclose(derived, old)), "active_params"] = np.nan
    if column in ("params", "active_params", "tokens") and "flops" in out and "tokens" in out:
        act = out["active_params"].astype("float64") if "active_params" in out else old
        n = old if column != "tokens" else act
        d = out["tokens"].astype("float64") if column != "tokens" else old
        was_6nd = np.isclose(out["flops"].astype("float64"), 6.0 * n * d)
        out.loc[changed & was_6nd, "flops"] = np.nan
    out[column] = new.where(new.notna(), old)
    return out


def _arg(name: str) -> str:
    return name if name.startswith("--") else f"`{name}`"
