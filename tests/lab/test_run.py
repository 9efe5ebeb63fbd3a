"""End-to-end lab run (small preset): training, real harness evaluation, re-scoring, resume.

Needs the [lab] extra (torch, transformers, lm-eval); skipped cleanly without it.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.lab

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("lm_eval")


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    from emergence.lab import run_lab

    out = tmp_path_factory.mktemp("lab")
    res = run_lab("small", out, seed=0, progress=False)
    return out, res


def test_character_tokenizer_round_trip():
    import os

    from emergence.lab import harness  # noqa: F401
    from emergence.lab.models import build_tokenizer

    # the lab runs offline whatever the caller's environment says
    for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        assert os.environ[k] == "1"

    tok = build_tokenizer()
    ids = tok.encode("12+34=46\n")
    assert len(ids) == 9
    assert tok.decode(ids) == "12+34=46\n"
    assert tok.eos_token_id == 0 and tok.pad_token_id == 0


def test_outputs_written(small_run):
    out, res = small_run
    for name in ("scores.csv.gz", "curves_size.csv", "curves_step.csv", "verdicts_size.csv",
                 "verdicts_step.csv", "checkpoints.csv", "lab.json", "mirage.csv", "figures/size.png",
                 "figures/steps.png"):
        assert (out / name).exists(), name
    # harness output kept as written: results json and per-task samples jsonl per checkpoint
    runs = sorted((out / "harness").glob("seed0/*/step_*"))
    assert len(runs) == 3 * 2
    assert sorted(p.name for p in (out / "harness").iterdir()) == ["seed0"]
    for r in runs:
        assert len(list(r.glob("*/results_*.json"))) == 1
        assert len(list(r.glob("*/samples_*.jsonl"))) == 5
    meta = json.loads((out / "lab.json").read_text())
    assert meta["versions"]["lm_eval"] == "0.4.13"
    ck = pd.read_csv(out / "checkpoints.csv")
    assert ck["model"].nunique() == 3 and len(ck) == 6
    # scale bookkeeping: FLOPs = 6 N D and parameters grow with size
    np.testing.assert_allclose(ck["flops"], 6 * ck["params"] * ck["tokens"])
    final = ck.sort_values("step").drop_duplicates("model", keep="last")
    assert final["params"].max() / final["params"].min() > 5


def test_rescoring_matches_the_harness(small_run):
    out, res = small_run
    t = res.table
    for r in sorted((out / "harness").glob("seed0/*/step_*")):
        model, step = r.parent.name, int(r.name.split("_")[1])
        agg = json.loads(next(r.glob("*/results_*.json")).read_text())["results"]
        sub = t[(t["model"] == model) & (t["step"] == step)]
        for task in ("add_2d", "mul_2x1"):
            ours = sub[(sub["task"] == task) & (sub["metric"] == "exact_match")]["value"].mean()
            assert ours == pytest.approx(agg[task]["exact_match,none"], abs=1e-12)
            ll = sub[(sub["task"] == task + "_ll") & (sub["metric"] == "target_loglik")]
            assert np.exp(-ll["value"].mean()) == pytest.approx(
                agg[task + "_ll"]["perplexity,none"], rel=1e-6)
        mc = sub[sub["task"] == "add_2d_mc"]
        assert mc[mc["metric"] == "multiple_choice_grade"]["value"].mean() == pytest.approx(
            agg["add_2d_mc"]["acc,none"], abs=1e-12)
        assert mc[mc["metric"] == "brier_score"]["value"].mean() == pytest.approx(
            agg["add_2d_mc"]["brier_score,none"], rel=1e-5)


def test_curves_and_verdicts(small_run):
    out, res = small_run
    assert {c.metric for c in res.curves_size} == {
        "exact_match", "token_edit_distance", "target_loglik", "multiple_choice_grade",
        "brier_score"}
    for c in res.curves_size:
        assert c.n_scales == 3 and c.items is not None and c.items.shape[0] == 40
    # one step curve per size, task and metric
    assert len(res.curves_step) == 3 * len(res.curves_size)
    v = res.verdicts()
    assert set(v["along"]) == {"size", "step"}
    # three sizes cannot support a break test
    assert set(v[v["along"] == "size"]["verdict"]) == {"underpowered"}


def test_rerun_resumes_without_training_or_evaluating(small_run, monkeypatch):
    from emergence.lab import harness, models, run_lab

    out, res = small_run
    # an interrupted evaluation: one harness folder missing, a stale .partial left behind
    victim = sorted((out / "harness").glob("seed0/L1-W32/step_*"))[-1]
    shutil.rmtree(victim)
    victim.with_name(victim.name + ".partial").mkdir()
    calls = []
    real_eval = harness.evaluate_checkpoint

    def spy(ck, *a, **k):
        done = harness.harness_output_done(a[2] if len(a) > 2 else k["out_dir"])
        calls.append((str(ck), done))
        return real_eval(ck, *a, **k)

    def no_training(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("a finished size was trained again")

    monkeypatch.setattr(harness, "evaluate_checkpoint", spy)
    monkeypatch.setattr(models, "build_model", no_training)
    res2 = run_lab("small", out, seed=0, progress=False, verdicts=False, figures=False)
    redone = [c for c, done in calls if not done]
    assert len(redone) == 1 and redone[0].endswith(victim.name)
    assert not victim.with_name(victim.name + ".partial").exists()
    # the re-evaluated checkpoint gives the same scores (only the file timestamps differ)
    key = ["model", "step", "task", "metric", "item"]
    a = res2.table.drop(columns="source").sort_values(key).reset_index(drop=True)
    b = res.table.drop(columns="source").sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_same_seed_same_weights(tmp_path):
    from emergence.lab.models import Architecture, TrainConfig, read_scale, train_size
    from emergence.lab.tasks import ArithmeticSuite

    suite = ArithmeticSuite.build(["add_2d"], n_test=10, seed=0)
    size = Architecture("L1-W16", 1, 16, 2)
    cfg = TrainConfig(tokens=15_000, checkpoints=(0.5, 1.0), seed=3)
    a = train_size(size, suite, cfg, tmp_path / "a", progress=False)
    b = train_size(size, suite, cfg, tmp_path / "b", progress=False)
    from safetensors.torch import load_file

    for da, db in zip(a, b, strict=True):
        wa, wb = load_file(da / "model.safetensors"), load_file(db / "model.safetensors")
        assert wa.keys() == wb.keys()
        assert all(torch.equal(wa[k], wb[k]) for k in wa)
        assert read_scale(da)["tokens"] == read_scale(db)["tokens"]
    # an interrupted size (final checkpoint incomplete) is trained again, to the same weights
    (a[-1] / "scale.json").unlink()
    again = train_size(size, suite, cfg, tmp_path / "a", progress=False)
    wa = load_file(again[-1] / "model.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    other = train_size(size, suite, TrainConfig(tokens=15_000, checkpoints=(0.5, 1.0), seed=4),
                       tmp_path / "c", progress=False)
    wc = load_file(other[-1] / "model.safetensors")
    assert not all(torch.equal(wc[k], wb[k]) for k in wc)


def test_cli_resumes_and_prints_summary(small_run, capsys):
    from emergence.cli import main

    out, _ = small_run
    code = main(["lab", "run", "--preset", "small", "--out", str(out), "--quiet",
                 "--no-verdicts", "--no-figures"])
    assert code == 0
    text = capsys.readouterr().out
    assert "3 sizes x 1 run(s), 2 checkpoint steps" in text and str(out) in text


#: A preset small enough to train twice in a test: 2 sizes, 1 task, 2 checkpoints.
def _tiny():
    from emergence.lab.run import Preset

    return Preset(name="tiny", sizes=(("L1-W16", 1, 16, 2), ("L1-W24", 1, 24, 2)),
                  tokens=12_000, checkpoints=(0.5, 1.0), tasks=("add_2d",), mc_task="add_2d",
                  n_test=20, n_boot=19)


@pytest.fixture(scope="module")
def seeded_runs(tmp_path_factory):
    """The tiny preset with two runs per size, and again with one run (same base seed)."""
    from emergence.lab import run_lab

    two = tmp_path_factory.mktemp("two")
    one = tmp_path_factory.mktemp("one")
    a = run_lab(_tiny(), two, seed=0, seeds=2, progress=False, figures=False)
    b = run_lab(_tiny(), one, seed=0, seeds=1, progress=False, verdicts=False, figures=False)
    return two, a, one, b


def _weights(path):
    from safetensors.torch import load_file

    return load_file(path / "model.safetensors")


def test_seeds_make_independent_runs_with_the_same_budget(seeded_runs):
    two, a, _, _ = seeded_runs
    ck = pd.read_csv(two / "checkpoints.csv")
    assert sorted(ck["run"].unique()) == ["seed0", "seed1"]
    assert sorted(a.table["run"].unique()) == ["seed0", "seed1"]
    # the same steps (token budget in steps) and the same test items in every run
    steps = ck.groupby(["run", "model"])["step"].apply(tuple).unstack("run")
    assert (steps["seed0"] == steps["seed1"]).all()
    tok = ck.pivot_table(index=["model", "step"], columns="run", values="tokens")
    assert (abs(tok["seed0"] / tok["seed1"] - 1) < 0.02).all()
    items = a.table.groupby("run")["item"].apply(lambda s: tuple(sorted(set(s))))
    assert items["seed0"] == items["seed1"]
    meta = json.loads((two / "lab.json").read_text())
    assert meta["seeds"] == 2 and meta["train_seeds"] == [0, 1]
    # different seeds: different initialisation and data order, so different weights and outputs
    for size in ("L1-W16", "L1-W24"):
        w0 = _weights(sorted((two / "models" / "seed0" / size).glob("step_*"))[-1])
        w1 = _weights(sorted((two / "models" / "seed1" / size).glob("step_*"))[-1])
        assert not all(torch.equal(w0[k], w1[k]) for k in w0)
    ll = a.table[(a.table["metric"] == "target_loglik") & (a.table["task"] == "add_2d_ll")]
    wide = ll.pivot_table(index=["model", "step", "item"], columns="run", values="value")
    assert (wide["seed0"] != wide["seed1"]).mean() > 0.9


def test_same_seed_same_run(seeded_runs):
    two, a, one, b = seeded_runs
    # run seed0 of the two-run family is the one-run family, weight for weight and item for item
    for d in sorted((one / "models" / "seed0").glob("*/step_*")):
        other = two / "models" / "seed0" / d.parent.name / d.name
        wa, wb = _weights(d), _weights(other)
        assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    key = ["model", "step", "task", "metric", "item"]
    x = a.table[a.table["run"] == "seed0"].drop(columns="source").sort_values(key)
    y = b.table.drop(columns="source").sort_values(key)
    pd.testing.assert_frame_equal(x.reset_index(drop=True), y.reset_index(drop=True))


def test_seeded_analysis(seeded_runs):
    two, a, _, _ = seeded_runs
    # curves across size: the mean of the runs, with each run's values kept
    for c in a.curves_size:
        assert c.runs.shape == (2, 2)
        np.testing.assert_allclose(c.y, c.runs.mean(axis=0))
    assert {c.run for c in a.curves_runs} == {"seed0", "seed1"}
    assert set(a.verdict_runs["run"]) == {"seed0", "seed1"}
    # between-run variance per size, recomputed by hand for one size
    rv = a.run_variance
    assert set(rv["n_runs"]) == {2}
    r = rv[(rv["task"] == "add_2d") & (rv["metric"] == "token_edit_distance")
           & (rv["model"] == "L1-W24")].iloc[0]
    t = a.table
    sub = t[(t["task"] == "add_2d") & (t["metric"] == "token_edit_distance")
            & (t["model"] == "L1-W24") & (t["step"] == t.loc[t["model"] == "L1-W24", "step"].max())]
    means = sub.groupby("run")["value"].mean()
    assert r["var_between"] == pytest.approx(means.var(ddof=1))
    assert r["var_item"] == pytest.approx((sub.groupby("run")["value"].var(ddof=1) / 20).mean())
    assert (two / "run_variance.csv").exists() and (two / "verdicts_size_runs.csv").exists()
    assert "2 run(s)" in a.summary()
