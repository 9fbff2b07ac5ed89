"""Metadata that disagrees with the matrices is reported, naming both sides."""

import numpy as np
import pytest

import homodyne_data as hd


def _apsu(hand, tmp_path, n=10, **kw):
    mats = {b: hand.sym_matrix(n, b) for b in (1, 2)}
    return hand.aps_u(tmp_path / "f.h5", mats, [0.005], [0.0, 90.0], **kw)


def test_short_delay_list_is_a_warning_naming_both(tmp_path, hand):
    def short(f):
        f["xpcs/twotime/delay_list"] = np.arange(1, 5) * 0.012

    data = hd.load(_apsu(hand, tmp_path, extra=short))
    (w,) = data.provenance.warnings
    assert "xpcs/twotime/delay_list holds 4 delays" in w and "10 x 10" in w


def test_frame_config_beyond_the_data(tmp_path, hand):
    def config(f):
        f["xpcs/twotime/config/begin_frame"] = 1
        f["xpcs/twotime/config/end_frame"] = 600  # 600 / (3 x 2) = 100 frames, not 10

    data = hd.load(_apsu(hand, tmp_path, extra=config))
    (w,) = data.provenance.warnings
    assert "end_frame = 600" in w and "implies 100 two-time frames" in w and "hold 10" in w


def test_consistent_file_has_no_warning(tmp_path, hand):
    def good(f):
        f["xpcs/twotime/delay_list"] = np.arange(1, 10) * 0.012
        f["xpcs/twotime/config/begin_frame"] = 1
        f["xpcs/twotime/config/end_frame"] = 60

    assert hd.load(_apsu(hand, tmp_path, extra=good)).provenance.warnings == ()


def test_given_dt_disagreeing_with_the_file_warns(tmp_path, hand):
    data = hd.load(_apsu(hand, tmp_path), dt=0.5)
    assert data.dt == 0.5
    assert any("differs from the file's" in w and "0.012" in w for w in data.provenance.warnings)


def test_frame_time_in_ms_is_converted(tmp_path, hand):
    def ms(f):
        f["entry/instrument/detector_1/frame_time"].attrs["units"] = "ms"

    data = hd.load(_apsu(hand, tmp_path, frame_time=2.0, extra=ms))
    assert data.dt == pytest.approx(0.012)  # 2 ms x avg 3 x stride 2


@pytest.mark.parametrize("value, what", [(np.nan, "NaN"), ("0.01s", "text '0.01s'")])
def test_nan_or_text_frame_time_says_so(tmp_path, hand, value, what):
    def bad(f):
        del f["entry/instrument/detector_1/frame_time"]
        f["entry/instrument/detector_1/frame_time"] = value

    with pytest.raises(hd.InvalidTimeStepError, match=f"frame_time is {what}"):
        hd.load(_apsu(hand, tmp_path, extra=bad))


def test_apsu_q_list_in_inverse_nm(tmp_path, hand):
    def nm(f):
        f["xpcs/qmap/dynamic_v_list_dim0"][...] = [0.05]
        f["xpcs/qmap/dynamic_v_list_dim0"].attrs["units"] = "1/nm"

    assert hd.load(_apsu(hand, tmp_path, extra=nm)).q == pytest.approx(0.005)
