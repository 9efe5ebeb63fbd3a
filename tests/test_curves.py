import numpy as np
import pandas as pd
import pytest

from emergence import SchemaError
from emergence.curves import extract_curves


def table(**kw):
    d = {"family": "f", "model": ["m1", "m2", "m3", "m4"], "task": "t", "metric": "acc",
         "value": [0.3, 0.1, 0.9, 0.5], "params": [3e9, 1e8, 1e10, 1e9], "n_items": 100}
    d.update(kw)
    return pd.DataFrame(d)


def test_unsorted_scales_are_sorted():
    c = extract_curves(table()).curves[0]
    assert c.x.tolist() == [1e8, 1e9, 3e9, 1e10]
    assert c.y.tolist() == [0.1, 0.5, 0.3, 0.9]
    assert c.labels == ("m2", "m4", "m1", "m3")
    np.testing.assert_allclose(c.log10x, np.log10(c.x))


def test_tied_scales_error_or_mean():
    df = table(params=[1e9, 1e8, 1e10, 1e9])
    with pytest.raises(SchemaError, match=r"tied scales .*\['m1', 'm4'\] share params"):
        extract_curves(df)
    c = extract_curves(df, ties="mean").curves[0]
    assert c.n_scales == 3
    assert c.y[1] == pytest.approx(0.4)
    assert any("tied scales averaged" in n for n in c.notes)


def test_one_scale_family_is_reported_not_dropped_silently():
    df = pd.concat([table(), table(family="solo", model=["s1"] * 4).iloc[:1]])
    cs = extract_curves(df)
    assert [c.family for c in cs.curves] == ["f"]
    ex = cs.excluded
    assert ex["model"].tolist() == ["s1"]
    assert "1 scale(s); at least 2" in ex["reason"].iloc[0]


def test_nan_values_and_unknown_sizes_excluded_with_reasons():
    df = table(value=[0.3, np.nan, 0.9, 0.5], params=[3e9, 1e8, np.nan, 1e9])
    cs = extract_curves(df)
    assert cs.curves[0].labels == ("m4", "m1")
    reasons = dict(zip(cs.excluded["model"], cs.excluded["reason"], strict=True))
    assert reasons["m2"].startswith("no value")
    assert reasons["m3"].startswith("unknown scale 'params'")
    assert "2 rows" not in cs.summary() and "excluded 1 rows" in cs.summary()


def test_mixed_shots_give_separate_curves():
    df = pd.concat([table(shots=0), table(shots=5, value=[0.4, 0.2, 0.95, 0.6])])
    cs = extract_curves(df)
    assert sorted(c.shots for c in cs.curves) == [0, 5]
    assert all(c.n_scales == 4 for c in cs.curves)


def test_along_step_excludes_step_zero():
    df = pd.DataFrame({"family": "P", "model": "p1", "task": "t", "metric": "acc",
                       "step": [0, 1000, 2000, 4000], "tokens": [0, 2e9, 4e9, 8e9],
                       "value": [0.0, 0.1, 0.2, 0.4], "params": 1e8})
    cs = extract_curves(df, x="tokens", along="step")
    assert cs.curves[0].x.tolist() == [2e9, 4e9, 8e9]
    assert cs.curves[0].model == "p1"
    assert "cannot be placed on a log axis" in cs.excluded["reason"].iloc[0]


def test_final_step_selection():
    df = pd.DataFrame({"family": "P", "model": ["a", "a", "b", "b"], "task": "t", "metric": "acc",
                       "step": [10, 20, 10, 20], "value": [0.1, 0.2, 0.3, 0.4],
                       "params": [1e8, 1e8, 1e9, 1e9]})
    c = extract_curves(df).curves[0]
    assert c.y.tolist() == [0.2, 0.4]
    c10 = extract_curves(df, step=10).curves[0]
    assert c10.y.tolist() == [0.1, 0.3]
    with pytest.raises(SchemaError, match="several rows per model"):
        extract_curves(df, step=None)


def items_table(drop_item=None):
    rng = np.random.default_rng(0)
    rows = []
    for m, p in (("a", 1e8), ("b", 1e9), ("c", 1e10)):
        for i in range(20):
            if drop_item and (m, i) == drop_item:
                continue
            rows.append({"family": "f", "model": m, "task": "t", "metric": "exact_match",
                         "item": f"q{i}", "value": float(rng.random() < 0.5), "params": p})
    return pd.DataFrame(rows)


def test_item_matrix():
    c = extract_curves(items_table()).curves[0]
    assert c.items.shape == (20, 3)
    np.testing.assert_allclose(c.y, c.items.mean(axis=0))
    assert c.n_items.tolist() == [20, 20, 20]


def test_missing_items_between_scales():
    df = items_table(drop_item=("b", 7))
    with pytest.raises(SchemaError, match=r"items differ between scales.*missing at \{'b': \['q7'\]\}"):
        extract_curves(df)
    cs = extract_curves(df, on_mismatch="intersect")
    c = cs.curves[0]
    assert c.items.shape == (19, 3)
    assert "1 items not present at every scale were dropped" in c.notes
    assert sorted(cs.excluded["model"]) == ["a", "c"]  # q7 of a and c, reported


def test_chance_is_never_taken_from_a_task_name():
    # piqa is a 2-choice task, but nothing in this table says so: chance stays unknown
    df = pd.DataFrame({"model": ["a", "b", "c"], "task": "piqa", "metric": ["acc"] * 3,
                       "value": [0.5, 0.6, 0.7], "params": [1e8, 1e9, 1e10]})
    c = extract_curves(df).curves[0]
    assert np.isnan(c.chance) and c.chance_source == "unknown"
    c = extract_curves(df, chance={"piqa": 0.5}).curves[0]
    assert c.chance == 0.5 and c.chance_source == "declared"
    ppl = extract_curves(df.assign(metric="ppl", value=[30.0, 20.0, 10.0])).curves[0]
    assert np.isnan(ppl.chance) and ppl.chance_source == "not applicable"


def test_bad_x():
    with pytest.raises(ValueError, match="`x` must be one of"):
        extract_curves(table(), x="size")


def test_per_item_rows_supersede_aggregates_with_a_reason():
    items = items_table()
    agg = items.groupby("model", as_index=False).agg(value=("value", "mean"), params=("params", "first"))
    agg = agg.assign(family="f", task="t", metric="exact_match")
    cs = extract_curves(pd.concat([items, agg], ignore_index=True))
    assert cs.curves[0].items.shape == (20, 3)
    assert (cs.excluded["reason"] == "aggregate row superseded by per-item rows of the same curve").sum() == 3
