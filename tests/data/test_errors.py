"""Every validation failure raises its named DataError, and the message names file and dataset."""

import h5py
import numpy as np
import pytest

import homodyne_data as hd
from homodyne_physics import HomodyneError

APS_U_Q = "xpcs/qmap/dynamic_v_list_dim0"
APS_U_PHI = "xpcs/qmap/dynamic_v_list_dim1"
APS_U_BINS = "xpcs/twotime/processed_bins"
APS_U_MAPS = "xpcs/twotime/correlation_map"


def check(exc_info, exc_type, file, dataset):
    """The error has the exact type, is a HomodyneError, and names file and dataset."""
    err = exc_info.value
    assert isinstance(err, exc_type), type(err)
    assert isinstance(err, HomodyneError) and isinstance(err, hd.DataError)
    msg = str(err)
    assert str(file) in msg, msg
    assert dataset in msg, msg
    assert err.file == str(file) and dataset in (err.dataset or "")


def apsu(hand, tmp_path, name="f.h5", n=6, bins=(1, 2, 3), **kw):
    mats = {b: hand.sym_matrix(n, b) for b in bins}
    return hand.aps_u(tmp_path / name, mats, [0.005], [-30.0, 0.0, 30.0], **kw)


def edit(path, fn):
    with h5py.File(path, "a") as f:
        fn(f)
    return path


def test_missing_file(tmp_path):
    path = tmp_path / "nope.h5"
    with pytest.raises(hd.DataFileNotFoundError) as e:
        hd.load(path, q=0.005)
    check(e, hd.DataFileNotFoundError, path, "/")
    assert isinstance(e.value, FileNotFoundError)
    with pytest.raises(hd.DataFileNotFoundError) as e:
        hd.load(tmp_path, q=0.005)  # a directory
    check(e, hd.DataFileNotFoundError, tmp_path, "/")


def test_not_hdf5(tmp_path):
    path = tmp_path / "notes.hdf"
    path.write_text("this is not an HDF5 file\n")
    with pytest.raises(hd.NotHDF5Error) as e:
        hd.load(path)
    check(e, hd.NotHDF5Error, path, "/")
    with pytest.raises(hd.NotHDF5Error):
        hd.inspect_file(path)


def test_unknown_layout(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["entry/data/data"] = np.zeros((4, 4))
    with pytest.raises(hd.UnknownLayoutError) as e:
        hd.load(path)
    check(e, hd.UnknownLayoutError, path, "/")
    assert "entry" in str(e.value)


def test_multitau_only_file(tmp_path):
    path = tmp_path / "multitau.h5"
    with h5py.File(path, "w") as f:
        f["xpcs/multitau/normalized_g2"] = np.ones((10, 3))
    with pytest.raises(hd.MissingDatasetError) as e:
        hd.load(path)
    check(e, hd.MissingDatasetError, path, APS_U_MAPS)
    assert "multitau" in str(e.value)


@pytest.mark.parametrize("missing", [APS_U_PHI, APS_U_BINS, APS_U_MAPS])
def test_missing_aps_u_datasets(tmp_path, hand, missing):
    path = edit(apsu(hand, tmp_path), lambda f: f.__delitem__(missing))
    with pytest.raises(hd.MissingDatasetError) as e:
        hd.load(path, q=0.005)
    check(e, hd.MissingDatasetError, path, missing)


@pytest.mark.parametrize("missing", ["xpcs/dphilist", "exchange/C2T_all"])
def test_missing_legacy_datasets(small_legacy, missing):
    path, _ = small_legacy
    edit(path, lambda f: f.__delitem__(missing))
    with pytest.raises(hd.MissingDatasetError) as e:
        hd.load(path, q=0.0054)
    check(e, hd.MissingDatasetError, path, missing)


def test_empty_datasets(tmp_path, hand):
    def empty_q(f):
        del f[APS_U_Q]
        f[APS_U_Q] = np.zeros(0)

    path = edit(apsu(hand, tmp_path, "q.h5"), empty_q)
    with pytest.raises(hd.EmptyDatasetError) as e:
        hd.load(path)
    check(e, hd.EmptyDatasetError, path, APS_U_Q)

    def empty_maps(f):
        del f[APS_U_MAPS]
        f.create_group(APS_U_MAPS)

    path = edit(apsu(hand, tmp_path, "maps.h5"), empty_maps)
    with pytest.raises(hd.EmptyDatasetError) as e:
        hd.load(path)
    check(e, hd.EmptyDatasetError, path, APS_U_MAPS)

    def zero_matrix(f):
        del f[f"{APS_U_MAPS}/c2_00002"]
        f[f"{APS_U_MAPS}/c2_00002"] = np.zeros((0, 0), np.float32)

    path = edit(apsu(hand, tmp_path, "zero.h5"), zero_matrix)
    with pytest.raises(hd.EmptyDatasetError) as e:
        hd.load(path)
    check(e, hd.EmptyDatasetError, path, f"{APS_U_MAPS}/c2_00002")


def test_bin_count_mismatch(tmp_path, hand):
    path = edit(apsu(hand, tmp_path), lambda f: f.__delitem__(f"{APS_U_MAPS}/c2_00003"))
    with pytest.raises(hd.ShapeMismatchError) as e:
        hd.load(path)
    check(e, hd.ShapeMismatchError, path, APS_U_BINS)
    assert "3 processed bins but 2 matrices" in str(e.value)


def test_bin_id_out_of_range(tmp_path, hand):
    def bad_ids(f):
        del f[APS_U_BINS]
        f[APS_U_BINS] = np.array([1, 2, 9])

    path = edit(apsu(hand, tmp_path), bad_ids)
    with pytest.raises(hd.ShapeMismatchError) as e:
        hd.load(path)
    check(e, hd.ShapeMismatchError, path, APS_U_BINS)


def test_legacy_q_phi_length_mismatch(small_legacy):
    path, _ = small_legacy

    def short_phi(f):
        del f["xpcs/dphilist"]
        f["xpcs/dphilist"] = np.array([[0.0, 10.0]])

    edit(path, short_phi)
    with pytest.raises(hd.ShapeMismatchError) as e:
        hd.load(path, q=0.0054)
    check(e, hd.ShapeMismatchError, path, "xpcs/dqlist")


def test_legacy_matrix_count_mismatch(small_legacy):
    path, _ = small_legacy
    edit(path, lambda f: f.__delitem__("exchange/C2T_all/C2T_002"))
    with pytest.raises(hd.ShapeMismatchError) as e:
        hd.load(path, q=0.0054)
    check(e, hd.ShapeMismatchError, path, "exchange/C2T_all")


def test_non_square_and_unequal_matrices(tmp_path, hand):
    def non_square(f):
        del f[f"{APS_U_MAPS}/c2_00001"]
        f[f"{APS_U_MAPS}/c2_00001"] = np.ones((6, 5), np.float32)

    path = edit(apsu(hand, tmp_path, "ns.h5"), non_square)
    with pytest.raises(hd.ShapeMismatchError) as e:
        hd.load(path)
    check(e, hd.ShapeMismatchError, path, f"{APS_U_MAPS}/c2_00001")

    def unequal(f):
        del f[f"{APS_U_MAPS}/c2_00003"]
        f[f"{APS_U_MAPS}/c2_00003"] = np.triu(hand.sym_matrix(8, 1)).astype(np.float32)

    path = edit(apsu(hand, tmp_path, "uneq.h5"), unequal)
    with pytest.raises(hd.ShapeMismatchError) as e:
        hd.load(path)
    check(e, hd.ShapeMismatchError, path, f"{APS_U_MAPS}/c2_00003")
    # an unequal matrix outside the selection does not matter
    assert hd.load(path, phi_ranges=[(-40.0, 10.0)]).n_phi == 2


def test_string_matrix(tmp_path, hand):
    def strings(f):
        del f[f"{APS_U_MAPS}/c2_00001"]
        f[f"{APS_U_MAPS}/c2_00001"] = np.array([[b"a", b"b"], [b"c", b"d"]])

    path = edit(apsu(hand, tmp_path), strings)
    with pytest.raises(hd.DatasetTypeError) as e:
        hd.load(path)
    check(e, hd.DatasetTypeError, path, f"{APS_U_MAPS}/c2_00001")


def test_nan_fraction_above_threshold_names_location(tmp_path, hand):
    m = hand.sym_matrix(10, 5)
    m[3:6, 3:9] = np.nan  # 18 values of the upper block + mirrored part
    path = hand.aps_u(tmp_path / "nan.h5", {1: m, 2: hand.sym_matrix(10, 6)}, [0.005], [0, 90])
    with pytest.raises(hd.NonFiniteDataError) as e:
        hd.load(path, nan_threshold=0.05)
    check(e, hd.NonFiniteDataError, path, f"{APS_U_MAPS}/c2_00001")
    assert "first at row 3, column 3" in str(e.value)
    # a frame window that avoids the NaN block reads fine
    assert hd.load(path, end_frame=3).n_t == 3


@pytest.mark.parametrize("bad", [0.0, -0.1, float("nan"), float("inf")])
def test_non_positive_dt_given(small_aps_u, bad):
    path, _ = small_aps_u
    with pytest.raises(hd.InvalidTimeStepError) as e:
        hd.load(path, q=0.004, dt=bad)
    check(e, hd.InvalidTimeStepError, path, "dt")


def test_non_positive_dt_in_file(tmp_path, hand):
    path = apsu(hand, tmp_path, frame_time=0.0)
    with pytest.raises(hd.InvalidTimeStepError) as e:
        hd.load(path)
    check(e, hd.InvalidTimeStepError, path, "entry/instrument/detector_1/frame_time")
    assert hd.load(path, dt=0.1).dt == 0.1  # a given dt is used instead


def test_missing_dt(tmp_path, hand):
    path = apsu(hand, tmp_path, frame_time=None)
    with pytest.raises(hd.MissingTimeStepError) as e:
        hd.load(path)
    check(e, hd.InvalidTimeStepError, path, "entry/instrument/detector_1/frame_time")


def test_no_angle_left(small_aps_u):
    path, _ = small_aps_u
    with pytest.raises(hd.NoAnglesSelectedError) as e:
        hd.load(path, q=0.004, phi_ranges=[(100.0, 170.0)])
    check(e, hd.NoAnglesSelectedError, path, APS_U_PHI)
    assert "-60, 0, 60" in str(e.value)


@pytest.mark.parametrize(("start", "end"), [(7, -1), (6, -1), (20, 30), (5, 4)])
def test_empty_frame_range(small_aps_u, start, end):
    path, _ = small_aps_u  # 6 frames
    with pytest.raises(hd.EmptyFrameRangeError) as e:
        hd.load(path, q=0.004, start_frame=start, end_frame=end)
    dataset = "end_frame" if end != -1 and end < start else f"{APS_U_MAPS}/c2_00001"
    check(e, hd.EmptyFrameRangeError, path, dataset)


def test_q_outside_tolerance(small_aps_u):
    path, _ = small_aps_u
    with pytest.raises(hd.SelectionError) as e:
        hd.load(path, q=0.009)
    check(e, hd.SelectionError, path, APS_U_Q)
    assert "nearest is 0.006" in str(e.value)
    with pytest.raises(hd.SelectionError) as e:
        hd.load(path)  # two rings, no q
    check(e, hd.SelectionError, path, APS_U_Q)


def test_invalid_selection_values_name_the_key(small_aps_u):
    path, _ = small_aps_u
    for kwargs, key in [
        ({"phi_ranges": [(0.0,)]}, "phi_ranges[0]"),
        ({"phi_ranges": []}, "phi_ranges"),
        ({"start_frame": 0}, "start_frame"),
        ({"q_tolerance": -1.0}, "q_tolerance"),
        ({"nan_threshold": 2.0}, "nan_threshold"),
        ({"q": -0.1}, "q"),
    ]:
        with pytest.raises(hd.DataConfigError) as e:
            hd.load(path, **kwargs)
        check(e, hd.DataConfigError, path, key)


def test_bare_array_errors(tmp_path):
    npy = tmp_path / "c2.npy"
    np.save(npy, np.eye(5))
    with pytest.raises(hd.MissingMetadataError) as e:
        hd.load(npy, array_q=0.005, dt=0.1)
    check(e, hd.MissingMetadataError, npy, "array_phi")
    with pytest.raises(hd.MissingMetadataError) as e:
        hd.load(npy, array_phi=[0.0], dt=0.1)
    check(e, hd.MissingMetadataError, npy, "array_q")
    with pytest.raises(hd.MissingTimeStepError) as e:
        hd.load(npy, array_q=0.005, array_phi=[0.0])
    check(e, hd.InvalidTimeStepError, npy, "dt")
    with pytest.raises(hd.ShapeMismatchError) as e:
        hd.load(npy, array_q=0.005, array_phi=[0.0, 1.0], dt=0.1)
    check(e, hd.ShapeMismatchError, npy, "array_phi")
    pickled = tmp_path / "obj.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(hd.DatasetTypeError) as e:
        hd.load(pickled, array_q=0.005, array_phi=[0.0], dt=0.1)
    check(e, hd.DatasetTypeError, pickled, "/")
    npz = tmp_path / "two.npz"
    np.savez(npz, a=np.eye(3), b=np.eye(3))
    with pytest.raises(hd.MissingDatasetError) as e:
        hd.load(npz, array_q=0.005, array_phi=[0.0], dt=0.1)
    check(e, hd.MissingDatasetError, npz, "c2")


def test_config_validation():
    with pytest.raises(hd.DataConfigError, match="file"):
        hd.DataConfig(file="")
    with pytest.raises(hd.EmptyFrameRangeError, match="end_frame"):
        hd.DataConfig(file="x.h5", start_frame=10, end_frame=5)
    with pytest.raises(hd.DataConfigError, match=r"data\.bogus|bogus"):
        hd.DataConfig.from_dict({"file": "x.h5", "bogus": 1})
    with pytest.raises(hd.InvalidTimeStepError, match=r"data\.dt"):
        hd.DataConfig.from_dict({"file": "x.h5", "dt": 0})
    cfg = hd.DataConfig.from_dict(
        {"file": "x.h5", "phi_ranges": [{"min_angle": -10, "max_angle": 10}], "q": 0.005}
    )
    assert cfg.phi_ranges == ((-10.0, 10.0),) and cfg.q == 0.005
