"""Item resampling for the item bootstraps, drawn in chunks of replicates.

One place for the draws the package uses: items drawn one by one with ``Generator.integers``
(the residual PB-LRT, the item-cluster bootstrap and the Mirage check), and the counts of
distinct item vectors (the Emergence Score interval), drawn as ``Multinomial(n, counts / n)``
when there are few of them and item by item otherwise. Items drawn one by one are added up by a
compiled loop (:func:`emergence.stats._kernels.count_rows`) a few replicates at a time and
multiplied into their sums chunk by chunk. Chunks of replicates keep memory bounded; the
generator fills replicates in order, so the draws are those of one call.
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


#: Item draws made at once by the item-by-item path (int64: 128 KB; their counts, float64, at
#: most as many).
_DRAWS_AT_ONCE = 16_384

#: Multinomial draws cost about this many item draws per cell: with more cells than
#: ``n / MULTINOMIAL_COST`` the counts of ``n`` items are drawn item by item instead (measured
#: with items added up by the compiled loop: 7-11 item draws per cell at 200-1,000 items).
MULTINOMIAL_COST = 8


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

    Items drawn one by one are counted a few replicates at a time and multiplied into their sums
    chunk by chunk (no matrix of all counts: the same draws as :func:`resample_counts`, the same
    sums up to rounding).
    Multinomial counts are drawn in chunks of replicates so that no more than about
    :data:`CHUNK_COUNTS` of them are held at once. The generator fills replicates in order, so
    the draws are exactly those of one call.
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
    if multinomial:
        step = max(1, CHUNK_COUNTS // k)
        outs = [np.empty((n_boot, M.shape[1])) for M in mats]
        for a in range(0, n_boot, step):
            b = min(step, n_boot - a)
            W = rng.multinomial(n, counts / n, size=b).astype(float)
            for o, M in zip(outs, mats, strict=True):
                o[a:a + b] = W @ M
        return outs
    # item by item: the rows each replicate draws, counted by a compiled loop a few replicates at
    # a time and multiplied into their sums (the draws are those of resample_counts). The draws
    # come a few replicates at a time (the generator fills them in order, so they are those of
    # one call): small index and count arrays are reused memory, large fresh ones page-fault.
    from ._kernels import count_rows  # compiled on first use

    allm = np.ascontiguousarray(np.hstack([np.asarray(M, float) for M in mats]))
    edges = np.cumsum([0] + [M.shape[1] for M in mats])
    rows = max(1, _DRAWS_AT_ONCE // n)
    got = np.empty((n_boot, allm.shape[1]))
    cmap = np.empty(0, np.int64) if codes is None else codes.astype(np.int64)
    W = np.empty((rows, k))
    for a in range(0, n_boot, rows):
        b = min(rows, n_boot - a)
        count_rows(rng.integers(0, n, size=(b, n)), cmap, W[:b])
        np.matmul(W[:b], allm, out=got[a:a + b])
    return [got[:, lo:hi] for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
