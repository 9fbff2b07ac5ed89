"""Test-wide JAX settings: float64 on, CPU. Fixtures import homodyne packages inside bodies."""

import inspect
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402

# The test session owns its process, so it may set the global flag (the library never does).
jax.config.update("jax_enable_x64", True)


@pytest.fixture
def signature():
    """Render a callable's parameters stably for the API snapshots.

    ``name``; ``*name`` for keyword-only (and ``*args``); ``**name`` for ``**kwargs``;
    ``=default`` where there is one.
    """

    def render(f) -> list[str]:
        out = []
        for p in inspect.signature(f).parameters.values():
            default = "" if p.default is inspect.Parameter.empty else f"={p.default!r}"
            prefix = "*" if p.kind in (p.KEYWORD_ONLY, p.VAR_POSITIONAL) else ""
            prefix = "**" if p.kind is p.VAR_KEYWORD else prefix
            out.append(f"{prefix}{p.name}{default}")
        return out

    return render


def _proc_stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of a process from /proc, or None when it is gone."""
    from pathlib import Path

    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0]


def _proc_alive(pid: int) -> bool:
    st = _proc_stat(pid)
    return st is not None and st[1] not in ("Z", "X")  # a zombie is dead, waiting to be reaped


def _proc_descendants(pid: int) -> list[int]:
    from pathlib import Path

    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _proc_stat(int(entry.name))) is not None:
            parents[int(entry.name)] = st[0]
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == parent]
        found += kids
        frontier += kids
    return found


@pytest.fixture
def kill_driver(tmp_path):
    """Start a driver script whose workers sit in a never-ending shard, SIGKILL it, and
    return the processes it started that are still alive 10 s later (killed after listing).

    ``kill_driver(driver, slow_module, *args)``: ``slow_module`` is written as
    ``slow_shard.py`` next to the driver; each worker touches ``$READY_DIR/<pid>`` once it
    is working, and the driver is killed when two have.
    """
    import signal
    import subprocess
    import sys
    import time

    def run(driver: str, slow_module: str, *args: str) -> list[int]:
        (tmp_path / "slow_shard.py").write_text(slow_module)
        ready = tmp_path / "ready"
        ready.mkdir()
        path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
        env = {**os.environ, "JAX_PLATFORMS": "cpu", "READY_DIR": str(ready), "PYTHONPATH": path}
        proc = subprocess.Popen(
            [sys.executable, "-c", driver, *args],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.time() + 600
            while time.time() < deadline and proc.poll() is None and len(list(ready.iterdir())) < 2:
                time.sleep(0.5)
            if proc.poll() is not None:
                pytest.fail(f"the driver ended before its workers started: {proc.stderr.read()}")
            started = [p for p in _proc_descendants(proc.pid) if _proc_alive(p)]
            workers = {int(p.name) for p in ready.iterdir()}
            assert len(workers) == 2 and workers <= set(started), (workers, started)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
        time.sleep(10.0)
        survivors = [p for p in started if _proc_alive(p)]
        for p in survivors:  # never leave them running, even when the test fails
            os.kill(p, signal.SIGKILL)
        return survivors

    return run
