import json

import pandas as pd
import pytest

from emergence import datasets
from emergence.cli import main
from emergence.curves import extract_curves
from emergence.report import ReportSection, build_report, emergence_scores


def test_datasets_command(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "pythia-v1" in out and "52512 rows" in out


def test_demo_quick_writes_report(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["demo", "--quick", "--no-verdicts", "--quiet", "--out", str(out)]) == 0
    html = (out / "index.html").read_text()
    assert "lambada_openai" in html and "ipa_transliterate" in html
    pngs = sorted((out / "figures").glob("*.png"))
    assert len(pngs) >= 6
    pts = pd.read_csv(out / "tables" / "points.csv")
    lam = pts[(pts.task == "lambada_openai") & (pts.metric == "acc") & (pts.shots == 0)
              & pts.model.isna()]
    assert len(lam) == 8
    assert (lam["interval_method"] == "wilson").all()
    assert (lam["low"] < lam["value"]).all() and (lam["value"] < lam["high"]).all()
    excl = pd.read_csv(out / "tables" / "excluded.csv")
    assert "scale 'tokens' is 0 (cannot be placed on a log axis)" in set(excl["reason"])


def test_analyze_lm_eval_folder(tmp_path, published_subset):
    out = tmp_path / "r"
    src = published_subset / "pythia-v1" / "pythia-410m" / "zero-shot"
    rc = main(["analyze", str(src), "--x", "tokens", "--along", "step", "--tasks", "lambada_openai",
               "--no-verdicts", "--quiet", "--out", str(out)])
    assert rc == 0
    pts = pd.read_csv(out / "tables" / "points.csv")
    assert set(pts["metric"]) == {"acc", "ppl"}
    assert len(pts[pts.metric == "acc"]) == 26  # 27 checkpoints minus step 0


def test_analyze_bad_input_exit_code_2(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"not": "lm-eval"}))
    assert main(["analyze", str(bad), "--quiet", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "x.json: JSON that is not an lm-evaluation-harness results file" in err


def test_analyze_csv_with_sentinel(tmp_path):
    p = tmp_path / "wide.csv"
    pd.DataFrame({"Model": ["a", "b", "c", "d"], "Size": [0.1, 1.0, 10.0, 100.0],
                  "MMLU": [0.25, -1, 0.4, 0.7]}).to_csv(p, index=False)
    out = tmp_path / "o"
    rc = main(["analyze", str(p), "--columns", "model=Model,params=Size", "--metric", "acc",
               "--sentinel", "-1", "--units", "params=1e9", "--no-verdicts", "--quiet",
               "--out", str(out)])
    assert rc == 0
    excl = pd.read_csv(out / "tables" / "excluded.csv")
    assert excl["model"].tolist() == ["b"]
    assert excl["reason"].iloc[0] == "no value: sentinel -1 (missing)"


def test_emergence_scores_orientation():
    df = datasets.load("pythia-v1")
    cs = extract_curves(df[df.shots == 0], x="params", tasks=["lambada_openai"])
    sc = emergence_scores(cs.curves).set_index("metric")
    # accuracy rises and perplexity falls: both are improvements, so both scores are positive
    assert sc.loc["acc", "score"] > 0 and sc.loc["ppl", "score"] > 0
    assert sc.loc["acc", "floor_rule"] == "stderr"


def test_report_python_api(tmp_path):
    df = datasets.load("obsscaling-emergent")
    sec = ReportSection("emergent", df, x="flops", tasks=["ipa_transliterate"],
                        families=["OPT"], verdicts=False)
    rep = build_report([sec], out_dir=tmp_path, progress=False)
    assert len(rep.figures) == 1
    assert set(rep.points["metric"]) == {"exact_match", "bleu"}
    assert "figures" in rep.summary() or "1 figures" in rep.summary()


@pytest.mark.parametrize("argv", [["analyze"], ["analyze", "x", "--x", "size"]])
def test_argparse_errors(argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2


def test_scaling_section_in_report(tmp_path):
    df = datasets.load("obsscaling-base")
    rep = build_report([ReportSection("laws", df, kind="scaling")], out_dir=tmp_path,
                       progress=False)
    html = rep.index.read_text()
    assert "laws" in html and "s0/figures/" in html
    assert all(p.exists() for p in rep.figures) and len(rep.figures) >= 2
    assert any(k.startswith("s0-") for k in rep.tables)


@pytest.mark.parametrize("cmd", ["demo", "analyze", "screen"])
def test_bad_jobs_is_a_usage_error_naming_the_flag(tmp_path, capsys, cmd):
    args = [cmd] + ([str(tmp_path)] if cmd != "demo" else []) + (
        ["--out", str(tmp_path / "s")] if cmd == "screen" else []) + ["--jobs", "0"]
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2
    assert "--jobs must be a positive integer; got '0'" in capsys.readouterr().err
