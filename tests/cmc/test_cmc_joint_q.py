"""CMC on a joint dataset of several q rings (issue 16): per-ring scaling, sharded vs full NUTS."""

import numpy as np
import pytest

from homodyne_physics import ModelSpec

pytestmark = pytest.mark.slow

STATIC = {"D0": 1.2e4, "alpha": -0.6, "D_offset": 300.0}


def _ring(q, seed, n_t=50, phi=(10.0, 70.0, 130.0)):
    """Model matrices (one ring) plus independent noise 0.01 per (t1 < t2) pair, mirrored."""
    import homodyne_physics as hp
    from homodyne_data import XPCSData

    model = hp.C2Model("static", q=q, dt=0.1)
    theta = np.array([STATIC[n] for n in model.parameter_names])
    frames = np.arange(1, n_t + 1)
    with hp.float64():
        clean = np.asarray(hp.c2_matrix(model, theta, 0.3, 1.0, frames * 0.1, np.array(phi)))
    upper = np.triu(np.random.default_rng(seed).standard_normal(clean.shape), 1) * 0.01
    return XPCSData(clean + upper + np.swapaxes(upper, 1, 2), phi, q, 0.1, frames)


def test_cmc_on_two_rings_matches_full_data_nuts():
    """2 rings x 3 angles x 50 frames, 4 shards against 1 (measured |d mean| / sd: D0 0.42,
    alpha 0.09, D_offset 0.08, scaling entries about 0.5; the 0.2 sd of the issue is for
    realistic sizes, see test_cmc_slow.py)."""
    from homodyne_cmc import CMCConfig, fit_cmc
    from homodyne_data import join_rings
    from homodyne_nlsq import fit_nlsq

    joint = join_rings([_ring(0.003, 0), _ring(0.006, 1)])
    nlsq = fit_nlsq(joint, ModelSpec.create("static"))
    base = dict(
        num_warmup=200,
        num_samples=300,
        num_chains=2,
        backend="sequential",
        min_points_per_shard=500,
        dense_mass=True,
        seed=1,
    )
    full = fit_cmc(joint, nlsq, CMCConfig(num_shards=1, **base))
    cmc = fit_cmc(joint, nlsq, CMCConfig(num_shards=4, **base))
    assert {"contrast@r0", "contrast@r1", "offset@r0", "offset@r1"} <= set(full.names)
    assert full.model.q == (0.003,) * 3 + (0.006,) * 3
    for n in ("D0", "alpha", "D_offset"):
        ref, got = full.summary[n], cmc.summary[n]
        assert abs(got["mean"] - ref["mean"]) < 0.6 * ref["sd"], n
        assert abs(ref["mean"] - STATIC[n]) < 3 * ref["sd"] + 0.05 * abs(STATIC[n]), n
