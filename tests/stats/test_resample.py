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
    got, got2 = resampled_sums(np.random.default_rng(7), B, M, M**2, n=n, pvals=p)
    np.testing.assert_allclose(got, W @ M, rtol=0, atol=1e-11)
    np.testing.assert_allclose(got2, W @ M**2, rtol=0, atol=1e-11)
    # the generator is left where one call leaves it
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    g1.multinomial(n, p, size=B)
    resampled_sums(g2, B, M, n=n, pvals=p)
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
    resampled_sums(Spy(np.random.default_rng(1)), 999, np.ones((n, 2)), n=n,
                   pvals=np.full(n, 1.0 / n))
    assert max(seen) <= _resample.CHUNK_COUNTS
    assert sum(seen) == 999 * n


@pytest.mark.parametrize("chunk", [10**9, 37])
def test_items_drawn_one_by_one_in_chunks_are_one_call(monkeypatch, chunk):
    monkeypatch.setattr(_resample, "CHUNK_COUNTS", chunk)
    M = np.random.default_rng(2).normal(size=(120, 3))
    W = _resample.resample_counts(120, 99, np.random.default_rng(4))
    (got,) = resampled_sums(np.random.default_rng(4), 99, M)
    np.testing.assert_allclose(got, W @ M, rtol=0, atol=1e-11)
    assert (W.sum(axis=1) == 120).all()
