"""``emergence datasets``: list (or export) the bundled datasets."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datasets", help="list the bundled real datasets",
                       description="List the bundled datasets; --export NAME writes one as CSV.")
    p.add_argument("--export", metavar="NAME", help="write dataset NAME as a tidy CSV")
    p.add_argument("--out", metavar="FILE", help="output file for --export (default: NAME.csv)")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from .. import datasets

    if args.export:
        df = datasets.load(args.export)
        out = args.out or f"{args.export}.csv"
        df.to_csv(out, index=False)
        print(f"wrote {len(df)} rows to {out}")
        return 0
    print(datasets.describe())
    return 0
