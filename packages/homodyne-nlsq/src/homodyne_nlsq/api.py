"""``fit_nlsq``: the least-squares entry point (global search, local solve, uncertainties)."""

import dataclasses
import time
from collections.abc import Callable, Mapping

import numpy as np

from homodyne_data import XPCSData
from homodyne_physics import canonical_name, float64, parameter_names

from .config import NLSQConfig
from .global_search import cmaes_search, latin_hypercube_starts
from .informative import flag_uninformative
from .lm import IterationInfo, LMOutcome, levenberg_marquardt
from .problem import FitProblem, build_problem
from .result import NLSQResult
from .robust_covariance import choose_error_model
from .start_search import search_start
from .uncertainty import covariance_from_normal_matrix, scaling_errors

__all__ = ["fit_nlsq"]


def _local(
    problem: FitProblem, x0, progress, start_index: int, lambda_init: float | None = None
) -> LMOutcome:
    cfg = problem.config
    if cfg.solver == "nlsq":
        from .nlsq_backend import fit_with_nlsq

        return fit_with_nlsq(problem, x0)
    callback = None
    if progress is not None:

        def callback(info: IterationInfo) -> None:
            progress(dataclasses.replace(info, start=start_index))

    return levenberg_marquardt(
        problem.fused,
        problem.cost,
        x0,
        problem.lower,
        problem.upper,
        max_iterations=cfg.max_iterations,
        ftol=cfg.ftol,
        xtol=cfg.xtol,
        gtol=cfg.gtol,
        lambda_init=cfg.lambda_init if lambda_init is None else lambda_init,
        max_rejections=cfg.max_rejections,
        progress=callback,
    )


def _at_bound(problem: FitProblem, x) -> list[str]:
    width = problem.upper - problem.lower
    tol = np.where(np.isfinite(width), 1e-6 * width, 0.0)
    hit = (x <= problem.lower + tol) | (x >= problem.upper - tol)
    return [n for n, h in zip(problem.names, hit, strict=True) if h]


def _cost_without_shear(problem: FitProblem, x) -> float | None:
    """Cost with the shear switched off (gamma_dot_t0 at its lower bound, offset 0, diffusion
    kept, scaling re-solved): an upper bound of the cost of the nested no-shear fit."""
    if not problem.model.has_shear:
        return None
    names = problem.model.parameter_names
    theta = np.array(x[: problem.n_theta], np.float64)
    g0, goff = names.index("gamma_dot_t0"), names.index("gamma_dot_t_offset")
    theta[g0] = problem.lower[g0]
    theta[goff] = np.clip(0.0, problem.lower[goff], problem.upper[goff])
    if problem.scaling.n_params:
        return problem.profile(theta)[1]
    return problem.cost(np.concatenate([theta, x[problem.n_theta :]]))


# 95% point of chi^2 with 4 degrees of freedom (the four shear parameters)
_CHI2_4DOF_95 = 9.488


def _count_minima(costs: list[float], s2: float) -> int:
    """Optima whose chi^2 differ by more than one unit of the noise variance are distinct."""
    groups: list[float] = []
    for c in sorted(costs):
        if not groups or c - groups[-1] > s2:
            groups.append(c)
    return len(groups)


def fit_nlsq(
    data: XPCSData,
    *,
    mode: str,
    config: NLSQConfig | None = None,
    initial: Mapping[str, float] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    convention: str = "physical",
    gap: float = 2e6,
    progress: Callable[[IterationInfo], None] | None = None,
) -> NLSQResult:
    """Fit the two-time model to ``data`` by least squares over the (t1 < t2) points.

    Parameters
    ----------
    data
        Selected data of one q ring (:class:`homodyne_data.XPCSData`); NaN values are masked.
    mode
        ``static`` or ``laminar_flow`` (aliases accepted).
    config
        :class:`NLSQConfig` (defaults when omitted).
    initial
        Starting values by name (aliases accepted); missing physical parameters start at the
        registry defaults. ``contrast``/``offset`` (scalar or per angle) override the data
        estimate of the scaling start.
    bounds
        ``name -> (min, max)`` overriding the registry bounds (``contrast``/``offset`` act on
        the per-angle scaling in ``individual`` and ``auto`` modes).
    convention
        ``physical`` (default) or ``homodyne2``.
    gap
        Stator-rotor gap, Angstrom.
    progress
        Called after every accepted step of every local run with an :class:`IterationInfo`
        (``start`` says which run). The library itself prints nothing.

    Returns
    -------
    NLSQResult
    """
    cfg = config if config is not None else NLSQConfig()
    t_all = time.perf_counter()
    timing: dict[str, float] = {}
    with float64():
        t0 = time.perf_counter()
        given = {canonical_name(str(n)) for n in (initial or {})}
        searching = cfg.start_search and not set(parameter_names(mode)) <= given
        problem = build_problem(
            data,
            solve_scaling=not searching,
            mode=mode,
            config=cfg,
            initial=initial,
            bounds=bounds,
            convention=convention,
            gap=gap,
        )
        k = problem.n_theta
        timing["setup"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        candidates: list[tuple[str, np.ndarray]] = [("initial", problem.x0)]
        search_info, lam = None, None
        if searching:
            x_searched, search_info = search_start(problem, problem.x0)
            # the subset solve ends near the optimum: carry its (small) damping over
            if search_info["lambda"] is not None:
                lam = min(cfg.lambda_init, search_info["lambda"])
            candidates = [("initial+start_search", x_searched)]
        cma_info = None
        if cfg.cmaes:
            x_cma, cma_info = cmaes_search(
                problem,
                problem.x0[:k],
                generations=cfg.cmaes_generations,
                sigma=cfg.cmaes_sigma,
                popsize=cfg.cmaes_popsize,
                seed=cfg.seed,
            )
            candidates.append(("cmaes", x_cma))
        for x in latin_hypercube_starts(problem, cfg.multistart, cfg.seed):
            candidates.append(("latin_hypercube", x))
        timing["start_and_global_search"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        runs = [
            (origin, x0, _local(problem, x0, progress, n, lam if n == 0 else None))
            for n, (origin, x0) in enumerate(candidates)
        ]
        timing["local"] = time.perf_counter() - t0
        best = min(range(len(runs)), key=lambda n: runs[n][2].cost)
        origin, _, out = runs[best]
        shear_cost = _cost_without_shear(problem, out.x)
    t0 = time.perf_counter()
    unc = covariance_from_normal_matrix(
        out.jtj, out.cost, problem.n_valid, sigma=cfg.sigma, names=problem.names
    )
    # frame-correlated (sandwich) covariance; used instead when the residuals are correlated
    unc, robust, error_model = choose_error_model(problem, out.x, unc)
    timing["uncertainty"] = time.perf_counter() - t0
    x = out.x
    theta, s = problem.split(x)
    scaling = problem.scaling
    contrast, offset = scaling.apply(s)
    cov_s = unc.covariance[k:, k:]
    kc = scaling.n_contrast
    contrast_err = scaling_errors(cov_s[:kc, :kc], scaling.design_contrast)
    offset_err = scaling_errors(cov_s[kc:, kc:], scaling.design_offset)
    at_bound = _at_bound(problem, x)
    warnings = list(unc.notes)
    for n in at_bound:
        idx = problem.names.index(n)
        side = "lower" if x[idx] - problem.lower[idx] <= problem.upper[idx] - x[idx] else "upper"
        bound = problem.lower[idx] if side == "lower" else problem.upper[idx]
        warnings.append(
            f"{n} = {x[idx]:.6g} is at its {side} bound {bound:g}: the data prefer a value at "
            "or beyond it, so its error bar is not a confidence interval"
        )
    s2 = unc.sigma**2 if unc.sigma_source == "user" else out.cost / unc.dof
    shear_delta = None if shear_cost is None else (shear_cost - out.cost) / s2
    if shear_delta is not None and shear_delta < _CHI2_4DOF_95:
        warnings.append(
            f"no significant shear: switching the shear off raises chi2 by only "
            f"{shear_delta:.2f} sigma^2 (< {_CHI2_4DOF_95}, the 95% point for 4 parameters); "
            "gamma_dot_t0, beta, gamma_dot_t_offset and phi0 are not determined by these data"
        )
    n_masked = problem.arrs.n_points - problem.n_valid
    if n_masked:
        warnings.append(f"{n_masked} of {problem.arrs.n_points} points are NaN and were masked")
    if not out.converged:
        warnings.append(f"not converged: {out.message}")
    starts = [
        {
            "origin": o,
            "start": dict(zip(problem.names, x0.tolist(), strict=True)),
            **(
                {"before_search": dict(zip(problem.names, problem.x0.tolist(), strict=True))}
                if o == "initial+start_search"
                else {}
            ),
            "values": dict(zip(problem.names, r.x.tolist(), strict=True)),
            "cost": r.cost,
            "chi2": r.cost / (unc.sigma**2 if unc.sigma_source == "user" else 1.0),
            "iterations": r.iterations,
            "converged": r.converged,
            "reason": r.reason,
        }
        for o, x0, r in runs
    ]
    distinct = _count_minima([r.cost for _, _, r in runs if r.converged] or [out.cost], s2)
    message = out.message
    if len(runs) > 1:
        message += (
            f"; best of {len(runs)} starts ({origin}); {distinct} distinct "
            f"minim{'um' if distinct == 1 else 'a'} among the converged runs"
        )
        if cma_info is not None:
            message += f"; CMA-ES used {cma_info['evaluations']} evaluations"
    if search_info is not None:
        message += (
            f"; start refined on {search_info['subset_points']} points "
            f"({search_info['evaluations']} evaluations)"
        )
    timing.update({f"pass_{key}": val for key, val in out.timing.items()})
    timing["total"] = time.perf_counter() - t_all
    errors = unc.errors
    names = problem.names
    result = NLSQResult(
        mode=problem.model.mode,
        convention=problem.model.convention,
        solver=cfg.solver,
        scaling_mode=scaling.mode,
        parameter_names=problem.model.parameter_names,
        values={n: float(v) for n, v in zip(names[:k], theta, strict=True)},
        errors={n: float(e) for n, e in zip(names[:k], errors[:k], strict=True)},
        theta=theta,
        names=names,
        scaling_values={n: float(v) for n, v in zip(names[k:], s, strict=True)},
        scaling_errors={n: float(e) for n, e in zip(names[k:], errors[k:], strict=True)},
        covariance=unc.covariance,
        correlation=unc.correlation,
        contrast=np.asarray(contrast, np.float64),
        offset=np.asarray(offset, np.float64),
        contrast_err=contrast_err,
        offset_err=offset_err,
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
        starts=starts,
        distinct_minima=distinct,
        timing=timing,
        model=problem.model,
        loss=cfg.loss,
        config=cfg.to_dict(),
        shear_delta_chi2=shear_delta,
        covariance_robust=None if robust is None else robust.covariance,
        errors_robust=None
        if robust is None
        else dict(zip(names, robust.errors.tolist(), strict=True)),
        error_model=error_model,
        frame_times=np.asarray(data.t, np.float64).copy(),
    )
    return flag_uninformative(result)  # a fit that learned nothing is not 'converged'
