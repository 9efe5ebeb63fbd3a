"""The bundled lab dataset: compacted per-item harness logs of the ``paper`` preset.

``benchmarks_data/lab/`` holds

- ``records.csv.gz``: one row per (size, checkpoint, task, item) extracted from the harness's
  ``samples_<task>_*.jsonl`` files: the generated text, the target, per-choice log-likelihoods
  (JSON lists) and the target log-likelihood with ``is_greedy``;
- ``checkpoints.csv``: parameters, non-embedding parameters, training tokens, FLOPs (6ND) and
  training loss of every checkpoint;
- ``harness.csv``: the harness's own aggregate scores (from ``results_*.json``), kept to check the
  re-scoring against;
- ``PROVENANCE.json`` and ``README.md``: command, seed, versions, date, run time, sha256.

:func:`load_bundled` re-scores the records into the tidy table; it needs neither torch nor
lm-eval. :func:`compact_run` builds the files from a finished ``emergence lab run`` folder
(used by ``scripts/build_lab_data.py``).

Examples
--------
>>> from emergence.lab import load_bundled
>>> table = load_bundled()
>>> int(table["model"].nunique()), int(table["step"].nunique())
(7, 6)
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .._exceptions import EmergenceError
from .._validation import sha256_file
from .run import FAMILY, LL_SUFFIX

__all__ = ["load_bundled", "bundled_dir", "compact_run", "BUNDLE_FILES"]

#: Files of the bundle that carry data (their sha256 is in PROVENANCE.json).
BUNDLE_FILES: tuple[str, ...] = ("records.csv.gz", "checkpoints.csv", "harness.csv")

_REC_COLS = ["model", "step", "task", "shots", "item", "output_type", "prediction", "target",
             "choices", "choice_loglik", "gold", "target_loglik", "target_ntokens", "is_greedy"]


def bundled_dir() -> Path:
    """Folder of the bundled lab data (``benchmarks_data/lab``)."""
    candidates = []
    try:
        from ..datasets import data_dir

        candidates.append(Path(data_dir()) / "lab")
    except Exception:  # noqa: BLE001 - fall back to the source tree
        pass
    candidates.append(Path(__file__).resolve().parents[2] / "benchmarks_data" / "lab")
    for c in candidates:
        if (c / "PROVENANCE.json").exists():
            return c
    raise EmergenceError(
        "bundled lab data not found (benchmarks_data/lab/PROVENANCE.json); reinstall the package "
        "or rebuild it with python scripts/build_lab_data.py --run <lab output folder>."
    )


def _read_records(d: Path) -> pd.DataFrame:
    rec = pd.read_csv(d / "records.csv.gz", dtype={"item": str, "prediction": str,
                                                    "target": str},
                      keep_default_na=False, na_values={"target_loglik": [""], "gold": [""],
                                                        "target_ntokens": [""],
                                                        "is_greedy": [""]})
    for col in ("choices", "choice_loglik"):
        rec[col] = [json.loads(v) if isinstance(v, str) and v else pd.NA for v in rec[col]]
    rec["is_greedy"] = rec["is_greedy"].map({"True": True, "False": False, True: True,
                                             False: False}).astype("boolean")
    pred = rec["prediction"].astype("object")
    rec["prediction"] = pred.where(rec["output_type"] == "generate_until", None)
    ck = pd.read_csv(d / "checkpoints.csv")
    rec = rec.merge(ck[["model", "step", "params", "nonembedding_params", "tokens", "flops"]],
                    on=["model", "step"], how="left", validate="many_to_one")
    if rec["params"].isna().any():
        bad = rec.loc[rec["params"].isna(), ["model", "step"]].drop_duplicates()
        raise EmergenceError(f"{d}: checkpoints.csv lacks {bad.to_dict('records')[:3]}.")
    rec["family"] = FAMILY
    rec["source"] = [f"lab/records.csv.gz:{i + 2}" for i in range(len(rec))]
    return rec


def load_bundled(
    *, records: bool = False, verify: bool = True, path: str | Path | None = None
) -> pd.DataFrame:
    """Load the bundled lab dataset (paper preset, real harness output) as a tidy table.

    Parameters
    ----------
    records : bool, default=False
        Return the per-item records (before scoring) instead of the tidy table.
    verify : bool, default=True
        Check the sha256 of the files against ``PROVENANCE.json``.
    path : path, optional
        Folder of a bundle built by ``scripts/build_lab_data.py`` (default: the bundled one).

    Returns
    -------
    DataFrame
        The tidy table of :mod:`emergence.schema` (family ``lab-gpt2``; one row per size x
        checkpoint x task x item x metric) with an extra ``answer_len`` column (answer length in
        tokens = characters). Generative tasks carry the target log-likelihood of their ``_ll``
        companion task. With ``records=True``, the records table of :mod:`emergence.io.records`.

    Raises
    ------
    EmergenceError
        The bundle is missing or a checksum does not match.

    Examples
    --------
    >>> from emergence.lab.bundled import load_bundled
    >>> rec = load_bundled(records=True)
    >>> sorted(rec["output_type"].unique())
    ['generate_until', 'loglikelihood', 'multiple_choice']
    """
    from ..io.records import validate_records
    from ..scoring import attach_loglik, rescore

    d = Path(path) if path is not None else bundled_dir()
    if verify:
        prov = json.loads((d / "PROVENANCE.json").read_text())
        for name in BUNDLE_FILES:
            want = prov.get("files", {}).get(name, {}).get("sha256")
            if want and sha256_file(d / name) != want:
                raise EmergenceError(
                    f"{d / name}: sha256 does not match PROVENANCE.json; the file was changed. "
                    "Rebuild it with scripts/build_lab_data.py or restore it."
                )
    rec = validate_records(_read_records(d), name="lab/records.csv.gz")
    tasks = set(rec["task"])
    for t in sorted(tasks):
        if t + LL_SUFFIX in tasks:
            rec = attach_loglik(rec, to_task=t, from_task=t + LL_SUFFIX)
    if records:
        return rec
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = rescore(rec, tokenizer="characters", family=FAMILY)
    ne = rec.drop_duplicates("model").set_index("model")["nonembedding_params"]
    table["nonembedding_params"] = table["model"].map(ne).astype("float64")
    lens = rec.drop_duplicates(["task", "item"])[["task", "item", "target"]]
    lens = lens.assign(answer_len=lens["target"].str.len().astype("Int64")).drop(columns="target")
    return table.merge(lens, on=["task", "item"], how="left")


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
        ``records``, ``checkpoints``, ``harness`` (see the module docstring).
    """
    from .run import records_from_harness

    run = Path(run_dir)
    ck = pd.read_csv(run / "checkpoints.csv")
    ck["path"] = [str(run / "harness" / m / f"step_{int(s):06d}")
                  for m, s in zip(ck["model"], ck["step"], strict=True)]
    losses = []
    for m, s in zip(ck["model"], ck["step"], strict=True):
        sc = json.loads((run / "models" / m / f"step_{int(s):06d}" / "scale.json").read_text())
        losses.append(sc.get("train_loss"))
    rec = records_from_harness(run, ck)
    # generative rows keep only what the harness logged for them (log-likelihoods come from the
    # companion task at load time)
    gen = rec["output_type"] == "generate_until"
    rec.loc[gen, ["target_loglik", "target_ntokens"]] = np.nan
    rec.loc[gen, "is_greedy"] = pd.NA
    out = rec[_REC_COLS].copy()
    out["target_loglik"] = out["target_loglik"].round(5)
    for col in ("choices", "choice_loglik"):
        out[col] = [
            "" if not isinstance(v, list) else json.dumps(
                [round(float(x), 5) for x in v] if col == "choice_loglik" else v)
            for v in out[col]
        ]
    out["is_greedy"] = out["is_greedy"].map(_fmt)
    out["prediction"] = out["prediction"].map(_fmt)
    out = out.sort_values(["model", "step", "task", "item"], key=lambda s: (
        s.astype(int) if s.name in ("step",) else (s.str.zfill(6) if s.name == "item" else s)),
        kind="mergesort").reset_index(drop=True)
    checkpoints = ck.drop(columns="path").assign(train_loss=losses)
    harness = _harness_scores(run, ck)
    return {"records": out, "checkpoints": checkpoints, "harness": harness}


def _harness_scores(run: Path, ck: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for m, s, p in zip(ck["model"], ck["step"], ck["path"], strict=True):
        for f in sorted(Path(p).glob("*/results_*.json")):
            res = json.loads(f.read_text())
            for task, vals in res["results"].items():
                for k, v in vals.items():
                    if "," not in k or "_stderr" in k:
                        continue
                    metric, filt = k.split(",", 1)
                    se = vals.get(f"{metric}_stderr,{filt}")
                    rows.append({
                        "model": m, "step": int(s), "task": task, "metric": metric,
                        "filter": filt, "value": v,
                        "stderr": se if isinstance(se, (int, float)) else np.nan,
                        "n": vals.get("sample_len"),
                        "lm_eval_version": res.get("lm_eval_version"),
                    })
    return pd.DataFrame(rows)
