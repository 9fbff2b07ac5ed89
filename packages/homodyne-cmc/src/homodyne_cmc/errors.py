"""Errors and warnings raised by homodyne-cmc (all errors derive from ``HomodyneError``)."""

from homodyne_physics import HomodyneError

__all__ = [
    "CMCConfigError",
    "CMCError",
    "CMCWarning",
    "ShardFailedError",
    "WarmStartError",
]


class CMCError(HomodyneError, RuntimeError):
    """Base class of the errors raised by the consensus Monte Carlo engine."""


class CMCConfigError(CMCError, ValueError):
    """A CMC setting is invalid; the message names the key path (``optimization.cmc.<key>``)."""


class WarmStartError(CMCError):
    """The NLSQ warm start is missing, unreadable or too poor to start sampling from."""


class ShardFailedError(CMCError):
    """Every shard failed (or was excluded), so no combined posterior can be formed."""


class CMCWarning(UserWarning):
    """A result was produced but something about it needs the user's attention."""
