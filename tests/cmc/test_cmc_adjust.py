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


def test_prefactors_are_adjusted_in_log_coordinates():
    """The map is linear in (log D0, alpha, log gamma_dot_t0, beta, phi0); at the centre its
    Jacobian (the sampler's map, differentiated by JAX) is the one the Laplace covariance uses,
    and that covariance is the robust one."""
    from types import SimpleNamespace

    import jax
    import jax.numpy as jnp

    from homodyne_cmc.sampler import _adjusted

    names = ("D0", "alpha", "gamma_dot_t0", "beta", "phi0")
    center = np.array([1500.0, 0.4, 2.0e-4, 0.3, 3.0])
    rng = np.random.default_rng(3)
    sd = np.array([300.0, 0.05, 1.5e-5, 0.01, 0.1])
    a = rng.standard_normal((5, 5))
    corr = np.corrcoef(a @ a.T + 5 * np.eye(5))
    naive = corr * np.outer(sd, sd)
    b = rng.standard_normal((5, 5))
    robust = 30.0 * np.corrcoef(b @ b.T + 5 * np.eye(5)) * np.outer(sd, sd)
    frame = {"used": "frame-correlated", "names": list(names) + ["contrast[0]"]}
    frame["cov_independent"] = np.pad(naive, ((0, 1), (0, 1))) + np.diag([0] * 5 + [1e-4])
    frame["cov_robust"] = np.pad(robust, ((0, 1), (0, 1))) + np.diag([0] * 5 + [1e-4])
    adj = plan_adjustment(frame, names, center)
    assert adj.active and adj.log_mask.tolist() == [True, False, True, False, False]
    assert adj.to_dict()["coordinates"][0] == "log D0"
    # the Laplace covariance under the adjusted likelihood is the robust covariance
    np.testing.assert_allclose(adj.adjusted_covariance(naive), robust, rtol=1e-9, atol=0)
    # a centre entry of 0 outside the log coordinates (phi0 = 0) divides nothing
    at_zero = plan_adjustment(frame, names, np.array([1500.0, 0.4, 2.0e-4, 0.3, 0.0]))
    np.testing.assert_allclose(at_zero.adjusted_covariance(naive), robust, rtol=1e-9, atol=0)
    low, high = np.array([100, -2, 1e-6, -2, -10.0]), np.array([1e5, 2, 0.5, 2, 10.0])
    common = SimpleNamespace(
        adj_center=jnp.asarray(center),
        adj_matrix=jnp.asarray(adj.matrix),
        adj_log=jnp.asarray(adj.log_mask),
        space=SimpleNamespace(low=jnp.asarray(low), high=jnp.asarray(high)),
    )
    np.testing.assert_allclose(np.asarray(_adjusted(jnp.asarray(center), common)), center)
    jac = jax.jacfwd(lambda x: _adjusted(x, common))(jnp.asarray(center))
    np.testing.assert_allclose(np.asarray(jac), adj.linear_map(), rtol=1e-9, atol=1e-12)
    # linear in log D0 (so a ridge log D0 + alpha log t_p = const maps to a straight line):
    # equal steps in log D0 give equal steps in log D0*
    x1 = center.copy()
    x1[0] *= np.exp(0.5)
    x2 = center.copy()
    x2[0] *= np.exp(1.0)
    v = [np.log(np.asarray(_adjusted(jnp.asarray(x), common))[0]) for x in (center, x1, x2)]
    assert v[2] - v[1] == pytest.approx(v[1] - v[0], rel=1e-9)


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
    print("posterior sd / robust NLSQ error", ratios)
    for r in ratios.values():  # measured 0.95, 1.03 (without adjustment 0.19, 0.14)
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
