"""Shared small CMC problem for the distributed-backend tests (computed once per session)."""

import numpy as np
import pytest

from homodyne_physics import ModelSpec


@pytest.fixture(scope="session")
def small_cmc_problem():
    """Static-mode data (2 angles x 60 frames), its NLSQ fit and a quick CMC configuration."""
    import homodyne_physics as hp
    from homodyne_cmc import CMCConfig
    from homodyne_data import simulate
    from homodyne_nlsq import fit_nlsq

    sim = simulate(
        "static",
        {"D0": 1800.0, "alpha": 0.0, "D_offset": 5.0},
        phi=(0.0, 90.0),
        n_frames=80,
        noise=0.01,
        seed=11,
    )
    nlsq = fit_nlsq(sim.data, ModelSpec.create("static"))
    assert nlsq.converged

    def config(tmp_path, **kw):
        base = dict(
            num_warmup=120,
            num_samples=100,
            num_chains=2,
            num_shards=4,
            min_points_per_shard=1000,
            seed=5,
            cache_dir=str(tmp_path / "shards"),
            compilation_cache_dir=str(tmp_path.parent / "jax-cache"),
        )
        base.update(kw)
        return CMCConfig(**base)

    with hp.float64():
        yield sim, nlsq, config


def shard_draws_by_id(result) -> dict[int, np.ndarray]:
    """Per-shard draws keyed by shard id (order-independent comparison)."""
    return {sid: result.shard_draws[k] for k, sid in enumerate(result.shard_ids)}
