"""Files written by plain h5py (not our writer) in each layout read correctly."""

import numpy as np
import pytest

import homodyne_data as hd


def test_upper_half_is_completed_with_the_diagonal_halved_back(small_aps_u):
    path, mats = small_aps_u
    data = hd.load(path, q=0.006)  # ring 1 -> bins 4, 5, 6
    np.testing.assert_array_equal(data.phi, [-60.0, 0.0, 60.0])
    for k, b in enumerate((4, 5, 6)):
        # hand-made matrices are float32-exact: the read-back is exact, lower triangle and all
        np.testing.assert_array_equal(data.c2[k], mats[b])
        np.testing.assert_array_equal(np.diag(data.c2[k]), np.diag(mats[b]))
        assert np.all(data.c2[k][np.tril_indices(6, -1)] != 0)  # lower triangle filled
    # metadata: dt = frame_time x avg_frame x stride_frame = 0.002 x 3 x 2
    assert data.dt == pytest.approx(0.012, rel=1e-15)
    assert data.metadata["incident_energy"] == pytest.approx(10.9)
    assert data.metadata["detector_distance"] == 8.0
    assert data.metadata["temperature"] == 298.5
    assert data.metadata["shear_rate"] == 0.25
    assert data.metadata["avg_frame"] == 3 and data.metadata["stride_frame"] == 2


def test_full_and_lower_matrices_are_accepted(tmp_path, hand):
    mats = {b: hand.sym_matrix(7, b) for b in (1, 2, 3)}

    def lower_third(f):  # replace bin 3 with a lower-triangle-only half
        grp = f["xpcs/twotime/correlation_map"]
        del grp["c2_00003"]
        grp["c2_00003"] = np.tril(mats[3]).astype(np.float32)

    full = hand.aps_u(tmp_path / "full.h5", mats, [0.005], [0, 45, 90], half=False)
    mixed = hand.aps_u(tmp_path / "mixed.h5", mats, [0.005], [0, 45, 90], extra=lower_third)
    for path in (full, mixed):
        data = hd.load(path)
        for k, b in enumerate((1, 2, 3)):
            np.testing.assert_array_equal(data.c2[k], mats[b])
    assert hd.load(full).metadata["storage"] == "full"
    assert hd.load(mixed).metadata["storage"] == "lower/upper"


def test_any_key_names_in_natural_order_and_a_subset_of_bins(tmp_path, hand):
    # 2 q x 4 phi = bins 1..8; only bins 2, 3, 6, 7, 8 processed; keys c2_2, c2_10, ... are
    # matched positionally in natural order (c2_2 < c2_3 < c2_10).
    bins = [2, 3, 6, 7, 8]
    mats = {b: hand.sym_matrix(5, 100 + b) for b in bins}
    keys = ["g2_2", "g2_3", "g2_10", "g2_11", "g2_12"]
    path = hand.aps_u(
        tmp_path / "keys.h5", mats, [0.003, 0.007], [-90.0, -30.0, 30.0, 90.0], keys=keys
    )
    ring0 = hd.load(path, q=0.0031)
    np.testing.assert_array_equal(ring0.phi, [-30.0, 30.0])
    np.testing.assert_array_equal(ring0.c2[0], mats[2])
    np.testing.assert_array_equal(ring0.c2[1], mats[3])
    ring1 = hd.load(path, q=0.0069, phi_ranges=[(-100.0, 0.0), (80.0, 95.0)])
    np.testing.assert_array_equal(ring1.phi, [-30.0, 90.0])  # bins 6, 8 (5 is absent)
    np.testing.assert_array_equal(ring1.c2[0], mats[6])
    np.testing.assert_array_equal(ring1.c2[1], mats[8])
    assert ring1.provenance.selection["bins"] == [6, 8]
    assert ring1.provenance.selection["datasets"] == [
        "xpcs/twotime/correlation_map/g2_10",
        "xpcs/twotime/correlation_map/g2_12",
    ]
    assert ring1.q == 0.007
    assert any("physics uses q = 0.007" in n for n in ring1.provenance.notes)


def test_legacy_half_matrices_and_metadata(small_legacy):
    path, mats = small_legacy
    data = hd.load(path, q=0.0054, start_frame=2, end_frame=5)
    np.testing.assert_array_equal(data.phi, [10.0, 100.0, -170.0])
    for k in range(3):
        np.testing.assert_array_equal(data.c2[k], mats[k][1:5, 1:5])
    np.testing.assert_array_equal(data.frames, [2, 3, 4, 5])
    assert data.dt == 0.01  # exposure_period (no averaging datasets: factor 1)
    assert data.metadata["incident_energy"] == 7.35
    assert data.provenance.layout == "aps_legacy"


def test_legacy_several_rings_per_bin_q_and_tolerance(tmp_path, hand):
    # two rings of three angles each; each bin has its own (slightly different) q
    q = [0.00500, 0.00502, 0.00499, 0.00600, 0.00601, 0.00598]
    phi = [0.0, 120.0, -120.0, 0.0, 120.0, -120.0]
    mats = [hand.sym_matrix(5, 200 + k) for k in range(6)]
    path = hand.legacy(tmp_path / "rings.h5", mats, q, phi)
    low = hd.load(path, q=0.005)
    np.testing.assert_array_equal(low.phi, [0.0, 120.0, -120.0])
    assert low.q == pytest.approx(np.mean(q[:3]), rel=1e-14)  # the mean of the ring's bins
    for k in range(3):
        np.testing.assert_array_equal(low.c2[k], mats[k])
    # a tolerance wide enough to reach the other ring still keeps one bin per angle (nearest q)
    wide = hd.load(path, q=0.0055, q_tolerance=0.25)
    assert wide.n_phi == 3
    assert any("repeat an angle" in n for n in wide.provenance.notes)
    high = hd.load(path, q=0.0061)
    assert high.q == pytest.approx(np.mean(q[3:]), rel=1e-14)
    np.testing.assert_array_equal(high.c2[2], mats[5])
    with pytest.raises(hd.SelectionError, match="several q rings"):
        hd.load(path)  # q required: several rings


def test_dt_given_overrides_file_with_note(small_aps_u):
    path, _ = small_aps_u
    data = hd.load(path, q=0.004, dt=0.5)
    assert data.dt == 0.5
    assert any("file implies 0.012" in n for n in data.provenance.notes)


def test_nonfinite_below_threshold_kept_as_nan(tmp_path, hand):
    m = hand.sym_matrix(10, 3)
    m[2, 7] = m[7, 2] = np.inf
    m[1, 4] = m[4, 1] = np.nan
    path = hand.aps_u(tmp_path / "nan.h5", {1: m}, [0.005], [0.0])
    data = hd.load(path, nan_threshold=0.05)  # 4 of 100 values
    assert np.isnan(data.c2[0, 2, 7]) and np.isnan(data.c2[0, 7, 2]) and np.isnan(data.c2[0, 4, 1])
    assert np.isfinite(data.c2).sum() == 96
    assert any("4 NaN/inf" in n for n in data.provenance.notes)


def test_input_file_is_not_modified(small_aps_u):
    import hashlib
    import os

    path, _ = small_aps_u
    before = (hashlib.sha256(open(path, "rb").read()).hexdigest(), os.stat(path).st_mtime_ns)
    hd.load(path, q=0.004)
    hd.inspect_file(path)
    after = (hashlib.sha256(open(path, "rb").read()).hexdigest(), os.stat(path).st_mtime_ns)
    assert before == after


def test_bare_arrays_npy_and_npz(tmp_path, hand):
    mats = np.stack([hand.sym_matrix(8, 40 + k) for k in range(3)])
    npy = tmp_path / "c2.npy"
    np.save(npy, np.triu(mats[0]))  # a single half matrix
    d1 = hd.load(npy, array_q=0.005, array_phi=[30.0], dt=0.2, start_frame=2)
    np.testing.assert_array_equal(d1.c2[0], mats[0][1:, 1:])
    assert d1.q == 0.005 and d1.dt == 0.2 and d1.provenance.layout == "array"
    npz = tmp_path / "c2.npz"
    np.savez(npz, c2=mats, phi=np.array([-10.0, 50.0, 190.0]), q=np.float64(0.0061), dt=0.05)
    d3 = hd.load(npz, phi_ranges=[(170.0, -160.0)])
    np.testing.assert_array_equal(d3.phi, [-170.0])  # 190 deg normalised
    np.testing.assert_array_equal(d3.c2[0], mats[2])
    assert d3.q == 0.0061 and d3.dt == 0.05
