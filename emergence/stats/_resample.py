"""Item resampling counts for the item bootstraps, drawn in chunks of replicates.

One place for both draws the package uses: ``Multinomial(n, pvals)`` counts (the residual PB-LRT
and the Emergence Score interval) and items drawn one by one with ``Generator.integers`` and
counted (the item-cluster bootstrap and the Mirage check). Chunks of replicates keep memory
bounded; the generator fills replicates in order, so the draws are those of one call.
"""

from __future__ import annotations

import numpy as np

#: Resampling counts held at once (float64: 16 MB); more items mean fewer replicates per chunk.
CHUNK_COUNTS = 2_000_000


def resample_counts(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) matrix: how often each of ``n`` items is drawn in each replicate of ``n``
    draws with replacement (``Generator.integers``, counted with ``bincount``)."""
    idx = rng.integers(0, n, size=(n_boot, n))
    flat = idx + (np.arange(n_boot, dtype=np.int64) * n)[:, None]
    return np.bincount(flat.ravel(), minlength=n_boot * n).reshape(n_boot, n).astype(np.float64)


def resampled_sums(rng: np.random.Generator, n_boot: int, *mats: np.ndarray,
                   n: int | None = None, pvals: np.ndarray | None = None) -> list[np.ndarray]:
    """``W @ M`` for each matrix ``M`` of ``mats``, with ``W`` the (n_boot, k) resampling counts
    of the k rows of every ``M``.

    ``pvals`` given: ``W`` are ``Multinomial(n, pvals)`` counts (``rng.multinomial``). ``pvals``
    None: the k rows are items drawn k times with replacement, as :func:`resample_counts`.

    The counts are drawn in chunks of replicates so that no more than about
    :data:`CHUNK_COUNTS` of them are held at once (a single (999, 100,000) matrix of counts
    takes 800 MB). The generator fills replicates in order, so the draws are exactly those of
    one call; with more than ``CHUNK_COUNTS / n_boot`` rows the products are summed in chunks,
    equal to one product up to rounding.
    """
    k = mats[0].shape[0] if pvals is None else len(pvals)
    step = max(1, CHUNK_COUNTS // max(k, 1))
    outs = [np.empty((n_boot, M.shape[1])) for M in mats]
    for a in range(0, n_boot, step):
        b = min(step, n_boot - a)
        W = (resample_counts(k, b, rng) if pvals is None
             else rng.multinomial(n, pvals, size=b).astype(float))
        for o, M in zip(outs, mats, strict=True):
            o[a:a + b] = W @ M
    return outs
