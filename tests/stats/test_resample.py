"""Item resampling in chunks of replicates draws what one call draws, in bounded memory."""

from __future__ import annotations

import numpy as np
import pytest

from emergence.stats import _resample
from emergence.stats._resample import resample_counts, resampled_sums


@pytest.mark.parametrize("chunk", [10**9, 1000, 37])
def test_chunks_draw_the_counts_of_one_call(monkeypatch, chunk):
    # few distinct item vectors (30 seen 10 times each): multinomial counts of the vectors
    monkeypatch.setattr(_resample, "CHUNK_COUNTS", chunk)
    k, B = 30, 199
    cnt = np.full(k, 10)
    M = np.random.default_rng(0).normal(size=(k, 4))
    W = np.random.default_rng(7).multinomial(300, cnt / 300, size=B).astype(float)
    got, got2 = resampled_sums(np.random.default_rng(7), B, M, M**2, counts=cnt)
    np.testing.assert_allclose(got, W @ M, rtol=0, atol=1e-11)
    np.testing.assert_allclose(got2, W @ M**2, rtol=0, atol=1e-11)
    # the generator is left where one call leaves it
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    g1.multinomial(300, cnt / 300, size=B)
    resampled_sums(g2, B, M, counts=cnt)
    assert g1.random() == g2.random()


@pytest.mark.parametrize("chunk", [10**9, 37])
def test_many_distinct_vectors_are_drawn_item_by_item(monkeypatch, chunk):
    # 150 distinct vectors among 200 items: items drawn one by one, counted per vector
    monkeypatch.setattr(_resample, "CHUNK_COUNTS", chunk)
    cnt = np.r_[np.full(50, 2), np.ones(100, int)]
    M = np.random.default_rng(2).normal(size=(150, 3))
    codes = np.repeat(np.arange(150), cnt)
    W = resample_counts(200, 99, np.random.default_rng(4), codes=codes, k=150)
    (got,) = resampled_sums(np.random.default_rng(4), 99, M, counts=cnt)
    np.testing.assert_allclose(got, W @ M, rtol=0, atol=1e-11)
    assert (W.sum(axis=1) == 200).all()


def test_both_draws_have_the_multinomial_law():
    # the same cells drawn both ways: means n p and variances n p (1 - p) of the counts
    cnt = np.array([1, 2, 3, 4] * 10)
    n, B = int(cnt.sum()), 20_000
    p = cnt / n
    by_item = resample_counts(n, B, np.random.default_rng(0), codes=np.repeat(np.arange(40), cnt),
                              k=40)
    multi = np.random.default_rng(1).multinomial(n, p, size=B)
    for W in (by_item, multi):
        np.testing.assert_allclose(W.mean(axis=0), n * p, atol=5 * np.sqrt(n * p / B).max())
        np.testing.assert_allclose(W.var(axis=0), n * p * (1 - p), rtol=0.1)


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

    monkeypatch.setattr(_resample, "CHUNK_COUNTS", 100_000)
    k = 1000
    resampled_sums(Spy(np.random.default_rng(1)), 999, np.ones((k, 2)),
                   counts=np.full(k, 50))
    assert max(seen) <= _resample.CHUNK_COUNTS
    assert sum(seen) == 999 * k


@pytest.mark.parametrize("chunk", [10**9, 37, 500])
def test_items_drawn_one_by_one_in_chunks_are_one_call(monkeypatch, chunk):
    # 37 draws at once: one replicate per call; 500: four replicates
    monkeypatch.setattr(_resample, "_DRAWS_AT_ONCE", chunk)
    M = np.random.default_rng(2).normal(size=(120, 3))
    W = _resample.resample_counts(120, 99, np.random.default_rng(4))
    (got,) = resampled_sums(np.random.default_rng(4), 99, M)
    np.testing.assert_allclose(got, W @ M, rtol=0, atol=1e-11)
    assert (W.sum(axis=1) == 120).all()
