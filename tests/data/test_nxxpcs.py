"""NeXus NXxpcs files written by plain h5py from the application definition (not our writer).

The definition (nexusformat/definitions, contributed_definitions/NXxpcs.nxdl.xml) places the
two-time array at ``entry/twotime/two_time_corr_func`` with the attributes storage_mode
(one_array_q_first: (q, frames, frames); one_array_q_last: (frames, frames, q);
data_exchange_keys: one dataset per roi), populated_elements (all / upper_half / lower_half),
time_origin_location (upper_left / lower_left) and baseline_reference (0: c2 - 1; 1: c2); the q
and phi of each roi in ``entry/instrument/masks/dynamic_{q,phi}_list``; frame_time on the
NXdetector.
"""

import math

import h5py
import numpy as np
import pytest

import homodyne_data as hd

CORR = "entry/twotime/two_time_corr_func"


def picture(m: np.ndarray, origin: str, populated: str, baseline: int) -> np.ndarray:
    """The stored 2-D picture of the full matrix ``m`` (rows t1, columns t2)."""
    n = m.shape[0]
    s = (m - (1.0 if baseline == 0 else 0.0)).copy()
    if origin == "lower_left":
        s = s[::-1]  # time 0 in the bottom row
    if populated != "all":
        r, c = np.indices((n, n))
        diag_row = c if origin == "upper_left" else n - 1 - c  # row of the t1 = t2 cell
        keep = r <= diag_row if populated == "upper_half" else r >= diag_row
        s[~keep] = 0.0
    return s


def write_nx(
    path,
    mats,
    q,
    phi,
    *,
    mode="one_array_q_first",
    populated="all",
    origin="upper_left",
    baseline=1,
    q_units="1/A",
    phi_units="deg",
    frame_time=10.0,
    ft_units="ms",
    skip=(),
    extra=None,
):
    pics = [picture(m, origin, populated, baseline).astype(np.float32) for m in mats]
    with h5py.File(path, "w") as f:
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry["definition"] = "NXxpcs"
        tt = entry.create_group("twotime")
        tt.attrs["NX_class"] = "NXdata"
        if mode == "one_array_q_first":
            ds = tt.create_dataset("two_time_corr_func", data=np.stack(pics))
        elif mode == "one_array_q_last":
            ds = tt.create_dataset("two_time_corr_func", data=np.stack(pics, axis=-1))
        else:
            ds = tt.create_group("two_time_corr_func")
            for k, p in enumerate(pics):
                ds[f"roi_{k + 1}"] = p
        for name, value in (
            ("storage_mode", mode),
            ("populated_elements", populated),
            ("time_origin_location", origin),
            ("baseline_reference", np.int64(baseline)),
        ):
            if name not in skip:
                ds.attrs[name] = value
        inst = entry.create_group("instrument")
        inst.attrs["NX_class"] = "NXinstrument"
        masks = inst.create_group("masks")
        masks.attrs["NX_class"] = "NXnote"
        masks["dynamic_roi_map"] = np.arange(1, 17).reshape(4, 4) % (len(mats) + 1)
        qd = masks.create_dataset("dynamic_q_list", data=np.asarray(q, dtype=np.float64))
        if q_units:
            qd.attrs["units"] = q_units
        if phi is not None:
            pd = masks.create_dataset("dynamic_phi_list", data=np.asarray(phi, dtype=np.float64))
            if phi_units:
                pd.attrs["units"] = phi_units
        det = inst.create_group("eiger")  # any name: found by its NX_class
        det.attrs["NX_class"] = "NXdetector"
        if frame_time is not None:
            ft = det.create_dataset("frame_time", data=frame_time)
            if ft_units:
                ft.attrs["units"] = ft_units
        det.create_dataset("distance", data=8.0).attrs["units"] = "m"
        beam = inst.create_group("incident_beam")
        beam.create_dataset("incident_energy", data=10.9).attrs["units"] = "keV"
        if extra is not None:
            extra(f)
    return str(path)


@pytest.fixture
def mats(hand):
    return [hand.sym_matrix(9, 40 + k) for k in range(3)]


@pytest.mark.parametrize(
    "mode, populated, origin, baseline",
    [
        ("one_array_q_first", "all", "upper_left", 1),
        ("one_array_q_last", "lower_half", "lower_left", 0),  # the acceptance form
        ("one_array_q_first", "upper_half", "lower_left", 1),
        ("data_exchange_keys", "upper_half", "upper_left", 0),
        ("one_array_q_last", "lower_half", "upper_left", 1),
    ],
)
def test_every_storage_reads_back_the_full_matrices(
    tmp_path, mats, mode, populated, origin, baseline
):
    path = write_nx(
        tmp_path / "nx.h5",
        mats,
        [0.005] * 3,
        [-30.0, 0.0, 45.0],
        mode=mode,
        populated=populated,
        origin=origin,
        baseline=baseline,
    )
    data = hd.load(path)
    assert data.provenance.layout == "nxxpcs"
    np.testing.assert_array_equal(data.phi, [-30.0, 0.0, 45.0])
    assert data.q == pytest.approx(0.005)
    assert data.dt == pytest.approx(0.010, rel=1e-12)  # 10 ms
    for k in range(3):
        np.testing.assert_allclose(data.c2[k], mats[k], rtol=0, atol=1e-7)
    # a frame window of a flipped/half matrix is the same window of the full matrix
    part = hd.load(path, start_frame=3, end_frame=7)
    np.testing.assert_allclose(part.c2[1], mats[1][2:7, 2:7], rtol=0, atol=1e-7)
    np.testing.assert_array_equal(part.frames, np.arange(3, 8))


def test_units_of_q_phi_and_frame_time_are_converted(tmp_path, mats):
    path = write_nx(
        tmp_path / "units.h5",
        mats,
        [0.05, 0.05, 0.08],
        [0.0, math.pi / 2, 0.0],
        q_units="nm^-1",
        phi_units="rad",
        frame_time=250.0,
        ft_units="us",
    )
    data = hd.load(path, q=0.005)  # 0.05 1/nm = 0.005 1/A
    assert data.q == pytest.approx(0.005)
    np.testing.assert_allclose(data.phi, [0.0, 90.0])
    assert data.dt == pytest.approx(250e-6)
    assert hd.load(path, q=0.008).n_phi == 1


def test_q_without_units_is_refused_naming_the_attribute(tmp_path, mats):
    path = write_nx(tmp_path / "noq.h5", mats, [0.005] * 3, [0, 1, 2], q_units=None)
    with pytest.raises(hd.MissingMetadataError, match="units attribute") as e:
        hd.load(path)
    assert "entry/instrument/masks/dynamic_q_list" in str(e.value)


def test_angles_without_units(tmp_path, mats):
    ok = write_nx(tmp_path / "deg.h5", mats, [0.005] * 3, [0, 90, 180], phi_units=None)
    np.testing.assert_array_equal(hd.load(ok).phi, [0.0, 90.0, -180.0])
    bad = write_nx(tmp_path / "rad.h5", mats, [0.005] * 3, [0, 0.5, 1.5], phi_units=None)
    with pytest.raises(hd.MissingMetadataError, match="'deg' or 'rad'"):
        hd.load(bad)


def test_count_disagreements_name_both(tmp_path, mats):
    path = write_nx(tmp_path / "q4.h5", mats, [0.005] * 4, [0, 1, 2, 3])
    with pytest.raises(hd.ShapeMismatchError, match="4 q values for the 3 rois"):
        hd.load(path)


def test_missing_and_contradicting_attributes(tmp_path, mats):
    path = write_nx(
        tmp_path / "nobase.h5", mats, [0.005] * 3, [0, 1, 2], skip=("baseline_reference",)
    )
    with pytest.raises(hd.MissingMetadataError, match="baseline_reference"):
        hd.load(path)
    # storage_mode absent: the shape (3, 9, 9) decides
    path = write_nx(tmp_path / "nomode.h5", mats, [0.005] * 3, [0, 10, 20], skip=("storage_mode",))
    data = hd.load(path)
    assert any("one_array_q_first from the shape" in n for n in data.provenance.notes)
    # (3, 3, 3) fits both orders
    cube = [m[:3, :3] for m in mats]
    path = write_nx(tmp_path / "cube.h5", cube, [0.005] * 3, [0, 10, 20], skip=("storage_mode",))
    with pytest.raises(hd.MissingMetadataError, match="storage_mode"):
        hd.load(path)

    # populated_elements says upper_half but only the lower half holds values
    def relabel(f):
        f[CORR].attrs["populated_elements"] = "upper_half"

    path = write_nx(
        tmp_path / "liar.h5", mats, [0.005] * 3, [0, 1, 2], populated="lower_half", extra=relabel
    )
    with pytest.raises(hd.ShapeMismatchError, match="populated_elements = upper_half"):
        hd.load(path)


@pytest.mark.parametrize(
    "value, expected", [(float("nan"), "frame_time is NaN"), ("fast", "frame_time is text 'fast'")]
)
def test_unusable_frame_time_is_reported_as_what_it_is(tmp_path, mats, value, expected):
    path = write_nx(tmp_path / "ft.h5", mats, [0.005] * 3, [0, 1, 2], frame_time=value)
    with pytest.raises(hd.InvalidTimeStepError, match=expected) as e:
        hd.load(path)
    assert "entry/instrument/eiger/frame_time" in str(e.value)
    assert "no frame time" not in str(e.value)
    assert hd.load(path, dt=0.5).dt == 0.5


@pytest.mark.parametrize(
    "mode, populated, origin, baseline",
    [
        ("one_array_q_last", "lower_half", "lower_left", 0),
        ("data_exchange_keys", "upper_half", "upper_left", 1),
        ("one_array_q_first", "all", "lower_left", 1),
    ],
)
def test_write_nxxpcs_round_trip(tmp_path, mats, mode, populated, origin, baseline):
    data = hd.XPCSData(np.stack(mats), [-30.0, 0.0, 45.0], 0.005, 0.02, np.arange(1, 10))
    path = hd.write_nxxpcs(
        tmp_path / "w.h5",
        data,
        storage_mode=mode,
        populated_elements=populated,
        time_origin_location=origin,
        baseline_reference=baseline,
    )
    back = hd.load(path)
    assert back.provenance.layout == "nxxpcs" and back.dt == 0.02 and back.q == 0.005
    np.testing.assert_allclose(back.c2, data.c2, rtol=0, atol=1e-7)
    with h5py.File(path) as f:
        attrs = dict(f[CORR].attrs)
        invented = {i["path"] for i in hd.invented_values(f)}
    assert attrs["storage_mode"] == mode and attrs["populated_elements"] == populated
    assert "entry/instrument/detector/distance" in invented
    assert "entry/instrument/masks/dynamic_roi_map" in invented
    with pytest.raises(hd.DataConfigError, match="storage_mode"):
        hd.write_nxxpcs(tmp_path / "x.h5", data, storage_mode="sideways")
