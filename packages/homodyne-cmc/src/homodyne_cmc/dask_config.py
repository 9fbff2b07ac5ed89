"""Settings of the Dask backend (section ``optimization.cmc.dask``); no Dask import needed."""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import CMCConfigError

__all__ = ["CLUSTER_KINDS", "DaskConfig"]

CLUSTER_KINDS = ("local", "address", "slurm", "pbs")


@dataclass(frozen=True)
class DaskConfig:
    """Where and how Dask runs the shards (config section ``optimization.cmc.dask``).

    Attributes
    ----------
    cluster
        ``local``, ``address``, ``slurm`` or ``pbs``.
    address
        Scheduler address for ``cluster: address``.
    n_workers
        ``local``: worker processes (default: the cores of this machine). Batch clusters: jobs
        to start when ``max_jobs`` is not set (default 1).
    threads_per_worker
        XLA threads per worker (1: one worker per core is fastest for NUTS).
    queue, account, walltime, cores, memory, processes
        Batch job settings: queue/partition, account/project, wall time ``HH:MM:SS``, cores and
        memory per job, worker processes per job (default: one per core).
    job_extra
        Extra scheduler directives, e.g. ``["-l filesystems=home:eagle"]`` (PBS) or
        ``["--gres=gpu:1"]`` (Slurm).
    prologue
        Extra shell lines run in each job before the worker starts (after the environment
        activation derived from this interpreter), e.g. ``module load ...``.
    min_jobs, max_jobs
        Adaptive scaling range (``max_jobs`` set: adaptive).
    interface
        Network interface for scheduler and workers (e.g. ``ib0``; ``lo`` for one machine).
    local_directory, log_directory
        Worker scratch space and batch log folder.
    retries
        Dask retries of a failing task before it is reported.
    compilation_cache_dir
        JAX persistent compilation cache shared by the workers (a shared file system on
        clusters).
    death_timeout, worker_timeout
        Seconds a worker waits for the scheduler; seconds the backend waits for the first
        worker to connect (batch jobs may sit in the queue) before giving up with an error.
    """

    cluster: str = "local"
    address: str | None = None
    n_workers: int | None = None
    threads_per_worker: int = 1
    queue: str | None = None
    account: str | None = None
    walltime: str = "01:00:00"
    cores: int = 1
    memory: str = "4GB"
    processes: int | None = None
    job_extra: tuple[str, ...] = ()
    prologue: tuple[str, ...] = ()
    min_jobs: int = 0
    max_jobs: int | None = None
    interface: str | None = None
    local_directory: str | None = None
    log_directory: str | None = None
    retries: int = 2
    compilation_cache_dir: str | None = None
    death_timeout: float = 120.0
    worker_timeout: float = 900.0

    def __post_init__(self) -> None:
        path = "optimization.cmc.dask"
        if self.cluster not in CLUSTER_KINDS:
            raise CMCConfigError(
                f"{path}.cluster: must be one of {', '.join(CLUSTER_KINDS)}, got {self.cluster!r}"
            )
        if self.cluster == "address" and not self.address:
            raise CMCConfigError(f"{path}.address: required when cluster is 'address'")
        for name in ("threads_per_worker", "cores"):
            if int(getattr(self, name)) < 1:
                raise CMCConfigError(f"{path}.{name}: must be >= 1, got {getattr(self, name)}")
        if not self.worker_timeout > 0:
            raise CMCConfigError(f"{path}.worker_timeout: must be > 0, got {self.worker_timeout}")
        for name in ("n_workers", "processes", "max_jobs"):
            val = getattr(self, name)
            if val is not None and int(val) < 1:
                raise CMCConfigError(f"{path}.{name}: must be >= 1, got {val}")
        if self.min_jobs < 0 or (self.max_jobs is not None and self.min_jobs > self.max_jobs):
            raise CMCConfigError(
                f"{path}.min_jobs: must satisfy 0 <= min_jobs <= max_jobs, got "
                f"{self.min_jobs} and {self.max_jobs}"
            )
        if self.retries < 0:
            raise CMCConfigError(f"{path}.retries: must be >= 0, got {self.retries}")
        object.__setattr__(self, "job_extra", tuple(self.job_extra))
        object.__setattr__(self, "prologue", tuple(self.prologue))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, path: str = "optimization.cmc.dask"):
        """Build from a config mapping; unknown keys and wrong types name their key path."""
        data = dict(data or {})
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise CMCConfigError(f"{path}: unknown key(s) {', '.join(unknown)}")
        kwargs: dict[str, Any] = {}
        for key, val in data.items():
            if key in ("job_extra", "prologue"):
                if isinstance(val, str) or not isinstance(val, list | tuple):
                    raise CMCConfigError(f"{path}.{key}: expected a list of strings")
                kwargs[key] = tuple(str(v) for v in val)
            elif key in (
                "n_workers",
                "threads_per_worker",
                "cores",
                "processes",
                "min_jobs",
                "max_jobs",
                "retries",
            ):
                if val is not None and (isinstance(val, bool) or not isinstance(val, int)):
                    raise CMCConfigError(f"{path}.{key}: expected an integer, got {val!r}")
                kwargs[key] = val
            else:
                kwargs[key] = val
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping of the settings."""
        return dataclasses.asdict(self)
