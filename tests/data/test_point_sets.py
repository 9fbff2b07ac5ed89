"""Point-set two-time data: the container, hand-written (age, lag) and multi-tau files (plain
h5py from the layouts' definitions in the README, not our writers), writers and coarsening."""

import h5py
import numpy as np
import pytest

import homodyne_data as hd
from homodyne_data.agelag import write_agelag
from homodyne_data.errors import ShapeMismatchError, UnknownLayoutError
from homodyne_data.layouts import detect_layout
from homodyne_data.multitau import coarsen_multitau, multitau_pairs, write_multitau


def test_point_set_orders_pairs_and_indexes_distinct_times():
    ps = hd.PointSet.from_times([0.3, 0.2, 0.1], [0.1, 0.4, 0.2], [[1.0, 2.0, 3.0]], [1, 4, 1])
    np.testing.assert_array_equal(ps.t, [0.1, 0.2, 0.3, 0.4])
    np.testing.assert_array_equal(ps.t1, [0.1, 0.2, 0.1])  # (0.3, 0.1) swapped: c2 symmetric
    np.testing.assert_array_equal(ps.t2, [0.3, 0.4, 0.2])
    np.testing.assert_allclose(ps.lag, [0.2, 0.2, 0.1])
    np.testing.assert_array_equal(ps.weights, [[1.0, 4.0, 1.0]])
    with pytest.raises(ShapeMismatchError, match="t1 == t2"):
        hd.PointSet.from_times([0.1], [0.1], [[1.0]])
    with pytest.raises(ShapeMismatchError, match="weights"):
        hd.PointSet.from_times([0.1], [0.2], [[1.0]], [-1.0])


def test_xpcsdata_serves_point_sets_through_the_dense_accessors():
    ps = hd.PointSet.from_times([0.1, 0.1], [0.2, 0.5], [[1.1, 1.2], [1.3, 1.4]], [[1, 2], [3, 4]])
    data = hd.XPCSData.from_points(ps, [0.0, 90.0], q=0.005, dt=0.1)
    assert not data.is_dense and data.n_points == 2 and data.c2.shape == (2, 0, 0)
    np.testing.assert_array_equal(data.t, [0.1, 0.2, 0.5])
    i, j = data.pairs()
    np.testing.assert_array_equal(data.t[j] - data.t[i], data.lag)
    np.testing.assert_array_equal(data.flat(), [[1.1, 1.2], [1.3, 1.4]])
    np.testing.assert_array_equal(data.weights(), [[1, 2], [3, 4]])
    with pytest.raises(ShapeMismatchError, match="homodyne2"):
        data.pairs(1)  # the homodyne2 convention drops a first frame: no grid here


# --------------------------------------------------------------------- (age, lag), by hand


def _agelag_file(path, *, centre=False, lag_units="frames", weight=None):
    """ESRF-style grid: 4 ROIs on two q rings (1/nm), angles in rad, ages in s from 0, lags in
    frames of 0.5 s, log-spaced; ttcf[r, a, l] = 1 + r/10 + a/100 + l/1000, NaN past the end."""
    ages = np.arange(6) * 0.5
    lags = np.array([1, 2, 4])
    ttcf = np.empty((4, ages.size, lags.size))
    r, a, l = np.indices(ttcf.shape)
    ttcf[:] = 1 + r / 10 + a / 100 + l / 1000
    ttcf[:, 4:, 2] = np.nan  # age index + lag beyond 7 frames
    with h5py.File(path, "w") as f:
        base = f.create_group("entry_0000/correlations/run_a")
        tt = base.create_group("twotime")
        tt["ttcf"] = ttcf
        tt["age"] = ages
        tt["age"].attrs["units"] = "s"
        if centre:
            tt["age"].attrs["reference"] = "centre"
        tt["lag"] = lags if lag_units == "frames" else lags * 0.5
        tt["lag"].attrs["units"] = lag_units
        if weight is not None:
            tt["weight"] = weight
        par = base.create_group("parameters")
        par["q"] = [0.05, 0.05, 0.08, 0.08]
        par["q"].attrs["units"] = "1/nm"
        par["phi"] = np.deg2rad([0.0, 90.0, 0.0, 90.0])
        par["phi"].attrs["units"] = "rad"
        par["frame_time"] = 500.0
        par["frame_time"].attrs["units"] = "ms"
        f["entry_0000/correlations/run_a/g2/cf"] = np.ones((4, 3))  # one-time results beside
    return str(path), ttcf


def test_agelag_grid_read_by_hand(tmp_path):
    path, ttcf = _agelag_file(tmp_path / "esrf.h5")
    with h5py.File(path) as f:
        assert detect_layout(f, path) == "agelag"
    data = hd.load(path, q=0.008)  # 0.08 1/nm = 0.008 1/A: ROIs 2 and 3
    assert data.provenance.layout == "agelag" and data.q == pytest.approx(0.008)
    assert data.dt == pytest.approx(0.5)
    np.testing.assert_allclose(data.phi, [0.0, 90.0], atol=1e-12)
    assert data.n_points == 6 * 3 - 2  # two (age, lag) cells past the end are NaN: dropped
    ps = data.points
    # t1 = age + frame_time (frame 1 at t = dt), t2 = t1 + lag
    age_idx = np.round((ps.t1 - 0.5) / 0.5).astype(int)
    lag_idx = np.searchsorted([1, 2, 4], np.round(ps.lag / 0.5).astype(int))
    np.testing.assert_allclose(ps.values, ttcf[2:, age_idx, lag_idx], rtol=0, atol=0)
    np.testing.assert_array_equal(ps.weights, 1.0)
    assert any("earlier time" in n for n in data.provenance.notes)


def test_agelag_centre_reference_weights_and_angle_selection(tmp_path):
    weight = np.arange(1.0, 19.0).reshape(6, 3)
    path, ttcf = _agelag_file(tmp_path / "c.h5", centre=True, lag_units="s", weight=weight)
    data = hd.load(path, q=0.005, phi_ranges=[(80, 100)])  # ROI 1 only
    np.testing.assert_allclose(data.phi, [90.0])
    ps = data.points
    age = 0.5 * (ps.t1 + ps.t2) - 0.5  # ages are the mean time of the pair here
    a_idx = np.round(age / 0.5).astype(int)
    l_idx = np.searchsorted([1, 2, 4], np.round(ps.lag / 0.5).astype(int))
    np.testing.assert_array_equal(ps.values[0], ttcf[1, a_idx, l_idx])
    np.testing.assert_array_equal(ps.weights[0], weight[a_idx, l_idx])


def test_agelag_without_q_units_is_refused(tmp_path):
    path, _ = _agelag_file(tmp_path / "nounits.h5")
    with h5py.File(path, "a") as f:
        del f["entry_0000/correlations/run_a/parameters/q"].attrs["units"]
    with pytest.raises(hd.MissingMetadataError, match="units"):
        hd.load(path, q=0.008)


# --------------------------------------------------------------------- multi-tau, by hand


def test_multitau_levels_read_by_hand(tmp_path):
    path = str(tmp_path / "mt.h5")
    dt = 0.01
    with h5py.File(path, "w") as f:
        g = f.create_group("multitau_twotime")
        g["q"] = [0.004, 0.004]
        g["q"].attrs["units"] = "1/A"
        g["phi"] = [10.0, 100.0]
        g["phi"].attrs["units"] = "deg"
        g["frame_time"] = dt
        g["frame_time"].attrs["units"] = "s"
        l0 = g.create_group("level_00")  # frames 1..4, lags 1, 2
        l0["t1"] = np.array([1, 2, 3, 1, 2]) * dt
        l0["t2"] = np.array([2, 3, 4, 3, 4]) * dt
        l0["c2"] = [[1.5, 1.4, 1.3, 1.2, 1.1], [2.5, 2.4, 2.3, 2.2, 2.1]]
        l0["weight"] = np.ones(5)
        l1 = g.create_group("level_01")  # groups of 2 frames at 1.5 dt, 3.5 dt, ...; no weight
        l1.attrs["level"] = 1
        l1["t1"] = [1.5 * dt, 1.5 * dt]
        l1["t2"] = [5.5 * dt, 7.5 * dt]
        l1["c2"] = [[1.05, 1.01], [2.05, 2.01]]
    with h5py.File(path) as f:
        assert detect_layout(f, path) == "multitau"
    data = hd.load(path)
    assert data.provenance.layout == "multitau" and data.n_points == 7
    ps = data.points
    np.testing.assert_allclose(ps.t1, np.array([1, 2, 3, 1, 2, 1.5, 1.5]) * dt)
    np.testing.assert_allclose(ps.t2, np.array([2, 3, 4, 3, 4, 5.5, 7.5]) * dt)
    np.testing.assert_array_equal(ps.values[1], [2.5, 2.4, 2.3, 2.2, 2.1, 2.05, 2.01])
    np.testing.assert_array_equal(ps.weights[0], [1, 1, 1, 1, 1, 4, 4])  # level 1 default 4^1
    np.testing.assert_array_equal(ps.level, [0, 0, 0, 0, 0, 1, 1])
    # the frame window is a time window (frame n at n dt)
    cut = hd.load(path, end_frame=4)
    assert cut.n_points == 5


def test_unknown_layout_names_the_point_set_layouts(tmp_path):
    path = str(tmp_path / "other.h5")
    with h5py.File(path, "w") as f:
        f.create_group("something/else")
    with pytest.raises(UnknownLayoutError, match="multi-tau two-time") as info:
        hd.load(path)
    assert "ttcf" in str(info.value)


# --------------------------------------------------------------------- writers, coarsening


@pytest.fixture(scope="module")
def sim():
    truth = {"D0": 500.0, "alpha": -0.5, "D_offset": 10.0}
    return hd.simulate("static", truth, phi=[0.0, 45.0], n_frames=40, noise=0.01, seed=2)


def test_multitau_scheme_and_block_means(sim):
    levels = multitau_pairs(40, 4, per_level=4)
    assert [k for k, _ in levels] == [0, 1, 2, 3]
    assert np.unique(levels[0][1][:, 1]).tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert np.unique(levels[2][1][:, 1]).tolist() == [4, 5, 6, 7]  # 10 groups of 4 frames
    mt = coarsen_multitau(sim.data, levels=4, per_level=4)
    ps = mt.points
    c2 = sim.data.c2
    # a level-2 value: the mean of c2 over its 4 x 4 frame block, weight 16
    k = np.flatnonzero(ps.level == 2)[0]
    u1 = int(round((ps.t1[k] / sim.data.dt - 1 - 1.5) / 4))
    u2 = int(round((ps.t2[k] / sim.data.dt - 1 - 1.5) / 4))
    block = c2[:, 4 * u1 : 4 * u1 + 4, 4 * u2 : 4 * u2 + 4].mean(axis=(1, 2))
    np.testing.assert_allclose(ps.values[:, k], block, rtol=1e-14)
    assert ps.weights[0, k] == 16.0
    assert set(np.unique(ps.weights)) == {1.0, 4.0, 16.0, 64.0}


def test_writers_round_trip(tmp_path, sim):
    p_al = write_agelag(tmp_path / "al.h5", sim, n_lags=8)
    al = hd.load(p_al)
    assert al.q == pytest.approx(sim.data.q, rel=1e-12)
    t = sim.data.t
    i = np.searchsorted(t, al.points.t1 - 1e-9)
    j = np.searchsorted(t, al.points.t2 - 1e-9)
    np.testing.assert_allclose(al.points.t1, t[i], rtol=1e-12)
    np.testing.assert_allclose(al.points.values, sim.data.c2[:, i, j], rtol=0, atol=1e-7)
    assert np.unique(np.round(al.lag / sim.data.dt)).size == 8  # log-spaced lags, 1..39 frames
    mt = coarsen_multitau(sim.data, 4, 4)
    back = hd.load(write_multitau(tmp_path / "mt.h5", mt))
    np.testing.assert_array_equal(back.points.t, mt.points.t)
    np.testing.assert_array_equal(back.points.values, mt.points.values)
    np.testing.assert_array_equal(back.points.weights, mt.points.weights)
    with h5py.File(tmp_path / "mt.h5") as f:
        assert hd.invented_values(f) == []  # frame time known: nothing invented
