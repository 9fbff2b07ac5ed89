"""The stages of ``fit_cmc``, each with a typed result and testable alone.

warm start (:func:`prepare`) -> full-data Laplace (:func:`laplace_stage`) -> shard plan
(:func:`plan_shards`) -> execution with retry and resume (:func:`execute`) -> consensus
(:func:`consensus`); the report is :func:`homodyne_cmc.report.make_result`. Parameters the
warm start's :class:`homodyne_physics.ModelSpec` holds fixed are not sampled anywhere.
"""

import json
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from homodyne_data import XPCSData
from homodyne_nlsq import ProblemArrays
from homodyne_physics import C2Model, ModelSpec, ScalingMap, make_scaling, require_grid_free

from .adjust import LikelihoodAdjustment, adjust_laplace, plan_adjustment
from .backends import Backend, machine_workers
from .combination_space import (
    CombinationSpace,
    CombinedPosterior,
    choose_reference_laws,
    combine_shards,
    reference_times,
)
from .combine import heterogeneity_test
from .config import CMCConfig
from .errors import CMCWarning, ShardFailedError, WarmStartError
from .laplace import LaplaceResult, laplace_fit
from .parameterization import ParamSpace, build_space, to_unconstrained
from .sampler import CommonArrays, SamplerSettings, ShardResult, ShardTask
from .sampling_space import choose_sampling_laws, to_sampling
from .sharding import Shard, choose_num_shards, data_fingerprint, make_shards
from .store import ShardStore
from .warmstart import WarmStart, check_warm_start, load_warm_start

__all__ = [
    "Consensus",
    "Execution",
    "Prepared",
    "ShardPlan",
    "consensus",
    "execute",
    "laplace_stage",
    "plan_shards",
    "prepare",
]

log = logging.getLogger("homodyne_cmc")
_SCALING_MODES = ("individual", "auto", "constant", "fourier")


def warn(msg: str, collected: list[str]) -> None:
    """Record ``msg`` for the report and emit it as a :class:`CMCWarning`."""
    collected.append(msg)
    warnings.warn(msg, CMCWarning, stacklevel=3)


@dataclass(frozen=True, eq=False)
class Prepared:
    """Warm start stage: the model (from the warm start's spec), the data points and space."""

    ws: WarmStart
    gate: dict[str, Any]
    spec: ModelSpec
    model: C2Model
    scaling: ScalingMap
    space: ParamSpace
    arrs: ProblemArrays
    n_valid: int


def _warm_start(data: XPCSData, warm_start: Any, timing: dict[str, float]) -> WarmStart:
    if isinstance(warm_start, ModelSpec):
        from homodyne_nlsq import fit_nlsq

        t0 = time.perf_counter()
        warm_start = fit_nlsq(data, warm_start)
        timing["nlsq"] = time.perf_counter() - t0
    if warm_start is None:
        raise WarmStartError(
            "fit_cmc needs a warm start: an NLSQResult, a previous run's folder or a ModelSpec "
            "(then NLSQ runs first)"
        )
    return load_warm_start(warm_start)


def prepare(
    data: XPCSData, warm_start: Any, cfg: CMCConfig, notes: list[str], timing: dict[str, float]
) -> Prepared:
    """Load and gate the warm start; build model, scaling map, points and parameter space."""
    ws = _warm_start(data, warm_start, timing)
    gate = check_warm_start(
        ws, data, cfg.max_reduced_chi2, cfg.force, max_noise_ratio=cfg.max_noise_ratio
    )
    if gate.get("note"):
        warn(f"quality gate: {gate['note']}", notes)
    if gate["forced"]:
        warn(
            f"the NLSQ warm start fails the quality gate ({gate['statistic']} = "
            f"{gate['value']:.3g} > {gate['threshold']:g}); sampling anyway (force)",
            notes,
        )
    spec = ws.spec
    model = spec.model(data.q, data.dt)
    scaling_mode = cfg.scaling_mode or ws.scaling_mode or "auto"
    if scaling_mode not in _SCALING_MODES:
        scaling_mode = "auto"
    first = model.first_fitted_frame
    if not data.is_dense:
        require_grid_free(model, f"{data.points.kind} point-set data")
    i, j = data.pairs(first)
    orders = ws.age_orders if scaling_mode != "constant" else (0, 0)
    ages = 0.5 * (np.asarray(data.t)[i] + np.asarray(data.t)[j])
    scaling = make_scaling(
        scaling_mode,
        data.phi,
        fourier_order=cfg.fourier_order,
        fixed_contrast=ws.contrast,
        fixed_offset=ws.offset,
        contrast_age_order=orders[0],
        offset_age_order=orders[1],
        age_range=(float(ages.min()), float(ages.max())),
        ring=data.ring,
    )
    y = data.flat(first)
    space = build_space(
        model,
        scaling,
        data.t,
        spec=spec,
        sample_sigma=cfg.sample_sigma,
        centres=ws.values if cfg.prior_centres_from_nlsq else None,
    )
    arrs = ProblemArrays.create(y, data.t, data.phi, i, j, data.weights(first))
    n_valid = int(np.isfinite(y).sum())
    return Prepared(ws, gate, spec, model, scaling, space, arrs, n_valid)


def laplace_stage(prep: Prepared, cfg: CMCConfig) -> LaplaceResult:
    """Full-data Laplace approximation started at the warm start (free entries only)."""
    ws, space = prep.ws, prep.space
    if prep.scaling.ages and ws.age_scaling is not None:  # the NLSQ age coefficients
        s0 = prep.scaling.fit_vector(ws.age_scaling["contrast"], ws.age_scaling["offset"])
    else:
        s0 = prep.scaling.fit_vector(ws.contrast, ws.offset)
    x0 = np.concatenate([prep.spec.free_vector(ws.theta), s0])
    n_x = x0.shape[0]
    lo, hi = space.arrays.low[:n_x], space.arrays.high[:n_x]
    span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
    x0 = np.clip(x0, lo + 1e-6 * span, hi - 1e-6 * span)
    fixed_sigma = None if cfg.sample_sigma else float(cfg.sigma or ws.sigma)
    return laplace_fit(prep.model, prep.scaling, prep.arrs, space, x0, sigma=fixed_sigma)


def _adjustment_arrays(adjustment: LikelihoodAdjustment | None):
    if adjustment is None or not adjustment.active:
        return None, None, None
    return np.asarray(adjustment.center), np.asarray(adjustment.matrix), adjustment.log_mask


def adjust_stage(
    prep: Prepared, lap: LaplaceResult, cfg: CMCConfig, notes: list[str]
) -> tuple[LaplaceResult, LikelihoodAdjustment]:
    """The likelihood adjustment for frame-correlated noise (:mod:`homodyne_cmc.adjust`) and
    the Laplace result with the adjusted covariance (whitening, combination, checks)."""
    k = prep.space.static.n_theta
    names = tuple(prep.space.names[:k])
    adj = plan_adjustment(
        prep.ws.frame_correlation, names, np.asarray(lap.mean)[:k], cfg.likelihood_adjustment
    )
    if adj.active:
        warn(adj.reason, notes)
    return adjust_laplace(lap, adj), adj


@dataclass(frozen=True, eq=False)
class ShardPlan:
    """Shard plan stage: the shards, the whitening and everything a worker needs."""

    n_shards: int
    reason: str
    shards: list[Shard]
    common: CommonArrays
    settings: SamplerSettings
    u0: np.ndarray
    cov_u: np.ndarray
    comb_space: CombinationSpace
    comb_reasons: dict[str, str]
    t_ref: np.ndarray
    run_key: str
    sampling: dict[str, Any] | None = None


def _whitening(prep: Prepared, lap: LaplaceResult, cfg: CMCConfig):
    x_c, cov_x = lap.mean, lap.cov
    if cfg.sample_sigma:
        x_c = np.concatenate([x_c, [lap.sigma]])
        cov_x = np.pad(cov_x, ((0, 1), (0, 1)))
        cov_x[-1, -1] = lap.sigma**2 / (2.0 * lap.n_points)
    space = prep.space
    arrays = space.jax_arrays()
    x_c = interior_centre(x_c, cov_x, space.arrays.low, space.arrays.high)
    u0, cov_u = _carried(lambda v: to_unconstrained(v, space.static, arrays), x_c, cov_x)
    return u0, cov_u, x_c, cov_x


def interior_centre(x_c, cov_x, low, high) -> np.ndarray:
    """The whitening centre: ``x_c`` moved at least one sd (at most a quarter of the interval)
    inside every bound, along the Gaussian's regression on that entry (a ridge partner moves
    with it).

    The whitening carries the Laplace Gaussian into the unconstrained coordinates by its
    Jacobian at the centre. At a Laplace maximum on a bound (a warm start with ``D0`` at its
    lower bound on a long ``D0``-``alpha`` ridge) that Jacobian is ``1 / (x - low)``: a D0
    0.0002 above its bound gave an sd of 1.2e6 in u, NUTS shrank its step to match and the
    chains froze (R-hat 2.7 after 25 min). One sd inside, the carried sd is at most ~1.
    """
    x = np.array(x_c, np.float64)
    cov = np.asarray(cov_x, np.float64)
    low = np.asarray(low, np.float64)[: x.size]
    high = np.asarray(high, np.float64)[: x.size]
    sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
    width = high - low
    margin = np.where(np.isfinite(width), np.minimum(sd, 0.25 * width), sd)
    for k in range(x.size):
        delta = float(np.clip(x[k], low[k] + margin[k], high[k] - margin[k]) - x[k])
        if delta != 0.0 and cov[k, k] > 0:
            x = x + cov[:, k] / cov[k, k] * delta
    eps = np.where(np.isfinite(width), np.minimum(1e-3 * sd, 1e-6 * width), 1e-3 * sd)
    eps = np.maximum(eps, 1e-12 * np.maximum(np.abs(x), 1.0))
    return np.clip(x, low + eps, high - eps)


def _carried(fn, x_c, cov_x):
    """Centre and covariance of a Gaussian at ``x_c`` carried through ``fn`` (linearised)."""
    centre = fn(jnp.asarray(x_c))
    jac = jax.jacfwd(fn)(jnp.asarray(x_c))
    cov = np.asarray(jac @ cov_x @ jac.T)
    return np.asarray(centre), 0.5 * (cov + cov.T) + 1e-12 * np.diag(np.diag(cov))


def _sampling_whitening(prep: Prepared, lap: LaplaceResult, cfg: CMCConfig, x_c, cov_x):
    """Sampling coordinates (:mod:`homodyne_cmc.sampling_space`), the whitening centre and
    covariance in them, and the record for the result."""
    space = prep.space
    arrays = space.jax_arrays()
    samp, reasons = choose_sampling_laws(
        space.names, space.static.kinds, space.arrays, lap.mean, lap.cov, cfg.sampling_space
    )
    w0, cov_w = _carried(lambda v: to_sampling(v, space.static, arrays, samp), x_c, cov_x)
    info = {"setting": cfg.sampling_space, "names": list(samp.names(space.names)),
            "laws": reasons}  # fmt: skip
    return samp, w0, cov_w, info


def whitening_factor(cov: np.ndarray, names) -> np.ndarray:
    """A square root ``L`` (``L L^T = cov``) for the whitening ``w = w0 + L z``: the Cholesky
    factor, or, when ``cov`` is not positive definite (a Laplace step at a degenerate point,
    e.g. a parameter at its bound), the symmetric root with eigenvalues floored at 1e-10 of
    the largest, with a warning naming the worst-determined direction. Any root serves: the
    map is linear, so its Jacobian is a constant."""
    cov = 0.5 * (cov + cov.T)
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        lam, vec = np.linalg.eigh(cov)
    top = max(float(lam[-1]), np.finfo(float).tiny)
    worst = ", ".join(
        f"{n} {v:+.2f}" for n, v in zip(names, vec[:, 0], strict=False) if abs(v) > 0.2
    )
    warnings.warn(
        f"the Laplace covariance in the sampling coordinates is not positive definite "
        f"(smallest eigenvalue {lam[0]:.3g}, largest {top:.3g}; direction {worst}): the "
        "whitening floors it at 1e-10 of the largest; the posterior along that direction is "
        "set by the prior and the sampler, not by the Laplace step",
        CMCWarning,
        stacklevel=3,
    )
    return vec * np.sqrt(np.maximum(lam, 1e-10 * top))


def plan_shards(
    prep: Prepared,
    lap: LaplaceResult,
    cfg: CMCConfig,
    data: XPCSData,
    adjustment: LikelihoodAdjustment | None = None,
) -> ShardPlan:
    """Shard count and assignment, whitening map, combination space and the run key.
    ``lap`` carries the adjusted covariance when ``adjustment`` is active
    (:func:`adjust_stage`)."""
    arrs, space, scaling = prep.arrs, prep.space, prep.scaling
    y, i, j = np.asarray(arrs.y), np.asarray(arrs.i), np.asarray(arrs.j)
    n_shards, reason = choose_num_shards(
        prep.n_valid,
        space.static.dim,
        cfg.workers or machine_workers(),
        min_points_per_shard=cfg.min_points_per_shard,
        max_points_per_shard=cfg.max_points_per_shard,
        requested=cfg.num_shards,
    )
    n_shards = min(n_shards, i.shape[0])
    wt = None if arrs.wt is None else np.asarray(arrs.wt)
    shards = make_shards(y, i, j, n_shards, cfg.seed, wt)
    u0, cov_u, x_c, cov_x = _whitening(prep, lap, cfg)
    samp, w0, cov_w, samp_info = _sampling_whitening(prep, lap, cfg, x_c, cov_x)
    chol = cfg.whitening_inflation * np.sqrt(n_shards) * whitening_factor(cov_w, samp_info["names"])
    comb_space, comb_reasons = choose_reference_laws(
        space.names, lap.mean, lap.cov, n_shards, cfg.combination_space
    )
    t_ref = reference_times(space.arrays.t_lim)
    fixed_sigma = None if cfg.sample_sigma else float(cfg.sigma or prep.ws.sigma)
    common = CommonArrays(
        np.asarray(data.t),
        data.phi,
        scaling.design_contrast,
        scaling.design_offset,
        scaling.fixed_contrast,
        scaling.fixed_offset,
        space.arrays,
        w0,
        chol,
        np.float64(1.0 / n_shards),
        np.float64(fixed_sigma or lap.sigma),
        t_ref,
        np.float64(1.0 - 1.0 / n_shards),
        np.asarray(scaling.age_range, np.float64),
        *_adjustment_arrays(adjustment),
    )
    settings = SamplerSettings(
        prep.model,
        space.static,
        scaling.n_contrast,
        cfg.num_warmup,
        cfg.num_samples,
        cfg.num_chains,
        cfg.chain_method,
        float(cfg.target_accept_prob),
        cfg.max_tree_depth,
        cfg.dense_mass,
        comb_space,
        (scaling.contrast_age_order, scaling.offset_age_order),
        samp,
    )
    run_key = data_fingerprint(
        *common[:6],
        *common.space,
        common.u0,
        common.chol,
        common.prior_power,
        common.sigma_fixed,
        common.t_ref,
        common.jac_power,
        *[a for a in _adjustment_arrays(adjustment) if a is not None],
        extra=json.dumps([repr(settings), cfg.seed, cfg.init_dispersion]),
    )
    return ShardPlan(
        n_shards, reason, shards, common, settings, u0, cov_u, comb_space, comb_reasons, t_ref,
        run_key, samp_info,
    )  # fmt: skip


@dataclass(frozen=True, eq=False)
class Execution:
    """Execution stage: shard results by index, failures, how many came from the cache."""

    results: dict[int, ShardResult]
    failures: dict[int, str]
    n_cached: int
    backend: str

    @property
    def ordered(self) -> list[ShardResult]:
        """Results by shard index."""
        return [self.results[k] for k in sorted(self.results)]


def _seed(base: int, shard: int, attempt: int) -> int:
    return int(np.random.SeedSequence([base, shard, attempt]).generate_state(1)[0])


def _task(plan: ShardPlan, cfg: CMCConfig, shard: Shard, attempt: int, key: str | None = None):
    seed = _seed(cfg.seed, shard.index, attempt)
    d = plan.settings.space.dim
    init = np.random.default_rng(seed).normal(0.0, cfg.init_dispersion, (cfg.num_chains, d))
    key = key or data_fingerprint(extra=plan.run_key + shard.fingerprint())
    return ShardTask(key, shard, plan.common, plan.settings, seed, init, attempt)


def execute(
    plan: ShardPlan,
    cfg: CMCConfig,
    make_runner: Callable[[int], Backend],
) -> Execution:
    """Run the shards not in the cache; retry failures with new seeds (same cache key)."""
    store = ShardStore(cfg.cache_dir) if cfg.cache_dir else None
    results: dict[int, ShardResult] = {}
    pending = []
    for task in (_task(plan, cfg, s, 0) for s in plan.shards):
        cached = store.load(task.shard.index, task.key) if store else None
        if cached is not None:
            results[task.shard.index] = cached
        else:
            pending.append(task)
    n_cached = len(results)
    failures: dict[int, str] = {}
    runner = make_runner(len(pending))

    def on_result(res: ShardResult) -> None:
        results[res.index] = res
        failures.pop(res.index, None)
        if store is not None:
            store.save(res)

    for attempt in range(cfg.max_retries + 1):
        if not pending:
            break
        errors: list[ShardTask] = []

        def on_error(task: ShardTask, exc: BaseException, errors=errors) -> None:
            errors.append(task)
            failures[task.shard.index] = f"{type(exc).__name__}: {exc}"
            log.warning("shard %d failed (attempt %d): %s", task.shard.index, task.attempt, exc)

        runner.run(pending, on_result, on_error)
        # retry with a new seed; the result is stored under the original task's key
        pending = [_task(plan, cfg, t.shard, attempt + 1, key=t.key) for t in errors]
    return Execution(results, failures, n_cached, getattr(runner, "name", type(runner).__name__))


@dataclass(frozen=True, eq=False)
class Consensus:
    """Consensus stage: the shards kept, the combined posterior and its checks."""

    kept: list[ShardResult]
    excluded: dict[int, float]
    post: CombinedPosterior
    combination: dict[str, Any]
    heterogeneity: dict[str, Any]


def _kept_shards(execution: Execution, cfg: CMCConfig, n_shards: int, notes: list[str]):
    failures = execution.failures
    if failures:
        warn(
            f"{len(failures)} shard(s) failed after {cfg.max_retries} retry(ies) and are "
            f"left out: {sorted(failures)}",
            notes,
        )
    ordered = execution.ordered
    excluded = {
        r.index: r.divergence_rate for r in ordered if r.divergence_rate > cfg.max_divergence_rate
    }
    if excluded:
        warn(
            f"{len(excluded)} shard(s) excluded for divergence rates above "
            f"{cfg.max_divergence_rate:.0%}: "
            + ", ".join(f"{k} ({v:.1%})" for k, v in excluded.items()),
            notes,
        )
    kept = [r for r in ordered if r.index not in excluded]
    if not kept:
        raise ShardFailedError(
            f"no usable shard: {len(failures)} failed, {len(excluded)} excluded for divergences "
            f"(of {n_shards}); try more warmup, a higher target_accept_prob or fewer shards"
        )
    return kept, excluded


def consensus(
    prep: Prepared, plan: ShardPlan, execution: Execution, cfg: CMCConfig, notes: list[str]
) -> Consensus:
    """Combine the kept shards in v (see :mod:`combination_space`) and test heterogeneity."""
    kept, excluded = _kept_shards(execution, cfg, plan.n_shards, notes)
    post = combine_shards(
        [r.udraws for r in kept],
        prep.space,
        plan.comb_space,
        plan.t_ref,
        plan.u0,
        plan.cov_u,
        plan.n_shards,
        cfg.seed,
    )
    if post.outside_fraction > 0:
        warn(
            f"{post.outside_fraction:.2%} of the combined draws fall outside the prior support "
            "(bounds or D(t) >= 0): the shard posteriors reach a bound, where consensus "
            "averaging is approximate; consider fewer, larger shards",
            notes,
        )
    combination = {
        "method": "consensus_mc",
        "coordinates": list(post.names),
        "reference_times_s": [float(v) for v in plan.t_ref],
        "laws": plan.comb_reasons,
        "outside_support_fraction": post.outside_fraction,
        "sampling": plan.sampling,
    }
    het = heterogeneity_test(post.consensus)
    if het["p_value"] < cfg.heterogeneity_alpha:
        worst = post.names[int(np.argmax(het["per_parameter_z2"]))]
        warn(
            f"shard posteriors disagree (heterogeneity chi2 = {het['q']:.1f} for "
            f"{het['dof']} dof, p = {het['p_value']:.2g}; largest for {worst}): the data may "
            "not be homogeneous or the shards too small",
            notes,
        )
    return Consensus(kept, excluded, post, combination, het)
