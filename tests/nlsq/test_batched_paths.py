"""The batched and reduced code paths of the fit and its review agree with the plain ones.

* the start search evaluates a whole grid in one device call (:meth:`FitProblem.profile_many`);
  each row must give what :meth:`FitProblem.profile` gives for it alone;
* the residual-structure drift regression solves 4 x 4 normal equations; it must match a
  least-squares solve of the full (weighted) design matrix;
* large problems run the fused and cost passes as two halves on two threads
  (:attr:`FitProblem.parts`); they must give what one pass over all points gives, with
  point weights and an age-dependent scaling too.
"""

import numpy as np

from homodyne_nlsq import problem as problem_module
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


def _split_vs_single(monkeypatch, config, weights=None):
    spec = ModelSpec.create("laminar_flow")
    # 59 frames: 1711 pairs, an odd number (the second half carries one masked padding point)
    data = make_data("laminar_flow", LAMINAR_TRUTH, [-30.0, 10.0, 60.0, 120.0], n_t=59, seed=5)
    if weights is not None:
        monkeypatch.setattr(type(data), "weights", lambda self, first=0: weights(self, first))
    monkeypatch.setattr(problem_module, "_cores", lambda: 2)
    with float64():
        monkeypatch.setattr(problem_module, "SPLIT_POINTS", 1)
        split = build_problem(data, spec, config)
        assert len(split.parts) == 2  # decided once, on first use
        monkeypatch.setattr(problem_module, "SPLIT_POINTS", 10**12)
        single = build_problem(data, spec, config)
        assert len(single.parts) == 1
        n = int(split.arrs.i.shape[0])
        assert split.parts[0].i.shape == split.parts[1].i.shape == ((n + 1) // 2,)
        rng = np.random.default_rng(2)
        for _ in range(2):
            x = split.x0 * (1.0 + 0.05 * rng.standard_normal(split.x0.size))
            x = np.clip(x, split.lower, split.upper)
            (c2, a2, g2), (c1, a1, g1) = split.fused(x), single.fused(x)
            np.testing.assert_allclose(c2, c1, rtol=1e-12)
            np.testing.assert_allclose(a2, a1, rtol=1e-11, atol=1e-12 * np.abs(a1).max())
            np.testing.assert_allclose(g2, g1, rtol=1e-11, atol=1e-12 * np.abs(g1).max())
            np.testing.assert_allclose(split.cost(x), single.cost(x), rtol=1e-12)
            np.testing.assert_allclose(c2, split.cost(x), rtol=1e-12)


def test_two_half_passes_equal_one_pass(monkeypatch):
    _split_vs_single(monkeypatch, NLSQConfig())


def test_two_half_passes_with_point_weights_and_age_scaling(monkeypatch):
    def weights(data, first):
        w = np.ones((data.n_phi, data.pairs(first)[0].size))
        w[:, ::3] = 2.5
        return w

    _split_vs_single(monkeypatch, NLSQConfig(contrast_age_order=1), weights=weights)


def test_the_binned_residual_tests_match_a_direct_per_bin_computation():
    """``residual_structure_points`` works on per-pair sums over the angles; a direct loop
    over the bins (weighted means, pooled unit variance) must give the same map, and the
    drift must match the weighted least-squares reference."""
    from types import SimpleNamespace

    from homodyne_nlsq.goodness import residual_structure_points

    rng = np.random.default_rng(4)
    n_phi, n = 3, 4000
    age = rng.uniform(1.0, 40.0, n)
    lag = np.exp(rng.uniform(np.log(0.1), np.log(30.0), n))
    g = np.exp(-lag / 5.0) * np.ones((n_phi, 1))
    w = rng.uniform(0.5, 3.0, (n_phi, n))
    y = 1.0 + 0.2 * g + 0.01 * rng.standard_normal((n_phi, n)) / np.sqrt(w)
    y[1, :300] = np.nan  # masked points
    fit = 1.0 + 0.2 * g
    points = SimpleNamespace(values=y, weights=w, age=age, lag=lag)
    out = residual_structure_points(points, fit, contrast=np.full(n_phi, 0.2), offset=np.ones(3))
    r = y - fit
    ok = np.isfinite(r)
    pooled = np.sum((w * r * r)[ok]) / (ok.sum() - 1)
    ia = np.clip(np.searchsorted(out.age_edges, age, side="right") - 1, 0, 7)
    il = np.clip(np.searchsorted(out.lag_edges, lag, side="right") - 1, 0, 7)
    for a in range(8):
        for b in range(8):
            sel = ok & ((ia == a) & (il == b))[None]
            sw = w[sel].sum()
            if sel.sum() < 2:
                assert np.isnan(out.mean_map[a, b])
                continue
            np.testing.assert_allclose(out.mean_map[a, b], (w * r)[sel].sum() / sw, rtol=1e-10)
            np.testing.assert_allclose(out.se_map[a, b], np.sqrt(pooled / sw), rtol=1e-10)
            assert out.count_map[a, b] == sel.sum()
    u = np.broadcast_to(age, r.shape)[ok]
    ref, z_ref = _lstsq_drift(r[ok], g[ok], u, w[ok])
    np.testing.assert_allclose(out.drift["contrast_change"], ref[0], rtol=1e-8)
    np.testing.assert_allclose(out.drift["baseline_change_z"], z_ref[1], rtol=1e-8)


def test_the_chi2_survival_function_matches_scipy():
    """One chi^2 survival function (JAX's regularised incomplete gamma, one compiled scalar
    program) serves the goodness tests, the q-ring test and the CMC heterogeneity test."""
    from scipy import stats

    from homodyne_nlsq.goodness import chi2_sf

    worst = 0.0
    for k in (1, 2, 3, 8, 18, 60, 100, 500):
        for x in np.concatenate([[0.0], np.geomspace(1e-3, 5.0 * k + 100.0, 25)]):
            ref = stats.chi2.sf(x, k)
            if ref > 1e-250:
                worst = max(worst, abs(chi2_sf(k, x) - ref) / ref)
    assert worst < 1e-10, worst
    assert isinstance(chi2_sf(3, 2.0), float)
    grid = chi2_sf(np.array([1, 4, 9]), np.array([[1.0], [10.0]]))  # broadcasts
    assert grid.shape == (2, 3)
    np.testing.assert_allclose(grid, stats.chi2.sf([[1.0], [10.0]], [1, 4, 9]), rtol=1e-10)


def test_the_fitted_squares_match_a_sum_over_the_pair_indices():
    """The goodness of fit's residual sum of squares, row by row on matrix slices, is the sum
    over the fitted pairs (first <= i < j) gathered by index, NaN points left out."""
    from homodyne_nlsq.goodness import _fitted_squares
    from homodyne_physics import pair_indices

    rng = np.random.default_rng(11)
    c2 = 1.0 + 0.02 * rng.standard_normal((3, 40, 40))
    fit = 1.0 + 0.01 * rng.standard_normal((3, 40, 40))
    c2[rng.random(c2.shape) < 0.05] = np.nan  # masked points anywhere, the diagonal too
    for first in (0, 1, 7):
        i, j = pair_indices(40, first)
        r = c2[:, i, j] - fit[:, i, j]
        total, count = _fitted_squares(c2, fit, first)
        assert count == int(np.isfinite(r).sum()) < r.size
        assert abs(total - np.nansum(r * r)) <= 1e-12 * total


_LIBRARY_FIT = """
import json, sys
import homodyne_data as hd
import homodyne_nlsq.problem as problem
from homodyne_nlsq import fit_nlsq
from homodyne_physics import ModelSpec
import jax
assert not jax.config.jax_enable_x64  # a library user's process: float64 only in scopes
problem._cores = lambda: 2
problem.SPLIT_POINTS = int(sys.argv[1])
spec = ModelSpec.create("static")
sim = hd.simulate(spec, {"D0": 1000.0, "alpha": 0.5, "D_offset": 10.0}, phi=[0.0, 90.0],
                  n_frames=40, dt=0.1, seed=1)
res = fit_nlsq(sim.data, spec)
print(json.dumps({"converged": bool(res.converged), "values": res.values}))
"""


def test_two_half_passes_in_a_process_without_global_float64():
    """The float64 scope is thread-local: the pass threads enter their own, so a library
    caller (JAX in float32 mode outside homodyne's scopes) fits a split problem as one
    that is not split."""
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    out = []
    for split in (1, 10**12):
        run = subprocess.run(
            [sys.executable, "-c", _LIBRARY_FIT, str(split)],
            capture_output=True,
            text=True,
            env={**env, "JAX_PLATFORMS": "cpu"},
            timeout=300,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        out.append(json.loads(run.stdout.strip().splitlines()[-1]))
    assert out[0]["converged"] and out[1]["converged"]
    for name, value in out[1]["values"].items():
        np.testing.assert_allclose(out[0]["values"][name], value, rtol=1e-9)
