"""Issue 15: Dask workers die with their parent.

A driver runs the execution stage of a CMC run on the Dask backend (``DaskBackend`` on a real
``LocalCluster``: in-process scheduler and nannies, spawned worker processes, the homodyne
worker plugin) with shards that never finish; once both workers are sampling a shard, the
driver is SIGKILLed (no cleanup code runs) and no process it started may be alive 10 s later.
The nannies of a local cluster live in the driver, so they die with it; the worker processes
end through distributed's parent-alive pipe (:mod:`distributed.process`).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

pytestmark = [
    pytest.mark.faults,  # about 30-60 s on a loaded 2-core machine
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc"),
]

SLOW_SHARD = r"""
import dataclasses, os, time
from pathlib import Path
from types import SimpleNamespace


@dataclasses.dataclass
class Task:  # what DaskBackend reads of a ShardTask
    shard: SimpleNamespace
    common: object
    attempt: int = 0
    key: str = "0" * 64


def slow_remote(task, common):
    Path(os.environ["READY_DIR"], str(os.getpid())).write_text("sampling")
    time.sleep(300)
"""

DRIVER = r"""
import sys
from types import SimpleNamespace
import homodyne_cmc.dask_backend as db
from homodyne_cmc.dask_config import DaskConfig
from slow_shard import Task, slow_remote
db._run_remote = slow_remote  # shards that never finish; cluster, nannies, workers are real
tasks = [Task(SimpleNamespace(index=k), common=[1.0, 2.0]) for k in range(4)]
config = DaskConfig(n_workers=2, threads_per_worker=1, compilation_cache_dir=sys.argv[1])
db.DaskBackend(config).run(tasks, on_result=print, on_error=lambda t, e: print(t, e))
"""


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of a process, or None when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0]


def _descendants(pid: int) -> list[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = st[0]
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        found += kids
        frontier += kids
    return found


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[1] not in ("Z", "X")  # a zombie is dead, waiting to be reaped


def test_sigkilled_driver_leaves_no_dask_worker_behind(tmp_path):
    (tmp_path / "slow_shard.py").write_text(SLOW_SHARD)
    ready = tmp_path / "ready"
    ready.mkdir()
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "READY_DIR": str(ready), "PYTHONPATH": path}
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(tmp_path / "jax-cache")],
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
            pytest.fail(f"the driver ended before its workers sampled: {proc.stderr.read()}")
        started = [p for p in _descendants(proc.pid) if _alive(p)]
        workers = {int(p.name) for p in ready.iterdir()}
        assert len(workers) == 2 and workers <= set(started), (workers, started)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(10.0)
    survivors = [p for p in started if _alive(p)]
    for p in survivors:  # never leave them running, even when the test fails
        os.kill(p, signal.SIGKILL)
    assert survivors == [], f"processes alive 10 s after the driver was killed: {survivors}"
