"""Where shards run: the ``Backend`` interface, an in-process sequential backend and a local
process pool. A distributed backend (Dask, next issue) implements the same interface.

A backend receives the pending :class:`~homodyne_cmc.sampler.ShardTask` objects and reports
each outcome through two callbacks, **in the calling process, as soon as it is known**:
``on_result(ShardResult)`` (the driver writes it to the shard store at once) and
``on_error(task, exception)`` (the driver retries once with a new seed, then reports). The
unit of work is :func:`~homodyne_cmc.sampler.run_shard`, a plain module-level function of a
picklable task, so any executor that can ship a function and its argument can run it.
"""

import ctypes
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Protocol, runtime_checkable

from .sampler import ShardResult, ShardTask, run_shard

__all__ = [
    "Backend",
    "LocalBackend",
    "Progress",
    "SequentialBackend",
    "default_compilation_cache",
    "machine_workers",
    "watch_parent",
    "worker_setup",
]

log = logging.getLogger("homodyne_cmc")


@dataclass(frozen=True)
class Progress:
    """Progress of the shard runs: counts and an ETA (s) from the mean shard time so far."""

    done: int
    running: int
    pending: int
    failed: int
    total: int
    elapsed_s: float
    eta_s: float | None
    last: ShardResult | None = None


@runtime_checkable
class Backend(Protocol):
    """Runs shard tasks and reports every outcome through callbacks in the calling process."""

    name: str

    def run(
        self,
        tasks: Sequence[ShardTask],
        on_result: Callable[[ShardResult], None],
        on_error: Callable[[ShardTask, BaseException], None],
    ) -> None:
        """Run all ``tasks``; call exactly one of the callbacks per task."""
        ...


def machine_workers() -> int:
    """CPU cores available to this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def default_compilation_cache() -> str:
    """``$XDG_CACHE_HOME/homodyne/jax`` (or ``~/.cache/homodyne/jax``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "homodyne" / "jax")


_PR_SET_PDEATHSIG = 1
_WATCHED: set[int] = set()


def watch_parent(
    parent_pid: int | None = None, *, pdeathsig: bool = True, interval: float = 0.5
) -> None:
    """Make this worker process die with its parent, even when the parent is SIGKILLed.

    On Linux (with ``pdeathsig``) the kernel sends SIGKILL when the parent dies
    (``prctl(PR_SET_PDEATHSIG)``; note that it fires when the *thread* that started the
    process exits, so use it only where the starting thread lives as long as the worker).
    Everywhere, a daemon thread polls ``os.getppid()`` and kills the process once the parent
    is gone (the process is re-parented), which covers other systems and a parent that died
    before the watch was set up.
    """
    parent = int(parent_pid or os.getppid())
    if parent in _WATCHED:  # set up once per worker (a Dask plugin may be registered again)
        return
    _WATCHED.add(parent)
    if pdeathsig and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - unusual libc
            log.debug("prctl(PR_SET_PDEATHSIG) unavailable; polling the parent only")
    if os.getppid() != parent:  # the parent died before the watch was in place
        os._exit(1)

    def poll() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=poll, name="homodyne-parent-watch", daemon=True).start()


def worker_setup(
    threads: int | None, compilation_cache_dir: str | None, parent_pid: int | None = None
) -> None:
    """Configure JAX in a worker process that homodyne owns: float64 on, thread count, and a
    persistent compilation cache (so a fresh worker reuses compiled samplers from disk). With
    ``parent_pid`` the worker also dies with that process (:func:`watch_parent`).

    Must run before the worker creates its first JAX array (process-pool initializer, Dask
    worker plugin).
    """
    if parent_pid:
        watch_parent(parent_pid)
    if threads:
        n = str(int(threads))
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = n
        flags = os.environ.get("XLA_FLAGS", "")
        if int(threads) == 1 and "multi_thread_eigen" not in flags:
            flags += " --xla_cpu_multi_thread_eigen=false"  # XLA knows no other thread flag
        os.environ["XLA_FLAGS"] = flags.strip()
    import jax

    jax.config.update("jax_enable_x64", True)
    if compilation_cache_dir:
        Path(compilation_cache_dir).mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(compilation_cache_dir))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


class _Tracker:
    def __init__(self, total: int, progress: Callable[[Progress], None] | None):
        self.total, self.progress = total, progress
        self.done = self.failed = 0
        self.t0 = time.perf_counter()
        self.times: list[float] = []

    def report(self, running: int, last: ShardResult | None = None) -> None:
        elapsed = time.perf_counter() - self.t0
        pending = self.total - self.done - self.failed - running
        eta = None
        if self.done:
            per = elapsed / self.done
            eta = per * (pending + running) / max(running, 1) if running else per * pending
        info = Progress(self.done, running, pending, self.failed, self.total, elapsed, eta, last)
        msg = (
            f"CMC shards: {info.done}/{info.total} done, {info.running} running, "
            f"{info.failed} failed" + (f", ETA {eta:.0f} s" if eta is not None else "")
        )
        log.info(msg)
        if self.progress is not None:
            self.progress(info)


class SequentialBackend:
    """Runs shards one after the other in this process (debugging, GPUs, tiny problems)."""

    name = "sequential"

    def __init__(self, progress: Callable[[Progress], None] | None = None):
        self.progress = progress

    def run(self, tasks, on_result, on_error) -> None:
        """See :class:`Backend`."""
        tracker = _Tracker(len(tasks), self.progress)
        for task in tasks:
            tracker.report(1)
            try:
                result = run_shard(task)
            except Exception as exc:  # reported to the driver, which retries or lists it
                tracker.failed += 1
                on_error(task, exc)
                continue
            tracker.done += 1
            on_result(result)
            tracker.report(0, result)


class LocalBackend:
    """A pool of worker processes (spawn context) on this machine, one shard per task.

    Parameters
    ----------
    workers
        Number of processes (default: the cores available).
    threads_per_worker
        XLA/BLAS threads per process (default: cores // workers, at least 1).
    compilation_cache_dir
        JAX persistent compilation cache shared by the workers.
    """

    name = "local"

    def __init__(
        self,
        workers: int | None = None,
        threads_per_worker: int | None = None,
        compilation_cache_dir: str | None = None,
        progress: Callable[[Progress], None] | None = None,
    ):
        cores = machine_workers()
        self.workers = int(workers or cores)
        self.threads = int(threads_per_worker or max(1, cores // self.workers))
        self.compilation_cache_dir = compilation_cache_dir or default_compilation_cache()
        self.progress = progress

    def run(self, tasks, on_result, on_error) -> None:
        """See :class:`Backend`. Results are handed back as each future completes; a broken
        pool (a worker killed) fails its running tasks, which the driver then retries."""
        if not tasks:
            return
        tracker = _Tracker(len(tasks), self.progress)
        ctx = get_context("spawn")
        n = min(self.workers, len(tasks))
        with ProcessPoolExecutor(
            max_workers=n,
            mp_context=ctx,
            initializer=worker_setup,
            initargs=(self.threads, self.compilation_cache_dir, os.getpid()),
        ) as pool:
            queue = list(tasks)
            running = {}
            while queue or running:
                while queue and len(running) < n:
                    task = queue.pop(0)
                    try:
                        running[pool.submit(run_shard, task)] = task
                    except Exception as exc:  # pool broken: fail the rest
                        tracker.failed += 1
                        on_error(task, exc)
                tracker.report(len(running))
                if not running:
                    continue
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in finished:
                    task = running.pop(fut)
                    exc = fut.exception()
                    if exc is not None:
                        tracker.failed += 1
                        on_error(task, exc)
                    else:
                        result = fut.result()
                        tracker.done += 1
                        on_result(result)
                        tracker.report(len(running), result)
