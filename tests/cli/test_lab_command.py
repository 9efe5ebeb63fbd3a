"""``emergence lab`` command: parser, help, and a clear error without the [lab] extra."""

from __future__ import annotations

import sys

import pytest

from emergence.cli import build_parser, main


def test_parser_defaults():
    args = build_parser().parse_args(["lab", "run", "--preset", "paper", "--out", "x"])
    assert (args.preset, args.out, args.seed, args.threads) == ("paper", "x", 0, 1)
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
