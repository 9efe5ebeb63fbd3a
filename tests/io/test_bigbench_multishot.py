"""BIG-bench full logs with shots 0-3, two families that name their sizes alike, and the quirks of
the real BIG-G logs (fixture: ``tests/fixtures/make_bigbench_multishot.py``).

Reference: BIG-bench's own ``scores[].score_dict`` in each log, computed by the fixture script the
way ``bigbench/api/task_metrics.py`` computes them (``exact_str_match``: ``output in targets``;
``multiple_choice_grade``: ``target_scores`` of the choice with the highest ``scores``, ties
broken by a sha256 of the scores). Statistic: the mean of the re-scored per-item values in every
(family, model, subtask, shots) cell; null: they equal the logged aggregate (to 1e-12).
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emergence._exceptions import DataExclusionWarning, SchemaError
from emergence.cli import main
from emergence.curves import extract_curves
from emergence.io.bigbench import bigbench_scores, read_bigbench
from emergence.scoring import multiple_choice_grade, rescore

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "bigbench_multishot"
NAMES = {"exact_match": "exact_str_match", "multiple_choice_grade": "multiple_choice_grade"}


def _load():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataExclusionWarning)
        rec = read_bigbench(FIX)
        scores = rescore(rec)
    return rec, scores


def _cells(scores: pd.DataFrame) -> pd.DataFrame:
    ours = (scores[scores["metric"].isin(list(NAMES))]
            .groupby(["family", "model", "task", "shots", "metric"])["value"].mean()
            .rename("ours").reset_index())
    ours["metric"] = ours["metric"].map(NAMES)
    ref = bigbench_scores(FIX)
    ref = ref[ref["metric"].isin(list(NAMES.values()))]
    return ref.merge(ours, on=["family", "model", "task", "shots", "metric"], how="left")


def test_two_families_four_shot_counts_read_unchanged():
    rec, scores = _load()
    assert set(rec["family"]) == {"BIG-G T=0", "BIG-G sparse"}
    assert sorted(rec["model"].unique()) == ["16m", "2m", "53m"]
    assert sorted(rec["shots"].dropna().unique()) == [0, 1, 2, 3]
    assert rec.attrs["skipped"] == 12  # programmatic choice samples: no target values logged
    assert len(scores) > 5000


def test_every_cell_equals_bigbench_own_scores():
    _, scores = _load()
    cells = _cells(scores)
    # 2 families x 3 models x (2 arithmetic subtasks x 2 metrics + emojis + periodic +
    # context_definition) x 4 shots
    assert len(cells) == 2 * 3 * 7 * 4
    assert cells["ours"].notna().all()
    np.testing.assert_allclose(cells["ours"], cells["value"], rtol=0, atol=1e-12)


def test_grade_by_target_score_matters():
    """A 1/0 grade against the first best choice, or first-maximum ties, would not match."""
    rec, _ = _load()
    mc = rec[rec["output_type"] == "multiple_choice"]
    ranked = [r if isinstance(r, list) else c for r, c in zip(mc["rank_loglik"],
                                                             mc["choice_loglik"], strict=True)]
    own = multiple_choice_grade(ranked, mc["gold"].to_numpy(), choice_values=list(
        mc["choice_values"]), tie_break=list(mc["tie_break"]))
    one_zero = multiple_choice_grade(ranked, mc["gold"].to_numpy(), tie_break="bigbench")
    first_tie = multiple_choice_grade(ranked, mc["gold"].to_numpy(), choice_values=list(
        mc["choice_values"]), tie_break="first")
    assert (own != one_zero).sum() > 10
    assert (own != first_tie).sum() > 0
    frac = (own > 0) & (own < 1)
    assert frac.sum() > 5  # fractional credit (emojis)
    # BIG-bench's logged item-level `correct` is the same grade
    logged = np.array([h["multiple_choice_grade"] for h in mc["harness_scores"]])
    np.testing.assert_array_equal(own, logged)


def test_exact_match_rule_is_bigbench_own_and_stated():
    _, scores = _load()
    em = scores[scores["metric"] == "exact_match"]
    assert set(em["normalize"]) == {"none (the source's rule)"}
    # stripping would change nothing here, but lower-casing an answer is not BIG-bench's rule
    rec, _ = _load()
    gen = rec[rec["output_type"] == "generate_until"].copy()
    gen["prediction"] = gen["prediction"].str.upper()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataExclusionWarning)
        a = rescore(gen, metrics=["exact_match"])
        b = rescore(gen, metrics=["exact_match"], normalize="lower")
    assert a["value"].sum() < b["value"].sum()


def test_query_counts_differ_across_models():
    _, scores = _load()
    pe = scores[(scores["task"] == "periodic_elements") & (scores["metric"] == "exact_match")
                & (scores["family"] == "BIG-G T=0") & (scores["shots"] == 0)]
    n = pe.groupby("model")["item"].nunique().to_dict()
    assert n == {"2m": 6, "16m": 6, "53m": 7}
    with pytest.raises(SchemaError, match="items differ between scales"):
        extract_curves(pe, x="params")
    cs = extract_curves(pe, x="params", on_mismatch="intersect")
    assert cs.curves[0].items.shape == (6, 3)


def test_samples_differ_across_shot_counts():
    rec, _ = _load()
    emo = rec[(rec["task"] == "emojis_emotion_prediction") & (rec["model"] == "2m")
              & (rec["family"] == "BIG-G T=0")]
    assert emo.groupby("shots")["item"].nunique().to_dict() == {0: 8, 1: 7, 2: 6, 3: 5}


def test_all_zero_scores_and_programmatic_queries():
    rec, scores = _load()
    cda = rec[rec["task"] == "context_definition_alignment"]
    assert all(set(v) == {0.0} for v in cda["choice_loglik"])
    prog = scores[scores["task"] == "simple_programmatic"]
    assert set(prog["metric"].str.split(",").str[0]) >= {"exact_match", "token_edit_distance"}
    assert prog["value"].isna().all() and set(prog["note"]) == {"empty target"}
    with pytest.warns(DataExclusionWarning, match="12 BIG-bench choice samples without target"):
        read_bigbench(FIX / "simple_programmatic")


def test_true_duplicate_names_the_colliding_key(tmp_path):
    src = FIX / "periodic_elements" / "results" / "full-log_BIG-G_T=0_2m.json"
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        shutil.copy(src, tmp_path / d / src.name)
    with pytest.raises(SchemaError) as err:
        read_bigbench(tmp_path)
    msg = str(err.value)
    assert "share their key (family, model, step, task, shots" in msg
    assert "'family': 'BIG-G T=0'" in msg and "'model': '2m'" in msg
    assert "a/full-log_BIG-G_T=0_2m.json" in msg and "b/full-log_BIG-G_T=0_2m.json" in msg
    assert "Checkpoints" not in msg


def test_corrupt_sample_is_flagged_not_fatal(tmp_path):
    src = FIX / "emojis_emotion_prediction" / "results" / "full-log_BIG-G_T=0_16m.json"
    log = json.loads(src.read_text(encoding="utf-8"))
    log["queries"][0]["samples"][2]["absolute_scores"][1] = "oops"
    log["queries"][0]["samples"][3]["absolute_scores"][0] = 0.7  # impossible log-probability
    p = tmp_path / src.name
    p.write_text(json.dumps(log), encoding="utf-8")
    rec = read_bigbench(p)
    bad = rec[rec["invalid"].notna()]
    assert len(bad) == 2 and bad["source"].str.contains(r"queries\[0\]\.samples\[[23]\]").all()
    with pytest.warns(DataExclusionWarning, match="invalid value"):
        s = rescore(rec)
    assert s[s["item"].isin(bad["item"]) & (s["shots"] == 0)]["value"].isna().all()
    assert s["value"].notna().sum() > 0


def test_rescore_command_on_the_folder(tmp_path, capsys):
    out = tmp_path / "scores.csv"
    assert main(["rescore", str(FIX), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "exact match: none (the source's rule)" in printed
    s = pd.read_csv(out)
    assert {"target_tokens", "n_choices", "normalize", "run"} <= set(s.columns)
    mc = s[s["metric"] == "multiple_choice_grade"]
    assert set(mc.loc[mc["task"] == "emojis_emotion_prediction", "n_choices"]) == {5}
    em = s[s["metric"] == "exact_match"]
    assert em["target_tokens"].notna().all() or em["note"].eq("empty target").any()
