"""Distributed shard sampling on Dask: a laptop, a workstation, or a PBS / Slurm cluster.

:class:`DaskBackend` implements the same :class:`~homodyne_cmc.backends.Backend` interface as the
local process pool. Shards are Dask tasks running :func:`~homodyne_cmc.sampler.run_shard`; the
arrays every shard shares (time grid, angles, scaling design, whitening) are scattered once to
every worker and each task carries only its own points. Results are consumed with
``as_completed``: each one is handed to the driver at once (which writes it to the shard store
under the same resume key as the local backend) and its future is released, so a worker that dies
later cannot take a finished result with it. Dask reschedules a task whose worker died and retries
a failing one ``retries`` times; what still fails is reported to the driver (which retries once
with a new seed, then lists it).

Clusters (:class:`DaskConfig.cluster`):

* ``local``: a ``distributed.LocalCluster`` of single-threaded worker processes on this machine;
* ``address``: an existing scheduler (``tcp://host:8786``);
* ``slurm`` / ``pbs``: ``dask_jobqueue.SLURMCluster`` / ``PBSCluster``. Each job starts
  ``processes`` single-threaded workers with the interpreter that runs homodyne now
  (``sys.executable``), after a prologue that activates the same environment; with ``max_jobs``
  the cluster scales adaptively between ``min_jobs`` and ``max_jobs``.

JAX runs in float64 with one XLA thread per worker (one worker per core) and a persistent
compilation cache, set by a worker plugin before the worker's first JAX array, and by environment
variables in batch job scripts.

Needs the optional extra ``homodyne-cmc[dask]`` (``distributed``; ``dask-jobqueue`` for batch
systems).
"""

import dataclasses
import logging
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .backends import Progress, default_compilation_cache, worker_setup
from .dask_config import CLUSTER_KINDS, DaskConfig
from .errors import CMCConfigError, CMCError
from .sampler import ShardResult, ShardTask, run_shard

__all__ = ["CLUSTER_KINDS", "DaskBackend", "DaskConfig", "environment_prologue", "make_cluster"]

log = logging.getLogger("homodyne_cmc")
# Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers; that switches off glibc's
# adaptive mmap threshold and made the same JAX shard ~20-40% slower than in a plain process
# (measured). A None entry removes the variable from the nanny's pre-spawn environment.
_NO_TRIM = {"MALLOC_TRIM_THRESHOLD_": None}


def environment_prologue(threads: int = 1, cache_dir: str | None = None) -> list[str]:
    """Shell lines that make a batch job use this interpreter's environment and JAX settings.

    A virtualenv (uv, venv) is activated by exporting ``VIRTUAL_ENV`` and prepending its
    ``bin``; a conda environment by ``CONDA_PREFIX`` and its ``bin``. The worker command itself
    runs ``sys.executable``, so the same installation is used either way.
    """
    lines = []
    prefix = sys.prefix
    if sys.prefix != sys.base_prefix:
        lines += [f"export VIRTUAL_ENV={shlex.quote(prefix)}"]
    elif os.environ.get("CONDA_PREFIX"):
        prefix = os.environ["CONDA_PREFIX"]
        lines += [f"export CONDA_PREFIX={shlex.quote(prefix)}"]
    lines += [f"export PATH={shlex.quote(os.path.join(prefix, 'bin'))}:$PATH"]
    lines += [
        "export JAX_ENABLE_X64=1",
        "export JAX_PLATFORMS=${JAX_PLATFORMS:-cpu}",
        f"export OMP_NUM_THREADS={int(threads)}",
        f"export OPENBLAS_NUM_THREADS={int(threads)}",
    ]
    if cache_dir:
        lines += [f"export JAX_COMPILATION_CACHE_DIR={shlex.quote(cache_dir)}"]
    # the batch workers' nannies must not set MALLOC_TRIM_THRESHOLD_ either (see make_cluster);
    # an exported value would win over the config, so the config travels the way Dask passes
    # it to its own subprocesses
    import dask.config

    inherit = dask.config.serialize({"distributed": {"nanny": {"pre-spawn-environ": _NO_TRIM}}})
    lines += [f"export DASK_INTERNAL_INHERIT_CONFIG={shlex.quote(inherit)}"]
    return lines


def make_cluster(config: DaskConfig, *, start_jobs: bool = True):
    """Create the Dask cluster object for ``config`` (``None`` for ``cluster: address``).

    Batch clusters submit their first jobs (or start adaptive scaling) unless ``start_jobs`` is
    False (e.g. to inspect ``cluster.job_script()``).
    """
    cache = config.compilation_cache_dir or default_compilation_cache()
    if config.cluster == "address":
        return None
    if config.cluster == "local":
        import dask

        from distributed import LocalCluster

        from .backends import machine_workers

        kwargs: dict[str, Any] = {}
        if config.interface:
            kwargs["interface"] = config.interface
        else:
            kwargs["host"] = "127.0.0.1"
        # spawn our workers without the nanny's MALLOC_TRIM_THRESHOLD_ (see _NO_TRIM)
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            return LocalCluster(
                n_workers=config.n_workers or machine_workers(),
                threads_per_worker=config.threads_per_worker,
                processes=True,
                dashboard_address=None,
                local_directory=config.local_directory,
                **kwargs,
            )
    try:
        import dask_jobqueue
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise CMCConfigError(
            "optimization.cmc.dask.cluster: 'slurm'/'pbs' need dask-jobqueue; install "
            "homodyne-cmc[dask]"
        ) from exc
    cls = dask_jobqueue.SLURMCluster if config.cluster == "slurm" else dask_jobqueue.PBSCluster
    processes = config.processes or max(1, config.cores // config.threads_per_worker)
    kwargs = dict(
        cores=config.cores,
        memory=config.memory,
        processes=processes,
        walltime=config.walltime,
        python=sys.executable,
        job_script_prologue=environment_prologue(config.threads_per_worker, cache)
        + list(config.prologue),
        job_extra_directives=list(config.job_extra),
        death_timeout=config.death_timeout,
        local_directory=config.local_directory,
        log_directory=config.log_directory,
        scheduler_options={"dashboard_address": None},
    )
    if config.queue:
        kwargs["queue"] = config.queue
    if config.account:
        kwargs["account"] = config.account
    if config.interface:
        kwargs["interface"] = config.interface
        kwargs["scheduler_options"]["interface"] = config.interface
    cluster = cls(**kwargs)
    if not start_jobs:
        return cluster
    if config.max_jobs is not None:
        # at least one job: the shared arrays are scattered to the first worker that connects
        cluster.adapt(minimum_jobs=max(1, config.min_jobs), maximum_jobs=config.max_jobs)
    else:
        cluster.scale(jobs=config.n_workers or 1)
    return cluster


def _jax_plugin(threads: int, cache: str):
    from distributed import WorkerPlugin

    class HomodyneJaxSetup(WorkerPlugin):
        """Float64, thread count and compilation cache in every worker, before any JAX work."""

        name = "homodyne-jax-setup"

        def __init__(self, threads: int, cache: str):
            self.threads, self.cache = threads, cache

        def setup(self, worker) -> None:
            worker_setup(self.threads, self.cache)

    return HomodyneJaxSetup(threads, cache)


def _run_remote(task: ShardTask, common) -> ShardResult:
    """Worker side: put the scattered shared arrays back into the task and sample it."""
    return run_shard(dataclasses.replace(task, common=common))


class DaskBackend:
    """Run shard tasks on a Dask cluster (see the module docstring).

    Parameters
    ----------
    config
        :class:`DaskConfig`.
    client
        An existing ``distributed.Client`` to use instead of creating a cluster (it is left
        open afterwards).
    progress
        Callback receiving :class:`~homodyne_cmc.backends.Progress` after every shard.
    """

    name = "dask"

    def __init__(
        self,
        config: DaskConfig | None = None,
        client=None,
        progress: Callable[[Progress], None] | None = None,
    ):
        self.config = config or DaskConfig()
        self.client = client
        self.progress = progress

    def _connect(self):
        from distributed import Client

        if self.client is not None:
            return self.client, None, False
        cluster = make_cluster(self.config)
        if cluster is None:
            return Client(self.config.address), None, True
        return Client(cluster), cluster, True

    def run(self, tasks: Sequence[ShardTask], on_result, on_error) -> None:
        """See :class:`~homodyne_cmc.backends.Backend`."""
        if not tasks:
            return
        from distributed import as_completed

        from .backends import _Tracker

        client, cluster, owned = self._connect()
        try:
            cache = self.config.compilation_cache_dir or default_compilation_cache()
            client.register_plugin(_jax_plugin(self.config.threads_per_worker, cache))
            try:
                client.wait_for_workers(1, timeout=self.config.worker_timeout)
            except TimeoutError as exc:
                where = (
                    f" (job logs: {self.config.log_directory})" if self.config.log_directory else ""
                )
                raise CMCError(
                    f"no Dask worker connected within {self.config.worker_timeout:g} s on the "
                    f"{self.config.cluster!r} cluster{where}; check the batch queue "
                    "(squeue / qstat) and optimization.cmc.dask settings"
                ) from exc
            shared: dict[int, Any] = {}
            futures = {}
            for task in tasks:
                ident = id(task.common)
                if ident not in shared:  # all shards of a run share one CommonArrays
                    shared[ident] = client.scatter(task.common, broadcast=True, hash=False)
                light = dataclasses.replace(task, common=None)
                fut = client.submit(
                    _run_remote,
                    light,
                    shared[ident],
                    retries=self.config.retries,
                    pure=False,
                    key=f"homodyne-shard-{task.shard.index}-{task.attempt}-{task.key[:16]}",
                )
                futures[fut] = task
            tracker = _Tracker(len(tasks), self.progress)
            tracker.report(len(futures))
            for fut in as_completed(list(futures)):
                task = futures.pop(fut)
                try:
                    result = fut.result()
                except Exception as exc:  # KilledWorker, or the task's own error after retries
                    tracker.failed += 1
                    on_error(task, exc)
                else:
                    tracker.done += 1
                    on_result(result)
                    tracker.report(len(futures), result)
                finally:
                    fut.release()
        finally:
            if owned:
                client.close()
                if cluster is not None:
                    cluster.close()
