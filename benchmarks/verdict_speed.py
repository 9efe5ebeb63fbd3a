"""CPU cost of a full verdict per curve, against one apparent-break PB-LRT in the same process.

Run:  OMP_NUM_THREADS=1 python benchmarks/verdict_speed.py [--repeat 5]

For 10-scale curves of a simulated family (exact match, token edit distance and target
log-likelihood with 200 items each; and an aggregate exact-match curve with item counts), prints
the CPU time (``time.process_time``, one BLAS thread) of

- the latent break test alone (``latent_break_test``, B = 999: shape grid, scatter and breakpoint
  refitted in every replicate),
- the full per-curve verdict (``assess_curve``, B = 999: the latent test, the apparent-break test,
  Davies, sup-F, the Emergence Score with its item-bootstrap interval and the AICc/BIC table),
- one ``pblrt_test(null="linear")`` with B = 999 (the peer),

and the ratios. Medians of ``--repeat`` runs. CPU time, not wall time, so other processes on the
machine do not count; the ratios are the numbers to compare across machines.

These curves come from a smooth truth, where most tests stop early (a p-value certainly above
0.05 needs few replicates). The speed goal is stated on 100 curves, so the script then times
``assess`` on 100 ten-scale curves of 25 families, five each of a power law, a per-token logistic,
a saturating curve, a 3x hinge and a 1-nat step (exact match, token edit distance and target
log-likelihood with 200 items, and an aggregate exact-match curve with item counts), against 100
``pblrt_test`` calls on the same curves, and per truth. Genuine breaks have small p-values, which
need all B replicates of the latent test.

Then, for the replicate chunks the latent tests above drew (100 replicates each, every null shape,
the scatter and every breakpoint refitted per replicate), the CPU time of the compiled loop the
test uses (``_replicate_stats``) against the numpy formulation it is tested against
(``_stats(_fit_all(...))``), same chunks, same process.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import emergence.stats.latent as latent_mod  # noqa: E402
from emergence.curves import extract_curves  # noqa: E402
from emergence.simulate import simulate_aggregate, simulate_family  # noqa: E402
from emergence.stats._data import as_curve_data  # noqa: E402
from emergence.stats.bootstrap import pblrt_test  # noqa: E402
from emergence.stats.latent import latent_break_test, latent_kind  # noqa: E402
from emergence.verdict import assess, assess_curve  # noqa: E402

MIX = ("power_law", "logistic", "saturating", "hinge", "step")


def mixed_curves(per_truth: int = 5) -> list:
    """100 ten-scale curves (with ``per_truth = 5``): per family of each truth of :data:`MIX`,
    three per-item metrics (200 items) and an aggregate exact-match curve with item counts."""
    import pandas as pd

    frames = []
    for i, (truth, _) in enumerate((t, k) for t in MIX for k in range(per_truth)):
        frames.append(simulate_family(truth, n_items=200, seed=100 + i, family=f"{truth}-{i}"))
        frames.append(simulate_aggregate(truth, n_items=200, seed=200 + i,
                                         metrics=["exact_match"], family=f"{truth}-{i}-aggregate"))
    return list(extract_curves(pd.concat(frames), x="params", progress=False).curves)


def cpu(fn, repeat: int) -> float:
    ts = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        ts.append(time.process_time() - t)
    return float(np.median(ts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    curves = list(extract_curves(simulate_family("power_law", n_items=200, seed=1),
                                 x="params").curves)
    agg = simulate_aggregate("power_law", n_items=200, seed=2, metrics=["exact_match"])
    curves.append(extract_curves(agg, x="params").curves[0])
    print(f"{'curve':<32}{'latent test':>14}{'full verdict':>14}{'one PB-LRT':>12}"
          f"{'verdict/PB-LRT':>16}")
    tot_v = tot_p = 0.0
    for c in curves:
        d = as_curve_data(c)
        kind = latent_kind(c.metric, c.info, d.chance)
        lat = cpu(lambda d=d, k=kind, c=c: latent_break_test(
            d, kind=k, item_lengths=c.item_lengths, n_boot=999, seed=1), args.repeat)
        ver = cpu(lambda c=c: assess_curve(c, n_boot=999), args.repeat)
        one = cpu(lambda c=c: pblrt_test(c, null="linear", n_boot=999, seed=1), args.repeat)
        tot_v += ver
        tot_p += one
        name = c.metric + (" (aggregate)" if c.items is None else " (200 items)")
        print(f"{name:<32}{lat * 1e3:>11.0f} ms{ver * 1e3:>11.0f} ms{one * 1e3:>9.0f} ms"
              f"{ver / one:>15.1f}x")
    print(f"mean full verdict {tot_v / len(curves) * 1e3:.0f} ms CPU per curve "
          f"({tot_v / tot_p:.1f}x one PB-LRT)")

    # the measure: 100 curves of several truths, assess vs 100 PB-LRTs
    mix = mixed_curves()
    assess(mix[:4], n_boot=999, progress=False)
    t_a = cpu(lambda: assess(mix, n_boot=999, progress=False), max(1, args.repeat // 2))
    t_p = cpu(lambda: [pblrt_test(c, null="linear", n_boot=999, seed=1) for c in mix],
              max(1, args.repeat // 2))
    print(f"{len(mix)} curves of {len(MIX)} truths: assess {t_a:.2f} s, {len(mix)} PB-LRTs "
          f"{t_p:.2f} s: {t_a / t_p:.1f}x")
    for truth in MIX:
        sub = [c for c in mix if c.key["family"].split("-")[0] == truth]
        a = cpu(lambda sub=sub: assess(sub, n_boot=999, progress=False), 1)
        p = cpu(lambda sub=sub: [pblrt_test(c, null="linear", n_boot=999, seed=1) for c in sub], 1)
        print(f"  {truth:<12}{len(sub):>4} curves: {a / len(sub) * 1e3:6.1f} ms per verdict, "
              f"{p / len(sub) * 1e3:5.1f} ms per PB-LRT, {a / p:.1f}x")

    # the latent test's replicate chunks: compiled loop vs numpy formulation
    chunks = []
    compiled = latent_mod._replicate_stats

    def record(setup, Y, grid, shapes, df1):
        chunks.append((setup, Y.copy(), grid, shapes, df1))
        return compiled(setup, Y, grid, shapes, df1)

    latent_mod._replicate_stats = record
    try:
        for c in curves:
            d = as_curve_data(c)
            latent_break_test(d, kind=latent_kind(c.metric, c.info, d.chance),
                              item_lengths=c.item_lengths, n_boot=999, seed=1)
    finally:
        latent_mod._replicate_stats = compiled
    t_c = cpu(lambda: [compiled(*a) for a in chunks], args.repeat)
    t_n = cpu(lambda: [latent_mod._stats(latent_mod._fit_all(a[0], a[1], a[2].cols, a[3], a[4]))
                       for a in chunks], args.repeat)
    print(f"latent replicate chunks ({len(chunks)} x up to 100 replicates): compiled "
          f"{t_c / len(chunks) * 1e3:.2f} ms, numpy {t_n / len(chunks) * 1e3:.2f} ms per chunk "
          f"({t_n / t_c:.1f}x faster)")


if __name__ == "__main__":
    main()
