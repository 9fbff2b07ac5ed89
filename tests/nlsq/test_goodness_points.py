"""Goodness of fit on point-set data: weighted residual structure and its tests."""

import numpy as np

import homodyne_data as hd
from homodyne_nlsq import residual_structure_points


def _multitau_like(drift: float, seed: int = 4):
    """Points at 4 'levels' (weights 1, 4, 16, 64: noise sd 0.01 / sqrt(w)), exact model known."""
    rng = np.random.default_rng(seed)
    t1, t2, w = [], [], []
    for level in range(4):
        step = 0.1 * 2**level
        starts = np.arange(0.0, 20.0 - 8 * step, step)
        for lag in range(1, 9):
            t1.append(starts)
            t2.append(starts + lag * step)
            w.append(np.full(starts.size, 4.0**level))
    t1, t2, w = map(np.concatenate, (t1, t2, w))
    g = np.exp(-(t2 - t1) / 2.0)  # g1^2
    age = 0.5 * (t1 + t2)
    contrast = 0.3 * (1.0 + drift * (age - age.mean()) / np.ptp(age))
    fit = np.tile(1.0 + 0.3 * g, (2, 1))
    values = 1.0 + contrast * g + 0.01 * rng.standard_normal((2, t1.size)) / np.sqrt(w)
    points = hd.PointSet.from_times(t1, t2, values, np.tile(w, (2, 1)), kind="multitau")
    return points, fit


def test_correct_model_shows_no_structure_across_weights():
    for seed in range(3):
        points, fit = _multitau_like(0.0, seed)
        s = residual_structure_points(points, fit, contrast=[0.3, 0.3], offset=[1.0, 1.0])
        assert s.ok, (seed, s.warning, s.p_value)
        assert s.count_map.sum() == 2 * points.n_points


def test_a_contrast_drift_is_named():
    points, fit = _multitau_like(0.1)
    s = residual_structure_points(points, fit, contrast=[0.3, 0.3], offset=[1.0, 1.0])
    assert not s.ok and "contrast drifts with age (it rises over the run)" in s.patterns
    assert s.drift["contrast_change"] > 0 and abs(s.drift["contrast_change"] - 0.03) < 0.01
