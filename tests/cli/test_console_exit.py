"""The console entry point ends the process without interpreter teardown, safely.

``homodyne_cli.app.console`` runs ``main()`` and then leaves with ``os._exit`` once the
streams and log handlers are flushed, unless a child process is still alive (then it exits
the normal way, so that nothing is left behind). These tests tell the two exits apart with
an ``atexit`` handler: it runs only on the normal exit.
"""

import os
import subprocess
import sys
import textwrap

from .conftest import TRACEBACK, run_homodyne, write


def _console(body: str, tmp_path) -> subprocess.CompletedProcess:
    """Run ``console()`` with ``main`` replaced by ``body`` in a fresh interpreter."""
    code = textwrap.dedent(
        """
        import atexit, subprocess, sys
        import homodyne_cli.app as app
        atexit.register(lambda: print("ATEXIT", flush=True))
        def fake_main():
        {body}
        app.main = fake_main
        app.console()
        """
    ).format(body=textwrap.indent(textwrap.dedent(body), "    "))
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def test_fast_exit_keeps_code_and_unflushed_output(tmp_path):
    r = _console("print('partial line', end=''); sys.exit(4)", tmp_path)
    assert r.returncode == 4, r
    assert r.stdout == "partial line"  # flushed, and the atexit handler did not run
    assert "ATEXIT" not in r.stdout and TRACEBACK not in r.stderr


def test_fast_exit_message_code_like_python(tmp_path):
    r = _console("sys.exit('fatal: something')", tmp_path)
    assert r.returncode == 1 and "fatal: something" in r.stderr, r
    r = _console("sys.exit(None)", tmp_path)
    assert r.returncode == 0, r


def test_normal_exit_while_a_child_is_alive(tmp_path):
    """A running child process: the normal exit (atexit handlers run), same exit code."""
    body = """
    fake_main.child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    sys.exit(3)
    """
    r = _console(body, tmp_path)
    assert r.returncode == 3, r
    assert "ATEXIT" in r.stdout


def test_whole_run_with_plot_worker_exits_cleanly(sim_files, tmp_path):
    """A laminar run with 6 angles (so the plot worker process is used): exit 0, no leaked
    semaphore warning from multiprocessing's resource tracker, a complete log."""
    cfg = write(
        tmp_path / "lam.yaml",
        f"""
        analysis_mode: laminar_flow
        experimental_data:
          file_path: {sim_files["laminar"]}
        analyzer_parameters:
          dt: 0.1
        """,
    )
    r = run_homodyne("run", "-c", str(cfg), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert r.code in (0, 1), r  # 1: a quality gate; everything is written either way
    assert "leaked" not in r.err and TRACEBACK not in r.err, r.err[-2000:]
    log = (tmp_path / "out" / "homodyne.log").read_text()
    assert log.rstrip().splitlines()[-1].split(" INFO ")[-1].startswith("outcome:"), log[-2000:]
    assert len(list((tmp_path / "out" / "plots").glob("c2_heatmaps_*.png"))) == 6


def test_heap_frozen_only_in_the_console_process(monkeypatch):
    """``freeze_heap`` acts only after ``own_process`` (the console script), never when
    homodyne_cli is used as a library (as in this test process)."""
    import gc

    from homodyne_cli import heap

    monkeypatch.setitem(heap._OWNED, "process", False)
    before = gc.get_freeze_count()
    heap.freeze_heap()
    assert gc.get_freeze_count() == before
    monkeypatch.setitem(heap._OWNED, "process", True)
    try:
        heap.freeze_heap()
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


def test_console_process_collects_young_objects_less_often(tmp_path):
    r = _console("import gc; print(gc.get_threshold()[0], end=''); sys.exit(0)", tmp_path)
    assert r.returncode == 0 and int(r.stdout) == 10_000, r
