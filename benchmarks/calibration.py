"""Size and power of the break tests by simulation.

Run:  python benchmarks/calibration.py [--curves 2000] [--power-curves 500] [--n-boot 499]

Size: for each smooth null (linear accuracy, Gompertz/Mirage exact match, chance-floored sigmoid
with chance 0.25) simulate no-break curves with 10 scales (log10 params 8..11) and 200 binary
items per scale (binomial counts), and report the rejection rate at alpha = 0.05 of
- the PB-LRT against an accelerating break (hinge or step, one-sided in the direction of faster
  improvement, breakpoint searched in every replicate): the primary test,
- the same PB-LRT two-sided (breaks of either sign),
- the PB-LRT curvature test (one-sided: accelerating improvement),
- the Davies (2002) test, one-sided in the improving direction (R segmented alternative
  "greater"/"less"), and the Hansen sup-F test (two-sided), on the link scale.
A fourth size row adds model-level scatter (normal, sd 0.3 on the link scale) to the Gompertz
null, which item noise alone does not explain. Goal: 0.05 +/- 0.015 (Monte Carlo sd with 2,000
curves is 0.005).
Power: the same nulls plus an accelerating step (jump of g on the link scale towards a better
metric) or hinge (slope change of d per decade) at log10 params = 9.5. Decelerating rows put the
same breaks in the other direction (improvement slows down: saturation); the one-sided tests
should not reject them.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from tqdm.auto import tqdm

from emergence.curves import get_link
from emergence.stats.bootstrap import improvement_sign, pblrt_test
from emergence.stats.davies import davies_test
from emergence.stats.supf import supf_test
from emergence.verdict import _pvalue

X = np.linspace(8, 11, 10)
N = 200
ALPHA = 0.05
PSI = 9.5

NULLS = {
    # name: (metric, chance, null model, link, link-scale line)
    "linear": ("acc", float("nan"), "linear", "identity", 0.2 + 0.15 * (X - 8)),
    "gompertz": ("exact_match", float("nan"), "gompertz", "mirage", 6.3 - 0.7 * X),
    "chance_sigmoid": ("acc", 0.25, "chance_sigmoid", "chance_logit", -9.0 + 0.9 * X),
}


def _probs(link, chance, z):
    lk = get_link(link, chance if np.isfinite(chance) else 0.0)
    return np.clip(lk.inverse(z), 0, 1)


def run_case(name, z, n_curves, n_boot, rng, scatter=0.0):
    metric, chance, null, link, _ = NULLS[name]
    rej = np.zeros(6)
    lk = get_link(link, chance if np.isfinite(chance) else 0.0)
    dav_alt = "greater" if improvement_sign(link, True) > 0 else "less"
    for _ in range(n_curves):
        zz = z + (rng.normal(0, scatter, X.size) if scatter else 0.0)
        k = rng.binomial(N, _probs(link, chance, zz))
        y = k / N
        seed = int(rng.integers(2**31))
        kw = dict(x=X, y=y, n_items=N, metric=metric, chance=chance, null=null, n_boot=n_boot)
        a = pblrt_test(**kw, seed=seed)
        a2 = pblrt_test(**kw, direction="both", seed=seed)
        b = pblrt_test(**kw, alternative="curvature", seed=seed + 1)
        dc = pblrt_test(**kw, direction="decelerating", seed=seed + 3)
        # what the verdict counts: the accelerating break, unless a significant slowdown fits
        # the curve better (the best break of either sign decelerates)
        pa = _pvalue(a, "", [])
        counted = pa <= ALPHA and not (_pvalue(dc, "", []) <= ALPHA
                                       and a.any_direction == "decelerating")
        zl = lk.forward(lk.adjust(y, N))
        c = davies_test(X, zl, alternative=dav_alt)
        d = supf_test(X, zl, n_boot=n_boot, seed=seed + 2)
        rej += np.r_[np.array([a.pvalue, a2.pvalue, b.pvalue, c.pvalue, d.pvalue]) <= ALPHA,
                     counted]
    return rej / n_curves


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--curves", type=int, default=2000)
    ap.add_argument("--power-curves", type=int, default=500)
    ap.add_argument("--n-boot", type=int, default=499)
    ap.add_argument("--seed", type=int, default=20240501)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    lines = ["| null | alternative | curves | PB-LRT break (one-sided) | PB-LRT break (two-sided) "
             "| PB-LRT curvature (one-sided) | Davies (one-sided) | sup-F (two-sided) "
             "| break counted by the verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    cases = []
    for name, (_, _, _, _, z) in NULLS.items():
        cases.append((name, "none (size)", z, args.curves, 0.0))
    cases.append(("gompertz", "none, model scatter sd 0.3 (size)", NULLS["gompertz"][4],
                  args.curves, 0.3))
    for name, (_, _, _, link, z) in NULLS.items():
        # effect sizes on the link scale, scaled to the link's units
        unit = {"identity": 0.05, "mirage": 0.5, "chance_logit": 0.5}[link]
        sign = improvement_sign(link, True)  # ln(-ln y) falls as accuracy rises
        for g in (1, 2):
            cases.append((name, f"accelerating step {g * unit:g}",
                          z + sign * g * unit * (X > PSI), args.power_curves, 0.0))
        for dlt in (1, 2):
            cases.append((name, f"accelerating hinge {dlt * 2 * unit:g}/decade",
                          z + sign * dlt * 2 * unit * np.maximum(X - PSI, 0),
                          args.power_curves, 0.0))
        cases.append((name, f"decelerating step {2 * unit:g}",
                      z - sign * 2 * unit * (X > PSI), args.power_curves, 0.0))
        cases.append((name, f"decelerating hinge {4 * unit:g}/decade",
                      z - sign * 4 * unit * np.maximum(X - PSI, 0), args.power_curves, 0.0))
    for name, alt, z, n, sc in tqdm(cases, desc="calibration", mininterval=30):
        r = run_case(name, z, n, args.n_boot, rng, scatter=sc)
        lines.append(f"| {name} | {alt} | {n} | " + " | ".join(f"{v:.3f}" for v in r) + " |")
        print(lines[-1], flush=True)
    print()
    print(f"10 scales (log10 params 8..11), {N} items per scale, B = {args.n_boot}, "
          f"alpha = {ALPHA}; effects on the link scale at log10 params = {PSI} "
          f"(identity: accuracy units; mirage: ln(-ln y) units, negative = accuracy up; "
          f"chance_logit: logit units). Seed {args.seed}; {time.time() - t0:.0f} s.")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
