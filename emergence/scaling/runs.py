"""Scaling fits from tables: runs tables for the loss laws, laws by name, backtests of a table.

A *runs table* has one row per trained model (or checkpoint): ``N`` (parameters), ``D`` (tokens)
or ``C`` (FLOPs, ``D = C / 6N``), ``loss`` and an optional ``label``. It is either a CSV of that
shape (:func:`is_runs_file`, :func:`read_runs`) or built from a tidy table's loss-like metric
(:func:`as_runs`, through :func:`emergence.scaling.loss_runs`). :func:`backtest_table` backtests
one curve of a table. The ``emergence scaling`` command parses its arguments and calls these
functions, then writes the results with :mod:`emergence.scaling.files`.

Examples
--------
>>> import pandas as pd
>>> from emergence.scaling.runs import as_runs, power_law_runs
>>> runs = as_runs(pd.DataFrame({"N": [1e8, 1e9], "C": [6e17, 6e19], "loss": [3.1, 2.6]}))
>>> runs[["N", "D", "label"]].to_dict("list")
{'N': [100000000.0, 1000000000.0], 'D': [1000000000.0, 10000000000.0], 'label': ['0', '1']}
>>> x, y, note = power_law_runs(runs, x="params")
>>> x.tolist(), note
([100000000.0, 1000000000.0], None)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .._defaults import N_BOOT
from .._exceptions import EmergenceError
from .._random import SeedLike
from ..registry import MetricFacts
from .backtest import BacktestResult, backtest, pooled_curve
from .chinchilla import BESIROGLU_2024, HOFFMANN_2022, ChinchillaParams, loss_runs

__all__ = [
    "is_runs_file",
    "read_runs",
    "as_runs",
    "power_law_runs",
    "load_law",
    "backtest_table",
]

#: Axis name -> runs-table column for the one-axis power law.
POWER_AXES: dict[str, str] = {"params": "N", "tokens": "D", "flops": "C"}


def is_runs_file(path: str | Path) -> bool:
    """True for a CSV/TSV file whose header has the runs-table columns ``N`` and ``loss``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "runs.csv"
    >>> _ = p.write_text("N,D,loss\\n1e8,2e9,3.1\\n")
    >>> is_runs_file(p), is_runs_file(p.parent)
    (True, False)
    """
    p = Path(path)
    if not (p.is_file() and p.suffix.lower() in (".csv", ".tsv", ".gz")):
        return False
    try:
        head = pd.read_csv(p, nrows=5, sep=None, engine="python")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError):
        return False
    return {"N", "loss"} <= set(head.columns)


def read_runs(path: str | Path) -> pd.DataFrame:
    """Read a runs CSV (columns ``N``, ``D`` or ``C``, ``loss``; see :func:`as_runs`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "runs.csv"
    >>> _ = p.write_text("model,N,D,loss\\na,1e8,2e9,3.1\\n")
    >>> read_runs(p)[["label", "N", "D"]].to_dict("records")
    [{'label': 'a', 'N': 100000000.0, 'D': 2000000000.0}]
    """
    table = pd.read_csv(path, sep=None, engine="python")
    if not {"N", "loss"} <= set(table.columns):
        raise EmergenceError(f"{path}: a runs table needs columns N and loss (and D or C); it "
                             f"has {list(table.columns)}.")
    try:
        return as_runs(table)
    except EmergenceError as e:
        raise EmergenceError(f"{path}: {e}") from None


def as_runs(
    table: pd.DataFrame,
    *,
    task: str | None = None,
    metric: str | None = None,
    shots: int | None = None,
    size: str = "active_params",
    min_tokens_fraction: float = 0.0,
    metric_facts: MetricFacts | None = None,
) -> pd.DataFrame:
    """The runs table of a table: itself when it has ``N`` and ``loss``, else its loss-like metric.

    Parameters
    ----------
    table : DataFrame
        A runs table (``N``, ``D`` or ``C``, ``loss``; ``label`` defaults to ``model`` or the row
        number), or a tidy table (:func:`emergence.scaling.loss_runs` picks the loss-like metric).
    task, metric, shots : optional
        Which curve of a tidy table, when it holds several.
    size : str, default="active_params"
        Parameter column of a tidy table.
    min_tokens_fraction : float, default=0.0
        Leave out checkpoints trained on less than this share of their model's final tokens.
    metric_facts : mapping, optional
        Declared metrics (see :mod:`emergence.registry`).

    Returns
    -------
    DataFrame
        Columns ``N``, ``D``, ``loss``, ``label`` (and any others of the input);
        ``attrs["excluded"]`` counts the checkpoints left out by ``min_tokens_fraction`` and
        ``attrs["notes"]`` says so.

    Raises
    ------
    EmergenceError
        A runs table with neither ``D`` nor ``C``.
    """
    if {"N", "loss"} <= set(table.columns):
        runs = table.copy()
        if "D" not in runs.columns:
            if "C" not in runs.columns:
                raise EmergenceError("the runs table needs a column D (tokens) or C (FLOPs).")
            runs["D"] = runs["C"] / (6.0 * runs["N"])
        if "label" not in runs.columns:
            runs["label"] = (runs["model"].astype(str) if "model" in runs
                             else runs.index.astype(str))
        runs.attrs["excluded"] = {}
        runs.attrs["notes"] = []
        return runs
    t = table if shots is None else table[table["shots"] == shots]
    runs = loss_runs(t, task=task, metric=metric, size=size, metric_facts=metric_facts)
    excluded: dict[str, int] = {}
    notes: list[str] = []
    if min_tokens_fraction > 0:
        final = runs.groupby("model")["D"].transform("max")
        drop = runs["D"] < min_tokens_fraction * final
        if drop.any():
            excluded["early checkpoints"] = int(drop.sum())
            notes.append(f"left out {int(drop.sum())} early checkpoints (under "
                         f"{min_tokens_fraction:.0%} of their model's final tokens)")
        runs = runs[~drop].reset_index(drop=True)
    runs.attrs["excluded"] = excluded
    runs.attrs["notes"] = notes
    return runs


def power_law_runs(
    runs: pd.DataFrame, *, x: str = "params", model: str | None = None, what: str = "model"
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """The points a one-axis power law in ``x`` is fitted to.

    In tokens, one model's checkpoints (``model``; required when the runs hold several models);
    in parameters or FLOPs, each model's last checkpoint.

    Parameters
    ----------
    runs : DataFrame
        A runs table (:func:`as_runs`).
    x : {"params", "tokens", "flops"}, default="params"
    model : str, optional
        The model whose checkpoints a power law in tokens fits.
    what : str, default="model"
        How the caller names ``model`` in errors (``"--model"`` at the CLI).

    Returns
    -------
    x, loss : ndarray
    note : str or None
        What was selected, when a selection was made.
    """
    if x not in POWER_AXES:
        raise EmergenceError(f"x must be one of {', '.join(POWER_AXES)}; got {x!r}.")
    runs = runs.copy()
    if "C" not in runs.columns:
        runs["C"] = 6.0 * runs["N"] * runs["D"]
    note = None
    if "model" in runs.columns:
        if x == "tokens":
            if model:
                runs = runs[runs["model"] == model]
            elif runs["model"].nunique() > 1:
                raise EmergenceError(
                    f"a power law in tokens fits one model's checkpoints; pass {what} (models: "
                    f"{', '.join(map(str, runs['model'].unique()[:10]))}).")
        else:  # across models: each model's last checkpoint
            runs = runs.loc[runs.groupby("model")["D"].idxmax()]
            note = f"power law across {len(runs)} models (last checkpoint of each)"
    axis = POWER_AXES[x]
    return runs[axis].to_numpy(float), runs["loss"].to_numpy(float), note


def load_law(spec: str | None, *, what: str = "law") -> ChinchillaParams:
    """A Chinchilla law by name (``besiroglu``, the default; ``hoffmann``) or from the output
    folder of a fit (its ``chinchilla_params.csv``).

    Examples
    --------
    >>> load_law("hoffmann").alpha, load_law(None).source == load_law("besiroglu").source
    (0.34, True)
    """
    key = str(spec or "besiroglu").lower()
    if key == "hoffmann":
        return HOFFMANN_2022
    if key == "besiroglu":
        return BESIROGLU_2024
    f = Path(str(spec)) / "chinchilla_params.csv"
    if not f.exists():
        raise FileNotFoundError(f"{what}: {spec} is not hoffmann, besiroglu or a folder with "
                                "chinchilla_params.csv.")
    v = pd.read_csv(f).set_index("parameter")["estimate"]
    return ChinchillaParams(v["E"], v["A"], v["B"], v["alpha"], v["beta"], str(f))


def backtest_table(
    table: pd.DataFrame,
    *,
    task: str,
    metric: str,
    cutoff: float,
    method: str = "sigmoid",
    x: str = "flops",
    family: str | None = None,
    shots: int | None = None,
    continuous_metric: str = "ppl",
    target_length: float | None = None,
    chance: float | Mapping[str, float] | None = None,
    metric_facts: MetricFacts | None = None,
    n_boot: int = N_BOOT,
    seed: SeedLike = None,
) -> BacktestResult:
    """Backtest one task and metric of a table, every model pooled (:func:`pooled_curve`).

    Parameters
    ----------
    table : DataFrame
        Tidy table.
    task, metric : str
        The curve to forecast.
    cutoff : float
        Scale below which to fit (units of ``x``).
    method : {"sigmoid", "linear", "power", "mirage"}, default="sigmoid"
    x : str, default="flops"
        Scale column.
    family : str, optional
        One family (default: pool every model of the table).
    shots : int, optional
        One shot count.
    continuous_metric : str, default="ppl"
        Continuous metric of the same task, for ``method="mirage"``.
    target_length : float, optional
        Target length in tokens (``method="mirage"``).
    chance : float or mapping, optional
        Floor of the sigmoid: a number, or ``{task: chance}`` declarations (default: the
        chance level the data give or the table declares).
    metric_facts : mapping, optional
        Declared metrics (see :mod:`emergence.registry`).
    n_boot : int
        Bootstrap replicates of the prediction intervals.
    seed : int or Generator, optional

    Returns
    -------
    BacktestResult
    """
    chance_map = dict(chance) if isinstance(chance, Mapping) else {}
    chance_value = None if isinstance(chance, Mapping) else chance
    t = table
    if family:
        t = t[t["family"] == family]
    if shots is not None:
        t = t[t["shots"] == shots]
    curve = pooled_curve(t, task=task, metric=metric, x=x, metric_facts=metric_facts,
                         chance=chance_map)
    cont = None
    if method == "mirage":
        cont = pooled_curve(t, task=task, metric=continuous_metric, x=x,
                            metric_facts=metric_facts)
    return backtest(curve, method=method, cutoff=cutoff, continuous=cont,
                    target_length=target_length, chance=chance_value, n_boot=n_boot, seed=seed)
