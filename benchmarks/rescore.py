"""Re-scoring speed: 1,000,000 (prediction, target) pairs under token edit distance and exact match.

Peer: a textbook pure-Python Levenshtein (Wagner-Fischer dynamic programme on token lists) and a
pure-Python exact-match loop, run in the same process. The pure-Python edit distance runs on a
random subsample (``--peer-pairs``) and its per-pair time is scaled to the full size; the ratio is
reported per pair. The results of both implementations are checked to agree on the subsample.

Run: ``python benchmarks/rescore.py [--pairs 1000000] [--peer-pairs 50000] [--seed 0]``
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from emergence.scoring import exact_match, normalized_edit_distance, token_edit_distance


def levenshtein(a, b) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def make_pairs(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Generation-like pairs: targets of 1-8 tokens, predictions that share some of them."""
    rng = np.random.default_rng(seed)
    vocab = np.array([str(i) for i in range(100)] + ["the", "answer", "is", "a", "of", "and",
                                                     "to", "in", "=", "+", "-", "x"])
    lt = rng.integers(1, 9, n)
    lp = np.clip(lt + rng.integers(-2, 3, n), 0, 10)
    tok_t = vocab[rng.integers(0, vocab.size, (n, 8))]
    tok_p = np.where(rng.random((n, 10)) < 0.6, np.pad(tok_t, ((0, 0), (0, 2)), mode="edge"),
                     vocab[rng.integers(0, vocab.size, (n, 10))])
    targets = [" ".join(r[:k]) for r, k in zip(tok_t.tolist(), lt.tolist(), strict=True)]
    preds = [" " + " ".join(r[:k]) for r, k in zip(tok_p.tolist(), lp.tolist(), strict=True)]
    return preds, targets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1_000_000)
    ap.add_argument("--peer-pairs", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    preds, targets = make_pairs(args.pairs, args.seed)
    print(f"{args.pairs:,} pairs; {os.cpu_count()} cores; Python {platform.python_version()}")

    t0 = time.perf_counter()
    ted = token_edit_distance(preds, targets, tokenizer="whitespace")
    t_ted = time.perf_counter() - t0
    t0 = time.perf_counter()
    em = exact_match(preds, targets, normalize="strip")
    t_em = time.perf_counter() - t0
    t0 = time.perf_counter()
    ned = normalized_edit_distance(preds, targets, tokenizer="whitespace")
    t_ned = time.perf_counter() - t0
    t0 = time.perf_counter()
    ced = token_edit_distance(preds, targets, tokenizer="characters")
    t_ced = time.perf_counter() - t0
    total = t_ted + t_em
    print(f"emergence token_edit_distance : {t_ted:7.2f} s")
    print(f"emergence exact_match (strip) : {t_em:7.2f} s")
    print(f"emergence edit distance + EM  : {total:7.2f} s  (target < 10 s)")
    print(f"emergence normalized_edit_dist: {t_ned:7.2f} s")
    print(f"emergence character edit dist : {t_ced:7.2f} s")
    print(f"mean TED {ted.mean():.3f}, mean EM {em.mean():.4f}, mean NED {ned.mean():.3f}")

    rng = np.random.default_rng(args.seed + 1)
    sub = rng.choice(args.pairs, size=min(args.peer_pairs, args.pairs), replace=False)
    sp = [preds[i] for i in sub]
    st = [targets[i] for i in sub]
    t0 = time.perf_counter()
    peer = [levenshtein(p.split(), t.split()) for p, t in zip(sp, st, strict=True)]
    t_peer = time.perf_counter() - t0
    t0 = time.perf_counter()
    peer_em = [float(p.strip() == t.strip()) for p, t in zip(sp, st, strict=True)]
    t_peer_em = time.perf_counter() - t0
    t0 = time.perf_counter()
    peer_c = [levenshtein(p, t) for p, t in zip(sp, st, strict=True)]
    t_peer_c = time.perf_counter() - t0
    assert np.array_equal(np.asarray(peer, dtype=float), ted[sub]), "edit distances disagree"
    assert np.array_equal(np.asarray(peer_c, dtype=float), ced[sub]), "character distances disagree"
    assert np.array_equal(np.asarray(peer_em), em[sub]), "exact match disagrees"
    scale = args.pairs / len(sub)
    print(f"pure-Python Levenshtein       : {t_peer:7.2f} s on {len(sub):,} pairs "
          f"-> {t_peer * scale:7.1f} s scaled to {args.pairs:,}")
    print(f"pure-Python exact match loop  : {t_peer_em:7.3f} s on {len(sub):,} pairs "
          f"-> {t_peer_em * scale:7.2f} s scaled")
    print(f"speed-up, edit distance       : {t_peer * scale / t_ted:7.1f} x (per pair, same "
          "process, identical results)")
    print(f"pure-Python char Levenshtein  : {t_peer_c:7.2f} s on {len(sub):,} pairs "
          f"-> {t_peer_c * scale:7.1f} s scaled")
    print(f"speed-up, exact match         : {t_peer_em * scale / t_em:7.1f} x")
    print(f"speed-up, character distance  : {t_peer_c * scale / t_ced:7.1f} x")


if __name__ == "__main__":
    main()
