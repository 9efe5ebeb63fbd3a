"""lighteval details and Every Eval Ever files.

lighteval: fixture ``tests/fixtures/make_lighteval.py`` (lighteval >= 0.10 layout). Reference:
lighteval's own aggregates in ``results_<date>.json`` (``acc`` for the loglikelihood task,
``em`` for the generative one). Statistic: the mean of the re-scored per-item values per model.
Null: equal to 1e-12.

Every Eval Ever: schema 0.3.0 (``eval.schema.json``, ``instance_level_eval.schema.json`` of
``evaleval/every_eval_ever``). Reference: the table written. Statistic: the table read back.
Null: the same rows and values.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emergence import datasets
from emergence._exceptions import DataExclusionWarning, FormatError
from emergence.cli import main
from emergence.ingest import read
from emergence.io.eee import read_eee, write_eee
from emergence.io.lighteval import lighteval_scores, read_lighteval
from emergence.scoring import rescore

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "lighteval"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_lighteval_details_rescore_to_lightevals_own_scores():
    rec = read_lighteval(FIX)
    assert sorted(rec["model"].unique()) == ["HuggingFaceTB/SmolLM2-1.7B",
                                             "HuggingFaceTB/SmolLM2-135M",
                                             "HuggingFaceTB/SmolLM2-360M"]
    assert set(zip(rec["task"], rec["shots"], strict=True)) == {("arc:easy", 0), ("gsm8k", 5)}
    mc = rec[rec["output_type"] == "multiple_choice"]
    assert set(mc["n_choices"]) == {4}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataExclusionWarning)
        s = rescore(rec)
    ours = (s[s["metric"].isin(["multiple_choice_grade", "exact_match"])]
            .groupby(["model", "task", "shots", "metric"])["value"].mean().reset_index())
    ours["metric"] = ours["metric"].map({"multiple_choice_grade": "acc", "exact_match": "em"})
    ref = lighteval_scores(FIX)
    both = ref.merge(ours, on=["model", "task", "shots", "metric"], suffixes=("_ref", "_ours"))
    assert len(both) == 6
    np.testing.assert_allclose(both["value_ours"], both["value_ref"], rtol=0, atol=1e-12)
    assert set(s.loc[s["metric"] == "exact_match", "normalize"]) == {"strip (the source's rule)"}
    # several gold answers: any of them counts (lighteval's acc), not only the first
    two = mc[mc["item"] == "5"]
    assert (two["choice_values"].map(lambda v: v == [1.0, 0.0, 1.0, 0.0])).all()


def test_lighteval_not_details(tmp_path):
    p = tmp_path / "details_x|0_2025-01-01T00-00-00.000001.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(p)
    with pytest.raises(FormatError, match="doc, metric and model_response"):
        read_lighteval(p)


def test_eee_round_trip_aggregates_and_items(tmp_path):
    agg = datasets.load("obsscaling-emergent")
    lab = datasets.load("lab-gpt2")
    lab = lab[(lab["task"] == "add_3d_mc") & lab["metric"].isin(["multiple_choice_grade",
                                                                  "brier_score"])]
    for name, table in (("agg", agg), ("items", lab)):
        out = tmp_path / name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataExclusionWarning)
            files = write_eee(table, out, retrieved_timestamp="1764600000")
        back = read_eee(out)
        if name == "items":
            back = back[back["item"].notna()]
        key = ["family", "model", "step", "task", "shots", "metric", "item", "run"]
        a = table[table["value"].notna()].set_index(key).sort_index()
        b = back.set_index(key).sort_index()
        assert a.index.equals(b.index)
        for c in ("value", "params", "tokens", "flops", "n_choices", "target_tokens"):
            np.testing.assert_allclose(a[c].astype(float), b[c].astype(float), rtol=1e-12)
        if name == "agg":
            np.testing.assert_allclose(a["stderr"].astype(float), b["stderr"].astype(float))
            assert a["n_items"].equals(b["n_items"])
        # files follow the schema's layout and required fields
        for f in files:
            rel = f.relative_to(out)
            assert rel.parts[0] == "data" and len(rel.parts) == 5
            stem = f.name.removesuffix("_samples.jsonl").removesuffix(".json")
            assert UUID4.match(stem)
            if f.suffix == ".json":
                log = json.loads(f.read_text())
                assert log["schema_version"] == "0.3.0"
                assert {"evaluation_id", "retrieved_timestamp", "source_metadata", "model_info",
                        "eval_library", "evaluation_results"} <= set(log)
                assert {"deployment_type", "model_availability"} <= set(
                    log["model_info"]["additional_details"])
                assert all(isinstance(v, str)
                           for v in log["model_info"]["additional_details"].values())
                for r in log["evaluation_results"]:
                    assert {"evaluation_name", "source_data", "metric_config",
                            "score_details"} <= set(r)
                    assert "lower_is_better" in r["metric_config"]
                if "detailed_evaluation_results" in log:
                    d = log["detailed_evaluation_results"]
                    inst = f.parent / Path(d["file_path"]).name
                    assert d["file_path"].startswith("data/") and inst.exists()
                    assert d["total_rows"] == len(inst.read_text().splitlines())
        # the declared facts come back with the file
        facts = read_eee(out).attrs["metric_facts"]
        assert facts[table["metric"].iloc[0]]["higher_is_better"] in (True, False)
    # brier_score is lower-is-better and bounded [0, 2] in what was written
    assert facts["brier_score"] == {"higher_is_better": False, "lower": 0.0, "upper": 2.0}


def test_eee_files_through_analyze(tmp_path):
    table = datasets.load("obsscaling-emergent")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataExclusionWarning)
        write_eee(table, tmp_path / "eee", retrieved_timestamp="1")
    t = read(tmp_path / "eee")
    assert len(t) == int(table["value"].notna().sum())
    rc = main(["analyze", str(tmp_path / "eee"), "--x", "flops", "--tasks", "arithmetic_3ds",
               "--no-verdicts", "--quiet", "--out", str(tmp_path / "r")])
    assert rc == 0


def test_eee_lm_eval_converter_convention(tmp_path):
    """Files from the coalition's lm-eval converter name the metric in evaluation_description."""
    log = {"schema_version": "0.3.0", "evaluation_id": "lm_eval/m/1", "retrieved_timestamp": "1",
           "source_metadata": {"source_type": "evaluation_run", "source_organization_name": "x",
                               "evaluator_relationship": "third_party"},
           "eval_library": {"name": "lm_eval", "version": "0.4.13"},
           "model_info": {"name": "pythia-160m", "id": "EleutherAI/pythia-160m",
                          "additional_details": {"deployment_type": "unknown",
                                                 "model_availability": "open_weights"}},
           "evaluation_results": [
               {"evaluation_name": "gsm8k/strict-match",
                "source_data": {"dataset_name": "gsm8k", "source_type": "other"},
                "metric_config": {"evaluation_description": "exact_match (filter: strict-match)",
                                  "lower_is_better": False},
                "score_details": {"score": 0.02, "uncertainty": {
                    "standard_error": {"value": 0.004, "method": "bootstrap"},
                    "num_samples": 1319}},
                "generation_config": {"additional_details": {"num_fewshot": "5"}}}]}
    p = tmp_path / "d.json"
    p.write_text(json.dumps(log))
    t = read_eee(p)
    row = t.iloc[0]
    assert (row["task"], row["metric"], row["shots"], row["n_items"]) == (
        "gsm8k", "exact_match,strict-match", 5, 1319)
