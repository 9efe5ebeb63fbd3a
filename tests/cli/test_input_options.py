"""--params, --tokens and the CSV-table options mean the same on every command that reads files;
errors name the flag at the CLI and the argument in Python; locations are file lines."""

from __future__ import annotations

import pandas as pd
import pytest

from emergence._exceptions import FormatError
from emergence.cli import main
from emergence.ingest import read

MODELS = {"gpt2": 1.24e8, "gpt2-medium": 3.55e8, "gpt2-large": 7.74e8, "gpt2-xl": 1.5e9}


def _lu_table(path):
    """Shaped like Lu et al. (2024) evaluation_scores.csv: runs by seed, -100 = not computed."""
    rows = []
    for k, m in enumerate(MODELS):
        for j, seed in enumerate((2266, 105, 86379)):
            rows.append({"run_id": f"r{k}{j}", "filename": "tracking_shuffled_objects/task.json",
                         "model": m, "prompt_type": "closed", "number_of_shots": 0,
                         "seed": seed, "exact_match_accuracy": 0.16 + 0.05 * k + 0.004 * j,
                         "bert_score_accuracy": -100, "edit_distance": 36.0 - 2 * k})
    pd.DataFrame(rows).to_csv(path, index=False)


def _table_args(path):
    return [str(path), "--columns", "task=filename,shots=number_of_shots,run=seed",
            "--value-columns", "exact_match_accuracy,bert_score_accuracy,edit_distance",
            "--sentinel", "-100", "--params", *[f"{m}={n:g}" for m, n in MODELS.items()],
            "--runs", "mean",
            # the table's own metrics: their facts are declared, not guessed from the names
            "--metric-info", "exact_match_accuracy=higher,discontinuous,0:1,exact_match",
            "--metric-info", "bert_score_accuracy=higher,continuous,0:1"]


def test_same_table_options_on_analyze_and_screen(tmp_path):
    p = tmp_path / "evaluation_scores.csv"
    _lu_table(p)
    a = _table_args(p)
    assert main(["analyze", *a, "--no-verdicts", "--quiet", "--out", str(tmp_path / "r")]) == 0
    pts = pd.read_csv(tmp_path / "r" / "tables" / "points.csv")
    em = pts[pts["metric"] == "exact_match_accuracy"].sort_values("x")
    assert em["x"].tolist() == sorted(MODELS.values())
    assert (em["n_runs"] == 3).all() and em["run_sd"].gt(0).all()
    excl = pd.read_csv(tmp_path / "r" / "tables" / "excluded.csv")
    assert excl["reason"].str.contains("sentinel -100").any()
    assert main(["screen", *a, "--n-boot", "19", "--quiet", "--out", str(tmp_path / "s")]) == 0
    assert len(pd.read_csv(tmp_path / "s" / "curves.csv")) == 2


def test_params_replace_file_values_everywhere(tmp_path, capsys):
    p = tmp_path / "t.csv"
    pd.DataFrame({"model": ["a", "b", "c"], "task": "t", "metric": "acc",
                  "value": [0.1, 0.2, 0.6], "params": [1.0, 2.0, 3.0]}).to_csv(p, index=False)
    t = read(p, params={"a": 1e8, "b": 1e9, "c": 1e10}, tokens=2e10)
    assert t["params"].tolist() == [1e8, 1e9, 1e10]
    assert t["flops"].tolist() == [6 * n * 2e10 for n in (1e8, 1e9, 1e10)]
    # Python names the argument, the CLI the flag
    with pytest.raises(FormatError, match=r"^`params` names model\(s\) \['d'\]"):
        read(p, params={"d": 1.0})
    assert main(["analyze", str(p), "--params", "d=1", "--quiet", "--no-verdicts",
                 "--out", str(tmp_path / "o")]) == 2
    assert "--params names model(s) ['d']" in capsys.readouterr().err
    assert main(["analyze", str(p), "--params", "a=big", "--quiet", "--no-verdicts",
                 "--out", str(tmp_path / "o")]) == 2
    assert "--params: 'big' (for 'a') is not a number" in capsys.readouterr().err


def test_rescore_params_apply_to_plain_records(tmp_path):
    """Issue: --params was ignored for plain per-item CSVs."""
    p = tmp_path / "records.csv"
    p.write_text("model,task,item,prediction,target\n"
                 "small,add,0,41,42\nsmall,add,1,7,7\nlarge,add,0,42,42\nlarge,add,1,7,7\n")
    out = tmp_path / "s.csv"
    agg = tmp_path / "agg.csv"
    assert main(["rescore", str(p), "--out", str(out), "--params", "small=1e6", "large=1e8",
                 "--aggregate", str(agg), "--n-boot", "50"]) == 0
    s = pd.read_csv(out)
    assert set(zip(s["model"], s["params"], strict=True)) == {("small", 1e6), ("large", 1e8)}
    assert pd.read_csv(agg).groupby("metric")["x"].apply(sorted).map(list).tolist()[0] == [
        1e6, 1e8]


def test_corrupt_value_in_records_is_flagged_with_its_line(tmp_path, capsys):
    """Issue: a positive log-probability stopped the whole re-score."""
    p = tmp_path / "records.csv"
    p.write_text("model,task,item,target,target_loglik\n"
                 "m,t,0,a,-1.5\nm,t,1,b,0.3\nm,t,2,c,oops\nm,t,3,d,-0.2\n")
    out = tmp_path / "s.csv"
    assert main(["rescore", str(p), "--out", str(out), "--params", "1e6"]) == 0
    printed = capsys.readouterr().out
    assert "positive log-likelihood 0.3" in printed and "'oops' is not a number" in printed
    s = pd.read_csv(out)
    bad = s[s["item"].isin([1, 2])]
    assert bad["value"].isna().all() and bad["note"].str.startswith("invalid value").all()
    assert set(bad["source"].str.rsplit(":", n=1).str[1]) == {"3", "4"}  # file lines
    assert s[s["item"].isin([0, 3])]["value"].notna().all()


def test_errors_give_flags_at_the_cli_and_arguments_in_python(tmp_path, capsys):
    from emergence._exceptions import SchemaError

    p = tmp_path / "t.csv"
    pd.DataFrame({"model": ["a", "b", "c"], "task": "t", "metric": "acc",
                  "value": [42.0, 55.0, 61.0], "params": [1e8, 1e9, 1e10]}).to_csv(p, index=False)
    with pytest.raises(SchemaError) as err:
        read(p)
    msg = str(err.value)
    assert "read_table(..., percent=True)" in msg and "lines 2, 3, 4 hold" in msg
    assert main(["analyze", str(p), "--quiet", "--no-verdicts", "--out", str(tmp_path / "o")]) == 2
    cli = capsys.readouterr().err
    assert "--percent" in cli and "read_table" not in cli and "lines 2, 3, 4" in cli
    q = tmp_path / "neg.csv"
    pd.DataFrame({"model": ["a", "b"], "task": "t", "metric": "acc", "value": [-1, 0.5],
                  "params": [1e8, 1e9]}).to_csv(q, index=False)
    assert main(["analyze", str(q), "--quiet", "--no-verdicts", "--out", str(tmp_path / "o")]) == 2
    assert "--sentinel -1" in capsys.readouterr().err
    # ties: the CLI names --ties, Python names ties=
    r = tmp_path / "tied.csv"
    pd.DataFrame({"model": ["a", "b", "c"], "task": "t", "metric": "acc", "value": [0.2, 0.3, 0.4],
                  "params": [1e8, 1e8, 1e9]}).to_csv(r, index=False)
    assert main(["analyze", str(r), "--quiet", "--no-verdicts", "--out", str(tmp_path / "o")]) == 2
    assert "pass --ties mean" in capsys.readouterr().err
