"""Options shared by report-writing commands."""

from __future__ import annotations

import argparse
import os

from .._defaults import N_BOOT, SEED

__all__ = ["add_report_options", "parse_mapping", "seed_arg", "SEED_MAX", "add_scale_options",
           "scale_arg", "add_table_options", "table_kwargs_from_args", "read_inputs",
           "add_fact_options", "facts_from_args", "add_log_options", "log_kwargs_from_args",
           "add_scatter_option", "scatter_arg"]

#: Largest seed accepted at the command line (64 bits; every seed gives its own random streams).
SEED_MAX = 2**64 - 1


def seed_arg(text: str) -> int:
    """argparse type of ``--seed``: an integer from 0 to :data:`SEED_MAX`."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer; got {text!r}") from None
    if not 0 <= v <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"must be from 0 to {SEED_MAX} (64-bit); got {text}")
    return v


def scatter_arg(text: str) -> float:
    """argparse type of ``--scatter-sd``: a finite number >= 0 (see ``check_scatter_sd``)."""
    from .._validation import check_scatter_sd

    try:
        return float(check_scatter_sd(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0 (sd of ln CE between "
                                         f"models); got {text!r}") from None


def add_scatter_option(p: argparse.ArgumentParser) -> None:
    """Add --scatter-sd SD (declared model-to-model scatter of the latent test)."""
    p.add_argument(
        "--scatter-sd", type=scatter_arg, default=None, metavar="SD",
        help="declare the model-to-model scatter: the sd of ln per-token cross-entropy between "
        "models of the same size trained independently (e.g. measured from seeds at other "
        "sizes). The latent test then uses it instead of estimating it from each curve's own "
        "points; replicate runs per scale, when present, measure it from the data instead")


def jobs_arg(text: str) -> int:
    """``--jobs``: a positive number of processes."""
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"--jobs must be a positive integer; got {text!r}")
    return v


def add_report_options(p: argparse.ArgumentParser, *, default_out: str) -> None:
    """Add --out, --seed, --n-boot, --interval, --no-verdicts, --quiet, --jobs."""
    p.add_argument("--out", default=default_out, help=f"output folder (default: {default_out})")
    p.add_argument("--seed", type=seed_arg, default=SEED,
                   help=f"seed for every bootstrap, 0 to 2^64-1 (default: {SEED})")
    p.add_argument("--n-boot", type=int, default=N_BOOT,
                   help=f"bootstrap replicates for the tests (default: {N_BOOT})")
    p.add_argument("--interval", default="wilson", choices=["wilson", "jeffreys", "beta", "agresti_coull"],
                   help="binomial interval for accuracies (default: wilson)")
    p.add_argument("--no-verdicts", action="store_true", help="skip the statistical tests")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    jobs = min(2, os.cpu_count() or 1)
    p.add_argument("--jobs", type=jobs_arg, default=jobs,
                   help=f"processes that draw the report's figures (default: {jobs}, the cores of "
                   "this machine up to 2)")


def add_fact_options(p: argparse.ArgumentParser, *, chance: bool = True) -> None:
    """Add --metric-info NAME=SPEC (repeatable) and, with ``chance``, --chance TASK=VALUE."""
    g = p.add_argument_group("declared facts (never guessed)")
    g.add_argument(
        "--metric-info", action="append", default=[], metavar="NAME=SPEC",
        help="declare a metric the built-in table does not know, or override an entry "
        "(repeatable): SPEC = higher|lower,discontinuous|continuous[,LO:HI][,LATENT][,sharp], "
        "e.g. --metric-info val_loss=lower,continuous,0:inf,loss. LATENT is one of "
        "exact_match, multiple_choice, edit_distance, loglik, loglik_per_token, per_token_p, "
        "brier, loss, none")
    if chance:
        g.add_argument(
            "--chance", action="append", default=[], metavar="TASK=VALUE",
            help="declare the chance level of a multiple-choice task whose data do not give the "
            "number of choices (repeatable), e.g. --chance hellaswag=0.25 or --chance "
            "piqa=1/2; the number of choices in per-item logs takes precedence")


def facts_from_args(args: argparse.Namespace) -> tuple[dict, dict]:
    """``(metric_facts, chance)`` from --metric-info and --chance (errors name the flag)."""
    from ..registry import parse_chance_declaration, parse_metric_declaration

    facts = dict(parse_metric_declaration(t) for t in getattr(args, "metric_info", None) or [])
    chance = dict(parse_chance_declaration(t) for t in getattr(args, "chance", None) or [])
    return facts, chance


def parse_mapping(text: str | None, what: str) -> dict[str, str]:
    """Parse ``a=b,c=d`` into a dict; errors name the option."""
    if not text:
        return {}
    out: dict[str, str] = {}
    for part in text.split(","):
        if "=" not in part:
            raise ValueError(f"{what}: expected name=column pairs separated by commas; got {part!r}.")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out




def add_scale_options(p: argparse.ArgumentParser) -> None:
    """Add --params and --tokens (declared scale; same meaning on every command)."""
    p.add_argument("--params", nargs="+", metavar="MODEL=COUNT",
                   help="declared parameter counts: MODEL=COUNT pairs (or one number for all "
                   "rows); they replace the files' own counts")
    p.add_argument("--tokens", nargs="+", metavar="MODEL=COUNT",
                   help="declared training tokens: MODEL=COUNT pairs (or one number)")


def scale_arg(values: list[str] | None, flag: str) -> dict[str, float] | float | None:
    """Parse ``MODEL=COUNT`` pairs (or one number) given to ``flag``; errors name the flag."""
    if not values:
        return None
    out: dict[str, float] = {}
    for v in [x for part in values for x in part.split(",") if x.strip()]:
        if "=" not in v:
            if len(values) == 1 and "," not in values[0]:
                try:
                    return float(v)
                except ValueError:
                    pass
            raise ValueError(f"{flag} expects MODEL=COUNT pairs (e.g. {flag} pythia-160m=1.6e8) "
                             f"or one number; got {v!r}.")
        k, n = v.rsplit("=", 1)
        try:
            out[k.strip()] = float(n)
        except ValueError:
            raise ValueError(f"{flag}: {n!r} (for {k!r}) is not a number.") from None
    return out


def add_table_options(p: argparse.ArgumentParser, *, metric: bool = True) -> None:
    """Add the CSV-table options (column mapping, sentinels, units, metadata join); ``metric``
    adds --metric (commands whose --metric selects a metric leave it out)."""
    g = p.add_argument_group("CSV tables")
    g.add_argument("--columns", help="column mapping, e.g. model=Model,family=Family,run=seed")
    g.add_argument("--value-columns", help="wide table: the benchmark columns to read, "
                   "e.g. exact_match_accuracy,edit_distance")
    if metric:
        g.add_argument("--metric", help="metric name for a wide table with one column per task")
    g.add_argument("--sentinel", type=float, action="append", default=[],
                   help="value meaning 'missing' (repeatable), e.g. --sentinel -1")
    g.add_argument("--percent", action="store_true", help="values are percentages")
    g.add_argument("--metadata", help="model-metadata CSV joined on the model name")
    g.add_argument("--metadata-columns", help="metadata mapping, e.g. params=Size,tokens=Tokens")
    g.add_argument("--units", help="multipliers, e.g. params=1e9,tokens=1e12,flops=1e21")


def table_kwargs_from_args(args: argparse.Namespace) -> dict:
    """Keyword arguments of :func:`emergence.io.read_table` from the CSV-table options."""
    kw: dict = {}
    if getattr(args, "columns", None):
        kw["columns"] = parse_mapping(args.columns, "--columns")
    if getattr(args, "value_columns", None):
        kw["value_columns"] = [c.strip() for c in args.value_columns.split(",") if c.strip()]
        kw["layout"] = "wide"
    if getattr(args, "metric", None) and getattr(args, "_table_metric", True):
        kw["metric"] = args.metric
    if getattr(args, "sentinel", None):
        kw["sentinels"] = tuple(args.sentinel)
    if getattr(args, "percent", False):
        kw["percent"] = True
    if getattr(args, "metadata", None):
        kw["metadata"] = args.metadata
        kw["metadata_columns"] = parse_mapping(args.metadata_columns, "--metadata-columns")
    if getattr(args, "units", None):
        units = parse_mapping(args.units, "--units")
        try:
            kw["units"] = {k: float(v) for k, v in units.items()}
        except ValueError:
            raise ValueError(f"--units: multipliers must be numbers; got {units}.") from None
    return kw


def add_log_options(p: argparse.ArgumentParser) -> None:
    """Add --format and the per-item log options (--model, --family, --task, --filter,
    --tokens-per-step): the same on every command that reads files."""
    from ..io.registry import READERS

    g = p.add_argument_group("input formats and per-item logs")
    names = [n for r in READERS for n in r.names()]
    g.add_argument("--format", default="auto", choices=["auto", *names],
                   help="read every file as this format (default: auto, detected from each "
                   "file's content)")
    g.add_argument("--model", help="model name for logs that do not give it (lm-eval v0.3 "
                   "write_out files) or to replace theirs")
    g.add_argument("--family", help="model family of every row of the logs")
    g.add_argument("--task", help="task name for files that do not carry it")
    g.add_argument("--filter", help="keep only this lm-eval filter")
    g.add_argument("--tokens-per-step", type=float, dest="tokens_per_step",
                   help="training tokens per step (tokens = step x this)")


def log_kwargs_from_args(args: argparse.Namespace) -> dict:
    """Reader options of :func:`emergence.io.read` from the per-item log options."""
    kw = {k: getattr(args, k, None) for k in ("model", "family", "task", "filter",
                                              "tokens_per_step")}
    return {k: v for k, v in kw.items() if v is not None}


def read_inputs(paths: list[str], args: argparse.Namespace, *, progress: bool = True):
    """Read result files for a command: every format (per-item logs re-scored), the CSV-table
    options, --params, --tokens and --metric-info applied the same way; errors name the CLI
    flags."""
    from ..ingest import read

    return read(paths, progress=progress, params=scale_arg(getattr(args, "params", None),
                                                           "--params"),
                tokens=scale_arg(getattr(args, "tokens", None), "--tokens"),
                scale_flags=("--params", "--tokens"), metric_facts=facts_from_args(args)[0],
                format=getattr(args, "format", "auto"),
                **table_kwargs_from_args(args), **log_kwargs_from_args(args))
