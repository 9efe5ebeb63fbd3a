"""Regression tests: eight ways data used to disappear with exit code 0, each from a file shaped
like the one that lost it. Cases 5, 7 and 8 live beside their subject:
tests/cli/test_report_hostile_names.py (5), tests/io/test_hostile_files.py (7),
tests/test_curves_conservation.py (8); case 4 is in tests/test_screen_resume.py."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from emergence.cli import main
from emergence.curves import extract_curves
from emergence.ingest import read
from emergence.io import read_lm_eval
from emergence.io.records import read_records
from emergence.scoring import rescore


def test_1_stray_cell_flags_its_row_not_the_whole_column(tmp_path):
    # an Observational-Scaling-Laws-shaped wide table: one '-', one 'True', one NUL in GSM8K
    models = [f"m{i}" for i in range(12)]
    gsm = [f"{0.02 + 0.05 * i:.2f}" for i in range(12)]
    gsm[3], gsm[6], gsm[9] = "-", "True", "\x00"
    mmlu = [f"{0.25 + 0.04 * i:.2f}" for i in range(12)]
    lines = ["Model,Size (B),MMLU,GSM8K"] + [f"{m},{2 ** i},{a},{g}" for i, (m, a, g)
                                              in enumerate(zip(models, mmlu, gsm, strict=True))]
    p = tmp_path / "base_llm_benchmark_eval.csv"
    p.write_bytes("\n".join(lines).encode() + b"\n")
    df = read(p, columns={"model": "Model", "params": "Size (B)"}, metric="acc",
              units={"params": 1e9})
    g = df[df["task"] == "GSM8K"]
    assert len(g) == 12 and g["value"].notna().sum() == 9  # the 9 clean GSM8K values are kept
    assert set(g["note"].dropna()) == {"cell '\\x00' is not a number",
                                       "cell '-' is not a number", "cell 'True' is not a number"}
    cs = extract_curves(df, x="params")
    ex = cs.excluded
    assert len(ex) == 3 and ex["reason"].str.contains("is not a number").all()
    assert {c.task: c.n_scales for c in cs.curves} == {"GSM8K": 9, "MMLU": 12}


def test_2_missing_predictions_are_scored_as_missing_not_dropped(tmp_path):
    # 30 records, 10 items x 3 models; five predictions empty, NA, null or absent
    rows = []
    for m, size in (("a", 1e8), ("b", 1e9), ("c", 1e10)):
        for i in range(10):
            rows.append({"model": m, "item": str(i), "prediction": str(i), "target": str(i),
                         "params": size})
    for k, bad in zip((0, 4, 11, 17, 25), ("", "NA", "null", None, ""), strict=True):
        rows[k]["prediction"] = bad
    p = tmp_path / "records.jsonl"
    with open(p, "w") as fh:
        for r in rows:
            if r["prediction"] is None:
                r = {k: v for k, v in r.items() if k != "prediction"}
            fh.write(json.dumps(r) + "\n")
    rec = read_records(p, task="copy")
    assert (rec["output_type"] == "generate_until").all()
    scores = rescore(rec, metrics=["exact_match", "token_edit_distance", "normalized_edit_distance"],
                     workers=1)
    assert len(scores) == 90  # 30 records x 3 metrics, none lost
    em = scores[scores["metric"] == "exact_match"].set_index(["model", "item"])["value"]
    assert em.notna().sum() >= 25
    missing = scores[scores["value"].isna()]
    assert (missing["note"].str.contains("no prediction")).all()


def test_3_non_numeric_metric_values_are_rows_with_a_reason(tmp_path):
    files = []
    for i, size in enumerate(["70m", "160m", "410m"]):
        obj = {"results": {"arc_easy": {"acc,none": 0.4 + 0.1 * i, "acc_stderr,none": 0.01,
                                        "acc_norm,none": [0.5], "brier,none": True,
                                        "f1,none": {"x": 1}}},
               "n-shot": {"arc_easy": 0}, "lm_eval_version": "0.4.3",
               "config": {"model_args": f"pretrained=EleutherAI/pythia-{size}"}}
        p = tmp_path / f"{size}" / "results_2024-01-01T00-00-00.json"
        p.parent.mkdir()
        p.write_text(json.dumps(obj))
        files.append(p)
    df = read_lm_eval(tmp_path)
    assert len(df) == 12  # 4 metric entries x 3 files
    bad = df[df["metric"] != "acc"]
    assert bad["value"].isna().all()
    assert set(bad["note"]) == {"value is a JSON array, not a number",
                                "value True is a boolean, not a number",
                                "value is a JSON object, not a number"}
    cs = extract_curves(df, min_scales=3)
    assert [c.metric for c in cs.curves] == ["acc"]
    # the siblings are excluded for what they are, not for "curve has 2 scale(s)"
    assert cs.excluded["reason"].str.startswith("no value: value").all()
    assert len(cs.excluded) == 9


def test_6_analyze_reads_rescores_per_item_output(tmp_path):
    rows = []
    for m, (name, size) in enumerate([("a", 1e8), ("b", 1e9), ("c", 1e10)]):
        for i in range(20):
            rows.append({"model": name, "item": i, "prediction": str(i if (i + m) % 3 else -1),
                         "target": str(i), "params": size})
    recs = tmp_path / "recs.csv"
    pd.DataFrame(rows).to_csv(recs, index=False)
    scores = tmp_path / "scores.csv"
    assert main(["rescore", str(recs), "--task", "add", "--metrics", "exact_match",
                 "--out", str(scores)]) == 0
    out = tmp_path / "rep"
    assert main(["analyze", str(scores), "--quiet", "--no-verdicts", "--out", str(out)]) == 0
    pts = pd.read_csv(out / "tables" / "points.csv")
    assert len(pts) == 3 and (pts["n_items"] == 20).all()
    want = [np.mean([(i + m) % 3 != 0 for i in range(20)]) for m in range(3)]
    np.testing.assert_allclose(pts.sort_values("x")["value"], want)
