"""CSV tables that are safe to open in a spreadsheet.

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as
a formula by spreadsheet programs (CSV injection). :func:`escape_formulas` prefixes such text
cells with a single quote, the convention spreadsheets display as literal text. Numbers, and text
that is a plain number such as ``"-1.5"``, are left as they are.

Examples
--------
>>> import pandas as pd
>>> from emergence._csvsafe import escape_formulas
>>> escape_formulas(pd.DataFrame({"task": ["=HYPERLINK(1)", "mmlu", "-3"], "v": [-1.0, 2.0, 3.0]}))
             task    v
0  '=HYPERLINK(1) -1.0
1            mmlu  2.0
2              -3  3.0
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

__all__ = ["escape_formulas", "write_csv"]

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        v = float(text)
    except ValueError:
        return False
    return not math.isnan(v) or text.strip().lower() in {"nan", "+nan", "-nan"}


def _escape(value):
    if isinstance(value, str) and value.startswith(_TRIGGERS) and not _is_number(value):
        return "'" + value
    return value


def escape_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``df`` whose text cells (and column names) cannot start a spreadsheet formula.

    Parameters
    ----------
    df : DataFrame

    Returns
    -------
    DataFrame
        Text cells starting with ``= + - @``, a tab or a carriage return get a leading ``'``.
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            continue
        out[col] = s.map(_escape).astype(object) if len(s) else s
    out.columns = [_escape(c) for c in out.columns]
    return out


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` without index to ``path`` with formula-like text escaped (see above)."""
    path = Path(path)
    escape_formulas(df).to_csv(path, index=False)
    return path
