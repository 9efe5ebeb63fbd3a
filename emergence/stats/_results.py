"""Shared behaviour of the frozen result objects returned by :mod:`emergence.stats`."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TestResult", "fmt_p"]


def fmt_p(p: float) -> str:
    """Format a p-value for display."""
    if p is None or not np.isfinite(p):
        return "nan"
    if p < 1e-4:
        return f"{p:.1e}"
    return f"{p:.4f}"


def _scalar(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


class TestResult:
    """Mixin for frozen dataclasses holding a hypothesis test.

    Unpacking yields ``(statistic, pvalue)``; every other field is an attribute only.
    ``to_frame()`` gives one row with every scalar field; ``summary()`` a short text.
    Subclasses define ``statistic``, ``pvalue``, ``null`` and ``reference`` fields and a
    ``_name`` class attribute.
    """

    __slots__ = ()
    __test__ = False  # keep pytest from collecting result classes
    _name = "test"

    def __iter__(self):
        yield self.statistic  # type: ignore[attr-defined]
        yield self.pvalue  # type: ignore[attr-defined]

    def _row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"test": self._name}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if isinstance(v, (np.ndarray, pd.DataFrame, pd.Series, list, dict)):
                continue
            row[f.name] = _scalar(v)
        return row

    def to_frame(self) -> pd.DataFrame:
        """One-row DataFrame with every scalar field (arrays and tables are left out)."""
        return pd.DataFrame([self._row()])

    def summary(self) -> str:
        """Short text: test, statistic, p-value, null and reference distribution."""
        lines = [
            f"{self._name}: statistic = {self.statistic:.4g}, "  # type: ignore[attr-defined]
            f"p = {fmt_p(self.pvalue)}",  # type: ignore[attr-defined]
            f"  H0: {self.null}",  # type: ignore[attr-defined]
            f"  reference: {self.reference}",  # type: ignore[attr-defined]
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()
