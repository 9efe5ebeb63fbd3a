"""``emergence lab run``: train the lab model family, evaluate it with the harness, report."""

from __future__ import annotations

import argparse

__all__ = ["register", "handler"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``lab`` command."""
    p = subparsers.add_parser(
        "lab",
        help="train a small GPT-2 family on arithmetic and evaluate it with lm-eval",
        description=(
            "Train GPT-2 models of several sizes on multi-digit arithmetic (CPU), evaluate every "
            "checkpoint with lm-evaluation-harness (offline, per-sample logs), re-score the items "
            "under exact match, token edit distance and log-likelihood, and test for "
            "transitions across size and training steps. Needs: pip install 'emergence-audit[lab]'."
        ),
    )
    sub = p.add_subparsers(dest="lab_command", metavar="SUBCOMMAND")
    r = sub.add_parser("run", help="train, evaluate, re-score and test (resumes in OUT)")
    r.add_argument("--preset", choices=["small", "paper"], default="small",
                   help="small: 3 sizes, minutes; paper: 6 sizes x 3 runs (default: small)")
    r.add_argument("--out", default="lab-out", help="output folder (default: lab-out)")
    r.add_argument("--seed", type=int, default=0,
                   help="seed of the items, the harness, the tests and the first training run")
    r.add_argument("--seeds", type=int, default=None, metavar="K",
                   help="independent training runs per size (training seeds SEED..SEED+K-1; "
                        "default: 1 for small, 3 for paper)")
    r.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    r.add_argument("--no-verdicts", action="store_true", help="skip the transition tests")
    r.add_argument("--no-figures", action="store_true", help="skip the figures")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.set_defaults(func=handler)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def handler(args: argparse.Namespace) -> int:
    """Run the lab and print a summary."""
    try:
        import lm_eval  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ValueError(
            f"the lab needs the [lab] extra ({exc.name} is missing): pip install torch==2.13.0 "
            "then pip install 'emergence-audit[lab]'."
        ) from None
    if args.seeds is not None and args.seeds < 1:
        raise ValueError(f"--seeds must be at least 1 (training runs per size); got {args.seeds}.")
    from ..lab import run_lab

    command = "emergence lab run " + " ".join(
        [f"--preset {args.preset}", f"--out {args.out}", f"--seed {args.seed}"]
        + ([f"--seeds {args.seeds}"] if args.seeds is not None else [])
        + [f"--threads {args.threads}"])
    res = run_lab(args.preset, args.out, seed=args.seed, seeds=args.seeds, threads=args.threads,
                  verdicts=not args.no_verdicts, figures=not args.no_figures,
                  progress=not args.quiet, command=command)
    print(res.summary())
    print(f"outputs in {res.out}")
    return 0
