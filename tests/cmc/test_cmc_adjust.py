"""Curvature-adjusted CMC likelihood for frame-correlated noise (issue 18, item 3)."""

import json

import numpy as np
import pytest

from homodyne_cmc.adjust import curvature_matrix, plan_adjustment
from homodyne_physics import ModelSpec, Prior

TRUTH = {"D0": 2.0e4, "alpha": -0.5, "D_offset": 2000.0}
NAMES = ("D0", "alpha")


def _spec():
    # a wide D0 prior: the data, not the registry prior, must set the posterior width; D0 and
    # D_offset are not both determined by 60 frames of 2 x 100 pixels: D_offset held fixed
    priors = {"D0": Prior("TruncatedNormal", 1e4, 1e5, 100.0, 1e5)}
    return ModelSpec.create("static", initial=TRUTH, priors=priors, fixed=["D_offset"])


def test_curvature_matrix_gives_the_robust_curvature():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    naive = a @ a.T + 3 * np.eye(3)
    b = rng.standard_normal((3, 3))
    robust = 25.0 * (b @ b.T + 3 * np.eye(3))
    c = curvature_matrix(naive, robust)
    np.testing.assert_allclose(c.T @ np.linalg.inv(naive) @ c, np.linalg.inv(robust), rtol=1e-10)


def test_independent_noise_leaves_the_likelihood_alone():
    from homodyne_data import simulate
    from homodyne_nlsq import NLSQConfig, fit_nlsq

    sim = simulate("static", TRUTH, phi=(0.0, 45.0, 90.0), n_frames=60, noise=0.01, seed=4)
    res = fit_nlsq(sim.data, _spec(), NLSQConfig(robust_covariance="always"))
    from homodyne_cmc.warmstart import load_warm_start

    frame = load_warm_start(res).frame_correlation
    center = np.array([res.values[n] for n in NAMES])
    auto = plan_adjustment(frame, NAMES, center, "auto")
    assert not auto.active and "independent" in auto.reason
    forced = plan_adjustment(frame, NAMES, center, "curvature")
    assert forced.active
    # the adjustment is about the identity: sd ratios within 15 % of 1
    for n, r in forced.sd_ratio.items():
        assert r == pytest.approx(1.0, abs=0.15), (n, forced.sd_ratio)


@pytest.fixture(scope="module")
def speckle_case():
    from homodyne_data import simulate_speckle
    from homodyne_nlsq import fit_nlsq

    sim = simulate_speckle("static", TRUTH, phi=[0.0, 90.0], n_frames=60, n_pixels=100, seed=2)
    return sim, fit_nlsq(sim.data, _spec())


@pytest.mark.slow  # two CMC runs, about 80 s here
@pytest.mark.filterwarnings("ignore::homodyne_cmc.errors.CMCWarning")
def test_cmc_posterior_follows_the_robust_nlsq_errors(tmp_path, speckle_case):
    from homodyne_cmc import CMCConfig, fit_cmc

    sim, nlsq = speckle_case
    assert nlsq.error_model["used"] == "frame-correlated"
    # no force: the quality gate does not enforce its neighbour-difference noise ratio (~13
    # here) on frame-correlated residuals, which that noise level cannot see
    base = dict(
        num_warmup=300,
        num_samples=400,
        num_chains=2,
        backend="sequential",
        num_shards=2,
        seed=1,
    )
    cmc = fit_cmc(sim.data, nlsq, CMCConfig(**base))
    assert cmc.gate["passed"] and not cmc.gate["enforced"] and cmc.gate["value"] > 10
    adj = cmc.combination["likelihood_adjustment"]
    assert adj["kind"] == "curvature" and "Chandler" in adj["reference"]
    ratios = {n: cmc.summary[n]["sd"] / nlsq.errors_robust[n] for n in NAMES}
    for r in ratios.values():  # measured 1.01, 1.00 (without adjustment 0.19, 0.14)
        assert 0.75 <= r <= 1.25, ratios
    # without the adjustment the posterior is as narrow as the independent-noise errors
    plain = fit_cmc(sim.data, nlsq, CMCConfig(likelihood_adjustment="none", **base))
    assert plain.combination["likelihood_adjustment"]["kind"] == "none"
    for n in NAMES:
        assert plain.summary[n]["sd"] < 0.5 * cmc.summary[n]["sd"], n
    paths = cmc.write(tmp_path)
    import xarray as xr

    tree = xr.open_datatree(paths["posterior.nc"], engine="h5netcdf")
    attrs = json.loads(tree["posterior"].attrs["likelihood_adjustment"])
    assert attrs["kind"] == "curvature" and attrs["names"] == list(NAMES)
