"""q per angle (joint fits over several rings): kernel, likelihood, transport, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import homodyne_physics as hp

THETA = np.array([2.0e3, -0.4, 30.0, 2.0e-3, -0.3, 1.0e-5, 4.0])
PHI = np.array([-60.0, 0.0, 45.0, 120.0])
Q_RINGS = (0.004, 0.0085)


def _grid(n_t=30, dt=0.1):
    t = np.arange(1, n_t + 1) * dt
    i, j = hp.pair_indices(n_t)
    return t, i, j


def _numpy_c2(q, gap, theta, contrast, offset, t, phi, i, j):
    """Independent numpy evaluation of the physical-convention c2 (per-angle q)."""
    d0, alpha, d_off, g0, beta, g_off, phi0 = theta

    def anti(pref, expo, const):
        return pref * (t ** (expo + 1) - 1) / (expo + 1) + const * t

    f_d, f_g = anti(d0, alpha, d_off), anti(g0, beta, g_off)
    i_d, i_g = f_d[j] - f_d[i], f_g[j] - f_g[i]
    q = np.broadcast_to(np.asarray(q, float), phi.shape)[:, None]
    x = 0.5 * q * gap * np.cos(np.deg2rad(phi0 - phi))[:, None] * i_g[None]
    sinc = np.sinc(x / np.pi)
    g = np.exp(-(q**2) * i_d[None]) * sinc**2
    return offset[:, None] + contrast[:, None] * g


def test_equal_per_angle_q_reproduces_scalar_q():
    t, i, j = _grid()
    contrast, offset = np.linspace(0.2, 0.3, 4), np.linspace(1.0, 1.01, 4)
    for convention in hp.CONVENTIONS:
        one = hp.C2Model("laminar_flow", q=0.0054, dt=0.1, convention=convention)
        per = hp.C2Model("laminar_flow", q=[0.0054] * 4, dt=0.1, convention=convention)
        assert per.per_angle_q and per.q == (0.0054,) * 4 and per.q_rings == (0.0054,)
        a = np.asarray(hp.c2_pairs(one, THETA, contrast, offset, t, PHI, i, j))
        b = np.asarray(hp.c2_pairs(per, THETA, contrast, offset, t, PHI, i, j))
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=0)
        ma = np.asarray(hp.c2_matrix(one, THETA, contrast, offset, t, PHI))
        mb = np.asarray(hp.c2_matrix(per, THETA, contrast, offset, t, PHI))
        np.testing.assert_allclose(mb, ma, rtol=1e-12, atol=0)


def test_two_rings_against_independent_numpy():
    t, i, j = _grid()
    q = np.array([Q_RINGS[0]] * 2 + [Q_RINGS[1]] * 2)
    contrast, offset = np.array([0.2, 0.25, 0.3, 0.22]), np.ones(4)
    model = hp.C2Model("laminar_flow", q=q, dt=0.1, gap=2.0e6)
    got = np.asarray(hp.c2_pairs(model, THETA, contrast, offset, t, PHI, i, j))
    ref = _numpy_c2(q, 2.0e6, THETA, contrast, offset, t, PHI, i, j)
    np.testing.assert_allclose(got, ref, rtol=1e-11)
    # each ring alone (scalar q) gives the same rows
    for r, sl in enumerate((slice(0, 2), slice(2, 4))):
        alone = hp.C2Model("laminar_flow", q=Q_RINGS[r], dt=0.1)
        one = hp.c2_pairs(alone, THETA, contrast[sl], offset[sl], t, PHI[sl], i, j)
        np.testing.assert_allclose(got[sl], np.asarray(one), rtol=1e-12)
    # the larger q decays faster
    g1sq = (got - offset[:, None]) / contrast[:, None]
    assert g1sq[2, -1] < g1sq[0, -1]


def test_gradients_against_finite_differences():
    t, i, j = _grid(20)
    q = np.array([Q_RINGS[0]] * 2 + [Q_RINGS[1]] * 2)
    model = hp.C2Model("laminar_flow", q=q, dt=0.1)
    contrast, offset = np.full(4, 0.25), np.ones(4)
    w = np.linspace(0.5, 1.5, 4)[:, None]

    def f(theta):
        return jnp.sum(w * hp.c2_pairs(model, theta, contrast, offset, t, PHI, i, j))

    grad = np.asarray(jax.grad(f)(jnp.asarray(THETA)))
    for p in range(THETA.size):
        h = 1e-6 * max(abs(THETA[p]), 1e-3)
        up, dn = THETA.copy(), THETA.copy()
        up[p] += h
        dn[p] -= h
        fd = (float(f(up)) - float(f(dn))) / (2 * h)
        np.testing.assert_allclose(grad[p], fd, rtol=2e-5, atol=1e-9, err_msg=str(p))


@pytest.mark.parametrize("mode", ["static", "laminar_flow"])
def test_likelihood_gradient_with_per_angle_q(mode):
    """The fused likelihood pass (value and custom-JVP gradient) against autodiff of c2_pairs."""
    rng = np.random.default_rng(3)
    t, i, j = _grid(24)
    q = np.array([Q_RINGS[0]] * 2 + [Q_RINGS[1]] * 2)
    model = hp.C2Model(mode, q=q, dt=0.1)
    theta = jnp.asarray(THETA[: model.n_params] * 1.05)
    contrast, offset = jnp.full(4, 0.25), jnp.ones(4)
    y = np.asarray(hp.c2_pairs(model, THETA[: model.n_params], contrast, offset, t, PHI, i, j))
    y = y + 0.01 * rng.standard_normal(y.shape)
    w = np.ones_like(y)

    def plain(theta, contrast, offset, sigma):
        g = hp.c2_pairs(model, theta, contrast, offset, t, PHI, i, j)
        r = (y - g) * w
        return -0.5 * jnp.sum(r * r) / sigma**2 - jnp.sum(w) * jnp.log(sigma)

    def fused(theta, contrast, offset, sigma):
        return hp.gaussian_loglik(model, theta, contrast, offset, sigma, t, PHI, i, j, y, w)

    args = (theta, contrast, offset, jnp.float64(0.012))
    v_ref, g_ref = jax.value_and_grad(plain, (0, 1, 2, 3))(*args)
    v_new, g_new = jax.value_and_grad(fused, (0, 1, 2, 3))(*args)
    np.testing.assert_allclose(float(v_new), float(v_ref), rtol=1e-12)
    for a, b in zip(g_new, g_ref, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-9, atol=1e-12)


def test_transport_gives_gamma_per_ring_and_errors_are_clear():
    q = np.array([Q_RINGS[0]] * 2 + [Q_RINGS[1]] * 2)
    model = hp.C2Model("laminar_flow", q=q, dt=0.1)
    vals = hp.transport_values(model, THETA, [1.0, 2.0])
    d = np.asarray(vals["D"])
    assert "Gamma" not in vals
    for k, qk in enumerate(Q_RINGS):
        np.testing.assert_allclose(np.asarray(vals[f"Gamma[{k}]"]), 0.5 * qk**2 * d, rtol=1e-14)
    with pytest.raises(hp.ModeError, match="per-angle values but 3 angles"):
        t, i, j = _grid(5)
        hp.c2_pairs(model, THETA, 0.2, 1.0, t, PHI[:3], i, j)
    with pytest.raises(hp.ModeError, match="positive finite"):
        hp.C2Model("static", q=[0.01, -1.0], dt=0.1)
    # hashable and equal by value (a static jit argument)
    assert hash(model) == hash(hp.C2Model("laminar_flow", q=list(q), dt=0.1))


def test_scaling_per_ring_in_every_mode():
    phi = np.array([0.0, 60.0, 120.0, 180.0, -60.0, 10.0, 70.0, 130.0])
    ring = np.array([0] * 5 + [1] * 3)
    auto = hp.make_scaling("auto", phi, ring=ring)
    assert auto.mode == "auto" and auto.names == (
        "contrast@r0",
        "contrast@r1",
        "offset@r0",
        "offset@r1",
    )
    c, o = auto.apply(np.array([0.2, 0.3, 1.0, 1.1]))
    np.testing.assert_allclose(c, [0.2] * 5 + [0.3] * 3)
    np.testing.assert_allclose(o, [1.0] * 5 + [1.1] * 3)
    ind = hp.make_scaling("individual", phi, ring=ring)
    assert ind.n_params == 16 and ind.names[7] == "contrast[7]"
    four = hp.make_scaling("fourier", phi, ring=ring, fourier_order=1)
    assert four.n_params == 12 and "offset_sin1@r1" in four.names
    s = four.fit_vector(np.linspace(0.2, 0.3, 8), 1.0)
    c, _ = four.apply(s)
    # ring 1 (3 angles, 3 Fourier columns) is represented exactly
    np.testing.assert_allclose(c[5:], np.linspace(0.2, 0.3, 8)[5:], atol=1e-12)
    const = hp.make_scaling("constant", phi, ring=ring, fixed_contrast=0.2, fixed_offset=1.0)
    assert const.n_params == 0 and const.ring.tolist() == ring.tolist()
    # a ring with fewer than 3 angles is fitted per angle under 'auto'
    mixed = hp.make_scaling("auto", phi[:7], ring=ring[:7])
    assert mixed.names[:3] == ("contrast@r0", "contrast[5]", "contrast[6]")
    with pytest.raises(hp.ModeError, match="needs at least 3 angles"):
        hp.make_scaling("fourier", phi[:7], ring=ring[:7], fourier_order=1)
    aged = hp.make_scaling("auto", phi, ring=ring, contrast_age_order=1, age_range=(1.0, 2.0))
    assert "contrast_age1@r1" in aged.names and aged.n_params == 6
