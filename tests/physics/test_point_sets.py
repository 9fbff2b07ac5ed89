"""The kernel at arbitrary (t1, t2) points: same numbers as the matrix path, homodyne2 refused."""

import numpy as np
import pytest

import homodyne_physics as hp

THETA = np.array([8000.0, -0.6, 400.0, 2.0e-3, -0.5, 2.0e-4, 3.0])


def test_c2_at_times_matches_the_matrix_on_the_grid_and_is_symmetric():
    model = hp.C2Model("laminar_flow", q=0.0054, dt=0.1)
    t = np.arange(1, 31) * 0.1
    phi = np.array([-20.0, 45.0])
    with hp.float64():
        full = np.asarray(hp.c2_matrix(model, THETA, [0.3, 0.25], [1.0, 1.01], t, phi))
        i, j = np.triu_indices(30, 1)
        pts = np.asarray(hp.c2_at_times(model, THETA, [0.3, 0.25], [1.0, 1.01], t[i], t[j], phi))
        swapped = np.asarray(
            hp.c2_at_times(model, THETA, [0.3, 0.25], [1.0, 1.01], t[j], t[i], phi)
        )
    np.testing.assert_allclose(pts, full[:, i, j], rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(swapped, pts)


def test_tables_over_distinct_times_reproduce_off_grid_points():
    """Half-frame times (multi-tau group centres): the table path equals direct evaluation."""
    model = hp.C2Model("laminar_flow", q=0.0054, dt=0.1)
    rng = np.random.default_rng(0)
    t1 = rng.uniform(0.05, 3.0, 50)
    t2 = t1 + rng.uniform(0.01, 2.0, 50)
    t, i, j = hp.point_set_index(t1, t2)
    np.testing.assert_array_equal(t[i], t1)
    np.testing.assert_array_equal(t[j], t2)
    phi = np.array([10.0])
    with hp.float64():
        direct = np.asarray(hp.c2_at_times(model, THETA, 0.3, 1.0, t1, t2, phi))
        via = np.asarray(hp.c2_pairs(model, THETA, 0.3, 1.0, t, phi, i, j))
    np.testing.assert_allclose(via, direct, rtol=1e-14)


def test_homodyne2_refuses_point_sets_with_a_clear_message():
    model = hp.C2Model("static", q=0.0054, dt=0.1, convention="homodyne2")
    with pytest.raises(hp.ModeError, match="full frame grid.*convention 'physical'"):
        hp.require_grid_free(model)
    with hp.float64(), pytest.raises(hp.ModeError, match="homodyne2"):
        hp.c2_at_times(model, THETA[:3], 0.3, 1.0, [0.1], [0.2], [0.0])
