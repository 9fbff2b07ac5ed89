"""``fit_cmc``: NLSQ warm start -> Laplace -> whitened shards -> NUTS -> consensus -> report."""

import json
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from homodyne_data import XPCSData
from homodyne_nlsq import ProblemArrays
from homodyne_physics import C2Model, canonical_mode, float64, make_scaling

from .backends import (
    Backend,
    LocalBackend,
    Progress,
    SequentialBackend,
    default_compilation_cache,
    machine_workers,
)
from .combination_space import choose_reference_laws, combine_shards, reference_times
from .combine import heterogeneity_test
from .config import CMCConfig
from .diagnostics import (
    parameter_summary,
    prior_dominated,
    prior_dominated_message,
    sampler_summary,
    sd_ratios,
)
from .errors import CMCConfigError, CMCWarning, ShardFailedError
from .laplace import laplace_fit
from .parameterization import build_space, prior_moments, to_unconstrained
from .result import CMCResult
from .sampler import CommonArrays, SamplerSettings, ShardResult, ShardTask
from .sharding import choose_num_shards, data_fingerprint, make_shards
from .store import ShardStore
from .warmstart import check_warm_start, load_warm_start

__all__ = ["fit_cmc", "make_backend"]

log = logging.getLogger("homodyne_cmc")


def make_backend(
    config: CMCConfig, n_shards: int, progress: Callable[[Progress], None] | None = None
) -> Backend:
    """The backend named in the config (``auto``: a process pool when there are several
    shards and cores on a CPU, else in-process)."""
    name = config.backend
    if name == "dask":
        try:
            from .dask_backend import DaskBackend
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise CMCConfigError(
                "optimization.cmc.backend: 'dask' needs the optional extra; install "
                "homodyne-cmc[dask]"
            ) from exc
        dask_cfg = config.dask
        if dask_cfg.compilation_cache_dir is None and config.compilation_cache_dir:
            dask_cfg = replace(dask_cfg, compilation_cache_dir=config.compilation_cache_dir)
        return DaskBackend(dask_cfg, progress=progress)
    workers = config.workers or machine_workers()
    if name == "auto":
        on_cpu = jax.default_backend() == "cpu"
        name = "local" if (on_cpu and n_shards > 1 and workers > 1) else "sequential"
    if name == "local":
        return LocalBackend(
            workers,
            config.threads_per_worker,
            config.compilation_cache_dir or default_compilation_cache(),
            progress,
        )
    return SequentialBackend(progress)


def _seed(base: int, shard: int, attempt: int) -> int:
    return int(np.random.SeedSequence([base, shard, attempt]).generate_state(1)[0])


def _warn(msg: str, collected: list[str]) -> None:
    collected.append(msg)
    warnings.warn(msg, CMCWarning, stacklevel=3)


def fit_cmc(
    data: XPCSData,
    *,
    mode: str,
    config: CMCConfig | None = None,
    nlsq: Any = None,
    convention: str = "physical",
    gap: float = 2e6,
    backend: Backend | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> CMCResult:
    """Posterior of the model parameters by consensus Monte Carlo over data shards.

    Parameters
    ----------
    data
        Selected two-time data of one q ring.
    mode
        ``static`` or ``laminar_flow`` (aliases accepted).
    config
        :class:`CMCConfig` (defaults when None).
    nlsq
        Warm start: an :class:`homodyne_nlsq.NLSQResult`, a previous run's output folder or
        its ``parameters.json``; None runs :func:`homodyne_nlsq.fit_nlsq` first.
    convention, gap
        Model convention and rheometer gap (Angstrom), as for NLSQ.
    backend
        A :class:`Backend` instance overriding ``config.backend`` (e.g. the Dask backend).
    progress
        Called with a :class:`Progress` after every shard event.

    Returns
    -------
    CMCResult
        Combined posterior, per-shard diagnostics, Gaussian-product and Laplace cross-checks.

    Raises
    ------
    WarmStartError
        The warm start is unusable or fails the quality gate (unless ``config.force``).
    ShardFailedError
        No shard produced usable draws.
    """
    cfg = config or CMCConfig()
    mode = canonical_mode(mode)
    timing: dict[str, float] = {}
    t_start = time.perf_counter()
    notes: list[str] = []
    with float64():
        if nlsq is None:
            from homodyne_nlsq import fit_nlsq

            nlsq = fit_nlsq(data, mode=mode, convention=convention, gap=gap)
            timing["nlsq"] = time.perf_counter() - t_start
        ws = load_warm_start(nlsq)
        gate = check_warm_start(ws, data, mode, convention, cfg.max_reduced_chi2, cfg.force)
        if gate["forced"]:
            _warn(
                f"the NLSQ warm start fails the quality gate ({gate['statistic']} = "
                f"{gate['value']:.3g} > {gate['threshold']:g}); sampling anyway (force)",
                notes,
            )
        model = C2Model(mode, data.q, data.dt, gap=gap, convention=convention)
        scaling_mode = cfg.scaling_mode or ws.scaling_mode or "auto"
        if scaling_mode not in ("individual", "auto", "constant", "fourier"):
            scaling_mode = "auto"
        scaling = make_scaling(
            scaling_mode,
            data.phi,
            fourier_order=cfg.fourier_order,
            fixed_contrast=ws.contrast,
            fixed_offset=ws.offset,
        )
        first = model.first_fitted_frame
        i, j = data.pairs(first)
        y = data.flat(first)
        t = data.t
        space = build_space(
            model,
            scaling,
            t,
            priors=cfg.priors,
            sample_sigma=cfg.sample_sigma,
            centres=ws.values if cfg.prior_centres_from_nlsq else None,
        )
        # ---- full-data Laplace approximation from the warm start
        t0 = time.perf_counter()
        s0 = scaling.fit_vector(ws.contrast, ws.offset)
        x0 = np.concatenate([ws.theta, s0])
        n_x = x0.shape[0]
        lo, hi = space.arrays.low[:n_x], space.arrays.high[:n_x]
        span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
        x0 = np.clip(x0, lo + 1e-6 * span, hi - 1e-6 * span)
        arrs = ProblemArrays.create(y, t, data.phi, i, j)
        fixed_sigma = None if cfg.sample_sigma else float(cfg.sigma or ws.sigma)
        lap = laplace_fit(model, scaling, arrs, space, x0, sigma=fixed_sigma)
        timing["laplace"] = time.perf_counter() - t0
        # ---- shards and whitening
        n_valid = int(np.isfinite(y).sum())
        workers = cfg.workers or machine_workers()
        n_shards, reason = choose_num_shards(
            n_valid,
            space.static.dim,
            workers,
            min_points_per_shard=cfg.min_points_per_shard,
            max_points_per_shard=cfg.max_points_per_shard,
            requested=cfg.num_shards,
        )
        n_shards = min(n_shards, i.shape[0])
        shards = make_shards(y, i, j, n_shards, cfg.seed)
        x_c = lap.mean
        cov_x = lap.cov
        if cfg.sample_sigma:
            x_c = np.concatenate([x_c, [lap.sigma]])
            cov_x = np.pad(cov_x, ((0, 1), (0, 1)))
            cov_x[-1, -1] = lap.sigma**2 / (2.0 * lap.n_points)
        arrays = space.jax_arrays()
        u0 = to_unconstrained(jnp.asarray(x_c), space.static, arrays)
        jac = jax.jacfwd(lambda v: to_unconstrained(v, space.static, arrays))(jnp.asarray(x_c))
        cov_u = np.asarray(jac @ cov_x @ jac.T)
        cov_u = 0.5 * (cov_u + cov_u.T) + 1e-12 * np.diag(np.diag(cov_u))
        chol = cfg.whitening_inflation * np.sqrt(n_shards) * np.linalg.cholesky(cov_u)
        comb_space, comb_reasons = choose_reference_laws(
            space.names, lap.mean, lap.cov, n_shards, cfg.combination_space
        )
        t_ref = reference_times(space.arrays.t_lim)
        common = CommonArrays(
            np.asarray(t),
            data.phi,
            scaling.design_contrast,
            scaling.design_offset,
            scaling.fixed_contrast,
            scaling.fixed_offset,
            space.arrays,
            np.asarray(u0),
            chol,
            np.float64(1.0 / n_shards),
            np.float64(fixed_sigma or lap.sigma),
            t_ref,
            np.float64(1.0 - 1.0 / n_shards),
        )
        settings = SamplerSettings(
            model,
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
        )
    # ---- tasks, resume and execution
    run_key = data_fingerprint(
        *common[:6],
        *common.space,
        common.u0,
        common.chol,
        common.prior_power,
        common.sigma_fixed,
        common.t_ref,
        common.jac_power,
        extra=json.dumps([repr(settings), cfg.seed, cfg.init_dispersion]),
    )
    d = space.static.dim

    def task_for(shard, attempt):
        seed = _seed(cfg.seed, shard.index, attempt)
        init = np.random.default_rng(seed).normal(0.0, cfg.init_dispersion, (cfg.num_chains, d))
        key = data_fingerprint(extra=run_key + shard.fingerprint())
        return ShardTask(key, shard, common, settings, seed, init, attempt)

    tasks = [task_for(s, 0) for s in shards]
    store = ShardStore(cfg.cache_dir) if cfg.cache_dir else None
    results: dict[int, ShardResult] = {}
    pending = []
    for task in tasks:
        cached = store.load(task.shard.index, task.key) if store else None
        if cached is not None:
            results[task.shard.index] = cached
        else:
            pending.append(task)
    n_cached = len(results)
    failures: dict[int, str] = {}
    t0 = time.perf_counter()
    runner = backend or make_backend(cfg, len(pending), progress)
    for attempt in range(cfg.max_retries + 1):
        if not pending:
            break
        errors: list[tuple[ShardTask, BaseException]] = []

        def on_result(res: ShardResult) -> None:
            results[res.index] = res
            failures.pop(res.index, None)
            if store is not None:
                store.save(res)

        def on_error(task: ShardTask, exc: BaseException, errors=errors) -> None:
            errors.append((task, exc))
            failures[task.shard.index] = f"{type(exc).__name__}: {exc}"
            log.warning("shard %d failed (attempt %d): %s", task.shard.index, task.attempt, exc)

        runner.run(pending, on_result, on_error)
        # retry with a new seed; the result is stored under the original task's key
        pending = [
            ShardTask(
                task.key,
                task.shard,
                common,
                settings,
                _seed(cfg.seed, task.shard.index, attempt + 1),
                task_for(task.shard, attempt + 1).init_z,
                attempt + 1,
            )
            for task, _ in errors
        ]
    timing["sampling"] = time.perf_counter() - t0
    # ---- quality control, combination, diagnostics
    ordered = [results[k] for k in sorted(results)]
    if failures:
        _warn(
            f"{len(failures)} shard(s) failed after {cfg.max_retries} retry(ies) and are "
            f"left out: {sorted(failures)}",
            notes,
        )
    excluded = {
        r.index: r.divergence_rate for r in ordered if r.divergence_rate > cfg.max_divergence_rate
    }
    if excluded:
        _warn(
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
    t0 = time.perf_counter()
    names = space.names
    # combine in v (u, with well-determined power laws replaced by their values at two
    # reference times), then map the combined chains to physical units
    post = combine_shards(
        [r.udraws for r in kept], space, comb_space, t_ref, u0, cov_u, n_shards, cfg.seed
    )
    comb, x_comb = post.consensus, post.draws
    product_mean, product_cov = post.product_mean, post.product_cov
    if post.outside_fraction > 0:
        _warn(
            f"{post.outside_fraction:.2%} of the combined draws fall outside the prior support "
            "(bounds or D(t) >= 0): the shard posteriors reach a bound, where consensus "
            "averaging is approximate; consider fewer, larger shards",
            notes,
        )
    combination = {
        "method": "consensus_mc",
        "coordinates": list(post.names),
        "reference_times_s": [float(v) for v in t_ref],
        "laws": comb_reasons,
        "outside_support_fraction": post.outside_fraction,
    }
    het = heterogeneity_test(comb)
    if het["p_value"] < cfg.heterogeneity_alpha:
        worst = post.names[int(np.argmax(het["per_parameter_z2"]))]
        _warn(
            f"shard posteriors disagree (heterogeneity chi2 = {het['q']:.1f} for "
            f"{het['dof']} dof, p = {het['p_value']:.2g}; largest for {worst}): the data may "
            "not be homogeneous or the shards too small",
            notes,
        )
    tempered = np.array(
        [
            np.nan if n == "sigma" else prior_moments(p, 1.0 / n_shards)[1]
            for n, p in zip(names, space.priors, strict=True)
        ]
    )
    shard_reports = []
    for r in ordered:
        ratios = sd_ratios(r.draws, tempered)
        shard_reports.append(
            {
                "index": r.index,
                "key": r.key,
                "seed": r.seed,
                "attempt": r.attempt,
                "source": r.source,
                "n_points": r.n_points,
                "wall_s": r.wall_seconds,
                "chain_s": list(r.chain_seconds),
                "excluded": r.index in excluded,
                "warmup_divergences": int(np.sum(r.warmup_divergences)),
                "sampler": sampler_summary(r.stats, cfg.max_tree_depth),
                "parameters": parameter_summary(r.draws, names, cfg.hdi_prob),
                "posterior_prior_sd_ratio": dict(zip(names, map(float, ratios), strict=True)),
            }
        )
    dominated = prior_dominated(shard_reports, cfg.prior_dominated_ratio)  # any shard count
    for n, idx in dominated.items():
        _warn(prior_dominated_message(n, idx, shard_reports, cfg.prior_dominated_ratio), notes)
    summary = parameter_summary(x_comb, names, cfg.hdi_prob)
    bad_rhat = [n for n, v in summary.items() if v["r_hat"] > 1.01]
    low_ess = [n for n, v in summary.items() if v["ess_bulk"] < 400]
    if bad_rhat:
        _warn(f"combined R-hat > 1.01 for {', '.join(bad_rhat)}", notes)
    if low_ess:
        _warn(f"combined bulk ESS < 400 for {', '.join(low_ess)}", notes)
    timing["combination"] = time.perf_counter() - t0
    timing["total"] = time.perf_counter() - t_start
    all_stats = {k: np.concatenate([r.stats[k] for r in kept], axis=0) for k in kept[0].stats}
    return CMCResult(
        mode=mode,
        convention=convention,
        model=model,
        scaling=scaling,
        names=names,
        n_theta=model.n_params,
        draws=x_comb,
        shard_draws=np.stack([r.draws for r in kept]),
        shard_stats={k: np.stack([r.stats[k] for r in kept]) for k in kept[0].stats},
        shard_ids=tuple(r.index for r in kept),
        summary=summary,
        product_mean=product_mean,
        product_cov=product_cov,
        laplace_mean=lap.mean,
        laplace_cov=lap.cov,
        laplace_sigma=lap.sigma,
        heterogeneity=het,
        combination=combination,
        shards=shard_reports,
        excluded=excluded,
        failed=failures,
        n_shards=n_shards,
        shard_reason=reason,
        n_points=n_valid,
        n_cached=n_cached,
        sampler=sampler_summary(all_stats, cfg.max_tree_depth),
        warm_start=ws,
        gate=gate,
        warnings=notes,
        timing=timing,
        config=cfg,
        data=data,
        backend=getattr(runner, "name", type(runner).__name__),
    )
