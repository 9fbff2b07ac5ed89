"""Issue 15: Dask workers die with their parent.

A driver runs the execution stage of a CMC run on the Dask backend (``DaskBackend`` on a real
``LocalCluster``: in-process scheduler and nannies, spawned worker processes, the homodyne
worker plugin) with shards that never finish; once both workers are sampling a shard, the
driver is SIGKILLed (no cleanup code runs) and no process it started may be alive 10 s later.
The nannies of a local cluster live in the driver, so they die with it; the worker processes
end through distributed's parent-alive pipe (:mod:`distributed.process`).
"""

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


def test_sigkilled_driver_leaves_no_dask_worker_behind(kill_driver, tmp_path):
    survivors = kill_driver(DRIVER, SLOW_SHARD, str(tmp_path / "jax-cache"))
    assert survivors == [], f"processes alive 10 s after the driver was killed: {survivors}"
