"""Errors of the command-line layer and the exit code each kind of failure maps to.

Exit codes of the ``homodyne`` command:

=====  ==============================================================
0      success
1      the analysis ran but did not converge or failed a quality gate
2      usage or configuration error (bad flag, bad YAML, bad value), an output that
       cannot be written (also a full disk, a read-only file system), a folder in use
       by another run, a size that does not fit in memory
3      data error (missing file, not HDF5, unknown layout, bad dataset)
130    interrupted (Ctrl-C)
=====  ==============================================================

Importing this module imports ``homodyne_physics`` (and so JAX): the command modules import it
lazily, inside the command bodies, so ``homodyne --help`` stays fast.
"""

import errno

from homodyne_physics.errors import HomodyneError

EXIT_OK = 0
EXIT_ANALYSIS = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_INTERRUPTED = 130
_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}

__all__ = [
    "EXIT_ANALYSIS",
    "EXIT_DATA",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "AnalysisFailed",
    "CLIError",
    "ConfigError",
    "OutputError",
    "UsageError",
    "exit_code_for",
]


class CLIError(HomodyneError):
    """Base of the errors raised by the command-line layer; carries its exit code."""

    exit_code = EXIT_USAGE


class UsageError(CLIError):
    """A command-line flag or combination of flags is not acceptable."""

    exit_code = EXIT_USAGE


class ConfigError(CLIError):
    """The YAML configuration is unreadable or holds wrong keys, types or values.

    Attributes
    ----------
    issues
        Every problem found (``ConfigIssue`` objects with key path and line number).
    """

    exit_code = EXIT_USAGE

    def __init__(self, message: str, issues=()) -> None:
        super().__init__(message)
        self.issues = list(issues)


class OutputError(CLIError):
    """The output folder cannot be created or written, or would overwrite a previous run."""

    exit_code = EXIT_USAGE


class AnalysisFailed(CLIError):
    """The fit ran but did not converge, or its result failed a quality gate."""

    exit_code = EXIT_ANALYSIS


def exit_code_for(exc: BaseException) -> int:
    """Map an exception to the command's exit code, by type.

    Data errors of ``homodyne_data`` (``DataError``) give 3; every other ``HomodyneError``
    (the configuration errors of the lower packages: ``NLSQConfigError``, ``CMCConfigError``,
    ``ParameterError``, ``ModeError``, ...) gives 2; anything unexpected gives 1. Classes are
    matched by type (``isinstance``), never by name.
    """
    import sys

    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    code = getattr(exc, "exit_code", None)
    if isinstance(code, int):
        return code
    data = sys.modules.get("homodyne_data.errors")  # a DataError implies it is imported
    if data is not None and isinstance(exc, data.DataError):
        return EXIT_DATA
    if isinstance(exc, FileNotFoundError | IsADirectoryError):
        return EXIT_DATA
    if isinstance(exc, HomodyneError):
        return EXIT_USAGE
    if isinstance(exc, OSError) and exc.errno in _OUTPUT_ERRNOS:  # disk full, read-only, quota
        return EXIT_USAGE
    return EXIT_ANALYSIS
