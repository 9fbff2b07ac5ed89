"""Transport curves and identifiability of a CMC posterior.

* :func:`cmc_transport`: D(t), Gamma(t) (and gamma_dot(t), strain) at every posterior draw,
  summarised by the pointwise median and central 68 % / 95 % quantiles
  (:func:`homodyne_physics.transport_from_draws`).
* :func:`cmc_identifiability`: the identifiability report of
  :func:`homodyne_nlsq.identifiability.identifiability_report` from the posterior covariance of
  the physical parameters, plus the parameters whose combined posterior sd exceeds half of their
  prior sd (the data add little to the prior).
"""

from typing import Any

import numpy as np

from homodyne_nlsq.identifiability import IdentifiabilityReport, identifiability_report
from homodyne_physics import PARAMETERS, ParameterError, transport_from_draws, transport_grid

from .parameterization import prior_moments

__all__ = ["PRIOR_DOMINATED_RATIO", "cmc_identifiability", "cmc_quality_dict", "cmc_transport"]

PRIOR_DOMINATED_RATIO = 0.5


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


def _prior_sd(result: Any, name: str) -> float:
    spec = getattr(result, "spec", None)
    prior = spec.priors[name] if spec is not None else PARAMETERS[name].prior
    return float(prior_moments(prior, 1.0)[1])


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
    dominated = []
    for n, s in zip(names, sd, strict=True):
        prior_sd = _prior_sd(result, n)
        if s > 0 and np.isfinite(prior_sd) and s > PRIOR_DOMINATED_RATIO * prior_sd:
            dominated.append(n)
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
