"""Bare arrays (.npy, .npz, plain HDF5) with q, phi and dt given or stored with units."""

import h5py
import numpy as np
import pytest

import homodyne_data as hd


def test_350_square_npy_loads_with_q_phi_dt_given(tmp_path, hand):
    m = hand.sym_matrix(350, 3)
    np.save(tmp_path / "c2.npy", m)
    data = hd.load(tmp_path / "c2.npy", array_q=0.01, array_phi=0, dt=1)
    assert (data.n_phi, data.n_t, data.q, data.dt) == (1, 350, 0.01, 1.0)
    np.testing.assert_array_equal(data.c2[0], m)
    # the same through DataConfig (the config keys array_q, array_phi, dt)
    cfg = hd.DataConfig(file=str(tmp_path / "c2.npy"), array_q=0.01, array_phi=[0.0], dt=1.0)
    np.testing.assert_array_equal(hd.load_data(cfg).c2, data.c2)
    # q as the ring request works too (--q on the command line)
    assert hd.load(tmp_path / "c2.npy", q=0.01, array_phi=0, dt=1).q == 0.01


def test_config_values_with_units(tmp_path, hand):
    np.save(tmp_path / "c2.npy", hand.sym_matrix(6, 1))
    cfg = hd.DataConfig(
        file=str(tmp_path / "c2.npy"),
        array_q="0.1 1/nm",
        array_phi=["1.5707963267948966 rad"],
        dt=0.005,
    )
    data = hd.load_data(cfg)
    assert data.q == pytest.approx(0.01) and data.dt == pytest.approx(0.005)
    np.testing.assert_allclose(data.phi, [90.0])
    with pytest.raises(hd.DataConfigError, match="array_q"):
        hd.DataConfig(file="x.npy", array_q="0.1 furlongs")
    with pytest.raises(hd.DataConfigError, match="axis_order"):
        hd.DataConfig(file="x.npy", axis_order="sideways")


def test_pychx_stack_n_n_roi(tmp_path, hand):
    mats = [hand.sym_matrix(8, 20 + k) for k in range(3)]
    np.save(tmp_path / "g12b.npy", np.stack(mats, axis=-1))  # (N, N, n_roi)
    data = hd.load(tmp_path / "g12b.npy", array_q=0.004, array_phi=[0, 30, 60], dt=0.1)
    for k in range(3):
        np.testing.assert_array_equal(data.c2[k], mats[k])
    # (8, 8, 8) is ambiguous: axis_order decides
    cube = np.stack([hand.sym_matrix(8, 30 + k) for k in range(8)], axis=-1)
    np.save(tmp_path / "cube.npy", cube)
    with pytest.raises(hd.MissingMetadataError, match="axis_order"):
        hd.load(tmp_path / "cube.npy", array_q=0.004, array_phi=list(range(8)), dt=0.1)
    data = hd.load(
        tmp_path / "cube.npy",
        array_q=0.004,
        array_phi=list(range(8)),
        dt=0.1,
        axis_order="phi_last",
    )
    np.testing.assert_array_equal(data.c2[5], cube[..., 5])


def test_plain_hdf5_array_reads_units(tmp_path, hand):
    mats = [hand.sym_matrix(7, 50 + k) for k in range(2)]
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f["g12b"] = np.stack(mats, axis=-1).astype(np.float32)
        f["q"] = 0.05
        f["q"].attrs["units"] = "1/nm"
        f["phi"] = [0.0, np.pi]
        f["phi"].attrs["units"] = "rad"
        f["dt"] = 2.0
        f["dt"].attrs["units"] = "ms"
    data = hd.load(path)
    assert data.provenance.layout == "array"
    assert data.q == pytest.approx(0.005) and data.dt == pytest.approx(0.002)
    np.testing.assert_allclose(data.phi, [0.0, -180.0])
    np.testing.assert_array_equal(data.c2[1], mats[1])
    with h5py.File(path, "a") as f:
        del f["q"].attrs["units"]
    with pytest.raises(hd.MissingMetadataError, match="add a units attribute"):
        hd.load(path)


def test_end_frame_beyond_the_data_is_clipped_with_a_warning(tmp_path, hand):
    np.save(tmp_path / "c2.npy", hand.sym_matrix(10, 1))
    with pytest.raises(hd.DataError, match="40"):  # an error unless clipping is asked for
        hd.load(tmp_path / "c2.npy", array_q=0.01, array_phi=0, dt=1, end_frame=40)
    data = hd.load(
        tmp_path / "c2.npy", array_q=0.01, array_phi=0, dt=1, end_frame=40, clip_frames=True
    )
    assert data.n_t == 10
    assert any("end_frame 40 is beyond the 10 frames" in w for w in data.provenance.warnings)
