"""Issue 15 item 4: CMC worker processes die with their parent.

The driver runs shards on the real local process pool (``LocalBackend``: spawn, initializer,
``worker_setup``); once both workers are working on a shard the driver is SIGKILLed (no cleanup
code of the parent runs) and no worker may be alive 10 s later."""

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


def test_sigkilled_driver_leaves_no_worker_behind(kill_driver):
    survivors = kill_driver(DRIVER, SLOW_SHARD)  # workers and the resource tracker
    assert survivors == [], f"workers alive 10 s after the parent was killed: {survivors}"
