"""Issue 15 item 4: CMC worker processes die with their parent.

The driver runs shards on the real local process pool (``LocalBackend``: spawn, initializer,
``worker_setup``); once both workers are working on a shard the driver is SIGKILLed (no cleanup
code of the parent runs) and no worker may be alive 10 s later."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

SLOW_SHARD = r"""
import os, time
from pathlib import Path

def slow_shard(task):
    Path(os.environ["READY_DIR"], str(os.getpid())).write_text("sampling")
    time.sleep(300)
"""

DRIVER = r"""
import homodyne_cmc.backends as backends
from slow_shard import slow_shard
backends.run_shard = slow_shard  # shards that never finish; the pool and its workers are real
backends.LocalBackend(workers=2, threads_per_worker=1).run(
    [0, 1, 2, 3], on_result=print, on_error=lambda task, exc: print(task, exc))
"""


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of a process, or None when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0]


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None and st[0] == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[1] not in ("Z", "X")  # a zombie is dead, waiting to be reaped


def test_sigkilled_driver_leaves_no_worker_behind(tmp_path):
    (tmp_path / "slow_shard.py").write_text(SLOW_SHARD)
    ready = tmp_path / "ready"
    ready.mkdir()
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER],
        env={**os.environ, "JAX_PLATFORMS": "cpu", "READY_DIR": str(ready), "PYTHONPATH": path},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None and len(list(ready.iterdir())) < 2:
        time.sleep(0.5)
    if proc.poll() is not None:
        pytest.fail(f"the driver ended before its workers started: {proc.stderr.read()}")
    workers = [p for p in _children(proc.pid) if _alive(p)]  # the resource tracker too
    assert {int(p.name) for p in ready.iterdir()} <= set(workers)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(10.0)
    survivors = [p for p in workers if _alive(p)]
    for p in survivors:  # never leave them running, even when the test fails
        os.kill(p, signal.SIGKILL)
    assert survivors == [], f"workers alive 10 s after the parent was killed: {survivors}"
