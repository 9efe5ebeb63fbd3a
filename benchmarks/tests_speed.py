"""Speed of the break tests, with peers timed in the same run.

Run:  python benchmarks/tests_speed.py  [--screen N]

Prints, for one 10-scale exact-match curve with 200 items:
- the vectorised parametric-bootstrap LRT (B = 999, hinge + step grid searched in every
  replicate, one-sided in the improving direction, the two-sided p-value from the same
  replicates), and the same test two-sided,
- piecewise-regression ``Fit(n_boot=100)`` with its Davies test (one breakpoint fit),
- a naive loop: for each replicate ``scipy.optimize.curve_fit`` of the null and of a hinge at every
  grid point (timed at B = 49 and scaled to B = 999, stated as such),
and the ratios. Then the per-curve cost of the full verdict (five PB-LRTs: accelerating break
against the smooth null and against a line in the raw metric, accelerating curvature, and the
two slowdown tests; Davies, sup-F, Emergence Score; no AICc table) and a
screen of N curves on 2 local processes (default N = 2000), extrapolated to 10,000 curves.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

import numpy as np
from scipy.optimize import curve_fit

from emergence.curve_models import break_grid
from emergence.curves import Curve
from emergence.screen import screen
from emergence.stats.bootstrap import pblrt_test
from emergence.verdict import assess_curve

X = np.linspace(8, 11, 10)
N_ITEMS = 200


def _curve(rng, i=0):
    p = np.exp(-np.exp(6.3 - 0.7 * X))
    y = rng.binomial(N_ITEMS, p) / N_ITEMS
    return Curve("bench", f"t{i}", "exact_match", 0, "params", 10**X, y, np.full(10, np.nan),
                 np.full(10, float(N_ITEMS)), tuple(map(str, range(10))))


def best_of(fn, repeat=7):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def naive_pblrt(y, n_boot):
    """Reference implementation with curve_fit in Python loops (same statistic idea)."""
    def lin(x, a, b):
        return a + b * x

    grid = break_grid(X, "hinge")
    z = np.log(-np.log(np.clip((y * N_ITEMS + 0.5) / (N_ITEMS + 1), 1e-3, 1 - 1e-3)))

    def stat(zz):
        p0, _ = curve_fit(lin, X, zz)
        r0 = np.sum((zz - lin(X, *p0)) ** 2)
        r1 = np.inf
        for psi in grid:
            def h(x, a, b, d, psi=psi):
                return a + b * x + d * np.maximum(x - psi, 0)
            p1, _ = curve_fit(h, X, zz, p0=[p0[0], p0[1], 0.0])
            r1 = min(r1, np.sum((zz - h(X, *p1)) ** 2))
        return (r0 - r1) / (r1 / 6), p0

    rng = np.random.default_rng(0)
    t_obs, p0 = stat(z)
    prob = np.exp(-np.exp(lin(X, *p0)))
    count = 0
    for _ in range(n_boot):
        k = rng.binomial(N_ITEMS, prob)
        zs = np.log(-np.log(np.clip((k + 0.5) / (N_ITEMS + 1), 1e-3, 1 - 1e-3)))
        count += stat(zs)[0] >= t_obs
    return (1 + count) / (n_boot + 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--screen", type=int, default=2000, help="curves in the screen timing")
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    c = _curve(rng)
    pblrt_test(c, n_boot=999, seed=0)  # warm-up
    t_pb = best_of(lambda: pblrt_test(c, n_boot=999, seed=0))
    print(f"PB-LRT (B=999, hinge+step grid in every replicate): {1000 * t_pb:8.2f} ms")
    t_two = best_of(lambda: pblrt_test(c, n_boot=999, seed=0, direction="both"))
    print(f"PB-LRT two-sided (direction='both'):                {1000 * t_two:8.2f} ms"
          f"   ratio {t_two / t_pb:6.2f}")

    import piecewise_regression as pwr

    def pw():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = pwr.Fit(X, c.y, n_breakpoints=1, n_boot=100)
            fit.get_results()

    t_pw = best_of(pw, repeat=3)
    print(f"piecewise-regression Fit(n_boot=100) + Davies:       {1000 * t_pw:8.2f} ms"
          f"   ratio {t_pw / t_pb:6.1f}x slower")
    t_nv = best_of(lambda: naive_pblrt(c.y, 49), repeat=1) * (999 + 1) / (49 + 1)
    print(f"naive curve_fit loop, scaled from B=49 to B=999:     {1000 * t_nv:8.2f} ms"
          f"   ratio {t_nv / t_pb:6.1f}x slower")

    curves = [_curve(rng, i) for i in range(200)]
    t0 = time.perf_counter()
    for cc in curves:
        assess_curve(cc, n_boot=999, ic=False)
    per = (time.perf_counter() - t0) / len(curves)
    print(f"full verdict per curve (PB-LRT x5, Davies, sup-F, Emergence Score; B=999): "
          f"{1000 * per:.1f} ms")
    t0 = time.perf_counter()
    for cc in curves[:50]:
        assess_curve(cc, n_boot=999, ic=True)
    per_ic = (time.perf_counter() - t0) / 50
    print(f"  ... with the AICc/BIC table: {1000 * per_ic:.1f} ms")

    big = [_curve(rng, i) for i in range(args.screen)]
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        screen(big, d, n_boot=999, n_jobs=2, chunk_size=100, progress=False)
        ts = time.perf_counter() - t0
    print(f"screen of {args.screen} curves on 2 processes (B=999): {ts:.1f} s -> "
          f"10,000 curves ~ {ts * 10000 / args.screen / 60:.1f} min "
          f"(load average now {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
