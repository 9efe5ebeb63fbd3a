"""Options shared by report-writing commands."""

from __future__ import annotations

import argparse

__all__ = ["add_report_options", "parse_mapping", "seed_arg", "SEED_MAX"]

#: Largest seed accepted: the verdict engine derives each curve's random stream from a 32-bit
#: seed, so larger seeds would silently equal smaller ones (2**32 would give the results of 0).
SEED_MAX = 2**32 - 1


def seed_arg(text: str) -> int:
    """argparse type of ``--seed``: an integer from 0 to :data:`SEED_MAX`."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer; got {text!r}") from None
    if not 0 <= v <= SEED_MAX:
        raise argparse.ArgumentTypeError(
            f"must be from 0 to {SEED_MAX} (seeds are 32-bit; larger ones would repeat smaller "
            f"ones); got {text}")
    return v


def add_report_options(p: argparse.ArgumentParser, *, default_out: str) -> None:
    """Add --out, --seed, --n-boot, --interval, --no-verdicts, --quiet."""
    p.add_argument("--out", default=default_out, help=f"output folder (default: {default_out})")
    p.add_argument("--seed", type=seed_arg, default=0,
                   help=f"seed for every bootstrap, 0 to {SEED_MAX} (default: 0)")
    p.add_argument("--n-boot", type=int, default=999,
                   help="bootstrap replicates for the tests (default: 999)")
    p.add_argument("--interval", default="wilson", choices=["wilson", "jeffreys", "beta", "agresti_coull"],
                   help="binomial interval for accuracies (default: wilson)")
    p.add_argument("--no-verdicts", action="store_true", help="skip the statistical tests")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


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


