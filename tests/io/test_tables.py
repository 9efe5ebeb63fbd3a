import numpy as np
import pandas as pd
import pytest

from emergence import SchemaError
from emergence.ingest import read
from emergence.io.tables import infer_n_items, read_table

META = {"family": "Model Family", "params": "Model Size (B)",
        "tokens": "Pretraining Data Size (T)", "flops": "FLOPs (1E21)"}
UNITS = {"params": 1e9, "tokens": 1e12, "flops": 1e21}


@pytest.mark.parametrize(
    "fname, n_models, n_bench",
    [
        ("base_llm_benchmark_eval.csv", 148, 8),
        ("base_llm_benchmark_eval_sub_10b.csv", 92, 8),
        ("instruct_llm_benchmark_eval.csv", 27, 9),
    ],
)
def test_reads_obsscaling_model_tables(published_subset, fname, n_models, n_bench):
    df = read_table(published_subset / "obsscaling" / fname, layout="wide",
                    columns={"model": "Model", **META}, metric="score", units=UNITS)
    assert len(df) == n_models * n_bench
    assert df["model"].nunique() == n_models
    # missing cells are kept as rows with a note, not dropped
    raw = pd.read_csv(published_subset / "obsscaling" / fname)
    bench_cols = [c for c in raw.columns if c not in ("Model", *META.values())]
    assert df["value"].isna().sum() == raw[bench_cols].isna().sum().sum()
    assert (df.loc[df["value"].isna(), "note"] == "missing value (NaN)").all()


def test_reads_obsscaling_leaderboard(published_subset):
    df = read_table(published_subset / "obsscaling" / "base_llm_leaderboard_v2_eval.csv",
                    layout="wide", columns={"model": "Model"}, metric="acc")
    assert len(df) == 72 * 6


def test_reads_emergent_table_joined_with_metadata(published_subset):
    obs = published_subset / "obsscaling"
    df = read_table(
        obs / "base_llm_emergent_capability_eval.csv", layout="wide", columns={"model": "Model"},
        column_pattern=r"(?P<task>.+)_(?P<shots>\d+)_(?P<metric>acc|exact_match|bleu)",
        metadata=obs / "base_llm_benchmark_eval.csv", metadata_columns=META, on="Model",
        units=UNITS)
    assert len(df) == 84 * 8
    assert set(df["shots"]) == {2}
    assert set(df["metric"]) == {"acc", "exact_match", "bleu"}
    assert df["params"].notna().all()
    assert df["value"].isna().sum() == 59
    row = df[(df.model == "meta-llama/Llama-2-7b-hf") & (df.task == "arithmetic_3ds")].iloc[0]
    assert row["value"] == pytest.approx(0.859)
    assert row["params"] == 7e9 and row["flops"] == pytest.approx(84e21)
    assert row["family"] == "Llama-2"


def test_mapped_column_missing(tmp_path):
    p = tmp_path / "t.csv"
    pd.DataFrame({"name": ["a"], "task": ["x"], "metric": ["acc"], "value": [0.5]}).to_csv(p, index=False)
    with pytest.raises(SchemaError, match=r"t.csv: model column\(s\) \['Model'\] not found"):
        read_table(p, columns={"model": "Model"})


def test_metadata_join_column_missing(tmp_path):
    bench = pd.DataFrame({"Model": ["a"], "MMLU": [0.3]})
    meta = pd.DataFrame({"Model": ["a"], "Size": [1.0]})
    with pytest.raises(SchemaError, match=r"metadata column\(s\) \['Params'\] not found"):
        read_table(bench, columns={"model": "Model"}, metric="acc", metadata=meta,
                   metadata_columns={"params": "Params"})


@pytest.mark.parametrize("sentinel", [-1, -100])
def test_declared_sentinels_become_nan_with_note(sentinel):
    bench = pd.DataFrame({"Model": ["a", "b", "c"], "MMLU": [0.3, sentinel, 0.5]})
    df = read_table(bench, columns={"model": "Model"}, metric="acc", sentinels=(sentinel,))
    assert len(df) == 3
    assert np.isnan(df["value"].iloc[1])
    assert df["note"].iloc[1] == f"sentinel {sentinel} (missing)"


def test_undeclared_sentinel_errors():
    bench = pd.DataFrame({"Model": ["a", "b", "c"], "MMLU": [0.3, -1, 0.5]})
    with pytest.raises(SchemaError, match=r"sentinels=\(-1,\)"):
        read_table(bench, columns={"model": "Model"}, metric="acc")


def test_percent_in_one_model_fraction_in_another():
    bench = pd.DataFrame({"Model": ["a", "b", "c"], "MMLU": [0.3, 45.0, 0.5]})
    with pytest.raises(SchemaError, match=r"column 'MMLU' mixes percentages \(lines 3: \[45.0\]\)"):
        read_table(bench, columns={"model": "Model"}, metric="acc")


def test_percent_columns_converted():
    bench = pd.DataFrame({"Model": ["a", "b"], "MMLU": [30.0, 45.0], "GSM8K": [0.1, 0.2]})
    df = read_table(bench, columns={"model": "Model"}, metric="acc", percent=["MMLU"])
    assert df[df.task == "MMLU"]["value"].tolist() == [0.30, 0.45]
    assert df[df.task == "GSM8K"]["value"].tolist() == [0.1, 0.2]


def test_duplicate_models_with_different_values():
    bench = pd.DataFrame({"Model": ["a", "a"], "MMLU": [0.3, 0.4]})
    with pytest.raises(SchemaError, match=r"duplicate rows for .*'model': 'a'.*\[0.3, 0.4\]"):
        read_table(bench, columns={"model": "Model"}, metric="acc")


def test_duplicate_models_in_metadata():
    bench = pd.DataFrame({"Model": ["a"], "MMLU": [0.3]})
    meta = pd.DataFrame({"Model": ["a", "a"], "Size": [1.0, 2.0]})
    with pytest.raises(SchemaError, match=r"\['a'\] appear more than once"):
        read_table(bench, columns={"model": "Model"}, metric="acc", metadata=meta,
                   metadata_columns={"params": "Size"})


def test_models_missing_from_metadata_keep_nan_scale():
    bench = pd.DataFrame({"Model": ["a", "zz"], "MMLU": [0.3, 0.4]})
    meta = pd.DataFrame({"Model": ["a"], "Size": [1.0]})
    df = read_table(bench, columns={"model": "Model"}, metric="acc", metadata=meta,
                    metadata_columns={"params": "Size"}, units={"params": 1e9})
    assert df.set_index("model")["params"].isna().to_dict() == {"a": False, "zz": True}
    assert df.attrs["unmatched_models"] == ["zz"]


def test_column_pattern_mismatch_names_column():
    bench = pd.DataFrame({"Model": ["a"], "weird": [0.3]})
    with pytest.raises(SchemaError, match=r"column 'weird' does not match column_pattern"):
        read_table(bench, columns={"model": "Model"}, column_pattern=r"(?P<task>.+)_(?P<metric>acc)")


def test_long_csv_through_read(tmp_path):
    p = tmp_path / "long.csv"
    pd.DataFrame({"model": ["a", "b"], "task": "t", "metric": "acc", "value": [0.2, 0.4],
                  "params": [1e8, 1e9]}).to_csv(p, index=False)
    df = read(p)
    assert df["value"].tolist() == [0.2, 0.4]
    assert df["source"].str.endswith(("long.csv:2", "long.csv:3")).all()


def test_infer_n_items():
    vals = [k / 1050 for k in (264, 280, 300, 311, 500, 12, 77, 1049, 800, 650)]
    assert infer_n_items(vals) == 1050
    assert infer_n_items(vals[:5]) is None  # too few values to trust
