"""Small pieces shared by the per-item readers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .._exceptions import FormatError
from ..records import validate_records

__all__ = ["per_model", "records_frame"]


def per_model(value: float | Mapping[str, float] | None, model: str) -> Any:
    """A declared value for ``model``: the number itself, or the mapping's entry (None if absent).

    Examples
    --------
    >>> per_model(1e9, "a"), per_model({"a": 2e9}, "a"), per_model({"a": 2e9}, "b")
    (1000000000.0, 2000000000.0, None)
    """
    if isinstance(value, Mapping):
        return value.get(model)
    return value


def records_frame(rows: list[dict[str, Any]], files: Sequence[Path], what: str) -> pd.DataFrame:
    """Validated records of ``rows`` read from ``files``; errors name the file when there is one.

    Raises
    ------
    FormatError
        No rows (the message names the first file and ``what`` held none).
    """
    if not rows:
        raise FormatError(f"{files[0]}: no {what}.")
    return validate_records(pd.DataFrame(rows), name=str(files[0]) if len(files) == 1 else None)
