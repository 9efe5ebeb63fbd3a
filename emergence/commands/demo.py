"""``emergence demo``: the report on bundled real data."""

from __future__ import annotations

import argparse

from ._common import add_report_options


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="analyse the bundled real data and write an HTML report",
                       description="Analyse the bundled Pythia and Observational Scaling Laws "
                       "tables and write emergence-report/index.html (no network needed).")
    add_report_options(p, default_out="emergence-report")
    p.add_argument("--quick", action="store_true", help="fewer tasks (for a fast look)")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    rep = run_demo(args.out, seed=args.seed, n_boot=args.n_boot, verdicts=not args.no_verdicts,
                   quick=args.quick, interval=args.interval, progress=not args.quiet,
                   jobs=args.jobs)
    print(rep.summary())
    return 0
