import json

import numpy as np
import pytest

from emergence import FormatError
from emergence.ingest import read
from emergence.io import detect
from emergence.io.lm_eval import read_lm_eval
from emergence.sizes import PYTHIA_SIZES


def test_reads_every_pythia_file(published_subset):
    files = sorted((published_subset / "pythia-v1").rglob("*.json"))
    assert len(files) == 336
    df = read_lm_eval(published_subset / "pythia-v1")
    # the files keep 10 tasks (9 in the 120 five-shot files): 216 x 18 + 120 x 16 metric rows
    assert len(df) == 216 * 18 + 120 * 16 == 5808
    assert df["source"].nunique() == 336
    assert df["model"].nunique() == 8
    assert sorted(df["shots"].unique().tolist()) == [0, 5]
    # 27 zero-shot and 15 five-shot checkpoints per size
    ck = df.groupby(["model", "shots"])["step"].nunique()
    assert set(ck.xs(0, level="shots")) == {27} and set(ck.xs(5, level="shots")) == {15}
    assert df["value"].notna().all()
    # crows_pairs has no accuracy: its two metrics are read with their stderrs
    cp = df[df.task == "crows_pairs_english"]
    assert set(cp["metric"]) == {"likelihood_difference", "pct_stereotype"}
    assert cp["stderr"].notna().all() and set(cp["shots"]) == {0}


def test_pythia_scale_columns(published_subset):
    df = read_lm_eval(published_subset / "pythia-v1" / "pythia-160m" / "five-shot")
    row = df[(df.step == 13000) & (df.task == "lambada_openai") & (df.metric == "acc")].iloc[0]
    assert row["model"] == "pythia-160m" and row["family"] == "Pythia"
    assert row["params"] == PYTHIA_SIZES["160m"].params == 162_322_944
    assert row["nonembedding_params"] == 85_056_000
    assert row["tokens"] == 13000 * 2_097_152
    assert row["flops"] == pytest.approx(6 * 162_322_944 * 13000 * 2_097_152)
    assert row["revision"] == "step13000" and row["shots"] == 5


def test_n_items_recovered_from_stderr(published_subset):
    df = read_lm_eval(published_subset / "pythia-v1" / "pythia-70m" / "zero-shot")
    n = df[df.metric == "acc"].groupby("task")["n_items"].first()
    # the published test-set sizes
    assert n["lambada_openai"] == 5153
    assert n["piqa"] == 1838
    assert n["arc_easy"] == 2376
    assert n["arc_challenge"] == 1172
    assert n["winogrande"] == 1267
    assert n["sciq"] == 1000


def write(tmp_path, name, obj):
    p = tmp_path / name
    p.write_text(json.dumps(obj))
    return p


V04 = {
    "results": {
        "arith": {"alias": "arith", "name": "arith", "sample_len": 1000,
                  "exact_match,strict-match": 0.021, "exact_match_stderr,strict-match": 0.0045},
        "mc": {"alias": "mc", "acc,none": 0.41, "acc_stderr,none": 0.0156,
               "brier_score,none": 0.71, "brier_score_stderr,none": "N/A"},
        "grp": {"alias": "grp", "acc,none": 0.40, "acc_stderr,none": 0.011},
    },
    "groups": {"grp": {"alias": "grp", "acc,none": 0.40, "acc_stderr,none": 0.011}},
    "group_subtasks": {"grp": ["mc"]},
    "n-shot": {"arith": 0, "mc": 2},
    "n-samples": {"arith": {"original": 1000, "effective": 1000},
                  "mc": {"original": 500, "effective": 400}},
    "config": {"model": "hf", "model_args": {"pretrained": "EleutherAI/pythia-410m",
                                             "revision": "step3000"},
               "model_num_parameters": 405334016, "model_revision": "step3000"},
}


def test_v04_results(tmp_path):
    p = write(tmp_path, "results_2024-07-01T10-00-00.json", V04)
    assert detect(p) == "lm-eval-aggregate"
    df = read_lm_eval(p)
    assert len(df) == 4  # group read once, not twice
    em = df[df.metric == "exact_match,strict-match"].iloc[0]
    assert em["n_items"] == 1000 and em["shots"] == 0 and em["step"] == 3000
    mc = df[(df.task == "mc") & (df.metric == "acc")].iloc[0]
    assert mc["n_items"] == 400 and mc["shots"] == 2
    assert np.isnan(df[df.metric == "brier_score"]["stderr"].iloc[0])  # "N/A" -> NaN
    assert mc["params"] == PYTHIA_SIZES["410m"].params  # Pythia table wins over lm-eval's count


def test_v04_non_pythia_uses_model_num_parameters(tmp_path):
    obj = json.loads(json.dumps(V04))
    obj["config"]["model_args"] = "pretrained=/abs/tiny-gpt2"
    obj["config"]["model_num_parameters"] = 123456
    df = read_lm_eval(write(tmp_path, "results_x.json", obj))
    assert set(df["model"]) == {"tiny-gpt2"} and set(df["params"]) == {123456.0}


def test_unknown_model_size_kept_as_nan(tmp_path):
    obj = {"results": {"piqa": {"acc": 0.6, "acc_stderr": 0.01}}, "versions": {},
           "config": {"model_args": "pretrained=my-org/mystery", "num_fewshot": 0}}
    df = read_lm_eval(write(tmp_path, "mystery.json", obj))
    assert np.isnan(df["params"].iloc[0])
    df2 = read_lm_eval(tmp_path / "mystery.json", params={"mystery": 3e8})
    assert df2["params"].iloc[0] == 3e8


def test_json_that_is_not_lm_eval(tmp_path):
    p = write(tmp_path, "other.json", {"hello": [1, 2, 3]})
    with pytest.raises(FormatError, match=r"other.json: JSON that is not an lm-evaluation-harness"):
        detect(p)
    with pytest.raises(FormatError, match="not an lm-evaluation-harness results file"):
        read_lm_eval(p)


def test_truncated_json_names_line(tmp_path):
    p = tmp_path / "cut.json"
    p.write_text(json.dumps(V04)[:200])
    with pytest.raises(FormatError, match=r"cut.json: invalid JSON at line 1"):
        read_lm_eval(p)


def test_unknown_format(tmp_path):
    p = tmp_path / "notes.bin"
    p.write_bytes(b"\x00\x01\x02 binary junk")
    with pytest.raises(FormatError, match=r"notes.bin: unknown format"):
        read(p)


def test_missing_path():
    with pytest.raises(FileNotFoundError, match="no such file"):
        read("/nonexistent/results.json")


def test_stated_item_counts_are_not_harmonised(tmp_path):
    # two runs of one task with different --limit: the counts the files state are kept
    a = json.loads(json.dumps(V04))
    b = json.loads(json.dumps(V04))
    b["config"]["model_args"] = {"pretrained": "EleutherAI/pythia-1b", "revision": "step3000"}
    b["n-samples"]["arith"] = {"original": 1000, "effective": 100}
    df = read_lm_eval([write(tmp_path, "results_a.json", a), write(tmp_path, "results_b.json", b)])
    n = df[df.metric == "exact_match,strict-match"].set_index("model")["n_items"].to_dict()
    assert n == {"pythia-410m": 1000, "pythia-1b": 100}
