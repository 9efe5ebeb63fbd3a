"""BIG-bench ``full-log_<family>_<model>.json`` (written with ``--log_queries``) -> records.

A results file is ``{"task": {"task_name"}, "model": ModelData, "scores": [...], "queries":
[Query]}`` (``bigbench/api/results.py``). Queries are read by their ``function``:

- ``generate_text``: each sample has ``input``, ``output`` (after BIG-bench's stop string and
  ``output_regex`` post-processing) and ``targets`` (a dict ``{target: {metric: score}}`` or a
  list) -> ``generate_until`` records; BIG-bench's ``exact_str_match`` is
  ``exact_match(normalize="none")`` on these.
- ``cond_log_prob`` with ``target_values`` -> ``multiple_choice`` records. ``absolute_scores`` are
  log P(choice | input) in nats, ``normalized_scores = absolute - logsumexp(absolute)``; the field
  ``scores`` holds one of the two depending on ``absolute_normalization``. Choice
  log-likelihoods come from ``absolute_scores`` when present (so ``p_vocab`` is a probability over
  the vocabulary), else from ``scores`` (then ``note`` says which). The gold choice is the first
  with the highest target value.
- ``cond_log_prob`` without ``target_values`` (a scoring query) -> ``loglikelihood`` records of
  the first target.

Scale columns come from ``ModelData``: ``params = total_params``, ``nonembedding_params =
non_embedding_params`` (also ``flop_matched_non_embedding_params``, the axis BIG-bench plots).
Items are numbered by position within each (subtask, shots, query function); BIG-bench logs no
example ids, so the same examples must appear in the same order for every model (they do for
JSON tasks).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .._exceptions import FormatError
from ._files import load_json
from ._paths import expand_paths
from .records import validate_records

__all__ = ["load_full_log"]


def _targets(sample: dict[str, Any]) -> list[str]:
    t = sample.get("targets")
    if isinstance(t, dict):
        return [str(k) for k in t]
    if isinstance(t, (list, tuple)):
        return [str(x) for x in t]
    if isinstance(t, str):
        return [t]
    if "target" in sample:
        tt = sample["target"]
        return [str(x) for x in tt] if isinstance(tt, list) else [str(tt)]
    return []


def load_full_log(
    paths: str | Path | Sequence[str | Path],
    *,
    scores: str = "absolute",
) -> pd.DataFrame:
    """Read BIG-bench ``full-log_*.json`` files into per-item records.

    Parameters
    ----------
    paths : path or list of paths
        ``full-log_*.json`` files, or folders searched recursively for them.
    scores : {"absolute", "normalized"}, default="absolute"
        Which log-probabilities of ``cond_log_prob`` queries become ``choice_loglik``:
        ``absolute`` log P(choice | input) (needed for ``p_vocab`` and ``target_loglik``) or
        ``normalized`` (log-probabilities renormalised over the choices). Choice-renormalised
        metrics (``p_choices``, ``brier_score``, ``multiple_choice_grade``) are the same for both.

    Returns
    -------
    DataFrame
        Records with extra columns ``family`` (``model_family``), ``nonembedding_params`` and
        ``flop_matched_non_embedding_params``, ``input`` and ``note``.

    Raises
    ------
    FormatError
        Not a BIG-bench results file, no logged queries (run with ``--log_queries``), or samples
        without the fields their query type needs; the message names file and query.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> log = {"task": {"task_name": "arith"},
    ...        "model": {"model_family": "BIG-G T=0", "model_name": "2m", "total_params": 2e6,
    ...                  "non_embedding_params": 1.7e6, "flop_matched_non_embedding_params": 1.7e6},
    ...        "scores": [],
    ...        "queries": [{"function": "cond_log_prob", "absolute_normalization": False, "shots": 0,
    ...                     "task": "arith:add", "samples": [{"input": "1+1=", "targets": ["2", "3"],
    ...                     "scores": [-0.1, -2.4], "absolute_scores": [-1.0, -3.3],
    ...                     "normalized_scores": [-0.1, -2.4], "target_values": {"2": 1, "3": 0}}]}]}
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "full-log_BIG-G_T_0_2m.json"
    >>> _ = p.write_text(json.dumps(log))
    >>> rec = load_full_log(p)
    >>> rec[["model", "task", "output_type", "gold", "target_loglik"]].to_dict("records")
    [{'model': '2m', 'task': 'arith:add', 'output_type': 'multiple_choice', 'gold': 0, 'target_loglik': -1.0}]
    """
    if scores not in ("absolute", "normalized"):
        raise ValueError(f"`scores` must be 'absolute' or 'normalized'; got {scores!r}.")
    files = expand_paths(paths, lambda f: f.name.startswith("full-log_") and f.suffix == ".json",
                         "full-log_*.json", " (BIG-bench --log_queries)")
    rows: list[dict[str, Any]] = []
    for f in files:
        data = load_json(f)
        if not isinstance(data, dict) or "model" not in data or "task" not in data:
            raise FormatError(
                f"{f}: not a BIG-bench results file (expected keys 'task', 'model', 'scores', "
                "'queries')."
            )
        queries = data.get("queries")
        if not queries:
            raise FormatError(
                f"{f}: no logged queries; BIG-bench writes them only with --log_queries "
                "(scores_*.json files hold aggregates only)."
            )
        md = data["model"] or {}
        task_name = (data.get("task") or {}).get("task_name")
        base = {
            "model": md.get("model_name"),
            "family": md.get("model_family"),
            "params": md.get("total_params"),
            "nonembedding_params": md.get("non_embedding_params"),
            "flop_matched_non_embedding_params": md.get("flop_matched_non_embedding_params"),
        }
        for qi, q in enumerate(queries):
            fn = q.get("function")
            task = q.get("task") or task_name
            shots = q.get("shots")
            samples = q.get("samples") or []
            for si, s in enumerate(samples):
                where = f"{f}:queries[{qi}].samples[{si}]"
                rec = dict(base, task=task, shots=shots, item=str(si), source=where,
                           input=s.get("input"))
                if fn == "generate_text":
                    tg = _targets(s)
                    if "output" not in s:
                        raise FormatError(f"{where}: generate_text sample without 'output'.")
                    rec.update(output_type="generate_until", prediction=s["output"],
                               target=tg[0] if tg else "", targets=tg if len(tg) > 1 else pd.NA)
                elif fn == "cond_log_prob":
                    tg = _targets(s)
                    key = "absolute_scores" if scores == "absolute" else "normalized_scores"
                    ll = s.get(key)
                    note = pd.NA
                    if ll is None:
                        ll = s.get("scores")
                        if ll is None:
                            raise FormatError(f"{where}: cond_log_prob sample without scores.")
                        kind = "normalized" if not q.get("absolute_normalization") else "absolute"
                        note = f"choice log-likelihoods from 'scores' ({kind})"
                    ll = [float(x) for x in ll]
                    if len(ll) != len(tg):
                        raise FormatError(f"{where}: {len(tg)} targets but {len(ll)} scores.")
                    tv = s.get("target_values")
                    if tv:
                        vals = [float(tv.get(t, float("-inf"))) for t in tg]
                        gold = vals.index(max(vals))
                        rec.update(output_type="multiple_choice", choices=tg, choice_loglik=ll,
                                   gold=gold, target=tg[gold], note=note)
                    else:
                        rec.update(output_type="loglikelihood", target=tg[0] if tg else "",
                                   target_loglik=ll[0] if ll else float("nan"), note=note)
                else:
                    raise FormatError(
                        f"{f}:queries[{qi}]: unknown query function {fn!r} (expected "
                        "'generate_text' or 'cond_log_prob')."
                    )
                rows.append(rec)
    return validate_records(pd.DataFrame(rows), name=str(files[0]) if len(files) == 1 else None)
