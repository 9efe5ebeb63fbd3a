"""Re-scoring speed: token edit distance + exact match against the obvious rapidfuzz loop.

Peer, in the same process, one thread:
``[rapidfuzz.distance.Levenshtein.distance(p.split(), t.split()) for p, t in pairs]`` plus
``[p.strip() == t.strip() for p, t in pairs]``. Ours: ``token_edit_distance(...,
tokenizer="whitespace")`` (the peer's tokens) plus ``exact_match(..., normalize="strip")``, once
with ``workers=1`` and once with the default (``workers=-1``, every core); the default
tokenizer ``auto`` (numeric targets digit by digit) is timed too, without a peer. Results are
checked to be identical to the peer's.

Three sets of generation-like pairs: ``random`` (targets of 1-8 tokens from a 112-word
vocabulary, predictions sharing some tokens; almost every text distinct), ``models`` (20 models x
N/20 items: each target repeats once per model and predictions repeat, as in a real evaluation
log) and ``wide`` (sentences of 3-20 tokens over a 50,000-word vocabulary with Zipf-like
frequencies; words of 1-14 letters, 7.8 on average and 58% longer than 7, longer than English
words; every text distinct).

Times are CPU seconds (``time.process_time``, best of ``--repeat``), because the benchmark
machine is shared; the ratio is peer CPU / ours.

Run: ``python benchmarks/rescore.py [--pairs 200000] [--repeat 3] [--seed 0]``
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from rapidfuzz.distance import Levenshtein

from emergence.scoring import exact_match, token_edit_distance


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


def make_model_pairs(n: int, seed: int, models: int = 20) -> tuple[list[str], list[str]]:
    """``models`` models x ``n // models`` items: targets repeat per model; a prediction is the
    target (30%), a shared wrong answer of the item (35%) or a fresh one (35%)."""
    items = n // models
    preds, targets = make_pairs(2 * items, seed)
    rng = np.random.default_rng(seed + 7)
    u = rng.random(items * models)
    item = np.tile(np.arange(items), models)
    fresh = rng.integers(items, 2 * items, items * models)
    out_p = [targets[i] if x < 0.3 else preds[i] if x < 0.65 else preds[f]
             for i, x, f in zip(item.tolist(), u.tolist(), fresh.tolist(), strict=True)]
    return out_p, [targets[i] for i in item.tolist()]


def make_wide_pairs(n: int, seed: int, vocab: int = 50_000) -> tuple[list[str], list[str]]:
    """Sentence-like pairs over a large vocabulary: ``vocab`` words of 1-14 letters drawn with
    Zipf-like frequencies (58% of the tokens longer than 7 characters), targets of 3-20 tokens,
    predictions that keep about 60% of the target's tokens."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lens = rng.integers(1, 15, vocab)
    words = np.array(["".join(rng.choice(letters, k)) for k in lens.tolist()])
    p = 1.0 / np.arange(1, vocab + 1)
    p /= p.sum()
    lt = rng.integers(3, 21, n)
    tok_t = words[rng.choice(vocab, (n, 20), p=p)]
    keep = rng.random((n, 20)) < 0.6
    tok_p = np.where(keep, tok_t, words[rng.choice(vocab, (n, 20), p=p)])
    lp = np.clip(lt + rng.integers(-3, 4, n), 0, 20)
    targets = [" ".join(r[:k]) for r, k in zip(tok_t.tolist(), lt.tolist(), strict=True)]
    preds = [" " + " ".join(r[:k]) for r, k in zip(tok_p.tolist(), lp.tolist(), strict=True)]
    return preds, targets


def cpu(fn, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return best, out


def run(name: str, preds: list[str], targets: list[str], repeat: int) -> None:
    pairs = list(zip(preds, targets, strict=True))
    t_pl, peer_d = cpu(lambda: [Levenshtein.distance(p.split(), t.split()) for p, t in pairs],
                       repeat)
    t_pe, peer_e = cpu(lambda: [p.strip() == t.strip() for p, t in pairs], repeat)
    t_d1, d1 = cpu(lambda: token_edit_distance(preds, targets, tokenizer="whitespace",
                                               workers=1), repeat)
    t_e, em = cpu(lambda: exact_match(preds, targets, normalize="strip"), repeat)
    t_dd, dd = cpu(lambda: token_edit_distance(preds, targets, tokenizer="whitespace"), repeat)
    t_da, _ = cpu(lambda: token_edit_distance(preds, targets, workers=1), repeat)
    assert np.array_equal(d1, np.asarray(peer_d, dtype=float)), "edit distances disagree"
    assert np.array_equal(dd, d1), "edit distances depend on workers"
    assert np.array_equal(em, np.asarray(peer_e, dtype=float)), "exact match disagrees"
    peer = t_pl + t_pe
    print(f"[{name}] {len(preds):,} pairs, {len(set(preds)):,} distinct predictions, "
          f"{len(set(targets)):,} distinct targets")
    print(f"  peer rapidfuzz loop (split + Levenshtein.distance): {t_pl:6.3f} s CPU")
    print(f"  peer exact match loop (strip ==)                 : {t_pe:6.3f} s CPU")
    print(f"  ours token_edit_distance, workers=1              : {t_d1:6.3f} s CPU  "
          f"(peer/ours {t_pl / t_d1:4.2f})")
    print(f"  ours token_edit_distance, workers=-1 (default)   : {t_dd:6.3f} s CPU  "
          f"(peer/ours {t_pl / t_dd:4.2f})")
    print(f"  ours exact_match (strip)                         : {t_e:6.3f} s CPU  "
          f"(peer/ours {t_pe / t_e:4.2f})")
    print(f"  edit distance + exact match, workers=1           : {t_d1 + t_e:6.3f} s vs peer "
          f"{peer:6.3f} s  -> peer/ours {peer / (t_d1 + t_e):4.2f}")
    print(f"  ours token_edit_distance, tokenizer=auto, w=1    : {t_da:6.3f} s CPU (no peer)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}; Python "
          f"{platform.python_version()}; CPU seconds (process_time), best of {args.repeat}")
    run("random", *make_pairs(args.pairs, args.seed), args.repeat)
    run("models", *make_model_pairs(args.pairs, args.seed), args.repeat)
    run("wide", *make_wide_pairs(args.pairs, args.seed), args.repeat)


if __name__ == "__main__":
    main()
