"""The bundled lab dataset: the re-scored per-item table of the seeded ``paper`` preset.

``benchmarks_data/lab/`` holds

- ``scores.csv.gz``: the tidy per-item table (:mod:`emergence.schema`), already re-scored from the
  harness's ``samples_<task>_*.jsonl`` files: one row per run x size x checkpoint x task x item x
  metric under the lab's main metrics (exact match, token edit distance and the answer's
  log-likelihood for the generative tasks; multiple-choice grade, Brier score and log-likelihood
  for the multiple-choice task), with ``n_choices``, ``target_tokens`` and ``answer_len``. Scale
  columns are in ``checkpoints.csv``;
- ``checkpoints.csv``: run, size, step, parameters, non-embedding parameters, training tokens,
  FLOPs (6ND) and training loss of every checkpoint;
- ``records_final.csv.gz``: the harness's per-item outputs (generations, choice log-likelihoods,
  answer log-likelihoods) of the final checkpoints, for the Mirage check and re-scoring under
  other metrics;
- ``harness.csv``: the harness's own aggregate scores (from ``results_*.json``) of every
  checkpoint, to check the re-scoring against;
- ``PROVENANCE.json`` and ``README.md``: command, seeds, versions, date, run time, sha256.

Loading the table (:func:`load_bundled`, or :func:`emergence.datasets.load` with
``"lab-gpt2"``) reads and joins files; it scores nothing and needs neither torch nor lm-eval.
:func:`compact_run` builds the files from a finished ``emergence lab run`` folder (used by
``scripts/build_lab_data.py``).

Examples
--------
>>> from emergence.lab import load_bundled
>>> table = load_bundled()
>>> int(table["model"].nunique()), int(table["step"].nunique()), int(table["run"].nunique())
(6, 6, 3)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .._exceptions import EmergenceError
from .run import FAMILY, LL_SUFFIX

__all__ = ["load_bundled", "bundled_dir", "compact_run", "BUNDLE_FILES"]

#: Files of the bundle that carry data (their sha256 is in PROVENANCE.json).
BUNDLE_FILES: tuple[str, ...] = ("scores.csv.gz", "checkpoints.csv", "records_final.csv.gz",
                                 "harness.csv")

_SCORE_COLS = ["run", "model", "step", "task", "metric", "item", "value", "note", "n_choices",
               "target_tokens", "answer_len"]
_REC_COLS = ["run", "model", "step", "task", "shots", "item", "output_type", "prediction",
             "target", "choices", "choice_loglik", "gold", "target_loglik", "target_ntokens",
             "is_greedy"]


def bundled_dir() -> Path:
    """Folder of the bundled lab data (``benchmarks_data/lab``)."""
    from ..datasets import lab_dir

    return lab_dir()


def load_bundled(
    *, records: bool = False, verify: bool = True, path: str | Path | None = None
) -> pd.DataFrame:
    """Load the bundled lab dataset (seeded paper preset, real harness output) as a tidy table.

    Parameters
    ----------
    records : bool, default=False
        Return the harness's per-item outputs of the final checkpoints (records of
        :mod:`emergence.records`, with ``run``) instead of the tidy table.
    verify : bool, default=True
        Check the sha256 of the files against ``PROVENANCE.json``.
    path : path, optional
        Folder of a bundle built by ``scripts/build_lab_data.py`` (default: the bundled one).

    Returns
    -------
    DataFrame
        The tidy table of :mod:`emergence.schema` (family ``lab-gpt2``; one row per run x size x
        checkpoint x task x item x metric; ``run`` is ``seed<training seed>``) with an extra
        ``answer_len`` column (answer length in tokens = characters). With ``records=True``, the
        final checkpoints' records; generative rows carry the answer's log-likelihood.

    Raises
    ------
    EmergenceError
        The bundle is missing or a checksum does not match.

    Examples
    --------
    >>> from emergence.lab.bundled import load_bundled
    >>> rec = load_bundled(records=True)
    >>> sorted(rec["output_type"].unique()), int(rec["run"].nunique())
    (['generate_until', 'multiple_choice'], 3)
    """
    from ..datasets import load_lab

    if not records:
        return load_lab(verify=verify, path=path)
    from ..records import validate_records

    d = Path(path) if path is not None else bundled_dir()
    if verify:
        from ..datasets import verify_lab

        verify_lab(d, ["records_final.csv.gz", "checkpoints.csv"])
    rec = pd.read_csv(d / "records_final.csv.gz",
                      dtype={"item": str, "prediction": str, "target": str, "run": str},
                      keep_default_na=False,
                      na_values={c: [""] for c in ("target_loglik", "gold", "target_ntokens",
                                                   "is_greedy")})
    for col in ("choices", "choice_loglik"):
        rec[col] = [json.loads(v) if isinstance(v, str) and v else pd.NA for v in rec[col]]
    rec["is_greedy"] = rec["is_greedy"].map({"True": True, "False": False, True: True,
                                             False: False}).astype("boolean")
    rec["prediction"] = rec["prediction"].astype("object").where(
        rec["output_type"] == "generate_until", None)
    ck = pd.read_csv(d / "checkpoints.csv", dtype={"run": str})
    rec = rec.merge(ck[["run", "model", "step", "params", "nonembedding_params", "tokens",
                        "flops"]], on=["run", "model", "step"], how="left",
                    validate="many_to_one")
    if rec["params"].isna().any():
        bad = rec.loc[rec["params"].isna(), ["run", "model", "step"]].drop_duplicates()
        raise EmergenceError(f"{d}: checkpoints.csv lacks {bad.to_dict('records')[:3]}.")
    rec["family"] = FAMILY
    rec["source"] = [f"lab/records_final.csv.gz:{i + 2}" for i in range(len(rec))]
    parts = [validate_records(g.drop(columns="run"), name="lab/records_final.csv.gz")
             .assign(run=r) for r, g in rec.groupby("run", sort=True)]
    return pd.concat(parts, ignore_index=True)


def _fmt(v: object) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return ""
    return str(v)


def compact_run(run_dir: str | Path) -> dict[str, pd.DataFrame]:
    """Compact a finished ``emergence lab run`` folder into the bundle's tables.

    Parameters
    ----------
    run_dir : path
        Output folder of ``emergence lab run`` (with ``checkpoints.csv``, ``harness/`` and
        ``models/``).

    Returns
    -------
    dict of DataFrame
        ``scores``, ``checkpoints``, ``records_final``, ``harness`` (see the module docstring).
    """
    from .run import _main_mask, records_from_harness, run_label, score_records

    run = Path(run_dir)
    ck = pd.read_csv(run / "checkpoints.csv", dtype={"run": str})
    if "run" not in ck.columns:
        ck.insert(0, "run", run_label(0))
    ck["path"] = [str(run / "harness" / r / m / f"step_{int(s):06d}")
                  for r, m, s in zip(ck["run"], ck["model"], ck["step"], strict=True)]
    losses = []
    for r, m, s in zip(ck["run"], ck["model"], ck["step"], strict=True):
        sc = json.loads((run / "models" / r / m / f"step_{int(s):06d}" / "scale.json")
                        .read_text())
        losses.append(sc.get("train_loss"))
    rec = records_from_harness(run, ck)
    lengths = rec[~rec["task"].str.endswith(LL_SUFFIX)].drop_duplicates(["task", "item"])
    lengths = lengths.assign(answer_len=lengths["target"].str.len())[
        ["task", "item", "answer_len"]]
    table = score_records(rec, lengths=lengths)
    scores = table[_main_mask(table)][_SCORE_COLS].copy()
    scores["step"] = scores["step"].astype(int)
    scores["answer_len"] = scores["answer_len"].astype(int)
    scores = scores.sort_values(["run", "model", "step", "task", "metric", "item"], key=_sort_key,
                                kind="mergesort").reset_index(drop=True)
    last = rec["step"] == rec.groupby(["run", "model"])["step"].transform("max")
    final = rec[last & ~rec["task"].str.endswith(LL_SUFFIX)]
    out = final[_REC_COLS].copy()
    out["target_loglik"] = out["target_loglik"].round(5)
    for col in ("choices", "choice_loglik"):
        out[col] = [
            "" if not isinstance(v, list) else json.dumps(
                [round(float(x), 5) for x in v] if col == "choice_loglik" else v)
            for v in out[col]
        ]
    out["is_greedy"] = out["is_greedy"].map(_fmt)
    out["prediction"] = out["prediction"].map(_fmt)
    out = out.sort_values(["run", "model", "step", "task", "item"], key=_sort_key,
                          kind="mergesort").reset_index(drop=True)
    checkpoints = ck.drop(columns="path").assign(train_loss=losses)
    first = ["run", "model", "step"]
    checkpoints = checkpoints[first + [c for c in checkpoints.columns if c not in first]]
    harness = _harness_scores(ck)
    return {"scores": scores, "checkpoints": checkpoints, "records_final": out,
            "harness": harness}


def _sort_key(s: pd.Series) -> pd.Series:
    if s.name == "step":
        return s.astype(int)
    if s.name == "item":
        return s.str.zfill(6)
    return s


def _harness_scores(ck: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for r, m, s, p in zip(ck["run"], ck["model"], ck["step"], ck["path"], strict=True):
        for f in sorted(Path(p).glob("*/results_*.json")):
            res = json.loads(f.read_text())
            for task, vals in res["results"].items():
                for k, v in vals.items():
                    if "," not in k or "_stderr" in k:
                        continue
                    metric, filt = k.split(",", 1)
                    se = vals.get(f"{metric}_stderr,{filt}")
                    rows.append({
                        "run": r, "model": m, "step": int(s), "task": task, "metric": metric,
                        "filter": filt, "value": v,
                        "stderr": se if isinstance(se, (int, float)) else np.nan,
                        "n": vals.get("sample_len"),
                        "lm_eval_version": res.get("lm_eval_version"),
                    })
    return pd.DataFrame(rows)
