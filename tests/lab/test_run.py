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
    runs = sorted((out / "harness").glob("*/step_*"))
    assert len(runs) == 3 * 2
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
    for r in sorted((out / "harness").glob("*/step_*")):
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
    victim = sorted((out / "harness").glob("L1-W32/step_*"))[-1]
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
    from emergence.lab.models import ModelSize, TrainConfig, read_scale, train_size
    from emergence.lab.tasks import ArithmeticSuite

    suite = ArithmeticSuite.build(["add_2d"], n_test=10, seed=0)
    size = ModelSize("L1-W16", 1, 16, 2)
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
    assert "3 sizes, 2 checkpoint steps" in text and str(out) in text
