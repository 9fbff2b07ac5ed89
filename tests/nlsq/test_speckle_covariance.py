"""The speckle-statistics middle term (homodyne_nlsq.speckle_statistics), issue 18."""

import itertools

import numpy as np
import pytest

import homodyne_data as hd
import homodyne_nlsq.speckle_statistics as sc
from homodyne_nlsq import NLSQConfig, fit_nlsq
from homodyne_physics import ModelSpec

STATIC = {"D0": 1000.0, "alpha": 0.5, "D_offset": 10.0}


def _omega(g, beta, a, b, c, d):
    """P cov(c2(a, b), c2(c, d)), written out term by term (the module docstring)."""
    gg = g * g
    pair = beta**2 * (gg[a, c] * gg[b, d] + gg[a, d] * gg[b, c])
    cycles = (
        g[a, b] * g[b, c] * g[c, d] * g[d, a]
        + g[a, b] * g[b, d] * g[d, c] * g[c, a]
        + g[a, c] * g[c, b] * g[b, d] * g[d, a]
    )
    norm_cd = g[a, b] * g[b, c] * g[c, a] + g[a, b] * g[b, d] * g[d, a]
    norm_ab = g[c, d] * g[d, a] * g[a, c] + g[c, d] * g[d, b] * g[b, c]
    frames = gg[a, c] + gg[a, d] + gg[b, c] + gg[b, d]
    return (
        pair
        + 2 * beta**3 * cycles
        - 2 * beta**3 * (gg[c, d] * norm_cd + gg[a, b] * norm_ab)
        + beta**3 * gg[a, b] * gg[c, d] * frames
    )


def test_middle_term_equals_the_four_index_sum():
    """The matrix-product evaluation equals the explicit sum over every pair of points, with
    a g1 that changes sign (a sinc) and maps that vanish below the diagonal."""
    n, beta = 8, 0.22
    lag = np.subtract.outer(np.arange(n), np.arange(n))
    g = np.exp(-np.abs(lag) / 5.0) * np.sinc(lag / 3.0)
    rng = np.random.default_rng(4)
    v = rng.normal(size=(3, n, n)) * np.triu(np.ones((n, n)), 1)
    pts = list(zip(*np.triu_indices(n, 1), strict=True))
    want = np.zeros((3, 3))
    for (a, b), (c, d) in itertools.product(pts, pts):
        w = _omega(g, beta, a, b, c, d)
        want += w * np.outer(v[:, a, b], v[:, c, d])
    np.testing.assert_allclose(sc.speckle_middle(v, g, beta), want, rtol=1e-10, atol=1e-14)
    # the point variance is the same formula at (c, d) = (a, b)
    a, b = 2, 5
    assert sc._point_variance(g[a, b] ** 2, beta) == pytest.approx(_omega(g, beta, a, b, a, b))


def test_score_variance_matches_speckle_simulations():
    """Over 80 simulated correlator matrices (200 pixels, 30 frames), the variance of two
    weighted sums of c2 matches the model's P^-1 v^T Omega v within Monte Carlo error (the
    sd of a variance estimate from 80 draws is 16 %)."""
    n_t, n_pix = 30, 200
    sims = [
        hd.simulate_speckle(
            "static", STATIC, phi=[15.0], n_frames=n_t, n_pixels=n_pix, dt=0.25, seed=500 + s
        )
        for s in range(80)
    ]
    c2 = np.array([s.data.c2[0] for s in sims])
    expected = sims[0].expected_c2()[0]
    beta = float(sims[0].contrast[0])
    g = np.sqrt((expected - 1.0) / beta)
    upper = np.triu(np.ones((n_t, n_t)), 1)
    lag = np.subtract.outer(np.arange(n_t), np.arange(n_t))
    maps = np.stack([upper, upper * np.abs(lag) / n_t])  # uniform; weighted to long lags
    sums = np.einsum("sab,kab->sk", c2, maps)
    emp = np.var(sums, axis=0, ddof=1)
    model = np.diag(sc.speckle_middle(maps, g, beta)) / n_pix
    np.testing.assert_array_less(0.65 * model, emp)
    np.testing.assert_array_less(emp, 1.45 * model)


def _speckle_fit(config=None, n_frames=60, seed=3):
    truth = {"D0": 2.0e4, "alpha": -0.5, "D_offset": 2000.0}
    sim = hd.simulate_speckle(
        "static", truth, phi=[0.0, 90.0], n_frames=n_frames, n_pixels=100, seed=seed
    )
    return fit_nlsq(sim.data, ModelSpec.create("static", initial=truth), config)


def test_fit_uses_the_speckle_middle_term_and_reports_the_bartlett_one_beside():
    res = _speckle_fit()
    em = res.error_model
    assert em["used"] == "frame-correlated" and em["middle"] == "speckle", em["reason"]
    assert "speckle-statistics sandwich" in em["reason"] and "Bartlett" in em["reason"]
    # the calibrated effective pixel count is the simulated one within a factor 1.5
    assert 100 / 1.5 < em["pixels"] < 100 * 1.5, em["pixels"]
    for name in res.parameter_names:
        assert res.errors[name] == pytest.approx(res.errors_robust[name])
        assert em["errors_bartlett"][name] > 0
    bart = _speckle_fit(NLSQConfig(robust_middle="bartlett"))
    assert bart.error_model["middle"] == "bartlett" and "pixels" not in bart.error_model
    for name in res.parameter_names:  # the same Bartlett sum either way
        assert bart.errors[name] == pytest.approx(em["errors_bartlett"][name], rel=1e-6)


def test_long_matrices_keep_the_bartlett_sum_and_say_why(monkeypatch):
    monkeypatch.setattr(sc, "SPECKLE_MAX_FRAMES", 40)
    em = _speckle_fit(n_frames=60).error_model
    assert em["used"] == "frame-correlated" and em["middle"] == "bartlett"
    assert "60 frames (computed up to 40)" in em["middle_note"]
    assert "speckle-statistics model not used" in em["reason"]


def _problem_at_truth(mode, truth, phi, fixed, bin_width=None, seed=200, n_frames=100):
    from homodyne_nlsq.problem import build_problem
    from homodyne_physics import float64

    sim = hd.simulate_speckle(
        mode, truth, phi=phi, n_frames=n_frames, n_pixels=200, dt=0.25, seed=seed
    )
    spec = ModelSpec.create(mode, initial=truth, phi_bin_width=bin_width, fixed=fixed)
    with float64():
        problem = build_problem(sim.data, spec, NLSQConfig())
    scale = {"contrast": float(sim.contrast[0]), "offset": 1.0}
    x = [truth[n] if n in truth else scale[n.split("[")[0]] for n in problem.names]
    return problem, np.array(x)


def test_block_grid_gives_the_exact_sums_where_g1_decays_slowly(monkeypatch):
    """Above GRID_FRAMES frames the sums run over blocks of frames: on a 100-frame static
    matrix summed over 2- and 4-frame blocks the errors are the exact ones within 1 %."""
    problem, x = _problem_at_truth("static", STATIC, [15.0, 105.0], {"D_offset": 10.0})
    exact = sc.speckle_covariance(problem, x, pixels=200).errors
    for grid in (50, 25):
        monkeypatch.setattr(sc, "GRID_FRAMES", grid)
        blocks = sc.speckle_covariance(problem, x, pixels=200).errors
        np.testing.assert_allclose(blocks, exact, rtol=0.01)


def test_fast_decay_keeps_the_bartlett_sum(monkeypatch):
    """g1 that falls within fewer than two blocks: no block grid (an error that says why, and
    the fit keeps the Bartlett sum with that note)."""
    laminar = {**STATIC, "gamma_dot_t0": 2.0e-4, "beta": 0.3, "gamma_dot_t_offset": 0.0}
    laminar["phi0"] = 3.0
    fixed = {"D_offset": 10.0, "gamma_dot_t_offset": 0.0}
    problem, x = _problem_at_truth("laminar_flow", laminar, [15.0, 105.0], fixed, 4.0)
    monkeypatch.setattr(sc, "GRID_FRAMES", 25)  # 4-frame blocks; g1 falls within 4 frames
    with pytest.raises(sc.SpeckleNotApplicable, match="too fast for the 4-frame blocks"):
        sc.speckle_covariance(problem, x, pixels=200)


def test_a_failing_speckle_term_keeps_the_bartlett_sum(monkeypatch):
    def broken(problem, x, **kw):
        raise np.linalg.LinAlgError("singular normal matrix")

    monkeypatch.setattr(sc, "speckle_covariance", broken)
    em = _speckle_fit().error_model
    assert em["used"] == "frame-correlated" and em["middle"] == "bartlett"
    assert "could not be computed (LinAlgError: singular normal matrix)" in em["middle_note"]


def test_no_speckle_signal_is_refused_with_a_reason():
    problem, x = _problem_at_truth("static", STATIC, [15.0, 105.0], {"D_offset": 10.0})
    names = list(problem.names)
    x = x.copy()
    x[[k for k, n in enumerate(names) if n.startswith("contrast")]] = 0.0
    with pytest.raises(sc.SpeckleNotApplicable, match="no speckle signal"):
        sc.speckle_covariance(problem, x)


def test_a_given_pixel_count_replaces_the_calibration():
    """``speckle_pixels``: the covariance scales as 1 / P from the calibrated one."""
    cal = _speckle_fit()
    given = _speckle_fit(NLSQConfig(speckle_pixels=100.0))
    p_cal = cal.error_model["pixels"]
    assert given.error_model["pixels"] == 100.0 and given.error_model["pixels_given"]
    assert not cal.error_model["pixels_given"] and "calibrated" in cal.error_model["reason"]
    assert "100 pixels per angle (given)" in given.error_model["reason"]
    for name in cal.parameter_names:
        want = cal.errors[name] * np.sqrt(p_cal / 100.0)
        assert given.errors[name] == pytest.approx(want, rel=1e-6)
