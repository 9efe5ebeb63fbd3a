"""Readers: files -> tidy rows. No scoring happens here.

:func:`read` detects the format of each file by its content, not its name:

* lm-evaluation-harness aggregate results (v0.3 and v0.4 JSON) -> :func:`read_lm_eval`;
* CSV/TSV tables (tidy long, or wide with one column per benchmark) -> :func:`read_table`;
* lm-evaluation-harness per-sample logs (``samples_<task>_<ts>.jsonl`` of v0.4.3+, the JSON arrays
  of v0.4.0-0.4.2, ``*_write_out_info.json`` of v0.3) -> :func:`emergence.io.samples.load_samples`,
  then re-scored per item under every metric with :func:`emergence.scoring.rescore`.

BIG-bench full logs and HELM runs have their own readers (:mod:`emergence.io.bigbench`,
:mod:`emergence.io.helm`) because a HELM run spans several files.

Anything else raises :class:`~emergence.FormatError` naming the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from .._exceptions import FormatError
from ..schema import validate
from ._files import check_file, parse_json, read_text
from ._paths import expand_paths
from .bigbench import load_full_log
from .helm import load_run
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
    "read_records",
    "validate_records",
]

_TABLE_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz")


def _suffix(path: Path) -> str:
    return "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix


def detect(path: str | Path) -> str:
    """Name the format of ``path``: ``"lm-eval-aggregate"``, ``"table"``, ``"per-item"``.

    Raises
    ------
    FormatError
        The content is none of the formats read (the message names the file and the formats).
    """
    path = check_file(path)
    if _suffix(path) in _TABLE_SUFFIXES:
        return "table"
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
            "samples_*.jsonl / *_write_out_info.json, BIG-bench full-log, HELM). "
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
    return _suffix(f) in _TABLE_SUFFIXES or f.suffix in (".json", ".jsonl")


def read(
    paths: str | Path | Iterable[str | Path],
    *,
    progress: bool = False,
    **table_kwargs,
) -> pd.DataFrame:
    """Read result files of any supported format into one tidy table.

    Parameters
    ----------
    paths : path or iterable of paths
        Files or directories (searched recursively).
    progress : bool, default=False
        Show a progress bar over files.
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

    files = expand_paths(paths, _readable, ".json, .jsonl, .csv or .tsv")
    groups: dict[str, list[Path]] = {"lm-eval-aggregate": [], "table": [], "per-item": []}
    for f in files:
        groups[detect(f)].append(f)
    parts: list[pd.DataFrame] = []
    if groups["lm-eval-aggregate"]:
        parts.append(read_lm_eval(groups["lm-eval-aggregate"], progress=progress))
    for f in tqdm(groups["table"], desc="tables", disable=not progress, unit="file"):
        parts.append(read_table(f, **table_kwargs))
    if groups["per-item"]:
        parts.append(_read_per_item(groups["per-item"]))
    if not parts:
        raise FormatError(f"nothing to read in {', '.join(map(str, files))}.")
    # identical duplicates are kept here; extract_curves counts them once and lists the copies
    return validate(pd.concat(parts, ignore_index=True), allow_duplicates=True)


def _read_per_item(files: list[Path]) -> pd.DataFrame:
    from ..scoring import rescore

    return rescore(load_samples(files))
