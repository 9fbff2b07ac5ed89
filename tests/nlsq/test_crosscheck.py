"""The streamed solver against dense references: scipy least_squares, and the nlsq library."""

import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import least_squares

import homodyne_physics as hp
from homodyne_nlsq import NLSQConfig, build_problem, fit_nlsq
from homodyne_physics import ModelSpec

from .conftest import LAMINAR_TRUTH, STATIC_TRUTH


def _dense_residuals(problem):
    """Residual vector and its Jacobian over the valid points, from the kernel (dense)."""
    arrs, k, scaling = problem.arrs, problem.n_theta, problem.scaling
    y = np.asarray(arrs.y)
    valid = np.isfinite(y)

    def model_at(x):
        contrast, offset = scaling.apply(x[k:], xp=jnp)
        c2 = hp.c2_pairs(problem.model, x[:k], contrast, offset, arrs.t, arrs.phi, arrs.i, arrs.j)
        return c2[valid]

    fun = jax.jit(lambda x: jnp.asarray(y[valid]) - model_at(x))
    jac = jax.jit(jax.jacfwd(lambda x: -model_at(x)))
    return (lambda x: np.asarray(fun(jnp.asarray(x)))), (lambda x: np.asarray(jac(jnp.asarray(x))))


@pytest.mark.parametrize(
    ("mode", "n_phi", "n_t", "scaling"),
    [("static", 3, 40, "individual"), ("laminar_flow", 6, 60, "auto")],
)
def test_same_optimum_and_errors_as_scipy_least_squares(simulate, mode, n_phi, n_t, scaling):
    truth = STATIC_TRUTH if mode == "static" else LAMINAR_TRUTH
    phi = np.linspace(10.0, 170.0, n_phi)
    data = simulate(mode, truth, phi, n_t=n_t, seed=3)
    cfg = NLSQConfig(scaling_mode=scaling, ftol=1e-12, xtol=1e-12, gtol=1e-12)
    res = fit_nlsq(data, ModelSpec.create(mode), cfg)
    assert res.converged and not res.at_bound, res.message
    with hp.float64():
        problem = build_problem(data, ModelSpec.create(mode), cfg)
        fun, jac = _dense_residuals(problem)
        # scipy from the solver's own start region: the optimum our solver reports
        # perturbed by 1 standard error per parameter, trust-region reflective, Jacobian scaling
        x_res = np.concatenate([res.theta, list(res.scaling_values.values())])
        err = np.sqrt(np.diag(res.covariance))
        x_start = np.clip(x_res + err, problem.lower, problem.upper)
        ref = least_squares(
            fun,
            x_start,
            jac=jac,
            bounds=(problem.lower, problem.upper),
            x_scale="jac",
            ftol=1e-14,
            xtol=1e-14,
            gtol=1e-14,
            method="trf",
        )
    # same minimum: chi^2 agrees to 1e-9 relative, every parameter to 1e-3 of its error bar
    assert 0.5 * res.cost == pytest.approx(ref.cost, rel=1e-9)
    np.testing.assert_array_less(np.abs(ref.x - x_res), 1e-3 * err)
    # same covariance: s^2 (J^T J)^-1 from scipy's dense Jacobian at its optimum
    j = ref.jac
    s2 = 2 * ref.cost / (j.shape[0] - j.shape[1])
    cov_ref = s2 * np.linalg.inv(j.T @ j)
    # (rtol 1e-3: the two optima differ by < 1e-3 sigma, which moves J^T J by about that much)
    np.testing.assert_allclose(np.sqrt(np.diag(cov_ref)), err, rtol=1e-3)


@pytest.mark.skipif(
    importlib.util.find_spec("nlsq") is None,
    reason="the optional nlsq library is not installed (pip install 'homodyne-nlsq[nlsq]')",
)
def test_nlsq_library_backend_agrees(simulate):
    data = simulate("static", STATIC_TRUTH, [20.0, 80.0, 140.0], n_t=40, seed=4)
    ours = fit_nlsq(data, ModelSpec.create("static"), NLSQConfig(scaling_mode="individual"))
    theirs = fit_nlsq(
        data, ModelSpec.create("static"), NLSQConfig(scaling_mode="individual", solver="nlsq")
    )
    assert theirs.solver == "nlsq"
    for name in ours.parameter_names:
        assert abs(theirs.values[name] - ours.values[name]) < 0.05 * ours.errors[name]
    assert theirs.cost == pytest.approx(ours.cost, rel=1e-6)
