"""Every bundled dataset, exported with ``emergence datasets --export``, reads back unchanged.

Null: the exported CSV read through :func:`emergence.read` (the reader behind ``analyze``,
``screen`` and ``scaling``) is the same table as :func:`emergence.datasets.load`; statistic:
cell-by-cell equality of every column, then equality of the ``screen`` results computed from the
file and from the dataset, and of the ``analyze`` points computed from the file and from the
dataset. One test per bundled dataset.
"""

import pandas as pd
import pytest

from emergence import datasets
from emergence.cli import main
from emergence.ingest import read
from emergence.report import ReportSection, build_report
from emergence.schema import COLUMNS

#: (dataset, task subset for the statistics, x, ties, runs) per bundled dataset
CASES = {
    "pythia-v1": (["lambada_openai"], "params", "error", "error"),
    "obsscaling-base": (["GSM8K"], "params", "mean", "error"),
    "obsscaling-emergent": (["arithmetic_3ds"], "flops", "error", "error"),
    # the lab has three training runs per size
    "lab-gpt2": (["add_3d_mc"], "params", "error", "mean"),
}


def test_every_bundled_dataset_has_a_case():
    assert sorted(CASES) == sorted(datasets.names())


@pytest.mark.parametrize("name", sorted(CASES))
def test_export_reads_back_unchanged(name, tmp_path, capsys):
    tasks, x, ties, runs = CASES[name]
    csv = tmp_path / f"{name}.csv"
    assert main(["datasets", "--export", name, "--out", str(csv)]) == 0
    orig = datasets.load(name)
    back = read(csv)
    assert list(back.columns) == list(orig.columns)
    schema = list(COLUMNS)
    pd.testing.assert_frame_equal(back[schema], orig[schema])
    # extra columns (the lab's answer_len) keep their values; a CSV does not keep nullable dtypes
    extra = [c for c in orig.columns if c not in COLUMNS]
    pd.testing.assert_frame_equal(back[extra], orig[extra], check_dtype=False)

    common = ["--tasks", ",".join(tasks), "--x", x, "--ties", ties, "--runs", runs,
              "--n-boot", "19", "--seed", "3", "--quiet"]
    assert main(["screen", "--dataset", name, "--out", str(tmp_path / "sd"), *common]) == 0
    assert main(["screen", str(csv), "--out", str(tmp_path / "sf"), *common]) == 0
    for f in ("curves.csv", "verdicts.csv"):
        a = pd.read_csv(tmp_path / "sd" / f)
        b = pd.read_csv(tmp_path / "sf" / f)
        assert len(a) > 0
        pd.testing.assert_frame_equal(a, b)

    assert main(["analyze", str(csv), "--out", str(tmp_path / "af"), "--no-verdicts",
                 "--tasks", ",".join(tasks), "--x", x, "--ties", ties, "--runs", runs,
                 "--quiet"]) == 0
    rep = build_report([ReportSection("x", orig, x=x, ties=ties, runs=runs, tasks=tasks,
                                      verdicts=False)],
                       out_dir=tmp_path / "ad", progress=False)
    a = pd.read_csv(tmp_path / "af" / "tables" / "points.csv").drop(columns="section")
    b = rep.points.drop(columns="section").reset_index(drop=True)
    assert len(a) > 0
    pd.testing.assert_frame_equal(a, pd.read_csv(tmp_path / "ad" / "tables" / "points.csv")
                                  .drop(columns="section"))
    assert len(b) == len(a)
