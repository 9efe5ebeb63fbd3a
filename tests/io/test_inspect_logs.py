"""Inspect logs written by inspect_ai itself (offline ``mockllm`` models) re-score unchanged.

Reference: the log's own aggregate (``results.scores``, scorer ``exact``, metric ``mean``), per
model. Statistic: the mean of the re-scored per-item ``exact_match`` (Inspect's normalisation,
stated by the reader). Null: equal to 1e-12. Needs the ``inspect`` extra (inspect_ai).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from emergence.cli import main
from emergence.ingest import read
from emergence.io.inspect_evals import inspect_scores, read_inspect
from emergence.scoring import normalize_text, rescore

inspect_ai = pytest.importorskip("inspect_ai")

SAMPLES = [("What is 1+1?", "2"), ("What is 2+2?", "4"), ("Capital of France?", ["Paris"]),
           ("What is 10-3?", "7"), ("Name a primary colour.", ["red", "blue", "yellow"]),
           ("What is 3*3?", "9")]
#: answers of three mock "sizes": more right answers (and Inspect-normalised forms) with size
ANSWERS = {
    "mockllm/tiny": ["3", " 5", "London", "6", "green", "8"],
    "mockllm/small": ["2", " 5", "the Paris.", "6", "Blue", "8"],
    "mockllm/large": ["2.0", "4", "Paris", "7", "Red!", "9"],
}
PARAMS = {"mockllm/tiny": 1e7, "mockllm/small": 1e8, "mockllm/large": 1e9}


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """One .eval log per mock model, written by inspect_ai's eval() with no network."""
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval
    from inspect_ai.dataset import Sample
    from inspect_ai.model import ModelOutput, ModelUsage, get_model
    from inspect_ai.scorer import exact
    from inspect_ai.solver import generate

    d = tmp_path_factory.mktemp("inspect_logs")
    dataset = [Sample(input=q, target=t, id=f"q{i}") for i, (q, t) in enumerate(SAMPLES)]
    for name, answers in ANSWERS.items():
        outs = []
        for a in answers:
            o = ModelOutput.from_content(model=name, content=a)
            # usage given, so the mock model does not load a tokenizer (no network)
            o.usage = ModelUsage(input_tokens=8, output_tokens=1, total_tokens=9)
            outs.append(o)
        model = get_model(name, custom_outputs=outs)
        task = Task(dataset=dataset, solver=generate(), scorer=exact(), name="toy_qa")
        res = inspect_eval(task, model=model, log_dir=str(d), display="none")
        assert res[0].status == "success"
    return d


def test_inspect_normalisation_is_inspects_own():
    from inspect_ai.scorer._classification import _normalize  # the scorer's own rule

    texts = ["  The Cat! ", "4", " 4.0", "(3.14)", "3.14.", "Paris-France", "a",
             "the answer is 42.", "Hello,   World", "1e3", "-5", "don't", "$20", "A-B-C"]
    assert normalize_text(texts, "inspect").tolist() == [_normalize(t) for t in texts]


def test_inspect_logs_rescore_to_inspects_own_scores(logs):
    rec = read_inspect(logs, params=PARAMS)
    assert sorted(rec["model"].unique()) == sorted(ANSWERS)
    assert set(rec["normalize"]) == {"inspect"} and rec["item"].nunique() == len(SAMPLES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = rescore(rec, metrics=["exact_match", "token_edit_distance"])
    em = s[s["metric"] == "exact_match"]
    assert set(em["normalize"]) == {"inspect (the source's rule)"}
    ours = em.groupby("model")["value"].mean()
    ref = inspect_scores(logs)
    ref = ref[(ref["scorer"] == "exact") & (ref["metric"] == "mean")].set_index("model")["value"]
    assert len(ref) == 3
    np.testing.assert_allclose(ours.reindex(ref.index), ref, rtol=0, atol=1e-12)
    assert list(ours.reindex(list(PARAMS))) == sorted(ours)  # the mock sizes improve
    # the item-level scores match Inspect's per-sample scores too
    per = rec.set_index(["model", "item"])["harness_scores"].map(lambda h: h["exact"])
    mine = em.set_index(["model", "item"])["value"]
    np.testing.assert_array_equal(mine.reindex(per.index).to_numpy(), per.to_numpy())
    # stripping alone (the default for sources without a rule) would not reproduce them
    s2 = rescore(rec, metrics=["exact_match"], normalize="strip")
    assert not np.allclose(s2.groupby("model")["value"].mean().reindex(ref.index), ref)


def test_analyze_and_rescore_commands_read_inspect_logs(logs, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    pargs = [f"{m}={n:g}" for m, n in PARAMS.items()]
    assert main(["rescore", str(logs), "--out", str(out), "--params", *pargs]) == 0
    s = pd.read_csv(out)
    assert set(s["params"]) == set(PARAMS.values())
    t = read(logs, params=PARAMS)
    assert set(t["metric"]) >= {"exact_match", "token_edit_distance"}
    rc = main(["analyze", str(logs), "--no-verdicts", "--quiet", "--out", str(tmp_path / "r"),
               "--params", *pargs])
    assert rc == 0
    pts = pd.read_csv(tmp_path / "r" / "tables" / "points.csv")
    assert len(pts[pts["metric"] == "exact_match"]) == 3
    # a model name that is not in the logs is an error naming the flag
    assert main(["rescore", str(logs), "--out", str(out), "--params", "mockllm/huge=1e9"]) == 2
    assert "--params names model(s) ['mockllm/huge']" in capsys.readouterr().err


def test_epochs_are_replicate_runs(tmp_path, capsys):
    """Inspect epochs (repeated generations of each sample) become the ``run`` column."""
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval
    from inspect_ai.dataset import Sample
    from inspect_ai.model import ModelOutput, ModelUsage, get_model
    from inspect_ai.scorer import exact
    from inspect_ai.solver import generate

    outs = []
    for a in ["2", "5", "2", "4"]:  # sample q0 twice, then q1 twice (epoch order may vary)
        o = ModelOutput.from_content(model="mockllm/m", content=a)
        o.usage = ModelUsage(input_tokens=8, output_tokens=1, total_tokens=9)
        outs.append(o)
    task = Task(dataset=[Sample(input="1+1?", target="2", id="q0"),
                         Sample(input="2+2?", target="4", id="q1")],
                solver=generate(), scorer=exact(), name="toy", epochs=2)
    inspect_eval(task, model=get_model("mockllm/m", custom_outputs=outs),
                 log_dir=str(tmp_path / "logs"), display="none")
    rec = read_inspect(tmp_path / "logs")
    assert sorted(rec["run"].unique()) == ["1", "2"] and len(rec) == 4
    out = tmp_path / "s.csv"
    args = ["rescore", str(tmp_path / "logs"), "--out", str(out), "--params", "1e6",
            "--aggregate", str(tmp_path / "agg.csv"), "--n-boot", "20",
            "--metrics", "exact_match"]
    assert main(args) == 2
    assert "--runs mean" in capsys.readouterr().err
    assert main(args + ["--runs", "mean"]) == 0
    agg = pd.read_csv(tmp_path / "agg.csv")
    s = pd.read_csv(out)
    assert agg["mean"].iloc[0] == pytest.approx(s["value"].mean())
