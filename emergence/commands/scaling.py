"""``emergence scaling``: fit loss laws, allocate compute, backtest predictability, write figures.

Subcommands::

    emergence scaling fit TABLE --law chinchilla|power --out DIR
    emergence scaling allocate --compute 1e21 1e23 [--law besiroglu|hoffmann|DIR] [--tokens-per-param 20]
    emergence scaling backtest TABLE --task T --metric M --cutoff 1e22 [--method sigmoid] --out DIR
    emergence scaling report TABLE --out DIR

TABLE is a bundled dataset name (``pythia-v1``, ``obsscaling-base``, ``obsscaling-emergent``), a
runs CSV with columns ``N``, ``D`` (or ``C``) and ``loss``, or any result file or folder the
readers understand (lm-eval JSON, tidy CSV, ...).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import pandas as pd

from .._defaults import N_BOOT, SEED
from ._common import (
    add_fact_options,
    add_scale_options,
    add_table_options,
    facts_from_args,
    read_inputs,
    scale_arg,
    seed_arg,
)

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scaling", help="scaling laws: fit, allocate compute, backtest, figures",
                       description="Fit loss scaling laws (Chinchilla or one-axis power law), "
                       "compute-optimal allocation, predictability backtests and figures.")
    ss = p.add_subparsers(dest="scaling_command", metavar="SUBCOMMAND")

    f = ss.add_parser("fit", help="fit a loss law to a table of runs")
    f.add_argument("table", metavar="TABLE", help="dataset name, runs CSV or result files")
    f.add_argument("--law", choices=["chinchilla", "power"], default="chinchilla")
    f.add_argument("--task", help="task of the loss-like metric (when several)")
    f.add_argument("--metric", help="loss-like metric (loss, ppl, ...; when several)")
    f.add_argument("--shots", type=int, help="shot count (when several)")
    f.add_argument("--x", choices=["params", "tokens", "flops"], default="params",
                   help="axis of the one-axis power law (default: params)")
    f.add_argument("--size", default="active_params",
                   help="parameter column (default: active_params; MoE-aware)")
    f.add_argument("--exclude-top", type=int, default=0,
                   help="leave out the k runs with the highest loss")
    f.add_argument("--min-tokens-fraction", type=float, default=0.0,
                   help="leave out checkpoints with less than this share of their model's final "
                   "tokens (default: 0)")
    f.add_argument("--grid", choices=["full", "coarse"], default="full",
                   help="starts: the 4,500-point published grid (default) or a 162-point subset")
    f.add_argument("--no-floor", action="store_true", help="power law without the floor E")
    f.add_argument("--model", help="power law in tokens: the model whose checkpoints to fit")
    _common(f)
    add_fact_options(f, chance=False)
    f.set_defaults(func=_fit)

    a = ss.add_parser(
        "allocate", help="compute-optimal N and D for compute budgets",
        description="Compute-optimal parameters and tokens for each budget under a Chinchilla "
        "law. The default law is the Epoch replication (Besiroglu et al. 2024), whose fit puts "
        "Chinchilla's own budget (5.76e23 FLOPs) at about 73B parameters and 1.3T tokens, close "
        "to the 70B / 1.4T (20 tokens per parameter) that Chinchilla trained. Hoffmann et al.'s "
        "published approach-3 parameters put the same budget at 32B parameters and about 93 "
        "tokens per parameter, out of line with their approaches 1 and 2 and with the model they "
        "trained; the replication refitted approach 3 on data reconstructed from their figure.")
    a.add_argument("--compute", type=float, nargs="+", required=True, help="budgets in FLOPs")
    a.add_argument("--law", default=None,
                   help="besiroglu (default unless --tokens-per-param: the Epoch replication, "
                   "consistent with Chinchilla's 70B / 1.4T), hoffmann (the published approach-3 "
                   "fit: 32B / 93 tokens per parameter at Chinchilla's budget), or the output "
                   "folder of `scaling fit`")
    a.add_argument("--tokens-per-param", type=float, help="fixed ratio instead of a law")
    a.add_argument("--out", help="write the table to this CSV")
    a.set_defaults(func=_allocate)

    b = ss.add_parser("backtest", help="fit below a cutoff, forecast above it")
    b.add_argument("table", metavar="TABLE")
    b.add_argument("--task", required=True)
    b.add_argument("--metric", required=True)
    b.add_argument("--cutoff", type=float, required=True, help="scale below which to fit")
    b.add_argument("--method", choices=["sigmoid", "linear", "power", "mirage"], default="sigmoid")
    b.add_argument("--x", default="flops", choices=["params", "active_params", "tokens", "flops"])
    b.add_argument("--family", help="one family (default: pool every model of the table)")
    b.add_argument("--shots", type=int)
    b.add_argument("--continuous-metric", default="ppl",
                   help="continuous metric of the same task for --method mirage (default: ppl)")
    b.add_argument("--target-length", type=float, help="target length in tokens (mirage)")
    b.add_argument("--chance", help="floor of the sigmoid: a number, or TASK=VALUE (default: "
                   "the chance level the data give or the dataset declares, else 0 with a note)")
    _common(b)
    add_fact_options(b, chance=False)
    b.set_defaults(func=_backtest)

    r = ss.add_parser("report", help="write the scaling figures and tables of a table")
    r.add_argument("table", metavar="TABLE")
    r.add_argument("--cutoff", type=float, help="backtest cutoff (default: 1e22 FLOPs or 60%%)")
    _common(r)
    add_fact_options(r)
    r.set_defaults(func=_report)

    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _common(p: argparse.ArgumentParser) -> None:
    add_table_options(p, metric=False)
    add_scale_options(p)
    p.set_defaults(_table_metric=False)
    p.add_argument("--out", default="scaling-out", help="output folder (default: scaling-out)")
    p.add_argument("--seed", type=seed_arg, default=SEED, help=f"bootstrap seed (default: {SEED})")
    p.add_argument("--n-boot", type=int, default=N_BOOT,
                   help=f"bootstrap replicates (default: {N_BOOT})")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _load(spec: str, quiet: bool, args: argparse.Namespace) -> pd.DataFrame:
    from .. import datasets
    from ..io import apply_scale
    from ..scaling import is_runs_file, read_runs

    if not Path(spec).exists():
        if spec in datasets.names():
            table = datasets.load(spec)
            table = apply_scale(table, "params", scale_arg(args.params, "--params"),
                                flag="--params")
            return apply_scale(table, "tokens", scale_arg(args.tokens, "--tokens"),
                               flag="--tokens")
        raise FileNotFoundError(f"{spec}: no such file, folder or bundled dataset "
                                f"(bundled: {', '.join(datasets.names())}).")
    if is_runs_file(spec):
        return read_runs(spec)
    return read_inputs([spec], args, progress=not quiet)


def _fit(args) -> int:
    from ..scaling import (
        as_runs,
        coarse_grid,
        fit_chinchilla,
        fit_power_law,
        power_law_runs,
        write_chinchilla,
        write_power_law,
    )

    table = _load(args.table, args.quiet, args)
    runs = as_runs(table, task=args.task, metric=args.metric, shots=args.shots, size=args.size,
                   min_tokens_fraction=args.min_tokens_fraction,
                   metric_facts=facts_from_args(args)[0])
    for note in runs.attrs.get("notes", []):
        print(note)
    if args.law == "chinchilla":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_chinchilla(runs, params="N", tokens="D", loss="loss", labels="label",
                                 exclude_top=args.exclude_top, n_boot=args.n_boot,
                                 seed=args.seed,
                                 grid=coarse_grid() if args.grid == "coarse" else None,
                                 progress=not args.quiet)
        write_chinchilla(fit, args.out, table=table, size=args.size)
    else:
        x, loss, note = power_law_runs(runs, x=args.x, model=args.model, what="--model")
        if note:
            print(note)
        fit = fit_power_law(x, loss, floor=not args.no_floor, n_boot=args.n_boot,
                            seed=args.seed, x_name=args.x, y_name="loss")
        write_power_law(fit, args.out)
    print(fit.summary())
    print(f"written to {Path(args.out)}/")
    return 0


def _allocate(args) -> int:
    from ..scaling import compute_optimal, load_law

    law = None
    if args.tokens_per_param is None or args.law:
        law = load_law(args.law, what="--law")
    res = compute_optimal(args.compute, law, tokens_per_param=args.tokens_per_param)
    print(res.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if args.out:
        res.to_csv(args.out, index=False)
    return 0


def _backtest(args) -> int:
    from ..registry import parse_chance_declaration
    from ..scaling import backtest_table, write_backtest

    chance: float | dict[str, float] | None = None
    if args.chance is not None:
        if "=" in args.chance:
            chance = dict([parse_chance_declaration(args.chance)])
        else:
            chance = parse_chance_declaration(f"{args.task}={args.chance}")[1]
    res = backtest_table(_load(args.table, args.quiet, args), task=args.task,
                         metric=args.metric, cutoff=args.cutoff, method=args.method, x=args.x,
                         family=args.family, shots=args.shots,
                         continuous_metric=args.continuous_metric,
                         target_length=args.target_length, chance=chance,
                         metric_facts=facts_from_args(args)[0], n_boot=args.n_boot,
                         seed=args.seed)
    write_backtest(res, args.out)
    print(res.summary())
    print(f"written to {Path(args.out)}/")
    return 0


def _report(args) -> int:
    from ..scaling import report_section

    facts, chance = facts_from_args(args)
    t = _load(args.table, args.quiet, args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res = report_section(t, out, seed=args.seed, n_boot=args.n_boot, cutoff=args.cutoff,
                         metric_facts=facts, chance=chance)
    for f in res["figures"]:
        print(f"figure {f['path']}: {f['title']}")
    for f in res["tables"]:
        print(f"table  {f['path']}: {f['title']}")
    for n in res["notes"]:
        print(f"note: {n}")
    return 0
