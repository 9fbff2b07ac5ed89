"""The homodyne2 compatibility convention against a small case computed by hand (plain loops)."""

import math

import numpy as np

import homodyne_physics as hp


def _hand_c2(theta, q, gap, dt, n_t, phi, contrast, offset):
    """Loops over the frame grid exactly as model.md describes the homodyne2 convention."""
    d0, alpha, d_off, g0, beta, g_off, phi0 = theta
    grid = [k * dt for k in range(n_t)]  # t = 0 at the first selected frame

    def rate(pref, expo, const, tk):
        return max(pref * max(tk, dt / 2) ** expo + const, 1e-10)

    def cumtrapz(vals):
        out = [0.0]
        for k in range(1, len(vals)):
            out.append(out[-1] + 0.5 * (vals[k - 1] + vals[k]))
        return out

    s_d = cumtrapz([rate(d0, alpha, d_off, tk) for tk in grid])
    s_g = cumtrapz([rate(g0, beta, g_off, tk) for tk in grid])
    out = np.zeros((n_t, n_t))
    for a in range(n_t):
        for b in range(n_t):
            i_d = dt * math.sqrt((s_d[b] - s_d[a]) ** 2 + 1e-12)
            i_g = dt * math.sqrt((s_g[b] - s_g[a]) ** 2 + 1e-12)
            ph = q * gap * math.cos(math.radians(phi0 - phi)) * i_g / (2 * math.pi)
            sinc = math.sin(ph) / ph
            g1 = max(math.exp(max(-0.5 * q * q * i_d, -700.0)) * sinc * sinc, 1e-10)
            out[a, b] = offset + contrast * g1 * g1
    return out


def test_homodyne2_matches_hand_computation():
    theta = [1200.0, -0.4, 30.0, 0.02, 0.3, 0.001, 4.0]
    q, gap, dt, n_t, phi = 0.0054, 2e6, 0.5, 6, 25.0
    model = hp.C2Model("laminar_flow", q=q, dt=dt, gap=gap, convention="homodyne2")
    t = (np.arange(n_t) + 17) * dt  # absolute frame times: the convention re-bases them
    got = np.asarray(hp.c2_matrix(model, np.array(theta), 0.25, 1.01, t, np.array([phi])))[0]
    expected = _hand_c2(theta, q, gap, dt, n_t, phi, 0.25, 1.01)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_homodyne2_floors_apply():
    """A strongly negative D_offset floors the rate at 1e-10, and g1 at 1e-10 for long lags."""
    model = hp.C2Model("static", q=0.05, dt=1.0, convention="homodyne2")
    t = np.arange(1, 6) * 1.0
    got = np.asarray(hp.c2_matrix(model, np.array([100.0, 0.0, -5000.0]), 0.3, 1.0, t, [0.0]))[0]
    # rate floored: I_D = dt * sqrt((1e-10 * lag)^2 + 1e-12) ~ 1e-6, so
    # g1^2 = exp(-q^2 * 1e-6) = 1 - 2.5e-9 at every lag.
    np.testing.assert_allclose(got, 1.0 + 0.3 * np.exp(-(0.05**2) * 1e-6), rtol=1e-13)
    fast = hp.c2_matrix(model, np.array([1e5, 0.0, 0.0]), 0.3, 1.0, t, [0.0])
    np.testing.assert_allclose(np.asarray(fast)[0, 0, 4], 1.0 + 0.3 * 1e-20, rtol=1e-15)


def test_homodyne2_first_frame_dropped_from_point_set():
    model = hp.C2Model("static", q=0.005, dt=0.1, convention="homodyne2")
    i, j = hp.pair_indices(5, model.first_fitted_frame)
    assert i.min() == 1 and len(i) == 6  # pairs among frames 1..4
    assert hp.C2Model("static", q=0.005, dt=0.1).first_fitted_frame == 0


def test_gamma_dot_in_homodyne2_is_about_pi_times_physical():
    """Same data: the sinc zero sits at gamma_h2 ~ pi * gamma_phys (argument pi times smaller)."""
    q, gap, phi = 0.005, 2e6, 0.0
    phys = hp.C2Model("laminar_flow", q=q, dt=0.1, gap=gap)
    k = 0.5 * q * gap
    gamma = math.pi / (k * 5.0)  # first physical zero at lag 5 s
    t = np.arange(1, 102) * 0.1
    theta = [1000.0, 0.0, 0.0, gamma, 0.0, 0.0, 0.0]
    g_phys = np.asarray(hp.g1sq_pairs(phys, theta, t, [phi], np.array([0]), np.array([50])))
    assert g_phys[0, 0] < 1e-20
    h2 = hp.C2Model("laminar_flow", q=q, dt=0.1, gap=gap, convention="homodyne2")
    theta_h2 = [1000.0, 0.0, 0.0, math.pi * gamma, 0.0, 0.0, 0.0]
    g_h2 = np.asarray(hp.g1sq_pairs(h2, theta_h2, t, [phi], np.array([0]), np.array([50])))
    assert g_h2[0, 0] < 1e-8  # the homodyne2 sinc^4 also vanishes there (up to its floors)
