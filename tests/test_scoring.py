"""Metric functions against independent references (pure-Python Levenshtein, scipy softmax,
hand-computed values) and the tidy output of rescore."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax

from emergence.schema import metric_info
from emergence.scoring import (
    METRICS,
    brier_score,
    choice_probabilities,
    exact_match,
    loglik_per_token,
    multiple_choice_grade,
    normalize_text,
    normalized_edit_distance,
    p_choices,
    p_token,
    p_vocab,
    rescore,
    token_edit_distance,
    tokenize,
)


def levenshtein(a, b) -> int:
    """Textbook dynamic programme (Wagner-Fischer) as the reference."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


@pytest.fixture(scope="module")
def random_pairs():
    rng = np.random.default_rng(0)
    words = np.array(["the", "cat", "sat", "on", "mat", "12", "3", "dog"])
    preds = [" ".join(words[rng.integers(0, 8, rng.integers(0, 6))]) for _ in range(400)]
    tgts = [" ".join(words[rng.integers(0, 8, rng.integers(0, 6))]) for _ in range(400)]
    return preds, tgts


def test_edit_distance_matches_reference(random_pairs):
    preds, tgts = random_pairs
    ours = token_edit_distance(preds, tgts, tokenizer="whitespace")
    ref = [levenshtein(p.split(), t.split()) for p, t in zip(preds, tgts, strict=True)]
    np.testing.assert_array_equal(ours, ref)
    # default "auto": numeric targets ("12 3") digit by digit, other targets word by word
    num = re.compile(r"^\s*[-+]?\d[\d.,\s]*$")
    ref_auto = [levenshtein("".join(p.split()), "".join(t.split())) if num.match(t)
                else levenshtein(p.split(), t.split()) for p, t in zip(preds, tgts, strict=True)]
    assert any(num.match(t) for t in tgts)
    np.testing.assert_array_equal(token_edit_distance(preds, tgts), ref_auto)
    ours_c = token_edit_distance(preds, tgts, tokenizer="characters")
    np.testing.assert_array_equal(ours_c, [levenshtein(p, t) for p, t in
                                           zip(preds, tgts, strict=True)])
    norm = normalized_edit_distance(preds, tgts, tokenizer="whitespace")
    ref_n = [levenshtein(p.split(), t.split()) / max(len(p.split()), len(t.split()), 1)
             for p, t in zip(preds, tgts, strict=True)]
    np.testing.assert_allclose(norm, ref_n)
    assert norm.min() >= 0 and norm.max() <= 1


def test_callable_tokenizer_and_token_ids():
    enc = [[101, 2, 3], [101, 5, 3, 7]]
    # callable returning token ids, and one returning an object with .ids
    class Enc:
        def __init__(self, ids):
            self.ids = ids

    lookup = {"a": enc[0], "b": enc[1]}
    assert token_edit_distance(["a"], ["b"], tokenizer=lambda s: lookup[s]).tolist() == [2.0]
    assert token_edit_distance(["a"], ["b"], tokenizer=lambda s: Enc(lookup[s])).tolist() == [2.0]
    assert tokenize(["x y"], lambda s: {"input_ids": s.split()}) == [["x", "y"]]
    with pytest.raises(ValueError, match="tokenizer"):
        tokenize(["x"], "bpe")


def test_multiple_targets_take_the_best():
    assert exact_match(["5"], [["five", "5"]]).tolist() == [1.0]
    assert token_edit_distance(["a b c"], [["x y z", "a b d"]]).tolist() == [1.0]
    assert normalized_edit_distance(["a b"], [["a b c d", "a"]]).tolist() == [0.5]


def test_exact_match_normalisations():
    preds = [" 42\n", "The Answer!", "abc"]
    tg = ["42", "answer", "ABC"]
    assert exact_match(preds, tg, normalize="none").tolist() == [0, 0, 0]
    assert exact_match(preds, tg, normalize="strip").tolist() == [1, 0, 0]
    assert exact_match(preds, tg, normalize="lower").tolist() == [1, 0, 1]
    assert exact_match(preds, tg, normalize="squad").tolist() == [1, 1, 1]
    assert exact_match(["x=17 y"], ["17"], regex=r"\d+").tolist() == [1.0]
    assert exact_match(["no digits"], ["17"], regex=r"\d+").tolist() == [0.0]
    assert exact_match(["AB"], ["ab"], normalize=str.lower).tolist() == [1.0]
    assert normalize_text(["a"], "none").dtype == np.dtypes.StringDType()
    with pytest.raises(ValueError, match="normalize"):
        exact_match(["a"], ["a"], normalize="fancy")


def test_choice_metrics_against_scipy():
    rng = np.random.default_rng(1)
    k = rng.integers(2, 6, 50)
    lls = [rng.normal(-5, 2, n) for n in k]
    gold = np.array([rng.integers(0, n) for n in k])
    pc = p_choices(lls, gold)
    bs = brier_score(lls, gold)
    mcg = multiple_choice_grade(lls, gold)
    for i, (ll, g) in enumerate(zip(lls, gold, strict=True)):
        p = softmax(ll)
        assert pc[i] == pytest.approx(p[g])
        onehot = np.eye(len(ll))[g]
        assert bs[i] == pytest.approx(np.sum((p - onehot) ** 2))
        assert mcg[i] == float(np.argmax(ll) == g)
    assert bs.min() >= 0 and bs.max() <= 2


def test_neg_inf_choices():
    ll = [[-1.0, -np.inf, -np.inf], [-np.inf, -np.inf]]
    p = choice_probabilities(ll)
    assert p[0].tolist() == [1.0, 0.0, 0.0]
    assert np.isnan(p[1]).all()
    assert brier_score(ll, [0, 0])[0] == 0.0 and np.isnan(brier_score(ll, [0, 0])[1])
    assert np.isnan(multiple_choice_grade(ll, [0, 0])[1])
    # ties: the first maximum wins (numpy argmax, as in the harness)
    assert multiple_choice_grade([[-1.0, -1.0]], [1]).tolist() == [0.0]


def test_loglik_metrics():
    assert p_vocab([np.log(0.25)]).tolist() == pytest.approx([0.25])
    assert p_token([np.log(0.25)], [2]).tolist() == pytest.approx([0.5])
    assert np.isnan(loglik_per_token([-1.0], [0])[0])


def _records():
    rows = []
    for m, n in (("s", 1e6), ("l", 1e8)):
        rows += [
            {"model": m, "params": n, "task": "gen", "item": "0", "output_type": "generate_until",
             "prediction": " 1 2", "target": "1 2"},
            {"model": m, "params": n, "task": "gen", "item": "1", "output_type": "generate_until",
             "prediction": "1 3", "target": "1 2"},
            {"model": m, "params": n, "task": "ll", "item": "0", "output_type": "loglikelihood",
             "target": "1 2", "target_loglik": -2.0, "is_greedy": True},
            {"model": m, "params": n, "task": "mc", "item": "0", "output_type": "multiple_choice",
             "choices": [" a", " b"], "choice_loglik": [-1.0, -3.0], "gold": 1},
        ]
    return pd.DataFrame(rows)


def test_rescore_tidy_output():
    s = rescore(_records(), family="fam")
    assert set(s["family"]) == {"fam"}
    assert s["item"].notna().all()
    per_task = s.groupby("task")["metric"].unique().map(sorted).to_dict()
    assert per_task == {
        "gen": ["exact_match", "normalized_edit_distance", "token_edit_distance"],
        "ll": ["exact_match", "loglik_per_token", "p_token", "p_vocab", "target_loglik"],
        "mc": ["brier_score", "loglik_per_token", "multiple_choice_grade", "p_choices",
               "p_token", "p_vocab", "target_loglik"],
    }
    for m in set(s["metric"]):
        assert metric_info(m).kind != "unknown"
    v = s[(s["model"] == "s")].set_index(["task", "metric", "item"])["value"]
    assert v[("gen", "exact_match", "0")] == 1.0
    assert v[("gen", "token_edit_distance", "1")] == 1.0
    assert v[("ll", "exact_match", "0")] == 1.0
    assert v[("ll", "loglik_per_token", "0")] == -1.0  # 2 whitespace tokens
    assert v[("mc", "multiple_choice_grade", "0")] == 0.0
    assert v[("mc", "target_loglik", "0")] == -3.0
    note = s[(s["metric"] == "loglik_per_token")]["note"].unique().tolist()
    assert note == ["tokens counted with tokenizer=auto"]
    assert list(s.columns[:7]) == ["family", "model", "step", "task", "shots", "metric", "item"]


def test_rescore_metric_subset_and_errors():
    s = rescore(_records(), metrics=["brier_score"])
    assert set(s["metric"]) == {"brier_score"}
    with pytest.raises(ValueError, match="unknown metric"):
        rescore(_records(), metrics=["bleu4"])
    gen_only = _records().query("task == 'gen'")
    with pytest.raises(ValueError, match="applies to output types"):
        rescore(gen_only, metrics=["brier_score"])
    with pytest.raises(ValueError, match="attach_loglik"):
        rescore(gen_only, metrics=["target_loglik"])
    assert len(METRICS) == 10


def test_filters_are_kept_in_metric_names():
    rec = _records().query("task == 'gen'").copy()
    rec2 = rec.copy()
    rec2["filter"] = "strict-match"
    s = rescore(pd.concat([rec.assign(filter="none"), rec2]), metrics=["exact_match"])
    assert sorted(set(s["metric"])) == ["exact_match", "exact_match,strict-match"]


def _lcs(a, b) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def test_optional_sharp_metrics(random_pairs):
    sacrebleu = pytest.importorskip("sacrebleu")
    pytest.importorskip("rouge_score")
    from emergence.scoring import bleu, rouge_l

    preds, tgts = random_pairs
    preds, tgts = preds[:100], tgts[:100]
    ref = [sacrebleu.sentence_bleu(p, [t]).score for p, t in zip(preds, tgts, strict=True)]
    np.testing.assert_allclose(bleu(preds, tgts), ref)
    # ROUGE-L F = 2 LCS / (len(p) + len(t)) on lower-cased tokens (the texts are lower case)
    ours = rouge_l(preds, tgts)
    for o, p, t in zip(ours, preds, tgts, strict=True):
        a, b = p.split(), t.split()
        f = 0.0 if not a or not b else 200.0 * _lcs(a, b) / (len(a) + len(b))
        assert o == pytest.approx(f)
    s = rescore(_records(), metrics=["bleu", "rougeL"])
    assert set(s["metric"]) == {"bleu", "rougeL"}
    assert metric_info("bleu").sharp and metric_info("rougeL").sharp


def test_edit_distance_batch_encoding_edge_cases():
    """Repeated texts (encoded once), texts holding NUL, empty texts and multi-target items
    give the reference distances."""
    rng = np.random.default_rng(3)
    words = ["a", "b", "c", "\x00", "x\x00y", "é", ""]
    base = [" ".join(rng.choice(words, rng.integers(0, 5))) for _ in range(60)]
    preds = [base[i] for i in rng.integers(0, 60, 5000)]  # many repeats
    tgts = [base[i] for i in rng.integers(0, 60, 5000)]
    ref = [levenshtein(p.split(), t.split()) for p, t in zip(preds, tgts, strict=True)]
    np.testing.assert_array_equal(token_edit_distance(preds, tgts, tokenizer="whitespace"), ref)
    clean = [p.replace("\x00", "") for p in preds]
    ref_c = [levenshtein(p.split(), t.split()) for p, t in zip(clean, tgts, strict=True)]
    np.testing.assert_array_equal(token_edit_distance(clean, tgts, tokenizer="whitespace"),
                                  ref_c)
    multi = [[t, "a b"] for t in tgts[:200]]
    ref_m = [min(levenshtein(p.split(), t.split()) for t in ts)
             for p, ts in zip(clean[:200], multi, strict=True)]
    np.testing.assert_array_equal(token_edit_distance(clean[:200], multi,
                                                      tokenizer="whitespace"), ref_m)


def test_rescore_names_the_tokenizer_that_counted_target_tokens():
    from emergence.scoring import tokenizer_labels

    s = rescore(_records(), family="fam")
    counted = s["target_tokens"].notna()
    assert counted.any()
    assert s.loc[~counted, "tokenizer"].isna().all()
    assert set(s.loc[counted, "tokenizer"]) <= {"digits", "whitespace"}
    rec = _records().assign(target=lambda r: np.where(r.index % 2 == 0, "1,234", "a cat"))
    auto = rescore(rec, family="fam", metrics=["exact_match"])
    tok = auto.dropna(subset=["target_tokens"])
    assert set(tok["tokenizer"]) == {"digits", "whitespace"}
    assert (tok.loc[tok["tokenizer"] == "digits", "target_tokens"] == len("1,234")).all()
    chars = rescore(rec, family="fam", metrics=["exact_match"], tokenizer="characters")
    assert set(chars["tokenizer"].dropna()) == {"characters"}
    assert tokenizer_labels(["1 2", "x y"], "whitespace").tolist() == ["whitespace"] * 2


def test_verdict_names_the_tokenizer_of_the_target_lengths():
    import warnings

    from emergence.curves import extract_curves
    from emergence.simulate import simulate_family
    from emergence.verdict import assess

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = simulate_family("power_law", n_items=60, seed=3, metrics=["exact_match"])
        stated = assess(extract_curves(df.assign(tokenizer="digits"), x="params"), n_boot=19,
                        seed=0, progress=False).rows
        bare = assess(extract_curves(df, x="params"), n_boot=19, seed=0, progress=False).rows
        agg = df.groupby(["family", "model", "task", "metric", "params"], as_index=False)[
            "value"].mean()
        none = assess(extract_curves(agg, x="params"), n_boot=19, seed=0, progress=False).rows
    assert stated["tokenizer"].tolist() == ["digits"]
    assert "tokenizer: digits" in stated["null_why"].iloc[0]
    assert bare["tokenizer"].tolist() == ["not stated"]
    assert none["tokenizer"].fillna("").tolist() == [""]
