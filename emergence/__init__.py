"""emergence: test whether emergent abilities of language models survive a change of metric.

Ingest per-scale results into one tidy table (:func:`read`, :func:`rescore`), split it into
curves (:func:`extract_curves`), test for transitions (:func:`assess`, :func:`screen`), compute
everything a report shows (:func:`analyze`) and write it (:func:`build_report`). The verbs are
imported on first use, so ``import emergence`` stays light.

Examples
--------
>>> import emergence as em
>>> table = em.datasets.load("pythia-v1")
>>> curves = em.extract_curves(table[table.shots == 0], x="params", tasks=["lambada_openai"])
>>> sorted({c.metric for c in curves})
['acc', 'ppl']
>>> callable(em.analyze) and callable(em.build_report)
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._exceptions import (
    ConvergenceWarning,
    DataExclusionWarning,
    DeclarationError,
    EmergenceError,
    FormatError,
    NotFittedError,
    SchemaError,
    UnknownMetricError,
)
from ._version import __version__
from .curves import Curve, CurveSet, extract_curves
from .registry import MetricInfo, metric_info
from .schema import validate

#: Public verbs loaded on first use (see ``__getattr__``).
_LAZY = ("read", "rescore", "assess", "analyze", "Analysis", "Section", "screen", "build_report",
         "render_report", "fit_chinchilla", "simulate_family", "datasets")

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from . import datasets
    from .analysis import Analysis, Section, analyze
    from .ingest import read
    from .report import build_report, render_report
    from .scaling import fit_chinchilla
    from .scoring import rescore
    from .screen import screen
    from .simulate import simulate_family
    from .verdict import assess


def __getattr__(name: str) -> Any:
    """Load a public verb on first use (plain imports, so readers of the code see them)."""
    if name == "read":
        from .ingest import read as value
    elif name == "rescore":
        from .scoring import rescore as value
    elif name == "assess":
        from .verdict import assess as value
    elif name in ("analyze", "Analysis", "Section"):
        from . import analysis

        value = getattr(analysis, name)
    elif name == "screen":
        from .screen import screen as value
    elif name in ("build_report", "render_report"):
        from . import report

        value = getattr(report, name)
    elif name == "fit_chinchilla":
        from .scaling import fit_chinchilla as value
    elif name == "simulate_family":
        from .simulate import simulate_family as value
    elif name == "datasets":  # a submodule: imported by its full name (no recursion here)
        import emergence.datasets as value
    else:
        raise AttributeError(f"module 'emergence' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

__all__ = [
    "ConvergenceWarning",
    "Curve",
    "CurveSet",
    "DataExclusionWarning",
    "DeclarationError",
    "EmergenceError",
    "FormatError",
    "MetricInfo",
    "NotFittedError",
    "SchemaError",
    "UnknownMetricError",
    "Analysis",
    "Section",
    "analyze",
    "assess",
    "build_report",
    "datasets",
    "extract_curves",
    "fit_chinchilla",
    "read",
    "render_report",
    "rescore",
    "screen",
    "simulate_family",
    "metric_info",
    "validate",
    "__version__",
]
