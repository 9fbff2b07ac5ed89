"""Resume: a run killed with SIGKILL after some shards finished is resumed by rerunning the
same call; finished shards are loaded (not resampled) and the result equals an uninterrupted
run with the same seeds."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from homodyne_physics import ModelSpec

RUN = r"""
import sys
import time
from homodyne_data import simulate
from homodyne_cmc import CMCConfig, fit_cmc
sim = simulate("static", {"D0": 2.0e4, "alpha": -0.5, "D_offset": 1000.0},
               phi=(0.0, 90.0), n_frames=40, noise=0.01, seed=3)
cfg = CMCConfig(num_shards=6, num_warmup=150, num_samples=150, num_chains=2,
                backend="sequential", min_points_per_shard=100, cache_dir=sys.argv[2])
# slow the run down after each finished shard, so the parent can kill it mid-run
fit_cmc(sim.data, sys.argv[1], cfg,
        progress=lambda p: time.sleep(3.0) if p.last is not None else None)
"""


def _config(cache):
    from homodyne_cmc import CMCConfig

    return CMCConfig(
        num_shards=6,
        num_warmup=150,
        num_samples=150,
        num_chains=2,
        backend="sequential",
        min_points_per_shard=100,
        cache_dir=str(cache),
    )


def test_killed_run_resumes_and_equals_uninterrupted(tmp_path):
    import warnings

    from homodyne_cmc import fit_cmc
    from homodyne_data import simulate
    from homodyne_nlsq import fit_nlsq

    sim = simulate(
        "static",
        {"D0": 2.0e4, "alpha": -0.5, "D_offset": 1000.0},
        phi=(0.0, 90.0),
        n_frames=40,
        noise=0.01,
        seed=3,
    )
    nlsq = fit_nlsq(sim.data, ModelSpec.create("static"))
    run_dir = tmp_path / "previous_run"
    (run_dir / "nlsq").mkdir(parents=True)
    (run_dir / "nlsq" / "parameters.json").write_text(json.dumps(nlsq.to_dict()))
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN, str(run_dir), str(killed)],
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 400
    while time.time() < deadline and proc.poll() is None:
        if killed.is_dir() and len(list(killed.glob("shard-*.npz"))) >= 2:
            break
        time.sleep(0.2)
    if proc.poll() is not None:
        pytest.fail(f"the run ended before it could be killed: {proc.stderr.read().decode()}")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {p.name: p.stat().st_mtime_ns for p in killed.glob("shard-*.npz")}
    assert 2 <= len(done) < 6
    assert not list(killed.glob(".*"))  # atomic writes leave no partial files behind

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny shards: diagnostics warnings are expected
        resumed = fit_cmc(sim.data, run_dir, _config(killed))
        fresh = fit_cmc(sim.data, run_dir, _config(tmp_path / "fresh"))
    assert resumed.n_cached == len(done)
    sources = {s["index"]: s["source"] for s in resumed.shards}
    assert sum(v == "cache" for v in sources.values()) == len(done)
    for name, mtime in done.items():  # finished shards were not rewritten
        assert (killed / name).stat().st_mtime_ns == mtime
    assert fresh.n_cached == 0
    np.testing.assert_array_equal(resumed.shard_draws, fresh.shard_draws)
    np.testing.assert_array_equal(resumed.draws, fresh.draws)
