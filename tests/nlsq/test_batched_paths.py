"""The batched and reduced code paths of the fit and its review agree with the plain ones.

* the start search evaluates a whole grid in one device call (:meth:`FitProblem.profile_many`);
  each row must give what :meth:`FitProblem.profile` gives for it alone;
* the residual-structure drift regression solves 4 x 4 normal equations; it must match a
  least-squares solve of the full (weighted) design matrix.
"""

import numpy as np

from homodyne_nlsq.config import NLSQConfig
from homodyne_nlsq.goodness import _drift
from homodyne_nlsq.problem import build_problem
from homodyne_physics import ModelSpec
from homodyne_physics.precision import float64

from .conftest import LAMINAR_TRUTH, make_data


def test_a_batched_grid_gives_each_row_its_own_profile():
    spec = ModelSpec.create("laminar_flow")
    data = make_data("laminar_flow", LAMINAR_TRUTH, [-30.0, 10.0, 60.0, 120.0], seed=3)
    with float64():
        problem = build_problem(data, spec, NLSQConfig(), solve_scaling=False)
        truth = np.array([LAMINAR_TRUTH[n] for n in problem.free_names])
        p = problem.free_names.index("phi0")
        grid = np.tile(truth, (9, 1))
        grid[:, p] = np.linspace(-10.0, 10.0, 9)
        batched = problem.profile_many(grid)
        single = [problem.profile(row) for row in grid]
    assert len(batched) == 9
    for (xb, cb), (xs, cs) in zip(batched, single, strict=True):
        np.testing.assert_allclose(xb, xs, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(cb, cs, rtol=1e-10)
    costs = [c for _, c in batched]
    assert int(np.argmin(costs)) == 5  # phi0 = 2.5 of the grid: next to the truth, 3


def _lstsq_drift(r, g, age, w):
    """Reference: weighted least squares on the full design matrix (sqrt-weight rows)."""
    a = (age - age.mean()) / np.ptp(age)
    x = np.stack([g * a, a, g, np.ones_like(a)], axis=1)
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(x * sw[:, None], r * sw, rcond=None)
    res = (r - x @ coef) * sw
    cov = (res @ res) / (r.size - 4) * np.linalg.inv((x * w[:, None]).T @ x)
    return coef, coef / np.sqrt(np.diag(cov))


def test_the_drift_regression_matches_a_full_least_squares_solve():
    rng = np.random.default_rng(11)
    n = 20000
    age = rng.uniform(0.0, 50.0, n)
    g = np.exp(-rng.uniform(0.0, 5.0, n))
    u = (age - age.mean()) / np.ptp(age)
    r = 0.004 * g * u - 0.002 * u + 0.01 * rng.standard_normal(n)
    for w in (np.ones(n), rng.uniform(0.5, 4.0, n)):
        ref, z_ref = _lstsq_drift(r, g, age, w)
        out = _drift(r, g, age, None if np.all(w == 1.0) else w)
        np.testing.assert_allclose(out["contrast_change"], ref[0], rtol=1e-9)
        np.testing.assert_allclose(out["baseline_change"], ref[1], rtol=1e-9)
        np.testing.assert_allclose(out["contrast_change_z"], z_ref[0], rtol=1e-9)
        np.testing.assert_allclose(out["baseline_change_z"], z_ref[1], rtol=1e-9)
        assert out["contrast_change_z"] > 3 and out["baseline_change_z"] < -3  # both found
