"""The last stage of ``fit_nlsq``: turn the best local run into an :class:`NLSQResult`.

Reports every physical parameter of the spec by name: free ones with their standard errors,
fixed ones at their value with error 0 and a note; warnings for bounds, the shear test, masked
points and convergence; one row per local run.
"""

from typing import TYPE_CHECKING, Any

import numpy as np

from homodyne_data import XPCSData

from .mirror import MirrorSearch, inflation_of, mirror_record
from .problem import FitProblem
from .result import NLSQResult
from .uncertainty import Uncertainty, scaling_errors

if TYPE_CHECKING:  # pragma: no cover
    from .api import LocalRuns, StartPlan

__all__ = ["make_result"]


def _at_bound(problem: FitProblem, x) -> list[str]:
    width = problem.upper - problem.lower
    tol = np.where(np.isfinite(width), 1e-6 * width, 0.0)
    hit = (x <= problem.lower + tol) | (x >= problem.upper - tol)
    return [n for n, h in zip(problem.names, hit, strict=True) if h]


# 95% point of chi^2 with 4 degrees of freedom (the four shear parameters)
_CHI2_4DOF_95 = 9.488


def _count_minima(costs: list[float], s2: float) -> int:
    """Optima whose chi^2 differ by more than one unit of the noise variance are distinct."""
    groups: list[float] = []
    for c in sorted(costs):
        if not groups or c - groups[-1] > s2:
            groups.append(c)
    return len(groups)


def _bound_warnings(problem: FitProblem, x, at_bound: list[str]) -> list[str]:
    out = []
    for n in at_bound:
        idx = problem.names.index(n)
        side = "lower" if x[idx] - problem.lower[idx] <= problem.upper[idx] - x[idx] else "upper"
        bound = problem.lower[idx] if side == "lower" else problem.upper[idx]
        out.append(
            f"{n} = {x[idx]:.6g} is at its {side} bound {bound:g}: the data prefer a value at "
            "or beyond it, so its error bar is not a confidence interval"
        )
    return out


def _warnings(problem, local, unc, shear_delta, at_bound) -> list[str]:
    out = list(unc.notes)
    out += _bound_warnings(problem, local.outcome.x, at_bound)
    for n, v in problem.spec.fixed_values.items():
        out.append(f"{n} held fixed at {v:g} (not fitted; no error bar)")
    if shear_delta is not None and shear_delta < _CHI2_4DOF_95:
        out.append(
            f"no significant shear: switching the shear off raises chi2 by only "
            f"{shear_delta:.2f} sigma^2 (< {_CHI2_4DOF_95}, the 95% point for 4 parameters); "
            "gamma_dot_t0, beta, gamma_dot_t_offset and phi0 are not determined by these data"
        )
    n_masked = problem.arrs.n_points - problem.n_valid
    if n_masked:
        out.append(f"{n_masked} of {problem.arrs.n_points} points are NaN and were masked")
    if not local.outcome.converged:
        out.append(f"not converged: {local.outcome.message}")
    return out


def _starts(problem: FitProblem, local: "LocalRuns", unc: Uncertainty) -> list[dict[str, Any]]:
    names = problem.names
    chi2_unit = unc.chi2_unit
    rows = []
    for o, x0, r in local.runs:
        row: dict[str, Any] = {"origin": o, "start": dict(zip(names, x0.tolist(), strict=True))}
        if o == "initial+start_search":
            row["before_search"] = dict(zip(names, problem.x0.tolist(), strict=True))
        row.update(
            values=dict(zip(names, r.x.tolist(), strict=True)),
            cost=r.cost,
            chi2=r.cost / chi2_unit,
            iterations=r.iterations,
            converged=r.converged,
            reason=r.reason,
        )
        rows.append(row)
    return rows


def _message(local: "LocalRuns", plan: "StartPlan", distinct: int) -> str:
    message = local.outcome.message
    if len(local.runs) > 1:
        message += (
            f"; best of {len(local.runs)} starts ({local.origin}); {distinct} distinct "
            f"minim{'um' if distinct == 1 else 'a'} among the converged runs"
        )
        if plan.cma_info is not None:
            message += f"; CMA-ES used {plan.cma_info['evaluations']} evaluations"
    if plan.search_info is not None:
        message += (
            f"; start refined on {plan.search_info['subset_points']} points "
            f"({plan.search_info['evaluations']} evaluations)"
        )
        if plan.search_info.get("middle_points"):
            message += f", then solved on {plan.search_info['middle_points']} points"
    return message


def _physical(problem: FitProblem, theta_free, errors) -> tuple[dict, dict, np.ndarray]:
    spec = problem.spec
    k = problem.n_theta
    free_vals = dict(zip(spec.free_names, map(float, theta_free), strict=True))
    free_errs = dict(zip(spec.free_names, map(float, errors[:k]), strict=True))
    values = {n: free_vals.get(n, spec.fixed_values.get(n)) for n in spec.names}
    errs = {n: free_errs.get(n, 0.0) for n in spec.names}
    return values, errs, problem.full_theta(theta_free)


def make_result(
    data: XPCSData,
    problem: FitProblem,
    plan: "StartPlan",
    local: "LocalRuns",
    unc: Uncertainty,
    shear_cost: float | None,
    timing: dict[str, float],
    robust_model: tuple = (None, "standard"),
    mirror: MirrorSearch | None = None,
) -> NLSQResult:
    """The :class:`NLSQResult` of a finished fit (see the module docstring); ``mirror``: the
    mirror check's search (:mod:`homodyne_nlsq.mirror`), recorded with its verdict."""
    out = local.outcome
    k = problem.n_theta
    theta_free, s = problem.split(out.x)
    scaling = problem.scaling
    contrast, offset = scaling.apply(s)
    cov_s = unc.covariance[k:, k:]
    kc, kc0 = scaling.n_contrast, scaling.design_contrast.shape[1]
    ko0 = scaling.design_offset.shape[1]
    at_bound = _at_bound(problem, out.x)
    s2 = unc.noise_variance
    shear_delta = None if shear_cost is None else (shear_cost - out.cost) / s2
    distinct = _count_minima([r.cost for _, _, r in local.runs if r.converged] or [out.cost], s2)
    timing = {**timing, **{f"pass_{key}": val for key, val in out.timing.items()}}
    values, errors, theta = _physical(problem, theta_free, unc.errors)
    names = problem.names
    robust, error_model = robust_model
    warnings = _warnings(problem, local, unc, shear_delta, at_bound)
    message = _message(local, plan, distinct)
    mirror_rec = None
    if mirror is not None:
        unit = unc.chi2_unit
        phi0 = values["phi0"]
        s2_m = max(float(s2), np.finfo(np.float64).tiny)
        mirror_rec, note = mirror_record(
            mirror, out.cost, phi0, s2_m, inflation_of(error_model or {}), unit
        )
        if note is not None:
            warnings.append(note)
        if mirror_rec["flipped"]:
            message += (
                f"; mirror check: the fit ended at phi0 = {mirror.phi0_fit:.4g}, the refit from "
                f"its mirror image found phi0 = {phi0:.4g} with chi2 lower by "
                f"{(mirror.cost_fit - out.cost) / s2_m:.3g} sigma^2 (reported)"
            )
    return NLSQResult(
        mode=problem.model.mode,
        convention=problem.model.convention,
        solver=problem.config.solver,
        scaling_mode=scaling.mode,
        parameter_names=problem.model.parameter_names,
        values=values,
        errors=errors,
        theta=theta,
        names=names,
        scaling_values={n: float(v) for n, v in zip(names[k:], s, strict=True)},
        scaling_errors={n: float(e) for n, e in zip(names[k:], unc.errors[k:], strict=True)},
        covariance=unc.covariance,
        correlation=unc.correlation,
        contrast=np.asarray(contrast, np.float64),
        offset=np.asarray(offset, np.float64),
        # errors of the order-0 (age-averaged) values; the age coefficients are in scaling_*
        contrast_err=scaling_errors(cov_s[:kc0, :kc0], scaling.design_contrast),
        offset_err=scaling_errors(cov_s[kc : kc + ko0, kc : kc + ko0], scaling.design_offset),
        phi=np.asarray(data.phi, np.float64).copy(),
        chi2=unc.chi2,
        reduced_chi2=unc.reduced_chi2,
        dof=unc.dof,
        n_points=problem.n_valid,
        cost=out.cost,
        sigma=unc.sigma,
        sigma_source=unc.sigma_source,
        condition_number=unc.condition_number,
        iterations=out.iterations,
        converged=out.converged,
        message=message,
        reason=out.reason,
        at_bound=at_bound,
        warnings=warnings,
        starts=_starts(problem, local, unc),
        distinct_minima=distinct,
        timing=timing,
        model=problem.model,
        loss=problem.config.loss,
        config=problem.config.to_dict(),
        shear_delta_chi2=shear_delta,
        covariance_robust=None if robust is None else robust.covariance,
        errors_robust=None
        if robust is None
        else dict(zip(names, robust.errors.tolist(), strict=True)),
        error_model=error_model,
        frame_times=np.asarray(data.t, np.float64).copy(),
        spec=problem.spec,
        scaling=scaling,
        scaling_vector=np.asarray(s, np.float64).copy(),
        mirror_check=mirror_rec,
    )
