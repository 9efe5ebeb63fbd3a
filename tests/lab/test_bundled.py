"""The bundled lab dataset: real harness output, re-scored; checked against the harness itself."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from emergence._exceptions import EmergenceError
from emergence.lab.bundled import BUNDLE_FILES, bundled_dir, load_bundled
from emergence.schema import validate


@pytest.fixture(scope="module")
def table():
    return load_bundled()


@pytest.fixture(scope="module")
def harness():
    return pd.read_csv(bundled_dir() / "harness.csv")


def test_provenance_and_size():
    d = bundled_dir()
    prov = json.loads((d / "PROVENANCE.json").read_text())
    assert prov["command"].startswith("emergence lab run --preset paper")
    assert isinstance(prov["seed"], int)
    assert prov["versions"]["lm_eval"] == "0.4.13"
    assert prov["versions"]["torch"].startswith("2.13.0")
    assert prov["timings_s"]["total_s"] > 0
    total = sum((d / n).stat().st_size for n in BUNDLE_FILES)
    assert total < 5e6
    assert (d / "README.md").exists()


def test_tidy_table_shape(table):
    validate(table)
    ck = pd.read_csv(bundled_dir() / "checkpoints.csv")
    assert table["family"].unique().tolist() == ["lab-gpt2"]
    assert table["model"].nunique() >= 5
    final = ck.sort_values("step").drop_duplicates("model", keep="last")
    assert final["params"].max() / final["params"].min() >= 30
    np.testing.assert_allclose(ck["flops"], 6 * ck["params"] * ck["tokens"])
    assert (ck["nonembedding_params"] < ck["params"]).all()
    # same items at every size and checkpoint
    n = table.groupby(["model", "step", "task", "metric"])["item"].nunique()
    assert n.nunique() == 1
    assert {"exact_match", "token_edit_distance", "target_loglik", "multiple_choice_grade",
            "brier_score"} <= set(table["metric"])
    assert table["answer_len"].notna().all()


def _means(table, metric):
    return table[table["metric"] == metric].groupby(["model", "step", "task"])["value"].mean()


def test_rescoring_reproduces_the_harness_scores(table, harness):
    """Independent reference: the harness's own aggregate scores of the same checkpoints."""
    h = harness.set_index(["model", "step", "task", "metric"])["value"]
    em = _means(table, "exact_match")
    gen = [k for k in em.index if not k[2].endswith(("_ll", "_mc"))]
    ref = np.array([h[(m, s, t, "exact_match")] for m, s, t in gen])
    np.testing.assert_allclose(em[gen].to_numpy(), ref, atol=1e-12)
    # loglikelihood tasks: the harness's perplexity is exp(-mean summed log-likelihood)
    ll = _means(table, "target_loglik")
    lls = [k for k in ll.index if k[2].endswith("_ll")]
    ref = np.array([h[(m, s, t, "perplexity")] for m, s, t in lls])
    np.testing.assert_allclose(np.exp(-ll[lls].to_numpy()), ref, rtol=1e-4)
    # is_greedy -> the harness's acc of the loglikelihood tasks
    ref = np.array([h[(m, s, t, "acc")] for m, s, t in lls])
    np.testing.assert_allclose(em[lls].to_numpy(), ref, atol=1e-12)
    mcg = _means(table, "multiple_choice_grade")
    ref = np.array([h[(m, s, t, "acc")] for m, s, t in mcg.index])
    np.testing.assert_allclose(mcg.to_numpy(), ref, atol=1e-12)
    br = _means(table, "brier_score")
    ref = np.array([h[(m, s, t, "brier_score")] for m, s, t in br.index])
    np.testing.assert_allclose(br.to_numpy(), ref, atol=1e-4)


def test_metric_relations_per_item(table):
    gen = table[~table["task"].str.endswith(("_ll", "_mc"))]
    wide = gen.pivot_table(index=["model", "step", "task", "item"], columns="metric",
                           values="value")
    # with characters as tokens, zero edit distance is exactly an exact match
    np.testing.assert_array_equal(wide["token_edit_distance"] == 0, wide["exact_match"] == 1)
    # generative items carry the log-likelihood of their _ll companion
    ll = table[table["task"].str.endswith("_ll") & (table["metric"] == "target_loglik")].copy()
    ll["task"] = ll["task"].str[:-3]
    ll = ll.set_index(["model", "step", "task", "item"])["value"]
    np.testing.assert_allclose(wide["target_loglik"].to_numpy(), ll[wide.index].to_numpy())


def test_records_keep_the_logged_outputs():
    rec = load_bundled(records=True)
    gen = rec[rec["output_type"] == "generate_until"]
    assert gen["prediction"].notna().all()
    assert gen["target_loglik"].notna().all()  # attached from the _ll task
    mc = rec[rec["output_type"] == "multiple_choice"]
    assert all(len(c) == 4 for c in mc["choice_loglik"])
    assert (mc["target"] == [c[g] for c, g in zip(mc["choices"], mc["gold"], strict=True)]).all()


def test_tampered_bundle_is_refused(tmp_path):
    for name in [*BUNDLE_FILES, "PROVENANCE.json"]:
        shutil.copy(bundled_dir() / name, tmp_path / name)
    ck = pd.read_csv(tmp_path / "checkpoints.csv")
    ck.loc[0, "params"] *= 2
    ck.to_csv(tmp_path / "checkpoints.csv", index=False)
    with pytest.raises(EmergenceError, match="checkpoints.csv.*sha256"):
        load_bundled(path=tmp_path)


def test_loading_needs_no_torch():
    code = ("import sys; from emergence.lab import load_bundled; "
            "t = load_bundled(); assert len(t); "
            "assert not {'torch', 'transformers', 'lm_eval'} & set(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
