"""Benchmark: Chinchilla law fit of 245 runs from the full 4,500-start grid.

Peers, timed in the same process on the same data:

* ``emergence``: :func:`emergence.scaling.fit_chinchilla` (all starts as one batch; vectorised
  objective and analytic gradient);
* ``scipy naive``: one ``scipy.optimize.minimize(method="L-BFGS-B")`` per start, objective written
  with ``np.logaddexp.reduce`` and ``scipy.special.huber``, finite-difference gradient (the way the
  published replication code does it);
* ``scipy + analytic gradient``: one L-BFGS-B call per start with the analytic gradient.

The scipy peers are timed on a random subset of starts and scaled to 4,500 (running them on the
whole grid takes many minutes); the best objective they reach on that subset is compared with ours.

Run: ``python benchmarks/scaling_fit.py [--starts 60] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from scipy.optimize import minimize
from scipy.special import huber

from emergence.scaling import BESIROGLU_2024, default_grid, fit_chinchilla
from emergence.scaling.chinchilla import _objective


def simulate(n: int = 245, seed: int = 0, noise: float = 0.01):
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(4e7), np.log(1.6e10), n))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), n))
    L = BESIROGLU_2024.predict(N, D) * np.exp(rng.normal(0, noise, n))
    return N, D, L


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--starts", type=int, default=60, help="starts timed for the scipy peers")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-boot", type=int, default=200)
    args = ap.parse_args()
    N, D, L = simulate(seed=args.seed)
    logN, logD, logL = np.log(N), np.log(D), np.log(L)
    grid = default_grid()
    delta = 1e-3

    t0 = time.perf_counter()
    fit = fit_chinchilla(params=N, tokens=D, loss=L, n_boot=0)
    t_ours = time.perf_counter() - t0

    fg1 = _objective(logN, logD, logL, delta, threads=1)
    t0 = time.perf_counter()
    from emergence.scaling._optim import batched_lbfgs

    res1 = batched_lbfgs(fg1, grid, max_iter=2000)
    t_ours1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    batched_lbfgs(_objective(logN, logD, logL, delta, threads=2), grid, max_iter=2000)
    t_ours2 = time.perf_counter() - t0

    t0 = time.perf_counter()
    fit_chinchilla(params=N, tokens=D, loss=L, grid=fit.params.log_vector[None, :],
                        n_boot=args.n_boot, seed=1)
    t_boot = time.perf_counter() - t0

    rng = np.random.default_rng(args.seed)
    sub = grid[rng.choice(len(grid), args.starts, replace=False)]

    def naive(p):
        a, b, e, al, be = p
        pred = np.logaddexp.reduce([a - al * logN, b - be * logD, e * np.ones(len(N))])
        return np.sum(huber(delta, pred - logL)) / delta

    t0 = time.perf_counter()
    f_naive = [minimize(naive, x0, method="L-BFGS-B").fun for x0 in sub]
    t_naive = (time.perf_counter() - t0) * len(grid) / len(sub)

    one = np.array([0])

    def analytic(p):
        f, g = fg1(p[None, :], one)
        return f[0], g[0]

    t0 = time.perf_counter()
    f_an = [minimize(analytic, x0, jac=True, method="L-BFGS-B").fun for x0 in sub]
    t_an = (time.perf_counter() - t0) * len(grid) / len(sub)

    p = fit.params
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"245 runs simulated from Besiroglu et al. (2024) with 1% log-normal noise, seed "
          f"{args.seed}; Huber delta {delta}; {len(grid)} starts\n")
    print("| method | time for 4,500 starts (s) | ratio to emergence |")
    print("|---|---|---|")
    print(f"| emergence fit_chinchilla (default threads) | {t_ours:.1f} | 1.0 |")
    print(f"| emergence, objective on 1 thread | {t_ours1:.1f} | {t_ours1 / t_ours:.2f} |")
    print(f"| emergence, objective on 2 threads | {t_ours2:.1f} | {t_ours2 / t_ours:.2f} |")
    print(f"| scipy L-BFGS-B + analytic gradient, per start (scaled from {len(sub)}) | "
          f"{t_an:.0f} | {t_an / t_ours:.0f} |")
    print(f"| scipy L-BFGS-B naive (finite differences), per start (scaled from {len(sub)}) | "
          f"{t_naive:.0f} | {t_naive / t_ours:.0f} |")
    print()
    print(f"best objective: emergence {fit.objective:.6f} (1 thread {np.min(res1.fun):.6f}); "
          f"scipy analytic on subset {min(f_an):.6f}; scipy naive on subset {min(f_naive):.6f}")
    print(f"fit: E={p.E:.4g} A={p.A:.4g} B={p.B:.4g} alpha={p.alpha:.4g} beta={p.beta:.4g}; "
          f"{fit.n_converged} of {fit.n_starts} starts converged")
    print(f"bootstrap: {args.n_boot} replicates (one warm start each) in {t_boot:.1f} s")


if __name__ == "__main__":
    main()
