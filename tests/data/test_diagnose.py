"""diagnose() lists every problem of a broken file instead of stopping at the first."""

import h5py
import numpy as np
import pytest

import homodyne_data as hd


def broken_file(tmp_path, hand, n=20):
    """APS-U: angle 2 with 30 % NaN (rows 8..13), frame_time 0, delay_list of 5 entries."""
    good, bad = hand.sym_matrix(n, 1), hand.sym_matrix(n, 2)
    iu = np.triu_indices(n, 1)
    kill = np.zeros(iu[0].size, dtype=bool)
    kill[: int(0.3 * iu[0].size)] = True  # the first 30 % of the upper-triangle values
    bad[iu[0][kill], iu[1][kill]] = np.nan

    def delays(f):
        f["xpcs/twotime/delay_list"] = np.arange(1, 6) * 0.01

    return hand.aps_u(
        tmp_path / "broken.h5",
        {1: good, 2: bad},
        [0.005],
        [0.0, 90.0],
        frame_time=0.0,
        extra=delays,
    )


def test_all_three_problems_are_listed(tmp_path, hand):
    path = broken_file(tmp_path, hand)
    with pytest.raises(hd.DataError):  # load stops at the first problem
        hd.load(path)
    diag = hd.diagnose(path)
    kinds = sorted(p.kind for p in diag.problems)
    assert kinds == ["metadata", "nan", "time step"], diag.problems
    text = {p.kind: p.what for p in diag.problems}
    assert "30% of the values are NaN" in text["nan"] and "phi = 90 deg" in text["nan"]
    assert "at t1 frames 1-4, t2 frames 2-20" in text["nan"]
    assert "frame_time 0" in text["time step"] and "not a positive time step" in text["time step"]
    assert "delay_list holds 5 delays" in text["metadata"] and "20 x 20" in text["metadata"]
    assert not diag.ok and diag.data is not None and diag.quality is not None
    assert diag.to_dict()["problems"][0]["what"]


def test_good_file_has_no_problem(tmp_path, hand):
    mats = {b: hand.sym_matrix(12, b) for b in (1, 2)}
    path = hand.aps_u(tmp_path / "good.h5", mats, [0.005], [0.0, 90.0])
    diag = hd.diagnose(path)
    assert diag.ok and diag.problems == ()
    assert diag.data.dt == pytest.approx(0.012)


def test_unreadable_and_bare_files(tmp_path, hand):
    (tmp_path / "junk.h5").write_bytes(b"not a file at all")
    (p,) = hd.diagnose(tmp_path / "junk.h5").problems
    assert p.kind == "layout" and "not an HDF5 file" in p.what
    np.save(tmp_path / "c2.npy", hand.sym_matrix(8, 1))
    (p,) = hd.diagnose(tmp_path / "c2.npy").problems
    assert p.kind == "metadata" and "array_phi" in p.what
    assert hd.diagnose(tmp_path / "c2.npy", array_q=0.01, array_phi=0, dt=1).ok


def test_writers_list_what_they_invented(tmp_path, hand):
    sim = hd.simulate("static", {"D0": 1000.0}, phi=[0.0], n_frames=12, seed=0)
    path = hd.write_aps_u(tmp_path / "sim.h5", sim)
    with h5py.File(path) as f:
        inv = {i["path"]: i for i in hd.invented_values(f)}
    assert inv["entry/instrument/detector_1/distance"]["value"] == 12.5
    assert inv["entry/instrument/incident_beam/incident_energy"]["value"] == 10.0
    assert inv["entry/instrument/detector_1/x_pixel_size"]["value"] == 75e-6
    assert "xpcs/qmap/dynamic_roi_map" in inv and "count_time" in " ".join(inv)
    assert hd.inspect_file(path).invented == tuple(hd.invented_values(h5py.File(path)))
    # invented values stay marked when the file is read and written again
    data = hd.load(path)
    assert "detector_distance" in data.metadata["invented_keys"].split(",")
    legacy = hd.write_aps_legacy(tmp_path / "leg.h5", data)
    with h5py.File(legacy) as f:
        again = {i["path"]: i["reason"] for i in hd.invented_values(f)}
    assert "source file" in again["measurement/instrument/detector/distance"]
    assert "xpcs/avg_frames" in again
    # values a real file holds are not listed
    real = {b: np.eye(6) + 1.0 for b in (1, 2)}

    def geometry(f):
        for name in ("x_pixel_size", "y_pixel_size", "beam_center_x", "beam_center_y"):
            f[f"entry/instrument/detector_1/{name}"] = 1.0

    real_path = hand.aps_u(tmp_path / "real.h5", real, [0.005], [0.0, 90.0], extra=geometry)
    out = hd.write_aps_u(tmp_path / "copy.h5", hd.load(real_path))
    with h5py.File(out) as f:
        paths = [i["path"] for i in hd.invented_values(f)]
    assert not any(p.startswith("entry/instrument") and "count_time" not in p for p in paths)
    assert "xpcs/qmap/dynamic_roi_map" in paths


def test_point_set_nan_fraction_and_place(tmp_path):
    """A multi-tau file whose angle 90 lost 40 % of its points above level 0."""
    sim = hd.simulate(
        "static",
        {"D0": 2e4, "alpha": -0.5, "D_offset": 1e3},
        phi=(0.0, 90.0),
        n_frames=48,
        noise=0.01,
        seed=2,
    )
    mt = hd.coarsen_multitau(sim.data, 4, 4)
    ps = mt.points
    values = ps.values.copy()
    deep = np.flatnonzero(ps.level >= 1)
    kill = int(0.4 * deep.size)
    values[1, deep[:kill]] = np.nan
    broken = hd.XPCSData.from_points(
        hd.PointSet(ps.t, ps.i, ps.j, values, ps.weights, kind="multitau", level=ps.level),
        mt.phi,
        q=mt.q,
        dt=mt.dt,
    )
    frac = kill / ps.n_points
    diag = hd.diagnose(hd.write_multitau(tmp_path / "mt.h5", broken))
    (problem,) = [p for p in diag.problems if p.kind == "nan"]
    assert problem.what.startswith(f"phi = 90 deg: {100 * frac:.3g}% of the values are NaN")
    assert "per level 1:" in problem.what and "0:" not in problem.what.split("per level")[1]
    assert problem.severity == ("error" if frac > 0.05 else "warning")
