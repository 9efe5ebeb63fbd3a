"""Screen: incremental writes, resume after interruption, processes and Dask, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from emergence.curves import Curve
from emergence.screen import ScreenSettingsError, screen

X = np.logspace(8, 11, 8)


def _curves(k=6):
    rng = np.random.default_rng(0)
    out = []
    for i in range(k):
        p = np.exp(-np.exp(14 - (1.4 + i / 20) * np.log10(X)))
        y = rng.binomial(500, p) / 500
        out.append(Curve("fam", f"task{i}", "exact_match", 0, "params", X, y,
                         np.full(8, np.nan), np.full(8, 500.0), tuple("abcdefgh")))
    return out


def test_screen_writes_incrementally_and_resumes(tmp_path):
    cs = _curves()
    full = screen(cs, tmp_path / "a", n_boot=49, progress=False, chunk_size=2)
    lines = (tmp_path / "a" / "rows.jsonl").read_text().strip().splitlines()
    assert len(lines) == 6
    assert (tmp_path / "a" / "verdicts.csv").exists()
    # simulate an interruption: keep 3 finished rows plus half a line
    part = tmp_path / "b"
    part.mkdir()
    (part / "settings.json").write_text((tmp_path / "a" / "settings.json").read_text())
    (part / "rows.jsonl").write_text("\n".join(lines[:3]) + "\n" + lines[3][:40])
    resumed = screen(cs, part, n_boot=49, progress=False)
    cols = ["task", "pblrt_pvalue", "naive_pvalue", "pblrt_qvalue", "verdict"]
    pd.testing.assert_frame_equal(full.to_frame()[cols], resumed.to_frame()[cols])
    keys = [json.loads(x)["curve_key"] for x in
            (part / "rows.jsonl").read_text().splitlines() if x.startswith("{") and x.endswith("}")]
    assert len(set(keys)) == 6
    with pytest.raises(ScreenSettingsError, match="settings"):
        screen(cs, part, n_boot=99, progress=False)
    fresh = screen(cs, part, n_boot=99, progress=False, resume=False)
    assert fresh.n_boot == 99


def test_screen_processes_and_dask_match_serial(tmp_path):
    cs = _curves(4)
    serial = screen(cs, tmp_path / "s", n_boot=49, progress=False, chunk_size=1)
    procs = screen(cs, tmp_path / "p", n_boot=49, progress=False, chunk_size=1, n_jobs=2)
    cols = ["task", "pblrt_pvalue", "decel_pvalue", "verdict"]
    pd.testing.assert_frame_equal(serial.to_frame()[cols], procs.to_frame()[cols])
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            dk = screen(cs, tmp_path / "d", n_boot=49, progress=False, chunk_size=2,
                        client=client)
    pd.testing.assert_frame_equal(serial.to_frame()[cols], dk.to_frame()[cols])


def test_screen_rejects_duplicates(tmp_path):
    c = _curves(1)[0]
    with pytest.raises(ValueError, match="duplicate"):
        screen([c, c], tmp_path, progress=False)


@pytest.mark.parametrize("n_jobs", [0, -2, 1.5, True, "2"])
def test_screen_refuses_a_bad_number_of_processes(tmp_path, n_jobs):
    # 0 or -2 used to run silently in this process
    with pytest.raises(ValueError, match="`n_jobs` must be a positive integer"):
        screen(_curves(1), tmp_path, n_jobs=n_jobs, progress=False)
    assert not any(tmp_path.iterdir())  # nothing written


def test_screen_cli(tmp_path):
    from emergence.cli import main

    rows = []
    for c in _curves(3):
        for lab, x, y in zip(c.labels, c.x, c.y, strict=True):
            rows.append({"family": "fam", "model": lab, "task": c.task,
                         "metric": "exact_match", "value": y, "n_items": 500, "params": x})
    path = tmp_path / "t.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    out = tmp_path / "out"
    rc = main(["screen", str(path), "--out", str(out), "--n-boot", "49", "--quiet"])
    assert rc == 0
    v = pd.read_csv(out / "verdicts.csv")
    assert len(v) == 3 and set(v["verdict"]) <= {
        "candidate genuine transition", "metric artifact", "underpowered", "no transition"}
    assert main(["screen", "--out", str(out)]) == 2


def test_screen_names_degenerate_metrics_as_assess_does(tmp_path):
    # single-token edit distance equals 1 - exact match: it can neither confirm nor refute a
    # break, and screen (whose rows are computed one curve at a time) says so like assess
    import warnings

    from emergence.curves import extract_curves
    from emergence.simulate import simulate_family
    from emergence.verdict import assess

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = simulate_family("hinge", n_items=200, target_tokens=1, seed=2,
                             metrics=["exact_match", "token_edit_distance"])
        cs = extract_curves(df, x="params")
        a = assess(cs, n_boot=19, seed=0, progress=False)
        s = screen(cs, tmp_path / "out", n_boot=19, seed=0, progress=False)
    ra = a.to_frame().set_index("metric")
    rs = s.to_frame().set_index("metric")
    assert rs.loc["token_edit_distance", "degenerate_of"] == "exact_match"
    assert rs.loc["exact_match", "degenerate_of"] == ""
    pd.testing.assert_series_equal(rs["degenerate_of"], ra["degenerate_of"])
    assert s.verdicts()["verdict"].tolist() == a.verdicts()["verdict"].tolist()
    assert "neither confirm nor refute" in s.verdicts().iloc[0]["reasons"]
