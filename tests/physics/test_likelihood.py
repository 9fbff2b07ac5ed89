"""gaussian_loglik: value and custom-JVP gradient against plain autodiff of the kernel."""

from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import homodyne_physics as hp
from homodyne_physics import kernel
from homodyne_physics.likelihood import _sincos

PHI = np.array([-150.0, -40.0, 0.0, 37.0, 93.0, 171.0])
ARGNUMS = (0, 1, 2, 3)


def _series_sinc(x):
    """sinc with a Taylor series for |x| < 1, so that its autodiff derivative is accurate there.

    The kernel's guarded sinc differentiates sin(x)/x as cos/x - sin/x^2, which cancels to a
    relative error of ~1e-16/x^2 for 1e-4 < |x| < 1: too coarse for a 1e-10 reference.
    """
    small = jnp.abs(x) < 1.0
    xs = jnp.where(small, 1.0, x)
    x2 = x * x
    series = jnp.zeros_like(x)
    for n in range(10, -1, -1):
        series = series * x2 + (-1) ** n / np.prod(np.arange(1.0, 2 * n + 2))
    return jnp.where(small, series, jnp.sin(xs) / xs)


def _plain(model, theta, contrast, offset, sigma, t, phi, i, j, y, w):
    with mock.patch.object(kernel, "_sinc", _series_sinc):  # applies while tracing
        g = hp.g1sq_pairs(model, theta, t, phi, i, j)
    r = (y - offset[:, None] - contrast[:, None] * g) * w
    return -0.5 * jnp.sum(r * r) / (sigma * sigma) - jnp.sum(w) * jnp.log(sigma)


def _new(model, chunk, *args):
    return hp.gaussian_loglik(model, *args, chunk=chunk)


# compiled once per (model, shapes): every seed of a case reuses the programs
_VG_PLAIN = jax.jit(jax.value_and_grad(_plain, (1, 2, 3, 4)), static_argnums=0)
_VG_NEW = jax.jit(jax.value_and_grad(_new, (2, 3, 4, 5)), static_argnums=(0, 1))


def _random_theta(rng, mode, case):
    """Random physical parameters inside the bounds (narrowed to where g1^2 is not all 0)."""
    theta = np.array(
        [
            10 ** rng.uniform(2.5, 4.5),  # D0
            rng.uniform(-1.5, 1.0),  # alpha
            rng.uniform(-50.0, 500.0),  # D_offset
            10 ** rng.uniform(-5.0, -2.5),  # gamma_dot_t0
            rng.uniform(-1.5, 1.0),  # beta
            rng.uniform(-1e-4, 1e-4),  # gamma_dot_t_offset
            rng.uniform(-10.0, 10.0),  # phi0
        ]
    )
    if case == "alpha near -1":
        theta[1] = -1.0 + rng.choice([-1.0, 1.0]) * 10 ** rng.uniform(-9, -6)
        theta[4] = -1.0 + rng.choice([-1.0, 1.0]) * 10 ** rng.uniform(-9, -6)
    elif case == "small X":  # sinc arguments around 1e-6 .. 1e-2, and exactly 0 at 90 deg
        theta[3], theta[5], theta[6] = 10 ** rng.uniform(-9, -7), 0.0, 3.0
    return theta[: hp.C2Model(mode, q=1.0, dt=1.0).n_params]


def _problem(convention, mode, case, seed, n_t=40):
    rng = np.random.default_rng(seed)
    model = hp.C2Model(mode, q=0.0054, dt=0.1, convention=convention)
    t = np.arange(1, n_t + 1) * model.dt
    phi = PHI + (90.0 - PHI[4] + 3.0 if case == "small X" else 0.0)  # one angle at phi0 + 90
    i, j = hp.pair_indices(n_t, model.first_fitted_frame)
    truth = _random_theta(rng, mode, case)
    theta = truth * rng.uniform(0.9, 1.1, truth.size)  # away from the optimum: large gradients
    contrast = rng.uniform(0.15, 0.4, phi.size)
    offset = rng.uniform(0.95, 1.05, phi.size)
    clean = np.asarray(hp.c2_pairs(model, truth, contrast, offset, t, phi, i, j))
    y = clean + 0.01 * rng.standard_normal(clean.shape)
    w = (rng.uniform(size=y.shape) > 0.2).astype(np.float64)
    y[w == 0] = 0.0  # masked entries are 0 in a shard
    params = (theta, contrast * 1.02, offset * 0.999, rng.uniform(0.008, 0.02))
    return model, tuple(map(jnp.asarray, params)), (t, phi, i, j, y, w)


@pytest.mark.parametrize("mode", ["static", "laminar_flow"])
@pytest.mark.parametrize("convention", hp.CONVENTIONS)
def test_value_and_gradient_match_autodiff_of_the_kernel(convention, mode):
    """Random parameters in the bounds, alpha and beta within 1e-6 of -1, sinc arguments near 0:
    the value to 1e-12 and every gradient entry to 1e-10 relative (shapes are shared, so each
    program compiles once per test)."""
    cases = ["generic", "alpha near -1"] + (["small X"] if mode == "laminar_flow" else [])
    for case in cases:
        for seed in (11, 12):
            model, params, data = _problem(convention, mode, case, seed)
            v_ref, g_ref = _VG_PLAIN(model, *params, *data)
            v_new, g_new = _VG_NEW(model, 311, *params, *data)
            v_only = hp.gaussian_loglik(model, *params, *data, chunk=311)
            np.testing.assert_allclose(float(v_new), float(v_ref), rtol=1e-12)
            np.testing.assert_allclose(float(v_only), float(v_ref), rtol=1e-12)
            names = ("theta", "contrast", "offset", "sigma")
            for name, a, b in zip(names, g_new, g_ref, strict=True):
                a, b = np.atleast_1d(np.asarray(a)), np.atleast_1d(np.asarray(b))
                assert np.all(np.isfinite(a)), name
                np.testing.assert_allclose(a, b, rtol=1e-10, err_msg=f"{name}, {case}, {seed}")


def test_chunking_and_masking_do_not_change_the_result():
    model, params, data = _problem("physical", "laminar_flow", "generic", 3)
    ref = _VG_NEW(model, 10_000, *params, *data)
    for chunk in (7, None):  # 780 pairs: a shifted, partly masked last chunk for 7
        got = _VG_NEW(model, chunk, *params, *data)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(ref), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=0)
    # masked points do not count, whatever y holds there
    t, phi, i, j, y, w = data
    got = _VG_NEW(model, 10_000, *params, t, phi, i, j, np.where(w > 0, y, 123.0), w)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(ref), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12)


@pytest.mark.slow  # compiling vmap, jacfwd and hessian programs: ~40 s on a loaded 2-core box
def test_vmap_forward_mode_and_hessian():
    """Vectorised chains and forward mode give the custom gradient; jax.hessian differentiates
    the fused pass itself (checked against differences of the custom gradient)."""
    model, params, data = _problem("physical", "laminar_flow", "generic", 3)
    ref = _VG_NEW(model, 10_000, *params, *data)

    def f(th):
        return hp.gaussian_loglik(model, th, *params[1:], *data, chunk=10_000)

    thetas = jnp.stack([params[0], params[0] * 1.01])
    v_vec, g_vec = jax.jit(jax.vmap(jax.value_and_grad(f)))(thetas)
    for k in range(2):
        v_one, g_one = _VG_NEW(model, 10_000, thetas[k], *params[1:], *data)
        np.testing.assert_allclose(float(v_vec[k]), float(v_one), rtol=1e-13)
        np.testing.assert_allclose(np.asarray(g_vec[k]), np.asarray(g_one[0]), rtol=1e-12)
    fwd = jax.jit(jax.jacfwd(f))(params[0])
    np.testing.assert_allclose(np.asarray(fwd), np.asarray(ref[1][0]), rtol=1e-12)
    hess = np.asarray(jax.hessian(f)(params[0]))
    theta = np.asarray(params[0])
    for k in range(theta.size):
        h = 1e-5 * max(abs(theta[k]), 1e-3)
        up = _VG_NEW(model, 10_000, theta + h * np.eye(theta.size)[k], *params[1:], *data)
        dn = _VG_NEW(model, 10_000, theta - h * np.eye(theta.size)[k], *params[1:], *data)
        col = (np.asarray(up[1][0]) - np.asarray(dn[1][0])) / (2 * h)
        scale = np.sqrt(np.abs(np.diag(hess)) * abs(hess[k, k]))
        assert np.all(np.abs(hess[:, k] - col) <= 1e-5 * scale), k


def test_data_are_constants_and_float32_is_refused():
    model, params, data = _problem("physical", "static", "generic", 4, n_t=20)
    t, phi, i, j, y, w = data
    dy = jax.grad(lambda yy: hp.gaussian_loglik(model, *params, t, phi, i, j, yy, w))(y)
    assert np.all(np.asarray(dy) == 0.0)
    with jax.enable_x64(False), pytest.raises(hp.PrecisionError):
        hp.gaussian_loglik(model, *params, *data)


def test_sincos_sinc_and_its_derivative():
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            rng.uniform(-1e3, 1e3, 20000),
            rng.uniform(-1e8, 1e8, 2000),
            np.linspace(-1.0, 1.0, 2001),
            [0.0, 1e-300, -1e-12, 1e-6, np.pi / 4, -np.pi / 4, np.pi / 2, 3 * np.pi],
        ]
    )
    s, c, sinc, dsinc = (np.asarray(a) for a in _sincos(jnp.asarray(x)))
    # absolute errors: the reduced argument is exact to ~1 ulp of x
    tol = 4e-16 * np.maximum(1.0, np.abs(x) / 1e3)
    assert np.all(np.abs(s - np.sin(x)) <= tol)
    assert np.all(np.abs(c - np.cos(x)) <= tol)
    xs = np.where(x == 0.0, 1.0, x)
    small = np.abs(x) < 1e-3
    x2 = x * x
    sinc_ref = np.where(small, 1 - x2 / 6 + x2 * x2 / 120, np.sin(xs) / xs)
    dsinc_ref = np.where(small, -x / 3 + x * x2 / 30, (np.cos(xs) - np.sin(xs) / xs) / xs)
    # sinc: relative 1e-14 (absolute 1e-16/|x| where it is tiny); its derivative: exact series
    # near 0, and where the reference formula cancels (|x| < 1) only to its 1e-16/x^2
    assert np.all(np.abs(sinc - sinc_ref) <= 1e-14 * np.abs(sinc_ref) + 1e-16 / np.abs(xs))
    tol_d = 1e-12 * np.abs(dsinc_ref) + np.where(small, 1e-300, 1e-15 / np.clip(x2, 1e-6, 1.0))
    assert np.all(np.abs(dsinc - dsinc_ref) <= tol_d)
    assert sinc[x == 0.0][0] == 1.0 and dsinc[x == 0.0][0] == 0.0
