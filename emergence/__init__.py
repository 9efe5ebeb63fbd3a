"""emergence: test whether emergent abilities of language models survive a change of metric.

Ingest per-scale results into one tidy table (:mod:`emergence.schema`, :mod:`emergence.io`),
split it into curves (:mod:`emergence.tidy`), test for transitions (:mod:`emergence.stats`) and
write a report (:mod:`emergence.report`).
"""

from __future__ import annotations

from ._exceptions import (
    ConvergenceWarning,
    DataExclusionWarning,
    EmergenceError,
    FormatError,
    NotFittedError,
    SchemaError,
)
from .schema import metric_info, validate
from .tidy import Curve, CurveSet, extract_curves

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
    "Curve",
    "CurveSet",
    "DataExclusionWarning",
    "EmergenceError",
    "FormatError",
    "NotFittedError",
    "SchemaError",
    "extract_curves",
    "metric_info",
    "validate",
    "__version__",
]
