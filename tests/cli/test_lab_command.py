"""``emergence lab`` command: parser, help, and a clear error without the [lab] extra."""

from __future__ import annotations

import sys

import pytest

from emergence.cli import build_parser, main


def test_parser_defaults():
    args = build_parser().parse_args(["lab", "run", "--preset", "paper", "--out", "x"])
    assert (args.preset, args.out, args.seed, args.threads) == ("paper", "x", 0, 1)
    assert args.seeds is None  # the preset's number of runs per size
    assert build_parser().parse_args(["lab", "run", "--seeds", "5"]).seeds == 5
    with pytest.raises(SystemExit):
        build_parser().parse_args(["lab", "run", "--preset", "huge"])


def test_bare_lab_prints_help(capsys):
    assert main(["lab"]) == 2
    assert "run" in capsys.readouterr().out


def test_missing_extra_is_a_clear_error(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    assert main(["lab", "run", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "[lab] extra" in err and "torch" in err
    assert not (tmp_path / "o").exists()


def test_seeds_below_one_is_a_clear_error(capsys, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("lm_eval")
    assert main(["lab", "run", "--seeds", "0", "--out", str(tmp_path / "o")]) == 2
    assert "--seeds must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
