"""Facts declared or read from data, never guessed: metric registry, declarations, chance levels.

Each test states what would be wrong if the fact were guessed: an unknown metric taken as
higher-is-better, a registry that changes when a module is imported, a chance level taken from a
task's name, a real negative score taken for a sentinel.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emergence import (
    DeclarationError,
    MetricInfo,
    SchemaError,
    UnknownMetricError,
    datasets,
    extract_curves,
    metric_info,
)
from emergence.cli import main
from emergence.ingest import read
from emergence.io import read_table
from emergence.registry import (
    BUILTIN_METRICS,
    LATENTS,
    find_metric_info,
    parse_chance_declaration,
    parse_metric_declaration,
    resolve_chance,
)
from emergence.scoring import rescore
from emergence.stats._data import as_curve_data

REPO = Path(__file__).resolve().parents[1]
FIX = REPO / "tests" / "fixtures"
PARAMS = [1e7, 3e7, 1e8, 3e8, 1e9, 3e9, 1e10, 3e10]


def _table(metric, values, task="t", **kw):
    return pd.DataFrame({"family": "f", "model": [f"m{i}" for i in range(len(values))],
                         "task": task, "metric": metric, "value": values,
                         "params": PARAMS[: len(values)], **kw})


# ---- one immutable registry ----------------------------------------------------------------

def test_builtin_table_is_read_only_and_complete():
    with pytest.raises(TypeError):
        BUILTIN_METRICS["loss"] = MetricInfo("loss", 0, 1, True, "continuous")  # type: ignore[index]
    with pytest.raises(AttributeError):  # frozen
        BUILTIN_METRICS["acc"].upper = 2.0  # type: ignore[misc]
    import emergence.schema as schema

    assert not hasattr(schema, "register_metric")
    # the losses the scaling module reads are in the one table, with their latent link
    for m in ("loss", "val_loss", "train_loss", "bits_per_byte", "ppl", "word_perplexity"):
        info = BUILTIN_METRICS[m]
        assert info.latent in ("loss", "perplexity") and not info.higher_is_better
        assert info.kind == "continuous"
    assert BUILTIN_METRICS["ppl"].latent == "perplexity" and BUILTIN_METRICS["ppl"].lower == 1
    assert {i.latent for i in BUILTIN_METRICS.values()} <= set(LATENTS)
    assert metric_info("acc").latent == metric_info("mc1").latent == "multiple_choice"
    assert metric_info("exact_match,strict-match").latent == "exact_match"
    assert metric_info("token_edit_distance").latent == "edit_distance"
    assert metric_info("brier_score").upper == 2.0 and metric_info("brier_score").latent == "brier"
    assert metric_info("bleu").latent == "none" and metric_info("bleu").sharp


def test_import_of_scaling_does_not_change_facts_in_process():
    before = {m: metric_info(m) for m in ("loss", "val_loss", "train_loss")}
    import emergence.scaling  # noqa: F401

    assert {m: metric_info(m) for m in before} == before


_VERDICT_SCRIPT = """
import numpy as np, pandas as pd
{pre}
from emergence import extract_curves
from emergence.verdict import assess
params = np.logspace(7, 10, 8)
loss = 1.7 + 40.0 * params ** -0.2 + np.array([.01, -.02, .015, -.01, .02, -.015, .01, -.005])
df = pd.DataFrame({{"family": "f", "model": [f"m{{i}}" for i in range(8)], "task": "lm",
                   "metric": "loss", "value": loss, "params": params}})
vt = assess(extract_curves(df), n_boot=99, seed=3, progress=False)
print(vt.verdicts()[["verdict", "reasons"]].to_json())
print(vt.to_frame().iloc[0]["kind"])
print(vt.to_frame().to_json())
"""


def _run(code: str) -> str:
    env_path = str(REPO)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, env={**__import__("os").environ, "PYTHONPATH": env_path},
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_loss_verdict_same_whether_or_not_scaling_was_imported():
    # null: the facts of "loss" do not depend on import order; statistic: the verdict table
    plain = _run(_VERDICT_SCRIPT.format(pre=""))
    after = _run(_VERDICT_SCRIPT.format(pre="import emergence.scaling"))
    assert plain == after
    verdict = json.loads(plain.splitlines()[0])
    assert verdict["verdict"]  # a verdict was given (not an error row)
    assert plain.splitlines()[1] == "continuous"


# ---- unknown metrics are an error naming the declaration ----------------------------------

@pytest.mark.parametrize("metric", ["val_bpb", "bogus_metric", "f1x"])
def test_unknown_metric_is_an_error_naming_the_argument(metric):
    df = _table(metric, [0.1, 0.2, 0.3])
    with pytest.raises(UnknownMetricError) as e:
        extract_curves(df)
    msg = str(e.value)
    assert repr(metric) in msg and "extract_curves(..., metric_facts=" in msg
    assert "--metric-info" not in msg  # Python users get the Python argument
    assert "--metric-info" in e.value.cli_message() and "metric_facts" not in e.value.cli_message()


def test_all_unknown_metrics_named_at_once_and_filter_avoids_them():
    df = pd.concat([_table("acc", [0.3, 0.4, 0.6]), _table("foo", [1, 2, 3.]),
                    _table("bar", [1, 2, 3.])])
    with pytest.raises(UnknownMetricError, match="'foo', 'bar'"):
        extract_curves(df)
    assert len(extract_curves(df, metrics=["acc"])) == 1


def test_declared_metric_is_used_with_its_direction():
    df = _table("val_bpb", [1.4, 1.3, 1.2, 1.1])
    cs = extract_curves(df, metric_facts={"val_bpb": "lower,continuous,0:inf,loss"})
    c = cs.curves[0]
    assert c.facts == MetricInfo("val_bpb", 0, math.inf, False, "continuous", latent="loss")
    d = as_curve_data(c)
    assert d.higher_is_better is False and d.kind == "continuous" and not d.proportion
    # a MetricInfo works as well as a spec string
    info = MetricInfo("val_bpb", 0, math.inf, False, "continuous", latent="loss")
    assert extract_curves(df, metric_facts={"val_bpb": info}).curves[0].facts == info


def test_declaration_overrides_a_builtin_entry():
    # a table whose "acc" is a 0-100 score: declared, the range check follows the declaration
    df = _table("acc", [25.0, 40.0, 70.0])
    with pytest.raises(SchemaError, match="percentages"):
        extract_curves(df)
    c = extract_curves(df, metric_facts={"acc": "higher,continuous,0:100"}).curves[0]
    assert c.facts.upper == 100.0 and c.facts.kind == "continuous"


@pytest.mark.parametrize(("spec", "match"), [
    ("lower", "discontinuous|continuous"),
    ("continuous", "higher|lower"),
    ("lower,continuous,0:x", "range end"),
    ("lower,continuous,1:0", "below the upper bound"),
    ("lower,smooth", "unknown word 'smooth'"),
])
def test_bad_declarations(spec, match):
    with pytest.raises(DeclarationError, match=match):
        extract_curves(_table("m", [1.0, 2.0]), metric_facts={"m": spec})


def test_parsers():
    name, info = parse_metric_declaration("val_loss=lower,continuous,0:inf,loss,sharp")
    assert name == "val_loss" and info.sharp and info.latent == "loss" and info.lower == 0
    assert MetricInfo.parse("x", info.spec()) == MetricInfo(
        "x", info.lower, info.upper, info.higher_is_better, info.kind, info.sharp, info.latent)
    assert parse_chance_declaration("piqa=1/2") == ("piqa", 0.5)
    for bad in ("piqa", "piqa=1.5", "=0.2", "piqa=x"):
        with pytest.raises(DeclarationError):
            parse_chance_declaration(bad)


def test_undeclared_sentinel_of_unknown_metric_never_passes_as_a_score():
    df = _table("my_score", [0.2, -100.0, 0.5])
    t = read_table(df)  # read unchecked (the reader does not know the metric) ...
    with pytest.raises(UnknownMetricError):  # ... but no analysis takes it until declared
        extract_curves(t)
    with pytest.raises(SchemaError, match=r"sentinels=\(-100,\)"):
        extract_curves(t, metric_facts={"my_score": "higher,continuous,0:1"})
    ok = read_table(df, sentinels=(-100,), metric_facts={"my_score": "higher,continuous,0:1"})
    assert ok["value"].isna().sum() == 1 and ok["note"].str.contains("sentinel").any()


# ---- chance-normalised metrics ------------------------------------------------------------

def test_norm_metrics_take_real_negative_values():
    info = metric_info("acc,norm")
    assert (info.lower, info.upper, info.latent) == (-1.0, 1.0, "multiple_choice")
    assert not info.is_proportion and info.chance_normalised
    df = _table("acc,norm", [-1.0, -0.2, 0.1, 0.5])
    c = extract_curves(df).curves[0]
    assert c.y.tolist() == [-1.0, -0.2, 0.1, 0.5]
    assert c.chance == 0.0 and c.chance_source == "definition"
    # a -100 sentinel is still caught: the normalised range ends at -1
    with pytest.raises(SchemaError, match="sentinel"):
        extract_curves(_table("acc,norm", [-100.0, 0.2, 0.5]))
    assert find_metric_info("loss,norm") is None  # only metrics in [0, 1] have a norm variant


# ---- chance: from data, else declared, else unknown ----------------------------------------

def _two_scales(scores: pd.DataFrame) -> pd.DataFrame:
    """The same per-item scores at a second (larger) model: a two-scale curve from one log."""
    small = scores.assign(params=1e8)
    big = scores.assign(model=scores["model"] + "-big", params=1e9)
    return pd.concat([small, big], ignore_index=True)


def test_chance_from_choices_in_lm_eval_samples():
    from emergence.io.samples import read_samples

    rec = read_samples([FIX / "lm_eval_040" / "pythia-70m-step1000"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = rescore(rec)
    mc = rec[rec["output_type"] == "multiple_choice"]
    k = mc["choices"].map(len)
    got = scores[scores["metric"] == "multiple_choice_grade"].set_index("item")["n_choices"]
    assert got.to_dict() == dict(zip(mc["item"], k, strict=True))
    cs = extract_curves(_two_scales(scores), tasks=["arc_easy"],
                        metrics=["multiple_choice_grade", "target_loglik"])
    by = {c.metric: c for c in cs}
    mcg = by["multiple_choice_grade"]
    assert mcg.chance == pytest.approx(float(np.mean(1.0 / k))) and mcg.chance_source == "data"
    assert "answer choices" in " ".join(mcg.notes) and "in the data" in " ".join(mcg.notes)
    assert by["target_loglik"].chance_source == "not applicable"


def test_brier_score_takes_chance_from_the_number_of_choices_in_the_data():
    # the Brier link needs k = 1/chance; the items say how many choices they showed
    from emergence.simulate import simulate_family

    df = simulate_family("power_law", n_items=40, n_scales=6, n_choices=4, seed=0)
    by = {c.metric: c for c in extract_curves(df, x="params")}
    assert by["brier_score"].chance == pytest.approx(0.25)
    assert by["brier_score"].chance_source == "data"
    assert by["target_loglik"].chance_source == "not applicable"
    assert resolve_chance(metric_info("brier_score")).source == "unknown"
    assert resolve_chance(metric_info("brier_score"), declared=0.2).value == 0.2


def test_chance_from_bigbench_target_scores_across_four_models():
    from emergence.io.bigbench import read_bigbench

    rec = read_bigbench(sorted((FIX / "bigbench").rglob("full-log_*.json")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = rescore(rec, family="BIG-G")
    k = rec[rec["output_type"] == "multiple_choice"].groupby("item")["choices"].first().map(len)
    cs = extract_curves(scores, x="params", metrics=["multiple_choice_grade", "exact_match"])
    by = {c.metric: c for c in cs}
    assert by["multiple_choice_grade"].n_scales == 4
    assert by["multiple_choice_grade"].chance == pytest.approx(float(np.mean(1.0 / k)))
    assert by["multiple_choice_grade"].chance_source == "data"
    # the same task's generations are free-form: exact match has chance 0 by definition
    assert (by["exact_match"].chance, by["exact_match"].chance_source) == (0.0, "definition")


def test_chance_from_helm_references():
    from emergence.io.helm import read_helm

    runs = sorted({p.parent for p in (FIX / "helm").rglob("scenario_state.json")})
    rec = read_helm(runs, params={"gpt2": 124e6, "gpt2-medium": 355e6})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = rescore(rec)
    sep = scores[scores["task"].str.contains("separate") & (scores["metric"] ==
                                                             "multiple_choice_grade")]
    refs = rec[rec["output_type"] == "multiple_choice"].groupby("item")["choices"].first()
    assert (sep["n_choices"] == sep["item"].map(refs.map(len))).all()
    c = extract_curves(sep).curves[0]
    assert c.chance == pytest.approx(float(np.mean(1.0 / refs.map(len)))) and c.chance_source == "data"
    # the joint method answers a multiple-choice item by generation: its choices are logged
    joint = scores[scores["task"].str.contains("joint") & (scores["metric"] == "exact_match")]
    assert joint["n_choices"].notna().all()


def test_chance_from_lm_eval_task_config_choice_list(tmp_path):
    cfg = {"boolq": {"task": "boolq", "output_type": "multiple_choice",
                     "doc_to_choice": ["no", "yes"]},
           "hellaswag": {"task": "hellaswag", "output_type": "multiple_choice",
                         "doc_to_choice": "{{choices}}"}}
    for i, (size, acc) in enumerate(((1e8, 0.55), (1e9, 0.6), (1e10, 0.7))):
        obj = {"results": {"boolq": {"acc,none": acc, "acc_stderr,none": 0.01},
                           "hellaswag": {"acc,none": acc - 0.2, "acc_stderr,none": 0.01}},
               "configs": cfg, "n-shot": {"boolq": 0, "hellaswag": 0},
               "config": {"model": "hf", "model_args": f"pretrained=org/m{i}",
                          "model_num_parameters": size}}
        (tmp_path / f"results_m{i}.json").write_text(json.dumps(obj))
    by = {c.task: c for c in extract_curves(read(tmp_path))}
    assert (by["boolq"].chance, by["boolq"].chance_source) == (0.5, "data")
    # hellaswag's choices come from a template: unknown from the aggregate file, and not 0
    assert math.isnan(by["hellaswag"].chance) and by["hellaswag"].chance_source == "unknown"
    assert "chance={task: value}" in " ".join(by["hellaswag"].notes)  # how to declare it


def test_same_numbers_under_arc_and_arc_easy_get_the_same_chance_and_verdict():
    from emergence.verdict import assess

    y = [0.24, 0.25, 0.26, 0.25, 0.27, 0.33, 0.45, 0.6]
    df = pd.concat([_table("acc", y, task="arc", n_items=2000),
                    _table("acc", y, task="arc_easy", n_items=2000)])
    cs = extract_curves(df)
    a, b = cs.curves
    assert a.chance_source == b.chance_source == "unknown"
    vt = assess(cs, n_boot=99, seed=0, progress=False).verdicts().set_index("task")
    assert vt.loc["arc", "verdict"] == vt.loc["arc_easy", "verdict"]
    # declared alike, judged alike
    cs = extract_curves(df, chance={"arc": 0.25, "arc_easy": 0.25})
    assert [c.chance for c in cs] == [0.25, 0.25]
    vt = assess(cs, n_boot=99, seed=0, progress=False).verdicts().set_index("task")
    assert vt.loc["arc", "verdict"] == vt.loc["arc_easy", "verdict"]


def test_hellaswag_chance_is_not_zero():
    c = extract_curves(_table("acc", [0.26, 0.3, 0.4], task="hellaswag")).curves[0]
    assert math.isnan(c.chance) and c.chance_source == "unknown"
    assert as_curve_data(c).chance_source == "unknown"
    c = extract_curves(_table("acc", [0.26, 0.3, 0.4], task="hellaswag"),
                       chance={"hellaswag": 0.25}).curves[0]
    assert (c.chance, c.chance_source) == (0.25, "declared")


def test_data_override_a_conflicting_declaration_and_say_so():
    df = _table("multiple_choice_grade", [0.5, 0.6, 0.7], n_choices=[2, 2, 2])
    c = extract_curves(df, chance={"t": 0.25}).curves[0]
    assert (c.chance, c.chance_source) == (0.5, "data")
    assert "declared 0.25, which the data override" in " ".join(c.notes)


def test_chance_declaration_for_a_missing_task_is_an_error():
    with pytest.raises(DeclarationError, match="hellaswg"):
        extract_curves(_table("acc", [0.3, 0.4], task="hellaswag"), chance={"hellaswg": 0.25})


def test_resolve_chance_rules():
    acc, em, ppl = metric_info("acc"), metric_info("exact_match"), metric_info("ppl")
    assert resolve_chance(acc, n_choices=[4, 5]).value == pytest.approx(0.225)
    assert resolve_chance(acc, n_choices=[4, np.nan]).source == "unknown"  # partial data
    assert resolve_chance(acc, n_choices=[4, np.nan], declared=0.25).source == "declared"
    assert resolve_chance(acc, table=[0.25, 0.25]).source == "declared"
    assert resolve_chance(acc, table=[0.25, 0.5]).source == "unknown"  # inconsistent column
    assert resolve_chance(em).value == 0.0 and resolve_chance(em).source == "definition"
    assert resolve_chance(em, declared=0.25).value == 0.25
    assert resolve_chance(ppl, declared=0.25).source == "not applicable"


def test_curve_built_directly_states_its_chance_source():
    from emergence.curves import Curve

    x = np.array(PARAMS[:3])
    c = Curve("f", "t", "acc", 0, "params", x, np.array([.3, .4, .5]), np.full(3, np.nan),
              np.full(3, 100.0), ("a", "b", "c"), chance=0.25)
    assert c.chance_source == "declared" and c.facts == metric_info("acc")
    c = Curve("f", "t", "acc", 0, "params", x, np.array([.3, .4, .5]), np.full(3, np.nan),
              np.full(3, 100.0), ("a", "b", "c"))
    assert c.chance_source == "unknown"
    unknown = Curve("f", "t", "mystery", 0, "params", x, np.array([.3, .4, .5]),
                    np.full(3, np.nan), np.full(3, np.nan), ("a", "b", "c"))
    with pytest.raises(UnknownMetricError):
        as_curve_data(unknown)


def test_sigmoid_floor_without_a_known_chance_is_zero_and_said():
    from emergence.scaling import backtest, pooled_curve

    x = np.geomspace(1e20, 1e24, 10)
    t = pd.DataFrame({"family": [f"f{i}" for i in range(10)], "model": [f"m{i}" for i in range(10)],
                      "task": "arc_easy", "metric": "acc", "flops": x,
                      "value": 0.25 + 0.75 / (1 + np.exp(-2 * (np.log10(x) - 22)))})
    c = pooled_curve(t, task="arc_easy", metric="acc")
    assert c.chance_source == "unknown"  # "arc_easy" is only a name
    r = backtest(c, method="sigmoid", cutoff=1e23, n_boot=0)
    assert any("chance level unknown" in n for n in r.notes)
    c = pooled_curve(t, task="arc_easy", metric="acc", chance={"arc_easy": 0.25})
    assert (c.chance, c.chance_source) == (0.25, "declared")


# ---- bundled datasets declare their chance, with a source ----------------------------------

def test_bundled_datasets_declare_chance_with_sources():
    decl = datasets.declared_chance("pythia-v1").set_index("task")
    assert decl["source"].str.len().min() > 20  # every declared value says where it comes from
    assert decl.loc["arc_easy", "chance"] == decl.loc["arc_challenge", "chance"] == 0.25
    py = datasets.load("pythia-v1")
    cs = extract_curves(py, tasks=["arc_easy", "piqa", "lambada_openai"],
                        metrics=["acc", "ppl"])
    by = {(c.task, c.metric): c for c in cs}
    assert (by[("arc_easy", "acc")].chance, by[("arc_easy", "acc")].chance_source) == \
        (0.25, "declared")
    assert by[("piqa", "acc")].chance == 0.5
    assert by[("lambada_openai", "acc")].chance == 0.0
    assert by[("lambada_openai", "ppl")].chance_source == "not applicable"
    obs = extract_curves(datasets.load("obsscaling-base"), tasks=["HellaSwag", "TruthfulQA"],
                         x="flops")
    by = {c.task: c for c in obs}
    assert by["HellaSwag"].chance == 0.25 and by["TruthfulQA"].chance_source == "unknown"


def test_lab_dataset_chance_comes_from_its_logs():
    lab = datasets.load("lab-gpt2")
    cs = extract_curves(lab, tasks=["add_3d_mc"], metrics=["multiple_choice_grade"], runs="mean")
    c = cs.curves[0]
    assert c.chance_source == "data" and c.chance == pytest.approx(0.25)


# ---- command line --------------------------------------------------------------------------

def _csv(tmp_path, df, name="scores.csv"):
    p = tmp_path / name
    df.to_csv(p, index=False)
    return str(p)


@pytest.mark.parametrize("command", ["analyze", "screen"])
def test_cli_unknown_metric_exits_2_naming_the_flag(tmp_path, capsys, command):
    path = _csv(tmp_path, _table("val_bpb", [1.4, 1.3, 1.2, 1.1]))
    argv = [command, path, "--out", str(tmp_path / "o")]
    if command == "analyze":
        argv.append("--no-verdicts")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--metric-info val_bpb=" in err and "metric_facts" not in err


def test_cli_declared_metric_and_chance(tmp_path, capsys):
    df = pd.concat([_table("val_bpb", [1.4, 1.3, 1.2, 1.1, 1.05, 1.0], task="lm"),
                    _table("acc", [0.26, 0.27, 0.3, 0.35, 0.5, 0.7], task="hellaswag",
                           n_items=10000)])
    path = _csv(tmp_path, df)
    out = tmp_path / "screen"
    assert main(["screen", path, "--out", str(out), "--n-boot", "19", "--quiet",
                 "--metric-info", "val_bpb=lower,continuous,0:inf,loss",
                 "--chance", "hellaswag=0.25"]) == 0
    rows = pd.read_csv(out / "curves.csv").set_index("task")
    assert rows.loc["hellaswag", "chance"] == 0.25
    assert rows.loc["hellaswag", "chance_source"] == "declared"
    assert rows.loc["lm", "status"] != "error"
    capsys.readouterr()
    assert main(["screen", path, "--out", str(tmp_path / "s2"), "--metric-info", "val_bpb=lower",
                 "--quiet"]) == 2
    assert "--metric-info val_bpb=lower" in capsys.readouterr().err


def test_cli_scaling_fit_reads_a_declared_loss(tmp_path, capsys):
    n = np.array([1e7, 3e7, 1e8, 3e8, 1e9, 3e9])
    df = pd.DataFrame({"model": [f"m{i}" for i in range(6)], "task": "lm", "metric": "val_bpb",
                       "value": 1.0 + 30 * n ** -0.25, "params": n, "tokens": 20 * n})
    path = _csv(tmp_path, df)
    assert main(["scaling", "fit", path, "--law", "power", "--out", str(tmp_path / "f"),
                 "--n-boot", "0", "--quiet"]) == 2
    assert "latent 'loss'" in capsys.readouterr().err
    assert main(["scaling", "fit", path, "--law", "power", "--out", str(tmp_path / "f"),
                 "--n-boot", "0", "--quiet",
                 "--metric-info", "val_bpb=lower,continuous,0:inf,loss"]) == 0
