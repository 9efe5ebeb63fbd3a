"""Exceptions and warnings raised by :mod:`emergence`."""

from __future__ import annotations

__all__ = [
    "EmergenceError",
    "SchemaError",
    "FormatError",
    "UnknownMetricError",
    "DeclarationError",
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


class UnknownMetricError(EmergenceError, ValueError):
    """A metric whose direction, kind and range are neither built in nor declared.

    ``str(error)`` names the Python argument that declares the metric; :meth:`cli_message` names
    the command-line flag (the CLI prints that one).

    Attributes
    ----------
    metrics : tuple of str
        The unknown metric names.
    function : str or None
        The Python function whose ``metric_facts=`` argument declares them.
    """

    def __init__(self, metrics, *, function: str | None = None, known=()) -> None:
        self.metrics = tuple(str(m) for m in metrics)
        self.function = function
        self.known = tuple(known)
        super().__init__(self._message(cli=False))

    def _message(self, *, cli: bool) -> str:
        names = ", ".join(repr(m) for m in self.metrics)
        first = self.metrics[0] if self.metrics else "NAME"
        spec = "higher|lower,discontinuous|continuous[,LO:HI][,LATENT][,sharp]"
        if cli:
            how = (f"declare each with --metric-info {first}={spec} (repeatable; e.g. "
                   "--metric-info val_loss=lower,continuous,0:inf,loss), or leave them out with "
                   "--metrics")
        else:
            decl = f"metric_facts={{{first!r}: {spec!r}}}"
            if self.function:
                decl = f"{self.function}(..., {decl})"
            how = (f"declare them with {decl} (a spec string or an emergence.registry.MetricInfo; "
                   "e.g. {'val_loss': 'lower,continuous,0:inf,loss'}), or leave them out with "
                   "metrics=[...]")
        known = ""
        if self.known and not cli:  # the terminal message stays short
            known = f" Built-in metrics: {', '.join(self.known)}."
        return (f"unknown metric(s) {names}: whether higher is better, whether items are scored "
                f"0/1 and the valid range are not known, and are not guessed; {how}.{known}")

    def cli_message(self) -> str:
        """The message with the command-line flag instead of the Python argument."""
        return self._message(cli=True)


class DeclarationError(EmergenceError, ValueError):
    """A declared fact (metric facts, chance level) is malformed or contradicts itself."""


class NotFittedError(EmergenceError, AttributeError):
    """A fitted attribute was requested before ``fit`` was called."""


class ConvergenceWarning(UserWarning):
    """An optimiser did not converge or a bootstrap hit its p-value floor."""


class DataExclusionWarning(UserWarning):
    """Rows were excluded from an analysis; the excluded rows are reported in the result."""
