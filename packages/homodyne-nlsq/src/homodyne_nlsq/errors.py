"""Errors raised by homodyne-nlsq (all derive from ``homodyne_physics.HomodyneError``)."""

from homodyne_physics import HomodyneError

__all__ = ["NLSQBackendError", "NLSQConfigError", "NLSQError", "NLSQFitError"]


class NLSQError(HomodyneError):
    """Base class of the errors raised on purpose by the least-squares engine."""


class NLSQConfigError(NLSQError, ValueError):
    """A setting of the least-squares section is missing, unknown or out of range.

    ``problems`` lists every ``(key path, message)`` found (the message shows them all).
    """

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


class NLSQFitError(NLSQError, RuntimeError):
    """The fit cannot proceed (e.g. chi^2 is not finite at the starting point)."""


class NLSQBackendError(NLSQError, RuntimeError):
    """The optional ``nlsq`` backend is unavailable or failed."""
