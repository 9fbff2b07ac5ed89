"""Sampling coordinates of homodyne_cmc.sampling_space: exact inverse, log|det dx/dw| against a
finite-difference Jacobian, an unchanged target density, and the same moments both ways."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

X_LAMINAR = [2e4, -0.5, 500.0, 2e-4, 0.3, 1e-4, 3.0, 0.3, 0.31, 1.0, 1.01, 0.01]


@pytest.fixture
def laminar():
    from homodyne_cmc import build_space
    from homodyne_cmc.sampling_space import SamplingSpace
    from homodyne_physics import C2Model, make_scaling

    model = C2Model("laminar_flow", q=0.0054, dt=0.1)
    scaling = make_scaling("individual", [0.0, 60.0])
    space = build_space(model, scaling, 0.1 * np.arange(1, 51))
    return model, scaling, space, SamplingSpace(((0, 1, 2, True), (3, 4, 5, False)))


def _fd_jacobian(fn, w, rel=1e-6):
    """Central finite differences (numpy), step relative to each coordinate."""
    w = np.asarray(w, np.float64)
    cols = []
    for k in range(w.size):
        h = rel * max(1.0, abs(w[k]))
        e = np.zeros_like(w)
        e[k] = h
        cols.append((np.asarray(fn(w + e)) - np.asarray(fn(w - e))) / (2 * h))
    return np.stack(cols, axis=1)


def test_sampling_coordinates_inverse_and_log_jacobian(laminar):
    from homodyne_cmc.sampling_space import from_sampling, to_sampling

    _, _, space, samp = laminar
    arrays = space.jax_arrays()
    x = jnp.array(X_LAMINAR)
    w = to_sampling(x, space.static, arrays, samp)
    t0, t1 = np.asarray(space.arrays.t_lim)
    np.testing.assert_allclose(w[0], np.log(2e4 * t0**-0.5 + 500.0), rtol=1e-12)  # log D(t_min)
    np.testing.assert_allclose(w[5], 2e-4 * t1**0.3 + 1e-4, rtol=1e-12)  # gamma_dot(t_max)
    with jax.enable_x64(True):
        fwd = jax.jit(lambda v: from_sampling(v, space.static, arrays, samp))
        back, _, inside = fwd(w)
        np.testing.assert_allclose(back, x, rtol=1e-9)
        assert bool(inside)
        rng = np.random.default_rng(3)
        for _ in range(5):
            ww = np.asarray(w) + 0.05 * rng.normal(size=w.shape) * np.maximum(1.0, np.abs(w))
            ww[[3, 5]] = np.asarray(w)[[3, 5]] * (1 + 0.05 * rng.normal(size=2))  # gamma_dot
            xx, logdet, ok = fwd(jnp.asarray(ww))
            assert bool(ok)
            jac = _fd_jacobian(lambda v: fwd(jnp.asarray(v))[0], ww)
            np.testing.assert_allclose(logdet, np.linalg.slogdet(jac)[1], rtol=1e-6, atol=1e-6)
            # the autodiff Jacobian (implicit derivative of the exponent) agrees too
            ad = jax.jacfwd(lambda v: fwd(v)[0])(jnp.asarray(ww))
            np.testing.assert_allclose(
                np.asarray(ad), jac, rtol=1e-5, atol=1e-9 * np.abs(jac).max()
            )
        # an exponent outside its bounds is outside the support
        bad = w.at[5].set(w[5] * 50.0)
        assert not bool(fwd(bad)[2])


def _density_setup(laminar, samp):
    from homodyne_cmc import make_shards
    from homodyne_cmc.sampler import CommonArrays, SamplerSettings, ShardArrays
    from homodyne_physics import pair_indices

    model, sc, space, _ = laminar
    t = 0.1 * np.arange(1, 51)
    i, j = pair_indices(50)
    y = 1.0 + 0.3 * np.random.default_rng(2).random((2, i.size))
    shard = make_shards(y, i, j, 3, seed=0)[1]
    d = space.static.dim
    common = CommonArrays(
        t, np.array([0.0, 60.0]), sc.design_contrast, sc.design_offset, sc.fixed_contrast,
        sc.fixed_offset, space.arrays, np.zeros(d), np.eye(d), np.float64(1 / 3),
        np.float64(0.0), np.array([0.7, 5.0]), np.float64(0.0),
    )  # fmt: skip
    arrs = ShardArrays(*map(jnp.asarray, (shard.y, shard.w, shard.i, shard.j)))
    settings = SamplerSettings(model, space.static, sc.n_contrast, 1, 1, 1, sampling=samp)
    return arrs, jax.tree.map(jnp.asarray, common), settings


def test_shard_density_is_invariant_under_the_change_of_variables(laminar):
    """log p_w(w) = log p_u(u(w)) + log|det du/dw| at random points (finite-difference
    Jacobian of w -> u), so NUTS in w targets the same posterior with the user's prior."""
    from homodyne_cmc.parameterization import to_unconstrained
    from homodyne_cmc.sampler import SamplerSettings, shard_log_density
    from homodyne_cmc.sampling_space import from_sampling, to_sampling

    _, _, space, samp = laminar
    arrays = space.jax_arrays()
    arrs, common, settings = _density_setup(laminar, samp)
    plain = SamplerSettings(*[getattr(settings, f) for f in ("model", "space", "n_contrast")],
                            1, 1, 1)  # fmt: skip
    with jax.enable_x64(True):
        dens_w = jax.jit(lambda v: shard_log_density(v, arrs, common, settings))
        dens_u = jax.jit(lambda v: shard_log_density(v, arrs, common, plain))
        u_of_w = jax.jit(
            lambda v: to_unconstrained(from_sampling(v, space.static, arrays, samp)[0],
                                       space.static, arrays)
        )  # fmt: skip
        w0 = np.asarray(to_sampling(jnp.array(X_LAMINAR), space.static, arrays, samp))
        rng = np.random.default_rng(5)
        for _ in range(4):
            w = w0 + 0.02 * rng.normal(size=w0.shape) * np.maximum(1.0, np.abs(w0))
            jac = _fd_jacobian(lambda v: u_of_w(jnp.asarray(v)), w)
            want = float(dens_u(u_of_w(jnp.asarray(w)))) + np.linalg.slogdet(jac)[1]
            np.testing.assert_allclose(float(dens_w(jnp.asarray(w))), want, rtol=1e-9)
            assert np.all(np.isfinite(np.asarray(jax.grad(dens_w)(jnp.asarray(w)))))
        # outside the support (offset beyond its bounds): -inf
        bad = w0.copy()
        bad[3] = 50.0  # gamma_dot_t0 at its upper bound with the end values kept
        bad[5] = w0[5] + 10.0
        assert float(dens_w(jnp.asarray(bad))) == -np.inf


@pytest.mark.slow  # two NUTS compilations: 80 s at load 14 on 2 cores
def test_toy_ridge_posterior_has_the_same_moments_in_both_coordinates():
    """NUTS on a ridge-shaped toy posterior (D(t) known at three ages, the prior on D0, alpha,
    D_offset as given) in u and in w: the same means and sds of the physical parameters."""
    from numpyro.infer.hmc import hmc

    from homodyne_cmc import build_space
    from homodyne_cmc.parameterization import log_prior, to_physical, to_unconstrained
    from homodyne_cmc.sampling_space import SamplingSpace, from_sampling, to_sampling
    from homodyne_physics import C2Model, make_scaling

    model = C2Model("static", q=0.0054, dt=0.1)
    scaling = make_scaling("constant", [0.0], fixed_contrast=[0.3], fixed_offset=[1.0])
    space = build_space(model, scaling, 0.1 * np.arange(1, 301), sample_sigma=False)
    assert space.static.dim == 3
    samp = SamplingSpace(((0, 1, 2, True),))
    arrays = space.jax_arrays()
    ages = jnp.array([0.1, 1.0, 30.0])
    truth = jnp.array([1.5e4, -0.3, 500.0])
    d_true = truth[0] * ages ** truth[1] + truth[2]
    sd = 0.02 * d_true

    def log_target(x):
        d = x[0] * ages ** x[1] + x[2]
        return -0.5 * jnp.sum(((d - d_true) / sd) ** 2) + log_prior(x, space.static, arrays)

    def pot_u(u):
        x, logdet = to_physical(u, space.static, arrays)
        return -(log_target(x) + logdet)

    def pot_w(w):
        x, logdet, inside = from_sampling(w, space.static, arrays, samp)
        lp = log_target(x) + logdet
        return -jnp.where(inside & jnp.isfinite(lp), lp, -jnp.inf)

    def run(pot, z0, xs):
        init, sample = hmc(potential_fn_gen=lambda _: pot, algo="NUTS")
        args = (jnp.zeros(()),)
        state = init(
            z0, num_warmup=800, dense_mass=True, model_args=args, rng_key=jax.random.PRNGKey(0)
        )

        def body(st, _):
            st = sample(st, model_args=args)
            return st, (xs(st.z), st.num_steps)

        _, (draws, steps) = jax.lax.scan(body, state, None, length=800 + 4000)
        return draws[800:], jnp.mean(steps[800:])

    with jax.enable_x64(True):
        u0 = to_unconstrained(truth, space.static, arrays)
        w0 = to_sampling(truth, space.static, arrays, samp)

        def x_of_u(u):
            return to_physical(u, space.static, arrays)[0]

        def x_of_w(w):
            return from_sampling(w, space.static, arrays, samp)[0]

        xs_u, steps_u = jax.jit(lambda: run(pot_u, u0, x_of_u))()
        xs_w, steps_w = jax.jit(lambda: run(pot_w, w0, x_of_w))()
    xs_u, xs_w = np.asarray(xs_u), np.asarray(xs_w)
    print(f"\nleapfrog steps per iteration: u {float(steps_u):.1f}, w {float(steps_w):.1f}")
    for k in range(3):
        m_u, m_w = xs_u[:, k].mean(), xs_w[:, k].mean()
        s_u, s_w = xs_u[:, k].std(), xs_w[:, k].std()
        assert abs(m_u - m_w) < 0.15 * s_u, (k, m_u, m_w, s_u)
        assert abs(s_w / s_u - 1.0) < 0.15, (k, s_u, s_w)
    assert steps_w < steps_u  # the ridge is straight in w
