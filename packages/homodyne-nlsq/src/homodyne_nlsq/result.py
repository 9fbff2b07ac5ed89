"""The result of a least-squares fit and its plain-dict (JSON-safe) form."""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from homodyne_data import XPCSData
from homodyne_physics import (
    C2Model,
    ModelSpec,
    ParameterError,
    ScalingMap,
    c2_matrix,
    c2_pairs,
    float64,
    json_safe,
)

__all__ = ["NLSQResult"]


@dataclass(frozen=True, eq=False)
class NLSQResult:
    """Everything a least-squares fit found.

    Attributes
    ----------
    mode, convention, solver, scaling_mode
        What was fitted and how (``scaling_mode`` is the resolved mode).
    parameter_names
        Physical parameter names (kernel order).
    values, errors
        Physical parameter -> best value / standard error (units of the registry); a
        parameter the spec holds fixed has its fixed value and error 0.
    theta
        Best physical parameters as an array, ``(P,)``.
    names
        Names of every fitted entry: free physical, then scaling vector (order of
        ``covariance``).
    scaling_values, scaling_errors
        Scaling vector entries -> value / standard error.
    covariance, correlation
        Full ``(P + S, P + S)`` matrices over ``names``.
    contrast, offset, contrast_err, offset_err
        Per-angle values and standard errors, ``(n_phi,)`` (errors 0 in ``constant`` mode:
        held fixed).
    phi
        Angles of the fit, degrees.
    chi2, reduced_chi2, dof, n_points, cost
        chi^2 = sum r^2 / sigma^2 (sigma = 1 when estimated, i.e. the plain sum of squares),
        chi2 / dof, dof = n_points - (free P + S), valid points fitted, raw cost of the loss.
    sigma, sigma_source
        Noise per point and whether it was ``estimated`` (sqrt(chi2/dof)) or given by the
        ``user``.
    condition_number
        Of the unit-diagonal scaled J^T J at the optimum.
    iterations, converged, message, reason
        Accepted steps of the chosen run, whether a tolerance was met, and why it stopped.
    at_bound
        Names (physical or scaling) that ended on a bound.
    warnings
        Plain-language notes on anything a user should know (bounds, singularity, masks).
    starts
        One dict per local run (origin, start, values, chi2, iterations, converged).
    distinct_minima
        Number of different optima among the starts (chi^2 apart by more than 1 sigma^2).
    timing
        Seconds: setup, global search, local solve, uncertainties, total, passes.
    model
        The :class:`homodyne_physics.C2Model` of the fit.
    loss
        Loss used.
    config
        The settings of the fit (``NLSQConfig.to_dict()``).
    shear_delta_chi2
        laminar_flow only: rise of chi^2 (in units of sigma^2) when the shear is switched off
        at the optimum (diffusion kept, scaling re-solved); below 9.49 the shear is not
        significant at 95% and a warning says so.
    covariance_robust, errors_robust
        Frame-correlated (2-D Bartlett sandwich) covariance over ``names`` and its errors by
        name (see :mod:`homodyne_nlsq.robust_covariance`); ``None`` if not computed.
    error_model
        Which covariance ``covariance``/``errors`` hold (``used``: ``'frame-correlated'`` or
        ``'independent'``) and why (``reason``: the residual-correlation test), with the
        bandwidth, test statistics, robust/independent ratio per name and the
        independent-noise errors and covariance.
    mirror_check
        laminar_flow with ``phi0`` free (``NLSQConfig.mirror_check``): the symmetry axes of
        the angle set, the refits from the mirror image of ``phi0`` (``candidates``), the
        reported and the other minimum (``phi0``/``chi2``, ``phi0_other``/``chi2_other``,
        ``delta_chi2`` in noise-variance units divided by ``inflation``, the
        frame-correlation factor of phi0), whether the fit moved to the mirror
        (``flipped``), ``indistinguishable`` (``delta_chi2`` < ``threshold``, with a
        warning) and the cost in ``seconds``; ``None`` when the check did not run
        (:mod:`homodyne_nlsq.mirror`).
    frame_times
        Times of the selected frames, s (the data's age range; default grid of
        :meth:`transport`).
    spec
        The :class:`homodyne_physics.ModelSpec` of the fit (recorded in ``to_dict``; CMC
        takes it from here).
    scaling, scaling_vector
        The :class:`homodyne_physics.ScalingMap` and the fitted scaling vector. With an
        age-dependent scaling ``contrast``/``offset`` are the age-averaged (order-0) values,
        :meth:`scaling_at` gives them at any age, :meth:`age_coefficients` lists the
        coefficients (also in ``to_dict()['age_scaling']``).
    """

    mode: str
    convention: str
    solver: str
    scaling_mode: str
    parameter_names: tuple[str, ...]
    values: dict[str, float]
    errors: dict[str, float]
    theta: np.ndarray
    names: tuple[str, ...]
    scaling_values: dict[str, float]
    scaling_errors: dict[str, float]
    covariance: np.ndarray
    correlation: np.ndarray
    contrast: np.ndarray
    offset: np.ndarray
    contrast_err: np.ndarray
    offset_err: np.ndarray
    phi: np.ndarray
    chi2: float
    reduced_chi2: float
    dof: int
    n_points: int
    cost: float
    sigma: float
    sigma_source: str
    condition_number: float
    iterations: int
    converged: bool
    message: str
    reason: str
    at_bound: list[str]
    warnings: list[str]
    starts: list[dict[str, Any]]
    distinct_minima: int
    timing: dict[str, float]
    model: C2Model
    loss: str
    config: dict[str, Any] = field(default_factory=dict)
    shear_delta_chi2: float | None = None
    covariance_robust: np.ndarray | None = None
    errors_robust: dict[str, float] | None = None
    error_model: dict[str, Any] = field(default_factory=dict)
    frame_times: np.ndarray | None = None
    mirror_check: dict[str, Any] | None = None

    def transport(self, times=None):
        """D(t), Gamma(t) (and gamma_dot(t), strain) with delta-method 68 % / 95 % bands.

        See :func:`homodyne_nlsq.identifiability.nlsq_transport`.
        """
        from .identifiability import nlsq_transport

        return nlsq_transport(self, times)

    def identifiability(self, transport=None):
        """Which parameters the data determine: see :func:`homodyne_nlsq.identifiability_report`.
        ``transport``: :meth:`transport` (default grid) when already computed, not computed
        again."""
        from .identifiability import nlsq_identifiability

        return nlsq_identifiability(self, transport)

    spec: ModelSpec | None = None
    scaling: ScalingMap | None = None
    scaling_vector: np.ndarray | None = None

    @property
    def age_dependent(self) -> bool:
        """True when the fit's contrast or offset depends on age."""
        return self.scaling is not None and self.scaling.ages

    def scaling_at(self, age) -> tuple[np.ndarray, np.ndarray]:
        """Contrast and offset per angle at the given ages (s), each ``(n_phi, *age.shape)``
        (constant in age unless the fit used ``contrast_age_order``/``offset_age_order``)."""
        age = np.asarray(age, np.float64)
        if not self.age_dependent:
            shape = (self.phi.shape[0],) + (1,) * age.ndim
            full = (self.phi.shape[0], *age.shape)
            return (
                np.broadcast_to(self.contrast.reshape(shape), full).copy(),
                np.broadcast_to(self.offset.reshape(shape), full).copy(),
            )
        c, o = self.scaling.at_age(self.scaling_vector, age.reshape(-1))
        return c.reshape(-1, *age.shape), o.reshape(-1, *age.shape)

    def age_coefficients(self) -> dict[str, Any]:
        """Per-angle Legendre coefficients of contrast and offset in the age (order 0 = the
        age-averaged value) and the age range they are defined over."""
        if not self.age_dependent:
            return {}
        c, o = self.scaling.coefficients(self.scaling_vector)
        return {
            "basis": "Legendre P_k(u), u = 2 (age - age_min) / (age_max - age_min) - 1",
            "age_range_s": list(self.scaling.age_range),
            "contrast_age_order": self.scaling.contrast_age_order,
            "offset_age_order": self.scaling.offset_age_order,
            "contrast": c,
            "offset": o,
        }

    @property
    def fixed(self) -> dict[str, float]:
        """Parameters held fixed -> value."""
        return self.spec.fixed_values if self.spec is not None else {}

    def fitted_c2(self, data: XPCSData) -> np.ndarray:
        """Model c2 on the full matrices of ``data`` (same angles as the fit), for plots;
        for point-set data at their points, ``(n_phi, n_points)``.

        Returns
        -------
        numpy.ndarray
            ``(n_phi, n_t, n_t)``.
        """
        if data.n_phi != self.phi.shape[0] or not np.allclose(data.phi, self.phi):
            raise ParameterError(
                f"fitted_c2: the data have angles {np.round(data.phi, 3).tolist()} but the fit "
                f"was made on {np.round(self.phi, 3).tolist()}"
            )
        with float64():
            if not self.age_dependent:
                args = (self.model, self.theta, self.contrast, self.offset, data.t, data.phi)
                if not data.is_dense:  # point sets: the model at their points, (n_phi, n_points)
                    return np.asarray(c2_pairs(*args, *data.pairs(0)))
                return np.asarray(c2_matrix(*args))
            ones = np.ones_like(self.contrast)
            args = (self.model, self.theta, ones, 0.0 * ones, data.t, data.phi)
            t = np.asarray(data.t, np.float64)
            if not data.is_dense:
                i, j = data.pairs(0)
                g = np.asarray(c2_pairs(*args, i, j))
                c, o = self.scaling_at(0.5 * (t[i] + t[j]))
                return o + c * g
            g = np.asarray(c2_matrix(*args))
        c, o = self.scaling_at(0.5 * (t[:, None] + t[None, :]))
        return o + c * g

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dict (numpy -> lists, non-finite -> None)."""
        return json_safe(
            {
                "mode": self.mode,
                "convention": self.convention,
                "solver": self.solver,
                "loss": self.loss,
                "scaling_mode": self.scaling_mode,
                "parameters": {
                    n: {
                        "value": self.values[n],
                        "error": self.errors[n],
                        **({"fixed": True} if n in self.fixed else {}),
                    }
                    for n in self.parameter_names
                },
                "scaling": {
                    n: {"value": self.scaling_values[n], "error": self.scaling_errors[n]}
                    for n in self.scaling_values
                },
                "phi": self.phi,
                "contrast": self.contrast,
                "contrast_err": self.contrast_err,
                "offset": self.offset,
                "offset_err": self.offset_err,
                "names": list(self.names),
                "covariance": self.covariance,
                "correlation": self.correlation,
                "chi2": self.chi2,
                "reduced_chi2": self.reduced_chi2,
                "dof": self.dof,
                "n_points": self.n_points,
                "cost": self.cost,
                "sigma": self.sigma,
                "sigma_source": self.sigma_source,
                "condition_number": self.condition_number,
                "iterations": self.iterations,
                "converged": self.converged,
                "reason": self.reason,
                "message": self.message,
                "at_bound": self.at_bound,
                "warnings": self.warnings,
                "starts": self.starts,
                "distinct_minima": self.distinct_minima,
                "timing": self.timing,
                "q": self.model.q,
                "dt": self.model.dt,
                "gap": self.model.gap,
                "config": self.config,
                "shear_delta_chi2": self.shear_delta_chi2,
                "covariance_robust": self.covariance_robust,
                "errors_robust": self.errors_robust,
                "error_model": self.error_model,
                "mirror_check": self.mirror_check,
                "spec": self.spec.to_dict() if self.spec is not None else None,
                **({"age_scaling": self.age_coefficients()} if self.age_dependent else {}),
            }
        )
