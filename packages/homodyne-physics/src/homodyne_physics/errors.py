"""Exception hierarchy shared by every homodyne package.

``HomodyneError`` lives in the lowest package so that every layer above can subclass it and a
caller can catch everything homodyne raises with one ``except`` clause.
"""


class HomodyneError(Exception):
    """Base class of every error raised on purpose by a homodyne package."""


class ParameterError(HomodyneError, ValueError):
    """A parameter name, count or value is not acceptable."""


class UnknownParameterError(ParameterError, KeyError):
    """A parameter name is neither a registry name nor an accepted alias."""

    def __str__(self) -> str:  # KeyError quotes its message; we want plain text.
        return str(self.args[0]) if self.args else ""


class ModeError(HomodyneError, ValueError):
    """An analysis mode, convention or scaling mode is not known or not applicable."""


class PrecisionError(HomodyneError, RuntimeError):
    """A computation needs float64 but JAX is running in float32."""
