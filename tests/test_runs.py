"""Replicate runs (column ``run``): kept, shown, and averaged only when asked.

The table below has the shape of Lu et al. (2024) ``evaluation_scores.csv`` (UKPLab/on-emergence):
one row per (model, task, shots, generation seed) with metric columns and -100 for "not computed".
"""

import numpy as np
import pandas as pd
import pytest

from emergence import SchemaError
from emergence.cli import main
from emergence.curves import extract_curves
from emergence.io import read_table

SEEDS = (2266, 105, 86379)
MODELS = {"gpt2": 1.24e8, "gpt2-medium": 3.55e8, "gpt2-large": 7.74e8, "gpt2-xl": 1.5e9}


def _lu_table() -> pd.DataFrame:
    rows = []
    for k, (m, _) in enumerate(MODELS.items()):
        for j, seed in enumerate(SEEDS):
            rows.append({"run_id": f"2023052{k}_12{j}000", "filename":
                         "tracking_shuffled_objects/task.json", "number_of_data": 745,
                         "model": m, "prompt_type": "closed", "number_of_shots": 0,
                         "temperature": 0.01, "seed": seed,
                         "exact_match_accuracy": 0.16 + 0.05 * k + 0.004 * j,
                         "exact_match_loss": -100,
                         "edit_distance": 36.0 - 2 * k - 0.1 * j})
    return pd.DataFrame(rows)


def _read(path):
    return read_table(path, layout="wide", columns={"task": "filename", "shots": "number_of_shots",
                                                     "run": "seed"},
                      value_columns=["exact_match_accuracy", "edit_distance"],
                      metadata=pd.DataFrame({"model": list(MODELS), "params": list(MODELS.values())}),
                      metadata_columns={"params": "params"})


def test_runs_are_kept_and_averaging_is_explicit(tmp_path):
    p = tmp_path / "evaluation_scores.csv"
    _lu_table().to_csv(p, index=False)
    df = _read(p)
    assert len(df) == 4 * 3 * 2
    assert sorted(df["run"].unique()) == sorted(str(s) for s in SEEDS)
    # the table's own metric name: its facts are declared, not guessed from the name
    facts = {"exact_match_accuracy": "higher,discontinuous,0:1,exact_match"}
    with pytest.raises(SchemaError, match="runs='mean'"):
        extract_curves(df, metric_facts=facts)
    cs = extract_curves(df, runs="mean", metric_facts=facts)
    c = next(c for c in cs if c.metric == "exact_match_accuracy")
    assert c.runs.shape == (3, 4)
    np.testing.assert_allclose(c.y, c.runs.mean(axis=0))
    first = {str(seed): 0.16 + 0.004 * j for j, seed in enumerate(SEEDS)}
    assert sorted(c.run_ids) == sorted(first)
    np.testing.assert_allclose(c.runs[:, 0], [first[r] for r in c.run_ids])
    sep = extract_curves(df, runs="separate", metric_facts=facts)
    assert len(sep) == 6 and {c.run for c in sep} == {str(s) for s in SEEDS}


def test_analyze_shows_between_run_spread(tmp_path, capsys):
    rows = []
    for m, n in MODELS.items():
        for j, seed in enumerate(SEEDS):
            rows.append({"model": m, "task": "tso", "metric": "exact_match", "run": seed,
                         "value": 0.1 + n / 1e10 + 0.01 * j, "params": n})
    p = tmp_path / "runs.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    out = tmp_path / "rep"
    args = ["analyze", str(p), "--no-verdicts", "--quiet", "--out", str(out)]
    assert main(args) == 2
    assert "--runs mean" in capsys.readouterr().err
    assert main(args + ["--runs", "mean"]) == 0
    pts = pd.read_csv(out / "tables" / "points.csv")
    assert (pts["n_runs"] == 3).all()
    np.testing.assert_allclose(pts["run_sd"], 0.01)
