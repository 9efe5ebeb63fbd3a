"""Every Eval Ever (EvalEval coalition) interchange format: read and write.

The ``every-eval-ever`` package is not on PyPI (its repository ``evaleval/every_eval_ever`` needs
Python >= 3.12), so this module implements the published JSON schemas directly, version 0.3.0:
``eval.schema.json`` (one aggregate JSON per evaluation run of one model) and
``instance_level_eval.schema.json`` (a companion ``<uuid>_samples.jsonl``, one line per sample and
aggregate result). Files live at ``data/<collection>/<developer>/<model>/<uuid>.json``.

Reading (:func:`read_eee`) gives the tidy table: ``model`` = ``model_info.id``, ``task`` =
``evaluation_name``, ``metric`` = ``metric_config.metric_id`` (else ``metric_name``, else the
metric named in ``evaluation_description`` as the lm-eval converter writes it, e.g. ``acc
(filter: strict-match)`` -> ``acc,strict-match``), ``value`` = ``score_details.score``,
``stderr`` and ``n_items`` from ``uncertainty``, ``shots`` from
``generation_config.additional_details.num_fewshot``; scale and replicate columns from
``model_info.additional_details`` (``params``, ``params_billions``, ``tokens``, ``flops``,
``step``, ``revision``, ``family``, ``run``). Companion instance files add per-item rows
(``sample_id``, ``evaluation.score``). The metric facts a file declares (``lower_is_better``,
``min_score``, ``max_score``) are returned in ``attrs["metric_facts"]``.

Writing (:func:`write_eee`) turns a tidy table into those files, one aggregate JSON per (family,
model, step, run) with one result per (task, shots, metric) and, for per-item rows, the
instance-level JSONL; reading them back gives the same table.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._exceptions import DataExclusionWarning, FormatError
from ..registry import MetricFacts, check_metrics
from ..schema import validate
from ._files import Head, iter_jsonl, load_json, read_head
from ._paths import expand_paths

__all__ = ["read_eee", "write_eee", "is_eee_file", "is_eee_head", "SCHEMA_VERSION"]

#: Version of the Every Eval Ever schema written (and the newest read).
SCHEMA_VERSION = "0.3.0"

_MODEL_DETAILS = ("family", "params", "nonembedding_params", "active_params", "tokens", "flops",
                  "step", "revision", "run")


def is_eee_head(head: Head) -> bool:
    """True for an Every Eval Ever aggregate JSON or instance JSONL (by the keys in its head)."""
    if head.suffix == ".json":
        return head.has("schema_version", "evaluation_id") and (
            head.has("evaluation_results") or head.has("source_metadata"))
    if head.suffix == ".jsonl":
        return head.has("schema_version", "sample_id", "interaction_type")
    return False


def is_eee_file(path: str | Path) -> bool:
    """True for an Every Eval Ever aggregate JSON or instance JSONL (by its first keys)."""
    try:
        return is_eee_head(read_head(path, 4096))
    except (OSError, FormatError):
        return False


def _num(v: Any) -> float:
    if isinstance(v, bool) or v is None:
        return float("nan")
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(str(v).replace("Infinity", "inf"))
    except ValueError:
        return float("nan")


_DESC = re.compile(r"^(?P<metric>[A-Za-z0-9_@.\-]+)(?: \(filter: (?P<filter>[^)]+)\))?$")


def _metric_of(res: dict[str, Any]) -> tuple[str, str | None]:
    mc = res.get("metric_config") or {}
    for key in ("metric_id", "metric_name"):
        if mc.get(key):
            return str(mc[key]), None
    desc = str(mc.get("evaluation_description") or "")
    m = _DESC.match(desc)
    if m:
        filt = m.group("filter")
        return (m.group("metric") + (f",{filt}" if filt and filt != "none" else "")), filt
    return "score", None


def _aggregate_rows(f: Path, data: dict[str, Any]) -> tuple[list[dict], dict, dict]:
    mi = data.get("model_info") if isinstance(data.get("model_info"), dict) else {}
    det = mi.get("additional_details") if isinstance(mi.get("additional_details"), dict) else {}
    model = mi.get("id") or mi.get("name")
    base: dict[str, Any] = {"model": model}
    for k in _MODEL_DETAILS:
        if det.get(k) not in (None, ""):
            base[k] = det[k]
    if "params" not in base and det.get("params_billions") not in (None, ""):
        base["params"] = _num(det["params_billions"]) * 1e9
    results = data.get("evaluation_results")
    if not isinstance(results, list):
        raise FormatError(f"{f}: 'evaluation_results' is not a list.")
    rows, facts, by_id = [], {}, {}
    for i, res in enumerate(results):
        if not isinstance(res, dict):
            raise FormatError(f"{f}:evaluation_results[{i}] is not an object.")
        metric, filt = _metric_of(res)
        task = str(res.get("evaluation_name"))
        if filt and task.endswith(f"/{filt}"):
            task = task[: -len(filt) - 1]
        sd = res.get("score_details") if isinstance(res.get("score_details"), dict) else {}
        unc = sd.get("uncertainty") if isinstance(sd.get("uncertainty"), dict) else {}
        se = unc.get("standard_error") if isinstance(unc.get("standard_error"), dict) else {}
        gen = res.get("generation_config") if isinstance(res.get("generation_config"),
                                                          dict) else {}
        gdet = gen.get("additional_details") if isinstance(gen.get("additional_details"),
                                                           dict) else {}
        row = dict(base, task=task, metric=metric, value=_num(sd.get("score")),
                   stderr=_num(se.get("value")), n_items=unc.get("num_samples"),
                   shots=gdet.get("num_fewshot"), source=f"{f}:evaluation_results[{i}]")
        details = sd.get("details") if isinstance(sd.get("details"), dict) else {}
        if details.get("note"):
            row["note"] = details["note"]
        rows.append(row)
        mc = res.get("metric_config") or {}
        facts[metric] = {"higher_is_better": not bool(mc.get("lower_is_better", False)),
                         "lower": _num(mc.get("min_score")), "upper": _num(mc.get("max_score"))}
        rid = res.get("evaluation_result_id") or task
        by_id[str(rid)] = row
    return rows, facts, by_id


def _instance_rows(f: Path, by_id: dict[str, dict], base: dict[str, Any]) -> list[dict]:
    rows = []
    for ln, obj in iter_jsonl(f):
        if not isinstance(obj, dict):
            raise FormatError(f"{f}: line {ln} is not a JSON object.")
        ev = obj.get("evaluation") if isinstance(obj.get("evaluation"), dict) else {}
        key = str(obj.get("evaluation_result_id") or obj.get("evaluation_name"))
        agg = by_id.get(key)
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        row = dict(agg or base, item=str(obj.get("sample_id")), value=_num(ev.get("score")),
                   stderr=np.nan, n_items=None, source=f"{f}:{ln}")
        row.pop("note", None)
        if agg is None:
            row.update(model=obj.get("model_id"), task=obj.get("evaluation_name"),
                       metric="score")
        for k in ("target_tokens", "n_choices", "note", "run"):
            if meta.get(k) not in (None, ""):
                row[k] = meta[k]
        rows.append(row)
    return rows


def read_eee(paths: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """Read Every Eval Ever aggregate JSON files (and their instance JSONL) into the tidy table.

    Parameters
    ----------
    paths : path or list of paths
        Aggregate ``<uuid>.json`` files, instance ``<uuid>_samples.jsonl`` files, or folders.

    Returns
    -------
    DataFrame
        Tidy table (:mod:`emergence.schema`): aggregate rows (``item`` NA) and per-item rows from
        instance files; ``attrs["metric_facts"]`` maps each metric to the direction and bounds
        the file declares.

    Raises
    ------
    FormatError
        A file that is not Every Eval Ever data; the message names the file.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> t = pd.DataFrame({"model": ["m1", "m2"], "task": "t", "metric": "acc",
    ...                   "value": [0.25, 0.5], "params": [1e8, 1e9]})
    >>> _ = write_eee(t, d, retrieved_timestamp="1700000000")
    >>> read_eee(d).sort_values("model")[["model", "value", "params"]].to_dict("list")
    {'model': ['m1', 'm2'], 'value': [0.25, 0.5], 'params': [100000000.0, 1000000000.0]}
    """
    files = expand_paths(paths, is_eee_file, "Every Eval Ever .json/.jsonl")
    rows: list[dict] = []
    facts: dict[str, dict] = {}
    done: set[Path] = set()
    for f in files:
        if f.suffix != ".json":
            continue
        data = load_json(f)
        if not isinstance(data, dict) or "evaluation_results" not in data:
            raise FormatError(f"{f}: not an Every Eval Ever aggregate file (no "
                              "'evaluation_results').")
        agg, fct, by_id = _aggregate_rows(f, data)
        rows.extend(agg)
        facts.update(fct)
        dr = data.get("detailed_evaluation_results")
        if isinstance(dr, dict) and dr.get("file_path"):
            inst = f.parent / Path(str(dr["file_path"])).name
            if inst.exists():
                rows.extend(_instance_rows(inst, by_id, {"model": agg[0]["model"]} if agg
                                           else {}))
                done.add(inst.resolve())
    for f in files:
        if f.suffix == ".jsonl" and f.resolve() not in done:
            rows.extend(_instance_rows(f, {}, {}))
    if not rows:
        raise FormatError(f"{files[0]}: no evaluation results in the Every Eval Ever files.")
    out = validate(pd.DataFrame(rows))
    out.attrs["metric_facts"] = facts
    return out


def _s(v: Any) -> str | None:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return str(v)


def _bound(x: float) -> float | str:
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return float(x)


def _uuid4_of(text: str) -> str:
    return str(uuid.UUID(bytes=hashlib.sha256(text.encode("utf-8")).digest()[:16], version=4))


def _slug(s: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", s).strip("_") or "unknown"


def write_eee(
    table: pd.DataFrame,
    out_dir: str | Path,
    *,
    collection: str = "emergence",
    source_organization: str = "unknown",
    evaluator_relationship: str = "third_party",
    retrieved_timestamp: str | None = None,
    metric_facts: MetricFacts | None = None,
) -> list[Path]:
    """Write a tidy table as Every Eval Ever files (schema 0.3.0).

    Parameters
    ----------
    table : DataFrame
        Tidy table (validated here).
    out_dir : path
        Root folder; files go to ``out_dir/data/<collection>/<developer>/<model>/``, where the
        developer is the family (``unknown`` without one).
    collection, source_organization, evaluator_relationship : str
        ``source_metadata`` fields (``evaluator_relationship``: ``first_party``,
        ``third_party``, ``collaborative`` or ``other``).
    retrieved_timestamp : str, optional
        Unix time written as ``retrieved_timestamp`` (default: now); file names are a hash of
        the evaluation id, so the same table and timestamp give the same files.
    metric_facts : mapping, optional
        Facts (direction, bounds) of metrics the built-in registry does not know, as in
        :func:`emergence.curves.extract_curves`; the files state them.

    Returns
    -------
    list of Path
        The files written (aggregate JSON, then instance JSONL where there are per-item rows).

    Notes
    -----
    Per-item rows become one aggregate result per (task, shots, metric) whose score is the mean
    over items with a value, plus one instance line per item; rows with NaN value are not
    written as instances (the schema has no missing score) and are counted in the aggregate's
    ``score_details.details`` (``nan_items``) and in a :class:`~emergence.DataExclusionWarning`.
    Aggregate rows with NaN value are left out and counted the same way.
    """
    if evaluator_relationship not in ("first_party", "third_party", "collaborative", "other"):
        raise ValueError("`evaluator_relationship` must be first_party, third_party, "
                         f"collaborative or other; got {evaluator_relationship!r}.")
    df = validate(table, metric_facts=metric_facts)
    infos = check_metrics(df["metric"].astype(str).unique(), metric_facts, function="write_eee")
    ts = retrieved_timestamp or f"{time.time():.0f}"
    out_dir = Path(out_dir)
    written: list[Path] = []
    skipped = 0
    group = ["family", "model", "step", "run"]
    for key, g in df.groupby(group, dropna=False, sort=True):
        fam, model, step, run = (None if pd.isna(k) else k for k in key)
        details = {"deployment_type": "unknown", "model_availability": "unknown"}
        first = g.iloc[0]
        for c in ("params", "nonembedding_params", "active_params", "tokens", "flops",
                  "revision"):
            v = _s(first[c])
            if v is not None:
                details[c] = v
        for c, v in (("family", fam), ("step", step), ("run", run)):
            if _s(v) is not None:
                details[c] = _s(v)
        suffix = "".join(f"/{k}={v}" for k, v in (("step", step), ("run", run)) if v is not None)
        eval_id = f"{collection}/{model}{suffix}/{ts}"
        uid = _uuid4_of(eval_id)
        folder = out_dir / "data" / _slug(collection) / _slug(fam or "unknown") / _slug(model)
        folder.mkdir(parents=True, exist_ok=True)
        results, lines = [], []
        for (task, shots, metric), r in g.groupby(["task", "shots", "metric"], dropna=False,
                                                  sort=True):
            info = infos[str(metric)]
            items = r[r["item"].notna()]
            aggs = r[r["item"].isna()]
            rid = f"{task}|{'' if pd.isna(shots) else int(shots)}|{metric}"
            ok_items = items[items["value"].notna()]
            nan_items = len(items) - len(ok_items)
            res_details: dict[str, str] = {}
            if len(items):
                score = float(ok_items["value"].mean()) if len(ok_items) else float("nan")
                se = float(ok_items["value"].std(ddof=1) / math.sqrt(len(ok_items))) \
                    if len(ok_items) > 1 else float("nan")
                n = len(ok_items)
                if nan_items:
                    res_details["nan_items"] = str(nan_items)
                    skipped += nan_items
            else:
                a = aggs.iloc[0]
                score, se = float(a["value"]), float(a["stderr"])
                n = None if pd.isna(a["n_items"]) else int(a["n_items"])
                if isinstance(a["note"], str):
                    res_details["note"] = a["note"]
            if math.isnan(score):
                skipped += len(aggs) if not len(items) else 0
                continue
            unc: dict[str, Any] = {}
            if not math.isnan(se):
                unc["standard_error"] = {"value": se, "method": "analytic" if len(items)
                                         else "reported"}
            if n is not None:
                unc["num_samples"] = n
            mc: dict[str, Any] = {"metric_id": str(metric), "metric_name": str(metric),
                                  "lower_is_better": not info.higher_is_better,
                                  "score_type": "continuous", "min_score": _bound(info.lower),
                                  "max_score": _bound(info.upper),
                                  "additional_details": {"kind": info.kind}}
            if info.is_proportion:
                mc["metric_unit"] = "proportion"
            res: dict[str, Any] = {
                "evaluation_result_id": rid,
                "evaluation_name": str(task),
                "source_data": {"dataset_name": str(task), "source_type": "other"},
                "metric_config": mc,
                "score_details": {"score": score, **({"uncertainty": unc} if unc else {}),
                                  **({"details": res_details} if res_details else {})},
            }
            if not pd.isna(shots):
                res["generation_config"] = {"additional_details": {"num_fewshot": str(int(shots))}}
            results.append(res)
            for it in ok_items.itertuples(index=False):
                meta = {k: _s(getattr(it, k)) for k in ("target_tokens", "n_choices", "note")
                        if _s(getattr(it, k)) is not None}
                lines.append({
                    "schema_version": SCHEMA_VERSION, "evaluation_id": eval_id,
                    "model_id": str(model), "evaluation_name": str(task),
                    "evaluation_result_id": rid, "sample_id": str(it.item),
                    "interaction_type": "single_turn", "input": {"raw": "", "reference": []},
                    "output": {"raw": []}, "answer_attribution": [],
                    "evaluation": {"score": float(it.value),
                                   "is_correct": bool(info.is_proportion and it.value == 1.0)},
                    **({"metadata": meta} if meta else {}),
                })
        log: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "evaluation_id": eval_id,
            "retrieved_timestamp": ts,
            "source_metadata": {"source_name": collection, "source_type": "evaluation_run",
                                "source_organization_name": source_organization,
                                "evaluator_relationship": evaluator_relationship},
            "eval_library": {"name": "emergence", "version": _version()},
            "model_info": {"name": str(model), "id": str(model),
                           **({"developer": str(fam)} if fam else {}),
                           "additional_details": details},
            "evaluation_results": results,
        }
        agg_path = folder / f"{uid}.json"
        if lines:
            inst = folder / f"{uid}_samples.jsonl"
            text = "".join(json.dumps(x, ensure_ascii=False, allow_nan=False) + "\n"
                           for x in lines)
            inst.write_text(text, encoding="utf-8")
            rel = f"data/{_slug(collection)}/{_slug(fam or 'unknown')}/{_slug(model)}/{inst.name}"
            log["detailed_evaluation_results"] = {
                "format": "jsonl", "file_path": rel, "hash_algorithm": "sha256",
                "checksum": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                "total_rows": len(lines)}
        agg_path.write_text(json.dumps(log, indent=2, ensure_ascii=False, allow_nan=False) + "\n",
                            encoding="utf-8")
        written.append(agg_path)
        if lines:
            written.append(folder / f"{uid}_samples.jsonl")
    if skipped:
        warnings.warn(f"{skipped} rows with no value (NaN) are not written as scores; they are "
                      "counted in the results' score_details.details (nan_items).",
                      DataExclusionWarning, stacklevel=2)
    return written


def _version() -> str:
    from .._version import __version__

    return str(__version__)
