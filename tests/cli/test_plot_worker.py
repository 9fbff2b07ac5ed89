"""Fit plots drawn partly by a second process: the same files byte for byte as drawn by one
process, an error in the worker reaches the caller, and no worker outlives its block."""

from contextlib import nullcontext
from types import SimpleNamespace

import numpy as np
import pytest

from homodyne_cli.plots.worker import plot_worker
from homodyne_cli.results import write_fit_plots


def _data(n_phi=6, n_t=40):
    t = np.arange(1, n_t + 1) * 0.1
    lag = np.abs(np.subtract.outer(t, t))
    fit = 1.0 + 0.3 * np.exp(-lag)[None] * np.ones((n_phi, 1, 1))
    c2 = fit + np.random.default_rng(3).normal(0, 0.01, fit.shape)
    phi = np.linspace(-90, 90, n_phi, endpoint=False)
    data = SimpleNamespace(is_dense=True, t=t, phi=phi, c2=c2, n_t=n_t, q=0.0054)
    return data, fit


@pytest.mark.slow  # 30 s at load 11 on 2 cores (two sets of 9 figures and a spawned process)
def test_worker_draws_the_same_files(tmp_path, monkeypatch):
    monkeypatch.setenv("HOMODYNE_PLOT_WORKER", "1")
    monkeypatch.setattr("homodyne_cli.plots.worker._wanted", lambda: True)  # even on 1 core
    data, fit = _data()
    alone = write_fit_plots(tmp_path / "one", data, fit, 0.01, max_display=20, label="NLSQ")
    with plot_worker() as worker:
        assert worker is not None
        shared = write_fit_plots(
            tmp_path / "two", data, fit, 0.01, max_display=20, label="NLSQ", worker=worker
        )
        children = worker._pool._pool  # the pool's processes
    assert [p.name for p in shared] == [p.name for p in alone]
    assert len(alone) == data.phi.size + 3
    for a, b in zip(alone, shared, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert all(not p.is_alive() for p in children)


def test_worker_error_reaches_the_caller_and_the_worker_ends(tmp_path, monkeypatch):
    from homodyne_cli.plots.heatmaps import draw_heatmap_pages, heatmap_display

    monkeypatch.setattr("homodyne_cli.plots.worker._wanted", lambda: True)
    data, fit = _data(n_phi=2)
    td, shown, shown_fit, note = heatmap_display(data.t, data.c2, fit, 20)
    blocked = tmp_path / "file"
    blocked.write_text("a file, not a folder")
    with pytest.raises(OSError), plot_worker() as worker:
        children = worker._pool._pool
        job = worker.submit(
            draw_heatmap_pages,
            [blocked / "a.png", blocked / "b.png"],
            td=td,
            data=shown,
            fit=shown_fit,
            phi=data.phi,
        )
        job.get(timeout=120)
    assert all(not p.is_alive() for p in children)


def test_closing_waits_for_every_job_then_ends_the_worker(tmp_path, monkeypatch):
    """``close`` ends the idle worker by a signal (no interpreter teardown), but only once
    every submitted job has answered: a job still drawing when the block ends completes and
    its files are there."""
    from homodyne_cli.plots.heatmaps import draw_heatmap_pages, heatmap_display

    monkeypatch.setattr("homodyne_cli.plots.worker._wanted", lambda: True)
    data, fit = _data(n_phi=4)
    td, shown, shown_fit, note = heatmap_display(data.t, data.c2, fit, 20)
    pages = [tmp_path / f"page{k}.png" for k in range(4)]
    with plot_worker() as worker:
        children = worker._pool._pool
        worker.submit(draw_heatmap_pages, pages, td=td, data=shown, fit=shown_fit, phi=data.phi)
    assert all(p.stat().st_size > 0 for p in pages)  # no answer was collected: close waited
    assert all(not p.is_alive() for p in children)
    assert all(p.exitcode is not None for p in children)


def test_no_worker_when_switched_off(monkeypatch):
    monkeypatch.setenv("HOMODYNE_PLOT_WORKER", "0")
    with plot_worker() as worker:
        assert worker is None
    with plot_worker(enabled=False) as worker:
        assert worker is None


def test_ctrl_c_in_the_parent_ends_the_worker(monkeypatch):
    monkeypatch.setattr("homodyne_cli.plots.worker._wanted", lambda: True)
    with pytest.raises(KeyboardInterrupt), plot_worker() as worker:
        children = worker._pool._pool
        assert children and all(p.is_alive() for p in children)
        raise KeyboardInterrupt
    assert all(not p.is_alive() for p in children)


@pytest.mark.parametrize("fails", [False, True])
def test_an_ended_worker_leaves_no_pool_for_a_later_garbage_collection(monkeypatch, fails):
    """The pool lives in reference cycles; freed by a random later collection its semaphore
    finalizers can run inside another multiprocessing call, where CPython 3.12 reports a
    reentrant resource tracker. Ending the worker frees the pool at once."""
    import weakref

    monkeypatch.setattr("homodyne_cli.plots.worker._wanted", lambda: True)
    with pytest.raises(KeyboardInterrupt) if fails else nullcontext(), plot_worker() as worker:
        pool = weakref.ref(worker._pool)
        if fails:
            raise KeyboardInterrupt
    assert pool() is None
    worker.close()  # ending twice does nothing
    worker.terminate()


def test_shared_counter_splits_the_pages_between_takers():
    import multiprocessing

    from homodyne_cli.plots.worker import _claims

    counter = multiprocessing.get_context("spawn").Value("q", 0)
    a, b = _claims(counter, 7), _claims(counter, 7)
    taken_a, taken_b = [next(a), next(a)], [next(b)]
    taken_a += list(a)  # a takes the rest; b then finds none left
    taken_b += list(b)
    assert taken_a == [0, 1, 3, 4, 5, 6] and taken_b == [2]


def test_pages_drawn_in_a_given_order_are_those_of_a_full_draw(tmp_path):
    from homodyne_cli.plots.heatmaps import draw_heatmap_pages, heatmap_display

    data, fit = _data(n_phi=3, n_t=30)
    td, shown, shown_fit, note = heatmap_display(data.t, data.c2, fit, 20)
    kw = dict(td=td, data=shown, fit=shown_fit, phi=data.phi, note=note, label="NLSQ")
    full = draw_heatmap_pages([tmp_path / f"a{k}.png" for k in range(3)], **kw)
    some = draw_heatmap_pages([tmp_path / f"b{k}.png" for k in range(3)], order=iter([2]), **kw)
    assert [p.name for p in some] == ["b2.png"]
    assert some[0].read_bytes() == full[2].read_bytes()
    assert not (tmp_path / "b0.png").exists()
    assert draw_heatmap_pages([tmp_path / "c.png"], order=iter([]), **kw) == []


def test_the_closing_collection_runs_only_while_the_pool_can_be_collected(monkeypatch):
    """A full collection frees the ended pool's semaphores at once, unless the console process
    froze the heap after the pool was made: then no collection can free it (and the 0.1 s is
    skipped)."""
    import gc

    from homodyne_cli import heap

    monkeypatch.setattr("homodyne_cli.plots.worker._wanted", lambda: True)
    calls = []
    monkeypatch.setattr(gc, "collect", lambda *a: calls.append(a) or 0)
    with plot_worker():
        pass
    assert len(calls) == 1
    with plot_worker():
        monkeypatch.setitem(heap._OWNED, "freezes", heap.freeze_count() + 1)  # a stage froze
    assert len(calls) == 1
