"""The finite angular bin: the shear term averaged over a bin's angles (C2Model.phi_bin_width)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad

import homodyne_physics as hp

THETA = np.array([1.0e3, 0.5, 10.0, 2.0e-4, 0.3, 1.0e-5, 3.0])
PHI = np.array([0.0, 90.0, 45.0, -60.0])
CONTRAST = np.array([0.25, 0.24, 0.26, 0.25])
OFFSET = np.array([1.0, 1.001, 0.999, 1.0])


def _grid(n_t=60, dt=0.25):
    t = np.arange(1, n_t + 1) * dt
    i, j = hp.pair_indices(n_t)
    return t, i, j


def _model(width=None, convention="physical", nodes=16):
    return hp.C2Model(
        "laminar_flow",
        q=0.0054,
        dt=0.25,
        convention=convention,
        phi_bin_width=width,
        phi_bin_nodes=nodes,
    )


def _bin_mean(amp, delta_deg, width_deg):
    """Adaptive quadrature of sinc^2(amp cos(delta - d)) over d in the bin, divided by its width."""
    half = np.deg2rad(width_deg) / 2.0
    delta = np.deg2rad(delta_deg)

    def f(d):
        return np.sinc(amp * np.cos(delta - d) / np.pi) ** 2

    val, _ = quad(f, -half, half, limit=4000, epsabs=1e-15, epsrel=1e-13)
    return val / (2.0 * half)


def test_zero_or_no_width_is_the_point_model_bit_for_bit():
    t, i, j = _grid(30)
    base = _model()
    for width in (None, 0.0, (0.0, 0.0, 0.0, 0.0)):
        m = _model(width)
        assert m.phi_bin_width is None and not m.bin_averaged and m == base
    static = hp.C2Model("static", q=0.0054, dt=0.25, phi_bin_width=4.0)
    assert not static.bin_averaged
    a = hp.c2_matrix(static, THETA[:3], 0.25, 1.0, t, PHI)
    b = hp.c2_matrix(hp.C2Model("static", q=0.0054, dt=0.25), THETA[:3], 0.25, 1.0, t, PHI)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("nodes,max_amp", [(8, 80.0), (16, 230.0), (24, 420.0)])
def test_node_rule_matches_adaptive_quadrature_to_1e8(nodes, max_amp):
    """Phases up to the documented limit (swing across a 4 deg bin below ~nodes rad)."""
    m = _model(4.0, nodes=nodes)
    deltas = np.linspace(0.0, 180.0, 61)  # bin centre relative to the flow, every position
    for amp in (1.0, 20.0, max_amp / 2, max_amp):
        x = amp * np.cos(np.deg2rad(deltas))
        y = amp * np.sin(np.deg2rad(deltas))
        got = np.asarray(hp.shear_shape(m, jnp.asarray(x), jnp.asarray(y)))
        want = np.array([_bin_mean(amp, d, 4.0) for d in deltas])
        assert np.max(np.abs(got - want)) < 1e-8, (nodes, amp, np.max(np.abs(got - want)))


def test_kernel_with_width_is_the_mean_over_the_bin_angles():
    """c2_matrix with a width = the point model averaged over 4001 angles across each bin."""
    t, _, _ = _grid(100)
    widths = (4.0, 2.0, 6.0, 0.0)
    got = np.asarray(hp.c2_matrix(_model(widths), THETA, CONTRAST, OFFSET, t, PHI))
    point = _model()
    for a, (phi, w) in enumerate(zip(PHI, widths, strict=True)):
        n = 4001
        angles = phi + w * ((np.arange(n) + 0.5) / n - 0.5)  # midpoints of n cells
        g = np.asarray(hp.c2_matrix(point, THETA, 1.0, 0.0, t, angles)).mean(axis=0)
        np.testing.assert_allclose(got[a], OFFSET[a] + CONTRAST[a] * g, rtol=0, atol=2e-10)
    # and the bins matter: across the flow 4 deg change c2 by ~5e-3 (the laminar bias, #18)
    centre = np.asarray(hp.c2_matrix(point, THETA, CONTRAST, OFFSET, t, PHI))
    assert np.max(np.abs(got[1] - centre[1])) > 1e-3


def test_per_angle_width_equals_one_model_per_angle_and_subsets():
    t, i, j = _grid(40)
    widths = (4.0, 2.0, 6.0, 1.0)
    joint = np.asarray(hp.c2_pairs(_model(widths), THETA, CONTRAST, OFFSET, t, PHI, i, j))
    for a, w in enumerate(widths):
        one = hp.c2_pairs(_model(w), THETA, CONTRAST[a], OFFSET[a], t, PHI[a : a + 1], i, j)
        np.testing.assert_allclose(joint[a], np.asarray(one)[0], rtol=1e-14, atol=0)
    sub = _model(widths).for_angles([1, 3])
    assert sub.phi_bin_width == (2.0, 1.0)
    with pytest.raises(hp.ModeError, match="phi_bin_width holds 4"):
        hp.c2_pairs(_model(widths), THETA, 0.2, 1.0, t, PHI[:3], i, j)
    with pytest.raises(hp.ModeError, match="phi_bin_width"):
        _model(-1.0)
    with pytest.raises(hp.ModeError, match="phi_bin_nodes"):
        _model(4.0, nodes=0)
    with pytest.raises(hp.ModeError, match="pass y"):
        hp.g1sq_from_integrals(_model(4.0), jnp.zeros(3), jnp.zeros(3))


@pytest.mark.parametrize("convention", ["physical", "homodyne2"])
@pytest.mark.parametrize("width", [4.0, (4.0, 0.0, 2.0, 6.0)])
def test_likelihood_gradient_matches_autodiff_and_finite_differences(convention, width):
    t, i, j = _grid(40)
    m = _model(width, convention)
    rng = np.random.default_rng(7)
    y = np.asarray(hp.c2_pairs(m, THETA * 1.01, CONTRAST, OFFSET, t, PHI, i, j))
    y = y + 0.01 * rng.standard_normal(y.shape)
    w = np.ones_like(y)

    def plain(th, c, o, s):
        r = (y - hp.c2_pairs(m, th, c, o, t, PHI, i, j)) * w
        return -0.5 * jnp.sum(r * r) / s**2 - jnp.sum(w > 0) * jnp.log(s)

    def fused(th, c, o, s):
        return hp.gaussian_loglik(m, th, c, o, s, t, PHI, i, j, y, w)

    args = (jnp.asarray(THETA), jnp.asarray(CONTRAST), jnp.asarray(OFFSET), 0.01)
    assert float(fused(*args)) == pytest.approx(float(plain(*args)), rel=1e-13)
    got = jax.grad(fused, argnums=(0, 1, 2, 3))(*args)
    want = jax.grad(plain, argnums=(0, 1, 2, 3))(*args)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=0)
    # finite differences on phi0 and gamma_dot_t0 (the parameters the bin average touches)
    for p, h in ((6, 1e-4), (3, 1e-9)):
        step = np.zeros_like(THETA)
        step[p] = h
        up = float(fused(args[0] + step, *args[1:]))
        down = float(fused(args[0] - step, *args[1:]))
        assert float(got[0][p]) == pytest.approx((up - down) / (2 * h), rel=1e-6)


def test_spec_carries_the_width_to_the_model_and_json():
    spec = hp.ModelSpec.create("laminar_flow", phi_bin_width=4.0)
    assert spec.model(0.0054, 0.1).phi_bin_width == 4.0
    assert hp.ModelSpec.from_dict(spec.to_dict()) == spec
    assert "phi_bin_width" not in hp.ModelSpec.create("static").to_dict()
    per = spec.with_bin_width([2.0, 4.0]).with_start({"phi0": 1.0})
    assert per.phi_bin_width == (2.0, 4.0) and per.start["phi0"] == 1.0
    assert spec.with_bin_width(0).phi_bin_width is None
    with pytest.raises(hp.ModeError, match="phi_bin_width"):
        hp.ModelSpec.create("static", phi_bin_width="wide")
