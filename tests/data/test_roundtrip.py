"""simulate -> write APS-U / legacy -> read: identical selection and values (float32 precision)."""

import numpy as np
import pytest

import homodyne_data as hd

N_FRAMES = 60
ANGLES = {
    1: np.array([175.0]),
    3: np.array([-175.0, 0.0, 90.0]),
    23: np.linspace(-170.0, 170.0, 23),
}
# (phi_ranges, start_frame, end_frame, expected angle mask as a plain predicate)
SELECTIONS = {
    "all": (None, 1, -1, lambda p: np.ones(p.shape, bool)),
    "frames": (None, 7, 48, lambda p: np.ones(p.shape, bool)),
    "phi": ([(-100.0, 10.0)], 1, -1, lambda p: (p >= -100.0) & (p <= 10.0)),
    "wrap": ([(160.0, -160.0)], 3, -1, lambda p: (p >= 160.0) | (p <= -160.0)),
    "two+frames": (
        [(80.0, 100.0), (170.0, 190.0)],
        2,
        30,
        lambda p: ((p >= 80.0) & (p <= 100.0)) | (p >= 170.0) | (p <= -170.0),
    ),
}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """One laminar-flow simulation per angle count, written once in each layout."""
    out = {}
    root = tmp_path_factory.mktemp("roundtrip")
    for n_phi, phi in ANGLES.items():
        sim = hd.simulate(
            "laminar_flow",
            {"D0": 200.0, "gamma_dot_t0": 1e-4},
            phi=phi,
            n_frames=N_FRAMES,
            contrast=np.linspace(0.2, 0.3, n_phi),
            noise=0.02,
            lag_noise=0.01,
            seed=n_phi,
        )
        files = {
            "aps_u": hd.write_aps_u(root / f"apsu_{n_phi}.hdf", sim, n_q=2, q_index=1),
            "aps_legacy": hd.write_aps_legacy(root / f"legacy_{n_phi}.hdf", sim),
        }
        out[n_phi] = (sim, files)
    return out


@pytest.mark.parametrize("layout", ["aps_u", "aps_legacy"])
@pytest.mark.parametrize("n_phi", sorted(ANGLES))
@pytest.mark.parametrize("sel", sorted(SELECTIONS))
def test_round_trip(written, layout, n_phi, sel):
    sim, files = written[n_phi]
    ranges, start, end, predicate = SELECTIONS[sel]
    phi_all = ANGLES[n_phi]
    expected = np.flatnonzero(predicate(phi_all))
    if expected.size == 0:
        with pytest.raises(hd.NoAnglesSelectedError) as err:
            hd.load(files[layout], q=0.0054, phi_ranges=ranges)
        assert str(files[layout]) in str(err.value)
        return
    data = hd.load(files[layout], q=0.0054, phi_ranges=ranges, start_frame=start, end_frame=end)
    stop = N_FRAMES if end == -1 else end
    window = slice(start - 1, stop)
    assert data.c2.shape == (expected.size, stop - start + 1, stop - start + 1)
    assert data.c2.dtype == np.float64
    np.testing.assert_array_equal(data.frames, np.arange(start, stop + 1))
    np.testing.assert_array_equal(data.phi, phi_all[expected])  # angles exact (float64 in file)
    assert data.q == 0.0054 and data.dt == pytest.approx(0.1, rel=1e-15)
    truth = sim.data.c2[expected][:, window, window]
    # stored as float32 upper halves: the read-back must equal the float32-rounded values bit
    # for bit (lower triangle by symmetry, diagonal not doubled) ...
    np.testing.assert_array_equal(data.c2, truth.astype(np.float32).astype(np.float64))
    # ... i.e. the float64 truth to float32 precision (half an ulp, 2^-24 relative).
    np.testing.assert_allclose(data.c2, truth, rtol=2.0**-24, atol=0)
    assert data.provenance.layout == layout
    assert data.provenance.selection["frames"] == [start, stop]
    assert data.provenance.selection["q_used"] == 0.0054
    assert any("physics uses q = 0.0054" in n for n in data.provenance.notes)


def test_other_ring_of_the_aps_u_file_is_a_different_q(written):
    sim, files = written[3]
    other = hd.load(files["aps_u"], q=0.0054 * 0.75)  # ring 0: q * (1 - 0.25)
    assert other.q == pytest.approx(0.0054 * 0.75, rel=1e-15)
    same = hd.load(files["aps_u"], q=0.0054)
    assert not np.allclose(other.c2, same.c2)
    # its content is the physics at that q: the same simulation re-run at the ring's q
    again = hd.simulate(
        "laminar_flow",
        {"D0": 200.0, "gamma_dot_t0": 1e-4},
        phi=ANGLES[3],
        q=0.0054 * 0.75,
        n_frames=N_FRAMES,
        contrast=np.linspace(0.2, 0.3, 3),
        noise=0.02,
        lag_noise=0.01,
        seed=3 + 1000,
    )
    np.testing.assert_allclose(other.c2, again.data.c2, rtol=2.0**-24, atol=0)


def test_metadata_and_dt_from_file(written):
    _, files = written[3]
    for layout, path in files.items():
        data = hd.load(path, q=0.0054)
        assert data.dt == pytest.approx(0.1, rel=1e-12)
        assert data.metadata["incident_energy"] == pytest.approx(10.0)
        assert data.metadata["detector_distance"] == pytest.approx(12.5)
        assert data.metadata["storage"] == "upper", layout


def test_flat_view_matches_pairs(written):
    sim, files = written[23]
    data = hd.load(files["aps_u"], q=0.0054, start_frame=5, end_frame=40)
    i, j = data.pairs(0)
    flat = data.flat(0)
    assert flat.shape == (23, 36 * 35 // 2)
    np.testing.assert_array_equal(flat, data.c2[:, i, j])
    np.testing.assert_allclose(data.lag, (j - i) * 0.1, rtol=1e-12)


def test_inspect_file(written):
    _, files = written[23]
    s = hd.inspect_file(files["aps_u"])
    assert s.layout == "aps_u" and s.n_frames == N_FRAMES and len(s.bins) == 46
    np.testing.assert_allclose(s.q, [0.0054 * 0.75, 0.0054], rtol=1e-15)
    np.testing.assert_allclose(s.phi, ANGLES[23], rtol=0, atol=1e-12)
    assert s.storage == "upper" and s.dt == pytest.approx(0.1)
    d = s.to_dict()
    assert d["n_bins"] == 46 and d["bins"][0]["dataset"].startswith("xpcs/twotime/correlation_map/")
    assert "aps_u" in s.describe()
    legacy = hd.inspect_file(files["aps_legacy"])
    assert legacy.layout == "aps_legacy" and len(legacy.bins) == 23 and legacy.q == (0.0054,)
