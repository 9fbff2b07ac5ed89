"""Settings of the Dask backend (section ``optimization.cmc.dask``); no Dask import needed."""

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationError
from pydantic.dataclasses import dataclass

from homodyne_data.settings import (
    Integer,
    Number,
    describe_errors,
    format_path,
    own_error,
    raise_as,
    settings_config,
)

from .errors import CMCConfigError

__all__ = ["CLUSTER_KINDS", "DaskConfig", "settings_error"]

CLUSTER_KINDS = ("local", "address", "slurm", "pbs")


def settings_error(cls: Any, exc: ValidationError, path: str) -> CMCConfigError:
    """Every problem of a CMC settings class as one :class:`CMCConfigError` naming key paths.

    A check of the class itself raises ``CMCConfigError('<key>: <what>')`` with a key relative
    to the section; it is placed under ``path`` here.
    """
    inner = own_error(exc)
    if isinstance(inner, CMCConfigError):
        return CMCConfigError(f"{path}.{inner}")
    problems = [(format_path(path, loc), msg) for loc, msg in describe_errors(cls, exc)]
    err = CMCConfigError("; ".join(f"{k}: {m}" for k, m in problems))
    err.problems = problems
    return err


def _errors(cls: Any, exc: ValidationError) -> CMCConfigError:
    return settings_error(cls, exc, "optimization.cmc.dask")


@raise_as(_errors)
@dataclass(frozen=True, config=settings_config())
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

    cluster: Literal[CLUSTER_KINDS] = Field("local", description="where the workers run")
    address: str | None = Field(None, description="scheduler address (cluster: address)")
    n_workers: Integer | None = Field(None, ge=1, description="worker processes or batch jobs")
    threads_per_worker: Integer = Field(1, ge=1, description="XLA threads per worker")
    queue: str | None = Field(None, description="batch queue / partition")
    account: str | None = Field(None, description="batch account / project")
    walltime: str = Field("01:00:00", description="batch wall time, HH:MM:SS")
    cores: Integer = Field(1, ge=1, description="cores per batch job")
    memory: str = Field("4GB", description="memory per batch job, e.g. 4GB")
    processes: Integer | None = Field(None, ge=1, description="worker processes per job")
    job_extra: tuple[str, ...] = Field((), description="extra scheduler directives")
    prologue: tuple[str, ...] = Field((), description="shell lines run before each worker")
    min_jobs: Integer = Field(0, ge=0, description="adaptive scaling: fewest jobs")
    max_jobs: Integer | None = Field(None, ge=1, description="adaptive scaling: most jobs")
    interface: str | None = Field(None, description="network interface, e.g. ib0")
    local_directory: str | None = Field(None, description="worker scratch folder")
    log_directory: str | None = Field(None, description="batch log folder")
    retries: Integer = Field(2, ge=0, description="Dask retries of a failing task")
    compilation_cache_dir: str | None = Field(None, description="shared JAX compilation cache")
    death_timeout: Number = Field(120.0, gt=0, description="worker wait for the scheduler, s")
    worker_timeout: Number = Field(900.0, gt=0, description="wait for the first worker, s")

    def __post_init__(self) -> None:
        if self.cluster == "address" and not self.address:
            raise CMCConfigError("address: required when cluster is 'address'")
        if self.max_jobs is not None and self.min_jobs > self.max_jobs:
            raise CMCConfigError(
                f"min_jobs: must satisfy 0 <= min_jobs <= max_jobs, got "
                f"{self.min_jobs} and {self.max_jobs}"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, path: str = "optimization.cmc.dask"):
        """Build from a config mapping; unknown keys and wrong types name their key path."""
        if data is not None and not isinstance(data, Mapping):
            raise CMCConfigError(f"{path}: expected a mapping, got {type(data).__name__}")
        try:
            return cls.__pydantic_validator__.validate_python(dict(data or {}))
        except ValidationError as exc:
            raise settings_error(cls, exc, path) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping of the settings."""
        return dataclasses.asdict(self)
