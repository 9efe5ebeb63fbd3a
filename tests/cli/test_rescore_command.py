"""``emergence rescore`` on the fixtures (and on real harness output, marked lab)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from emergence.cli import main

try:
    from harness_fixture import harness_run  # noqa: F401
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.harness_fixture import harness_run  # noqa: F401

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def test_cli_rescore_bigbench_with_aggregate(tmp_path, capsys):
    out, agg = tmp_path / "s.csv", tmp_path / "agg.csv"
    rc = main(["rescore", str(FIX / "bigbench"), "--out", str(out), "--aggregate", str(agg),
               "--n-boot", "200", "--normalize", "none"])
    assert rc == 0
    s = pd.read_csv(out)
    assert s["model"].nunique() == 4 and s["item"].notna().all()
    assert {"exact_match", "brier_score", "token_edit_distance"} <= set(s["metric"])
    a = pd.read_csv(agg)
    assert {"ci_low", "ci_high", "diff_low"} <= set(a.columns)
    assert (a["ci_low"] <= a["mean"] + 1e-12).all()
    assert "wrote" in capsys.readouterr().out


def test_cli_metric_selection_and_errors(tmp_path, capsys):
    out = tmp_path / "s.csv"
    rc = main(["rescore", str(FIX / "lm_eval_040"), "--metrics", "exact_match,brier_score",
               "--out", str(out)])
    assert rc == 0
    assert set(pd.read_csv(out)["metric"].str.split(",").str[0]) == {"exact_match",
                                                                      "brier_score"}
    assert main(["rescore", str(FIX / "lm_eval_040"), "--metrics", "bleu4",
                 "--out", str(out)]) == 2
    assert "unknown metric" in capsys.readouterr().err
    assert main(["rescore", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert main(["rescore", str(FIX / "lm_eval_040"), "--filter", "nope",
                 "--out", str(out)]) == 2
    assert main(["rescore", str(FIX / "lm_eval_040"), "--tokenizer", "bpe",
                 "--out", str(out)]) == 2


def test_cli_mixed_formats(tmp_path):
    out = tmp_path / "s.csv"
    helm_run = FIX / "helm/runs/v1/gsm:model=openai_gpt2"
    rc = main(["rescore", str(helm_run), str(FIX / "lm_eval_03"), "--out", str(out),
               "--params", "gpt2=1.24e8", "pythia-v1.1-160m=1.6e8"])
    assert rc == 0
    s = pd.read_csv(out)
    assert set(s["model"]) == {"gpt2", "pythia-v1.1-160m"}
    assert s.groupby("model")["params"].first().to_dict() == {"gpt2": 1.24e8,
                                                              "pythia-v1.1-160m": 1.6e8}


@pytest.mark.lab
def test_cli_on_real_harness_output(harness_run, tmp_path):
    out = tmp_path / "s.csv"
    rc = main(["rescore", str(harness_run.output_path), "--attach", "toy_add_gen=toy_add_ll",
               "--family", "tiny", "--out", str(out), "--aggregate", str(tmp_path / "a.csv"),
               "--n-boot", "100", "--tokenizer", f"hf:{harness_run.models['tiny-s']}"])
    assert rc == 0
    s = pd.read_csv(out)
    assert s[s["step"] == 2]["model"].nunique() == 3
    assert "token_edit_distance,strict-match" in set(s["metric"])
    note = s[s["metric"] == "loglik_per_token"]["note"].dropna().unique().tolist()
    assert len(note) == 1 and note[0].startswith("tokens counted with tokenizer=")
    assert "whitespace" not in note[0]
