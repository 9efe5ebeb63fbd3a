"""``emergence rescore LOGS... --metrics ... --out scores.csv``: re-score per-item logs.

Reads lm-eval per-sample logs (any harness generation), BIG-bench ``full-log_*.json``, HELM run
folders, Inspect ``.eval`` logs, lighteval ``details_*.parquet`` or plain per-item CSV/JSONL
records, scores every item under the chosen metrics and writes
the tidy table (one row per model x item x metric). Optionally writes per-scale means with
item-cluster bootstrap intervals (``--aggregate``).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd

from .._defaults import N_BOOT, SEED
from .._exceptions import FormatError
from ._common import add_scale_options, parse_mapping, scale_arg, seed_arg

__all__ = ["register", "handler", "read_any"]


def _kind(path: Path) -> str:
    if path.is_dir():
        if (path / "scenario_state.json").exists():
            return "helm"
        if next(path.rglob("full-log_*.json"), None) is not None:
            return "bigbench"
        if next(path.rglob("*.eval"), None) is not None:
            return "inspect"
        if next(path.rglob("details_*.parquet"), None) is not None:
            return "lighteval"
        return "lm-eval"
    name = path.name
    if name == "scenario_state.json":
        return "helm"
    if name.startswith("full-log_"):
        return "bigbench"
    if path.suffix == ".eval":
        return "inspect"
    if name.startswith("details_") and path.suffix == ".parquet":
        return "lighteval"
    if name.startswith("samples_") or name.endswith("_write_out_info.json"):
        return "lm-eval"
    if path.suffix.lower() == ".csv":
        return "records"
    if path.suffix.lower() in (".jsonl", ".json"):
        from ..io.samples import detect_format

        try:
            detect_format(path)
            return "lm-eval"
        except FormatError:
            return "records"
    raise FormatError(f"{path}: cannot tell the format; pass --format.")


def read_any(paths: list[str], *, fmt: str = "auto", columns: dict[str, str] | None = None,
             **kwargs) -> pd.DataFrame:
    """Read per-item logs of any supported format into one records table.

    ``params`` and ``tokens`` (a number or a mapping model -> number) apply to every format the
    same way (:func:`emergence.io.apply_scale`); ``columns`` maps a plain records table's columns.
    """
    from ..io import apply_scale, bigbench, helm, records, samples
    from ..io.inspect_evals import load_inspect
    from ..io.lighteval import load_lighteval

    params = kwargs.pop("params", None)
    tokens = kwargs.pop("tokens", None)
    flags = kwargs.pop("flags", {"params": "params", "tokens": "tokens"})
    frames = []
    groups: dict[str, list[Path]] = {}
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or directory.")
        kind = fmt if fmt != "auto" else _kind(p)
        groups.setdefault(kind, []).append(p)
    for kind, ps in groups.items():
        if kind == "lm-eval":
            frames.append(samples.load_samples(ps, **kwargs))
        elif kind == "bigbench":
            frames.append(bigbench.load_full_log(ps))
        elif kind == "helm":
            frames.append(helm.load_run([p.parent if p.is_file() else p for p in ps]))
        elif kind == "inspect":
            frames.append(load_inspect(ps))
        elif kind == "lighteval":
            frames.append(load_lighteval(ps, model=kwargs.get("model")))
        elif kind == "records":
            frames.append(records.read_records(ps, task=kwargs.get("task"), columns=columns))
        else:
            raise ValueError(f"unknown --format {kind!r}.")
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    out = apply_scale(out, "params", params, flag=flags["params"])
    out = apply_scale(out, "tokens", tokens, flag=flags["tokens"])
    return records.validate_records(out)


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
    from ..aggregate import item_bootstrap
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
    kwargs = {}
    if args.format in ("auto", "lm-eval"):
        kwargs = {"model": args.model, "filter": args.filter,
                  "tokens_per_step": args.tokens_per_step}
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if args.task:
        kwargs["task"] = args.task
    rec = read_any(args.logs, fmt=args.format, params=scale_arg(args.params, "--params"),
                   tokens=scale_arg(args.tokens, "--tokens"),
                   columns=parse_mapping(args.columns, "--columns") or None,
                   flags={"params": "--params", "tokens": "--tokens"}, **kwargs)
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
    p.add_argument("--format", default="auto",
                   choices=("auto", "lm-eval", "bigbench", "helm", "inspect", "lighteval",
                            "records"))
    p.add_argument("--model", help="model name (default: from the logs)")
    p.add_argument("--family", help="model family for all rows")
    add_scale_options(p)
    p.add_argument("--columns", help="column mapping of a plain records table, e.g. "
                   "item=question_id,prediction=answer")
    p.add_argument("--tokens-per-step", type=float, dest="tokens_per_step",
                   help="training tokens per step (tokens = step x this)")
    p.add_argument("--task", help="task name for files that do not carry it")
    p.add_argument("--filter", help="keep only this lm-eval filter")
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
