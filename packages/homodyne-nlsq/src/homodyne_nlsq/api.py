"""``fit_nlsq``: the least-squares entry point as stages.

``build_problem`` (points, box, start) -> :func:`plan_starts` (start search, CMA-ES,
multi-start) -> :func:`run_local` (bounded Levenberg-Marquardt from each start) ->
uncertainties -> :func:`homodyne_nlsq.report.make_result`.
"""

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from homodyne_data import XPCSData
from homodyne_physics import PARAMETERS, ModelSpec, ParameterError, float64

from .age_scaling import age_scaling_error_model
from .config import NLSQConfig
from .global_search import cmaes_search, latin_hypercube_starts
from .informative import flag_uninformative
from .lm import IterationInfo, LMOutcome, levenberg_marquardt
from .mirror import MirrorSearch, applies, inflation_of, search_mirror
from .points import point_set_error_model
from .problem import FitProblem, build_problem
from .report import make_result
from .result import NLSQResult
from .robust_covariance import choose_error_model, residual_evidence, scored_pass
from .start_search import search_start
from .uncertainty import covariance_from_normal_matrix

__all__ = ["LocalRuns", "StartPlan", "fit_nlsq", "plan_starts", "run_local"]


def _local(
    problem: FitProblem,
    x0,
    progress,
    start_index: int,
    lambda_init: float | None = None,
    final_fused=None,
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
        final_fused=final_fused,
    )


def _cost_without_shear(problem: FitProblem, x) -> float | None:
    """Cost with the shear switched off (gamma_dot_t0 at its lower bound, offset 0, diffusion
    kept, scaling re-solved): an upper bound of the cost of the nested no-shear fit. None in
    static mode or when gamma_dot_t0 is held fixed."""
    names = problem.free_names
    if not problem.model.has_shear or "gamma_dot_t0" not in names:
        return None
    theta = np.array(x[: problem.n_theta], np.float64)
    g0 = names.index("gamma_dot_t0")
    theta[g0] = problem.lower[g0]
    if "gamma_dot_t_offset" in names:
        goff = names.index("gamma_dot_t_offset")
        theta[goff] = np.clip(0.0, problem.lower[goff], problem.upper[goff])
    if problem.scaling.n_params:
        return problem.profile(theta)[1]
    return problem.cost(np.concatenate([theta, x[problem.n_theta :]]))


@dataclass(frozen=True, eq=False)
class StartPlan:
    """Stage 1 result: the starting vectors of the local runs and how they were found."""

    candidates: list[tuple[str, np.ndarray]]
    search_info: dict | None
    cma_info: dict | None
    lambda_first: float | None


@dataclass(frozen=True, eq=False)
class LocalRuns:
    """Stage 2 result: every local run, and the best (``final_pass``: the last-pass function
    the runs used, for a later refit)."""

    runs: list[tuple[str, np.ndarray, LMOutcome]]
    best: int
    final_pass: Callable | None = None

    @property
    def origin(self) -> str:
        """Where the best run started."""
        return self.runs[self.best][0]

    @property
    def outcome(self) -> LMOutcome:
        """The best run."""
        return self.runs[self.best][2]


def _needs_start_search(spec: ModelSpec, cfg: NLSQConfig) -> bool:
    """Search unless every free parameter starts away from its registry default (given)."""
    return cfg.start_search and any(spec.start[n] == PARAMETERS[n].default for n in spec.free_names)


def plan_starts(problem: FitProblem, searching: bool) -> StartPlan:
    """Stage 1: the user/registry start (refined by the start search), CMA-ES, multi-start."""
    cfg = problem.config
    k = problem.n_theta
    candidates: list[tuple[str, np.ndarray]] = [("initial", problem.x0)]
    search_info, lam = None, None
    if searching and k:
        x_searched, search_info = search_start(problem, problem.x0)
        # the subset solve ends near the optimum: carry its (small) damping over
        if search_info["lambda"] is not None:
            lam = min(cfg.lambda_init, search_info["lambda"])
        candidates = [("initial+start_search", x_searched)]
    cma_info = None
    if cfg.cmaes and k:
        x_cma, cma_info = cmaes_search(
            problem,
            problem.x0[:k],
            generations=cfg.cmaes_generations,
            sigma=cfg.cmaes_sigma,
            popsize=cfg.cmaes_popsize,
            seed=cfg.seed,
        )
        candidates.append(("cmaes", x_cma))
    for x in latin_hypercube_starts(problem, cfg.multistart if k else 0, cfg.seed):
        candidates.append(("latin_hypercube", x))
    return StartPlan(candidates, search_info, cma_info, lam)


def run_local(problem: FitProblem, plan: StartPlan, progress) -> LocalRuns:
    """Stage 2: the local solver from every start; the lowest cost wins. Unless the sandwich
    is off or cannot apply, each run's last pass also returns the score sums it needs."""
    scored = None
    mode = problem.config.robust_covariance
    if mode != "never" and _sandwich_applies(problem):
        scored = scored_pass(problem)
        if mode == "auto":
            scored = _scored_if_correlated(problem, scored)
    runs = [
        (
            origin,
            x0,
            _local(problem, x0, progress, n, plan.lambda_first if n == 0 else None, scored),
        )
        for n, (origin, x0) in enumerate(plan.candidates)
    ]
    best = min(range(len(runs)), key=lambda n: runs[n][2].cost)
    return LocalRuns(runs, best, scored)


def _scored_if_correlated(problem: FitProblem, scored):
    """In ``'auto'`` mode the sandwich is used only when the residual test fires: the likely
    last pass runs the test first (one pass without derivatives over about 10 % of the points)
    and pays for the scores only then; otherwise it is a plain fused pass without extras (if
    the test then fires at the final point after all, the sandwich runs a scored pass of its
    own). The pass's extras are ``(scores or None, evidence, x)``: the error model reuses a
    quiet test, and one that fired when the solver ends at exactly this ``x``."""

    def run(x):
        evidence = residual_evidence(problem, x)
        if evidence.correlated:
            cost, jtj, jtr, scores = scored(x)
            return cost, jtj, jtr, (scores, evidence, np.array(x, copy=True))
        return (*problem.fused(x), (None, evidence, np.array(x, copy=True)))

    return run


def _sandwich_applies(problem: FitProblem) -> bool:
    """Not for point sets (it needs a full frame grid) nor an age-dependent scaling (its
    blocks assume a scaling constant in age)."""
    return problem.arrs.wt is None and not problem.scaling.ages


def _error_model(problem, x, unc, cfg: NLSQConfig, scores=None):
    """Frame-correlated (sandwich) covariance, used instead when the residuals are correlated
    (see :func:`_sandwich_applies`). Returns ``(uncertainty, robust, error_model)``."""
    if problem.arrs.wt is not None:
        return unc, None, point_set_error_model()
    if problem.scaling.ages:
        return unc, None, age_scaling_error_model()
    evidence = None
    if isinstance(scores, tuple):  # 'auto' mode: the residual test ran with the last pass
        scores, evidence, at = scores
        # taken at a near-final point (chi^2 within lm.EXTRAS_REUSE): a quiet test stands
        # (nothing is computed from it); one that fired is rerun at the solution, whose
        # bandwidths the sandwich then uses
        if evidence.correlated and not np.array_equal(at, x):
            evidence = None
    return choose_error_model(problem, x, unc, cfg.robust_covariance, scores, evidence=evidence)


def fit_nlsq(
    data: XPCSData,
    spec: ModelSpec,
    config: NLSQConfig | None = None,
    *,
    progress: Callable[[IterationInfo], None] | None = None,
) -> NLSQResult:
    """Fit the two-time model described by ``spec`` to ``data`` by least squares.

    Parameters
    ----------
    data
        Selected data of one q ring (:class:`homodyne_data.XPCSData`); NaN values are masked.
    spec
        :class:`homodyne_physics.ModelSpec`: mode, convention, gap, start values, bounds and
        the parameters held fixed (removed from the solve, reported with error 0 as fixed).
    config
        :class:`NLSQConfig` (defaults when omitted).
    progress
        Called after every accepted step of every local run with an :class:`IterationInfo`
        (``start`` says which run). The library itself prints nothing.

    Returns
    -------
    NLSQResult
        Carrying ``spec``; ``dof = n_points - (free physical + scaling parameters)``.
    """
    if not isinstance(spec, ModelSpec):
        raise ParameterError(
            f"fit_nlsq: expected a homodyne_physics.ModelSpec as second argument, got "
            f"{type(spec).__name__} (build one with ModelSpec.create(mode, ...))"
        )
    cfg = config if config is not None else NLSQConfig()
    clock = _Clock()
    with float64():
        searching = _needs_start_search(spec, cfg)
        problem = build_problem(data, spec, cfg, solve_scaling=not searching)
        clock.lap("setup")
        plan = plan_starts(problem, searching)
        clock.lap("start_and_global_search")
        local = run_local(problem, plan, progress)
        clock.lap("local")
    unc, robust, error_model = _uncertainties(problem, local.outcome, cfg)
    clock.lap("uncertainty")
    mirror = None
    if cfg.mirror_check and applies(problem):
        local, mirror = _mirror_check(problem, local, unc, error_model, progress)
        if mirror.outcome is not None:  # the mirror start found a lower minimum: its errors
            unc, robust, error_model = _uncertainties(problem, local.outcome, cfg)
        clock.lap("mirror_check")
    with float64():
        shear_cost = _cost_without_shear(problem, local.outcome.x)
    result = make_result(
        data,
        problem,
        plan,
        local,
        unc,
        shear_cost,
        clock.finish(),
        (robust, error_model),
        mirror=mirror,
    )
    return flag_uninformative(result)  # a fit that learned nothing is not 'converged'


def _uncertainties(problem: FitProblem, outcome: LMOutcome, cfg: NLSQConfig):
    """``(uncertainty, robust, error_model)`` at the solution ``outcome``."""
    unc = covariance_from_normal_matrix(
        outcome.jtj, outcome.cost, problem.n_valid, sigma=cfg.sigma, names=problem.names
    )
    return _error_model(problem, outcome.x, unc, cfg, outcome.extras)


def _mirror_check(
    problem: FitProblem, local: LocalRuns, unc, error_model: dict, progress
) -> tuple[LocalRuns, MirrorSearch]:
    """Refit from the mirror image of the fitted phi0 (:mod:`homodyne_nlsq.mirror`); a lower
    minimum becomes the best run (origin ``'mirror_check'``)."""
    out = local.outcome
    s2 = max(unc.noise_variance, np.finfo(np.float64).tiny)  # noise-free: any difference counts
    n = len(local.runs)

    def refit(x0):
        return _local(problem, x0, progress, n, None, local.final_pass)

    with float64():
        found = search_mirror(problem, out, s2, inflation_of(error_model), refit)
    if found.outcome is None:
        return local, found
    runs = [*local.runs, ("mirror_check", found.start, found.outcome)]
    return LocalRuns(runs, n, local.final_pass), found


class _Clock:
    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.timing: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timing[name] = now - self.last
        self.last = now

    def finish(self) -> dict[str, float]:
        self.timing["total"] = time.perf_counter() - self.start
        return self.timing
