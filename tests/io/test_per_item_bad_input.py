"""Bad input: each case gives a clear error naming the file/row, or documented, reported
handling."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emergence._exceptions import DataExclusionWarning, FormatError, SchemaError
from emergence.io.samples import detect_format, read_samples
from emergence.item_bootstrap import item_bootstrap
from emergence.scoring import rescore

FIX = Path(__file__).resolve().parents[1] / "fixtures"

LINE = {"doc_id": 0, "doc": {"q": "1+1"}, "target": "2",
        "arguments": {"gen_args_0": {"arg_0": "1+1=", "arg_1": "2"}},
        "resps": [[["-0.5", "True"]]], "filtered_resps": [["-0.5", "True"]],
        "filter": "none", "metrics": ["acc"], "doc_hash": "h0", "acc": 1}
TS = "2024-07-01T10-00-00.000001"


def _write(tmp_path: Path, lines: list[str], task: str = "add") -> Path:
    p = tmp_path / f"samples_{task}_{TS}.jsonl"
    p.write_text("".join(x + "\n" for x in lines))
    return p


def _line(**kw) -> str:
    return json.dumps({**LINE, **kw})


def test_truncated_jsonl_line(tmp_path):
    good = _line()
    p = _write(tmp_path, [good, _line(doc_id=1)[:57]])
    with pytest.raises(FormatError, match=r"line 2 is not valid JSON.*truncated"):
        read_samples(p, model="m")


def test_unparsable_stringified_resps(tmp_path):
    """One corrupt value flags its sample: NaN scores with the reason, counted; the rest scored."""
    cases = [(_line(doc_id=1, filtered_resps=[["-0.5x", "True"]]), "cannot parse '-0.5x'"),
             (_line(doc_id=1, filtered_resps=[["-0.5", "maybe"]]), "is_greedy"),
             (_line(doc_id=1, filtered_resps=["[-0.5, Tru"]), "does not parse")]
    for bad, why in cases:
        p = _write(tmp_path, [_line(), bad, _line(doc_id=2)])
        rec = read_samples(p, model="m")
        assert rec["invalid"].isna().tolist() == [True, False, True]
        assert why in rec.loc[1, "invalid"] and rec.loc[1, "source"].endswith(":2")
        with pytest.warns(DataExclusionWarning, match=r"invalid value: .*: 5"):
            s = rescore(rec)
        one = s[s["item"] == "1"]
        assert one["value"].isna().all() and len(one) == 5  # exact match + 4 log-lik metrics
        assert one["note"].str.contains(why, regex=False).all()
        assert s[s["item"] != "1"]["value"].notna().all()
        assert s.attrs["nan_counts"] == {f"invalid value: {rec.loc[1, 'invalid']}": 5}


def test_unknown_harness_version(tmp_path):
    p = tmp_path / "samples_add_x.jsonl"
    p.write_text(json.dumps({"id": 0, "prediction": "2", "answer": "2"}) + "\n")
    with pytest.raises(FormatError, match="unknown per-sample format"):
        detect_format(p)
    q = tmp_path / "weird.json"
    q.write_text(json.dumps([{"question_id": 1, "output": "x"}]))
    with pytest.raises(FormatError, match="Supported: lm-eval v0.4.3"):
        read_samples(q)
    r = tmp_path / "results_2024.json"
    r.write_text(json.dumps({"results": {}, "config": {}}))
    with pytest.raises(FormatError, match="aggregate results file"):
        read_samples(r)


def test_missing_results_file_warns(tmp_path):
    d = tmp_path / "__abs__models__tiny"
    d.mkdir()
    _write(d, [_line()])
    with pytest.warns(UserWarning, match="no matching results file"):
        rec = read_samples(d)
    assert rec["model"].tolist() == ["tiny"]


def test_items_differ_between_scales():
    rows = [{"family": "f", "model": m, "params": n, "task": "t", "item": str(i),
             "output_type": "generate_until", "prediction": "a", "target": "a"}
            for m, n, items in (("s", 1e6, range(5)), ("l", 1e8, range(1, 5)))
            for i in items]
    scores = rescore(pd.DataFrame(rows), metrics=["exact_match"])
    with pytest.raises(SchemaError, match=r"items differ between scales.*missing at \{'l': \['0'\]"):
        item_bootstrap(scores, n_boot=10, seed=0)
    res = item_bootstrap(scores, n_boot=10, seed=0, on_mismatch="intersect")
    assert res.table["n_items"].tolist() == [4, 4]
    assert len(res.excluded) == 1 and "not present at every scale" in res.excluded["reason"][0]
    assert any("1 items not present" in n for n in res.notes)


def test_empty_target_is_reported(tmp_path):
    rec = pd.DataFrame({"model": "m", "task": "t", "item": ["0", "1"],
                        "output_type": "generate_until", "prediction": ["a", ""],
                        "target": ["a", "  "]})
    with pytest.warns(DataExclusionWarning, match="empty target: 3"):
        s = rescore(rec)
    bad = s[s["item"] == "1"]
    assert bad["value"].isna().all() and set(bad["note"]) == {"empty target"}
    assert s[s["item"] == "0"]["value"].notna().all()


def test_neg_inf_choice_loglik():
    rec = pd.DataFrame({"model": "m", "task": "t", "item": ["0", "1", "2"],
                        "output_type": "multiple_choice",
                        "choice_loglik": [[-1.0, -np.inf], [-np.inf, -2.0],
                                          [-np.inf, -np.inf]],
                        "gold": [0, 0, 0]})
    with pytest.warns(DataExclusionWarning) as w:
        s = rescore(rec)
    msg = str(w[0].message)
    assert "every choice has log-likelihood -inf" in msg and "target log-likelihood is -inf" in msg
    v = s.set_index(["metric", "item"])["value"]
    assert v[("brier_score", "0")] == 0.0 and v[("brier_score", "1")] == 2.0
    assert v[("p_choices", "1")] == 0.0 and v[("p_vocab", "1")] == 0.0
    assert np.isnan(v[("target_loglik", "1")])  # -inf is not a finite score: NaN + note
    assert np.isnan(v[("multiple_choice_grade", "2")])
    # NaN choice log-likelihoods flag their row: NaN scores with the reason, counted, kept
    one_bad = rec.assign(choice_loglik=[[-1.0, np.nan], [-1.0, -2.0], [-2.0, -1.0]])
    with pytest.warns(DataExclusionWarning, match="holds NaN"):
        s = rescore(one_bad)
    bad = s[s["item"] == "0"]
    assert bad["value"].isna().all() and len(bad) == 7
    assert bad["note"].str.contains("'choice_loglik' holds NaN").all()
    assert not s[s["item"] != "0"]["note"].fillna("").str.contains("invalid").any()


def test_mixed_filters(tmp_path):
    src = FIX / "lm_eval_040" / "pythia-70m-step1000"
    d = tmp_path / "run"
    shutil.copytree(src, d)
    rec = read_samples(d, tasks=["gsm8k"])
    assert sorted(set(rec["filter"])) == ["flexible-extract", "strict-match"]
    s = rescore(rec, metrics=["exact_match"])
    assert sorted(set(s["metric"])) == ["exact_match,flexible-extract",
                                        "exact_match,strict-match"]
    # a file mixing filters in one line set: explicit 'filter' keys win over config order
    lines = [_line(doc_id=i, filter=f) for f in ("a", "b") for i in range(2)]
    p = _write(tmp_path, lines, task="mix")
    rec = read_samples(p, model="m")
    assert rec.groupby("filter").size().to_dict() == {"a": 2, "b": 2}
    with pytest.raises(ValueError, match="available"):
        read_samples(p, model="m", filter="c")


def test_duplicate_checkpoints_without_revision(tmp_path):
    _write(tmp_path, [_line()])
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub", [_line()])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(SchemaError, match="distinct 'step'"):
            read_samples(tmp_path, model="m")


def test_multiple_choice_target_not_a_choice(tmp_path):
    line = _line(target="zebra", filtered_resps=[["-1", "False"], ["-2", "False"]],
                 arguments={"gen_args_0": {"arg_0": "q", "arg_1": " a"},
                            "gen_args_1": {"arg_0": "q", "arg_1": " b"}})
    p = _write(tmp_path, [line])
    rec = read_samples(p, model="m")
    assert "neither a choice index nor one of the choices" in rec.loc[0, "invalid"]


