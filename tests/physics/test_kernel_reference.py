"""The physical-convention kernel against independent references (quadrature, analytic limits)."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad

import homodyne_physics as hp

RNG_SEED = 20261125


def _random_theta(rng, mode="laminar_flow"):
    lo, hi = hp.mode_bounds(mode)
    theta = rng.uniform(lo, hi)
    # D0 and gamma_dot_t0 span decades: draw them log-uniformly so small values are tested too.
    theta[0] = math.exp(rng.uniform(math.log(lo[0]), math.log(hi[0])))
    if mode == "laminar_flow":
        theta[3] = math.exp(rng.uniform(math.log(lo[3]), math.log(hi[3])))
    return theta


def _quad(f, a, b):
    val, _ = quad(f, a, b, epsabs=0.0, epsrel=1e-12, limit=400)
    return val


def _reference_integrals(theta, t1, t2):
    d0, alpha, d_off, g0, beta, g_off, _ = theta
    i_d = _quad(lambda s: d0 * s**alpha + d_off, t1, t2)
    i_g = _quad(lambda s: g0 * s**beta + g_off, t1, t2)
    return i_d, i_g


def _reference_c2(theta, q, gap, phi, t1, t2, contrast, offset):
    """numpy + scipy.integrate.quad, written from model.md, independent of the kernel."""
    phi0 = theta[6]
    i_d, i_g = _reference_integrals(theta, t1, t2)
    x = 0.5 * q * gap * math.cos(math.radians(phi0 - phi)) * i_g
    sinc = 1.0 if x == 0 else math.sin(x) / x
    g1 = math.exp(-0.5 * q * q * i_d) * sinc
    return offset + contrast * g1 * g1, i_d, i_g


def test_integrals_match_quadrature_at_random_points():
    rng = np.random.default_rng(RNG_SEED)
    for _ in range(40):
        theta = _random_theta(rng)
        model = hp.C2Model("laminar_flow", q=0.005, dt=0.1)
        t = np.sort(rng.uniform(0.1, 200.0, size=2))
        tables = hp.integral_tables(model, theta, t)
        i_d, i_g = hp.pair_integrals(model, tables, jnp.array([0]), jnp.array([1]))
        ref_d, ref_g = _reference_integrals(theta, t[0], t[1])
        # rtol 1e-9: quad is good to ~1e-13; the table difference F(t2) - F(t1) loses at most
        # |F|/|I| digits, which stays far below 1e-9 on this range.
        np.testing.assert_allclose(float(i_d[0]), ref_d, rtol=1e-9, atol=1e-9 * abs(theta[2]))
        np.testing.assert_allclose(float(i_g[0]), ref_g, rtol=1e-9, atol=1e-12)


def test_c2_matches_quadrature_at_random_points():
    """c2 at random (t1, t2, phi) for random parameters in bounds, rel. error < 1e-9.

    q and the gap are chosen per case so that q^2 I_D and the sinc argument are O(1): the
    comparison then exercises both factors instead of comparing exp(-huge) = 0 with 0.
    """
    rng = np.random.default_rng(RNG_SEED + 1)
    for _ in range(60):
        theta = _random_theta(rng)
        t1, t2 = np.sort(rng.uniform(0.1, 100.0, size=2))
        phi = rng.uniform(-180.0, 180.0)
        ref_d, ref_g = _reference_integrals(theta, t1, t2)
        q = 1.0 / math.sqrt(abs(ref_d)) * rng.uniform(0.3, 1.5)
        cosf = math.cos(math.radians(theta[6] - phi))
        gap = abs(2.0 * rng.uniform(0.2, 6.0) / (q * cosf * ref_g)) if ref_g and cosf else 2e6
        ref, _, _ = _reference_c2(theta, q, gap, phi, t1, t2, 0.4, 1.0)
        model = hp.C2Model("laminar_flow", q=q, dt=0.1, gap=gap)
        got = hp.c2_pairs(
            model,
            theta,
            0.4,
            1.0,
            np.array([t1, t2]),
            np.array([phi]),
            np.array([0]),
            np.array([1]),
        )
        assert abs(float(got[0, 0]) - ref) / abs(ref) < 1e-9


def test_brownian_limit_is_single_exponential():
    model = hp.C2Model("static", q=0.0054, dt=0.05)
    t = np.arange(3, 403) * model.dt
    i, j = hp.pair_indices(t.size)
    d0 = 2500.0
    got = np.asarray(hp.c2_pairs(model, [d0, 0.0, 0.0], 0.3, 1.02, t, [10.0], i, j))[0]
    expected = 1.02 + 0.3 * np.exp(-(0.0054**2) * d0 * (t[j] - t[i]))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)  # pure arithmetic identity


def test_sinc_zeros_at_multiples_of_pi():
    """Constant shear rate: X = (q h / 2) cos(phi0 - phi) gamma (t2 - t1); zeros at X = n pi."""
    q, gap, gamma, phi = 0.005, 2e6, 0.01, 30.0
    model = hp.C2Model("laminar_flow", q=q, dt=0.1, gap=gap)
    theta = [1000.0, 0.0, 0.0, gamma, 0.0, 0.0, 0.0]
    k = 0.5 * q * gap * math.cos(math.radians(phi)) * gamma  # X per second of lag
    for n in (1, 2, 5):
        lag = n * math.pi / k
        t = np.array([1.0, 1.0 + lag])
        g = float(hp.g1sq_pairs(model, theta, t, [phi], np.array([0]), np.array([1]))[0, 0])
        assert g < 1e-25  # sinc^2 at a zero: only rounding of X remains (~1e-30)
        half = (n + 0.5) * math.pi / k
        t = np.array([1.0, 1.0 + half])
        g = float(hp.g1sq_pairs(model, theta, t, [phi], np.array([0]), np.array([1]))[0, 0])
        expected = math.exp(-q * q * 1000.0 * half) / ((n + 0.5) * math.pi) ** 2
        assert g == pytest.approx(expected, rel=1e-10)


def test_static_equals_laminar_without_shear():
    t = np.arange(1, 81) * 0.1
    i, j = hp.pair_indices(t.size)
    phi = np.array([-120.0, 0.0, 45.0, 90.0])
    # homodyne2 floors the shear rate at 1e-10 and adds 1e-12 under its smooth abs, so its
    # "zero shear" leaves sinc^4 = 1 - O(1e-8); the physical convention is exact.
    for conv, rtol in (("physical", 1e-15), ("homodyne2", 1e-7)):
        st = hp.C2Model("static", q=0.006, dt=0.1, convention=conv)
        lam = hp.C2Model("laminar_flow", q=0.006, dt=0.1, convention=conv)
        a = hp.c2_pairs(st, [900.0, 0.4, 12.0], 0.3, 1.0, t, phi, i, j)
        b = hp.c2_pairs(lam, [900.0, 0.4, 12.0, 0.0, 0.0, 0.0, 3.0], 0.3, 1.0, t, phi, i, j)
        assert a.shape == b.shape == (4, i.size)
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=0)


def test_alpha_minus_one_is_logarithmic():
    model = hp.C2Model("static", q=0.005, dt=0.1)
    t = np.array([0.5, 7.0])
    i_d, _ = hp.pair_integrals(
        model, hp.integral_tables(model, [300.0, -1.0, 2.0], t), jnp.array([0]), jnp.array([1])
    )
    np.testing.assert_allclose(float(i_d[0]), 300.0 * math.log(14.0) + 2.0 * 6.5, rtol=1e-14)


def test_matrix_is_symmetric_and_matches_pairs():
    model = hp.C2Model("laminar_flow", q=0.0054, dt=0.1)
    theta = [1500.0, 0.2, 5.0, 2e-3, 0.1, 1e-4, 1.0]
    t = np.arange(5, 65) * 0.1
    phi = np.array([0.0, 60.0, 120.0])
    mat = np.asarray(hp.c2_matrix(model, jnp.array(theta), 0.3, 1.0, t, phi))
    np.testing.assert_array_equal(mat, np.transpose(mat, (0, 2, 1)))
    i, j = hp.pair_indices(t.size)
    pairs = np.asarray(hp.c2_pairs(model, theta, 0.3, 1.0, t, phi, i, j))
    np.testing.assert_allclose(mat[:, i, j], pairs, rtol=1e-14, atol=0)  # jit vs eager
    np.testing.assert_allclose(np.diagonal(mat, axis1=1, axis2=2), 1.3, rtol=1e-15)
