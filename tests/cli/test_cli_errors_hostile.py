"""Command-line mistakes end in exit 2 with a short message naming the flag, never a traceback."""

from __future__ import annotations

import pandas as pd
import pytest

from emergence.cli import main


@pytest.fixture
def records(tmp_path):
    p = tmp_path / "recs.csv"
    pd.DataFrame({"model": ["a", "a"], "item": [0, 1], "prediction": ["1", "2"],
                  "target": ["1", "3"]}).to_csv(p, index=False)
    return p


def test_invalid_regex(records, tmp_path, capsys):
    rc = main(["rescore", str(records), "--task", "t", "--regex", "([", "--out",
               str(tmp_path / "s.csv")])
    err = capsys.readouterr().err
    assert rc == 2 and "--regex '([' is not a valid regular expression" in err


def test_missing_tokenizer_folder(records, tmp_path, capsys):
    rc = main(["rescore", str(records), "--task", "t", "--tokenizer", "hf:/no/such/folder",
               "--out", str(tmp_path / "s.csv")])
    err = capsys.readouterr().err
    assert rc == 2 and "--tokenizer hf:/no/such/folder: no such folder" in err


@pytest.mark.parametrize("seed", ["18446744073709551616", "-1", "1.5"])
def test_seed_out_of_range_is_refused(seed, capsys):
    # seeds are 64-bit at the command line
    with pytest.raises(SystemExit) as e:
        main(["screen", "--dataset", "pythia-v1", "--seed", seed, "--out", "x"])
    assert e.value.code == 2
    assert "argument --seed" in capsys.readouterr().err


def test_largest_seed_accepted(tmp_path):
    p = tmp_path / "t.csv"
    pd.DataFrame({"model": ["a", "b", "c"], "task": "t", "metric": "acc",
                  "value": [0.1, 0.2, 0.3], "params": [1e8, 1e9, 1e10]}).to_csv(p, index=False)
    assert main(["analyze", str(p), "--seed", "18446744073709551615", "--quiet", "--no-verdicts",
                 "--out", str(tmp_path / "o")]) == 0


@pytest.mark.slow
def test_unreachable_scheduler(tmp_path, capsys):
    pytest.importorskip("dask.distributed")
    rc = main(["screen", "--dataset", "pythia-v1", "--scheduler", "tcp://127.0.0.1:1",
               "--quiet", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "--scheduler tcp://127.0.0.1:1: cannot reach the dask scheduler" in err
