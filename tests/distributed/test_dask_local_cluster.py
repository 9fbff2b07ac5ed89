"""The Dask backend on a real LocalCluster: same result as the local backend, survives a killed
worker without losing a shard."""

import os
import signal
import threading

import numpy as np
import pytest

pytest.importorskip("distributed")

from .conftest import shard_draws_by_id  # noqa: E402


def _local_reference(sim, nlsq, config):
    from homodyne_cmc import fit_cmc
    from homodyne_cmc.backends import LocalBackend

    return fit_cmc(
        sim.data,
        nlsq,
        config,
        backend=LocalBackend(
            workers=2, threads_per_worker=1, compilation_cache_dir=config.compilation_cache_dir
        ),
    )


# Sampling quality is tested in tests/cmc; here only the execution path matters.
@pytest.mark.filterwarnings("ignore::homodyne_cmc.errors.CMCWarning")
def test_dask_matches_local_backend_and_survives_a_killed_worker(small_cmc_problem, tmp_path):
    from distributed import Client, LocalCluster
    from homodyne_cmc import fit_cmc
    from homodyne_cmc.dask_backend import DaskBackend

    sim, nlsq, config = small_cmc_problem
    local = _local_reference(sim, nlsq, config(tmp_path / "local"))

    killed: list[int] = []
    lock = threading.Lock()
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):

        def kill_one_busy_worker(progress):
            # After the first shard is back, SIGKILL a worker that is sampling another shard.
            with lock:
                if killed or progress.done < 1:
                    return
                busy = [addr for addr, keys in client.processing().items() if keys]
                if not busy:
                    return
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        backend = DaskBackend(client=client, progress=kill_one_busy_worker)
        result = fit_cmc(sim.data, nlsq, config(tmp_path / "dask"), backend=backend)

    assert killed, "no worker was killed: the test did not exercise recovery"
    assert result.backend == "dask"
    assert not result.failed and sorted(result.shard_ids) == sorted(local.shard_ids)
    a, b = shard_draws_by_id(local), shard_draws_by_id(result)
    for sid in a:
        # Same task, same seed, same single-threaded XLA program: identical up to rounding.
        np.testing.assert_allclose(b[sid], a[sid], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.draws, local.draws, rtol=1e-9, atol=1e-12)
    # every finished shard was written to disk under the same resume keys, including one
    # that the consensus then excluded for its divergence rate
    assert result.excluded == local.excluded
    stored = sorted(p.name for p in (tmp_path / "dask" / "shards").rglob("shard-*.npz"))
    assert len(stored) == len(local.shard_ids) + len(local.excluded)
