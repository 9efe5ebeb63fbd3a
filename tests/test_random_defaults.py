"""One seed type and one set of defaults across the pipeline."""

import inspect
import zlib

import numpy as np
import pandas as pd
import pytest

from emergence._defaults import ALPHA, N_BOOT
from emergence._random import as_generator, keyed_seed, root_seed, spawn
from emergence.curves import extract_curves
from emergence.verdict import KEY_COLS, assess, curve_seed


def _curves():
    params = np.logspace(8, 11, 8)
    acc = np.exp(-np.exp(8.0 - 0.8 * np.log10(params)))
    df = pd.DataFrame({"family": "toy", "model": [f"m{i}" for i in range(8)], "task": "arith",
                       "metric": "exact_match", "value": acc.round(3), "n_items": 1000,
                       "params": params})
    return extract_curves(df, x="params")


def test_assess_accepts_a_generator_and_records_the_seed_it_used():
    cs = _curves()
    vt = assess(cs, n_boot=49, progress=False, seed=np.random.default_rng(1))
    again = assess(cs, n_boot=49, progress=False, seed=vt.seed)
    assert isinstance(vt.seed, int) and vt.seed >= 2**32  # a 64-bit draw
    pd.testing.assert_frame_equal(vt.to_frame(), again.to_frame())


def test_seedsequence_and_int_give_the_same_results():
    cs = _curves()
    a = assess(cs, n_boot=49, progress=False, seed=3).to_frame()
    b = assess(cs, n_boot=49, progress=False, seed=np.random.SeedSequence(3)).to_frame()
    pd.testing.assert_frame_equal(a, b)


def test_curve_seed_below_2_32_is_the_32_bit_stream_and_larger_seeds_differ():
    c = _curves().curves[0]
    key = zlib.crc32("|".join(str(c.key[k]) for k in KEY_COLS).encode())
    for s in (0, 7, 2**32 - 1):
        old = np.random.SeedSequence([s & 0xFFFFFFFF, key])
        assert np.array_equal(curve_seed(c, s).generate_state(4), old.generate_state(4))
    # before 64-bit seeds, 2**32 + 7 gave the streams of 7
    assert not np.array_equal(curve_seed(c, 2**32 + 7).generate_state(4),
                              curve_seed(c, 7).generate_state(4))
    # the Emergence Score interval's stream (old: seed + 7, masked) is unchanged too
    assert np.array_equal(curve_seed(c, 5, offset=7).generate_state(2),
                          np.random.SeedSequence([12, key]).generate_state(2))


def test_seed_helpers_refuse_what_is_not_a_seed():
    with pytest.raises(TypeError, match="`seed` must be"):
        as_generator(np.random.RandomState(0))
    with pytest.raises(TypeError, match="`seed` must be"):
        as_generator(1.5)
    with pytest.raises(ValueError, match="non-negative"):
        root_seed(-1)
    with pytest.raises(ValueError, match="non-negative"):
        keyed_seed(-1, 0)
    a = [g.integers(1000) for g in spawn(np.random.default_rng(4), 3)]
    b = [g.integers(1000) for g in spawn(4, 3)]
    assert a == b and len(set(a)) == 3


def test_one_n_boot_and_alpha_default():
    from emergence.analysis import analyze
    from emergence.item_bootstrap import cluster_bootstrap_means, item_bootstrap
    from emergence.mirage import mirage_check
    from emergence.report import build_report
    from emergence.scaling.backtest import backtest, fit_sigmoid
    from emergence.scaling.chinchilla import fit_chinchilla
    from emergence.scaling.powerlaw import fit_power_law
    from emergence.scaling.section import report_section
    from emergence.screen import screen
    from emergence.stats.bootstrap import pblrt_test
    from emergence.stats.latent import latent_break_test
    from emergence.stats.multiple import fdr
    from emergence.stats.scores import emergence_score_interval
    from emergence.stats.supf import supf_test
    from emergence.verdict import assess_curve

    funcs = [assess, assess_curve, screen, analyze, build_report, fit_chinchilla, fit_power_law,
             backtest, fit_sigmoid, report_section, item_bootstrap, cluster_bootstrap_means,
             mirage_check, pblrt_test, latent_break_test, emergence_score_interval, supf_test, fdr]
    for f in funcs:
        sig = inspect.signature(f).parameters
        if "n_boot" in sig:
            assert sig["n_boot"].default == N_BOOT, f.__qualname__
        if "alpha" in sig:
            assert sig["alpha"].default == ALPHA, f.__qualname__


def test_cli_defaults_are_the_package_defaults():
    from emergence.cli import build_parser

    p = build_parser()
    for cmd in (["analyze", "x.csv"], ["screen", "x.csv", "--out", "o"],
                ["scaling", "fit", "x.csv"], ["scaling", "report", "x.csv"],
                ["rescore", "x.jsonl", "--out", "o"]):
        ns = p.parse_args(cmd)
        assert ns.n_boot == N_BOOT, cmd[0]
    assert p.parse_args(["screen", "x.csv", "--out", "o"]).alpha == ALPHA
