"""The bundled lab dataset: a re-scored tidy table of real harness output, with several runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from emergence import datasets
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
    assert prov["seeds"] >= 3 and len(prov["train_seeds"]) == prov["seeds"]
    assert prov["runs"] == [f"seed{s}" for s in prov["train_seeds"]]
    assert prov["versions"]["lm_eval"] == "0.4.13"
    assert prov["versions"]["torch"].startswith("2.13.0")
    assert prov["timings_s"]["wall_s"] > 0 and prov["timings_s"]["train_s"] > 0
    total = sum((d / n).stat().st_size for n in BUNDLE_FILES)
    assert total < 5e6
    assert (d / "README.md").exists()
    assert not (d / "records.csv.gz").exists()  # the earlier, unscored layout


def test_tidy_table_shape(table):
    validate(table)
    ck = pd.read_csv(bundled_dir() / "checkpoints.csv")
    assert table["family"].unique().tolist() == ["lab-gpt2"]
    # at least 3 runs for each of at least 5 sizes spanning at least 30x
    runs = table.groupby("model")["run"].nunique()
    assert len(runs) >= 5 and (runs >= 3).all()
    final = ck.sort_values("step").drop_duplicates("model", keep="last")
    assert final["params"].max() / final["params"].min() >= 30
    np.testing.assert_allclose(ck["flops"], 6 * ck["params"] * ck["tokens"])
    assert (ck["nonembedding_params"] < ck["params"]).all()
    # every run of a size has the same steps (same budget) and the same items
    steps = ck.groupby(["model", "run"])["step"].apply(tuple).groupby("model").nunique()
    assert (steps == 1).all()
    n = table.groupby(["run", "model", "step", "task", "metric"])["item"].nunique()
    assert n.nunique() == 1
    items = table.groupby("run")["item"].apply(lambda s: frozenset(s))
    assert items.nunique() == 1
    assert {"exact_match", "token_edit_distance", "target_loglik", "multiple_choice_grade",
            "brier_score"} == set(table["metric"])
    assert table["answer_len"].notna().all() and table["value"].notna().all()


def _means(table, metric):
    return table[table["metric"] == metric].groupby(["run", "model", "step", "task"])[
        "value"].mean()


def test_rescoring_reproduces_the_harness_scores(table, harness):
    """Independent reference: the harness's own aggregate scores of the same checkpoints."""
    h = harness.set_index(["run", "model", "step", "task", "metric"])["value"]
    em = _means(table, "exact_match")
    gen = [k for k in em.index if not k[3].endswith("_mc")]
    ref = np.array([h[(r, m, s, t, "exact_match")] for r, m, s, t in gen])
    np.testing.assert_allclose(em[gen].to_numpy(), ref, atol=1e-12)
    # generative tasks carry the answer log-likelihood of their _ll companion, whose harness
    # perplexity is exp(-mean summed log-likelihood); the bundle keeps 6 significant digits
    ll = _means(table, "target_loglik")
    ref = np.array([h[(r, m, s, t + "_ll", "perplexity")] for r, m, s, t in gen])
    np.testing.assert_allclose(np.exp(-ll[gen].to_numpy()), ref, rtol=1e-4)
    mcg = _means(table, "multiple_choice_grade")
    ref = np.array([h[(r, m, s, t, "acc")] for r, m, s, t in mcg.index])
    np.testing.assert_allclose(mcg.to_numpy(), ref, atol=1e-12)
    br = _means(table, "brier_score")
    ref = np.array([h[(r, m, s, t, "brier_score")] for r, m, s, t in br.index])
    np.testing.assert_allclose(br.to_numpy(), ref, atol=1e-4)


def test_metric_relations_per_item(table):
    gen = table[~table["task"].str.endswith("_mc")]
    wide = gen.pivot_table(index=["run", "model", "step", "task", "item"], columns="metric",
                           values="value")
    # with characters as tokens, zero edit distance is exactly an exact match
    np.testing.assert_array_equal(wide["token_edit_distance"] == 0, wide["exact_match"] == 1)


def test_final_records_rescore_to_the_bundled_scores(table):
    from emergence.lab.run import _main_mask, score_records

    rec = load_bundled(records=True)
    gen = rec[rec["output_type"] == "generate_until"]
    assert gen["prediction"].notna().all() and gen["target_loglik"].notna().all()
    mc = rec[rec["output_type"] == "multiple_choice"]
    assert all(len(c) == 4 for c in mc["choice_loglik"])
    assert (mc["target"] == [c[g] for c, g in zip(mc["choices"], mc["gold"], strict=True)]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = score_records(rec)
    again = again[_main_mask(again)]
    key = ["run", "model", "step", "task", "metric", "item"]
    last = table["step"] == table.groupby("model")["step"].transform("max")
    a = again.set_index(key)["value"].sort_index()
    b = table[last].set_index(key)["value"].sort_index()
    assert a.index.equals(b.index)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-5, atol=1e-5)


def test_tampered_bundle_is_refused(tmp_path):
    for name in [*BUNDLE_FILES, "PROVENANCE.json"]:
        shutil.copy(bundled_dir() / name, tmp_path / name)
    ck = pd.read_csv(tmp_path / "checkpoints.csv")
    ck.loc[0, "params"] *= 2
    ck.to_csv(tmp_path / "checkpoints.csv", index=False)
    with pytest.raises(EmergenceError, match="checkpoints.csv.*sha256"):
        load_bundled(path=tmp_path)


def test_loading_scores_nothing_and_needs_no_lab(monkeypatch):
    import emergence.scoring

    def boom(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("loading the bundled lab data re-scored it")

    monkeypatch.setattr(emergence.scoring, "rescore", boom)
    assert len(datasets.load("lab-gpt2"))
    code = ("import sys; from emergence import datasets; "
            "t = datasets.load('lab-gpt2'); assert len(t); "
            "assert not {'torch', 'transformers', 'lm_eval', 'emergence.lab', "
            "'emergence.scoring'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_between_run_variance_of_the_bundle(table):
    from emergence.lab.variance import run_variance

    rv = run_variance(table)
    assert (rv["n_runs"] >= 3).all() and (rv["n_items"] == 200).all()
    # the runs differ: some size and metric has a between-run spread beyond 0
    assert (rv["var_between"] > 0).any()


def test_lab_analysis_goes_through_the_analysis_layer(table, monkeypatch):
    from emergence import analysis, verdict
    from emergence.lab import analyze_table

    seen = []
    real = analysis.analyze

    def spy(sections, **kw):
        seen.append(([(s.title, s.x, s.along, s.runs) for s in sections], kw))
        return real(sections, **kw)

    monkeypatch.setattr(analysis, "analyze", spy)
    sub = table[table["task"] == "add_2d"]
    res = analyze_table(sub, seed=4, n_boot=19)
    runs = sorted(sub["run"].unique())
    [(secs, kw)] = seen
    assert secs == [("size", "params", "size", "mean"), ("step", "tokens", "step", "mean")] + [
        (f"size, {r}", "params", "size", "separate") for r in runs]
    assert (kw["seed"], kw["n_boot"]) == (4, 19)
    # the verdicts are the analysis layer's: the same as assess on the same curves
    direct = verdict.assess(list(res.curves_size), seed=4, n_boot=19, progress=False)
    pd.testing.assert_frame_equal(res.verdict_size.to_frame(), direct.to_frame())
    assert set(res.verdict_runs["run"]) == set(runs)
    assert [c.run for c in res.curves_runs][: len(runs)] == runs
