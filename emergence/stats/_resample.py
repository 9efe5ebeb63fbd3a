"""Item resampling counts for the item bootstraps, drawn in chunks of replicates.

One place for the draws the package uses: items drawn one by one with ``Generator.integers`` and
counted (the residual PB-LRT, the item-cluster bootstrap and the Mirage check), and the counts of
distinct item vectors (the Emergence Score interval), drawn as ``Multinomial(n, counts / n)`` when
there are few of them and item by item otherwise. Chunks of replicates keep memory
bounded; the generator fills replicates in order, so the draws are those of one call.
"""

from __future__ import annotations

import numpy as np

#: Resampling counts held at once (float64: 16 MB); more items mean fewer replicates per chunk.
CHUNK_COUNTS = 2_000_000


def resample_counts(n: int, n_boot: int, rng: np.random.Generator,
                    codes: np.ndarray | None = None, k: int | None = None) -> np.ndarray:
    """(n_boot, k) matrix: how often each of ``k`` cells is hit when ``n`` items are drawn with
    replacement in each replicate (``Generator.integers``, counted with ``bincount``).

    ``codes`` (length ``n``): the cell of each item (``k`` cells); by default every item is its
    own cell (``k = n``)."""
    idx = rng.integers(0, n, size=(n_boot, n))
    if codes is not None:
        idx = codes[idx]
    k = n if k is None else int(k)
    flat = idx + (np.arange(n_boot, dtype=np.int64) * k)[:, None]
    return np.bincount(flat.ravel(), minlength=n_boot * k).reshape(n_boot, k).astype(np.float64)


#: Multinomial draws cost about this many item draws per cell: with more cells than
#: ``n / MULTINOMIAL_COST`` the counts of ``n`` items are drawn item by item instead.
MULTINOMIAL_COST = 3


def resampled_sums(rng: np.random.Generator, n_boot: int, *mats: np.ndarray,
                   counts: np.ndarray | None = None) -> list[np.ndarray]:
    """``W @ M`` for each matrix ``M`` of ``mats``, with ``W`` the (n_boot, k) resampling counts
    of the k rows of every ``M``.

    ``counts`` None: the k rows are items, drawn k times with replacement
    (:func:`resample_counts`). ``counts`` given: the rows are distinct item vectors seen
    ``counts`` times (``n = sum(counts)`` items), and ``W`` are ``Multinomial(n, counts / n)``,
    the law of drawing the ``n`` items one by one: drawn with ``rng.multinomial`` when there are
    few distinct vectors (fewer than ``n / MULTINOMIAL_COST``), else item by item and counted,
    whichever costs less (both linear in items).

    The counts are drawn in chunks of replicates so that no more than about
    :data:`CHUNK_COUNTS` of them are held at once (a single (999, 100,000) matrix of counts
    takes 800 MB). The generator fills replicates in order, so the draws are exactly those of
    one call; with more than ``CHUNK_COUNTS / n_boot`` rows the products are summed in chunks,
    equal to one product up to rounding.
    """
    k = mats[0].shape[0]
    codes = None
    multinomial = False
    if counts is not None:
        counts = np.asarray(counts, dtype=np.int64)
        n = int(counts.sum())
        multinomial = k * MULTINOMIAL_COST < n
        if not multinomial:
            codes = np.repeat(np.arange(k), counts)
    else:
        n = k
    step = max(1, CHUNK_COUNTS // max(k, n if codes is not None else 1))
    outs = [np.empty((n_boot, M.shape[1])) for M in mats]
    for a in range(0, n_boot, step):
        b = min(step, n_boot - a)
        if multinomial:
            W = rng.multinomial(n, counts / n, size=b).astype(float)
        else:
            W = resample_counts(n, b, rng, codes=codes, k=k)
        for o, M in zip(outs, mats, strict=True):
            o[a:a + b] = W @ M
    return outs
