"""Per-item readers on fixtures written from the documented schemas (tests/fixtures/)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emergence.io.bigbench import read_bigbench
from emergence.io.helm import read_helm
from emergence.io.records import read_records
from emergence.io.samples import detect_format, parse_model_args, read_samples
from emergence.records import step_from_revision, validate_records
from emergence.scoring import rescore

FIX = Path(__file__).resolve().parents[1] / "fixtures"


# --- lm-eval v0.4.0-0.4.2 -------------------------------------------------------------------


def test_v040_arrays_detected_and_read():
    files = sorted((FIX / "lm_eval_040").rglob("*.jsonl"))
    assert {detect_format(f) for f in files} == {"lm-eval-0.4.0"}
    rec = read_samples(FIX / "lm_eval_040")
    assert set(rec["model"]) == {"pythia-70m"}
    assert set(rec["step"]) == {1000} and set(rec["revision"]) == {"step1000"}
    mc = rec[rec["task"] == "arc_easy"]
    assert mc["output_type"].eq("multiple_choice").all()
    assert mc["gold"].tolist() == [0, 0, 0, 0]
    assert mc["choice_loglik"].iloc[1] == [-5.7, -6.0, -7.0, -8.0]
    assert mc["target"].tolist() == [" 132", " 56", " 81", " 42"]
    # no 'filter' key: names come from the task config in filter-major order
    gen = rec[rec["task"] == "gsm8k"]
    assert gen.groupby("filter").size().to_dict() == {"flexible-extract": 4, "strict-match": 4}
    strict = gen[gen["filter"] == "strict-match"]
    assert strict["prediction"].tolist() == ["132", "56", "[invalid]", "[invalid]"]
    assert (rec["shots"].tolist() == [0] * 4 + [5] * 8)


def test_v040_rescore_matches_logged_scores():
    rec = read_samples(FIX / "lm_eval_040")
    s = rescore(rec, metrics=["exact_match", "multiple_choice_grade"])
    for filt in ("strict-match", "flexible-extract"):
        ours = s[s["metric"] == f"exact_match,{filt}"]["value"].to_numpy()
        logged = rec[rec["filter"] == filt]["harness_scores"].map(
            lambda d: d["exact_match"]).to_numpy(float)
        np.testing.assert_array_equal(ours, logged)
    mcg = s[s["metric"] == "multiple_choice_grade"]["value"].to_numpy()
    logged = rec[rec["task"] == "arc_easy"]["harness_scores"].map(lambda d: d["acc"])
    np.testing.assert_array_equal(mcg, logged.to_numpy(float))


# --- lm-eval v0.3 write_out -----------------------------------------------------------------


def test_v03_write_out_all_three_types():
    rec = read_samples(FIX / "lm_eval_03")
    assert {detect_format(f) for f in (FIX / "lm_eval_03").rglob("*_write_out_info.json")} == {
        "lm-eval-0.3"}
    # the model comes from the aggregate JSON next to the logs
    assert set(rec["model"]) == {"pythia-v1.1-160m"} and set(rec["step"]) == {13000}
    types = rec.groupby("task")["output_type"].first().to_dict()
    assert types == {"arc_easy": "multiple_choice", "arithmetic_2dm": "generate_until",
                     "lambada_openai": "loglikelihood"}
    arc = rec[rec["task"] == "arc_easy"]
    assert [c.strip() for c in arc["choices"].iloc[0]] == ["132", "121", "23", "banana"]
    lam = rec[rec["task"] == "lambada_openai"]
    assert lam["is_greedy"].tolist() == [True, False, False, False]
    assert lam["target_loglik"].tolist() == [-2.0, -2.5, -3.0, -3.5]
    gen = rec[rec["task"] == "arithmetic_2dm"]
    assert gen["prediction"].tolist()[0] == " 3\n"  # a numeric generation stays text
    s = rescore(rec, metrics=["exact_match", "multiple_choice_grade"])
    em = s[(s["task"] == "arithmetic_2dm")]["value"].tolist()
    assert em == [float(x) for x in gen["harness_scores"].map(lambda d: d["acc"])]
    mcg = s[s["metric"] == "multiple_choice_grade"]["value"].tolist()
    assert mcg == [float(x) for x in arc["harness_scores"].map(lambda d: d["acc"])]


def test_v03_without_model_information_needs_model(tmp_path):
    src = FIX / "lm_eval_03" / "pythia-160m-step13000" / "lambada_openai_write_out_info.json"
    (tmp_path / src.name).write_text(src.read_text())
    with pytest.raises(Exception, match="model="):
        read_samples(tmp_path)
    rec = read_samples(tmp_path, model="m", params=1e8, step=5)
    assert rec["params"].eq(1e8).all() and rec["step"].eq(5).all()


def test_parse_model_args_and_steps():
    assert parse_model_args({"pretrained": "x"}) == {"pretrained": "x"}
    assert parse_model_args("pretrained=a/b,revision=step3,dtype=float32")["revision"] == "step3"
    assert step_from_revision("global_step500") == 500
    assert step_from_revision("v1.0") is None


def test_scale_lookups_and_tokens_per_step():
    rec = read_samples(FIX / "lm_eval_040", params={"pythia-70m": 7.0e7},
                       tokens_per_step=2_097_152, family="Pythia")
    assert rec["params"].eq(7.0e7).all()
    assert rec["tokens"].eq(1000 * 2_097_152).all()
    assert rec["family"].eq("Pythia").all()
    rec2 = read_samples(FIX / "lm_eval_040", params={("pythia-70m", 1000): 7.1e7})
    assert rec2["params"].eq(7.1e7).all()


# --- BIG-bench ------------------------------------------------------------------------------


def test_bigbench_full_log():
    rec = read_bigbench(FIX / "bigbench")
    assert sorted(rec["model"].unique()) == ["125m", "16m", "2m", "53m"]
    assert set(rec["family"]) == {"BIG-G T=0"}
    one = rec[rec["model"] == "16m"]
    assert one.groupby("output_type").size().to_dict() == {
        "generate_until": 4, "loglikelihood": 4, "multiple_choice": 4}
    mc = one[one["output_type"] == "multiple_choice"].iloc[0]
    raw = json.loads((FIX / "bigbench/arithmetic/results/full-log_BIG-G_T_0_16m.json").read_text())
    s0 = raw["queries"][1]["samples"][0]
    assert mc["choice_loglik"] == s0["absolute_scores"]
    assert mc["gold"] == 0 and mc["target"] == "132"
    # normalized scores: log-softmax of the absolute ones, so choice metrics agree
    recn = read_bigbench(FIX / "bigbench", scores="normalized")
    a = rescore(rec, metrics=["p_choices", "brier_score", "multiple_choice_grade"])
    b = rescore(recn, metrics=["p_choices", "brier_score", "multiple_choice_grade"])
    np.testing.assert_allclose(a["value"], b["value"], atol=1e-12)
    # p_vocab differs: absolute is over the vocabulary, normalized is over the choices
    pa = rescore(rec, metrics=["p_vocab"]).query("metric == 'p_vocab'")
    pn = rescore(recn, metrics=["p_vocab"]).query("metric == 'p_vocab'")
    assert (pa["value"].to_numpy() <= pn["value"].to_numpy() + 1e-12).all()
    # BIG-bench exact_str_match per target is reproduced with its own rule (normalize='none')
    gen = rec[rec["output_type"] == "generate_until"]
    s = rescore(gen, metrics=["exact_match"])
    assert set(s["normalize"]) == {"none (the source's rule)"}
    logged = {}
    for f in sorted((FIX / "bigbench/arithmetic/results").glob("full-log_*.json")):
        raw = json.loads(f.read_text())
        for x in raw["queries"][0]["samples"]:
            logged[(raw["model"]["model_name"], x["input"])] = next(
                iter(x["targets"].values()))["exact_str_match"]
    ours = s.merge(gen[["model", "item", "input"]], on=["model", "item"])
    assert len(ours) == len(logged) == 16
    for m, inp, v in zip(ours["model"], ours["input"], ours["value"], strict=True):
        assert logged[(m, inp)] == v


def test_bigbench_rejects_scores_only_files(tmp_path):
    p = tmp_path / "full-log_x_y.json"
    p.write_text(json.dumps({"task": {"task_name": "t"}, "model": {}, "scores": [],
                             "queries": None}))
    with pytest.raises(Exception, match="--log_queries"):
        read_bigbench(p)


# --- HELM -----------------------------------------------------------------------------------


def test_helm_runs():
    runs = sorted((FIX / "helm/runs/v1").iterdir())
    rec = read_helm(runs, params={"gpt2": 1.24e8, "gpt2-medium": 3.55e8})
    sep = rec[rec["task"].str.contains("separate")]
    assert sep["output_type"].eq("multiple_choice").all()
    # choice log-likelihood = sum of token log-probs after the conditioning tokens
    assert sep[sep["model"] == "gpt2"]["choice_loglik"].iloc[0] == [-1.0, -1.6, -1.7]
    assert sep[sep["model"] == "gpt2-medium"]["choice_loglik"].iloc[0][0] == 0.0
    # calibration requests are skipped; per-instance stats are attached
    assert sep["harness_scores"].map(lambda d: d["exact_match"]).tolist() == [0, 0, 0, 1, 1, 1]
    gen = rec[rec["task"] == "gsm"]
    assert gen["item"].tolist() == ["id0", "id0|typos", "id1"]  # trial 1 left out
    assert rec.attrs["skipped_trials"] == 1
    joint = rec[rec["task"].str.contains("joint")]
    assert joint["prediction"].tolist() == ["132", "15"]  # letters mapped to reference text
    s = rescore(rec, metrics=["exact_match", "multiple_choice_grade"])
    assert s[s["task"].str.contains("joint")]["value"].tolist() == [1.0, 0.0]
    mcg = s[s["metric"] == "multiple_choice_grade"].groupby("model")["value"].mean()
    assert mcg.to_dict() == {"gpt2": 1.0, "gpt2-medium": 1.0}
    assert rec.loc[rec["model"] == "gpt2", "params"].eq(1.24e8).all()


def test_helm_all_trials(tmp_path):
    rec = read_helm(FIX / "helm/runs/v1/gsm:model=openai_gpt2", trial=None)
    assert sorted(rec["item"]) == ["id0#0", "id0#1", "id0|typos#0", "id1#0"]


# --- plain records --------------------------------------------------------------------------


def test_plain_csv_and_jsonl(tmp_path):
    csv = tmp_path / "r.csv"
    pd.DataFrame({
        "model": ["a", "a", "b", "b"], "item": [1, 2, 1, 2], "task": "t",
        "prediction": ["4", "5", None, None], "target": ["4", "6", "4", "6"],
        "choice_loglik": [None, None, "[-1.0, -2.0]", "[-3.0, -0.5]"],
        "gold": [None, None, 0, 0], "params": [1e6, 1e6, 1e7, 1e7],
    }).to_csv(csv, index=False)
    rec = read_records(csv)
    assert rec["output_type"].tolist() == ["generate_until"] * 2 + ["multiple_choice"] * 2
    assert rec["choice_loglik"].iloc[3] == [-3.0, -0.5]
    assert rec["source"].iloc[0].endswith("r.csv:2")
    jl = tmp_path / "r.jsonl"
    jl.write_text("\n".join(json.dumps(r) for r in [
        {"model": "a", "doc_id": 0, "output": "x y", "target": "x z", "task": "t"},
        {"model": "a", "doc_id": 1, "logprob": -2.0, "target": "z", "task": "t2",
         "target_ntokens": 2},
    ]))
    rec = read_records(jl)
    assert rec["item"].tolist() == ["0", "1"]
    assert rec["output_type"].tolist() == ["generate_until", "loglikelihood"]
    s = rescore(rec, metrics=["token_edit_distance", "loglik_per_token"])
    assert s.set_index("metric")["value"].to_dict() == {"token_edit_distance": 1.0,
                                                         "loglik_per_token": -1.0}


def test_validate_records_errors():
    base = {"model": ["m"], "task": ["t"], "item": ["1"]}
    with pytest.raises(Exception, match="output_type"):
        validate_records(pd.DataFrame({**base, "output_type": ["classify"]}))
    # bad values flag their row (``invalid``) instead of aborting the file
    rec = validate_records(pd.DataFrame({**base, "output_type": ["multiple_choice"],
                                         "choices": [["a"]], "choice_loglik": [[-1.0, -2.0]],
                                         "gold": [0]}))
    assert rec["invalid"].iloc[0] == "1 choices but 2 log-likelihoods"
    rec = validate_records(pd.DataFrame({**base, "output_type": ["multiple_choice"],
                                         "choice_loglik": [[-1.0, -2.0]], "gold": [2]}))
    assert "'gold' 2 is missing or not an index" in rec["invalid"].iloc[0]
    with pytest.raises(Exception, match="required"):
        validate_records(pd.DataFrame({"model": ["m"]}))
    assert math.isnan(validate_records(pd.DataFrame({**base, "output_type": ["loglikelihood"]}))[
        "target_loglik"].iloc[0])
