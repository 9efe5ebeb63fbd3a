"""HELM run folders (``scenario_state.json`` + ``per_instance_stats.json``) -> records.

HELM serialises with ``asdict_without_nones``: an absent key means None. The adapter method
decides how request states become records:

- ``generation`` / ``chat``: one request per instance; the first completion's text is the
  prediction, references tagged ``correct`` are the targets -> ``generate_until``.
- ``multiple_choice_joint``: the model writes a letter; it is mapped back to the reference text
  through ``output_mapping`` -> ``generate_until`` (exact match against the correct reference).
  Generation records state HELM's own exact-match rule, ``normalize="strip"`` (HELM's
  ``exact_match`` compares ``gold.strip() == pred.strip()``).
- ``multiple_choice_separate_original`` / ``_calibrated``: one request per reference
  (``reference_index``), with the prompt echoed; the choice log-likelihood is the sum of token
  log-probabilities after the first ``num_conditioning_tokens`` tokens -> ``multiple_choice``.
  Calibration requests (``request_mode == "calibration"``) are skipped.
- ``language_modeling``: the summed token log-probabilities after the conditioning tokens ->
  ``loglikelihood_rolling`` with ``target_ntokens`` = number of scored tokens.

``per_instance_stats.json`` values (stat ``mean``) are attached as ``harness_scores``, joined on
instance id, train trial and perturbation. Perturbed instances get item ids ``<id>|<perturbation>``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .._exceptions import FormatError
from ..records import validate_records
from ._files import Head, guarded, load_json, now_reading

__all__ = ["read_helm", "is_helm_file", "helm_run_files", "HELM_FILES"]

#: The files of a HELM run folder this package reads (the other files of a run are HELM's own
#: summaries of them).
HELM_FILES: tuple[str, ...] = ("scenario_state.json", "per_instance_stats.json")


def is_helm_file(head: Head) -> bool:
    """True for a HELM run's ``scenario_state.json`` or ``per_instance_stats.json``."""
    return head.name in HELM_FILES


def helm_run_files(folder: Path) -> list[Path] | None:
    """The ``scenario_state.json`` standing for ``folder`` when it is a HELM run folder, else
    None (a walk then takes that file and leaves the run's other files alone)."""
    f = Path(folder) / "scenario_state.json"
    return [f] if f.is_file() else None

_GEN = ("generation", "chat")
_SEPARATE = ("multiple_choice_separate_original", "multiple_choice_separate_calibrated")


def _read(path: Path) -> Any:
    return load_json(path)


def _item_id(inst: Mapping[str, Any]) -> str:
    iid = str(inst.get("id"))
    pert = inst.get("perturbation")
    if pert:
        iid += f"|{pert.get('name', 'perturbed')}"
    return iid


def _correct(inst: Mapping[str, Any]) -> list[int]:
    refs = inst.get("references") or []
    return [i for i, r in enumerate(refs) if "correct" in (r.get("tags") or [])]


def _scored_logprob(rs: Mapping[str, Any], where: str) -> tuple[float, int]:
    comps = (rs.get("result") or {}).get("completions") or []
    if not comps:
        raise FormatError(f"{where}: request has no completions (failed request?).")
    toks = comps[0].get("tokens") or []
    k = int(rs.get("num_conditioning_tokens") or 0)
    scored = toks[k:]
    if not scored:
        return float(comps[0].get("logprob", float("nan"))), 0
    return float(sum(float(t.get("logprob", 0.0)) for t in scored)), len(scored)


@guarded("HELM run (scenario_state.json, per_instance_stats.json)")
def read_helm(
    run_dirs: str | Path | Sequence[str | Path],
    *,
    model: str | None = None,
    params: float | Mapping[str, float] | None = None,
    task: str | None = None,
    trial: int | None = 0,
) -> pd.DataFrame:
    """Read HELM run folders into per-item records.

    Parameters
    ----------
    run_dirs : path or list of paths
        Run folders (``benchmark_output/runs/<suite>/<run_name>/``) holding
        ``scenario_state.json`` and optionally ``per_instance_stats.json``.
    model : str, optional
        Model name; default: the last part of ``request.model`` (``openai/gpt2`` -> ``gpt2``).
    params : float or mapping model -> float, optional
        Parameter counts (HELM run files do not carry them).
    task : str, optional
        Task name; default: the run folder name up to the first ``,model=`` part.
    trial : int or None, default=0
        Keep this ``train_trial_index`` (HELM repeats instances with different in-context
        examples); None keeps all and appends ``#<trial>`` to item ids. The number of request
        states of other trials left out is in ``attrs["skipped_trials"]``.

    Returns
    -------
    DataFrame
        Records with extra columns ``harness_scores`` (per-instance stats) and ``adapter_method``.

    Raises
    ------
    FormatError
        Missing ``scenario_state.json``, an unknown adapter method, or requests without
        completions; the message names the file and request.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> state = {"adapter_spec": {"method": "generation"}, "request_states": [
    ...     {"instance": {"input": {"text": "2+2?"}, "id": "id1", "split": "test",
    ...                   "references": [{"output": {"text": "4"}, "tags": ["correct"]}]},
    ...      "train_trial_index": 0, "request": {"model": "openai/gpt2", "prompt": "2+2?"},
    ...      "result": {"success": True, "completions": [{"text": " 4", "logprob": -0.2,
    ...                                                  "tokens": [{"text": " 4", "logprob": -0.2}]}]},
    ...      "num_train_instances": 0, "prompt_truncated": False}]}
    >>> _ = (d / "scenario_state.json").write_text(json.dumps(state))
    >>> rec = read_helm(d, params=124e6)
    >>> rec[["model", "item", "prediction", "target"]].to_dict("records")
    [{'model': 'gpt2', 'item': 'id1', 'prediction': ' 4', 'target': '4'}]
    """
    dirs = [run_dirs] if isinstance(run_dirs, (str, Path)) else list(run_dirs)
    rows: list[dict[str, Any]] = []
    skipped = 0
    for d in map(Path, dirs):
        sfile = d / "scenario_state.json"
        if not sfile.exists():
            raise FileNotFoundError(f"{d}: no scenario_state.json (not a HELM run folder).")
        now_reading(sfile)
        state = _read(sfile)
        method = (state.get("adapter_spec") or {}).get("method")
        stats: dict[tuple, dict[str, float]] = {}
        pfile = d / "per_instance_stats.json"
        if pfile.exists():
            now_reading(pfile)
            for e in _read(pfile):
                key = (str(e.get("instance_id")), int(e.get("train_trial_index") or 0),
                       json.dumps(e.get("perturbation"), sort_keys=True))
                stats[key] = {s["name"]["name"]: s.get("mean") for s in e.get("stats") or []
                              if "name" in s}
        now_reading(sfile)
        tname = task or d.name.split(",model=")[0].split(":model=")[0]
        groups: dict[tuple, dict[str, Any]] = {}
        for ri, rs in enumerate(state.get("request_states") or []):
            where = f"{sfile}:request_states[{ri}]"
            t_idx = int(rs.get("train_trial_index") or 0)
            if trial is not None and t_idx != trial:
                skipped += 1
                continue
            if rs.get("request_mode") == "calibration":
                continue
            inst = rs.get("instance") or {}
            item = _item_id(inst) + (f"#{t_idx}" if trial is None else "")
            mname = model or str((rs.get("request") or {}).get("model", "")).rsplit("/", 1)[-1]
            pkey = (str(inst.get("id")), t_idx,
                    json.dumps(inst.get("perturbation"), sort_keys=True))
            base = {"model": mname, "task": tname, "item": item, "source": where,
                    "shots": rs.get("num_train_instances"), "adapter_method": method,
                    "harness_scores": stats.get(pkey, pd.NA)}
            refs = [str((r.get("output") or {}).get("text", "")) for r in
                    inst.get("references") or []]
            correct = _correct(inst)
            if method in _GEN or method == "multiple_choice_joint":
                comps = (rs.get("result") or {}).get("completions") or []
                if not comps:
                    raise FormatError(f"{where}: request has no completions (failed request?).")
                text = str(comps[0].get("text", ""))
                if method == "multiple_choice_joint":
                    mapping = rs.get("output_mapping") or {}
                    text = str(mapping.get(text.strip(), text))
                tg = [refs[i] for i in correct]
                # HELM's exact_match compares gold.strip() == pred.strip()
                rows.append(dict(base, output_type="generate_until", prediction=text,
                                 target=tg[0] if tg else "",
                                 targets=tg if len(tg) > 1 else pd.NA, normalize="strip",
                                 # the choices shown (joint multiple choice): chance is 1/k
                                 choices=refs if method == "multiple_choice_joint" and refs
                                 else pd.NA))
            elif method in _SEPARATE:
                ref_idx = rs.get("reference_index")
                if ref_idx is None:
                    raise FormatError(f"{where}: separate multiple-choice request without "
                                      "'reference_index'.")
                ll, _ = _scored_logprob(rs, where)
                g = groups.setdefault((mname, item), dict(
                    base, output_type="multiple_choice", choices=refs,
                    choice_loglik=[float("nan")] * len(refs),
                    gold=correct[0] if correct else None))
                if (isinstance(ref_idx, bool) or not isinstance(ref_idx, int)
                        or not 0 <= ref_idx < len(refs)):
                    raise FormatError(f"{where}: reference_index {str(ref_idx)[:20]} does not "
                                      f"point at one of the {len(refs)} references.")
                g["choice_loglik"][ref_idx] = ll
            elif method == "language_modeling":
                ll, n = _scored_logprob(rs, where)
                text = str((inst.get("input") or {}).get("text", ""))
                rows.append(dict(base, output_type="loglikelihood_rolling", target=text,
                                 target_loglik=ll, target_ntokens=n or pd.NA))
            else:
                raise FormatError(
                    f"{sfile}: adapter method {method!r} is not supported (generation, chat, "
                    "multiple_choice_joint, multiple_choice_separate_*, language_modeling)."
                )
        rows.extend(groups.values())
    now_reading(None)
    df = pd.DataFrame(rows)
    if params is not None:
        df["params"] = [params.get(m) if isinstance(params, Mapping) else params
                        for m in df["model"]]
    out = validate_records(df, name=str(dirs[0]) if len(dirs) == 1 else None)
    out.attrs["skipped_trials"] = skipped
    return out
