"""Tables to scaling fits (emergence.scaling.runs): what the ``emergence scaling`` command calls."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emergence._exceptions import EmergenceError
from emergence.scaling import (
    BESIROGLU_2024,
    HOFFMANN_2022,
    as_runs,
    backtest,
    backtest_table,
    coarse_grid,
    default_grid,
    is_runs_file,
    load_law,
    pooled_curve,
    power_law_runs,
    read_runs,
)


def test_runs_table_from_compute_and_labels(tmp_path):
    t = pd.DataFrame({"model": ["a", "b"], "N": [1e8, 2e8], "C": [1.2e18, 4.8e18],
                      "loss": [3.0, 2.8]})
    runs = as_runs(t)
    assert runs["D"].tolist() == pytest.approx([2e9, 4e9])
    assert runs["label"].tolist() == ["a", "b"]
    with pytest.raises(EmergenceError, match="column D .* or C"):
        as_runs(t.drop(columns="C"))
    p = tmp_path / "runs.csv"
    t.to_csv(p, index=False)
    assert is_runs_file(p) and not is_runs_file(tmp_path)
    assert read_runs(p)["D"].tolist() == pytest.approx([2e9, 4e9])
    t.drop(columns="C").to_csv(p, index=False)
    with pytest.raises(EmergenceError, match="runs.csv: the runs table needs"):
        read_runs(p)


def test_runs_from_a_tidy_table_count_the_early_checkpoints():
    rows = []
    for m, n in (("s", 1e8), ("l", 1e9)):
        for step, d in ((1, 1e9), (10, 1e10), (100, 1e11)):
            rows.append({"model": m, "step": step, "task": "lm", "metric": "loss",
                         "value": 1.7 + 400 * n ** -0.34 + 400 * d ** -0.28, "params": n,
                         "tokens": d})
    t = pd.DataFrame(rows)
    runs = as_runs(t, min_tokens_fraction=0.05)
    assert len(runs) == 4 and runs.attrs["excluded"] == {"early checkpoints": 2}
    assert "left out 2 early checkpoints" in runs.attrs["notes"][0]
    x, y, note = power_law_runs(runs, x="params")
    assert len(x) == 2 and "2 models" in note
    with pytest.raises(EmergenceError, match="pass --model"):
        power_law_runs(runs, x="tokens", what="--model")
    x, y, _ = power_law_runs(runs, x="tokens", model="s")
    assert x.tolist() == [1e10, 1e11]


def test_laws_by_name_or_fit_folder(tmp_path):
    assert load_law("hoffmann") is HOFFMANN_2022
    assert load_law(None) is BESIROGLU_2024
    pd.DataFrame({"parameter": ["E", "A", "B", "alpha", "beta"],
                  "estimate": [1.8, 480.0, 2080.0, 0.35, 0.37]}).to_csv(
        tmp_path / "chinchilla_params.csv", index=False)
    assert load_law(str(tmp_path)).alpha == 0.35
    with pytest.raises(FileNotFoundError, match="--law: nowhere is not"):
        load_law("nowhere", what="--law")


def test_coarse_grid_is_a_subset_of_the_published_grid():
    g, c = default_grid(), coarse_grid()
    assert len(c) == 162
    assert {tuple(r) for r in c} <= {tuple(r) for r in g}


def test_backtest_table_is_the_pooled_backtest():
    rng = np.random.default_rng(3)
    f = np.geomspace(1e20, 1e24, 12)
    acc = 0.25 + 0.7 / (1 + np.exp(-(np.log10(f) - 22.5) * 3)) + rng.normal(0, 0.01, 12)
    t = pd.DataFrame({"family": ["a", "b"] * 6, "model": [f"m{i}" for i in range(12)],
                      "task": "t", "metric": "acc", "value": acc, "flops": f})
    a = backtest_table(t, task="t", metric="acc", cutoff=1e22, chance=0.25, n_boot=30, seed=1)
    b = backtest(pooled_curve(t, task="t", metric="acc"), cutoff=1e22, chance=0.25, n_boot=30,
                 seed=1)
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    one = backtest_table(t, task="t", metric="acc", cutoff=1e22, family="a",
                         chance={"t": 0.25}, n_boot=30, seed=1)
    assert len(one.to_frame()) == 6
