"""Item resampling in chunks of replicates draws what one call draws, in bounded memory."""

from __future__ import annotations

import numpy as np
import pytest

from emergence.stats import _resample
from emergence.stats._resample import resampled_sums


@pytest.mark.parametrize("chunk", [10**9, 1000, 37])
def test_chunks_draw_the_counts_of_one_call(monkeypatch, chunk):
    monkeypatch.setattr(_resample, "CHUNK_COUNTS", chunk)
    n, B = 300, 199
    M = np.random.default_rng(0).normal(size=(n, 4))
    p = np.full(n, 1.0 / n)
    W = np.random.default_rng(7).multinomial(n, p, size=B).astype(float)
    got, got2 = resampled_sums(np.random.default_rng(7), n, p, B, M, M**2)
    np.testing.assert_allclose(got, W @ M, rtol=0, atol=1e-11)
    np.testing.assert_allclose(got2, W @ M**2, rtol=0, atol=1e-11)
    # the generator is left where one call leaves it
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    g1.multinomial(n, p, size=B)
    resampled_sums(g2, n, p, B, M)
    assert g1.random() == g2.random()


def test_counts_held_at_once_are_bounded(monkeypatch):
    seen = []
    real = np.random.Generator.multinomial

    class Spy:
        def __init__(self, g):
            self.g = g

        def multinomial(self, n, pvals, size):
            out = real(self.g, n, pvals, size=size)
            seen.append(out.size)
            return out

    n = 50_000
    resampled_sums(Spy(np.random.default_rng(1)), n, np.full(n, 1.0 / n), 999,
                   np.ones((n, 2)))
    assert max(seen) <= _resample.CHUNK_COUNTS
    assert sum(seen) == 999 * n
