"""Speckle-level simulator: its mean two-time matrix is the kernel's (c2 - 1 = beta g1^2)."""

import numpy as np
import pytest

import homodyne_data as hd
from homodyne_data.speckle_frames import correlate


def _lag_means(c2: np.ndarray, lags) -> np.ndarray:
    """Mean of each listed diagonal, per bin: (n_phi, n_lags)."""
    return np.array([[np.diagonal(m, k).mean() for k in lags] for m in c2])


def test_static_mean_matches_kernel_within_monte_carlo_error():
    # decay time ~17 frames, so 160 frames hold ~10 independent speckle episodes per bin
    lags = [1, 3, 8, 16, 30]
    diffs = []
    for seed in range(3):
        sim = hd.simulate_speckle(
            "static",
            {"D0": 2.0e4, "alpha": 0.0, "D_offset": 0.0},
            phi=[0.0, 60.0],
            n_frames=160,
            n_pixels=400,
            seed=seed,
        )
        diffs.append(_lag_means(sim.data.c2, lags) - _lag_means(sim.expected_c2(), lags))
    d = np.concatenate(diffs)  # (6 independent bins, n_lags)
    se = d.std(axis=0, ddof=1) / np.sqrt(d.shape[0])
    assert np.all(np.abs(d.mean(axis=0)) < 4 * se + 2e-3), (d.mean(axis=0), se)
    # the reference itself: beta exp(-q^2 D0 lag dt), beta = (1 - 1/64)/4
    expected = sim.expected_c2()[0]
    lag_c2 = np.array([np.diagonal(expected, k)[0] for k in lags]) - 1.0
    q2d = 0.0054**2 * 2.0e4 * 0.1
    np.testing.assert_allclose(lag_c2, (1 - 1 / 64) / 4 * np.exp(-q2d * np.array(lags)), 1e-12)
    assert sim.contrast[0] == pytest.approx(0.24609375)


def test_laminar_mean_follows_the_shear_sinc():
    # phi0 = 0; bins along the flow (strong shear decorrelation) and across it (none)
    params = {"D0": 500.0, "alpha": 0.0, "D_offset": 0.0, "gamma_dot_t0": 2e-3, "beta": 0.0}
    params.update({"gamma_dot_t_offset": 0.0, "phi0": 0.0})
    sim = hd.simulate_speckle(
        "laminar_flow", params, phi=[0.0, 90.0], n_frames=80, n_pixels=500, bin_width=2.0, seed=3
    )
    exp = sim.expected_c2()
    lags = [1, 2, 4, 8]
    got, want = _lag_means(sim.data.c2, lags), _lag_means(exp, lags)
    # along the flow X = (q h / 2) I_g = 5400 * 2e-3 * 0.1 * lag = 1.08 lag: sinc^2 falls fast
    x = 0.5 * 0.0054 * 2e6 * 2e-3 * 0.1 * np.array(lags)
    beta = sim.contrast[0]
    assert np.all(want[0] - 1 < beta * (np.sin(x) / x) ** 2 + 0.01)
    np.testing.assert_allclose(got, want, atol=0.012)
    assert got[0, 2] - 1 < 0.5 * (got[1, 2] - 1)  # shear decorrelates the flow bin


def test_correlator_normalisation_and_poisson_counts():
    rng = np.random.default_rng(0)
    frames = rng.exponential(1.0, (50, 2000)) * np.linspace(1, 3, 50)[:, None]
    c2 = correlate(frames)
    # per-frame normalisation removes the intensity ramp: independent frames -> c2 = 1
    iu = np.triu_indices(50, 1)
    assert abs(c2[iu].mean() - 1.0) < 2e-3
    assert np.allclose(c2, c2.T)
    assert abs(np.diag(c2).mean() - 2.0) < 0.05  # exponential speckle: <I^2>/<I>^2 = 2
    sim = hd.simulate_speckle(
        "static",
        {"D0": 2e4, "alpha": 0.0, "D_offset": 0.0},
        n_frames=60,
        n_pixels=300,
        mean_counts=0.5,
        seed=1,
    )
    assert sim.frames_mean.mean() == pytest.approx(0.5, rel=0.05)
    # shot noise adds 1/<counts> to the diagonal only
    assert np.diag(sim.data.c2[0]).mean() - 1 > 1.5


def test_written_like_any_file_and_read_back(tmp_path):
    sim = hd.simulate_speckle("static", phi=[0.0, 45.0], n_frames=30, n_pixels=50, seed=2)
    path = hd.write_aps_u(tmp_path / "speckle.hdf", sim.data)
    back = hd.load(path)
    np.testing.assert_allclose(back.c2, sim.data.c2, rtol=1e-6)
    assert back.dt == sim.data.dt
    np.testing.assert_allclose(np.sort(back.phi), np.sort(sim.data.phi))


def test_bad_settings_name_the_setting():
    with pytest.raises(hd.DataConfigError, match="bin_width"):
        hd.simulate_speckle("static", bin_width=0.0)
    with pytest.raises(hd.DataConfigError, match="ensemble"):
        hd.simulate_speckle("static", ensemble="global")
    with pytest.raises(hd.DataConfigError, match="D\\(t\\)"):
        hd.simulate_speckle("static", {"D0": 100.0, "alpha": 0.0, "D_offset": -500.0})


def test_model_comes_from_the_spec_as_for_simulate():
    """One route: the spec's gap, bounds and start values make the model and the truth."""
    import homodyne_physics as hp

    spec = hp.ModelSpec.create("laminar_flow", gap=5e5, initial={"phi0": 4.0})
    sim = hd.simulate_speckle(spec, {"gamma_dot_t0": 1e-3}, n_frames=12, n_pixels=10, seed=0)
    assert sim.spec is spec and sim.model.gap == 5e5 and sim.settings["gap"] == 5e5
    assert sim.truth["phi0"] == 4.0 and sim.truth["gamma_dot_t0"] == 1e-3
    assert sim.data.provenance.selection["spec"] == spec.to_dict()
    # the same set-up as simulate: same truth vector and model for the same spec and values
    kernel = hd.simulate(spec, {"gamma_dot_t0": 1e-3}, n_frames=12)
    np.testing.assert_array_equal(kernel.theta, sim.theta)
    assert (kernel.model.gap, kernel.model.mode) == (sim.model.gap, sim.model.mode)
    with pytest.raises(hd.DataConfigError, match="convention 'physical'"):
        hd.simulate_speckle(hp.ModelSpec.create("static", convention="homodyne2"))
    narrow = hp.ModelSpec.create("static", bounds={"D0": (10.0, 2000.0)}, initial={"D0": 100.0})
    with pytest.raises(hp.ParameterError, match="D0.*outside its bounds"):
        hd.simulate_speckle(narrow, {"D0": 5000.0}, n_frames=10, n_pixels=10)


def test_expected_c2_is_the_kernel_with_the_simulated_bin_width():
    """expected_c2 (the kernel with phi_bin_width) = the mean of the point kernel over every
    q-vector angle of each bin, the average the correlator takes."""
    from dataclasses import replace

    import homodyne_physics as hp

    params = {"D0": 1000.0, "alpha": 0.5, "D_offset": 10.0, "gamma_dot_t0": 2e-4, "beta": 0.3}
    params.update({"gamma_dot_t_offset": 0.0, "phi0": 3.0})
    sim = hd.simulate_speckle(
        "laminar_flow", params, phi=[0.0, 90.0], n_frames=100, n_pixels=50, dt=0.25, seed=1
    )
    assert sim.model.phi_bin_width == 4.0 == sim.settings["bin_width"]
    point = replace(sim.model, phi_bin_width=None)
    exp = sim.expected_c2()
    for b in range(2):
        with hp.float64():
            g = hp.c2_matrix(point, sim.theta, 1.0, 0.0, sim.data.t, sim.pixel_phi[b])
        want = 1.0 + sim.contrast[b] * np.asarray(g).mean(axis=0)
        np.testing.assert_allclose(exp[b], want, rtol=0, atol=1e-6)
    centre = np.asarray(hp.c2_matrix(point, sim.theta, sim.contrast, 1.0, sim.data.t, [0.0, 90.0]))
    assert np.max(np.abs(exp[1] - centre[1])) > 1e-3  # across the flow the bin matters
