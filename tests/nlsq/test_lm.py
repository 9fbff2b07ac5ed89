"""The bounded Levenberg-Marquardt core on problems with known answers."""

import numpy as np
import pytest
from scipy.optimize import lsq_linear

from homodyne_nlsq import levenberg_marquardt


def _linear(a, b):
    def fused(x):
        r = b - a @ x
        return float(r @ r), a.T @ a, a.T @ r

    def cost(x):
        r = b - a @ x
        return float(r @ r)

    return fused, cost


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bounded_linear_least_squares_matches_bvls(seed):
    rng = np.random.default_rng(seed)
    # badly scaled columns (1e-3 .. 1e4) so the diagonal scaling matters
    scales = np.array([1e-3, 1.0, 1e2, 1e4, 10.0])
    a = rng.standard_normal((300, 5)) * scales
    x_true = np.array([2e3, -1.0, 0.05, 3e-4, 0.7])
    b = a @ x_true + 0.1 * rng.standard_normal(300)
    lower = np.array([0.0, -0.5, -1.0, -1.0, 0.0])  # x_true[1] = -1 lies outside: active bound
    upper = np.array([1e4, 0.5, 1.0, 1.0, 0.6])  # x_true[4] = 0.7 lies outside: active bound
    fused, cost = _linear(a, b)
    out = levenberg_marquardt(fused, cost, np.zeros(5), lower, upper, ftol=1e-15, xtol=1e-15)
    ref = lsq_linear(a, b, bounds=(lower, upper), method="bvls", tol=1e-14)
    assert out.converged, out.message
    np.testing.assert_allclose(out.x, ref.x, rtol=1e-7, atol=1e-12 * np.abs(ref.x).max())
    assert out.cost == pytest.approx(2 * ref.cost, rel=1e-12)
    np.testing.assert_array_equal(out.active[[1, 4]], [True, True])


def test_rosenbrock_residuals_reach_the_minimum():
    # r = (10 (x1 - x0^2), 1 - x0): the curved valley that defeats plain gradient steps
    def residual(x):
        return np.array([10 * (x[1] - x[0] ** 2), 1 - x[0]])

    def jac(x):  # d model / dx with model = -residual (r = data - model, data = 0)
        return -np.array([[-20 * x[0], 10.0], [-1.0, 0.0]])

    def fused(x):
        r, j = residual(x), jac(x)
        return float(r @ r), j.T @ j, j.T @ r

    out = levenberg_marquardt(
        fused,
        lambda x: float(residual(x) @ residual(x)),
        [-1.2, 1.0],
        [-5, -5],
        [5, 5],
        ftol=1e-15,
        xtol=1e-12,
        gtol=1e-12,
    )
    np.testing.assert_allclose(out.x, [1.0, 1.0], rtol=1e-8)
    assert out.iterations < 50


def test_iteration_limit_is_reported():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((50, 3))
    fused, cost = _linear(a, a @ np.ones(3))
    out = levenberg_marquardt(fused, cost, np.zeros(3), [-9] * 3, [9] * 3, max_iterations=1)
    assert out.reason == "max_iterations" and not out.converged and out.iterations == 1


def test_final_fused_makes_the_last_pass_and_its_extras_come_back():
    """The solver runs ``final_fused`` where the pass is likely the last; what it adds comes
    back when it made the last pass, and the fit is the same as without it."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((200, 3))
    b = a @ np.array([1.0, -2.0, 0.5]) + 0.01 * rng.standard_normal(200)
    fused, cost = _linear(a, b)
    calls = []

    def final(x):
        calls.append(x.copy())
        return (*fused(x), {"at": x.copy()})

    inf = np.full(3, np.inf)
    plain = levenberg_marquardt(fused, cost, np.zeros(3), -inf, inf)
    out = levenberg_marquardt(fused, cost, np.zeros(3), -inf, inf, final_fused=final)
    np.testing.assert_allclose(out.x, plain.x, rtol=1e-12)
    assert out.n_fused == plain.n_fused and calls
    assert out.extras is not None and np.array_equal(out.extras["at"], out.x)
    assert plain.extras is None


def test_final_extras_are_reused_only_when_chi2_has_not_moved():
    """A second likely-last pass reuses the kept extras when chi^2 changed by at most
    EXTRAS_REUSE; a larger change runs ``final_fused`` again; stale extras never come back."""
    from homodyne_nlsq.lm import EXTRAS_REUSE, _Passes

    calls = []

    def plain(x):
        return float(x[0]), np.eye(1), np.zeros(1)

    def final(x):
        calls.append(float(x[0]))
        return float(x[0]), np.eye(1), np.zeros(1), {"at": float(x[0])}

    passes = _Passes(plain, plain, final)
    passes.fused(np.array([100.0]), last=True, f_hint=100.0)
    assert calls == [100.0]
    close = 100.0 * (1.0 - 0.5 * EXTRAS_REUSE)
    passes.fused(np.array([close]), last=True, f_hint=close)  # reused: no second extras pass
    assert calls == [100.0] and passes.final_extras(close) == {"at": 100.0}
    far = 100.0 * (1.0 - 10.0 * EXTRAS_REUSE)
    assert passes.final_extras(far) is None  # stale for a final point that far away
    passes.fused(np.array([far]), last=True, f_hint=far)
    assert calls == [100.0, far] and passes.final_extras(far) == {"at": far}
    passes.fused(np.array([50.0]))  # a plain pass keeps them, but they do not belong to 50
    assert passes.final_extras(50.0) is None
