"""Run-to-run variance of the lab: how much a size's score moves between training runs.

Several training runs per size (``emergence lab run --seeds K``) evaluated on the same test items
split the uncertainty of a size's mean score in two parts:

- **between runs**: the sample variance of the per-run means over the ``K`` runs,
  ``var_between = var_r(mean_i y[r, i])`` (``ddof=1``). With ``y[r, i] = mu + a_r + b_i + e_ri``
  its expectation is ``var(a) + var(e) / n``: run-to-run scatter that no number of test items
  removes (the items are the same in every run).
- **item level**: the variance of one run's mean over its ``n`` items, averaged over runs,
  ``var_item = mean_r(var_i(y[r, i]) / n)``: what an item bootstrap of a single run measures
  (``var(b) + var(e)``, divided by ``n``).

``share_between = var_between / (var_between + var_item)`` is the part of the variance of a
single run's mean that item-level intervals do not see. The between-run standard deviation gets
a 95% interval from the chi-square distribution with ``K - 1`` degrees of freedom (it assumes
normally distributed run means; with three runs the interval is wide, and it is shown so).

This module computes descriptive quantities only; the verdicts take the runs from the table.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"family": "f", "model": "m", "step": 1, "task": "t", "metric": "acc",
...                   "params": 1e3, "item": [str(i) for i in range(4)] * 2,
...                   "run": ["a"] * 4 + ["b"] * 4,
...                   "value": [1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0]})
>>> r = run_variance(t).iloc[0]
>>> int(r["n_runs"]), float(r["mean"]), round(float(r["var_between"]), 4)
(2, 0.625, 0.0312)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["run_variance", "pooled_run_variance"]

_GROUP = ["family", "task", "metric", "model"]


def run_variance(table: pd.DataFrame, *, step: str | int | None = "final",
                 level: float = 0.95) -> pd.DataFrame:
    """Between-run and item-level variance of each size's mean score.

    Parameters
    ----------
    table : DataFrame
        Tidy per-item table with a ``run`` column (one row per run, model, step, task, metric
        and item).
    step : "final", int or None, default="final"
        Checkpoint of each model: its last step in the table, a given step, or None for every
        checkpoint (one row per model and step).
    level : float, default=0.95
        Confidence level of the interval for the between-run standard deviation.

    Returns
    -------
    DataFrame
        One row per (family, task, metric, model[, step]) with ``params``, ``step``, ``n_runs``,
        ``n_items``, ``mean`` (over runs), ``var_between``, ``sd_between`` with ``sd_between_lo``
        and ``sd_between_hi``, ``var_item``, ``se_item`` (its square root), ``share_between``
        and ``ratio`` (``var_between / var_item``). Sizes with one run have NaN between-run
        columns; a size where every run scores every item the same has ``share_between`` NaN
        (0 / 0).

    Raises
    ------
    ValueError
        The table has no ``run`` column, or no per-item rows.
    """
    if "run" not in table.columns:
        raise ValueError("run_variance needs a 'run' column (one label per training run).")
    df = table[table["item"].notna() & table["value"].notna()]
    if not len(df):
        raise ValueError("run_variance needs per-item rows with values.")
    df = df.assign(step=df["step"].astype("float64"))
    if step == "final":
        df = df[df["step"] == df.groupby("model")["step"].transform("max")]
    elif step is not None:
        df = df[df["step"] == float(step)]
    keys = [*_GROUP, "step"]
    per_run = (df.groupby([*keys, "run"], dropna=False, sort=True)["value"]
               .agg(run_mean="mean", run_var=lambda v: v.var(ddof=1), n="size")
               .reset_index())
    alpha = 1.0 - level
    rows = []
    for key, g in per_run.groupby(keys, dropna=False, sort=True):
        k = len(g)
        n = int(g["n"].min())
        var_b = float(g["run_mean"].var(ddof=1)) if k > 1 else np.nan
        var_i = float((g["run_var"] / g["n"]).mean())
        if k > 1:
            lo = np.sqrt((k - 1) * var_b / stats.chi2.ppf(1 - alpha / 2, k - 1))
            hi = np.sqrt((k - 1) * var_b / stats.chi2.ppf(alpha / 2, k - 1))
        else:
            lo = hi = np.nan
        tot = var_b + var_i
        rows.append({**dict(zip(keys, key, strict=True)), "n_runs": k, "n_items": n,
                     "mean": float(g["run_mean"].mean()), "var_between": var_b,
                     "sd_between": np.sqrt(var_b), "sd_between_lo": lo, "sd_between_hi": hi,
                     "var_item": var_i, "se_item": np.sqrt(var_i),
                     "share_between": var_b / tot if tot > 0 else np.nan,
                     "ratio": var_b / var_i if var_i > 0 else np.nan})
    out = pd.DataFrame(rows)
    params = df.drop_duplicates("model").set_index("model")["params"]
    out.insert(4, "params", out["model"].map(params).astype("float64"))
    out["step"] = out["step"].astype("Int64")
    return out.sort_values(["family", "task", "metric", "params", "step"],
                           kind="mergesort").reset_index(drop=True)


def pooled_run_variance(rv: pd.DataFrame) -> pd.DataFrame:
    """Pool :func:`run_variance` rows over sizes: one row per (family, task, metric).

    ``var_between`` and ``var_item`` are averaged over the sizes that have both (equal weight
    per size); ``share_between`` and ``ratio`` are recomputed from the averages. Sizes with a
    degenerate score (every run and item the same, ``share_between`` NaN) are left out and
    counted in ``n_degenerate``.

    Examples
    --------
    >>> import pandas as pd
    >>> rv = pd.DataFrame({"family": "f", "task": "t", "metric": "acc",
    ...                    "var_between": [0.01, 0.03, 0.0], "var_item": [0.01, 0.01, 0.0],
    ...                    "share_between": [0.5, 0.75, float("nan")]})
    >>> p = pooled_run_variance(rv).iloc[0]
    >>> int(p["n_sizes"]), int(p["n_degenerate"]), round(float(p["share_between"]), 4)
    (2, 1, 0.6667)
    """
    rows = []
    for key, g in rv.groupby(["family", "task", "metric"], sort=True):
        ok = g[g["share_between"].notna()]
        vb = float(ok["var_between"].mean()) if len(ok) else np.nan
        vi = float(ok["var_item"].mean()) if len(ok) else np.nan
        rows.append({"family": key[0], "task": key[1], "metric": key[2], "n_sizes": len(ok),
                     "n_degenerate": int(len(g) - len(ok)), "var_between": vb, "var_item": vi,
                     "share_between": vb / (vb + vi) if len(ok) and vb + vi > 0 else np.nan,
                     "ratio": vb / vi if len(ok) and vi > 0 else np.nan})
    return pd.DataFrame(rows)
