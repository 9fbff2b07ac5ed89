"""Selection rules: angle normalisation, phi ranges with wrap-around, frames, q choice."""

import pickle

import numpy as np
import pytest

import homodyne_data as hd
from homodyne_data.selection import choose_q, frame_window


def test_normalize_angle():
    phi = np.array([0.0, 180.0, -180.0, 540.0, 359.5, -190.0, 179.25, -1e-17, 720.0 + 30.0])
    np.testing.assert_array_equal(
        hd.normalize_angle(phi), [0.0, -180.0, -180.0, -180.0, -0.5, 170.0, 179.25, -1e-17, 30.0]
    )


@pytest.mark.parametrize(
    ("ranges", "expected"),
    [
        (None, [-180, -135, -90, -45, 0, 45, 90, 135]),
        ([(-45, 45)], [-45, 0, 45]),
        ([(170, -170)], [-180]),  # wraps through +-180
        ([(170, 180)], [-180]),  # +180 is the same angle as -180
        ([(90, 270)], [-180, -135, -90, 90, 135]),  # 270 = -90
        ([(0, 360)], [-180, -135, -90, -45, 0, 45, 90, 135]),
        ([(-180, 180)], [-180, -135, -90, -45, 0, 45, 90, 135]),
        ([(10, 5)], [-180, -135, -90, -45, 0, 45, 90, 135]),  # min > max: all but (5, 10)
        ([(-50, -40), (130, 140)], [-45, 135]),
        ([(44.9999999999, 44.9999999999)], [45]),  # inclusive ends with 1e-9 deg slack
    ],
)
def test_select_angles(ranges, expected):
    phi = np.arange(-180.0, 180.0, 45.0)
    idx = hd.select_angles(phi, ranges)
    np.testing.assert_array_equal(phi[idx], expected)


def test_select_angles_none_left():
    with pytest.raises(hd.NoAnglesSelectedError, match="inside the phi ranges"):
        hd.select_angles([0.0, 90.0], [(10.0, 20.0)], file="f.h5", dataset="phi")


def test_frame_window():
    assert frame_window(100) == slice(0, 100)
    assert frame_window(100, 5, 10) == slice(4, 10)
    assert frame_window(100, 99, -1) == slice(98, 100)
    assert frame_window(100, 1, 500, clip=True) == slice(0, 100)  # clipped when asked
    for start, end in [(100, -1), (101, 200), (3, 3)]:
        with pytest.raises(hd.EmptyFrameRangeError):
            frame_window(100, start, end, clip=True)


def test_end_frame_past_the_data_is_an_error_naming_both_numbers(tmp_path):
    """Issue 15 item 8: no silent clipping."""
    with pytest.raises(hd.EmptyFrameRangeError, match="end_frame 500 is past the last frame") as e:
        frame_window(100, 1, 500, file="f.h5", dataset="c2")
    assert "(100 frames)" in str(e.value) and "clip_frames" in str(e.value)
    path = tmp_path / "m.npy"
    np.save(path, np.ones((3, 8, 8)) + np.eye(8))
    kw = dict(array_q=0.003, array_phi=[0.0, 10.0, 20.0], dt=0.1, end_frame=12)
    with pytest.raises(hd.EmptyFrameRangeError, match="end_frame 12 .* \\(8 frames\\)"):
        hd.load(path, **kw)
    assert hd.load(path, clip_frames=True, **kw).n_t == 8


def test_choose_q():
    rings = [0.002, 0.004, 0.006]
    c = choose_q(rings, 0.0041, 0.1)
    assert c.ring == 1 and c.q_used == 0.004 and "2.44% away" in c.note
    with pytest.raises(hd.SelectionError, match="nearest is 0.006"):
        choose_q(rings, 0.0075, 0.1)
    assert choose_q([0.005], None, 0.1).q_used == 0.005
    with pytest.raises(hd.SelectionError, match="3 q rings"):
        choose_q(rings, None, 0.1)


def test_diagonal_correction_known_answer():
    c = np.array(
        [
            [9.0, 1.0, 0.0, 0.0],
            [1.0, 9.0, 3.0, 0.0],
            [0.0, 3.0, 9.0, 5.0],
            [0.0, 0.0, 5.0, 9.0],
        ]
    )
    out = hd.diagonal_corrected(c)
    np.testing.assert_array_equal(np.diag(out), [1.0, 2.0, 4.0, 5.0])
    np.testing.assert_array_equal(out - np.diag(np.diag(out)), c - np.diag(np.diag(c)))
    assert c[0, 0] == 9.0  # input not modified


def test_errors_pickle_and_format():
    err = hd.NonFiniteDataError("too many NaN", file="/d/x.h5", dataset="exchange/C2T_all/c2_1")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is hd.NonFiniteDataError and str(back) == str(err)
    assert str(err) == "/d/x.h5: exchange/C2T_all/c2_1: too many NaN"
    assert str(hd.DataConfigError("bad", dataset="q")) == "q: bad"
