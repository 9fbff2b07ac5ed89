"""``fit_cmc``: warm start -> Laplace -> shard plan -> execution -> consensus -> report.

Each stage lives in :mod:`homodyne_cmc.stages` (and :mod:`homodyne_cmc.report`) with a typed
result; this module composes them and picks the backend.
"""

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import jax

from homodyne_data import XPCSData
from homodyne_physics import float64

from .backends import (
    Backend,
    LocalBackend,
    Progress,
    SequentialBackend,
    default_compilation_cache,
    machine_workers,
)
from .config import CMCConfig
from .errors import CMCConfigError
from .report import make_result
from .result import CMCResult
from .stages import adjust_stage, consensus, execute, laplace_stage, plan_shards, prepare

__all__ = ["fit_cmc", "make_backend"]


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


def fit_cmc(
    data: XPCSData,
    warm_start: Any,
    config: CMCConfig | None = None,
    *,
    backend: Backend | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> CMCResult:
    """Posterior of the model parameters by consensus Monte Carlo over data shards.

    Parameters
    ----------
    data
        Selected two-time data of one q ring.
    warm_start
        An :class:`homodyne_nlsq.NLSQResult`, a previous run's output folder or its
        ``parameters.json``, or a :class:`homodyne_physics.ModelSpec` (NLSQ runs first). The
        model (mode, convention, gap, bounds, priors, fixed parameters) is the warm start's
        spec, so NLSQ and CMC cannot disagree about it.
    config
        :class:`CMCConfig` (defaults when None).
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
    timing: dict[str, float] = {}
    notes: list[str] = []
    t_start = time.perf_counter()
    with float64():
        prep = prepare(data, warm_start, cfg, notes, timing)
        t0 = time.perf_counter()
        lap = laplace_stage(prep, cfg)
        lap, adjustment = adjust_stage(prep, lap, cfg, notes)
        timing["laplace"] = time.perf_counter() - t0
        plan = plan_shards(prep, lap, cfg, data, adjustment)
    t0 = time.perf_counter()
    execution = execute(plan, cfg, lambda n: backend or make_backend(cfg, n, progress))
    timing["sampling"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cons = consensus(prep, plan, execution, cfg, notes)
    cons.combination["likelihood_adjustment"] = adjustment.to_dict()
    timing["combination"] = time.perf_counter() - t0
    timing["total"] = time.perf_counter() - t_start
    return make_result(data, prep, lap, plan, execution, cons, cfg, notes, timing)
