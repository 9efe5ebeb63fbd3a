"""A declared model-to-model scatter (``scatter_sd``) replaces the estimate from a curve's own points.

With one model per scale the latent test estimates the scatter from the curve's residuals, with
``S - 4`` degrees of freedom; under a hinge the null fit's residuals carry the hinge, so the
scatter it simulates is inflated and most of the power is lost. A declared value (measured from
seeds at other sizes, say) is used in the statistic and in the reference instead.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from emergence.cli import main
from emergence.curves import extract_curves
from emergence.screen import screen
from emergence.simulate import simulate_aggregate, simulate_family
from emergence.stats._data import as_curve_data
from emergence.stats.latent import latent_break_test, latent_kind
from emergence.verdict import assess

SD = 0.25


def _loglik(truth: str, seed: int, **kw):
    df = simulate_family(truth, n_scales=8, n_items=200, scatter_sd=SD, seed=seed,
                         metrics=["target_loglik"], **kw)
    c = extract_curves(df, x="params").curves[0]
    d = as_curve_data(c)
    return c, d, latent_kind(c.metric, c.info, d.chance)


def test_declared_scatter_replaces_the_estimate_and_says_so():
    c, d, k = _loglik("hinge", 1)
    est = latent_break_test(d, kind=k, item_lengths=c.item_lengths, n_boot=99, seed=3)
    dec = latent_break_test(d, kind=k, item_lengths=c.item_lengths, n_boot=99, seed=3,
                            scatter_sd=SD)
    again = latent_break_test(d, kind=k, item_lengths=c.item_lengths, n_boot=99, seed=3,
                              scatter_sd=SD)
    assert est.tau2_source == "null fit"
    assert dec.tau2_source == "declared" and dec.tau2 == pytest.approx(SD**2)
    assert any("declared: sd 0.25" in n for n in dec.notes)
    assert "(declared)" in dec.reference and "shape and breakpoint refitted" in dec.reference
    assert (dec.statistic, dec.pvalue) == (again.statistic, again.pvalue)
    # the estimate from eight points carries the hinge: far above the true 0.0625
    assert est.tau2 > 2 * SD**2


def test_declared_scatter_holds_size_on_a_smooth_truth_and_finds_the_hinge():
    # 40 families each, target log-likelihood, one model per scale with scatter sd 0.25
    def rejections(truth, **kw):
        out = []
        for seed in range(40):
            c, d, k = _loglik(truth, seed)
            r = latent_break_test(d, kind=k, item_lengths=c.item_lengths, n_boot=99,
                                  seed=seed, **kw)
            out.append(r.pvalue <= 0.05)
        return int(np.sum(out))

    smooth = rejections("power_law", scatter_sd=SD)
    found = rejections("hinge", scatter_sd=SD)
    found_est = rejections("hinge")
    # a true 5% gives 6 or more of 40 with probability 0.14, 8 or more with 0.014
    assert smooth <= 7, smooth
    assert found >= 32, found           # 80%
    assert found >= found_est + 8, (found, found_est)


def test_runs_and_unknown_item_counts_do_not_use_a_declared_scatter():
    df = simulate_family("power_law", n_scales=8, n_items=100, scatter_sd=SD, n_runs=3, seed=4,
                         metrics=["target_loglik"])
    c = extract_curves(df, x="params", runs="mean").curves[0]
    d = as_curve_data(c)
    r = latent_break_test(d, kind=latent_kind(c.metric, c.info, d.chance), runs=c.runs,
                          item_lengths=c.item_lengths, n_boot=19, seed=1, scatter_sd=SD)
    assert r.tau2_source == "runs"
    assert any("declared scatter (sd 0.25) is not used" in n for n in r.notes)

    agg = simulate_aggregate("power_law", n_scales=8, n_items=200, seed=5,
                             metrics=["exact_match"], with_n_items=False, decimals=3)
    c = extract_curves(agg, x="params").curves[0]
    d = as_curve_data(c)
    r = latent_break_test(d, kind=latent_kind(c.metric, c.info, d.chance), n_boot=19, seed=1,
                          scatter_sd=SD)
    assert r.tau2_source == "null fit"
    assert any("declared scatter (sd 0.25) not used" in n for n in r.notes)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "wide"])
def test_a_bad_declared_scatter_is_an_error_naming_the_argument(bad):
    c, d, k = _loglik("power_law", 0)
    with pytest.raises(ValueError, match="`scatter_sd` must be"):
        latent_break_test(d, kind=k, n_boot=19, scatter_sd=bad)
    with pytest.raises(ValueError, match="`scatter_sd` must be"):
        assess([c], n_boot=19, progress=False, scatter_sd=bad)


def test_assess_and_screen_pass_the_declared_scatter_on(tmp_path):
    df = simulate_family("hinge", n_scales=8, n_items=200, scatter_sd=SD, seed=2)
    cs = extract_curves(df, x="params")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vt = assess(cs, n_boot=49, progress=False, scatter_sd=SD)
        sc = screen(cs, tmp_path / "s", n_boot=49, progress=False, scatter_sd=SD)
        plain = screen(cs, tmp_path / "p", n_boot=49, progress=False)
    rows = vt.to_frame()
    assert set(rows["tau2_source"]) == {"declared"}
    assert "model-to-model scatter declared (sd 0.25 of ln CE)" in vt.verdicts()["reasons"][0]
    # a screen gives the same rows as assess, and records the declaration in its settings
    assert sc.to_frame()["pblrt_pvalue"].tolist() == rows["pblrt_pvalue"].tolist()
    assert json.loads((tmp_path / "s" / "settings.json").read_text())["scatter_sd"] == SD
    # without a declaration the settings have no such key, so earlier screens still resume
    assert "scatter_sd" not in json.loads((tmp_path / "p" / "settings.json").read_text())
    assert set(plain.to_frame()["tau2_source"]) == {"null fit"}


def test_cli_takes_the_declared_scatter_and_names_the_flag_on_bad_values(tmp_path, capsys):
    df = simulate_family("power_law", n_scales=8, n_items=100, scatter_sd=SD, seed=6,
                         metrics=["target_loglik"])
    p = tmp_path / "t.csv"
    df.to_csv(p, index=False)
    out = tmp_path / "screen"
    assert main(["screen", str(p), "--out", str(out), "--n-boot", "19", "--quiet",
                 "--scatter-sd", "0.25"]) == 0
    assert json.loads((out / "settings.json").read_text())["scatter_sd"] == 0.25
    with pytest.raises(SystemExit) as e:
        main(["analyze", str(p), "--quiet", "--scatter-sd", "-1", "--out", str(tmp_path / "r")])
    assert e.value.code == 2
    assert "--scatter-sd: must be a finite number >= 0" in capsys.readouterr().err
