"""A second process that draws part of the figures while this one draws the rest.

Drawing is single-threaded Python (matplotlib holds the GIL), so on a machine with two or
more cores a second process roughly halves the time of the plots. The worker is started
with ``spawn`` (never ``fork``: the parent runs JAX's threads), ignores Ctrl-C (the parent
handles it and terminates the worker), receives only display-size arrays and writes its
PNGs atomically like every other figure. An error in the worker is raised again in the
parent when it collects the job's answer (``.get()``).
"""

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["PlotWorker", "plot_worker"]


def _quiet() -> None:
    """Worker start-up: leave Ctrl-C to the parent; load matplotlib before the first job."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401


class PlotWorker:
    """One spawned drawing process (see the module text); use through :func:`plot_worker`."""

    def __init__(self) -> None:
        import multiprocessing

        self._pool = multiprocessing.get_context("spawn").Pool(1, initializer=_quiet)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` in the worker; ``.get()`` on the answer waits for its
        result (raising the worker's error)."""
        return self._pool.apply_async(fn, args, kwargs)

    def close(self) -> None:
        """Wait for the submitted jobs and end the process."""
        self._pool.close()
        self._pool.join()

    def terminate(self) -> None:
        """End the process now (after an error or Ctrl-C in the parent)."""
        self._pool.terminate()
        self._pool.join()


def _wanted() -> bool:
    """A worker only with a second core and unless ``HOMODYNE_PLOT_WORKER=0``."""
    if os.environ.get("HOMODYNE_PLOT_WORKER", "1").strip().lower() in ("0", "off", "no"):
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) >= 2


@contextmanager
def plot_worker(enabled: bool = True) -> Iterator[PlotWorker | None]:
    """A :class:`PlotWorker` for the ``with`` block (None when ``enabled`` is false, with one
    core, or with ``HOMODYNE_PLOT_WORKER=0``: then the caller draws everything itself).

    Leaving the block normally waits for the worker's jobs; an exception (Ctrl-C included)
    terminates the worker, so no process outlives the run.
    """
    worker = PlotWorker() if enabled and _wanted() else None
    try:
        yield worker
    except BaseException:
        if worker is not None:
            worker.terminate()
        raise
    if worker is not None:
        worker.close()
