"""Transport curves: closed forms, the kernel's strain, delta-method and posterior bands."""

import numpy as np
import pytest

import homodyne_physics as hp
from homodyne_physics import (
    C2Model,
    ParameterError,
    transport_from_covariance,
    transport_from_draws,
    transport_grid,
    transport_values,
)

THETA = np.array([8000.0, -0.6, 400.0, 2e-3, -0.5, 2e-4, 3.0])
TIMES = np.array([0.2, 1.0, 3.0, 6.0])


def test_curves_and_strain_have_their_closed_forms():
    model = C2Model("laminar_flow", q=0.0054, dt=0.1)
    v = {k: np.asarray(a) for k, a in transport_values(model, THETA, TIMES, t_first=0.1).items()}
    d = 8000.0 * TIMES**-0.6 + 400.0
    g = 2e-3 * TIMES**-0.5 + 2e-4
    strain = 2e-3 * (TIMES**0.5 - 0.1**0.5) / 0.5 + 2e-4 * (TIMES - 0.1)
    assert np.allclose(v["D"], d, rtol=1e-13)
    assert np.allclose(v["Gamma"], 0.5 * 0.0054**2 * d, rtol=1e-13)
    assert np.allclose(v["gamma_dot"], g, rtol=1e-13)
    assert np.allclose(v["strain"], strain, rtol=1e-12)


def test_static_has_no_shear_curves_and_homodyne2_floors_time_and_rate():
    static = C2Model("static", q=0.0054, dt=0.1)
    v = transport_values(static, THETA[:3], TIMES)
    assert set(v) == {"D", "Gamma"}
    h2 = C2Model("laminar_flow", q=0.0054, dt=0.1, convention="homodyne2")
    v2 = transport_values(h2, THETA, np.array([0.1, 0.12, 1.1]), t_first=0.1)
    # time from the first frame, floored at dt/2
    assert np.allclose(np.asarray(v2["D"]), 8000.0 * np.array([0.05, 0.05, 1.0]) ** -0.6 + 400)
    neg = THETA.copy()
    neg[2] = -1e5
    assert np.all(np.asarray(transport_values(h2, neg, TIMES, t_first=0.1)["D"]) == 1e-10)
    # the strain is the kernel's cumulative trapezoid: at frame k it is dt * S_k
    frames = 0.1 + 0.1 * np.arange(11)
    with hp.float64():
        _, table = hp.integral_tables(h2, THETA, frames)
    s2 = np.asarray(transport_values(h2, THETA, frames, t_first=0.1)["strain"])
    assert np.allclose(s2, 0.1 * np.asarray(table), rtol=1e-12)


def test_delta_bands_match_the_hand_derivative_and_respect_fixed_parameters():
    model = C2Model("static", q=0.0054, dt=0.1)
    theta = THETA[:3]
    sd = np.array([300.0, 0.03, 100.0])
    cov = np.diag(sd**2)
    cov[0, 2] = cov[2, 0] = -0.5 * sd[0] * sd[2]
    tc = transport_from_covariance(model, theta, cov, TIMES)
    t = TIMES
    j = np.stack([t**-0.6, 8000.0 * t**-0.6 * np.log(t), np.ones_like(t)], axis=1)
    want = np.sqrt(np.einsum("np,pq,nq->n", j, cov, j))
    assert np.allclose((tc.D_hi68 - tc.D_lo68) / 2, 0.994457883 * want, rtol=1e-9)
    assert np.allclose((tc.D_hi95 - tc.D_lo95) / 2, 1.959963985 * want, rtol=1e-9)
    # alpha fixed: zero row and column, the band comes from D0 and D_offset only
    fixed = cov.copy()
    fixed[1, :] = fixed[:, 1] = 0.0
    tf = transport_from_covariance(model, theta, fixed, TIMES)
    j[:, 1] = 0.0
    want_f = np.sqrt(np.einsum("np,pq,nq->n", j, fixed, j))
    assert np.allclose((tf.D_hi68 - tf.D_lo68) / 2, 0.994457883 * want_f, rtol=1e-9)
    # a constant D (alpha = 0, D0 = 0): the band is exactly the D_offset error
    flat = transport_from_covariance(model, [0.0, 0.0, 500.0], np.diag([0.0, 0.0, 25.0**2]), t)
    assert np.allclose(flat.D_hi95 - flat.D, 1.959963985 * 25.0, rtol=1e-9)


def test_posterior_quantiles_of_a_gaussian_agree_with_the_delta_method():
    model = C2Model("laminar_flow", q=0.0054, dt=0.1)
    sd = np.array([200.0, 0.01, 50.0, 2e-5, 0.005, 1e-5, 0.02])
    cov = np.diag(sd**2)
    draws = np.random.default_rng(1).multivariate_normal(THETA, cov, size=(4, 5000))
    tq = transport_from_draws(model, draws, TIMES, t_first=0.1, max_draws=20000)
    td = transport_from_covariance(model, THETA, cov, TIMES, t_first=0.1)
    for key in ("D", "gamma_dot", "strain"):
        half_q = (tq.hi68[key] - tq.lo68[key]) / 2
        half_d = (td.hi68[key] - td.lo68[key]) / 2
        assert np.allclose(half_q, half_d, rtol=0.05), key
        assert np.allclose(tq.curves[key], td.curves[key], atol=0.05 * half_d.max()), key


def test_grid_columns_and_errors():
    t = np.arange(1, 51) * 0.1
    grid = transport_grid(t, 30)
    assert grid[0] == pytest.approx(0.1) and grid[-1] == pytest.approx(5.0)
    assert np.all(np.diff(grid) > 0) and set(np.round(t, 12)) <= set(np.round(grid, 12))
    model = C2Model("static", q=0.0054, dt=0.1)
    tc = transport_from_covariance(model, THETA[:3], np.eye(3), grid, age_range=(0.1, 5.0))
    cols = tc.columns()
    assert list(cols)[:6] == ["t", "D", "D_lo68", "D_hi68", "D_lo95", "D_hi95"]
    assert tc.gamma_dot is None and tc.to_dict()["units"]["D"] == "A^2/s"
    assert np.allclose(tc.at([1.0])["D"], 8000.0 + 400.0, rtol=1e-6)
    with pytest.raises(ParameterError, match="positive ages"):
        transport_from_covariance(model, THETA[:3], np.eye(3), [0.0, 1.0])
    with pytest.raises(ParameterError, match=r"covariance must be \(3, 3\)"):
        transport_from_covariance(model, THETA[:3], np.eye(4), grid)
