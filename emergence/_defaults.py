"""Defaults shared by every step of the pipeline, defined once.

:func:`emergence.verdict.assess`, :func:`emergence.screen.screen`, :func:`emergence.analysis.analyze`,
the report, the scaling fits and every CLI command take these values when the caller gives none,
so the demo, the tests and a user's run agree unless one of them asks otherwise.

Examples
--------
>>> from emergence._defaults import ALPHA, N_BOOT, SEED
>>> N_BOOT, ALPHA, SEED
(999, 0.05, 0)
"""

from __future__ import annotations

__all__ = ["N_BOOT", "ALPHA", "SEED"]

#: Bootstrap (or Monte Carlo) replicates of every test, interval and fit. 999 keeps the
#: (B + 1) grid of a Monte Carlo p-value on round numbers (Davison & Hinkley 1997, sec. 4.2).
N_BOOT = 999

#: False discovery rate of the verdicts and level of every test (intervals are 1 - ALPHA).
ALPHA = 0.05

#: Seed used when the caller gives none to a function whose results are meant to be repeatable.
SEED = 0
