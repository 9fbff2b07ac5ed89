"""NLSQ on point-set data: the same numbers as dense matrices for the same points, weights as
1/variance multipliers, homodyne2 refused, and the five forms of one laminar data set."""

import numpy as np
import pytest

import homodyne_data as hd
from homodyne_nlsq import fit_nlsq
from homodyne_physics import ModeError, ModelSpec

from .conftest import STATIC_TRUTH


@pytest.fixture(scope="module")
def static_data():
    sim = hd.simulate("static", STATIC_TRUTH, phi=[0.0, 60.0], n_frames=40, noise=0.01, seed=4)
    return sim.data


def _as_points(data, weight=1.0, repeat=None):
    i, j = data.pairs(0)
    y = data.flat(0)
    w = np.broadcast_to(np.asarray(weight, float), y.shape)
    if repeat is not None:  # list the chosen points a second time
        i, j = np.concatenate([i, i[repeat]]), np.concatenate([j, j[repeat]])
        y, w = np.concatenate([y, y[:, repeat]], 1), np.concatenate([w, w[:, repeat]], 1)
    ps = hd.PointSet(data.t, i, j, y, w)
    return hd.XPCSData.from_points(ps, data.phi, data.q, data.dt)


def test_point_set_of_every_pair_fits_like_the_matrices(static_data):
    spec = ModelSpec.create("static")
    dense = fit_nlsq(static_data, spec)
    points = fit_nlsq(_as_points(static_data), spec)
    scaled = fit_nlsq(_as_points(static_data, weight=4.0), spec)  # one common weight: no change
    for name in STATIC_TRUTH:
        assert points.values[name] == pytest.approx(dense.values[name], rel=1e-9)
        assert points.errors[name] == pytest.approx(dense.errors[name], rel=1e-6)
        assert scaled.values[name] == pytest.approx(dense.values[name], rel=1e-7)
        assert scaled.errors[name] == pytest.approx(dense.errors[name], rel=1e-6)


def test_a_weight_of_two_counts_like_the_point_listed_twice(static_data):
    spec = ModelSpec.create("static")
    n = static_data.n_points
    chosen = np.arange(0, n, 3)
    w = np.ones((static_data.n_phi, n))
    w[:, chosen] = 2.0
    weighted = fit_nlsq(_as_points(static_data, weight=w), spec)
    twice = fit_nlsq(_as_points(static_data, repeat=chosen), spec)
    for name in STATIC_TRUTH:
        assert weighted.values[name] == pytest.approx(twice.values[name], rel=1e-7)


def test_homodyne2_refuses_point_sets(static_data):
    spec = ModelSpec.create("static", convention="homodyne2")
    with pytest.raises(ModeError, match="full frame grid"):
        fit_nlsq(_as_points(static_data), spec)


def test_fitted_c2_of_a_point_set_is_the_model_at_its_points(static_data):
    data = _as_points(static_data)
    res = fit_nlsq(data, ModelSpec.create("static"))
    fit = res.fitted_c2(data)
    full = res.fitted_c2(static_data)
    i, j = static_data.pairs(0)
    assert fit.shape == (2, data.n_points)
    np.testing.assert_allclose(fit, full[:, i, j], rtol=1e-13)
