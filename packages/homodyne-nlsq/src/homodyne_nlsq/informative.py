"""Is a fit informative? A fit whose physical parameters never left their start and whose
errors are all infinite or undefined learned nothing from the data (no signal: constant c2,
all zeros, all ones), although the solver may report a tiny gradient and "converge".

:func:`flag_uninformative` turns such a result into a not-converged one with a message that
says why; :func:`fit_nlsq` applies it to every result.
"""

import dataclasses
import math
from typing import Any

__all__ = ["flag_uninformative", "uninformative_reason"]

#: relative change below which a parameter counts as "did not move" from its start
STILL_RTOL = 1e-9


def _moved(start: float, value: float) -> bool:
    return abs(value - start) > STILL_RTOL * max(abs(start), abs(value), 1e-300)


def uninformative_reason(result: Any) -> str | None:
    """Why ``result`` carries no information, or None when it does.

    The fit is uninformative when no physical parameter moved from the start of the best
    run (relative change <= ``STILL_RTOL``) and none has a finite standard error.
    """
    names = list(result.parameter_names)
    errors = [result.errors.get(n) for n in names]
    if any(e is not None and math.isfinite(e) for e in errors):
        return None
    starts = [s for s in (result.starts or []) if "start" in s]
    if not starts:
        return None
    best = min(starts, key=lambda s: s.get("cost", math.inf))
    for n in names:
        if n in best["start"] and _moved(float(best["start"][n]), float(result.values[n])):
            return None
    return (
        "the fit learned nothing from the data: no parameter moved from its start value and "
        "every error is infinite or undefined (no signal: is c2 constant, e.g. all 0 or all 1, "
        "or flat within the noise?)"
    )


def flag_uninformative(result: Any) -> Any:
    """``result`` unchanged when informative, else a copy with ``converged=False``, the
    reason as its message (the solver's message kept after it) and in its warnings."""
    reason = uninformative_reason(result)
    if reason is None:
        return result
    return dataclasses.replace(
        result,
        converged=False,
        reason="uninformative",
        message=f"{reason} (solver: {result.message})",
        warnings=[*result.warnings, reason],
    )
