"""Davies test against R segmented::davies.test (frozen references in tests/reference/)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emergence.stats.davies import davies_test

REF = Path(__file__).resolve().parents[1] / "reference"


def _cases(ref_dir: Path):
    inputs = pd.read_csv(ref_dir / "davies_cases.csv")
    ref = pd.read_csv(ref_dir / "davies_reference.csv", dtype={"best": float, "p_value": float})
    return inputs, ref


def _run(inputs: pd.DataFrame, row: pd.Series):
    d = inputs[inputs["case"] == row["case"]]
    w = d["w"].to_numpy(float)
    return davies_test(
        d["x"].to_numpy(float),
        d["y"].to_numpy(float),
        k=int(row["k"]),
        alternative=row["alternative"],
        form=row["form"],
        type=row["type"],
        family=row["family"],
        weights=None if np.all(w == 1) else w,
        n_trials=d["n_trials"].to_numpy(float) if row["family"] == "binomial" else None,
    )


def _compare(ref_dir: Path) -> int:
    inputs, ref = _cases(ref_dir)
    for _, row in ref.iterrows():
        res = _run(inputs, row)
        proc = np.array([float(v) for v in str(row["process"]).split(";")])
        # R prints 15 significant digits of its inputs and outputs; both sides solve the same
        # small least-squares / IRLS problems, so 1e-6 absolute on p-values is ample.
        assert res.pvalue == pytest.approx(row["p_value"], abs=1e-6), row["r_call"]
        assert res.best == pytest.approx(row["best"], abs=1e-9), row["case"]
        np.testing.assert_allclose(res.process, proc, atol=1e-6, err_msg=row["case"])
        assert res.n_points == int(row["n_points"])
    return len(ref)


def test_davies_matches_frozen_r_reference():
    n = _compare(REF)
    assert n >= 20


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R not installed")
def test_davies_matches_fresh_r_run(tmp_path):
    ok = subprocess.run(
        ["Rscript", "-e", "quit(status = !requireNamespace('segmented', quietly = TRUE))"],
        capture_output=True,
    )
    if ok.returncode != 0:
        pytest.skip("R package segmented not installed")
    root = tmp_path / "repo"
    (root / "tests" / "reference").mkdir(parents=True)
    shutil.copy(REF / "davies.R", root / "tests" / "reference" / "davies.R")
    subprocess.run(["Rscript", "tests/reference/davies.R"], cwd=root, check=True,
                   capture_output=True)
    assert _compare(root / "tests" / "reference") >= 20


def test_davies_result_object_and_errors():
    x = np.arange(12.0)
    y = 0.2 * x + 1.5 * np.maximum(x - 6, 0) + np.sin(x) / 5
    res = davies_test(x, y)
    stat, p = res
    assert stat == res.statistic and p == res.pvalue and p < 0.01
    assert "no change in slope" in res.summary()
    assert res.to_frame().loc[0, "test"] == "davies"
    with pytest.raises(ValueError, match="finite"):
        davies_test([1, 2, np.nan, 4, 5], [1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="at least 4"):
        davies_test([1, 2, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="n_trials"):
        davies_test(x, y, form="glm", family="binomial")
