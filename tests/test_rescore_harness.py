"""Real lm-evaluation-harness output (tiny GPT-2 family, run offline) parsed and re-scored.

The harness writes stringified responses; these tests check that every field is recovered, that
re-scoring reproduces the harness's own per-document metrics where both exist (exact_match,
acc, perplexity field, brier_score), and that every metric is produced for three model sizes.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

try:
    from harness_fixture import MODEL_SIZES, N_ITEMS, harness_run  # noqa: F401
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.harness_fixture import MODEL_SIZES, N_ITEMS, harness_run  # noqa: F401

from emergence.curves import extract_curves
from emergence.io.samples import detect_format, read_samples
from emergence.item_bootstrap import item_bootstrap, score_compute_correlations
from emergence.mirage import mirage_check
from emergence.scoring import METRICS, attach_loglik, rescore

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def records(harness_run):
    return read_samples(harness_run.output_path)


@pytest.fixture(scope="module")
def scores(records):
    rec = attach_loglik(records, to_task="toy_add_gen", from_task="toy_add_ll")
    return rescore(rec, family="tiny-gpt2")


def _raw_lines(harness_run, model: str, revision: str, task: str) -> list[dict]:
    run = next(r for r in harness_run.runs
               if r["model_dir"].name == model and r["revision"] == revision)
    folder = next(p for p in harness_run.model_dirs() if p.name.endswith(model))
    path = folder / f"samples_{task}_{run['date_id']}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_file_is_detected_as_043(harness_run):
    files = sorted(harness_run.output_path.rglob("samples_*.jsonl"))
    # 4 tasks x (3 models + 1 extra checkpoint)
    assert len(files) == 16
    assert {detect_format(f) for f in files} == {"lm-eval-0.4.3+"}


def test_checkpoints_in_one_folder_are_told_apart(records, harness_run):
    small = records[records["model"] == "tiny-s"]
    assert sorted(small["step"].unique().tolist()) == [1, 2]
    assert set(small["revision"]) == {"step1", "step2"}
    # both checkpoints landed in one folder
    assert len({p.name for p in harness_run.model_dirs()}) == len(MODEL_SIZES)
    # per-checkpoint values differ (different weights) and match the right file
    ll = small[small["task"] == "toy_add_ll"].pivot(index="item", columns="step",
                                                     values="target_loglik")
    assert not np.allclose(ll[1], ll[2])
    raw = _raw_lines(harness_run, "tiny-s", "step1", "toy_add_ll")
    for line in raw:
        assert ll.loc[str(line["doc_id"]), 1] == pytest.approx(float(line["filtered_resps"][0][0]))


def test_record_counts_and_columns(records):
    n_ckpt = len(MODEL_SIZES) + 1
    counts = records.groupby(["task", "filter"]).size().to_dict()
    assert counts == {("toy_add_gen", "raw"): N_ITEMS * n_ckpt,
                      ("toy_add_gen", "strict-match"): N_ITEMS * n_ckpt,
                      ("toy_add_ll", "none"): N_ITEMS * n_ckpt,
                      ("toy_add_mc", "none"): N_ITEMS * n_ckpt,
                      ("toy_text_rolling", "none"): N_ITEMS * n_ckpt}
    types = records.groupby("task")["output_type"].unique().map(list).to_dict()
    assert types == {"toy_add_gen": ["generate_until"], "toy_add_ll": ["loglikelihood"],
                     "toy_add_mc": ["multiple_choice"],
                     "toy_text_rolling": ["loglikelihood_rolling"]}
    assert records["params"].notna().all()
    assert records["doc_hash"].str.len().eq(64).all()
    assert (records["shots"] == 0).all()


def test_multiple_choice_fields_match_the_raw_file(records, harness_run):
    mc = records[(records["task"] == "toy_add_mc") & (records["model"] == "tiny-l")]
    raw = {str(x["doc_id"]): x for x in _raw_lines(harness_run, "tiny-l", "step2", "toy_add_mc")}
    for _, r in mc.iterrows():
        line = raw[r["item"]]
        assert r["gold"] == int(line["target"]) == line["doc"]["label"]
        assert r["choice_loglik"] == [float(x[0]) for x in line["filtered_resps"]]
        assert [c.strip() for c in r["choices"]] == line["doc"]["choices"]
        assert r["target"].strip() == line["doc"]["answer"]
        assert r["target_loglik"] == r["choice_loglik"][r["gold"]]


def test_rescore_reproduces_the_harness_per_document_metrics(records, scores, harness_run):
    docs = harness_run.docs
    # generate_until exact match: the harness used ignore_case on the filtered response
    gen = scores[scores["metric"] == "exact_match,strict-match"]
    rec = records[(records["task"] == "toy_add_gen") & (records["filter"] == "strict-match")]
    harness = rec.set_index(["model", "step", "item"])["harness_scores"].map(
        lambda d: d["exact_match"])
    ours = gen.set_index(["model", "step", "item"])["value"]
    assert len(ours) == len(harness) == N_ITEMS * 4
    assert (ours.sort_index() == harness.sort_index().astype(float)).all()
    # loglikelihood: the harness's 'perplexity' field is the raw log-likelihood, 'acc' is greedy
    ll = records[records["task"] == "toy_add_ll"]
    h_ll = ll["harness_scores"].map(lambda d: d["perplexity"]).to_numpy(float)
    np.testing.assert_allclose(ll["target_loglik"].to_numpy(float), h_ll, rtol=1e-6)
    # loglikelihood_rolling: word_perplexity holds [loglikelihood, words]
    roll = records[records["task"] == "toy_text_rolling"]
    h_roll = roll["harness_scores"].map(lambda d: d["word_perplexity"][0]).to_numpy(float)
    np.testing.assert_allclose(roll["target_loglik"].to_numpy(float), h_roll, rtol=1e-6)
    assert (roll["target_loglik"] < 0).all()
    em = scores[(scores["task"] == "toy_add_ll") & (scores["metric"] == "exact_match")]
    assert em["value"].isin([0.0, 1.0]).all()
    # multiple choice: acc and brier_score per document
    mc = records[records["task"] == "toy_add_mc"].set_index(["model", "step", "item"])
    for metric, key in (("multiple_choice_grade", "acc"), ("brier_score", "brier_score")):
        s = scores[(scores["task"] == "toy_add_mc") & (scores["metric"] == metric)]
        s = s.set_index(["model", "step", "item"])["value"].sort_index()
        h = mc["harness_scores"].map(lambda d, k=key: d[k]).sort_index()
        if key == "brier_score":  # [gold, "<numpy repr of softmax>"]: recompute from the repr
            h = h.map(lambda v: _brier_from_repr(v))
        np.testing.assert_allclose(s.to_numpy(float), h.to_numpy(float), atol=1e-6)
    assert len(docs) == N_ITEMS


def _brier_from_repr(v) -> float:
    gold, text = v
    p = np.array([float(x) for x in text.strip("[]").split()])
    onehot = np.zeros_like(p)
    onehot[int(gold)] = 1.0
    return float(np.sum((p - onehot) ** 2))


def test_aggregates_match_the_results_file(scores, harness_run):
    # per-scale means of the re-scored items equal the harness's aggregate results
    for run in harness_run.runs:
        name = run["model_dir"].name
        step = int(run["revision"].removeprefix("step"))
        res = run["results"]["results"]
        sub = scores[(scores["model"] == name) & (scores["step"] == step)]

        def mean(task, metric, sub=sub):
            return sub[(sub["task"] == task) & (sub["metric"] == metric)]["value"].mean()

        assert mean("toy_add_mc", "multiple_choice_grade") == pytest.approx(
            res["toy_add_mc"]["acc,none"])
        assert mean("toy_add_mc", "brier_score") == pytest.approx(
            res["toy_add_mc"]["brier_score,none"], abs=1e-6)
        assert mean("toy_add_gen", "exact_match,strict-match") == pytest.approx(
            res["toy_add_gen"]["exact_match,strict-match"])
        assert mean("toy_add_ll", "exact_match") == pytest.approx(res["toy_add_ll"]["acc,none"])
        # perplexity aggregate = exp(-mean loglik)
        assert math.exp(-mean("toy_add_ll", "target_loglik")) == pytest.approx(
            res["toy_add_ll"]["perplexity,none"], rel=1e-6)


def test_every_metric_at_three_sizes(scores):
    final = scores[scores["step"] == 2]
    base = final["metric"].str.split(",").str[0]
    assert set(base) == set(METRICS)
    per_metric_models = final.assign(base=base).groupby("base")["model"].nunique()
    assert (per_metric_models >= 3).all()
    assert final["value"].notna().all()
    # ranges
    for m in ("p_vocab", "p_token", "p_choices", "normalized_edit_distance"):
        v = final.loc[base == m, "value"]
        assert v.between(0, 1).all()
    assert final.loc[base == "brier_score", "value"].between(0, 2).all()
    assert (final.loc[base == "target_loglik", "value"] <= 0).all()


def test_scores_become_item_curves(scores):
    cs = extract_curves(scores, x="params", along="size", step="final")
    names = {(c.task, c.metric) for c in cs}
    assert ("toy_add_mc", "brier_score") in names
    c = next(c for c in cs if c.task == "toy_add_mc" and c.metric == "p_choices")
    assert c.items.shape == (N_ITEMS, 3)
    assert list(c.labels) == ["tiny-s", "tiny-m", "tiny-l"]


def test_filter_selection(harness_run):
    rec = read_samples(harness_run.output_path, filter="strict-match", tasks=["toy_add_gen"])
    assert set(rec["filter"]) == {"strict-match"}
    with pytest.raises(ValueError, match="available"):
        read_samples(harness_run.output_path, filter="nope", tasks=["toy_add_gen"])


def test_model_tokenizer_counts_target_tokens(harness_run):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(harness_run.models["tiny-s"])
    rec = read_samples(harness_run.output_path, tasks=["toy_add_ll"], tokenizer=tok.encode)
    assert rec["target_ntokens"].notna().all()
    expected = [len(tok.encode(t)) for t in rec["target"]]
    assert rec["target_ntokens"].tolist() == expected
    s = rescore(rec, metrics=["loglik_per_token", "p_token"])
    assert s["note"].isna().all()  # model tokens known: no tokenizer note
    per = s[s["metric"] == "loglik_per_token"].set_index(["model", "step", "item"])["value"]
    ref = rec.set_index(["model", "step", "item"])
    np.testing.assert_allclose(
        per.sort_index().to_numpy(),
        (ref["target_loglik"] / ref["target_ntokens"].astype(float)).sort_index().to_numpy())


def test_mirage_check_on_real_output(records):
    res = mirage_check(records, task="toy_add_gen", loglik_task="toy_add_ll",
                       filter="strict-match", tokenizer="characters", n_boot=200, seed=0,
                       x="params")
    t = res.table
    assert t["label"].tolist() == ["tiny-s", "tiny-m", "tiny-l"]
    assert (t["n_items"] == N_ITEMS).all()
    # 2-character targets (sums 2..18): L_mean between 1 and 2
    assert 1 <= t["L_mean"].iloc[0] <= 2
    assert t["p_hat"].between(0, 1).all()
    assert (t["esm_diff_low"] <= t["esm_diff"]).all() and (t["esm_diff"] <= t["esm_diff_high"]).all()


def test_bootstrap_and_correlations_on_real_output(scores):
    agg = item_bootstrap(scores, x="params", n_boot=300, seed=1,
                         metrics=["multiple_choice_grade", "brier_score", "p_choices"])
    assert set(agg.table["label"]) == {"tiny-s", "tiny-m", "tiny-l"}
    assert (agg.table["n_items"] == N_ITEMS).all()
    corr = score_compute_correlations(scores, x="params")
    mc = corr.table[corr.table["task"] == "toy_add_mc"]
    assert mc["metric"].tolist() == ["target_loglik", "p_vocab", "p_choices", "brier_score",
                                     "multiple_choice_grade"]
    assert (corr.table["n_items"] == N_ITEMS).all()
    assert (mc["n_nan"] <= N_ITEMS).all() and mc["mean"].between(-1, 1).all()
