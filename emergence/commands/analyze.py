"""``emergence analyze``: report on your own result files."""

from __future__ import annotations

import argparse

from ..schema import SCALE_COLUMNS
from ._common import (
    add_fact_options,
    add_log_options,
    add_report_options,
    add_scale_options,
    add_scatter_option,
    add_table_options,
    facts_from_args,
    read_inputs,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze", help="analyse result files and write an HTML report",
        description="Read result files of any format emergence reads (lm-eval results and "
        "per-sample logs, BIG-bench, HELM, Inspect, lighteval, Every Eval Ever, per-item "
        "records, CSV tables; detected by content; per-item logs re-scored), split them into "
        "curves and write a report.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    p.add_argument("--x", default="params", choices=SCALE_COLUMNS, help="scale axis (default: params)")
    p.add_argument("--along", default="size", choices=["size", "step"],
                   help="curves across model sizes or across training steps (default: size)")
    p.add_argument("--step", default="final",
                   help="checkpoint for --along size: 'final', a step number, or 'all'")
    p.add_argument("--tasks", help="comma-separated tasks to include")
    p.add_argument("--metrics", help="comma-separated metrics to include")
    p.add_argument("--min-scales", type=int, default=3, help="minimum scales per curve (default: 3)")
    p.add_argument("--ties", default="error", choices=["error", "mean"],
                   help="tied scales in a curve: error (default) or average them")
    p.add_argument("--runs", default="error", choices=["error", "mean", "separate"],
                   help="several replicate runs (column 'run') per model: error (default), "
                   "average them per scale and show the between-run spread, or one curve per run")
    add_table_options(p)
    add_log_options(p)
    add_scale_options(p)
    add_fact_options(p)
    add_scatter_option(p)
    add_report_options(p, default_out="emergence-report")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from ..analysis import Section, analyze
    from ..report import render_report

    facts, chance = facts_from_args(args)
    table = read_inputs(args.paths, args, progress=not args.quiet)
    step: int | str | None = args.step
    if step == "all":
        step = None
    elif step != "final":
        try:
            step = int(step)
        except ValueError:
            raise ValueError(f"--step must be 'final', 'all' or an integer; got {args.step!r}.") from None
    sec = Section(
        f"{', '.join(args.paths)[:80]} across {'training' if args.along == 'step' else 'size'}",
        table, x=args.x, along=args.along, step=step, ties=args.ties, runs=args.runs,
        min_scales=args.min_scales,
        tasks=args.tasks.split(",") if args.tasks else None,
        metrics=args.metrics.split(",") if args.metrics else None,
        verdicts=not args.no_verdicts, metric_facts=facts, chance=chance,
        scatter_sd=args.scatter_sd,
    )
    an = analyze([sec], seed=args.seed, n_boot=args.n_boot, interval=args.interval,
                 progress=not args.quiet)
    rep = render_report(an, out_dir=args.out, title="emergence report", progress=not args.quiet,
                        jobs=args.jobs)
    print(rep.summary())
    return 0
