"""Files as careless users and attackers hand them over: every case ends in a result or in a
FormatError naming the file (exit 2 at the CLI), and nothing is skipped without a word."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from emergence._exceptions import DataExclusionWarning, FormatError
from emergence.cli import main
from emergence.ingest import read
from emergence.io import read_lm_eval
from emergence.io._files import MAX_JSON_DEPTH, load_json, read_csv_text
from emergence.io.samples import read_samples

TS = "2024-07-01T10-00-00.000001"
LINE = {"doc_id": 0, "doc": {"q": "1+1"}, "target": "2",
        "arguments": {"gen_args_0": {"arg_0": "1+1=", "arg_1": "2"}},
        "resps": [[["-0.5", "True"]]], "filtered_resps": [["-0.5", "True"]],
        "filter": "none", "metrics": ["acc"], "doc_hash": "h0", "acc": 1}
RESULTS = {"results": {"add": {"acc,none": 1.0}}, "n-shot": {"add": 0},
           "configs": {"add": {"output_type": "loglikelihood", "metric_list": [{"metric": "acc"}]}},
           "config": {"model_args": "pretrained=org/m1", "model_num_parameters": 12345}}


def _samples_folder(root: Path, task: str = "add", bom: bool = False) -> Path:
    d = root / f"run_{task}"
    d.mkdir(parents=True)
    text = "".join(json.dumps({**LINE, "doc_id": i}) + "\n" for i in range(3))
    data = text.encode()
    (d / f"samples_{task}_{TS}.jsonl").write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    res = {**RESULTS, "results": {task: {"acc,none": 1.0}}, "n-shot": {task: 0},
           "configs": {task: RESULTS["configs"]["add"]}}
    (d / f"results_{TS}.json").write_text(json.dumps(res))
    return d


def test_bom_sample_file_is_read_with_its_task(tmp_path):
    # finding 7: a UTF-8 BOM used to drop the file and its task from a folder
    _samples_folder(tmp_path, "add")
    _samples_folder(tmp_path, "sub", bom=True)
    rec = read_samples(tmp_path)
    assert sorted(set(rec["task"])) == ["add", "sub"]
    assert (rec.groupby("task").size() == 3).all()
    assert set(rec["params"]) == {12345}


@pytest.mark.parametrize("count", [-1, 0, "many", float("inf"), True])
def test_a_parameter_count_that_is_not_a_count_is_unknown(tmp_path, count):
    # found by the 10,000-example property run: model_num_parameters -1 in the results file went
    # into the records and made re-scoring fail with an error that named no file; the results
    # reader already took it as unknown, and so does the samples reader now
    from emergence.scoring import rescore

    d = _samples_folder(tmp_path)
    res = json.loads((d / f"results_{TS}.json").read_text())
    res["config"]["model_num_parameters"] = count if count != float("inf") else 1e999
    (d / f"results_{TS}.json").write_text(json.dumps(res).replace("Infinity", "1e999"))
    with pytest.warns(DataExclusionWarning, match=rf"samples_add_{TS}\.jsonl: column 'params'.*not pos"):
        rec = read_samples(d)
    assert rec["params"].isna().all() and len(rec) == 3
    scores = rescore(rec, workers=1)
    assert scores["params"].isna().all() and scores["value"].notna().all()


def test_corrupt_results_file_is_an_error_not_missing_metadata(tmp_path):
    # finding 7: a corrupt results_<ts>.json was reported as "no matching results file"
    d = _samples_folder(tmp_path)
    (d / f"results_{TS}.json").write_text(json.dumps(RESULTS)[:40])
    with pytest.raises(FormatError, match=rf"results_{TS}\.json: invalid JSON.*truncated"):
        read_samples(d)


def test_unreadable_subfolder_is_an_error(tmp_path, monkeypatch):
    # finding 7: an unreadable subfolder was skipped; the test runs as root, so the permission
    # failure is injected where os.walk lists that folder
    _samples_folder(tmp_path, "add")
    locked = _samples_folder(tmp_path, "sub")
    real = os.scandir

    def scandir(path="."):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(FormatError, match=r"run_sub: folder cannot be read \(Permission denied\)"):
        read_samples(tmp_path)
    assert main(["analyze", str(tmp_path), "--quiet", "--no-verdicts",
                 "--out", str(tmp_path / "o")]) == 2


def test_fifo_is_refused_not_read(tmp_path, capsys):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(FormatError, match=r"pipe\.json: is a FIFO"):
        read(fifo)
    assert main(["analyze", str(fifo), "--quiet", "--out", str(tmp_path / "o")]) == 2
    assert "pipe.json: is a FIFO" in capsys.readouterr().err
    d = tmp_path / "d"
    d.mkdir()
    os.mkfifo(d / "pipe.json")
    with pytest.raises(FormatError, match=r"pipe\.json: not a regular file"):
        read(d)


def test_deep_nesting_is_a_clear_error(tmp_path):
    p = tmp_path / "r.json"
    p.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(FormatError, match=rf"nested 100000 levels deep \(limit {MAX_JSON_DEPTH}\)"):
        read_lm_eval(p)


def test_truncated_results_file_says_truncated(tmp_path, capsys):
    p = tmp_path / "results.json"
    p.write_text(json.dumps({"results": {"piqa": {"acc": 0.6}}, "config": {}}, indent=1)[:-5])
    assert main(["analyze", str(p), "--quiet", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "results.json: invalid JSON at line" in err and "truncated" in err
    assert len(err) < 500


def test_conflicting_duplicate_keys_are_an_error(tmp_path):
    p = tmp_path / "r.json"
    p.write_text('{"results": {"piqa": {"acc": 0.6, "acc": 0.7}}, "config": {}}')
    with pytest.raises(FormatError, match=r"key 'acc' appears twice"):
        load_json(p)
    p.write_text('{"results": {"piqa": {"acc": 0.6, "acc": 0.6}}, "config": {}}')
    assert load_json(p)["results"]["piqa"] == {"acc": 0.6}


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-8-sig", "utf-32"])
def test_csv_encodings(tmp_path, encoding):
    p = tmp_path / "t.csv"
    text = "model,task,metric,value,params\r\nä,t,acc,0.25,1e8\r\nb,t,acc,0.5,1e9\r\n"
    p.write_bytes(text.encode(encoding))
    df = read(p)
    assert df["model"].tolist() == ["ä", "b"] and df["value"].tolist() == [0.25, 0.5]


def test_gzip_by_content_and_bad_bytes_name_the_line(tmp_path):
    p = tmp_path / "r.json"
    obj = {"results": {"piqa": {"acc": 0.6}}, "versions": {"piqa": 0}, "config": {}}
    p.write_bytes(gzip.compress(json.dumps(obj).encode()))
    assert read_lm_eval(p)["value"].tolist() == [0.6]
    q = tmp_path / "t.csv"
    q.write_bytes(b"model,task,metric,value\na,t,acc,0.5\nb\xff,t,acc,0.5\n")
    with pytest.raises(FormatError, match=r"t\.csv: line 3, column 2: byte 0xff is not UTF-8"):
        read(q)


def test_duplicate_header_is_an_error(tmp_path):
    p = tmp_path / "w.csv"
    p.write_text("Model,MMLU,MMLU\na,0.3,0.4\n")
    with pytest.raises(FormatError, match=r"line 1: column name\(s\) \['MMLU'\] appear more"):
        read_csv_text(p)


def test_cli_errors_are_short_and_unexpected_oserrors_exit_2(tmp_path, capsys):
    p = tmp_path / "t.csv"
    pd.DataFrame({"model": ["a", "b", "c"], "task": "t", "metric": "acc",
                  "value": [0.1, 0.2, 0.3], "params": [1e8, 1e9, 1e10]}).to_csv(p, index=False)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    # --out inside an existing file
    assert main(["analyze", str(p), "--quiet", "--no-verdicts", "--out", str(blocker / "r")]) == 2
    err = capsys.readouterr().err
    assert "file" in err and "Not a directory" in err and len(err) < 400
    # a name too long for the file system
    assert main(["analyze", str(p), "--quiet", "--no-verdicts",
                 "--out", str(tmp_path / ("x" * 300))]) == 2
    assert "File name too long" in capsys.readouterr().err


def test_records_file_with_header_only_is_an_error(tmp_path):
    # found by the long property run: a CSV cut after its header gave an empty table that
    # rescore then refused with a ValueError naming no file
    from emergence.io.records import read_records

    p = tmp_path / "recs.csv"
    p.write_text("model,item,prediction,target\n")
    with pytest.raises(FormatError, match=r"recs\.csv: holds no records"):
        read_records(p, task="t")


def test_records_without_any_output_column_is_an_error(tmp_path):
    # found by the long property run: a damaged header ('qrediction') made every row a
    # log-likelihood request without a log-likelihood
    from emergence.io.records import read_records

    p = tmp_path / "recs.csv"
    p.write_text("model,item,qrediction,target\nm1,0,7,42\n")
    with pytest.raises(FormatError, match=r"recs\.csv: no 'prediction', 'target_loglik' or"):
        read_records(p, task="t")


@pytest.mark.parametrize("value", [":", "9" * 5000, -1, 0, "1e999", True])
def test_a_model_size_that_is_not_a_number_is_unknown_in_every_per_item_log(tmp_path, value):
    # found by the 10,000-example property run: a BIG-bench full log whose model states
    # non_embedding_params as ":" or a 5,000-digit number made re-scoring fail with an error naming
    # no file; a stated size that is not a positive number is now unknown (with a warning naming
    # the file), and every record is scored
    import warnings

    from emergence._exceptions import DataExclusionWarning
    from emergence.io.bigbench import read_bigbench
    from emergence.scoring import rescore

    src = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "bigbench").rglob(
        "full-log_*.json"))[0]
    obj = json.loads(src.read_text())
    obj["model"]["non_embedding_params"] = value
    obj["model"]["total_params"] = value
    f = tmp_path / src.name
    f.write_text(json.dumps(obj))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        rec = read_bigbench(f)
    assert any(issubclass(w.category, DataExclusionWarning) and src.name in str(w.message)
               and "not positive numbers" in str(w.message) for w in seen)
    assert rec["params"].isna().all() and rec["nonembedding_params"].isna().all()
    assert rec["invalid"].isna().all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = rescore(rec, workers=1)
    assert len(scores) and scores["params"].isna().all()


def test_an_unknown_output_type_is_named_briefly(tmp_path):
    # found by the 10,000-example property run: a 5,000-character output_type in a results file
    # made an error message of 5,419 characters
    from emergence._exceptions import SchemaError

    d = _samples_folder(tmp_path)
    res = json.loads((d / f"results_{TS}.json").read_text())
    res["configs"]["add"]["output_type"] = "9" * 5000
    (d / f"results_{TS}.json").write_text(json.dumps(res))
    with pytest.raises(SchemaError, match="unknown output_type") as e:
        read_samples(d)
    assert len(str(e.value)) <= 800 and "..." in str(e.value)  # the property tests' limit
