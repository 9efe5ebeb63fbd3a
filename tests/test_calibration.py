"""The calibration runner (benchmarks/calibration.py): cells, resume, targets."""

from __future__ import annotations

import numpy as np
import pandas as pd


def test_grid_runner_appends_per_cell_and_resumes(tmp_path, calibration):
    cal = calibration
    cells = [cal.Cell("hinge_x5", 6, 30, "none"), cal.Cell("flat", 6, 30, "aggregate")]
    out = tmp_path / "grid.csv"
    res = cal.run_grid(cells, families=2, n_boot=19, seed=1, jobs=1, out=out, progress=False)
    assert set(res["cell"]) == {c.id for c in cells}
    v = res[res["quantity"] == "verdict"]
    assert (v.groupby("cell")["count"].sum() == 2).all()  # every family has one verdict
    assert set(res.loc[res["cell"] == cells[1].id, "metric"]) <= {"", "exact_match"}
    assert {"pblrt_pvalue"} <= set(res.loc[res["quantity"] == "reject", "name"])
    size = out.stat().st_size
    again = cal.run_grid(cells, families=2, n_boot=19, seed=1, jobs=1, out=out, progress=False)
    assert out.stat().st_size == size  # nothing rerun
    pd.testing.assert_frame_equal(res, again)
    md = cal.report(res, families=2, n_boot=19, seed=1, seconds=0.0)
    assert "### Share of each verdict" in md and "| hinge_x5 | none | 6 | 30 |" in md


def test_targets_use_a_binomial_tolerance(calibration):
    cal = calibration
    rows = []
    for truth, cand in (("power_law", 3), ("hinge_x3", 65)):
        for name, k in (("candidate genuine transition", cand), ("no transition", 100 - cand)):
            rows.append(dict(cell=f"{truth}|8|200|none", truth=truth,
                             smooth=cal.TRUTH_SPECS[truth][2], n_scales=8, n_items=200,
                             nuisance="none", families=100, quantity="verdict", metric="",
                             name=name, count=k, n=100, share=k / 100))
    rows.append(dict(rows[0], quantity="reject", metric="exact_match", name="pblrt_pvalue", count=16,
                     n=100, share=0.16))
    chk = cal.check_targets(pd.DataFrame(rows)).set_index(["truth", "target"])
    assert chk.loc[("power_law", "candidate <= 0.05"), "ok"]  # 3/100: fine
    assert not chk.loc[("hinge_x3", "candidate >= 0.80"), "ok"]  # 65/100: P(X<=65 | 0.8) < 0.01
    assert not chk.loc[("power_law", "size 0.05 +/- 0.015"), "ok"]  # 16/100 against 0.065


def test_report_of_a_grid_where_nothing_was_tested(tmp_path, calibration):
    # at 5 scales every family is underpowered: the tables of tested curves are empty, and the
    # report still says so instead of failing
    cal = calibration
    cells = [cal.Cell("flat", 5, 30, "none")]
    res = cal.run_grid(cells, families=2, n_boot=19, seed=1, jobs=1, out=tmp_path / "g.csv",
                       progress=False)
    v = res[res["quantity"] == "verdict"].set_index("name")["count"]
    assert v["underpowered"] == 2
    md = cal.report(res, families=2, n_boot=19, seed=1, seconds=0.0)
    assert "| flat | none | 5 | 30 |" in md


def test_power_bounds_find_smooth_truths_and_bound_genuine_ones(calibration):
    cal = calibration
    # a smooth truth is a member of a smooth family: distance 0, so no test beats its size,
    # through ln CE and through aggregate exact match alike
    smooth = cal.power_bounds(["logistic", "power_law_floor", "power_law"], scales=(8,),
                              sds=(0.25,))
    assert (smooth["delta"] < 1e-4).all()
    np.testing.assert_allclose(smooth[["np_bound", "f_1df", "f_2df"]], cal.ALPHA, atol=1e-4)
    # the test's own grid holds the power law and the per-token logistic exactly on ln CE, and
    # the power law through exact match of unknown target length (5 CE is a power law too)
    own = smooth.set_index(["truth", "data"])["grid_delta"]
    assert own[("logistic", "ln CE, scatter sd 0.25")] < 1e-4
    assert own[("power_law", "ln CE, scatter sd 0.25")] < 1e-4
    assert own[("power_law", "aggregate exact match, 200 items")] < 1e-4
    b = cal.power_bounds(["hinge_x3", "step_1"], scales=(8, 12), sds=(0.25, 0.1))
    lnce = b[b["data"].str.startswith("ln CE")].set_index(["truth", "n_scales", "data"])
    # the closest smooth curve of a 3x hinge is a per-token logistic about 1 nat of ln CE away
    h = lnce.loc[("hinge_x3", 8, "ln CE, scatter sd 0.25")]
    assert h["closest"] == "per-token logistic" and 0.9 < h["distance"] < 1.1
    # more scales, less scatter and a known location never lower what a test could reach; the
    # test's own null (per-token shapes with floors) comes at least as close on these truths
    for (truth, S, data), r in lnce.iterrows():
        assert r["np_bound"] >= r["f_1df"] >= r["f_2df"]
        assert r["grid_delta"] <= r["delta"] + 1e-6
        if S == 8:
            assert lnce.loc[(truth, 12, data), "f_2df"] >= r["f_2df"]
        if data.endswith("0.25"):
            assert lnce.loc[(truth, S, "ln CE, scatter sd 0.1"), "f_2df"] >= r["f_2df"]
    # exact match alone, 200 items: a 3x hinge is a sigmoid in log scale, close to a smooth one
    agg = b[b["data"].str.startswith("aggregate")].set_index(["truth", "n_scales"])
    assert agg.loc[("hinge_x3", 8), "np_bound"] < 0.5 < agg.loc[("step_1", 8), "np_bound"]


def test_measured_shares_go_beside_the_bounds_from_the_last_code(calibration):
    cal = calibration
    rows = []

    def cell(truth, S, n, nuis, cand, fam, code):
        c = f"{truth}|{S}|{n}|{nuis}"
        for name, k in ((cal.CANDIDATE, cand), ("no transition", fam - cand)):
            rows.append(dict(cell=c, truth=truth, smooth=False, n_scales=S, n_items=n,
                             nuisance=nuis, families=fam, n_boot=19, seed=1, code=code,
                             quantity="verdict", metric="", name=name, count=k, n=fam,
                             share=k / fam, seconds=0.0))

    cell("hinge_x3", 8, 200, "scatter", 99, 100, "old")   # superseded by the rerun below
    cell("hinge_x3", 8, 200, "scatter", 54, 100, "new")
    cell("hinge_x3", 8, 200, "scatter_declared", 83, 100, "new")
    cell("hinge_x3", 12, 1000, "scatter", 39, 40, "new")
    cell("hinge_x3", 12, 200, "scatter", 32, 40, "new")
    cell("hinge_x3", 8, 200, "aggregate_no_n", 6, 100, "new")
    b = cal.power_bounds(["hinge_x3"], scales=(8, 12), sds=(0.25,))
    got = cal.measured_beside(b, pd.DataFrame(rows)).set_index(["data", "n_scales"])
    assert got.loc[("ln CE, scatter sd 0.25", 8), "measured"] == "scatter estimated: 54/100"
    assert got.loc[("ln CE, scatter sd 0.25", 8), "measured_2"] == "scatter declared: 83/100"
    assert (got.loc[("ln CE, scatter sd 0.25", 12), "measured"]
            == "scatter estimated: 32/40; 1000 items: 39/40")
    agg = got.loc[("aggregate exact match, 200 items", 8)]
    assert agg["measured"] == "" and agg["measured_2"] == "no n: 6/100"
    assert got.loc[("aggregate exact match, 200 items", 12), "measured_2"] == ""
