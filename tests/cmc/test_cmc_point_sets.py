"""CMC on point-set data (multi-tau two-time): weights reach the likelihood of every shard, the
posterior agrees with the weighted NLSQ fit, and fitted_data.npz holds the points."""

import numpy as np
import pytest

from homodyne_physics import ModelSpec, Prior

TRUTH = {"D0": 2.0e4, "alpha": -0.5, "D_offset": 1000.0}
PRIORS = {
    "D0": Prior("TruncatedNormal", 1e4, 1e5, 100.0, 1e5),
    "D_offset": Prior("TruncatedNormal", 0.0, 1e4, -1e5, 1e5),
}


@pytest.fixture(scope="module")
def multitau_case():
    import homodyne_data as hd
    from homodyne_nlsq import fit_nlsq

    sim = hd.simulate("static", TRUTH, phi=(0.0, 90.0), n_frames=64, noise=0.01, seed=11)
    data = hd.coarsen_multitau(sim.data, levels=4, per_level=4)
    nlsq = fit_nlsq(data, ModelSpec.create("static", priors=PRIORS))
    return data, nlsq


def test_shards_carry_the_square_root_of_the_weights():
    from homodyne_cmc.sharding import make_shards

    y = np.arange(12.0).reshape(2, 6)
    wt = np.array([[1, 4, 16, 1, 4, 16]] * 2, float)
    shards = make_shards(y, np.arange(6), np.arange(1, 7), 2, seed=0, wt=wt)
    got = np.concatenate([s.w for s in shards], axis=1)
    cols = np.concatenate([s.j - 1 for s in shards])
    np.testing.assert_array_equal(got, np.sqrt(wt[:, cols]))
    assert sum(s.n_points for s in shards) == 12


def test_point_set_noise_level_is_that_of_a_unit_weight_point(multitau_case):
    from homodyne_cmc import noise_level

    data, nlsq = multitau_case
    assert noise_level(data) == pytest.approx(0.01, rel=0.15)
    assert nlsq.sigma == pytest.approx(0.01, rel=0.1)


@pytest.mark.slow
def test_cmc_on_multitau_matches_the_weighted_nlsq_fit(multitau_case, tmp_path):
    from homodyne_cmc import CMCConfig, fit_cmc

    data, nlsq = multitau_case
    cfg = CMCConfig(
        num_warmup=200, num_samples=300, num_chains=2, backend="sequential", num_shards=2, seed=3
    )
    res = fit_cmc(data, nlsq, cfg)
    for n in TRUTH:
        post = res.summary[n]
        assert abs(post["mean"] - nlsq.values[n]) < 0.5 * nlsq.errors[n], n
        assert 0.7 <= post["sd"] / nlsq.errors[n] <= 1.4, n
    paths = res.write(tmp_path, data)
    saved = np.load(paths["fitted_data.npz"])
    assert saved["c2_fit"].shape == (2, data.n_points)
    np.testing.assert_array_equal(saved["weights"], data.points.weights)
