"""Point-set figures and tables without a fit: age x lag maps, lag cuts, the point table."""

import numpy as np
import pytest

import homodyne_data as hd
from homodyne_cli.plots.points import cut_groups, display_subset, plot_point_maps
from homodyne_cli.results_points import write_point_plots


class _Data:
    """The few attributes of XPCSData the point writers read."""

    def __init__(self, points):
        self.points, self.phi, self.q, self.is_dense = points, np.array([0.0, 90.0]), 0.0054, False


def _points(kind="agelag"):
    t = 0.1 * np.arange(1, 41)
    if kind == "agelag":  # 40 ages x 5 lags, t1 on the frame grid
        lags = np.array([1, 2, 4, 8, 16])
        a, lag = np.meshgrid(np.arange(40), lags, indexing="ij")
        keep = (a + lag < 40).ravel()
        t1, t2 = t[a.ravel()[keep]], t[(a + lag).ravel()[keep]]
    else:  # centred grid: no t1 holds 4 lags, every age does
        a, lag = np.meshgrid(np.arange(10, 30), np.array([1, 2, 4, 8]), indexing="ij")
        t1, t2 = 0.05 * (2 * a - lag).ravel(), 0.05 * (2 * a + lag).ravel()
    rng = np.random.default_rng(3)
    model = 1.0 + 0.3 * np.exp(-(t2 - t1) / 0.5)
    values = model + 0.01 * rng.standard_normal((2, t1.size))
    return hd.PointSet.from_times(t1, t2, values, 1.0, kind="agelag"), np.tile(model, (2, 1))


def test_cut_groups_find_shared_t1_or_shared_age():
    ps, _ = _points("agelag")
    key, groups = cut_groups(ps)
    assert key == "t1" and len(groups) == 3
    for g in groups:
        assert np.ptp(ps.t1[g]) == 0 and g.size == 5 and np.all(np.diff(ps.lag[g]) > 0)
    assert ps.t1[groups[0][0]] < ps.t1[groups[1][0]] < ps.t1[groups[2][0]]
    key, groups = cut_groups(_points("centred")[0])
    assert key == "age" and len(groups) == 3 and all(g.size == 4 for g in groups)


def test_display_subset_is_fixed_and_labelled():
    keep, note = display_subset(10, limit=20)
    assert keep.size == 10 and note == ""
    keep, note = display_subset(1000, limit=100)
    assert keep.size == 100 and np.all(np.diff(keep) > 0) and "100 of 1,000" in note
    assert np.array_equal(keep, display_subset(1000, limit=100)[0])


@pytest.mark.slow  # matplotlib: ~40 s on the loaded 2-core machine
def test_point_plots_are_written(tmp_path):
    ps, fit = _points()
    paths = write_point_plots(tmp_path, _Data(ps), fit, 0.01, label="NLSQ")
    names = sorted(p.name for p in paths)
    assert names == [
        "c2_points_phi_+000.00deg.png",
        "c2_points_phi_+090.00deg.png",
        "lag_cuts.png",
        "residuals.png",
    ]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
    (one,) = plot_point_maps(
        [tmp_path / "one.png"],
        points=ps.select([1]),
        c2_fit=fit[1:],
        phi=np.array([90.0]),
        sigma=None,
    )
    assert one.exists()
