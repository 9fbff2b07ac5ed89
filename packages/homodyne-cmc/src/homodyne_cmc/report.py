"""The report stage of ``fit_cmc``: per-shard reports, combined summary, convergence checks.

Convergence thresholds come from the config (``max_rhat``, ``min_ess_bulk``). Parameters the
spec holds fixed were not sampled: they are reported at their value, and a note says so.
"""

import numpy as np

from homodyne_data import XPCSData

from .config import CMCConfig
from .diagnostics import (
    full_data_identification,
    parameter_summary,
    prior_dominated,
    prior_dominated_message,
    sampler_summary,
    sd_ratios,
)
from .laplace import LaplaceResult
from .parameterization import prior_moments
from .result import CMCResult
from .stages import Consensus, Execution, Prepared, ShardPlan, warn

__all__ = ["make_result", "shard_reports"]


def full_data_check(prep: Prepared, lap: LaplaceResult) -> dict:
    """:func:`~homodyne_cmc.diagnostics.full_data_identification` of the Laplace entries
    against their untempered priors, with the data's age range."""
    n_x = lap.mean.shape[0]
    prior_sd = [prior_moments(p, 1.0)[1] for p in prep.space.priors[:n_x]]
    t_lim = tuple(float(v) for v in np.asarray(prep.space.arrays.t_lim))
    return full_data_identification(prep.space.names[:n_x], lap.cov, prior_sd, t_lim)


def shard_reports(
    prep: Prepared, plan: ShardPlan, execution: Execution, cons: Consensus, cfg: CMCConfig,
    notes: list[str], full: dict | None = None,
) -> list[dict]:  # fmt: skip
    """One report dict per shard, and warnings for prior-dominated parameters (``full``:
    :func:`full_data_check`, which decides whether the shard size is to blame)."""
    names, n_shards = prep.space.names, plan.n_shards
    tempered = np.array(
        [
            np.nan if n == "sigma" else prior_moments(p, 1.0 / n_shards)[1]
            for n, p in zip(names, prep.space.priors, strict=True)
        ]
    )
    reports = []
    for r in execution.ordered:
        ratios = sd_ratios(r.draws, tempered)
        reports.append(
            {
                "index": r.index,
                "key": r.key,
                "seed": r.seed,
                "attempt": r.attempt,
                "source": r.source,
                "n_points": r.n_points,
                "wall_s": r.wall_seconds,
                "chain_s": list(r.chain_seconds),
                "excluded": r.index in cons.excluded,
                "warmup_divergences": int(np.sum(r.warmup_divergences)),
                "sampler": sampler_summary(r.stats, cfg.max_tree_depth),
                "parameters": parameter_summary(r.draws, names, cfg.hdi_prob),
                "posterior_prior_sd_ratio": dict(zip(names, map(float, ratios), strict=True)),
            }
        )
    dominated = prior_dominated(reports, cfg.prior_dominated_ratio)  # any shard count
    for n, idx in dominated.items():
        warn(prior_dominated_message(n, idx, reports, cfg.prior_dominated_ratio, full), notes)
    return reports


def _convergence_notes(summary: dict, cfg: CMCConfig, fixed: dict, notes: list[str]) -> None:
    bad_rhat = [n for n, v in summary.items() if v["r_hat"] > cfg.max_rhat]
    low_ess = [n for n, v in summary.items() if v["ess_bulk"] < cfg.min_ess_bulk]
    if bad_rhat:
        warn(f"combined R-hat > {cfg.max_rhat:g} for {', '.join(bad_rhat)}", notes)
    if low_ess:
        warn(f"combined bulk ESS < {cfg.min_ess_bulk:g} for {', '.join(low_ess)}", notes)
    for n, v in fixed.items():
        notes.append(f"{n} held fixed at {v:g}: not sampled, constant in the posterior")


def make_result(
    data: XPCSData,
    prep: Prepared,
    lap: LaplaceResult,
    plan: ShardPlan,
    execution: Execution,
    cons: Consensus,
    cfg: CMCConfig,
    notes: list[str],
    timing: dict[str, float],
) -> CMCResult:
    """Assemble the :class:`CMCResult` (summary over the sampled entries)."""
    full = full_data_check(prep, lap)
    reports = shard_reports(prep, plan, execution, cons, cfg, notes, full)
    names = prep.space.names
    summary = parameter_summary(cons.post.draws, names, cfg.hdi_prob)
    _convergence_notes(summary, cfg, prep.spec.fixed_values, notes)
    kept = cons.kept
    all_stats = {k: np.concatenate([r.stats[k] for r in kept], axis=0) for k in kept[0].stats}
    return CMCResult(
        mode=prep.model.mode,
        convention=prep.model.convention,
        model=prep.model,
        scaling=prep.scaling,
        names=names,
        n_theta=prep.space.static.n_theta,
        draws=cons.post.draws,
        shard_draws=np.stack([r.draws for r in kept]),
        shard_stats={k: np.stack([r.stats[k] for r in kept]) for k in kept[0].stats},
        shard_ids=tuple(r.index for r in kept),
        summary=summary,
        product_mean=cons.post.product_mean,
        product_cov=cons.post.product_cov,
        laplace_mean=lap.mean,
        laplace_cov=lap.cov,
        laplace_sigma=lap.sigma,
        heterogeneity=cons.heterogeneity,
        combination=cons.combination,
        shards=reports,
        excluded=cons.excluded,
        failed=execution.failures,
        n_shards=plan.n_shards,
        shard_reason=plan.reason,
        n_points=prep.n_valid,
        n_cached=execution.n_cached,
        sampler=sampler_summary(all_stats, cfg.max_tree_depth),
        warm_start=prep.ws,
        gate=prep.gate,
        warnings=notes,
        timing=timing,
        config=cfg,
        data=data,
        backend=execution.backend,
        spec=prep.spec,
        full_data=full,
    )
