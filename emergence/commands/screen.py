"""``emergence screen``: verdicts for every curve of one or more tables, resumable."""

from __future__ import annotations

import argparse

from .._defaults import ALPHA, N_BOOT, SEED
from ..schema import SCALE_COLUMNS
from ._common import (
    add_fact_options,
    add_log_options,
    add_scale_options,
    add_scatter_option,
    add_table_options,
    facts_from_args,
    jobs_arg,
    read_inputs,
    seed_arg,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "screen",
        help="test every curve of the given tables and write verdicts incrementally",
        description=(
            "Split the tables into curves, run the break tests on each, and write one row per "
            "curve to OUT/rows.jsonl as it finishes (an interrupted screen keeps finished rows; "
            "rerun the same command to resume). At the end OUT/curves.csv (with BH q-values "
            "across the screen) and OUT/verdicts.csv (one verdict per task across metrics) are "
            "written."
        ),
    )
    p.add_argument("tables", nargs="*", metavar="TABLE",
                   help="result files or folders (any format emergence reads)")
    p.add_argument("--dataset", action="append", default=[], metavar="NAME",
                   help="bundled dataset to include (repeatable; see `emergence datasets`)")
    p.add_argument("--x", default="params", choices=SCALE_COLUMNS,
                   help="scale axis (default: params)")
    p.add_argument("--along", default="size", choices=["size", "step"],
                   help="curves across model sizes or across training steps (default: size)")
    p.add_argument("--step", default="final",
                   help="checkpoint for --along size: 'final' (default) or an integer step")
    p.add_argument("--tasks", help="comma-separated tasks to include")
    p.add_argument("--metrics", help="comma-separated metrics to include")
    p.add_argument("--ties", default="error", choices=["error", "mean"],
                   help="tied scales: raise (default) or average")
    p.add_argument("--runs", default="error", choices=["error", "mean", "separate"],
                   help="several replicate runs (column 'run') per model: error (default), "
                   "average them per scale, or one curve per run")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=seed_arg, default=SEED, help=f"seed (default: {SEED})")
    p.add_argument("--n-boot", type=int, default=N_BOOT,
                   help=f"bootstrap replicates (default: {N_BOOT})")
    p.add_argument("--alpha", type=float, default=ALPHA, help=f"FDR level (default: {ALPHA})")
    p.add_argument("--min-scales", type=int, default=6,
                   help="curves with fewer scales are 'underpowered' (default: 6)")
    p.add_argument("--ic", action="store_true", help="also compute the AICc/BIC table")
    p.add_argument("--jobs", type=jobs_arg, default=1, help="local worker processes (default: 1)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="dask.distributed scheduler address (overrides --jobs)")
    p.add_argument("--restart", action="store_true",
                   help="discard finished rows in OUT instead of resuming")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_table_options(p)
    add_log_options(p)
    add_scale_options(p)
    add_fact_options(p)
    add_scatter_option(p)
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..curves import extract_curves
    from ..screen import screen

    if not args.tables and not args.dataset:
        raise ValueError("give at least one TABLE path or --dataset NAME.")
    facts, chance = facts_from_args(args)
    parts = []
    if args.tables:
        parts.append(read_inputs(args.tables, args, progress=not args.quiet))
    if args.dataset:
        from .. import datasets

        parts.extend(datasets.load(n) for n in args.dataset)
    table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    step: int | str | None = args.step
    if step != "final":
        try:
            step = int(step)
        except ValueError:
            raise ValueError(f"--step must be 'final' or an integer; got {args.step!r}.") from None
    cs = extract_curves(
        table, x=args.x, along=args.along, step=step, ties=args.ties, runs=args.runs,
        tasks=args.tasks.split(",") if args.tasks else None,
        metrics=args.metrics.split(",") if args.metrics else None,
        metric_facts=facts, chance=chance,
    )
    client = None
    if args.scheduler:
        try:
            from dask.distributed import Client
        except ImportError:
            raise ValueError("--scheduler needs dask.distributed: pip install "
                             "'emergence-audit[dask]'.") from None
        try:
            client = Client(args.scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ValueError(f"--scheduler {args.scheduler}: cannot reach the dask scheduler "
                             f"({' '.join(str(exc).split())[:120]}). Check the address, or "
                             "leave --scheduler out to run on local processes (--jobs N).") \
                from None
    try:
        vt = screen(cs, args.out, seed=args.seed, n_boot=args.n_boot, alpha=args.alpha,
                    min_scales=args.min_scales, ic=args.ic, scatter_sd=args.scatter_sd,
                    n_jobs=args.jobs, client=client, resume=not args.restart,
                    progress=not args.quiet)
    finally:
        if client is not None:
            client.close()
    print(vt.summary())
    print(f"wrote {args.out}/curves.csv and {args.out}/verdicts.csv")
    return 0
