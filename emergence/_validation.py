"""Small validation helpers with one message template."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["check_option", "check_interval", "check_rng", "check_log10_x", "format_rows",
           "sha256_file", "how", "cli_mode", "check_scatter_sd"]

#: Largest plausible log10 of a scale: 10**50 parameters, tokens or FLOPs is beyond any model, so a
#: larger value is a raw scale passed where log10 is expected.
LOG10_MAX = 50.0

#: True while a command of the ``emergence`` CLI runs: messages then give fixes as flags.
_CLI: ContextVar[bool] = ContextVar("emergence_cli", default=False)


def how(python: str, cli: str | None = None) -> str:
    """A fix as the user would type it: ``cli`` (a flag) under the CLI, else ``python``.

    Examples
    --------
    >>> how("ties='mean'", "--ties mean")
    "ties='mean'"
    >>> with cli_mode():
    ...     how("ties='mean'", "--ties mean")
    '--ties mean'
    """
    return cli if (cli is not None and _CLI.get()) else python


@contextmanager
def cli_mode() -> Iterator[None]:
    """Run a block as the CLI: :func:`how` returns flags."""
    token = _CLI.set(True)
    try:
        yield
    finally:
        _CLI.reset(token)


def check_option(value: Any, name: str, options: Iterable[Any]) -> Any:
    """Raise ``ValueError`` unless ``value`` is one of ``options``."""
    opts = tuple(options)
    if value not in opts:
        raise ValueError(f"`{name}` must be one of {', '.join(map(repr, opts))}; got {value!r}.")
    return value


def check_interval(
    value: Any, name: str, low: float, high: float, *, closed: str = "neither"
) -> float:
    """Raise ``ValueError`` unless ``low (<)= value (<)= high`` according to ``closed``."""
    if not isinstance(value, Real) or isinstance(value, bool) or not np.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number; got {value!r}.")
    lo_ok = value >= low if closed in ("left", "both") else value > low
    hi_ok = value <= high if closed in ("right", "both") else value < high
    if not (lo_ok and hi_ok):
        lb = "[" if closed in ("left", "both") else "("
        rb = "]" if closed in ("right", "both") else ")"
        raise ValueError(f"`{name}` must be in {lb}{low}, {high}{rb}; got {value!r}.")
    return float(value)


def check_rng(seed: Any = None) -> np.random.Generator:
    """Normalise ``seed`` (None, int, SeedSequence or Generator) to a ``numpy.random.Generator``.

    The same as :func:`emergence._random.as_generator`.
    """
    from ._random import as_generator

    return as_generator(seed)


def check_log10_x(values: Any, name: str = "log10_x") -> np.ndarray:
    """Return ``values`` as a float array, refusing values that are a raw scale, not its log10.

    Examples
    --------
    >>> check_log10_x([8.0, 9.5]).tolist()
    [8.0, 9.5]
    >>> check_log10_x([1e8, 1e9])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `log10_x` must be log10 of the scale; got values up to 1e+09, which look like ...
    """
    a = np.asarray(values, dtype=float)
    fin = a[np.isfinite(a)]
    if fin.size and np.max(np.abs(fin)) > LOG10_MAX:
        raise ValueError(f"`{name}` must be log10 of the scale; got values up to "
                         f"{np.max(np.abs(fin)):.3g}, which look like the raw scale: pass "
                         "numpy.log10(x).")
    return a


def check_scatter_sd(value: Any) -> float | None:
    """A declared model-to-model scatter (sd of ln CE) as a float; None stays None.

    Errors name the argument (``--scatter-sd`` under the CLI).
    """
    if value is None:
        return None
    name = how("`scatter_sd`", "--scatter-sd")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number (sd of ln CE between models) or None; got "
                         f"{value!r}.") from None
    if not (np.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be a finite number >= 0 (sd of ln CE between models); "
                         f"got {value!r}.")
    return v


def check_jobs(value: Any, name: str, what: str) -> int:
    """A number of processes: a positive integer (not a bool, float or string), else a
    ``ValueError`` naming the argument ``name`` and saying what the processes do (``what``)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise ValueError(f"`{name}` must be a positive integer ({what}); got {value!r}.")
    return int(value)


def format_rows(index: Iterable[Any], limit: int = 8) -> str:
    """Format row labels for an error message, eliding after ``limit``."""
    rows = list(index)
    shown = ", ".join(str(r) for r in rows[:limit])
    if len(rows) > limit:
        shown += f", ... ({len(rows) - limit} more)"
    return shown


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
