"""``emergence rescore LOGS... --metrics ... --out scores.csv``: re-score per-item logs.

Reads every per-item format of the reader registry (lm-eval per-sample logs of any harness
generation, BIG-bench ``full-log_*.json``, HELM run folders, Inspect ``.eval`` logs, lighteval
``details_*.parquet``, plain per-item CSV/JSONL records), scores every item under the chosen
metrics and writes the tidy table (one row per model x item x metric). Aggregate files found in
the folders (lm-eval results next to sample logs) are left out and listed. Optionally writes
per-scale means with item-cluster bootstrap intervals (``--aggregate``).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from .._defaults import N_BOOT, SEED
from ._common import (
    add_log_options,
    add_scale_options,
    log_kwargs_from_args,
    parse_mapping,
    scale_arg,
    seed_arg,
)

__all__ = ["register", "handler"]


def _tokenizer(spec: str):
    """``auto``, ``whitespace``, ``characters``, ``digits`` or ``hf:<local tokenizer folder>``."""
    if spec in ("auto", "whitespace", "characters", "digits"):
        return spec
    if spec.startswith("hf:"):
        try:
            from transformers import AutoTokenizer
        except ImportError:
            raise ValueError("--tokenizer hf:... needs the transformers package.") from None
        folder = Path(spec[3:])
        if not folder.is_dir():
            raise ValueError(f"--tokenizer {spec}: no such folder; give a local folder written "
                             "by tokenizer.save_pretrained() (nothing is downloaded).")
        try:
            tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError) as exc:
            msg = " ".join(str(exc).split())[:160]
            raise ValueError(f"--tokenizer {spec}: not a tokenizer folder ({msg}).") from None
        return tok.encode
    raise ValueError("--tokenizer must be auto, whitespace, characters, digits or hf:<folder>; "
                     f"got {spec!r}.")


def handler(args: argparse.Namespace) -> int:
    """Run the command."""
    from ..item_bootstrap import item_bootstrap
    from ..scoring import METRICS, OPTIONAL_METRICS, attach_loglik, rescore

    if args.regex is not None:
        try:
            re.compile(args.regex)
        except re.error as exc:
            raise ValueError(f"--regex {args.regex!r} is not a valid regular expression ({exc}); "
                             "quote it for the shell, e.g. --regex '[-+]?[0-9]+'.") from None
    metrics = None
    if args.metrics:
        metrics = [m for part in args.metrics for m in part.split(",") if m]
        known = METRICS + OPTIONAL_METRICS
        bad = [m for m in metrics if m not in known]
        if bad:
            raise ValueError(f"unknown metric(s) {bad}; choose from {', '.join(known)}.")
    from ..io import read

    got = read(args.logs, format=args.format, returns="records",
               params=scale_arg(args.params, "--params"),
               tokens=scale_arg(args.tokens, "--tokens"), scale_flags=("--params", "--tokens"),
               columns=parse_mapping(args.columns, "--columns") or None,
               **log_kwargs_from_args(args))
    for path, why in got.skipped[:3]:
        print(f"left out {path}: {why}")
    if len(got.skipped) > 3:
        print(f"left out {len(got.skipped) - 3} more file(s) for the same reasons")
    rec = got.records
    for pair in args.attach or []:
        if "=" not in pair:
            raise ValueError(f"--attach expects GEN_TASK=LOGLIK_TASK; got {pair!r}.")
        gen, ll = pair.split("=", 1)
        rec = attach_loglik(rec, to_task=gen, from_task=ll)
    tokenizer = _tokenizer(args.tokenizer)
    scores = rescore(rec, metrics=metrics, tokenizer=tokenizer, normalize=args.normalize,
                     regex=args.regex, family=args.family)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out, index=False)
    n_nan = int(scores["value"].isna().sum())
    print(f"wrote {len(scores)} scores ({scores['model'].nunique()} models, "
          f"{scores['task'].nunique()} tasks, {scores['metric'].nunique()} metrics"
          f"{f', {n_nan} NaN with reasons in note' if n_nan else ''}) to {out}")
    if "normalize" in scores.columns and scores["normalize"].notna().any():
        rules = scores["normalize"].dropna().value_counts()
        print("exact match: " + "; ".join(f"{r} on {n} items" for r, n in rules.items()))
    for reason, n in list(scores.attrs.get("nan_counts", {}).items())[:8]:
        print(f"  NaN ({n}): {reason}")
    if args.aggregate:
        agg = item_bootstrap(scores, x=args.x, n_boot=args.n_boot, seed=args.seed,
                             on_mismatch=args.on_mismatch, runs=args.runs)
        apath = Path(args.aggregate)
        apath.parent.mkdir(parents=True, exist_ok=True)
        agg.to_frame().to_csv(apath, index=False)
        print(agg.summary())
        print(f"wrote per-scale aggregates to {apath}")
    return 0


def register(subparsers) -> None:
    """Add the ``rescore`` command."""
    p = subparsers.add_parser(
        "rescore",
        help="re-score per-item logs under discontinuous and continuous metrics",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("logs", nargs="+", help="log files or folders")
    p.add_argument("--out", required=True, help="output CSV of per-item scores")
    p.add_argument("--metrics", nargs="+", help="metric names (space or comma separated); "
                   "default: every applicable metric")
    add_log_options(p)
    add_scale_options(p)
    p.add_argument("--columns", help="column mapping of a plain records table, e.g. "
                   "item=question_id,prediction=answer")
    p.add_argument("--attach", nargs="+", metavar="GEN=LL",
                   help="attach target log-likelihoods of loglikelihood task LL to generative "
                   "task GEN")
    p.add_argument("--tokenizer", default="auto",
                   help="auto (default: numeric answers digit by digit, other text by words), "
                   "whitespace, characters, digits, or hf:<local tokenizer folder> for model "
                   "tokens (edit distance and token counts)")
    p.add_argument("--normalize", default="source",
                   choices=("source", "none", "strip", "lower", "squad"),
                   help="exact-match normalisation (default: the source's own rule: none for "
                   "BIG-bench, strip for HELM; strip where the source states none)")
    p.add_argument("--regex", help="extract the first match from predictions before exact match")
    p.add_argument("--aggregate", metavar="CSV",
                   help="also write per-scale means with item-cluster bootstrap intervals")
    p.add_argument("--x", default="params", help="scale column for --aggregate")
    p.add_argument("--n-boot", type=int, default=N_BOOT, dest="n_boot")
    p.add_argument("--seed", type=seed_arg, default=SEED)
    p.add_argument("--on-mismatch", default="error", choices=("error", "intersect"),
                   dest="on_mismatch")
    p.add_argument("--runs", default="error", choices=("error", "mean", "separate"),
                   help="--aggregate with replicate runs (e.g. Inspect epochs): error (default), "
                   "average each item over runs, or one curve per run")
    p.set_defaults(func=handler)
