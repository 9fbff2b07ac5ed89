"""The sampler's potential with the custom-JVP likelihood equals the plain kernel formulation."""

from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np
import pytest


def _plain_loglik(model, theta, contrast, offset, sigma, t, phi, i, j, y, w):
    """The shard likelihood as the sampler computed it before gaussian_loglik."""
    from homodyne_physics import g1sq_pairs

    g = g1sq_pairs(model, theta, t, phi, i, j)
    r = (y - offset[:, None] - contrast[:, None] * g) * w
    return -0.5 * jnp.sum(r * r) / (sigma * sigma) - jnp.sum(w) * jnp.log(sigma)


SLOW = pytest.mark.slow  # each case compiles two sampler potentials (~1 min on a loaded box)
CASES = [  # scaling mode, convention, sample sigma, angles
    ("individual", "physical", True, 3),
    pytest.param("auto", "homodyne2", False, 4, marks=SLOW),
    pytest.param("constant", "physical", True, 3, marks=SLOW),
    pytest.param("fourier", "physical", False, 5, marks=SLOW),
]


@pytest.mark.parametrize(("scaling", "convention", "sample_sigma", "n_phi"), CASES)
def test_potential_value_and_gradient_unchanged(scaling, convention, sample_sigma, n_phi):
    from homodyne_cmc import build_space, make_shards, sampler
    from homodyne_cmc.sampler import CommonArrays, SamplerSettings, ShardArrays
    from homodyne_physics import C2Model, make_scaling, pair_indices

    model = C2Model("laminar_flow", q=0.0054, dt=0.1, convention=convention)
    phi = np.linspace(-20.0, 140.0, n_phi)
    t = 0.1 * np.arange(1, 41)
    kw = {"fourier_order": 1} if scaling == "fourier" else {}
    if scaling == "constant":
        kw = {"fixed_contrast": np.full(n_phi, 0.3), "fixed_offset": np.full(n_phi, 1.0)}
    sc = make_scaling(scaling, phi, **kw)
    space = build_space(model, sc, t, sample_sigma=sample_sigma)
    rng = np.random.default_rng(4)
    i, j = pair_indices(t.size, model.first_fitted_frame)
    y = 1.0 + 0.3 * rng.random((n_phi, i.size))
    y[0, ::7] = np.nan  # missing points: masked in the shard
    shard = make_shards(y, i, j, 2, seed=0)[1]
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
        np.float64(0.5),
        np.float64(0.05),
        np.array([0.5, 3.0]),
        np.float64(0.0),
    )
    settings = SamplerSettings(model, space.static, sc.n_contrast, 1, 1, 1)
    arrs = ShardArrays(*map(jnp.asarray, (shard.y, shard.w, shard.i, shard.j)))
    com = jax.tree.map(jnp.asarray, common)

    def potential():
        return jax.jit(
            jax.value_and_grad(lambda z: sampler.shard_log_density(z, arrs, com, settings))
        )

    zs = rng.normal(size=(2, d))
    got = [potential()(jnp.asarray(z)) for z in zs]
    with mock.patch.object(sampler, "gaussian_loglik", _plain_loglik):
        want = [potential()(jnp.asarray(z)) for z in zs]
    for (v, g), (v0, g0) in zip(got, want, strict=True):
        np.testing.assert_allclose(float(v), float(v0), rtol=1e-12)
        np.testing.assert_allclose(
            np.asarray(g), np.asarray(g0), rtol=1e-9, atol=1e-9 * float(np.max(np.abs(g0)))
        )
