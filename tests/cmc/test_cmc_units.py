"""Fast checks of the CMC building blocks: config, sharding, parameterisation, priors,
combination, heterogeneity, warm-start gate, and the shard likelihood vs the physics kernel."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats


def test_config_errors_name_the_key_path():
    from homodyne_cmc import CMCConfig, CMCConfigError

    with pytest.raises(CMCConfigError, match=r"optimization\.cmc\.num_chains"):
        CMCConfig.from_dict({"num_chains": 0})
    with pytest.raises(CMCConfigError, match=r"optimization\.cmc\.num_sample.*did you mean"):
        CMCConfig.from_dict({"num_sample": 10})
    # priors are the model spec's (one home): not a CMC setting any more; the YAML key
    # optimization.cmc.priors is read by the CLI into the spec (tests/cli/test_config.py)
    with pytest.raises(CMCConfigError, match=r"x\.y\.priors: unknown key"):
        CMCConfig.from_dict({"priors": {"D0": {"family": "Normal"}}}, path="x.y")
    cfg = CMCConfig.from_dict({"num_chains": 2, "prior_centres_from_nlsq": True})
    assert "priors" not in cfg.to_dict()
    assert CMCConfig.from_dict(cfg.to_dict()) == cfg


def test_shards_are_angle_balanced_disjoint_and_seeded():
    from homodyne_cmc import make_shards

    rng = np.random.default_rng(0)
    i, j = np.triu_indices(30, k=1)
    y = rng.normal(size=(3, i.size))
    y[1, 5] = np.nan
    shards = make_shards(y, i, j, 7, seed=3)
    again = make_shards(y, i, j, 7, seed=3)
    assert len({s.y.shape for s in shards}) == 1  # equal shapes: one compilation
    seen = []
    for s, s2 in zip(shards, again, strict=True):
        np.testing.assert_array_equal(s.i, s2.i)
        real = s.w[0] > 0
        pairs = set(zip(s.i[real].tolist(), s.j[real].tolist(), strict=True))
        seen += list(pairs)
        # every angle of a real pair is present unless it is NaN: shards see every angle
        assert np.all(s.w[2] == s.w[0])
    assert len(seen) == len(set(seen)) == i.size
    assert sum(s.n_points for s in shards) == np.isfinite(y).sum()
    other = make_shards(y, i, j, 7, seed=4)
    assert not np.array_equal(other[0].i, shards[0].i)


def test_shard_count_rules():
    from homodyne_cmc import choose_num_shards

    n, why = choose_num_shards(1_000_000, 10, 2)
    assert n % 2 == 0 and 1_000_000 / n <= 200_000 and "worker" in why
    n, _ = choose_num_shards(30_000, 10, 8)  # too few points for 8 shards of >= 20k
    assert n == 1
    assert choose_num_shards(30_000, 10, 8, requested=5)[0] == 5


@pytest.fixture
def laminar_space():
    from homodyne_cmc import build_space
    from homodyne_physics import C2Model, make_scaling

    model = C2Model("laminar_flow", q=0.0054, dt=0.1)
    scaling = make_scaling("individual", [0.0, 60.0])
    return model, build_space(model, scaling, 0.1 * np.arange(1, 51))


def test_bijection_roundtrip_jacobian_and_positive_diffusion(laminar_space):
    from homodyne_cmc.parameterization import to_physical, to_unconstrained

    model, space = laminar_space
    arrays = space.jax_arrays()
    x = jnp.array([2e4, -0.5, 500.0, 2e-4, 0.3, 1e-4, 3.0, 0.3, 0.31, 1.0, 1.01, 0.01])
    u = to_unconstrained(x, space.static, arrays)
    back, logdet = to_physical(u, space.static, arrays)
    np.testing.assert_allclose(back, x, rtol=1e-10)  # exact inverse up to rounding
    jac = jax.jacfwd(lambda v: to_physical(v, space.static, arrays)[0])(u)
    np.testing.assert_allclose(logdet, np.linalg.slogdet(np.asarray(jac))[1], rtol=1e-10)
    # any unconstrained point gives D(t) >= 0 over the data's time range
    t = np.asarray(space.arrays.t_lim)
    for seed in range(20):
        uu = jax.random.normal(jax.random.PRNGKey(seed), u.shape) * 4.0
        xx = np.asarray(to_physical(uu, space.static, arrays)[0])
        d_t = xx[0] * t ** xx[1] + xx[2]
        assert np.all(d_t >= -1e-9 * xx[0])


def test_reference_value_space_inverse_and_jacobian(laminar_space):
    """v = (f(t_a), u_b, f(t_b)) per power law: exact inverse, log|det dv/du| against
    jax.jacfwd, and the physical meaning of the replaced coordinates."""
    from homodyne_cmc import CombinationSpace
    from homodyne_cmc.combination_space import (
        from_combination,
        log_det_dv_du,
        reference_times,
        to_combination,
    )
    from homodyne_cmc.parameterization import to_physical, to_unconstrained

    model, space = laminar_space
    arrays = space.jax_arrays()
    comb = CombinationSpace(((0, 1, 2), (3, 4, 5)))
    t_ref = reference_times(space.arrays.t_lim)
    np.testing.assert_allclose(t_ref, [np.sqrt(0.1 * 5.0), 5.0])
    x = jnp.array([2e4, -0.5, 500.0, 2e-4, 0.3, 1e-4, 3.0, 0.3, 0.31, 1.0, 1.01, 0.01])
    u = to_unconstrained(x, space.static, arrays)
    v = to_combination(u, space.static, arrays, comb, jnp.asarray(t_ref))
    ta, tb = t_ref
    np.testing.assert_allclose(v[0], 2e4 * ta**-0.5 + 500.0, rtol=1e-12)  # D(t_a)
    np.testing.assert_allclose(v[5], 2e-4 * tb**0.3 + 1e-4, rtol=1e-12)  # gamma_dot(t_b)
    keep = np.array([1, 4, 6, 7])
    np.testing.assert_allclose(v[keep], u[keep])  # exponents etc. stay in u
    back, inside = from_combination(v, space.static, arrays, comb, jnp.asarray(t_ref))
    np.testing.assert_allclose(back, x, rtol=1e-9)
    assert bool(inside)
    jac = jax.jacfwd(lambda w: to_combination(w, space.static, arrays, comb, jnp.asarray(t_ref)))
    for seed in range(5):
        uu = u + 0.3 * jax.random.normal(jax.random.PRNGKey(seed), u.shape)
        want = np.linalg.slogdet(np.asarray(jac(uu)))[1]
        got = log_det_dv_du(uu, space.static, arrays, comb, jnp.asarray(t_ref))
        np.testing.assert_allclose(got, want, rtol=1e-9)
        xx, _ = to_physical(uu, space.static, arrays)
        back, _ = from_combination(
            to_combination(uu, space.static, arrays, comb, jnp.asarray(t_ref)),
            space.static,
            arrays,
            comb,
            jnp.asarray(t_ref),
        )
        np.testing.assert_allclose(back, xx, rtol=1e-8)
    # a prefactor pushed below its bound by averaging is reported as outside the support
    bad = v.at[2].set(v[0] - 1.0)  # D(t_b) < D(t_a) with alpha < 0 -> negative D0
    assert not bool(from_combination(bad, space.static, arrays, comb, jnp.asarray(t_ref))[1])


def test_reference_laws_are_chosen_only_away_from_a_zero_exponent():
    from homodyne_cmc import choose_reference_laws

    names = ("D0", "alpha", "D_offset", "gamma_dot_t0", "beta", "gamma_dot_t_offset", "phi0")
    mean = np.array([2e4, -0.5, 500.0, 2e-4, 0.01, 1e-4, 3.0])
    cov = np.diag([100.0, 0.01, 10.0, 1e-10, 0.01, 1e-10, 0.1]) ** 2
    comb, why = choose_reference_laws(names, mean, cov, 4, "auto")
    assert comb.laws == ((0, 1, 2),)  # beta = 0.01 is 0.5 shard sd from 0: stays in u
    assert "singular" in why["gamma_dot"]
    assert choose_reference_laws(names, mean, cov, 4, "reference")[0].laws == (
        (0, 1, 2),
        (3, 4, 5),
    )
    assert choose_reference_laws(names, mean, cov, 4, "unconstrained")[0].laws == ()
    assert choose_reference_laws(names, mean, cov, 1, "reference")[0].laws == ()
    assert comb.names(names, np.array([1.0, 20.0]))[:3] == ("D(t=1s)", "alpha", "D(t=20s)")


def test_tempered_prior_moments_match_truncated_normal():
    from homodyne_cmc import prior_moments
    from homodyne_physics import Prior, get_spec

    for name, power in (("D0", 1.0), ("D0", 0.25), ("alpha", 0.1), ("phi0", 1.0)):
        p = get_spec(name).prior
        sd = p.sd / np.sqrt(power)  # prior^(1/S) of a normal: sd x sqrt(S)
        ref = stats.truncnorm((p.low - p.mean) / sd, (p.high - p.mean) / sd, p.mean, sd)
        m, s = prior_moments(p, power)
        # quadrature on 40001 points: relative accuracy far below 1e-4; a mean of 0 (phi0)
        # comes out as round-off, so the mean is compared in units of the prior sd
        np.testing.assert_allclose(m, ref.mean(), rtol=1e-4, atol=1e-9 * p.sd)
        np.testing.assert_allclose(s, ref.std(), rtol=1e-4)
    beta = Prior("BetaScaled", 0.3, 0.1, 0.0, 1.0)
    a = 0.3 * (0.3 * 0.7 / 0.01 - 1)
    b = 0.7 * (0.3 * 0.7 / 0.01 - 1)
    np.testing.assert_allclose(prior_moments(beta), [0.3, stats.beta(a, b).std()], rtol=1e-3)


def test_consensus_of_gaussian_shards_equals_their_product():
    from homodyne_cmc import consensus_combine, heterogeneity_test

    rng = np.random.default_rng(1)
    d, n_s = 3, 5
    means, covs, draws = [], [], []
    for _ in range(n_s):
        a = rng.normal(size=(d, d))
        cov = a @ a.T + d * np.eye(d)
        mean = rng.normal(size=d) * 0.1
        means.append(mean)
        covs.append(cov)
        draws.append(rng.multivariate_normal(mean, cov, size=(4, 20000)))
    comb = consensus_combine(draws)
    lam = sum(np.linalg.inv(c) for c in covs)
    target_cov = np.linalg.inv(lam)
    target_mean = target_cov @ sum(np.linalg.inv(c) @ m for c, m in zip(covs, means, strict=True))
    flat = comb.draws.reshape(-1, d)
    sd = np.sqrt(np.diag(target_cov))
    # 80000 draws: Monte Carlo error of the mean ~ sd / 280, of the covariance ~ 1%
    np.testing.assert_allclose(flat.mean(0), target_mean, atol=0.02 * sd.max())
    np.testing.assert_allclose(np.cov(flat.T), target_cov, rtol=0.05, atol=0.03 * sd.max() ** 2)
    np.testing.assert_allclose(comb.product_cov, target_cov, rtol=0.05, atol=0.03 * sd.max() ** 2)
    assert comb.draws.shape == (4, 20000, d)  # chains stay chains
    het = heterogeneity_test(comb)
    assert het["dof"] == (n_s - 1) * d
    np.testing.assert_allclose(het["p_value"], stats.chi2.sf(het["q"], het["dof"]), rtol=1e-8)
    # a shifted shard is flagged
    draws[0] = draws[0] + 10 * np.sqrt(np.diag(covs[0]))
    assert heterogeneity_test(consensus_combine(draws))["p_value"] < 1e-6


def test_shard_log_density_matches_direct_likelihood():
    """The sampler's potential equals log-likelihood + (log prior + log|J|)/S computed another way
    (full c2 matrices from homodyne_physics.c2_matrix, numpy sums)."""
    from homodyne_cmc import build_space, make_shards
    from homodyne_cmc.parameterization import log_prior, to_physical
    from homodyne_cmc.sampler import CommonArrays, SamplerSettings, ShardArrays, shard_log_density
    from homodyne_physics import C2Model, c2_matrix, make_scaling, pair_indices

    model = C2Model("laminar_flow", q=0.0054, dt=0.1)
    phi = np.array([0.0, 60.0, 120.0])
    t = 0.1 * np.arange(1, 31)
    sc = make_scaling("auto", phi)
    space = build_space(model, sc, t)
    rng = np.random.default_rng(2)
    i, j = pair_indices(30)
    y = 1.0 + 0.3 * rng.random((3, i.size))
    shard = make_shards(y, i, j, 3, seed=0)[1]
    arrays = space.jax_arrays()
    d = space.static.dim
    common = CommonArrays(
        t,
        phi,
        sc.design_contrast,
        sc.design_offset,
        sc.fixed_contrast,
        sc.fixed_offset,
        space.arrays,
        rng.normal(size=d) * 0.3,
        np.diag(rng.uniform(0.1, 0.5, d)),
        np.float64(1 / 3),
        np.float64(0.0),
        np.array([0.5, 3.0]),
        np.float64(0.0),
    )
    settings = SamplerSettings(model, space.static, sc.n_contrast, 1, 1, 1)
    z = rng.normal(size=d)
    got = shard_log_density(
        jnp.asarray(z),
        ShardArrays(*map(jnp.asarray, (shard.y, shard.w, shard.i, shard.j))),
        jax.tree.map(jnp.asarray, common),
        settings,
    )
    u = common.u0 + common.chol @ z
    x, logdet = to_physical(jnp.asarray(u), space.static, arrays)
    x = np.asarray(x)
    full = np.asarray(c2_matrix(model, x[:7], x[7], x[8], t, phi))
    real = shard.w[0] > 0
    r = shard.y[:, real] - full[:, shard.i[real], shard.j[real]]
    sigma = x[-1]
    ll = -0.5 * np.sum(r**2) / sigma**2 - r.size * np.log(sigma)
    # prior density of u (prior of x times |dx/du|) tempered by 1/S with S = 3
    want = ll + (float(log_prior(jnp.asarray(x), space.static, arrays)) + float(logdet)) / 3
    np.testing.assert_allclose(float(got), want, rtol=1e-12)

    # combining in the reference-value space v: the shards carry |dv/du|^(1 - 1/S), so the
    # product of the three shard densities of v is exactly the full-data posterior of v
    from homodyne_cmc import CombinationSpace
    from homodyne_cmc.combination_space import log_det_dv_du

    comb = CombinationSpace(((0, 1, 2), (3, 4, 5)))
    shards = make_shards(y, i, j, 3, seed=0)
    three = common._replace(jac_power=np.float64(2 / 3))
    one = common._replace(prior_power=np.float64(1.0))
    st = SamplerSettings(model, space.static, sc.n_contrast, 1, 1, 1, combination=comb)
    k_u = float(
        log_det_dv_du(jnp.asarray(u), space.static, arrays, comb, jnp.asarray(common.t_ref))
    )

    def dens(sh, com, settings):
        arrs = ShardArrays(*map(jnp.asarray, (sh.y, sh.w, sh.i, sh.j)))
        return float(
            shard_log_density(jnp.asarray(z), arrs, jax.tree.map(jnp.asarray, com), settings)
        )

    whole = make_shards(y, i, j, 1, seed=0)[0]
    product_v = sum(dens(sh, three, st) for sh in shards) - 3 * k_u
    full_v = dens(whole, one, SamplerSettings(model, space.static, sc.n_contrast, 1, 1, 1)) - k_u
    assert abs(k_u) > 1.0  # the Jacobian term is not trivially zero here
    np.testing.assert_allclose(product_v, full_v, rtol=1e-11)


def test_warm_start_gate_and_loading(tmp_path):
    from homodyne_cmc import WarmStartError, check_warm_start, load_warm_start, noise_level
    from homodyne_data import simulate

    sim = simulate(
        "static",
        {"D0": 2e4, "alpha": -0.5, "D_offset": 1000.0},
        phi=(0.0, 90.0),
        n_frames=40,
        noise=0.01,
        seed=0,
    )
    # model-free noise estimate recovers the simulated noise (noise at lag > 0 is ~0.01)
    assert 0.007 < noise_level(sim.data) < 0.013
    record = {
        "mode": "static",
        "convention": "physical",
        "scaling_mode": "individual",
        "parameters": {
            n: {"value": sim.truth[n], "error": 1.0} for n in ("D0", "alpha", "D_offset")
        },
        "contrast": [0.3, 0.3],
        "offset": [1.0, 1.0],
        "sigma": 0.0101,
        "sigma_source": "estimated",
        "reduced_chi2": 1.0e-4,
        "converged": True,
    }
    (tmp_path / "nlsq").mkdir()
    (tmp_path / "nlsq" / "parameters.json").write_text(json.dumps(record))
    ws = load_warm_start(tmp_path)
    assert ws.spec.mode == "static" and ws.spec.convention == "physical"  # spec of old files
    gate = check_warm_start(ws, sim.data, 10.0, False)
    assert gate["passed"] and 0.5 < gate["value"] < 2.0
    bad = load_warm_start({**record, "sigma": 0.2})  # residuals 20x the noise: poor fit
    with pytest.raises(WarmStartError, match=r"CMC skipped.*optimization\.cmc\.max_noise_ratio"):
        check_warm_start(bad, sim.data, 10.0, False)
    # its own threshold: max_reduced_chi2 does not gate an estimated sigma
    assert check_warm_start(bad, sim.data, 1.0, False, max_noise_ratio=1e3)["passed"]
    assert check_warm_start(bad, sim.data, 10.0, True)["forced"]
    user = load_warm_start({**record, "sigma_source": "user", "reduced_chi2": 30.0})
    with pytest.raises(WarmStartError, match=r"reduced chi2 = 30 > 10.*max_reduced_chi2"):
        check_warm_start(user, sim.data, 10.0, False, max_noise_ratio=1e3)
    # frame-correlated NLSQ residuals: the neighbour-difference ratio is reported, not gated
    corr = load_warm_start(
        {
            **record,
            "sigma": 0.2,
            "names": ["D0", "alpha", "D_offset"],
            "error_model": {"used": "frame-correlated"},
        }  # fmt: skip
    )
    gate = check_warm_start(corr, sim.data, 10.0, False)
    assert gate["passed"] and not gate["enforced"] and not gate["forced"]
    assert gate["value"] > 100 and "frame-correlated" in gate["note"]
    with pytest.raises(WarmStartError, match="bad model spec"):
        load_warm_start({**record, "spec": {"mode": "static", "convention": "x", "gap": 1.0}})
    with pytest.raises(WarmStartError, match="no NLSQ result found"):
        load_warm_start(tmp_path / "missing")
