"""Verdicts across metrics, bad input, fitted lines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emergence.assessment import COLUMNS, CurveAssessment
from emergence.curves import Curve, extract_curves
from emergence.verdict import VERDICTS, assess, assess_curve, fitted_lines

LOGP = np.linspace(8, 11, 10)


def _table(task, metric_values: dict, n_items=1000, family="toy"):
    rows = []
    for metric, vals in metric_values.items():
        for i, v in enumerate(vals):
            rows.append({"family": family, "model": f"m{i}", "task": task, "metric": metric,
                         "value": float(v), "params": 10 ** LOGP[i],
                         "n_items": n_items if metric in ("exact_match", "acc") else np.nan})
    return pd.DataFrame(rows)


def _mirage_task(rng):
    acc = np.exp(-np.exp(8.0 - 0.8 * LOGP))
    em = rng.binomial(1000, acc) / 1000
    # per-token log-likelihood: smooth power law in scale, with small noise
    ll = -(2.0 * 10 ** (-0.25 * (LOGP - 8))) + rng.normal(0, 0.01, 10)
    return _table("mirage_task", {"exact_match": em, "loglik": ll})


def _genuine_task(rng):
    p = np.where(LOGP > 9.6, 0.55, 0.05)
    em = rng.binomial(1000, p) / 1000
    ll = -2.0 + 0.1 * (LOGP - 8) + 0.8 * (LOGP > 9.6) + rng.normal(0, 0.01, 10)
    return _table("genuine_task", {"exact_match": em, "loglik": ll})


def test_verdicts_artifact_and_genuine():
    rng = np.random.default_rng(0)
    df = pd.concat([_mirage_task(rng), _genuine_task(rng)], ignore_index=True)
    vt = assess(extract_curves(df, x="params"), n_boot=199, seed=1, progress=False)
    v = vt.verdicts().set_index("task")
    assert v.loc["mirage_task", "verdict"] == "metric artifact"
    assert "explained by smooth latent competence" in v.loc["mirage_task", "reasons"]
    assert v.loc["genuine_task", "verdict"] == "candidate genuine transition"
    assert "loglik" in v.loc["genuine_task", "reasons"]
    rows = vt.to_frame()
    assert len(rows) == 4 and {"pblrt_qvalue", "naive_qvalue", "es", "verdict"} <= set(rows.columns)
    assert set(vt.verdicts()["verdict"]) <= set(VERDICTS)
    assert "model-to-model scatter estimated" in v.loc["mirage_task", "reasons"]
    # same seed, same result
    vt2 = assess(extract_curves(df, x="params"), n_boot=199, seed=1, progress=False)
    pd.testing.assert_frame_equal(vt.to_frame(), vt2.to_frame())
    assert "metric artifact: 1" in vt.summary()


def test_underpowered_and_bad_curves_do_not_crash():
    x = 10 ** np.linspace(8, 11, 4)
    few = Curve("f", "few", "acc", 0, "params", x, np.array([0.3, 0.32, 0.5, 0.7]),
                np.full(4, np.nan), np.full(4, 500.0), tuple("abcd"), chance=0.25)
    x10 = 10**LOGP
    zeros = Curve("f", "zeros", "exact_match", 0, "params", x10, np.zeros(10),
                  np.full(10, np.nan), np.full(10, 500.0), tuple("abcdefghij"))
    ones = Curve("f", "ones", "acc", 0, "params", x10, np.ones(10),
                 np.full(10, np.nan), np.full(10, 500.0), tuple("abcdefghij"), chance=0.5)
    nan = Curve("f", "nan", "acc", 0, "params", x10, np.r_[np.nan, np.full(9, 0.4)],
                np.full(10, np.nan), np.full(10, 500.0), tuple("abcdefghij"))
    vt = assess([few, zeros, ones, nan], n_boot=99, progress=False)
    v = vt.verdicts().set_index("task")
    assert v.loc["few", "verdict"] == "underpowered"
    assert "4 scales" in v.loc["few", "reasons"]
    assert v.loc["zeros", "verdict"] == "underpowered"
    assert "stuck at its floor" in v.loc["zeros", "reasons"]
    assert v.loc["ones", "verdict"] in ("no transition", "underpowered")
    assert v.loc["nan", "verdict"] == "underpowered"
    assert "finite" in v.loc["nan", "reasons"]


def test_aggregate_only_curve_runs_with_limits_stated():
    y = np.exp(-np.exp(8.0 - 0.8 * LOGP)).round(3)
    c = Curve("f", "agg", "exact_match", None, "params", 10**LOGP, y, np.full(10, np.nan),
              np.full(10, np.nan), tuple("abcdefghij"))
    row = assess_curve(c, n_boot=99)
    assert row.status == "ok" and row.latent == "exact_match"
    assert "aggregate-only" in row.notes
    # no item counts: the noise floor comes from the resolution of the reported values
    assert "resolution of the reported values (0.001)" in row.notes
    vt = assess([c], n_boot=99, progress=False)
    assert "aggregate-only" in vt.verdicts().loc[0, "limits"]


def test_non_monotone_and_tied_input():
    rng = np.random.default_rng(2)
    df = _mirage_task(rng).sample(frac=1.0, random_state=3)  # rows in random order
    vt = assess(extract_curves(df, x="params"), n_boot=99, progress=False)
    assert len(vt.to_frame()) == 2
    tied = _mirage_task(rng)
    tied.loc[tied["model"] == "m3", "params"] = 10 ** LOGP[2]
    from emergence import SchemaError

    with pytest.raises(SchemaError, match="tied"):
        extract_curves(tied, x="params")
    cs = extract_curves(tied, x="params", ties="mean")
    vt = assess(cs, n_boot=99, progress=False)
    assert (vt.to_frame()["n_scales"] == 9).all()


def test_fitted_lines():
    c = Curve("f", "t", "exact_match", 0, "params", 10**LOGP,
              np.r_[np.zeros(6), [0.2, 0.4, 0.5, 0.6]], np.full(10, np.nan),
              np.full(10, 500.0), tuple("abcdefghij"))
    fl = fitted_lines(c, n_points=30)
    assert list(fl.columns[:3]) == ["x", "model", "y"]
    assert set(fl["model"]) == {"null", "break"} and len(fl) == 60
    assert fl["x"].min() == pytest.approx(1e8) and fl["y"].between(0, 1).all()
    assert set(fitted_lines(c, which="none")["model"]) == {"null"}
    # curves too short to test get no fitted lines at all (nothing to draw that a test backs)
    few = Curve("f", "t", "acc", 0, "params", 10 ** LOGP[:4], np.array([.3, .4, .5, .6]),
                np.full(4, np.nan), np.full(4, 100.0), tuple("abcd"), chance=0.25)
    assert fitted_lines(few).empty


def test_assess_rejects_wrong_input():
    with pytest.raises(TypeError, match="CurveSet"):
        assess([1, 2], progress=False)
    with pytest.raises(ValueError, match="n_boot"):
        assess([], n_boot=5, progress=False)


def test_item_level_columns():
    rng = np.random.default_rng(5)
    p = 0.25 + 0.7 * (LOGP > 9.6)
    items = (rng.random((300, 10)) < p).astype(float)
    c = Curve("f", "mc", "acc", 0, "params", 10**LOGP, items.mean(0), np.full(10, np.nan),
              np.full(10, 300.0), tuple(f"m{i}" for i in range(10)), items=items, chance=0.25)
    row = assess_curve(c, n_boot=99)
    assert isinstance(row, CurveAssessment) and row.to_frame().shape == (1, len(COLUMNS))
    assert "accelerating break" in row.summary()
    assert row.first_above_chance == "m5"
    assert row.mcnemar_pair == "m4->m5" and row.mcnemar_pvalue_bonf < 1e-6
    assert row.es_low < row.es < row.es_high
    # accuracy jumps from chance to near its ceiling between two scales: the latent test reads it
    # through the chance-floored link and places the best accelerating break at the jump
    assert row.latent == "multiple_choice" and 0 < row.pblrt_pvalue <= 1
    assert row.pblrt_kind in ("hinge", "step") and LOGP[3] <= row.pblrt_psi <= LOGP[6]
    assert row.naive_pvalue <= 0.05


def test_sharp_metric_is_never_evidence_alone():
    rng = np.random.default_rng(8)
    em = rng.binomial(1000, np.exp(-np.exp(8.0 - 0.8 * LOGP))) / 1000
    bleu = np.where(LOGP > 9.6, 40.0, 2.0) + rng.normal(0, 0.3, 10)
    df = _table("translit", {"exact_match": em, "bleu": bleu})
    vt = assess(extract_curves(df, x="params"), n_boot=199, progress=False)
    v = vt.verdicts().iloc[0]
    assert v["verdict"] == "metric artifact"
    assert "sharp in per-token error" in v["reasons"]


def test_zero_scale_point_is_left_out_with_a_note():
    x = np.r_[0.0, 10 ** np.linspace(1, 5, 9)]
    y = np.r_[0.25, np.linspace(0.26, 0.6, 9)]
    c = Curve("f", "t", "acc", 0, "step", x, y, np.full(10, np.nan), np.full(10, 1000.0),
              tuple(f"step{i}" for i in range(10)), model="m", chance=0.25)
    row = assess_curve(c, n_boot=49)
    assert row.status == "ok" and row.n_scales == 9
    assert "left out 1 point(s) with scale <= 0" in row.notes and "step0" in row.notes


def _sat_table(seed, n=5000):
    # accuracy 0.2 -> 0.7, rising fast then flattening; perplexity approaching an irreducible
    # loss (concave on log y)
    rng = np.random.default_rng(seed)
    p = 0.2 + 0.5 * (1 - np.exp(-1.5 * (LOGP - 8))) / (1 - np.exp(-4.5))
    em = rng.binomial(n, p) / n
    ppl = (2.0 + 40.0 * 10 ** (-0.8 * (LOGP - 8))) * np.exp(rng.normal(0, 0.01, 10))
    return _table("saturating", {"exact_match": em, "ppl": ppl}, n_items=n)


def test_saturating_curves_are_never_a_candidate_transition():
    df = pd.concat([_sat_table(s).assign(family=f"toy{s}") for s in range(5)],
                   ignore_index=True)
    vt = assess(extract_curves(df, x="params"), n_boot=199, seed=0, progress=False)
    v = vt.verdicts()
    # a smooth saturating curve is inside the null (its irreducible-loss floor is a null shape)
    assert (v["verdict"] == "no transition").all()
    rows = vt.to_frame()
    assert not rows["break_counts"].any() and (rows["cited_break"] != "accelerating").all()
    assert (rows["shape_floor"] > 0).mean() >= 0.5
    ppl = rows[rows["metric"] == "ppl"]
    assert ppl["null_model"].str.startswith("latent").all() and (ppl["latent"] == "perplexity").all()
    # the latent scale increases with competence for every metric: one-sided "greater"
    assert (rows["davies_alternative"] == "greater").all()


def test_convex_hockey_stick_is_a_candidate_transition():
    out = []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        p = np.where(LOGP < 9.5, 0.05, 0.05 + 0.3 * (LOGP - 9.5))
        em = rng.binomial(1000, p) / 1000
        ll = -2.0 + 0.05 * (LOGP - 8) + 0.4 * np.maximum(LOGP - 9.5, 0) + rng.normal(0, 0.01, 10)
        out.append(_table("hockey", {"exact_match": em, "loglik": ll}, family=f"toy{seed}"))
    vt = assess(extract_curves(pd.concat(out), x="params"), n_boot=199, seed=0,
                progress=False)
    v = vt.verdicts()
    assert (v["verdict"] == "candidate genuine transition").all()
    assert v["reasons"].str.contains("loglik: accelerating hinge").all()
    rows = vt.to_frame()
    assert (rows["pblrt_effect_direction"] == "accelerating").all()
    assert rows["supf_direction"].eq("accelerating").all()


def test_upward_step_on_a_saturating_curve_does_not_count():
    # rows as a screen writes them: a significant accelerating step whose curve is better
    # fitted by a significant slowdown is not evidence of a transition
    from emergence.verdict import finalize

    base = dict(family="f", model="", task="t", shots=0, metric="acc", x_name="params",
                status="ok", kind="discontinuous", sharp=False, notes="", null_model="gompertz",
                pblrt_pvalue=0.001, pblrt_kind="step", pblrt_psi=8.4,
                pblrt_effect_direction="accelerating", naive_pvalue=0.5,
                naive_direction="decelerating",
                decel_pvalue=0.001, decel_kind="hinge", decel_psi=8.6)
    dom = finalize([dict(base, pblrt_any_direction="decelerating")], alpha=0.05, n_boot=99,
                   seed=0)
    g = dom.verdicts().iloc[0]
    assert g["verdict"] == "no transition"
    assert "fits worse than the slowdown" in g["reasons"]
    assert "improvement slows after 10^8.60" in g["reasons"]
    ok = finalize([dict(base, pblrt_any_direction="accelerating")], alpha=0.05, n_boot=99,
                  seed=0)
    assert ok.verdicts().iloc[0]["verdict"] == "candidate genuine transition"
    # a significant break in the wrong direction never counts, even if a row says so
    bad = finalize([dict(base, pblrt_effect_direction="decelerating", decel_pvalue=0.5,
                         pblrt_any_direction="decelerating")],
                   alpha=0.05, n_boot=99, seed=0)
    assert bad.verdicts().iloc[0]["verdict"] == "no transition"
