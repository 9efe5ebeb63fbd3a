"""Result files of any format -> one scored tidy table: :mod:`emergence.io` reads, then
:func:`emergence.scoring.rescore` scores the per-item records among them.

This is the layer above the readers and the scorer (readers never score); ``emergence analyze``,
``emergence screen`` and :func:`emergence.read` use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .io import read as read_files
from .registry import MetricFacts
from .schema import validate
from .scoring import rescore

__all__ = ["read"]


def read(
    paths: str | Path | Iterable[str | Path],
    *,
    progress: bool = False,
    params: float | Mapping[str, float] | None = None,
    tokens: float | Mapping[str, float] | None = None,
    scale_flags: tuple[str, str] = ("params", "tokens"),
    metric_facts: MetricFacts | None = None,
    format: str = "auto",  # noqa: A002 - the CLI flag is --format
    **options: Any,
) -> pd.DataFrame:
    """Read result files of any supported format into one tidy table; per-item logs are
    re-scored under every applicable metric.

    Parameters
    ----------
    paths : path or iterable of paths
        Files or folders (searched recursively).
    progress : bool, default=False
        Show a progress bar over files.
    params, tokens : float or mapping model -> float, optional
        Declared parameter counts / training tokens: a number for every row, or one per model
        name. Declared values replace what the files state (lm-eval's parameter count includes
        embeddings, Inspect logs state none); see :func:`emergence.io.apply_scale`.
    scale_flags : (str, str), default=("params", "tokens")
        How errors name ``params`` and ``tokens`` (the CLI passes its flags).
    metric_facts : mapping, optional
        Declared facts of metrics the built-in table does not know (see
        :mod:`emergence.registry`); their values are checked against the declared range.
    format : str, default="auto"
        A reader name (:data:`emergence.io.READERS`) to read every file with, or ``"auto"``.
    **options
        Reader options (:func:`emergence.io.read`): column mapping, sentinels, ... for CSV
        tables; ``model``, ``task``, ``filter``, ... for logs.

    Returns
    -------
    DataFrame
        Tidy table (see :mod:`emergence.schema`): the score files' rows and the re-scored
        per-item rows.

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
    got = read_files(paths, format=format, progress=progress, params=params, tokens=tokens,
                     scale_flags=scale_flags, metric_facts=metric_facts, **options)
    if got.records is None:
        return got.scores
    parts = [got.scores, rescore(got.records)] if got.scores is not None else [
        rescore(got.records)]
    table = pd.concat(parts, ignore_index=True)
    # identical duplicates are kept here; extract_curves counts them once and lists the copies
    return validate(table, allow_duplicates=True, metric_facts=metric_facts)
