import numpy as np
import pandas as pd
import pytest

from emergence import SchemaError, UnknownMetricError
from emergence.schema import COLUMNS, excluded_rows, metric_info, validate


def base(**kw):
    d = {"model": ["a", "b", "c"], "task": "t", "metric": "acc", "value": [0.1, 0.2, 0.3]}
    d.update(kw)
    return pd.DataFrame(d)


def test_validate_fills_columns_and_defaults():
    df = validate(base(params=[1e8, 1e9, 1e10], tokens=[1e9, 1e9, 1e9]))
    assert list(df.columns) == list(COLUMNS)
    assert df["family"].tolist() == ["all", "all", "all"]
    np.testing.assert_allclose(df["flops"], 6 * np.array([1e8, 1e9, 1e10]) * 1e9)
    np.testing.assert_allclose(df["active_params"], df["params"])


def test_moe_flops_use_active_params():
    df = validate(base(params=[47e9] * 3, active_params=[13e9] * 3, tokens=[1e12] * 3,
                       model=["m1", "m2", "m3"]))
    np.testing.assert_allclose(df["flops"], 6 * 13e9 * 1e12)


def test_missing_required_column_names_it():
    with pytest.raises(SchemaError, match=r"missing required column\(s\) \['metric'\]"):
        validate(pd.DataFrame({"model": ["a"], "task": ["t"], "value": [1.0]}), name="x.csv")


def test_non_numeric_value_names_rows():
    with pytest.raises(SchemaError, match=r"column 'value'.*rows 1"):
        validate(base(value=[0.1, "oops", 0.3]))


def test_percent_and_fraction_mixed_names_rows():
    with pytest.raises(SchemaError, match=r"rows 1 hold \[45.0\].*percentages.*rows 0, 2 are fractions"):
        validate(base(value=[0.1, 45.0, 0.3]))


def test_undeclared_sentinel_suggests_declaring():
    with pytest.raises(SchemaError, match=r"sentinels=\(-1,\)"):
        validate(base(value=[0.1, -1, 0.3]))
    with pytest.raises(SchemaError, match=r"sentinels=\(-100,\)"):
        validate(base(value=[0.1, -100, 0.3]))


def test_nan_values_are_kept_with_note():
    df = validate(base(value=[0.1, np.nan, 0.3]))
    assert len(df) == 3
    ex = excluded_rows(df)
    assert ex["model"].tolist() == ["b"] and ex["note"].tolist() == ["missing value (NaN)"]


def test_conflicting_duplicates_raise():
    df = base(model=["a", "a", "c"], value=[0.1, 0.2, 0.3])
    with pytest.raises(SchemaError, match=r"duplicate rows for .*'model': 'a'.*\[0.1, 0.2\]"):
        validate(df)


def test_identical_duplicates_collapse_with_warning():
    df = base(model=["a", "a", "c"], value=[0.1, 0.1, 0.3])
    with pytest.warns(UserWarning, match="1 identical duplicate"):
        out = validate(df)
    assert len(out) == 2 and out.attrs["collapsed_duplicates"] == 1


def test_nonpositive_params_rejected():
    with pytest.raises(SchemaError, match=r"'params' must be positive"):
        validate(base(params=[1e8, 0, 1e9]))


def test_metric_info_builtin_and_declared():
    assert metric_info("acc,none").is_proportion
    assert metric_info("exact_match,strict-match").kind == "discontinuous"
    assert not metric_info("ppl").higher_is_better
    assert metric_info("bleu").sharp
    with pytest.raises(UnknownMetricError, match="metric_facts="):
        metric_info("something_new")
    assert metric_info("my_loss", {"my_loss": "lower,continuous,0:inf"}).higher_is_better is False
