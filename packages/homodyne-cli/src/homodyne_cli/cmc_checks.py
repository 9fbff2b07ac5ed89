"""Checks of a finished CMC run that make the command fail (exit 1) although sampling
converged: parameters the data do not identify (posterior sd close to the prior sd), for
any number of shards, one included."""

from typing import Any

__all__ = ["cmc_problems"]


def cmc_problems(cres: Any) -> list[str]:
    """Problem sentences (``CMC: ...``) for the run summary; empty when all is well."""
    from homodyne_cmc.diagnostics import prior_dominated, prior_dominated_message

    shards = list(getattr(cres, "shards", []) or [])
    config = getattr(cres, "config", None)
    threshold = float(getattr(config, "prior_dominated_ratio", 0.5))
    if not shards:
        return []
    dominated = prior_dominated(shards, threshold)
    full = getattr(cres, "full_data", None) or None  # the full-data Laplace check
    return [
        f"CMC: {prior_dominated_message(name, idx, shards, threshold, full)}"
        for name, idx in dominated.items()
    ]
