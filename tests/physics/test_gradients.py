"""Derivatives of the kernel: against central finite differences, and finite everywhere."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import homodyne_physics as hp

T = np.arange(1, 41) * 0.25
PHI = np.array([-150.0, -40.0, 0.0, 37.0, 90.0, 171.0])
I, J = hp.pair_indices(T.size)


def _loss(model, weights):
    def f(theta):
        c2 = hp.c2_pairs(model, theta, 0.35, 1.0, T, PHI, I, J)
        return jnp.sum(weights * c2)

    return f


def _central_fd(f, theta, k):
    lo, hi = hp.mode_bounds("laminar_flow")
    h = 1e-6 * max(abs(theta[k]), 0.1 * (hi[k] - lo[k]))
    up, dn = theta.copy(), theta.copy()
    up[k] += h
    dn[k] -= h
    return (float(f(up)) - float(f(dn))) / (2 * h), h


SPECIAL = {
    "generic": [1500.0, 0.3, 8.0, 3e-3, 0.2, 1e-4, 2.0],
    "alpha=-1 exactly": [1500.0, -1.0, 8.0, 3e-3, -1.0, 1e-4, 2.0],
    "alpha just below -1": [800.0, -1.0 - 1e-7, 8.0, 3e-3, -1.0 + 1e-7, 0.0, 2.0],
    "alpha=-2": [300.0, -2.0, 0.0, 1e-2, -2.0, 0.0, -5.0],
    "no shear": [1500.0, 0.3, 8.0, 1e-6, 0.0, 0.0, 0.0],
    "phi0 - phi = 90 deg": [1500.0, 0.3, 8.0, 3e-3, 0.2, 1e-4, 0.0],  # PHI holds 90
}


@pytest.mark.parametrize("convention", hp.CONVENTIONS)
@pytest.mark.parametrize("case", list(SPECIAL))
def test_gradient_matches_central_differences(convention, case):
    model = hp.C2Model("laminar_flow", q=0.0054, dt=0.25, convention=convention)
    rng = np.random.default_rng(7)
    weights = jnp.asarray(rng.standard_normal((PHI.size, I.size)))
    f = jax.jit(_loss(model, weights))
    theta = np.array(SPECIAL[case], dtype=np.float64)
    grad = np.asarray(jax.grad(f)(jnp.asarray(theta)))
    assert np.all(np.isfinite(grad))
    f_abs = float(jnp.sum(jnp.abs(weights))) * 1.5  # bound on sum |w c2| (c2 <= 1.35 here)
    for k in range(theta.size):
        fd, h = _central_fd(f, theta, k)
        # Truncation error of central differences is ~1e-10 relative at these steps; rounding
        # error is ~1e-16 * sum|w c2| / h, which dominates for derivatives that are nearly zero
        # (no shear, cos(phi0 - phi) = 0). Tolerance: 2e-5 relative + 10x the rounding bound.
        tol = 2e-5 * max(abs(fd), abs(grad[k])) + 1e-15 * f_abs / h
        assert abs(grad[k] - fd) <= tol, (hp.parameter_names("laminar_flow")[k], grad[k], fd)


@pytest.mark.parametrize("convention", hp.CONVENTIONS)
def test_values_and_jacobian_finite_at_every_corner_of_the_bounds(convention):
    model = hp.C2Model("laminar_flow", q=0.0054, dt=0.25, convention=convention)
    lo, hi = hp.mode_bounds("laminar_flow")
    corners = np.array(list(itertools.product(*zip(lo, hi, strict=True))))
    jac = jax.jit(jax.vmap(jax.jacfwd(lambda th: hp.c2_pairs(model, th, 0.5, 1.0, T, PHI, I, J))))
    val = jax.jit(jax.vmap(lambda th: hp.c2_pairs(model, th, 0.5, 1.0, T, PHI, I, J)))
    assert np.all(np.isfinite(np.asarray(val(jnp.asarray(corners)))))
    assert np.all(np.isfinite(np.asarray(jac(jnp.asarray(corners)))))


def test_precision_error_in_float32_session():
    model = hp.C2Model("static", q=0.005, dt=0.1)
    with jax.enable_x64(False), pytest.raises(hp.PrecisionError, match="float64"):
        hp.integral_tables(model, [1000.0, 0.0, 0.0], T)
    with hp.float64():
        assert hp.x64_enabled()
