"""Simulator (physics known answers, noise statistics) and the quality report."""

import json

import numpy as np
import pytest

import homodyne_data as hd
from homodyne_physics import HomodyneError, ParameterError


def test_static_brownian_closed_form():
    # alpha = 0, D_offset = 0: c2 - offset = contrast exp(-q^2 D0 |t2 - t1|) (model.md)
    q, d0, dt = 0.0054, 3000.0, 0.05
    sim = hd.simulate(
        "static",
        {"D0": d0, "alpha": 0.0, "D_offset": 0.0},
        phi=[0.0, 45.0],
        q=q,
        dt=dt,
        n_frames=40,
        start_frame=3,
        contrast=[0.25, 0.35],
        offset=[1.0, 1.02],
        noise=0.0,
    )
    t = np.arange(3, 43) * dt
    lag = np.abs(t[:, None] - t[None, :])
    for k, (c, o) in enumerate([(0.25, 1.0), (0.35, 1.02)]):
        expected = o + c * np.exp(-q * q * d0 * lag)
        np.testing.assert_allclose(sim.data.c2[k], expected, rtol=1e-13, atol=0)  # float64 exp
    np.testing.assert_array_equal(sim.data.frames, np.arange(3, 43))
    np.testing.assert_allclose(sim.data.t, t, rtol=1e-15)
    assert (
        sim.truth["D0"] == d0 and sim.truth["contrast_1"] == 0.35 and sim.truth["offset_0"] == 1.0
    )
    assert sim.truth["contrast"] == pytest.approx(0.3) and sim.truth["offset"] == pytest.approx(
        1.01
    )
    np.testing.assert_array_equal(sim.clean_c2(), sim.data.c2)  # no noise


def test_laminar_flow_perpendicular_to_flow_equals_static():
    # at phi = phi0 + 90 deg the shear phase vanishes: laminar_flow == static
    params = {"D0": 2000.0, "alpha": 0.3, "D_offset": 5.0}
    lam = hd.simulate(
        "laminar_flow",
        {**params, "gamma_dot_t0": 0.05, "beta": 0.0, "phi0": 5.0},
        phi=[95.0, 5.0],
        n_frames=30,
        noise=0.0,
    )
    sta = hd.simulate("static", params, phi=[95.0], n_frames=30, noise=0.0)
    np.testing.assert_allclose(lam.data.c2[0], sta.data.c2[0], rtol=1e-12, atol=1e-15)
    # along the flow the shear decorrelates faster
    assert np.all(lam.data.c2[1][0, 1:] < lam.data.c2[0][0, 1:])


def test_noise_statistics_symmetry_and_seed():
    kw = dict(phi=[0.0, 60.0, 120.0], n_frames=100, noise=0.01, lag_noise=0.03)
    sim = hd.simulate("static", **kw, seed=7)
    resid = sim.data.c2 - sim.clean_c2()
    np.testing.assert_array_equal(resid, np.swapaxes(resid, 1, 2))  # symmetric noise
    sigma = sim.sigma()
    assert sigma[0, 0] == pytest.approx(0.01) and sigma[0, -1] == pytest.approx(0.04)
    iu = np.triu_indices(100)
    z = (resid / sigma)[:, iu[0], iu[1]].ravel()  # 3 x 5050 independent N(0, 1) draws
    n = z.size
    assert abs(z.mean()) < 4.0 / np.sqrt(n)
    assert abs(z.std() - 1.0) < 4.0 / np.sqrt(2 * n)  # sd of the sample sd ~ 1/sqrt(2n)
    # noise grows with the lag: far-lag residuals are wider than near-lag ones
    i, j = iu
    near, far = (j - i) < 10, (j - i) > 80
    assert resid[:, i[far], j[far]].std() > 2.5 * resid[:, i[near], j[near]].std()
    again = hd.simulate("static", **kw, seed=7)
    np.testing.assert_array_equal(again.data.c2, sim.data.c2)
    other = hd.simulate("static", **kw, seed=8)
    assert not np.array_equal(other.data.c2, sim.data.c2)


def test_simulate_rejects_bad_input():
    with pytest.raises(hd.DataConfigError, match="n_frames"):
        hd.simulate("static", n_frames=1)
    with pytest.raises(hd.DataConfigError, match="contrast"):
        hd.simulate("static", phi=[0, 1], contrast=[0.1, 0.2, 0.3])
    with pytest.raises(hd.DataConfigError, match="noise"):
        hd.simulate("static", noise=-1.0)
    with pytest.raises(ParameterError):
        hd.simulate("static", {"D0": -5.0})
    with pytest.raises(HomodyneError):
        hd.simulate("static", {"gamma_dot_t0": 0.1})  # not a static parameter


def test_writer_refuses_frames_not_starting_at_one(tmp_path):
    sim = hd.simulate("static", n_frames=10, start_frame=5, noise=0.0)
    with pytest.raises(hd.DataConfigError, match="frames"):
        hd.write_aps_u(tmp_path / "x.h5", sim)
    with pytest.raises(hd.DataError, match="exists"):
        path = hd.write_aps_legacy(tmp_path / "y.h5", hd.simulate("static", n_frames=10))
        hd.write_aps_legacy(path, hd.simulate("static", n_frames=10), overwrite=False)


def test_quality_report_recovers_noise_contrast_and_offset():
    # q^2 D0 = 8 /s, dt = 0.01 s: fully decayed at the far lags, 8% decay after one frame
    sim = hd.simulate(
        "static",
        {"D0": 20000.0, "alpha": 0.0, "D_offset": 0.0},
        phi=[0.0, 90.0, 180.0],
        q=0.02,
        dt=0.01,
        n_frames=100,
        contrast=0.3,
        offset=1.0,
        noise=0.01,
        seed=3,
    )
    rep = hd.quality_report(sim.data)
    np.testing.assert_allclose(rep.noise, 0.01, rtol=0.08)  # MAD on ~1000 diffs: ~4% sd
    assert np.all((rep.contrast > 0.26) & (rep.contrast < 0.29))  # 0.3 exp(-0.08) = 0.277
    np.testing.assert_allclose(rep.offset, 1.0, atol=0.006)
    np.testing.assert_allclose(rep.snr, rep.contrast / rep.noise, rtol=1e-12)
    np.testing.assert_array_equal(rep.nan_fraction, 0.0)
    assert rep.flags == [] and rep.ok
    d = json.loads(json.dumps(rep.to_dict()))
    assert len(d["angles"]) == 3 and d["angles"][2]["phi"] == -180.0


def test_quality_flags():
    sim = hd.simulate(
        "static",
        {"D0": 20000.0, "alpha": 0.0, "D_offset": 0.0},
        phi=[0.0, 30.0, 60.0, 90.0],
        q=0.02,
        dt=0.01,
        n_frames=60,
        contrast=[0.3, 0.3, 0.05, 0.3],
        offset=[1.0, 1.0, 1.0, 1.4],
        noise=0.02,
        seed=1,
    )
    c2 = np.array(sim.data.c2)
    c2[1, :6, 10:] = np.nan  # 300 of 1770 upper pairs ...
    c2[1, 10:, :6] = np.nan  # ... mirrored
    data = hd.XPCSData(c2, sim.data.phi, sim.data.q, sim.data.dt, sim.data.frames)
    rep = hd.quality_report(data)
    assert rep.nan_fraction[1] == pytest.approx(6 * 50 / (60 * 59 / 2))
    text = "\n".join(rep.flags)
    assert "phi = 30 deg: 17% of the values are NaN/inf" in text
    assert "phi = 60 deg: low signal-to-noise" in text
    assert "phi = 60 deg: contrast" in text and "differs from the median" in text
    assert "phi = 90 deg: baseline 1.4" in text
    assert not any(f.startswith("phi = 0 deg") for f in rep.flags)
    few = hd.quality_report(hd.simulate("static", n_frames=8, noise=0.01).data)
    assert any("only 8 frames" in f for f in few.flags)


def test_diagonal_corrected_for_display():
    sim = hd.simulate("static", phi=[0.0, 10.0], n_frames=20, noise=0.01, seed=2)
    fixed = hd.diagonal_corrected(sim.data.c2)
    c = sim.data.c2
    s = 0.5 * (np.diagonal(c, 1, 1, 2) + np.diagonal(c, -1, 1, 2))
    np.testing.assert_allclose(np.diagonal(fixed, 0, 1, 2)[:, 1:-1], 0.5 * (s[:, :-1] + s[:, 1:]))
    off = ~np.eye(20, dtype=bool)
    np.testing.assert_array_equal(fixed[:, off], c[:, off])
    assert fixed.flags.writeable and not c.flags.writeable  # a new array; the input is read-only
