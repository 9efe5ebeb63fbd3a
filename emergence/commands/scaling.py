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

import numpy as np
import pandas as pd

from .._defaults import N_BOOT, SEED
from .._exceptions import EmergenceError
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
                   help="starts: the 4,500-point published grid (default) or a 72-point subset")
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


def _load(spec: str, quiet: bool, args: argparse.Namespace | None = None) -> pd.DataFrame:
    from .. import datasets
    from ..io import apply_scale

    path = Path(spec)
    if not path.exists():
        if spec in datasets.names():
            table = datasets.load(spec)
            if args is not None:
                table = apply_scale(table, "params", scale_arg(args.params, "--params"),
                                    flag="--params")
                table = apply_scale(table, "tokens", scale_arg(args.tokens, "--tokens"),
                                    flag="--tokens")
            return table
        raise FileNotFoundError(f"{spec}: no such file, folder or bundled dataset "
                                f"(bundled: {', '.join(datasets.names())}).")
    if path.is_file() and path.suffix.lower() in (".csv", ".tsv", ".gz"):
        head = pd.read_csv(path, nrows=5, sep=None, engine="python")
        if {"N", "loss"} <= set(head.columns):
            return pd.read_csv(path, sep=None, engine="python")
    if args is not None:
        return read_inputs([spec], args, progress=not quiet)
    from ..io import read

    return read([spec], progress=not quiet)


def _out(args) -> Path:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _runs(table: pd.DataFrame, args) -> pd.DataFrame:
    from ..scaling import loss_runs

    if {"N", "loss"} <= set(table.columns):
        runs = table.copy()
        if "D" not in runs.columns:
            if "C" not in runs.columns:
                raise EmergenceError("the runs table needs a column D (tokens) or C (FLOPs).")
            runs["D"] = runs["C"] / (6.0 * runs["N"])
        if "label" not in runs.columns:
            runs["label"] = runs["model"].astype(str) if "model" in runs else runs.index.astype(str)
        return runs
    t = table
    if args.shots is not None:
        t = t[t["shots"] == args.shots]
    runs = loss_runs(t, task=args.task, metric=args.metric, size=args.size,
                     metric_facts=facts_from_args(args)[0])
    if args.min_tokens_fraction > 0:
        final = runs.groupby("model")["D"].transform("max")
        drop = runs["D"] < args.min_tokens_fraction * final
        if drop.any():
            print(f"left out {int(drop.sum())} early checkpoints (under "
                  f"{args.min_tokens_fraction:.0%} of their model's final tokens)")
        runs = runs[~drop].reset_index(drop=True)
    return runs


def _fit(args) -> int:
    from ..plots import figure_style, save_figure
    from ..scaling import default_grid, fit_chinchilla, fit_power_law, place_models
    from ..scaling.plots import plot_loss_vs_compute

    table = _load(args.table, args.quiet, args)
    runs = _runs(table, args)
    out = _out(args)
    if args.law == "chinchilla":
        grid = None
        if args.grid == "coarse":
            g = default_grid()
            grid = g[np.isin(g[:, 0], [0, 5, 10]) & np.isin(g[:, 1], [0, 5, 10])
                     & np.isin(g[:, 2], [0, 0.5]) & np.isin(g[:, 3], [0, 0.5, 1])
                     & np.isin(g[:, 4], [0, 0.5, 1])]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_chinchilla(runs, params="N", tokens="D", loss="loss", labels="label",
                                 exclude_top=args.exclude_top, n_boot=args.n_boot,
                                 seed=args.seed, grid=grid, progress=not args.quiet)
        fit.to_frame().to_csv(out / "chinchilla_params.csv", index=False)
        fit.runs.to_csv(out / "chinchilla_runs.csv", index=False)
        if fit.bootstrap is not None:
            fit.bootstrap.to_csv(out / "chinchilla_bootstrap.csv", index=False)
        with figure_style():
            ax = plot_loss_vs_compute(fit.runs, fit)
        save_figure(ax.figure, out / "loss_vs_compute.png")  # PNG at 200 dpi and SVG
        if "metric" in table.columns:
            place_models(table, fit, size=args.size).to_csv(out / "placement.csv", index=False)
        text = fit.summary()
    else:
        axis = {"params": "N", "tokens": "D", "flops": "C"}[args.x]
        if "C" not in runs.columns:
            runs["C"] = 6.0 * runs["N"] * runs["D"]
        if "model" in runs.columns:
            if args.x == "tokens":
                if args.model:
                    runs = runs[runs["model"] == args.model]
                elif runs["model"].nunique() > 1:
                    raise EmergenceError("a power law in tokens fits one model's checkpoints; "
                                         "pass --model (models: "
                                         f"{', '.join(map(str, runs['model'].unique()[:10]))}).")
            else:  # across models: each model's last checkpoint
                runs = runs.loc[runs.groupby("model")["D"].idxmax()]
                print(f"power law across {len(runs)} models (last checkpoint of each)")
        pl = fit_power_law(runs[axis].to_numpy(float), runs["loss"].to_numpy(float),
                           floor=not args.no_floor, n_boot=args.n_boot, seed=args.seed,
                           x_name=args.x, y_name="loss")
        pl.to_frame().to_csv(out / "power_params.csv", index=False)
        text = pl.summary()
    (out / "summary.txt").write_text(text + "\n")
    print(text)
    print(f"written to {out}/")
    return 0


def _allocate(args) -> int:
    from ..scaling import BESIROGLU_2024, HOFFMANN_2022, ChinchillaParams, compute_optimal

    law = None
    if args.tokens_per_param is None or args.law:
        key = str(args.law or "besiroglu").lower()
        if key == "hoffmann":
            law = HOFFMANN_2022
        elif key == "besiroglu":
            law = BESIROGLU_2024
        else:
            f = Path(args.law) / "chinchilla_params.csv"
            if not f.exists():
                raise FileNotFoundError(f"--law: {args.law} is not hoffmann, besiroglu or a "
                                        f"folder with chinchilla_params.csv.")
            v = pd.read_csv(f).set_index("parameter")["estimate"]
            law = ChinchillaParams(v["E"], v["A"], v["B"], v["alpha"], v["beta"], str(f))
    res = compute_optimal(args.compute, law, tokens_per_param=args.tokens_per_param)
    print(res.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if args.out:
        res.to_csv(args.out, index=False)
    return 0


def _backtest(args) -> int:
    from ..plots import figure_style, save_figure
    from ..registry import parse_chance_declaration
    from ..scaling import backtest, pooled_curve
    from ..scaling.plots import plot_backtest

    chance_value: float | None = None
    chance_map: dict[str, float] = {}
    if args.chance is not None:
        if "=" in args.chance:
            chance_map = dict([parse_chance_declaration(args.chance)])
        else:
            chance_value = parse_chance_declaration(f"{args.task}={args.chance}")[1]
    facts = facts_from_args(args)[0]
    t = _load(args.table, args.quiet, args)
    if args.family:
        t = t[t["family"] == args.family]
    if args.shots is not None:
        t = t[t["shots"] == args.shots]
    curve = pooled_curve(t, task=args.task, metric=args.metric, x=args.x, metric_facts=facts,
                         chance=chance_map)
    cont = None
    if args.method == "mirage":
        cont = pooled_curve(t, task=args.task, metric=args.continuous_metric, x=args.x,
                            metric_facts=facts)
    res = backtest(curve, method=args.method, cutoff=args.cutoff, continuous=cont,
                   target_length=args.target_length, chance=chance_value, n_boot=args.n_boot,
                   seed=args.seed)
    out = _out(args)
    res.to_frame().to_csv(out / "backtest_points.csv", index=False)
    res.to_row().to_csv(out / "backtest_summary.csv", index=False)
    with figure_style():
        ax = plot_backtest(res)
    save_figure(ax.figure, out / "backtest.png")
    print(res.summary())
    print(f"written to {out}/")
    return 0


def _report(args) -> int:
    from ..scaling import report_section

    facts, chance = facts_from_args(args)
    t = _load(args.table, args.quiet, args)
    res = report_section(t, _out(args), seed=args.seed, n_boot=args.n_boot, cutoff=args.cutoff,
                         metric_facts=facts, chance=chance)
    for f in res["figures"]:
        print(f"figure {f['path']}: {f['title']}")
    for f in res["tables"]:
        print(f"table  {f['path']}: {f['title']}")
    for n in res["notes"]:
        print(f"note: {n}")
    return 0
