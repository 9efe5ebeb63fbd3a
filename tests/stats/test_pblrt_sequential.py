"""Sequential Monte Carlo p-values of the PB-LRT: exact at or below ``exact_below``."""

from __future__ import annotations

import numpy as np
import pytest

from emergence.stats.bootstrap import CHUNK, pblrt_test

X = np.linspace(7, 11, 10)


def _curve(jump: float, seed: int):
    p = np.clip(0.05 + 0.08 * (X - 7) + jump * (X > 9.3), 0, 0.95)
    return np.random.default_rng(seed).binomial(300, p) / 300


@pytest.mark.parametrize("jump", [0.0, 0.25])
def test_small_p_values_are_those_of_all_replicates(jump):
    y = _curve(jump, 3)
    full = pblrt_test(log10_x=X, y=y, n_items=300, metric="acc", null="linear", n_boot=999,
                      seed=5)
    seq = pblrt_test(log10_x=X, y=y, n_items=300, metric="acc", null="linear", n_boot=999,
                     seed=5, exact_below=0.05)
    assert full.n_boot_used == 999
    if full.pvalue <= 0.05:
        assert seq.pvalue == full.pvalue and seq.n_boot_used == 999
    else:
        # stopped early: both p-values certainly above 0.05
        assert seq.pvalue > 0.05 and seq.pvalue_two_sided > 0.05
        assert seq.n_boot_used == 2 * CHUNK
        assert "stopped after" in seq.reference
        np.testing.assert_array_equal(seq.replicates, full.replicates[:seq.n_boot_used])
    assert seq.statistic == full.statistic


def test_a_jump_is_decided_as_with_all_replicates():
    y = _curve(0.25, 3)
    r = pblrt_test(log10_x=X, y=y, n_items=300, metric="acc", null="linear", n_boot=999, seed=5,
                   exact_below=0.05)
    assert r.pvalue <= 0.05 and r.n_boot_used == 999


def test_bad_exact_below_names_the_argument():
    with pytest.raises(ValueError, match="exact_below"):
        pblrt_test(log10_x=X, y=_curve(0.0, 1), n_items=300, metric="acc", null="linear",
                   exact_below=1.5)
