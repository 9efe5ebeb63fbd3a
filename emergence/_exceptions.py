"""Exceptions and warnings raised by :mod:`emergence`."""

from __future__ import annotations

__all__ = [
    "EmergenceError",
    "SchemaError",
    "FormatError",
    "NotFittedError",
    "ConvergenceWarning",
    "DataExclusionWarning",
]


class EmergenceError(Exception):
    """Base class of every error raised by :mod:`emergence`."""


class SchemaError(EmergenceError, ValueError):
    """A table does not follow the tidy schema; the message names column, rows and fix."""


class FormatError(EmergenceError, ValueError):
    """A file could not be read: unknown format or malformed content (the message names the file)."""


class NotFittedError(EmergenceError, AttributeError):
    """A fitted attribute was requested before ``fit`` was called."""


class ConvergenceWarning(UserWarning):
    """An optimiser did not converge or a bootstrap hit its p-value floor."""


class DataExclusionWarning(UserWarning):
    """Rows were excluded from an analysis; the excluded rows are reported in the result."""
