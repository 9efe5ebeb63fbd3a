"""The reader registry: one detector per format, each file read and parsed once, the same formats
for ``analyze``, ``rescore`` and ``screen``, and no scoring inside :mod:`emergence.io`.

Detection matrix: for every registered reader a fixture of its format (files in ``tests/fixtures``
or written here); null: each reader's ``detect`` accepts its own fixtures and none of the others
(so the first-match order of ``READERS`` never decides a format).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

import emergence.ingest
import emergence.io
import emergence.io._files as files_mod
from emergence._exceptions import FormatError, SchemaError
from emergence.cli import build_parser, main
from emergence.io import READERS, detect, read
from emergence.io._files import parse_once, read_head
from emergence.io.eee import write_eee

FIX = Path(__file__).resolve().parents[1] / "fixtures"
ROOT = Path(__file__).resolve().parents[2]

SAMPLE_LINE = {"doc_id": 0, "doc": {"q": "1+1"}, "target": "2",
               "arguments": {"gen_args_0": {"arg_0": "1+1=", "arg_1": "2"}},
               "resps": [[["-0.5", "True"]]], "filtered_resps": [["-0.5", "True"]],
               "filter": "none", "metrics": ["acc"], "doc_hash": "abc", "acc": 1}


def _written(tmp: Path) -> dict[str, list[Path]]:
    """Fixtures of the formats that have no file in tests/fixtures (written as the tools do)."""
    tmp.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[Path]] = {}
    ev = tmp / "2025-01-01T00-00-00_toy_abc.eval"
    with zipfile.ZipFile(ev, "w") as z:  # an Inspect .eval log is a zip archive
        z.writestr("header.json", json.dumps({"version": 2, "status": "success"}))
    out["inspect"] = [ev]
    eee_dir = tmp / "eee"
    table = pd.DataFrame({"model": ["m1", "m2"], "task": "t", "metric": "acc",
                          "value": [0.25, 0.5], "params": [1e8, 1e9]})
    items = pd.DataFrame({"model": "m1", "task": "t2", "metric": "exact_match",
                          "value": [0.0, 1.0], "item": ["a", "b"], "params": 1e8})
    out["eee"] = write_eee(pd.concat([table, items], ignore_index=True), eee_dir,
                           retrieved_timestamp="1")
    assert {p.suffix for p in out["eee"]} == {".json", ".jsonl"}
    s = tmp / "samples" / "samples_add_2024-07-01T10-00-00.000001.jsonl"
    s.parent.mkdir()
    s.write_text(json.dumps(SAMPLE_LINE) + "\n")
    unnamed = tmp / "samples" / "my_log.jsonl"  # content only: no harness name
    unnamed.write_text(json.dumps(SAMPLE_LINE) + "\n")
    out["lm-eval-samples"] = [s, unnamed]
    rec_csv = tmp / "recs.csv"
    rec_csv.write_text("model,task,item,prediction,target\nm,t,0,4,4\nm,t,1,5,6\n")
    rec_jsonl = tmp / "recs.jsonl"
    rec_jsonl.write_text("\n".join(json.dumps({"model": "m", "task": "t2", "item": i,
                                               "prediction": "4", "target": "4"})
                                   for i in range(2)) + "\n")
    rec_json = tmp / "recs.json"
    rec_json.write_text(json.dumps([{"model": "m", "task": "t3", "doc_id": 0,
                                     "target_loglik": -1.0}]))
    out["records"] = [rec_csv, rec_jsonl, rec_json]
    long = tmp / "long.csv"
    long.write_text("model,task,metric,value,params\na,t,acc,0.2,1e8\nb,t,acc,0.4,1e9\n")
    wide = tmp / "wide.tsv"
    wide.write_text("Model\tMMLU\tGSM8K\na\t0.25\t0.1\n")
    scores = tmp / "item_scores.csv"  # a re-scored per-item table is scores, not records
    scores.write_text("model,task,item,metric,value,prediction\nm,t,0,exact_match,1.0,4\n")
    out["table"] = [long, wide, scores]
    return out


def _fixtures(tmp: Path) -> dict[str, list[Path]]:
    fx = {
        "bigbench": [FIX / "bigbench/arithmetic/results/full-log_BIG-G_T_0_2m.json"],
        "helm": [FIX / "helm/runs/v1/gsm:model=openai_gpt2/scenario_state.json",
                 next((FIX / "helm/runs/v1").glob("*/per_instance_stats.json"))],
        "lighteval": sorted((FIX / "lighteval/details").rglob("*.parquet"))[:1],
        "lighteval-results": sorted((FIX / "lighteval/results").rglob("*.json"))[:1],
        "lm-eval-aggregate": [FIX / "lm_eval_040/pythia-70m-step1000/results.json",
                              *sorted((FIX / "lm_eval_03").rglob("*.json"))],
    }
    fx["lm-eval-samples"] = sorted((FIX / "lm_eval_040").rglob("*.jsonl"))
    v03 = [p for p in fx["lm-eval-aggregate"] if p.name.endswith("_write_out_info.json")]
    fx["lm-eval-aggregate"] = [p for p in fx["lm-eval-aggregate"] if p not in v03]
    fx["lm-eval-samples"] += v03
    for k, v in _written(tmp).items():
        fx.setdefault(k, []).extend(v)
    return fx


def test_every_reader_is_detected_on_its_fixtures_and_nothing_else(tmp_path):
    fx = _fixtures(tmp_path)
    assert set(fx) == {r.name for r in READERS}, "every reader needs a fixture here"
    with parse_once():
        for name, paths in fx.items():
            assert paths, name
            for p in paths:
                head = read_head(p)
                hits = [r.name for r in READERS if r.detect(head)]
                assert hits == [name], f"{p.name}: detected by {hits}, expected [{name!r}]"
                assert detect(p) == name


def test_undetected_files_are_refused_with_the_formats(tmp_path):
    p = tmp_path / "other.json"
    p.write_text(json.dumps({"hello": [1, 2, 3]}))
    with pytest.raises(FormatError, match=r"other.json: JSON that is not an lm-evaluation"
                       r"[^.]*\. Readable formats: BIG-bench full-log"):
        read(p)
    q = tmp_path / "x.parquet"
    q.write_bytes(b"PAR1")
    with pytest.raises(FormatError, match=r"x.parquet: a parquet file not named like lighteval"):
        read(q)


def test_each_file_is_opened_and_parsed_once(tmp_path, monkeypatch):
    """Every file of every JSON/CSV format in one folder: the whole file is read at most once
    (``read_bytes``), its head at most once (``_read_head``) and a JSON document parsed at most
    once (``parse_json`` without a line number); JSON lines are parsed once per line by the
    reader (the detector parses only the first line of the head, with ``json.loads``)."""
    root = tmp_path / "all"
    written = _written(tmp_path / "src")
    for name in ("eee", "lm-eval-samples", "records", "table"):
        d = root / name
        d.mkdir(parents=True)
        for p in written[name]:
            if p.name != "wide.tsv":  # a wide table needs its metric declared
                shutil.copy(p, d / p.name)
    shutil.copytree(FIX / "lm_eval_040", root / "lm040")
    shutil.copytree(FIX / "lm_eval_03", root / "lm03")
    shutil.copytree(FIX / "lighteval", root / "lighteval")
    shutil.copytree(FIX / "helm/runs/v1", root / "helm")
    (root / "bb").mkdir()
    shutil.copy(FIX / "bigbench/arithmetic/results/full-log_BIG-G_T_0_2m.json", root / "bb")
    counts: dict[str, Counter] = {"bytes": Counter(), "head": Counter(), "doc": Counter(),
                                  "line": Counter()}
    real_bytes, real_head, real_parse = (files_mod.read_bytes, files_mod._read_head,
                                         files_mod.parse_json)

    def read_bytes(path):
        counts["bytes"][Path(path).resolve()] += 1
        return real_bytes(path)

    def head(path, size):
        counts["head"][Path(path).resolve()] += 1
        return real_head(path, size)

    def parse(text, where, *, line=None):
        if line is None:
            counts["doc"][Path(str(where)).resolve()] += 1
        else:
            counts["line"][(Path(str(where)).resolve(), line)] += 1
        return real_parse(text, where, line=line)

    monkeypatch.setattr(files_mod, "read_bytes", read_bytes)
    monkeypatch.setattr(files_mod, "_read_head", head)
    monkeypatch.setattr(files_mod, "parse_json", parse)
    with pytest.warns(UserWarning, match="no matching results file"):
        got = read(root)
    used = {r for _, r in got.files}
    assert used == {r.name for r in READERS} - {"inspect"}
    assert got.scores is not None and got.records is not None
    for kind, c in counts.items():
        twice = {k: n for k, n in c.items() if n > 1}
        assert not twice, f"{kind} more than once: {twice}"
    assert counts["bytes"] and counts["doc"] and counts["line"]


def test_io_does_not_import_scoring():
    code = ("import sys, emergence.io, emergence.io.registry; "
            "bad = sorted(m for m in sys.modules if m.startswith('emergence.scoring')); "
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    for f in (ROOT / "emergence" / "io").glob("*.py"):
        for line in f.read_text().splitlines():
            s = line.strip()
            assert not (s.startswith(("import", "from")) and "scoring" in s), f"{f.name}: {s}"


def _format_choices(command: str) -> list[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    p = sub.choices[command]
    return list(next(a for a in p._actions if a.dest == "format").choices)


def test_analyze_rescore_and_screen_accept_the_same_formats(tmp_path, monkeypatch):
    names = ["auto", *[n for r in READERS for n in r.names()]]
    assert _format_choices("analyze") == _format_choices("rescore") == \
        _format_choices("screen") == names
    # all three read through the registry (one reader, one detector)
    calls: list[tuple] = []

    class Stop(Exception):
        pass

    def fake(paths, **kw):
        calls.append((tuple(map(str, paths)), kw.get("returns")))
        raise Stop

    monkeypatch.setattr(emergence.ingest, "read_files", fake)  # analyze, screen
    monkeypatch.setattr(emergence.io, "read", fake)  # rescore
    log = str(FIX / "bigbench")
    for argv in (["analyze", log, "--out", str(tmp_path / "a")],
                 ["screen", log, "--out", str(tmp_path / "s")],
                 ["rescore", log, "--out", str(tmp_path / "r.csv")]):
        with pytest.raises(Stop):
            main(argv)
    assert calls == [((log,), None), ((log,), None), ((log,), "records")]


def test_a_bigbench_log_and_a_records_csv_through_analyze(tmp_path):
    """The issue: ``analyze`` refused a BIG-bench full log that ``rescore`` read."""
    out = tmp_path / "rep"
    assert main(["analyze", str(FIX / "bigbench"), "--no-verdicts", "--quiet", "--min-scales",
                 "3", "--out", str(out)]) == 0
    pts = pd.read_csv(out / "tables" / "points.csv")
    assert (pts.groupby(["task", "metric"])["label"].nunique() == 4).all()  # four sizes
    assert {"exact_match", "multiple_choice_grade", "brier_score"} <= set(pts["metric"])
    recs = tmp_path / "recs.csv"
    pd.DataFrame({"model": ["a"] * 3 + ["b"] * 3 + ["c"] * 3, "task": "add",
                  "item": [0, 1, 2] * 3, "prediction": list("123" "124" "453"),
                  "target": list("123") * 3, "params": [1e8] * 3 + [1e9] * 3 + [1e10] * 3}
                 ).to_csv(recs, index=False)
    assert main(["analyze", str(recs), "--no-verdicts", "--quiet", "--metrics", "exact_match",
                 "--out", str(tmp_path / "rep2")]) == 0
    pts = pd.read_csv(tmp_path / "rep2" / "tables" / "points.csv")
    assert sorted(pts["value"]) == pytest.approx([1 / 3, 2 / 3, 1.0])


def test_rescore_leaves_out_aggregates_found_in_folders_and_refuses_them_by_name(tmp_path,
                                                                               capsys):
    out = tmp_path / "s.csv"
    assert main(["rescore", str(FIX / "lm_eval_040"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "left out" in printed and "results.json" in printed
    res = FIX / "lm_eval_040/pythia-70m-step1000/results.json"
    assert main(["rescore", str(res), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "results.json: lm-evaluation-harness results JSON" in err
    assert "not per-item records" in err and "emergence analyze" in err


def test_columns_map_our_names_for_tables_and_records_alike(tmp_path):
    """``--columns item=question,prediction=answer`` names our column first, as for tables."""
    p = tmp_path / "r.csv"
    p.write_text("model,task,question,answer,target\nm,t,0,4,4\nm,t,1,5,6\n")
    assert detect(p) == "table"  # no item and no model output: not per-item records
    got = read(p, columns={"item": "question", "prediction": "answer"})
    assert got.records["prediction"].tolist() == ["4", "5"]
    out = tmp_path / "s.csv"
    assert main(["rescore", str(p), "--columns", "item=question,prediction=answer",
                 "--metrics", "exact_match", "--out", str(out)]) == 0
    assert pd.read_csv(out)["value"].tolist() == [1.0, 0.0]


def test_reader_errors_name_the_flag_at_the_cli_and_the_argument_in_python(tmp_path, capsys):
    p = tmp_path / "r.csv"
    p.write_text("model,item,prediction,target\nm,0,1,1\n")
    with pytest.raises(SchemaError, match=r"r.csv: no 'task' column; pass task='...'"):
        read(p)
    for cmd in ("rescore", "analyze"):
        assert main([cmd, str(p), "--out", str(tmp_path / "o")]) == 2
        assert "r.csv: no 'task' column; pass --task NAME" in capsys.readouterr().err
    v03 = tmp_path / "v03"
    v03.mkdir()
    src = next((FIX / "lm_eval_03").rglob("*_write_out_info.json"))
    shutil.copy(src, v03 / src.name)
    with pytest.raises(FormatError, match=r"do not name the model; pass model=\.\.\."):
        read(v03)
    assert main(["rescore", str(v03), "--out", str(tmp_path / "s.csv")]) == 2
    assert "pass --model NAME (and --params NAME=COUNT)" in capsys.readouterr().err
    assert main(["rescore", str(v03), "--model", "m", "--out", str(tmp_path / "s.csv")]) == 0
