"""Transport curves and identifiability of a CMC posterior.

* :func:`cmc_transport`: D(t), Gamma(t) (and gamma_dot(t), strain) at every posterior draw,
  summarised by the pointwise median and central 68 % / 95 % quantiles
  (:func:`homodyne_physics.transport_from_draws`).
* :func:`cmc_identifiability`: the identifiability report of
  :func:`homodyne_nlsq.identifiability.identifiability_report` from the posterior covariance of
  the physical parameters, plus the prior-dominated parameters: one rule for every CMC report,
  :func:`homodyne_cmc.diagnostics.prior_dominated` (a shard's posterior sd above
  ``CMCConfig.prior_dominated_ratio`` x its tempered prior sd, any number of shards).
"""

from typing import Any

import numpy as np

from homodyne_nlsq.identifiability import IdentifiabilityReport, identifiability_report
from homodyne_physics import ParameterError, transport_from_draws, transport_grid

from .diagnostics import prior_dominated

__all__ = ["cmc_identifiability", "cmc_quality_dict", "cmc_transport"]


def _frame_times(result: Any):
    data = getattr(result, "data", None)
    return None if data is None else np.asarray(data.t, np.float64)


def cmc_transport(result: Any, times=None):
    """Posterior transport curves of a :class:`CMCResult` at ``times`` (default: the grid of
    :func:`homodyne_physics.transport_grid` over the frame times of the result's data)."""
    ft = _frame_times(result)
    if times is None:
        if ft is None:
            raise ParameterError("transport: this CMC result holds no data; pass times=")
        times = transport_grid(ft)
    return transport_from_draws(
        result.model,
        result.theta_draws(),
        times,
        t_first=None if ft is None else float(ft[0]),
        age_range=None if ft is None else (float(ft.min()), float(ft.max())),
    )


def _prior_dominated(result: Any) -> list[str]:
    """Names flagged by :func:`~homodyne_cmc.diagnostics.prior_dominated` at the run's threshold."""
    shards = list(getattr(result, "shards", None) or [])
    threshold = float(getattr(getattr(result, "config", None), "prior_dominated_ratio", 0.5))
    flagged = prior_dominated(shards, threshold) if shards else {}
    return [n for n in result.parameter_names if n in flagged]


def cmc_identifiability(result: Any) -> IdentifiabilityReport:
    """Identifiability of the physical parameters from the combined posterior draws."""
    names = list(result.parameter_names)
    k = len(names)
    flat = result.theta_draws().reshape(-1, k)
    cov = np.cov(flat, rowvar=False).reshape(k, k)
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    const = sd <= 1e-12 * np.maximum(np.abs(flat.mean(axis=0)), 1e-300)  # fixed: not sampled
    cov[const, :] = 0.0
    cov[:, const] = 0.0
    sd[const] = 0.0
    dominated = _prior_dominated(result)
    ft = _frame_times(result)
    tr = None
    if ft is not None:
        tr = cmc_transport(result)
    return identifiability_report(
        names,
        cov,
        values=flat.mean(axis=0),
        prior_dominated=dominated,
        age_range=None if ft is None else (float(ft.min()), float(ft.max())),
        transport=tr,
        method="CMC",
    )


def cmc_quality_dict(result: Any) -> dict[str, Any]:
    """``transport`` (when the result holds its data) and ``identifiability`` for
    ``cmc/parameters.json``."""
    out: dict[str, Any] = {"identifiability": cmc_identifiability(result).to_dict()}
    if _frame_times(result) is not None:
        out["transport"] = cmc_transport(result).to_dict()
    return out
