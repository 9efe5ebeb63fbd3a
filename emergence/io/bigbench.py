"""BIG-bench ``full-log_<family>_<model>.json`` (written with ``--log_queries``) -> records.

A results file is ``{"task": {"task_name"}, "model": ModelData, "scores": [ScoreData], "queries":
[Query]}`` (``bigbench/api/results.py``). Queries are read by their ``function``:

- ``generate_text``: each sample has ``input``, ``output`` (after BIG-bench's stop string and
  ``output_regex`` post-processing) and ``targets`` (a dict ``{target: {metric: score}}``, a list,
  or a single string) -> ``generate_until`` records. BIG-bench's ``exact_str_match`` is
  ``output in targets`` with no normalisation, so the records state ``normalize="none"`` and
  :func:`emergence.scoring.rescore` applies it by default.
- ``cond_log_prob`` with ``target_values`` -> ``multiple_choice`` records. ``absolute_scores``
  are log P(choice | input) in nats, ``normalized_scores = absolute - logsumexp(absolute)``; the
  field ``scores`` holds one of the two depending on ``absolute_normalization``. Choice
  log-likelihoods come from ``absolute_scores`` when present (so ``p_vocab`` is a probability over
  the vocabulary), else from ``scores`` (then ``note`` says which). BIG-bench grades an item by
  the target score of the choice with the highest ``scores`` (``target_scores[choice]``:
  fractional, several choices can score 1), ties broken by a hash of the scores; the records
  carry all three (``choice_values``, ``rank_loglik``, ``tie_break="bigbench"``) so the
  re-scored ``multiple_choice_grade`` is BIG-bench's own. ``gold`` is the first choice with the
  highest target value (used by ``p_choices`` and ``brier_score``). The logged item-level
  ``correct`` is kept in ``harness_scores``.
- ``cond_log_prob`` without ``target_values`` (a scoring query) -> ``loglikelihood`` records of
  the target (of the first target, with a note, when several are listed).

Programmatic tasks log raw queries (no ``shots``, no ``task``, no targets for generations, no
target values for choices): generations without a target are kept (re-scored NaN, "empty
target"); choice queries without target values cannot be graded and are counted in
``attrs["skipped"]`` with a :class:`~emergence.DataExclusionWarning`.

Each record carries ``family`` (``model_family``: BIG-G T=0, BIG-G T=1 and BIG-G sparse all name
their sizes 2m ... 128b) and ``shots`` (JSON tasks log shots 0, 1, 2 and 3 by default), which
are part of the record key. Scale columns come from ``ModelData``: ``params = total_params``,
``nonembedding_params = non_embedding_params`` (also ``flop_matched_non_embedding_params``, the
axis BIG-bench plots).

Items: BIG-bench logs no example ids. An item id is a short hash of the sample's ``input`` and
targets, so the same example matches across models and families even when the number of queries
differs between models or shot counts use different samples; an example that appears twice in
one query list gets ``~2``, ``~3`` appended.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .._exceptions import DataExclusionWarning, FormatError
from ..records import validate_records
from ._files import Head, guarded, load_json, now_reading
from ._paths import expand_paths

__all__ = ["read_bigbench", "bigbench_scores", "is_full_log"]


def is_full_log(head: Head) -> bool:
    """True for a BIG-bench ``full-log_*.json`` (by its name, as BIG-bench writes it)."""
    return head.name.startswith("full-log_") and head.suffix == ".json"


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


def _item_id(inp: Any, targets: list[str]) -> str:
    text = json.dumps([str(inp), sorted(targets)], ensure_ascii=False)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def _floats(values: Any, where: str, what: str) -> list[float]:
    if not isinstance(values, (list, tuple)):
        raise FormatError(f"{where}: '{what}' is not a list of numbers.")
    try:
        return [float(x) for x in values]
    except (TypeError, ValueError):
        raise FormatError(f"{where}: '{what}' holds a value that is not a number.") from None


def _generated_em(targets: Any) -> float | None:
    """BIG-bench's own per-sample exact_str_match (max over its targets), when logged."""
    if not isinstance(targets, dict):
        return None
    vals = [v.get("exact_str_match") for v in targets.values() if isinstance(v, dict)]
    vals = [float(v) for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return max(vals) if vals else None


def _read_file(f: Path, scores: str) -> tuple[list[dict[str, Any]], int]:
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
    if not isinstance(queries, list):
        raise FormatError(f"{f}: 'queries' is not a list.")
    md = data["model"] if isinstance(data["model"], dict) else {}
    task_obj = data.get("task")
    task_name = task_obj.get("task_name") if isinstance(task_obj, dict) else None
    base = {
        "family": md.get("model_family"),
        "model": md.get("model_name"),
        "params": md.get("total_params"),
        "nonembedding_params": md.get("non_embedding_params"),
        "flop_matched_non_embedding_params": md.get("flop_matched_non_embedding_params"),
    }
    rows: list[dict[str, Any]] = []
    skipped = 0
    seen: dict[tuple[Any, ...], int] = {}
    for qi, q in enumerate(queries):
        if not isinstance(q, dict):
            raise FormatError(f"{f}:queries[{qi}]: a query is not a JSON object.")
        fn = q.get("function")
        if fn not in ("generate_text", "cond_log_prob"):
            raise FormatError(
                f"{f}:queries[{qi}]: unknown query function {fn!r} (expected "
                "'generate_text' or 'cond_log_prob')."
            )
        task = q.get("task") or task_name
        shots = q.get("shots")
        samples = q.get("samples") or []
        if not isinstance(samples, list):
            raise FormatError(f"{f}:queries[{qi}]: 'samples' is not a list.")
        for si, s in enumerate(samples):
            where = f"{f}:queries[{qi}].samples[{si}]"
            if not isinstance(s, dict):
                raise FormatError(f"{where}: a sample is not a JSON object.")
            tg = _targets(s)
            kind = "gen" if fn == "generate_text" else (
                "mc" if s.get("target_values") else "ll")
            item = _item_id(s.get("input"), tg)
            k = (task, shots, kind, item)
            seen[k] = seen.get(k, 0) + 1
            if seen[k] > 1:
                item = f"{item}~{seen[k]}"
            rec = dict(base, task=task, shots=shots, item=item, source=where,
                       input=s.get("input"))
            try:
                if kind == "gen":
                    rec.update(_generation(s, tg, where))
                elif kind == "mc":
                    rec.update(_choice(s, q, tg, where, scores))
                else:
                    part = _scoring(s, q, tg, where, scores)
                    if part is None:
                        skipped += 1
                        continue
                    rec.update(part)
            except FormatError as exc:
                msg = str(exc)
                rec.update(output_type={"gen": "generate_until", "mc": "multiple_choice"}.get(
                    kind, "loglikelihood"), invalid=msg.split(": ", 1)[-1])
            rows.append(rec)
    return rows, skipped


def _scoring_query(q: dict[str, Any], s: dict[str, Any]) -> bool:
    """A JSON task's scoring query (its samples carry absolute/normalized scores)."""
    return "absolute_scores" in s or "normalized_scores" in s or "shots" in q


def _generation(s: dict[str, Any], tg: list[str], where: str) -> dict[str, Any]:
    if "output" not in s:
        raise FormatError(f"{where}: generate_text sample without 'output'.")
    out = s["output"]
    rec: dict[str, Any] = {
        "output_type": "generate_until",
        "prediction": "" if out is None else str(out),
        "target": tg[0] if tg else "",
        "targets": tg if len(tg) > 1 else pd.NA,
        "normalize": "none",
    }
    em = _generated_em(s.get("targets"))
    rec["harness_scores"] = {"exact_str_match": em} if em is not None else pd.NA
    return rec


def _loglik(s: dict[str, Any], q: dict[str, Any], where: str,
            scores: str) -> tuple[list[float], Any]:
    key = "absolute_scores" if scores == "absolute" else "normalized_scores"
    ll = s.get(key)
    note: Any = pd.NA
    if ll is None:
        ll = s.get("scores")
        if ll is None:
            raise FormatError(f"{where}: cond_log_prob sample without scores.")
        kind = "normalized" if not q.get("absolute_normalization") else "absolute"
        note = f"choice log-likelihoods from 'scores' ({kind})"
    return _floats(ll, where, key if s.get(key) is not None else "scores"), note


def _choice(s: dict[str, Any], q: dict[str, Any], tg: list[str], where: str,
            scores: str) -> dict[str, Any]:
    ll, note = _loglik(s, q, where, scores)
    if len(ll) != len(tg):
        raise FormatError(f"{where}: {len(tg)} targets but {len(ll)} scores.")
    tv = s["target_values"]
    if not isinstance(tv, dict):
        raise FormatError(f"{where}: 'target_values' is not a mapping choice -> score.")
    try:
        vals = [float(tv.get(t, 0.0)) for t in tg]
    except (TypeError, ValueError):
        raise FormatError(f"{where}: 'target_values' holds a value that is not a number.") \
            from None
    gold = vals.index(max(vals))
    ranked = s.get("scores")
    ranked = _floats(ranked, where, "scores") if ranked is not None else ll
    if len(ranked) != len(tg):
        raise FormatError(f"{where}: {len(tg)} targets but {len(ranked)} 'scores'.")
    correct = s.get("correct")
    ok = isinstance(correct, (int, float)) and not isinstance(correct, bool) and math.isfinite(
        correct)
    return {
        "output_type": "multiple_choice",
        "choices": tg,
        "choice_loglik": ll,
        "gold": gold,
        "target": tg[gold],
        "choice_values": vals,
        "rank_loglik": ranked if ranked != ll else pd.NA,
        "tie_break": "bigbench",
        "note": note,
        "harness_scores": {"multiple_choice_grade": float(correct)} if ok else pd.NA,
    }


def _scoring(s: dict[str, Any], q: dict[str, Any], tg: list[str], where: str,
             scores: str) -> dict[str, Any] | None:
    if not tg:
        return None
    if len(tg) > 1 and not _scoring_query(q, s):
        return None  # a programmatic choice query: which choice is right is not logged
    ll, note = _loglik(s, q, where, scores)
    if not ll:
        raise FormatError(f"{where}: cond_log_prob sample with an empty score list.")
    if len(tg) > 1:
        note = (f"scoring query with {len(tg)} targets: log-likelihood of the first"
                if note is pd.NA else f"{note}; log-likelihood of the first of {len(tg)} targets")
    return {"output_type": "loglikelihood", "target": tg[0], "target_loglik": ll[0],
            "note": note}


@guarded("BIG-bench full log (full-log_*.json)")
def read_bigbench(
    paths: str | Path | Sequence[str | Path],
    *,
    scores: str = "absolute",
) -> pd.DataFrame:
    """Read BIG-bench ``full-log_*.json`` files into per-item records.

    Parameters
    ----------
    paths : path or list of paths
        ``full-log_*.json`` files, or folders searched recursively for them. Several families
        (BIG-G T=0, BIG-G sparse, ...) and any shot counts may be mixed.
    scores : {"absolute", "normalized"}, default="absolute"
        Which log-probabilities of ``cond_log_prob`` queries become ``choice_loglik``:
        ``absolute`` log P(choice | input) (needed for ``p_vocab`` and ``target_loglik``) or
        ``normalized`` (log-probabilities renormalised over the choices). Choice-renormalised
        metrics (``p_choices``, ``brier_score``) are the same for both, and
        ``multiple_choice_grade`` always ranks BIG-bench's own logged ``scores``.

    Returns
    -------
    DataFrame
        Records (:mod:`emergence.records`) with extra columns
        ``flop_matched_non_embedding_params``, ``nonembedding_params``, ``input``, ``note`` and
        ``harness_scores`` (BIG-bench's own per-item ``exact_str_match`` or ``correct``);
        ``attrs["skipped"]`` counts choice queries without target values (programmatic tasks).

    Raises
    ------
    FormatError
        Not a BIG-bench results file, no logged queries (run with ``--log_queries``), or a query
        of unknown function; the message names file and query. A sample with a corrupt value is
        kept and flagged (``invalid``), not an error.

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
    >>> rec = read_bigbench(p)
    >>> rec[["family", "model", "task", "shots", "output_type", "gold", "target_loglik"]].to_dict(
    ...     "records")  # doctest: +NORMALIZE_WHITESPACE
    [{'family': 'BIG-G T=0', 'model': '2m', 'task': 'arith:add', 'shots': 0,
      'output_type': 'multiple_choice', 'gold': 0, 'target_loglik': -1.0}]
    """
    if scores not in ("absolute", "normalized"):
        raise ValueError(f"`scores` must be 'absolute' or 'normalized'; got {scores!r}.")
    files = expand_paths(paths, lambda f: f.name.startswith("full-log_") and f.suffix == ".json",
                         "full-log_*.json", " (BIG-bench --log_queries)")
    rows: list[dict[str, Any]] = []
    skipped = 0
    for f in files:
        now_reading(f)
        r, k = _read_file(f, scores)
        rows.extend(r)
        skipped += k
    if not rows:
        raise FormatError(f"{files[0]}: no sample could be read as a record (choice queries "
                          "without target values cannot be graded).")
    now_reading(None)
    out = validate_records(pd.DataFrame(rows), name=str(files[0]) if len(files) == 1 else None)
    out.attrs["skipped"] = skipped
    if skipped:
        warnings.warn(
            f"{skipped} BIG-bench choice samples without target values (programmatic tasks log "
            "no correct choice) cannot be graded and were not read; they are counted in "
            "attrs['skipped'].",
            DataExclusionWarning,
            stacklevel=2,
        )
    return out


@guarded("BIG-bench results file (scores_*.json or full-log_*.json)")
def bigbench_scores(paths: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """BIG-bench's own aggregate scores (``scores[].score_dict``) of full-log or scores files.

    One row per (family, model, task = ``subtask_description``, shots = ``number_of_shots``,
    metric) with the value as logged (raw, in BIG-bench's own scale: ``exact_str_match`` and
    ``multiple_choice_grade`` in [0, 1]; ``normalized_aggregate_score`` in [0, 100]). This is the
    reference that re-scored per-item means are compared with.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> log = {"task": {"task_name": "t"}, "model": {"model_family": "F", "model_name": "m"},
    ...        "scores": [{"score_dict": {"exact_str_match": 0.25}, "number_of_shots": 1,
    ...                    "subtask_description": "t:a"}], "queries": []}
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "scores_F_m.json"
    >>> _ = p.write_text(json.dumps(log))
    >>> bigbench_scores(p)[["task", "shots", "metric", "value"]].to_dict("records")
    [{'task': 't:a', 'shots': 1, 'metric': 'exact_str_match', 'value': 0.25}]
    """
    files = expand_paths(paths, lambda f: f.name.startswith(("full-log_", "scores_"))
                         and f.suffix == ".json", "full-log_*.json or scores_*.json")
    rows = []
    for f in files:
        now_reading(f)
        data = load_json(f)
        if not isinstance(data, dict) or not isinstance(data.get("scores"), list):
            raise FormatError(f"{f}: not a BIG-bench results file (no 'scores' list).")
        md = data.get("model") if isinstance(data.get("model"), dict) else {}
        for i, sd in enumerate(data["scores"]):
            if not isinstance(sd, dict) or not isinstance(sd.get("score_dict"), dict):
                raise FormatError(f"{f}:scores[{i}]: no 'score_dict'.")
            for metric, v in sd["score_dict"].items():
                rows.append({"family": md.get("model_family"), "model": md.get("model_name"),
                             "task": sd.get("subtask_description"),
                             "shots": sd.get("number_of_shots"), "metric": metric,
                             "value": v, "source": f"{f}:scores[{i}]"})
    out = pd.DataFrame(rows, columns=["family", "model", "task", "shots", "metric", "value",
                                      "source"])
    out["shots"] = pd.to_numeric(out["shots"], errors="coerce").astype("Int64")
    out["value"] = pd.to_numeric(out["value"], errors="coerce")
    return out
