"""Where a user waits: full verdict vs one PB-LRT, a screen's phases, re-scoring, item growth.

Run:  OMP_NUM_THREADS=1 python benchmarks/screen_phases.py [--curves 10000] [--jobs 2]
      [--skip-screen] [--skip-verdict] [--items 1000,10000,100000]

Prints, in this order:

1. the full verdict against one PB-LRT (runs ``benchmarks/verdict_speed.py --repeat 3``);
2. a screen of ``--curves`` ten-scale exact-match curves on ``--jobs`` local processes, in two
   phases: the curves (``screen`` with every row to compute; CPU of this process plus its
   finished worker processes, and wall time) and the finish alone (combine + Benjamini-Hochberg
   + CSV files: ``screen`` run again into the same folder, which resumes every row and only
   finishes; CPU of this process);
3. re-scoring against the rapidfuzz loop (runs ``benchmarks/rescore.py --repeat 3``);
4. item-level reference simulation as the items grow (``latent_break_test`` on 0/1 items
   with target lengths 1-4, and ``pblrt_test(simulate="residual")``; B = 999, CPU per curve).

Times are CPU seconds (``time.process_time`` / ``resource.getrusage``) unless marked wall,
because the machine is shared; the load average is printed with each section.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from emergence._csvsafe import write_csv  # noqa: E402
from emergence.curves import Curve  # noqa: E402
from emergence.screen import screen  # noqa: E402
from emergence.stats._data import as_curve_data  # noqa: E402
from emergence.stats.bootstrap import pblrt_test  # noqa: E402
from emergence.stats.latent import latent_break_test, latent_kind  # noqa: E402
from emergence.verdict import finalize  # noqa: E402

HERE = Path(__file__).resolve().parent
X = np.linspace(8, 11, 10)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} cores"


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def section(title: str) -> None:
    print(f"\n== {title} ({load()})", flush=True)


def run_script(name: str, *args: str) -> None:
    subprocess.run([sys.executable, str(HERE / name), *args], check=True)


def screen_curves(n: int, seed: int = 0) -> list[Curve]:
    rng = np.random.default_rng(seed)
    p = np.exp(-np.exp(6.3 - 0.7 * X))
    return [Curve("bench", f"t{i}", "exact_match", 0, "params", 10**X,
                  rng.binomial(200, p) / 200, np.full(10, np.nan), np.full(10, 200.0),
                  tuple(map(str, range(10)))) for i in range(n)]


def item_curve(n_items: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """0/1 items (n_items x 10 scales) from a smooth per-token competence, lengths 1-4."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 5, n_items)
    p_tok = 1 / (1 + np.exp(-(X - 9.5) * 1.5))
    items = (rng.random((n_items, X.size)) < p_tok[None, :] ** lengths[:, None]).astype(float)
    return items, lengths


def cpu(fn) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--curves", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--finish-curves", type=int, default=10_000,
                    help="also time the finish on this many rows (the screen's rows repeated "
                         "under new task names)")
    ap.add_argument("--items", default="1000,10000,100000")
    ap.add_argument("--skip-verdict", action="store_true")
    ap.add_argument("--skip-screen", action="store_true")
    ap.add_argument("--skip-rescore", action="store_true")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")

    if not args.skip_verdict:
        section("1. full verdict vs one PB-LRT, CPU per curve (benchmarks/verdict_speed.py)")
        run_script("verdict_speed.py", "--repeat", "3")

    if not args.skip_screen:
        section(f"2. screen of {args.curves:,} curves on --jobs {args.jobs}, B = 999")
        cs = screen_curves(args.curves)
        with tempfile.TemporaryDirectory() as d:
            c0, k0, w0 = time.process_time(), children_cpu(), time.perf_counter()
            screen(cs, d, n_boot=999, n_jobs=args.jobs, chunk_size=100, progress=False)
            c1, k1, w1 = time.process_time(), children_cpu(), time.perf_counter()
            vt = screen(cs, d, n_boot=999, n_jobs=args.jobs, chunk_size=100, progress=False)
            c2, w2 = time.process_time(), time.perf_counter()
            rows = pd.read_json(Path(d) / "rows.jsonl", lines=True)
        fin_cpu, fin_wall = c2 - c1, w2 - w1
        cur_cpu = (c1 - c0) + (k1 - k0) - fin_cpu  # the first call also finished once
        print(f"curves phase      : {cur_cpu:7.1f} s CPU (this process + workers), "
              f"{cur_cpu / args.curves * 1e3:.1f} ms per curve; wall {w1 - w0 - fin_wall:7.1f} s "
              f"under this load")
        print(f"combine + FDR     : {fin_cpu:7.1f} s CPU, wall {fin_wall:.1f} s "
              f"({len(vt.rows):,} rows, {len(vt.groups):,} groups)")
        if args.finish_curves > args.curves:
            reps = -(-args.finish_curves // len(rows))
            big = pd.concat([rows.assign(task=rows["task"] + f"_{r}",
                                         curve_key=rows["curve_key"] + f"_{r}")
                             for r in range(reps)], ignore_index=True).iloc[:args.finish_curves]
            with tempfile.TemporaryDirectory() as d:
                t = time.process_time()
                vt = finalize(big, alpha=0.05, n_boot=999, seed=0)
                write_csv(vt.rows, Path(d) / "curves.csv")
                write_csv(vt.groups, Path(d) / "verdicts.csv")
                fin_big = time.process_time() - t
            print(f"combine + FDR on {len(big):,} rows (the rows above repeated): {fin_big:.1f} s "
                  "CPU")
        print(f"whole screen      : {cur_cpu + fin_cpu:7.1f} s CPU; on an idle 2-core machine "
              f"about {cur_cpu / args.jobs + fin_cpu:.0f} s wall (curves CPU / jobs + finish)")

    if not args.skip_rescore:
        section("3. re-scoring vs the rapidfuzz loop (benchmarks/rescore.py)")
        run_script("rescore.py", "--repeat", "3")

    section("4. item-level simulation, B = 999, CPU per curve")
    sizes = [int(s) for s in args.items.split(",")]
    base = {}
    # load the compiled loops once, untimed (a user's first test in a process pays it)
    items, lengths = item_curve(sizes[0])
    d = as_curve_data(log10_x=X, y=items.mean(axis=0), items=items, metric="exact_match")
    latent_break_test(d, kind=latent_kind("exact_match"), item_lengths=lengths, n_boot=99, seed=1)
    pblrt_test(log10_x=X, y=items.mean(axis=0), items=items, metric="exact_match",
               simulate="residual", n_boot=99, seed=1)
    print(f"{'items':>8}{'latent (Rasch)':>16}{'per 1k items':>14}{'residual PB-LRT':>17}"
          f"{'per 1k items':>14}")
    for n in sizes:
        items, lengths = item_curve(n)
        d = as_curve_data(log10_x=X, y=items.mean(axis=0), items=items, metric="exact_match")
        t_lat = cpu(lambda d=d, ln=lengths: latent_break_test(
            d, kind=latent_kind("exact_match"), item_lengths=ln, n_boot=999, seed=1))
        t_res = cpu(lambda items=items: pblrt_test(
            log10_x=X, y=items.mean(axis=0), items=items, metric="exact_match",
            simulate="residual", n_boot=999, seed=1))
        base.setdefault("lat", (n, t_lat))
        base.setdefault("res", (n, t_res))
        print(f"{n:>8,}{t_lat:>14.2f} s{t_lat / n * 1e3:>13.3f}s{t_res:>15.2f} s"
              f"{t_res / n * 1e3:>13.3f}s", flush=True)
    if len(sizes) > 1:
        n0, l0 = base["lat"]
        _, r0 = base["res"]
        print(f"growth {n0:,} -> {sizes[-1]:,} items ({sizes[-1] / n0:.0f}x): latent "
              f"{t_lat / l0:.1f}x, residual {t_res / r0:.1f}x (linear would be "
              f"{sizes[-1] / n0:.0f}x)")


if __name__ == "__main__":
    main()
