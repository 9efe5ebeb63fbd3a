"""Item resampling in chunks of replicates: memory bounded, the same draws as one call."""

from __future__ import annotations

import numpy as np

#: Resampling counts held at once (float64: 16 MB); more items mean fewer replicates per chunk.
CHUNK_COUNTS = 2_000_000


def resampled_sums(rng: np.random.Generator, n: int, pvals: np.ndarray, n_boot: int,
                   *mats: np.ndarray) -> list[np.ndarray]:
    """``W @ M`` for each matrix ``M`` of ``mats``, with ``W`` the (n_boot, k) resampling counts
    ``Multinomial(n, pvals)`` of the k categories (rows of every ``M``).

    The counts are drawn in chunks of replicates so that no more than about
    :data:`CHUNK_COUNTS` of them are held at once (a single (999, 100,000) matrix of counts
    takes 800 MB). The generator fills replicates in order, so the draws are exactly those of
    one ``rng.multinomial(n, pvals, size=n_boot)`` call; with more than ``CHUNK_COUNTS / 999``
    categories the products are summed in chunks, equal to one product up to rounding.
    """
    k = len(pvals)
    step = max(1, CHUNK_COUNTS // max(k, 1))
    outs = [np.empty((n_boot, M.shape[1])) for M in mats]
    for a in range(0, n_boot, step):
        b = min(step, n_boot - a)
        W = rng.multinomial(n, pvals, size=b).astype(float)
        for o, M in zip(outs, mats, strict=True):
            o[a:a + b] = W @ M
    return outs
