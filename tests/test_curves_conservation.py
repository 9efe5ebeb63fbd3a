"""Curve splitting keeps every row: points of curves or excluded rows with a reason."""

import numpy as np
import pandas as pd
import pytest

from emergence import SchemaError
from emergence.cli import main
from emergence.curves import compact_excluded, extract_curves


def _points(cs):
    return sum(c.n_scales for c in cs.curves)


def test_identical_duplicate_and_earlier_checkpoint_are_listed_in_report(tmp_path):
    # finding 8: a CSV with one row twice and a model with an earlier checkpoint
    p = tmp_path / "scores.csv"
    rows = [("a", 1e8, 100, 0.20), ("b", 1e9, 100, 0.30), ("c", 1e10, 100, 0.50),
            ("c", 1e10, 100, 0.50),  # identical duplicate
            ("d", 1e11, 50, 0.55), ("d", 1e11, 100, 0.80)]  # d at step 50: not final
    pd.DataFrame(rows, columns=["model", "params", "step", "value"]).assign(
        task="t", metric="acc").to_csv(p, index=False)
    out = tmp_path / "rep"
    assert main(["analyze", str(p), "--no-verdicts", "--quiet", "--out", str(out)]) == 0
    ex = pd.read_csv(out / "tables" / "excluded.csv")
    reasons = sorted(ex["reason"])
    assert len(ex) == 2
    assert reasons[0].startswith("earlier checkpoint") and "identical duplicate" in reasons[1]
    page = (out / "index.html").read_text()
    assert "2 table rows excluded" in page and "identical duplicate" in page
    pts = pd.read_csv(out / "tables" / "points.csv")
    assert len(pts) == 4 and pts["value"].tolist() == [0.2, 0.3, 0.5, 0.8]


def _mixed_table(seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for fam in ["f1", "f2"]:
        for task in ["t1", "t2", "t3"]:
            for i, p in enumerate([1e8, 1e9, 1e10, 1e11]):
                for step in [10, 20]:
                    rows.append({"family": fam, "model": f"{fam}-{i}", "step": step, "task": task,
                                 "metric": "acc", "value": rng.random(), "params": p})
    df = pd.DataFrame(rows)
    df.loc[3, "value"] = np.nan
    df.loc[5, "params"] = np.nan
    solo = pd.DataFrame({"family": "solo", "model": "s", "step": 1, "task": "t1",
                         "metric": "acc", "value": 0.5, "params": 1e9}, index=[0])
    items = pd.DataFrame([{"family": "f3", "model": f"i{m}", "step": 1, "task": "ti",
                           "metric": "exact_match", "item": str(k), "value": float(rng.random() < .5),
                           "params": 10.0 ** (8 + m)} for m in range(3) for k in range(5)])
    items = pd.concat([items, pd.DataFrame([{"family": "f3", "model": "i0", "step": 1, "task": "ti",
                                              "metric": "exact_match", "value": 0.4,
                                              "params": 1e8}])])
    return pd.concat([df, df.iloc[[0]], solo, items], ignore_index=True)


@pytest.mark.parametrize("kw", [{}, {"step": 10}, {"ties": "mean"},
                                {"x": "step", "along": "step"}, {"min_scales": 4}])
def test_conservation_every_row_is_a_point_or_excluded(kw):
    df = _mixed_table()
    if kw.get("ties") == "mean":
        df.loc[df["model"] == "f2-1", "params"] = 1e8  # tied with f2-0
    cs = extract_curves(df, **kw)
    assert _points(cs) + 0 <= len(df)
    n_item_rows = sum(c.items.size for c in cs.curves if c.items is not None)
    n_agg_points = sum(c.n_scales for c in cs.curves if c.items is None)
    # ties averaged: several rows make one point; count rows behind points instead
    if kw.get("ties") == "mean":
        n_agg_points = sum(len(lab.split("+")) for c in cs.curves if c.items is None
                           for lab in c.labels)
    assert n_item_rows + n_agg_points + len(cs.excluded) == len(df)
    assert cs.excluded["reason"].notna().all() and (cs.excluded["reason"] != "").all()
    assert compact_excluded(cs.excluded)["rows"].sum() == len(cs.excluded)


def test_split_matches_per_group_construction():
    df = _mixed_table(3)
    cs = extract_curves(df)
    for c in cs.curves:
        if c.items is not None:
            continue
        g = df[(df.family == c.family) & (df.task == c.task) & (df.metric == c.metric)
               & (df.step == 20)].dropna(subset=["value", "params"]).drop_duplicates()
        g = g.sort_values("params")
        assert c.x.tolist() == g["params"].tolist()
        assert c.y.tolist() == g["value"].tolist()
        assert c.labels == tuple(g["model"])


def test_tie_and_duplicate_point_errors_name_the_curve():
    df = pd.DataFrame({"family": "f", "model": ["a", "b", "c"], "task": "t", "metric": "acc",
                       "value": [0.1, 0.2, 0.3], "params": [1e8, 1e8, 1e9]})
    with pytest.raises(SchemaError, match=r"tied scales for \{'family': 'f', 'task': 't', "
                                          r"'shots': <NA>, 'metric': 'acc'\}: points \['a', 'b'\]"):
        extract_curves(df)
    df2 = df.assign(model=["a", "a", "c"], step=[1, 2, 1])
    with pytest.raises(SchemaError, match="several rows per model"):
        extract_curves(df2, step=None)
