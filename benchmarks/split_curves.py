"""Curve splitting speed: a 2,000,000-row results table (250,000 curves of 8 scales).

:func:`emergence.curves.extract_curves` groups once, sorts once and cuts the sorted arrays at curve
boundaries. Peer, run in the same process: the per-curve loop it replaced (``groupby`` iteration
with :func:`emergence.curves._build_curve` on each group, the path still used for per-item curves),
timed on a subsample of curves (``--peer-curves``) and scaled per curve. Both must give the same
curves on the subsample.

Run: ``python benchmarks/split_curves.py [--curves 250000] [--scales 8] [--peer-curves 2000]``
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import pandas as pd

from emergence.curves import _build_curve, extract_curves
from emergence.schema import validate


def make_table(n_curves: int, n_scales: int, seed: int) -> pd.DataFrame:
    """``n_curves`` curves (families x tasks x metrics) of ``n_scales`` models each."""
    rng = np.random.default_rng(seed)
    n_fam = max(1, n_curves // 1000)
    n_task = n_curves // n_fam
    fam = np.repeat(np.arange(n_fam), n_task * n_scales)
    task = np.tile(np.repeat(np.arange(n_task), n_scales), n_fam)
    model = np.tile(np.arange(n_scales), n_fam * n_task)
    n = fam.size
    return pd.DataFrame({
        "family": pd.array([f"fam{f}" for f in fam], dtype="string"),
        "model": pd.array([f"fam{f}-m{m}" for f, m in zip(fam, model, strict=True)],
                          dtype="string"),
        "task": pd.array([f"task{t}" for t in task], dtype="string"),
        "metric": "acc",
        "value": rng.random(n),
        "n_items": 1000,
        "params": 10.0 ** (7 + model * 0.5) * (1 + 0.01 * rng.random(n)),
    })


def peer(df: pd.DataFrame) -> list:
    """The per-curve loop: one pandas group and one ``_build_curve`` call per curve."""
    t = validate(df, allow_duplicates=True)
    out = []
    cols = ["family", "task", "shots", "metric"]
    for key, g in t.groupby(cols, dropna=False, sort=True):
        c, _ = _build_curve(g, dict(zip(cols, key, strict=True)), "params", "model", "error",
                            "error")
        out.append(c)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--curves", type=int, default=250_000)
    ap.add_argument("--scales", type=int, default=8)
    ap.add_argument("--peer-curves", type=int, default=2_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    df = make_table(args.curves, args.scales, args.seed)
    n_curves = df.groupby(["family", "task"]).ngroups
    print(f"{len(df):,} rows, {n_curves:,} curves of {args.scales} scales; {os.cpu_count()} cores; "
          f"Python {platform.python_version()}, pandas {pd.__version__}")

    t0 = time.perf_counter()
    cs = extract_curves(df, x="params", progress=True)
    t_new = time.perf_counter() - t0
    assert len(cs.curves) == n_curves and len(cs.excluded) == 0

    sub = df.iloc[: args.peer_curves * args.scales]
    t0 = time.perf_counter()
    ref = peer(sub)
    t_peer = (time.perf_counter() - t0) / len(ref)
    got = extract_curves(sub, x="params", progress=False).curves
    assert len(got) == len(ref)
    for a, b in zip(got, ref, strict=True):
        assert a.key == b.key and a.labels == b.labels
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.y, b.y)
        np.testing.assert_array_equal(a.n_items, b.n_items)

    per_new = t_new / n_curves
    print(f"extract_curves: {t_new:.1f} s for {n_curves:,} curves ({per_new * 1e6:.1f} us/curve, "
          f"validation included)")
    print(f"per-curve loop (peer, {len(ref):,} curves): {t_peer * 1e3:.2f} ms/curve, "
          f"{t_peer * n_curves / 60:.1f} min projected for {n_curves:,} curves")
    print(f"ratio: {t_peer / per_new:.0f}x faster; same curves on the subsample")


if __name__ == "__main__":
    main()
