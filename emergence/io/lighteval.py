"""lighteval per-sample details (``details_<task>|<shots>_<date>.parquet``) -> per-item records.

lighteval (0.10 and later; ``src/lighteval/logging/evaluation_tracker.py``) writes one parquet
file per task under ``<output_dir>/details/<model_name>/<date_id>/``, one row per document with
three struct columns (sorted by name): ``doc`` (the ``Doc``: ``query``, ``choices``,
``gold_index``, ``id``, ``task_name``, ...), ``metric`` (the per-sample metric values, e.g.
``{"acc": 1.0}``) and ``model_response`` (the ``ModelResponse``: ``text``, ``logprobs``,
``argmax_logits_eq_gold``, ``input_tokens``, ``output_tokens``, ...). The aggregate results are
in ``<output_dir>/results/<model_name>/results_<date_id>.json`` (``results``: ``"<task>|<shots>"``
-> ``{metric: value, metric_stderr: value}``; :func:`lighteval_scores` reads them).

A row becomes:

- ``multiple_choice`` when ``model_response.logprobs`` holds one log-likelihood per choice
  (lighteval's loglikelihood tasks): ``gold`` = the first gold index, ``choice_values`` = 1 for
  every gold index (lighteval counts a prediction right when it is any of them); lighteval's
  ``acc`` is the first-maximum argmax, as here;
- ``generate_until`` otherwise: ``prediction`` = the first generated text (post-processed when
  lighteval stored it), targets = the gold choices; rows scored with lighteval's ``em`` state its
  rule, ``normalize="strip"`` (``ExactMatches(strip_strings=True)``).

``item`` is ``doc.id`` when set, else the row number; ``shots`` comes from the file name; the
per-sample metrics are kept in ``harness_scores``. Parquet files are read with pandas (pyarrow).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._exceptions import FormatError
from ._common import per_model, records_frame
from ._files import Head, load_json
from ._paths import expand_paths

__all__ = ["read_lighteval", "lighteval_scores", "is_lighteval_details", "is_lighteval_results"]

_NAME = re.compile(r"^details_(?P<task>.+)\|(?P<shots>\d+)_(?P<date>\d{4}-\d{2}-\d{2}T[\d\-.]+)"
                   r"\.parquet$")


def is_lighteval_details(path: str | Path) -> bool:
    """True for a file named like lighteval's ``details_<task>|<shots>_<date>.parquet``."""
    return bool(_NAME.match(Path(path).name))


def is_lighteval_results(head: Head) -> bool:
    """True for lighteval's aggregate ``results_<date>.json`` (a ``config_general`` object and
    ``results`` in its head); :func:`lighteval_scores` reads it."""
    return head.suffix == ".json" and head.first_char == "{" and head.has("config_general",
                                                                          "results")


def _list(v: Any) -> list[Any]:
    if v is None:
        return []
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (list, tuple)):
        return list(v)
    if isinstance(v, str):
        try:
            x = json.loads(v)
        except json.JSONDecodeError:
            return [v]
        return x if isinstance(x, list) else [x]
    return [v]


def _struct(v: Any, col: str, where: str) -> dict[str, Any]:
    if isinstance(v, Mapping):
        return dict(v)
    if isinstance(v, str):
        try:
            x = json.loads(v)
        except json.JSONDecodeError:
            x = None
        if isinstance(x, dict):
            return x
    raise FormatError(f"{where}: column '{col}' is not a struct (lighteval >= 0.10 details).")


def _numbers(d: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in d.items():
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            out[str(k)] = float(v)
    return out


def _model_of(f: Path) -> str:
    # <output_dir>/details/<model_name...>/<date_id>/details_*.parquet
    parts = f.parent.parts
    if "details" in parts:
        i = len(parts) - 1 - parts[::-1].index("details")
        name = "/".join(parts[i + 1:-1])
        if name:
            return name
    return f.parent.parent.name


def _record(doc: dict[str, Any], resp: dict[str, Any], where: str) -> dict[str, Any]:
    choices = [str(c) for c in _list(doc.get("choices"))]
    gold = [int(g) for g in _list(doc.get("gold_index"))]
    logprobs = _list(resp.get("logprobs"))
    text = _list(resp.get("text_post_processed")) or _list(resp.get("text"))
    if choices and len(logprobs) == len(choices) and len(choices) > 1 and not text:
        if not gold or not all(0 <= g < len(choices) for g in gold):
            raise FormatError(f"{where}: gold_index {gold} is not an index into the "
                              f"{len(choices)} choices")
        values = [1.0 if i in gold else 0.0 for i in range(len(choices))]
        return {"output_type": "multiple_choice", "choices": choices,
                "choice_loglik": [float(x) for x in logprobs], "gold": gold[0],
                "choice_values": values if len(gold) > 1 else pd.NA,
                "n_choices": len(choices)}
    targets = [choices[g] for g in gold if 0 <= g < len(choices)] or choices[:1]
    return {"output_type": "generate_until",
            "prediction": str(text[0]) if text else pd.NA,
            "target": targets[0] if targets else "",
            "targets": targets if len(targets) > 1 else pd.NA}


def read_lighteval(
    paths: str | Path | Sequence[str | Path],
    *,
    model: str | None = None,
    params: float | Mapping[str, float] | None = None,
    family: str | None = None,
) -> pd.DataFrame:
    """Read lighteval ``details_*.parquet`` files into per-item records.

    Parameters
    ----------
    paths : path or list of paths
        Details files, or folders (an ``output_dir``) searched recursively for them.
    model : str, optional
        Model name (default: the folder under ``details/``, i.e. lighteval's ``model_name``).
    params : float or mapping model -> float, optional
        Parameter count per model.
    family : str, optional
        Model family of every record.

    Returns
    -------
    DataFrame
        Records (:mod:`emergence.records`) with extra columns ``input`` (``doc.query``) and
        ``harness_scores`` (lighteval's per-sample metrics).

    Raises
    ------
    FormatError
        A file that is not lighteval details (no ``doc``/``model_response`` columns); the
        message names the file. A row with a bad value is flagged (``invalid``), not fatal.

    Examples
    --------
    >>> from emergence.io.lighteval import is_lighteval_details
    >>> is_lighteval_details("details_arc:challenge|25_2025-11-05T14-43-47.148527.parquet")
    True
    """
    files = expand_paths(paths, is_lighteval_details, "lighteval details_*.parquet")
    rows: list[dict[str, Any]] = []
    for f in files:
        m = _NAME.match(f.name)
        if m is None:
            raise FormatError(f"{f}: not named like lighteval details "
                              "(details_<task>|<shots>_<date>.parquet).")
        try:
            df = pd.read_parquet(f)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types
            raise FormatError(f"{f}: could not be read as parquet ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:160]}).") from None
        missing = [c for c in ("doc", "model_response") if c not in df.columns]
        if missing:
            raise FormatError(
                f"{f}: no column(s) {missing}; lighteval >= 0.10 details have struct columns "
                f"doc, metric and model_response (found {list(df.columns)[:10]}).")
        name = model or _model_of(f)
        task, shots = m.group("task"), int(m.group("shots"))
        pv = per_model(params, name)
        for i, row in enumerate(df.itertuples(index=False)):
            where = f"{f}:row {i + 1}"
            base = {"family": family, "model": name, "task": task, "shots": shots,
                    "params": pv, "source": where}
            try:
                doc = _struct(row.doc, "doc", where)
                resp = _struct(row.model_response, "model_response", where)
                rec = _record(doc, resp, where)
                item = str(doc.get("id") or i)
                metric = _numbers(_struct(row.metric, "metric", where)) \
                    if "metric" in df.columns and row.metric is not None else {}
                rec.update(base, item=item, input=doc.get("query"),
                           harness_scores=metric or pd.NA)
                if rec["output_type"] == "generate_until" and "em" in metric:
                    # lighteval's exact_match ("em"): ExactMatches(strip_strings=True)
                    rec["normalize"] = "strip"
            except (FormatError, TypeError, ValueError) as exc:
                rec = dict(base, item=str(i), output_type="generate_until",
                           invalid=str(exc).split(": ", 1)[-1][:200])
            rows.append(rec)
    return records_frame(rows, files, "rows in the lighteval details")


def lighteval_scores(paths: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """lighteval's own aggregates from ``results_<date>.json`` files.

    One row per (model, task, shots, metric) with ``value`` and ``stderr`` (from
    ``<metric>_stderr``); the task key (``"<task>|<shots>"``, written ``"<task>:<shots>"`` in the
    results file) is split. The ``all`` entry (mean over tasks) is left out.
    """
    files = expand_paths(paths, lambda f: f.name.startswith("results_") and f.suffix == ".json",
                         "lighteval results_*.json")
    rows = []
    for f in files:
        data = load_json(f)
        if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
            raise FormatError(f"{f}: not a lighteval results file (no 'results' mapping).")
        cfg = data.get("config_general") if isinstance(data.get("config_general"), dict) else {}
        name = cfg.get("model_name") or f.parent.name
        for key, metrics in data["results"].items():
            if key == "all" or not isinstance(metrics, dict):
                continue
            # lighteval writes "<task>|<shots>" keys with "|" replaced by ":" in results files
            km = re.match(r"^(?P<task>.+)[|:](?P<shots>\d+)$", str(key))
            task, shots = (km.group("task"), km.group("shots")) if km else (str(key), "")
            for metric, v in metrics.items():
                if metric.endswith("_stderr") or not isinstance(v, (int, float)):
                    continue
                se = metrics.get(f"{metric}_stderr")
                rows.append({"model": name, "task": task,
                             "shots": int(shots) if str(shots).isdigit() else None,
                             "metric": metric, "value": float(v),
                             "stderr": float(se) if isinstance(se, (int, float)) else np.nan,
                             "source": str(f)})
    out = pd.DataFrame(rows, columns=["model", "task", "shots", "metric", "value", "stderr",
                                      "source"])
    out["shots"] = out["shots"].astype("Int64")
    return out
