"""A second process that draws part of the figures while this one draws the rest.

Drawing is single-threaded Python (matplotlib holds the GIL), so on a machine with two or
more cores a second process roughly halves the time of the plots. The worker is started
with ``spawn`` (never ``fork``: the parent runs JAX's threads) when the fit starts, so that
its start-up and imports overlap the fit; it ignores Ctrl-C (the parent handles it and
terminates the worker), receives only display-size arrays and writes its PNGs atomically
like every other figure. An error in the worker is raised again in the parent when it
collects the job's answer (``.get()``).

Heatmap pages are shared as they go: both processes take the next page number from one
counter in shared memory (:meth:`PlotWorker.share_pages`, :func:`draw_shared_pages`), so
neither waits for the other whatever each one had to draw before.
"""

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..heap import freeze_count

__all__ = ["PlotWorker", "draw_shared_pages", "plot_worker", "preload_plotting"]

_COUNTER: Any = None  # in the worker: the page counter shared with the parent


def _preload() -> None:
    """Import what drawing needs (matplotlib and the figure modules)."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401

    from . import cuts, heatmaps, residual_structure, residuals, transport  # noqa: F401


def _worker_start(counter: Any) -> None:
    """Worker start-up: leave Ctrl-C to the parent; load matplotlib before the first job
    (and move its objects out of the collector's reach, see :mod:`homodyne_cli.heap`)."""
    global _COUNTER
    from ..heap import freeze_heap, own_process

    own_process()  # this process only draws, for the run that started it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _COUNTER = counter
    _preload()
    freeze_heap()  # full collections need not rescan matplotlib


class _Preload(threading.Thread):
    """The import thread of :func:`preload_plotting`; ``cpu_s``: its CPU seconds once done."""

    def __init__(self) -> None:
        super().__init__(name="homodyne-plot-imports", daemon=True)
        self.cpu_s = 0.0

    def run(self) -> None:
        import time

        c0 = time.thread_time()
        try:
            _preload()
            from homodyne_nlsq.goodness import chi2_sf

            chi2_sf(1, 1.0)  # its program, loaded here rather than in the review after the fit
        except Exception:  # noqa: BLE001 - the drawing itself imports again and reports it
            pass
        self.cpu_s = time.thread_time() - c0


def preload_plotting() -> _Preload:
    """Import matplotlib and the figure modules in a background thread of this process (while
    the fit runs: it spends most of its time in compiled code, outside the GIL)."""
    thread = _Preload()
    thread.start()
    return thread


def _claims(counter: Any, n: int) -> Iterator[int]:
    """Page numbers ``0..n-1`` taken one at a time from ``counter`` (shared by processes)."""
    while True:
        with counter.get_lock():
            k = counter.value
            counter.value = k + 1
        if k >= n:
            return
        yield k


def draw_shared_pages(paths: list[Path], **pages: Any) -> list[Path]:
    """In the worker: draw the heatmap pages it takes from the shared counter (arguments as
    :func:`homodyne_cli.plots.heatmaps.draw_heatmap_pages`)."""
    from .heatmaps import draw_heatmap_pages

    return draw_heatmap_pages(paths, order=_claims(_COUNTER, len(paths)), **pages)


class PlotWorker:
    """One spawned drawing process (see the module text); use through :func:`plot_worker`."""

    def __init__(self) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._counter = ctx.Value("q", 0)
        self._pool: Any = ctx.Pool(1, initializer=_worker_start, initargs=(self._counter,))
        self._answers: list[Any] = []
        self._freezes = freeze_count()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` in the worker; ``.get()`` on the answer waits for its
        result (raising the worker's error)."""
        answer = self._pool.apply_async(fn, args, kwargs)
        self._answers.append(answer)
        return answer

    def share_pages(self, n: int) -> Iterator[int]:
        """Start sharing ``n`` pages (reset the counter): the page numbers this process takes;
        the worker takes its own with :func:`draw_shared_pages`. One set of pages at a time."""
        with self._counter.get_lock():
            self._counter.value = 0
        return _claims(self._counter, n)

    def close(self) -> None:
        """Wait for the submitted jobs and end the process (again: nothing).

        Once every job has answered (its files are written) the idle worker is ended by a
        signal rather than asked to exit: a normal exit is the interpreter's teardown of
        matplotlib and the pool, 0.2-0.3 s that nobody waits for usefully."""
        if self._pool is not None:
            for answer in self._answers:
                answer.wait()
            self._pool.terminate()
            self._pool.join()
            self._release()

    def terminate(self) -> None:
        """End the process now (after an error or Ctrl-C in the parent; again: nothing)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._release()

    def _release(self) -> None:
        """Free the ended pool's semaphores here and now. The pool sits in reference cycles, so
        left alone its semaphores are freed by some later garbage collection; when that
        collection happens inside another multiprocessing call (a later pool or lock being
        registered), CPython 3.12 finds its resource tracker entered twice and prints
        "Exception ignored ... might leak" warnings. One full collection costs about 0.1 s,
        for nothing once the heap was frozen after the pool was made (the console process
        freezes it at the start of each stage): no collection can free a frozen pool, and its
        semaphores are released by multiprocessing's exit handlers."""
        import gc

        self._pool = None
        if freeze_count() == self._freezes:
            gc.collect()


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

    Leaving the block normally waits for the worker's jobs (unless the block closed the worker
    itself); an exception (Ctrl-C included) terminates the worker, so no process outlives the
    run.
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
