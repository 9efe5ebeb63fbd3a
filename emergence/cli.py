"""Command-line interface: ``emergence <command> ...``.

Each command lives in its own module under :mod:`emergence.commands` and exposes
``register(subparsers)``; the module adds a parser whose ``func`` default is the handler
``handler(args) -> int``. The CLI is a thin layer over the public API.

Exit codes: 0 success, 2 bad input (message on stderr), 1 unexpected failure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._exceptions import EmergenceError
from ._validation import cli_mode
from ._version import __version__

__all__ = ["main", "build_parser", "error_text"]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every command of :mod:`emergence.commands`."""
    parser = argparse.ArgumentParser(
        prog="emergence",
        description="Test whether emergent abilities of language models survive a change of metric.",
    )
    parser.add_argument("--version", action="version", version=f"emergence {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from .commands import analyze, datasets, demo, lab, rescore, scaling, screen

    for module in (analyze, datasets, demo, lab, rescore, scaling, screen):  # listed, not discovered
        module.register(sub)
    return parser


#: Longest error message printed (characters); longer ones keep their start and end.
MAX_ERROR_CHARS = 400


def error_text(exc: BaseException) -> str:
    """One-paragraph message of ``exc`` for the terminal, at most :data:`MAX_ERROR_CHARS` long.

    ``OSError`` is shown as ``file: reason`` (e.g. ``out/x.png: Permission denied``).

    Examples
    --------
    >>> error_text(PermissionError(13, "Permission denied", "rep/index.html"))
    'rep/index.html: Permission denied'
    >>> len(error_text(ValueError("x" * 5000))) <= MAX_ERROR_CHARS
    True
    """
    if isinstance(exc, OSError) and not isinstance(exc, EmergenceError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        text = f"{where}: {exc.strerror}" if where != "" else exc.strerror
        if exc.filename2 is not None:
            text += f" (and {exc.filename2})"
    elif hasattr(exc, "cli_message"):  # names the command-line flag, not the Python argument
        text = exc.cli_message()
    else:
        text = str(exc) or type(exc).__name__
    text = " ".join(text.split())
    if len(text) > MAX_ERROR_CHARS:
        marker = f" [... {len(text)} characters, cut ...] "
        keep = MAX_ERROR_CHARS - 50 - len(marker)
        text = text[:keep] + marker + text[-50:]
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with cli_mode():
            return int(args.func(args) or 0)
    except (EmergenceError, ValueError, OSError) as exc:
        print(f"emergence {args.command}: error: {error_text(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"emergence {args.command}: interrupted; finished results were kept.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
